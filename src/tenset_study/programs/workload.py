"""Workloads: a task's tensor program before scheduling, and the features we read off it.

A MetaSchedule task is an IRModule with one PrimFunc (a fused subgraph). We store it as TVM's JSON
so programs can be replayed later on any machine, identify it by its structural hash, and describe it by
operator class, FLOPs, bytes moved and arithmetic intensity (the workload features of the study).
"""

from __future__ import annotations

import json
import re

import numpy as np

WORKLOAD_FORMAT = "tvm-ir-json"

# Operator classes, tried in priority order: the first pattern that matches wins, so specific patterns
# (depthwise, transposed, batched) come before general ones, and anchor operators (convolutions, matrix
# products, pools, ...) before the elementwise and layout operators fused into them. A task that computes
# anything (``fused_reshape_add``, ``fused_concatenate_multiply_relu``) is ``elementwise``; only pure data
# movement (``reshape``, ``fused_reshape_transpose``, ``concatenate``) is ``layout``. Operator names in
# Relax task names carry numeric suffixes (``mean2``, ``add13``), hence the ``\d*``.
_ELEMENTWISE_OPS = (
    "add|subtract|multiply|divide|floor_divide|floor_mod|mod|power|negative|abs|exp|log|sqrt|rsqrt|erf|tanh"
    "|sigmoid|relu|leaky_relu|gelu|gelu_tanh|silu|hardswish|hardsigmoid|clip|tir_clip|minimum|maximum|where"
    "|cast|round|floor|ceil|sin|cos|greater|less|equal|not_equal|logical_and|logical_or|logical_not"
)
OP_PATTERNS: tuple[tuple[str, str], ...] = (
    ("depthwise_conv2d", r"depthwise_conv2d"),
    ("conv2d_transpose", r"conv2d_transpose|conv2d_backward"),
    ("group_conv2d", r"group_conv2d"),
    ("conv3d", r"conv3d"),
    ("conv2d", r"conv2d"),
    ("conv1d", r"conv1d"),
    ("batch_matmul", r"batch_matmul|batch_dense"),
    ("dense", r"matmul|dense|linear"),
    ("pool", r"pool"),
    ("softmax", r"softmax"),
    ("norm", r"layer_norm|rms_norm|group_norm|batch_norm|instance_norm"),
    ("reduction", r"(^|_)(mean|sum|max|min|prod|variance|argmax|argmin)\d*(_|$)|reduce"),
    ("gather", r"take|gather|embedding"),
    ("elementwise", rf"(^|_)({_ELEMENTWISE_OPS})\d*(_|$)"),
    ("layout", r"reshape|transpose|concat|split|strided_slice|pad|squeeze|expand_dims|broadcast_to|resize"),
)

# A block name may refine the class read off the task name: Relax names every convolution ``conv2d``,
# while the block of a grouped (or depthwise) one is ``group_conv2d_nchw``.
OP_REFINEMENTS: dict[str, tuple[str, ...]] = {
    "conv2d": ("depthwise_conv2d", "conv2d_transpose", "group_conv2d"),
    "dense": ("batch_matmul",),
}


def load_workload(text: str):
    """An IRModule from its stored JSON (the ``workload`` column of ``tasks``)."""
    import tvm

    return tvm.ir.load_json(text)


def save_workload(mod) -> str:
    """The JSON text of an IRModule, as stored in the ``workload`` column."""
    import tvm

    return tvm.ir.save_json(mod)


def workload_hash(mod) -> str:
    """TVM's structural hash of the IRModule, as a decimal string (what MetaSchedule's database keys on)."""
    import tvm_ffi

    return str(tvm_ffi.structural_hash(mod))


def block_names(mod) -> list[str]:
    """Names of the schedulable blocks of the module's PrimFunc(s), in program order."""
    names: list[str] = []
    for _, func in mod.functions.items():
        names.extend(n for n in re.findall(r'T\.sblock\("([^"]+)"', func.script()) if n != "root")
    return names


def classify_op(task_name: str, blocks: list[str] | tuple[str, ...] = ()) -> str:
    """Operator class of a task, e.g. ``conv2d``, ``dense``, ``pool``; ``elementwise`` when none matches.

    The task name (MetaSchedule names fused functions after their operators, e.g.
    ``fused_conv2d_add_relu``) decides, with :data:`OP_PATTERNS` tried in priority order; the block names
    decide when the name matches nothing, and may refine the name's class (:data:`OP_REFINEMENTS`: a
    ``conv2d`` task whose block is ``group_conv2d_nchw`` is ``group_conv2d``; depthwise convolutions are
    grouped convolutions to TOPI and come out as ``group_conv2d`` too). Batched matrix products whose
    operands have three or more dimensions are reported by :func:`describe_workload` as ``batch_matmul``.
    """
    by_name = first_op_class([task_name])
    by_blocks = first_op_class(blocks)
    if by_name is None:
        return by_blocks or "elementwise"
    if by_blocks in OP_REFINEMENTS.get(by_name, ()):
        return by_blocks
    return by_name


def first_op_class(texts: list[str] | tuple[str, ...]) -> str | None:
    """The first class of :data:`OP_PATTERNS` that any of the texts matches (None when none does)."""
    lowered = [t.lower() for t in texts if t]
    for op, pattern in OP_PATTERNS:
        if any(re.search(pattern, t) for t in lowered):
            return op
    return None


def dtype_bytes(dtype: str) -> float:
    """Bytes per element of a dtype name (``float32`` -> 4, ``bool`` -> 1; 4 when the name holds no width)."""
    bits = int(re.sub(r"[^0-9]", "", str(dtype)) or 32)
    if str(dtype) == "bool":
        bits = 8
    return bits / 8


def describe_workload(mod, task_name: str = "") -> dict:
    """Workload features of a task's IRModule.

    Returns a dict with the ``tasks`` columns ``op``, ``task_name``, ``flops``, ``bytes``,
    ``arithmetic_intensity``, ``arg_shapes`` and ``arg_dtypes``. ``bytes`` counts every buffer argument
    once (inputs read, outputs written), the minimum traffic of one run.
    """
    from tvm import s_tir
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    func = _main_func(mod)
    args = ArgInfo.from_prim_func(func)
    shapes = [[int(d) for d in a.shape] for a in args]
    dtypes = [str(a.dtype) for a in args]
    nbytes = float(sum(np.prod(s, dtype=np.float64) * dtype_bytes(d) for s, d in zip(shapes, dtypes)))
    try:
        flops = float(s_tir.analysis.estimate_tir_flops(mod))
    except Exception:  # noqa: BLE001 - TVM raises TVMError for functions it cannot count
        flops = None
    op = classify_op(task_name, block_names(mod))
    if op == "dense" and shapes and max(len(s) for s in shapes[:2]) >= 3:
        op = "batch_matmul"
    if op == "group_conv2d" and _is_depthwise(shapes):
        op = "depthwise_conv2d"
    return {
        "op": op,
        "task_name": task_name,
        "flops": flops,
        "bytes": nbytes,
        "arithmetic_intensity": (flops / nbytes) if flops is not None and nbytes > 0 else None,
        "arg_shapes": json.dumps(shapes),
        "arg_dtypes": json.dumps(dtypes),
    }


def _is_depthwise(shapes: list[list[int]]) -> bool:
    """A grouped 2-D convolution whose weight (second argument, OIHW) has one input channel per group."""
    return len(shapes) >= 2 and len(shapes[1]) == 4 and shapes[1][1] == 1


def _main_func(mod):
    funcs = [f for _, f in mod.functions.items()]
    if len(funcs) != 1:
        names = [gv.name_hint for gv in mod.functions]
        raise ValueError(f"a task's IRModule must hold one function, this one holds {names}")
    return funcs[0]


def task_row(mod, kind: str, target_json: str, task_name: str = "") -> dict:
    """A complete ``tasks`` row for a MetaSchedule workload (id from the structural hash and kind)."""
    from ..data.dataset import task_id

    return {
        "task": task_id(workload_hash(mod), kind),
        "kind": kind,
        "workload_format": WORKLOAD_FORMAT,
        "workload": save_workload(mod),
        "target": target_json,
        **describe_workload(mod, task_name),
    }


def refresh_task_features(ds) -> int:
    """Recompute the workload features of a dataset's replayable tasks (after this module's rules changed).

    Rows whose features changed are rewritten (the ``tasks`` table keeps the last row of a task); returns
    how many tasks changed.
    """
    tasks = ds.to_pandas("tasks")
    changed = []
    for row in tasks[tasks["workload_format"] == WORKLOAD_FORMAT].to_dict("records"):
        fresh = {**row, **describe_workload(load_workload(row["workload"]), row["task_name"])}
        if any(fresh[k] != row[k] and not (fresh[k] is None and row[k] is None) for k in fresh
               if not (isinstance(row[k], float) and np.isnan(row[k]) and fresh[k] is None)):
            changed.append(fresh)
    if changed:
        ds.append("tasks", changed)
        ds.compact("tasks")
    return len(changed)
