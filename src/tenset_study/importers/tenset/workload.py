"""TenSet tasks: what can be read off an Ansor workload key and a TenSet target string.

An Ansor workload key is a JSON list ``[name, args...]``:

* For tasks extracted from networks (all of TenSet) ``name`` is the MD5 hash of the compute DAG and the
  arguments are the shapes of the DAG's input and output tensors. TenSet's logs (2020/21) store them
  *flattened* (``["69115f18...", 1, 7, 7, 2048, 1, 1, 1, 2048]``), newer Ansor versions nested
  (``["69115f18...", [1, 7, 7, 2048], [1, 1, 1, 2048]]``).
* Older tutorial logs name a registered function (``["matmul_add", 1024, 1024, 1024, "float32"]``);
  the arguments are that function's arguments.

What is derived, and from what:

* nested shapes: ``arg_shapes`` and ``bytes`` (assuming float32, the key carries no dtype);
* flattened shapes: nothing from the key alone (the split into tensors is ambiguous, e.g.
  ``1, 512, 1000, 512, 1000, 1, 1000`` is ``[1,512] [1000,512] [1000] [1,1000]``), but TenSet's
  ``network_info`` pickles hold each task's tensors: with them shapes, real dtypes, bytes, and the
  operator class from the compute-op names and tags are exact (see :mod:`tenset_study.importers.tenset.network_info`);
* named workloads: ``task_name`` and the operator class from the name; no shapes or bytes;
* ``flops`` stays null: Ansor recomputes it from the compute DAG, which is not stored anywhere as data.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from ...data.ids import task_id
from ...programs.targets import target_kind, target_kind_name
from ...programs.workload import OP_PATTERNS

__all__ = ["TaskDetails", "WORKLOAD_FORMAT", "classify_names", "decode_workload_key", "flatten", "key_shapes",
           "target_kind", "target_kind_name", "target_options", "task_row", "task_target_json"]

WORKLOAD_FORMAT = "ansor-workload-key"
DTYPE_BYTES_DEFAULT = 4  # float32
#: Largest tensor dimension read off a workload key (beyond it the key's numbers are not shapes).
MAX_DIM = 2**40

_HASH_NAME = re.compile(r"[0-9a-f]{32}")


@dataclass
class TaskDetails:
    """What TenSet's network_info says about a task's tensors (see ``tenset_network_info``)."""

    shapes: list[list[int]]
    dtypes: list[str]
    op_names: list[str] = field(default_factory=list)
    op_tags: list[str] = field(default_factory=list)


def target_options(target: str) -> dict[str, str]:
    """The ``-name=value`` options of a target string (``-mcpu=core-avx2`` -> ``{"mcpu": "core-avx2"}``)."""
    options = {}
    for word in target.split()[1:]:
        name, _, value = word.lstrip("-").partition("=")
        options[name] = value
    return options


def decode_workload_key(key: str) -> tuple[str, list | None]:
    """``(name, args)`` of a workload key; ``(key, None)`` when it is not a JSON list (or nests too deep to read)."""
    try:
        value = json.loads(key)
    except (ValueError, RecursionError):
        return key, None
    if isinstance(value, list) and value:
        return str(value[0]), value[1:]
    return key, None


def flatten(values: list) -> list:
    """Nested lists flattened, as Ansor flattens the shapes into the workload key."""
    out: list = []
    for v in values:
        if isinstance(v, list):
            out.extend(flatten(v))
        else:
            out.append(v)
    return out


def key_shapes(args: list | None) -> list[list[int]] | None:
    """Tensor shapes from nested workload-key arguments; None when they are flattened or not shapes."""
    if not args or not all(isinstance(a, list) and all(isinstance(d, int) and not isinstance(d, bool)
                                                        and 0 <= d <= MAX_DIM for d in a) for a in args):
        return None
    return [list(a) for a in args]


def classify_names(names: list[str]) -> str | None:
    """Operator class from compute-op names/tags or a function name: the first pattern any name matches.

    Uses :data:`tenset_study.programs.workload.OP_PATTERNS`; patterns are tried in order over *all* names so that
    ``conv2d`` wins over the ``pad`` of its padding stage. ``elementwise`` when none matches, None when
    there are no names.
    """
    lowered = [n.lower() for n in names if n]
    if not lowered:
        return None
    for op, pattern in OP_PATTERNS:
        if any(re.search(pattern, n) for n in lowered):
            return op
    return "elementwise"


def _dtype_bytes(dtype: str) -> float:
    if dtype == "bool":
        return 1.0
    bits = re.sub(r"[^0-9]", "", dtype)
    return int(bits) / 8 if bits else float(DTYPE_BYTES_DEFAULT)


def _nbytes(shapes: list[list[int]], dtypes: list[str]) -> float | None:
    """Bytes of the tensors; None when that is not a finite number (shapes too large to be real)."""
    total = 0.0
    for shape, dtype in zip(shapes, dtypes):
        n = 1
        for d in shape:
            n *= d
        try:
            total += n * _dtype_bytes(dtype)
        except OverflowError:
            return None
    return total if math.isfinite(total) else None


def task_target_json(kind_name: str) -> str:
    """The ``target`` stored for a TenSet task: its target kind (tasks are extracted per kind)."""
    return json.dumps({"kind": kind_name})


def task_row(workload_key: str, target: str, details: TaskDetails | None = None) -> dict:
    """A ``tasks`` row for an Ansor workload key measured with ``target`` (a TenSet target string)."""
    kind_name = target_kind_name(target)
    kind = target_kind(target)
    name, args = decode_workload_key(workload_key)
    row: dict = {
        "task": task_id(workload_key, kind),
        "kind": kind,
        "op": None,
        "task_name": None,
        "flops": None,
        "bytes": None,
        "arithmetic_intensity": None,
        "arg_shapes": None,
        "arg_dtypes": None,
        "workload_format": WORKLOAD_FORMAT,
        "workload": workload_key,
        "target": task_target_json(kind_name),
    }
    hashed = bool(_HASH_NAME.fullmatch(name))
    shapes = key_shapes(args)
    dtypes = None
    if details is not None and (args is None or flatten(details.shapes) == flatten(args)):
        shapes, dtypes = details.shapes, details.dtypes
        row["op"] = classify_names(details.op_tags + details.op_names)
        row["task_name"] = "+".join(details.op_names) or None
    elif not hashed:
        row["task_name"] = name
        row["op"] = classify_names([name])
    if shapes is not None and hashed:
        dtypes = dtypes or ["float32"] * len(shapes)
        row["arg_shapes"] = json.dumps(shapes)
        row["arg_dtypes"] = json.dumps(dtypes)
        row["bytes"] = _nbytes(shapes, dtypes)
        if row["op"] == "dense" and max(len(s) for s in shapes[:2]) >= 3:
            row["op"] = "batch_matmul"
    return row
