"""TenSet's ``network_info/`` folder: which tasks occur how often in which network.

TenSet (scripts/dump_network_info.py, scripts/common.py) writes, per network and target kind,

* ``((resnet_50,[(1,3,224,224)]),llvm).task.pkl``: ``pickle.dump((tasks, task_weights))`` with the
  ``auto_scheduler.SearchTask`` objects of ``extract_tasks``; the name is
  ``clean_name(((name, [input_shape]), target_kind))`` (spaces and quotes removed);
* ``(resnet_50,[(1,3,224,224)]).relay.pkl``: ``(relay_ir_json, params_size, [(input_name, shape, dtype)])``;
* ``all_tasks.pkl``: the list of all distinct tasks (the index).

Old TVM objects pickle through ``tvm.runtime.object._new_object(cls)`` plus a state dict:
``SearchTask.__getstate__`` gives ``compute_dag``, ``workload_key``, ``target``, ``target_host``,
``hardware_params``, ``layout_rewrite_option`` (and later ``task_input_names``, ``desc``);
``ComputeDAG.__getstate__`` gives ``{"tensors": SaveJSON(tensors)}`` (2020 versions:
``{"compute": SaveJSON(tensors), "sche": ...}``); other objects (Target,
HardwareParams) give ``{"handle": SaveJSON(obj)}``. Old TVM cannot be installed, so
:class:`StubUnpickler` maps every ``tvm.*`` global to a stub class that keeps that state, maps TVM's
``String`` to ``str``, allows plain containers, and refuses any other global, so a pickle cannot run code.

From the DAG's tensors (TVM's JSON object graph) we read every input/output tensor's shape and dtype and
the compute ops' names and tags: exact ``arg_shapes``, ``arg_dtypes``, ``bytes`` and operator class for
tasks whose logged workload key has flattened shapes.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...data.dataset import task_id
from ...programs.targets import GPU_KINDS
from .workload import TaskDetails

# Non-TVM globals a TenSet pickle may reference.
_SAFE_GLOBALS = {
    ("builtins", "list"), ("builtins", "tuple"), ("builtins", "dict"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "str"), ("builtins", "int"), ("builtins", "float"),
    ("builtins", "bool"), ("builtins", "bytes"), ("builtins", "object"),
    ("collections", "OrderedDict"), ("copyreg", "_reconstructor"),
}


class OldTVMObject:
    """Stand-in for an object of old TVM found in a pickle; ``state`` is what it pickled."""

    tvm_type = "tvm.runtime.Object"

    def __init__(self, *args: object) -> None:
        self.args = args
        self.state: object = None

    def __setstate__(self, state: object) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<old {self.tvm_type}>"


class OldTVMString(str):
    """Stand-in for old TVM's ``runtime.String`` (a ``str`` subclass); extra state is ignored."""

    def __setstate__(self, state: object) -> None:
        pass


def _new_object(cls: type) -> object:
    return cls.__new__(cls)


class StubUnpickler(pickle.Unpickler):
    """An unpickler for TenSet's pickles that needs no TVM and runs no foreign code."""

    _stubs: dict[tuple[str, str], type] = {}

    def find_class(self, module: str, name: str) -> object:
        if module == "tvm" or module.startswith("tvm."):
            if name == "_new_object":
                return _new_object
            if name == "String":
                return OldTVMString
            key = (module, name)
            if key not in self._stubs:
                self._stubs[key] = type(name, (OldTVMObject,), {"tvm_type": f"{module}.{name}"})
            return self._stubs[key]
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from a TenSet pickle")


def load_pickle(path: str | os.PathLike) -> object:
    """Load a TenSet pickle with :class:`StubUnpickler`."""
    with open(path, "rb") as f:
        return StubUnpickler(f).load()


def _state(obj: object) -> dict:
    state = getattr(obj, "state", None)
    return state if isinstance(state, dict) else {}


def _json_graph(obj: object, key: str) -> dict | None:
    text = _state(obj).get(key)
    if not isinstance(text, str):
        return None
    try:
        graph = json.loads(text)
    except ValueError:
        return None
    return graph if isinstance(graph, dict) and isinstance(graph.get("nodes"), list) else None


def target_kind_of(target: object) -> str | None:
    """Kind name (``llvm``, ``cuda``...) of a pickled target: a string, or a Target's JSON graph."""
    if isinstance(target, str):
        return target.split(None, 1)[0] if target.strip() else None
    graph = _json_graph(target, "handle")
    if graph is None:
        return None
    for node in graph["nodes"]:
        if str(node.get("type_key", "")).endswith("TargetKind"):
            name = node.get("repr_str") or node.get("attrs", {}).get("name")
            if name:
                return str(name)
    for node in graph["nodes"]:  # older graphs: the kind's name appears as a plain string attribute
        for value in node.get("attrs", {}).values():
            if value in GPU_KINDS or value == "llvm":
                return str(value)
    return None


def parse_tensors(graph: dict) -> TaskDetails | None:
    """Shapes, dtypes and compute-op names/tags of a ComputeDAG's tensors (TVM JSON object graph)."""
    nodes = graph["nodes"]

    def node(index: object) -> dict:
        return nodes[int(index)]

    try:
        root = node(graph["root"])
        shapes, dtypes = [], []
        for t in root.get("data", []):
            attrs = node(t)["attrs"]
            dims = []
            for d in node(attrs["shape"]).get("data", []):
                dim = node(d)
                if not str(dim.get("type_key", "")).endswith("IntImm"):
                    return None
                dims.append(int(dim["attrs"]["value"]))
            shapes.append(dims)
            dtypes.append(str(attrs["dtype"]))
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if not shapes:
        return None
    names, tags = [], []
    for n in nodes:
        if str(n.get("type_key", "")).endswith("ComputeOp"):
            attrs = n.get("attrs", {})
            if attrs.get("name"):
                names.append(str(attrs["name"]))
            if attrs.get("tag"):
                tags.append(str(attrs["tag"]))
    return TaskDetails(shapes, dtypes, names, tags)


@dataclass
class NetworkTask:
    """A task read from a pickle: workload key, target kind name and, when readable, its tensors."""

    workload_key: str
    kind_name: str
    details: TaskDetails | None

    @property
    def kind(self) -> str:
        return "gpu" if self.kind_name in GPU_KINDS else "cpu"

    @property
    def task(self) -> str:
        return task_id(self.workload_key, self.kind)


def read_task(obj: object, default_kind: str | None = None) -> NetworkTask | None:
    """A :class:`NetworkTask` from an unpickled ``SearchTask`` stub (None if it has no workload key)."""
    state = _state(obj)
    key = state.get("workload_key")
    if not isinstance(key, str):
        return None
    kind_name = target_kind_of(state.get("target")) or default_kind or "llvm"
    dag = state.get("compute_dag", state.get("dag"))
    return NetworkTask(str(key), kind_name, _dag_details(dag))


def _dag_details(dag: object) -> TaskDetails | None:
    """Tensors of a pickled ComputeDAG: ``{"tensors": ...}`` (TVM 0.8) or ``{"compute": ..., "sche": ...}``
    (2020 versions, where ``compute`` is the same array of tensors)."""
    for key in ("tensors", "compute"):
        graph = _json_graph(dag, key)
        details = parse_tensors(graph) if graph else None
        if details is not None:
            return details
    return None


def _task_list(obj: object) -> list[tuple[object, int]]:
    """(task, weight) pairs from the shapes TenSet pickles take: (tasks, weights), [tasks], [(task, w)]."""
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], list) and isinstance(obj[1], list):
        return list(zip(obj[0], obj[1]))
    if isinstance(obj, list):
        if all(isinstance(x, (tuple, list)) and len(x) == 2 for x in obj):
            return [(t, w) for t, w in obj]
        return [(t, 1) for t in obj]
    raise ValueError("not a list of tasks nor a (tasks, weights) pair")


_NAME = re.compile(r"^\(\((?P<family>[^,()]+),\[\((?P<shape>[0-9,]+)\)(?:,\([0-9,]*\))*\]\),(?P<target>[^)]+)\)$")
_RELAY = re.compile(r"^\((?P<family>[^,()]+),\[\((?P<shape>[0-9,]+)\)(?:,\([0-9,]*\))*\]\)$")


def clean_name(text: str) -> str:
    """TenSet's ``clean_name``: the text without spaces and quotes."""
    return text.replace(" ", "").replace('"', "").replace("'", "")


def parse_task_filename(name: str) -> tuple[str, list[int], str] | None:
    """``(family, input_shape, target_kind)`` of a ``*.task.pkl`` name, or None."""
    stem = clean_name(name.removesuffix(".task.pkl"))
    m = _NAME.match(stem)
    if not m:
        return None
    kind = m["target"].split("-", 1)[0] if m["target"].startswith(("llvm", "cuda")) else m["target"]
    return m["family"], [int(x) for x in m["shape"].split(",") if x], kind


def network_id(family: str, shape: list[int]) -> str:
    """Network id ``<family>-b<batch>-<size>``: size is the image height (rank >= 4) or sequence length."""
    size = shape[2] if len(shape) >= 4 else shape[-1]
    return f"{family}-b{shape[0]}-{size}"


@dataclass
class NetworkInfo:
    """Everything read from a ``network_info`` folder."""

    networks: list[dict] = field(default_factory=list)
    network_tasks: list[dict] = field(default_factory=list)
    tasks: dict[str, NetworkTask] = field(default_factory=dict)  # by task id
    problems: list[str] = field(default_factory=list)


def _input_dtype(folder: Path, family: str, shape: list[int]) -> str:
    relay = folder / f"({family},[({','.join(map(str, shape))})]).relay.pkl"
    if relay.exists():
        try:
            _, _, inputs = load_pickle(relay)
            return str(inputs[0][2])
        except Exception:  # noqa: BLE001 - a damaged side file only costs the dtype
            pass
    return "int64" if family.startswith("bert") else "float32"


def read_network_info(folder: str | os.PathLike) -> NetworkInfo:
    """Read ``*.task.pkl`` (networks, weights, tasks) and ``all_tasks.pkl`` (tasks) of a folder."""
    folder = Path(folder)
    info = NetworkInfo()
    links: dict[tuple[str, str], int] = {}
    networks: dict[str, dict] = {}
    for path in sorted(folder.glob("*.task.pkl")):
        parsed = parse_task_filename(path.name)
        if parsed is None:
            info.problems.append(f"{path}: name is not ((network,[shape]),target).task.pkl; skipped")
            continue
        family, shape, kind_name = parsed
        try:
            pairs = _task_list(load_pickle(path))
        except Exception as err:  # noqa: BLE001 - report and go on with the other networks
            info.problems.append(f"{path}: cannot read ({err})")
            continue
        net = network_id(family, shape)
        networks[net] = {
            "network": net, "family": family, "batch_size": shape[0], "input_shape": shape,
            "input_dtype": _input_dtype(folder, family, shape), "source": "tenset",
        }
        for obj, weight in pairs:
            task = read_task(obj, kind_name)
            if task is None:
                info.problems.append(f"{path}: an entry without a workload key; skipped")
                continue
            info.tasks.setdefault(task.task, task)
            links[(net, task.task)] = links.get((net, task.task), 0) + int(weight)
    all_tasks = folder / "all_tasks.pkl"
    if all_tasks.exists():
        try:
            for obj, _ in _task_list(load_pickle(all_tasks)):
                task = read_task(obj)
                if task is not None and (task.task not in info.tasks or info.tasks[task.task].details is None):
                    info.tasks[task.task] = task
        except Exception as err:  # noqa: BLE001
            info.problems.append(f"{all_tasks}: cannot read ({err})")
    info.networks = list(networks.values())
    info.network_tasks = [{"network": n, "task": t, "weight": w} for (n, t), w in links.items()]
    return info
