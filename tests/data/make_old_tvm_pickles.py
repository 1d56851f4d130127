"""Write TenSet-style ``network_info`` pickles as old TVM (0.8, TenSet's fork) wrote them.

Run in a separate process (it registers fake ``tvm.*`` modules)::

    python make_old_tvm_pickles.py OUT_FOLDER

Old TVM pickled its objects with ``Object.__reduce__ = (tvm.runtime.object._new_object, (cls,), state)``;
``SearchTask.__getstate__`` returns the task's fields, ``ComputeDAG.__getstate__`` returns
``{"tensors": SaveJSON(tensors)}``, other objects (Target, HardwareParams) ``{"handle": SaveJSON(self)}``.
Here the classes are stand-ins registered under the old module paths, so the pickles reference exactly
the globals real TenSet pickles reference, and the JSON graphs follow TVM 0.8's SaveJSON layout.
"""

from __future__ import annotations

import json
import pickle
import sys
import types
from pathlib import Path

# The workload keys of the hand-made log tests/data/tenset_small.json, and one task that has no records.
CONV_KEY = json.dumps(["0123456789abcdef0123456789abcdef", 1, 8, 8, 16, 1, 1, 16, 32, 1, 8, 8, 32])
TAKE_KEY = json.dumps(["00112233445566778899aabbccddeeff", 1, 128, 30522, 768, 1, 128, 768])


def _module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


for _name in ("tvm", "tvm.runtime", "tvm.runtime.object", "tvm.runtime.container", "tvm.target",
              "tvm.target.target", "tvm.auto_scheduler", "tvm.auto_scheduler.compute_dag",
              "tvm.auto_scheduler.search_task"):
    _module(_name)


def _new_object(cls):
    return cls.__new__(cls)


_new_object.__module__ = "tvm.runtime.object"
sys.modules["tvm.runtime.object"]._new_object = _new_object


class Object:
    """Old TVM's ``tvm.runtime.Object`` pickling protocol."""

    def __reduce__(self):
        return (_new_object, (type(self),), self.__getstate__())

    def __getstate__(self):
        return {"handle": self.json}


class String(str):
    """Old TVM's ``runtime.String``."""

    def __reduce__(self):
        return (String, (str(self),))


class Target(Object):
    def __init__(self, kind: str):
        g = _Graph()
        kind_node = g.add({"type_key": "TargetKind", "repr_str": kind})
        keys = g.add({"type_key": "Array", "data": [g.add({"type_key": "runtime.String", "repr_str": "cpu"})]})
        self.json = g.dump(g.add({"type_key": "Target", "attrs": {"kind": str(kind_node), "tag": "",
                                                                  "keys": str(keys), "attrs": "0", "host": "0"}}))


class HardwareParams(Object):
    def __init__(self):
        g = _Graph()
        self.json = g.dump(g.add({"type_key": "auto_scheduler.HardwareParams",
                                  "attrs": {"num_cores": "8", "vector_unit_bytes": "64", "cache_line_bytes": "64"}}))


class ComputeDAG(Object):
    def __init__(self, tensors_json: str):
        self.tensors_json = tensors_json

    def __getstate__(self):
        return {"tensors": self.tensors_json}


class SearchTask(Object):
    def __init__(self, key: str, dag: ComputeDAG, kind: str = "llvm"):
        self.state = {
            "compute_dag": dag, "workload_key": key, "target": Target(kind), "target_host": None,
            "hardware_params": HardwareParams(), "layout_rewrite_option": 2, "task_input_names": [],
            "desc": String("a task"),
        }

    def __getstate__(self):
        return self.state


for _cls, _mod in ((Object, "tvm.runtime.object"), (String, "tvm.runtime.container"), (Target, "tvm.target.target"),
                   (HardwareParams, "tvm.auto_scheduler.search_task"), (ComputeDAG, "tvm.auto_scheduler.compute_dag"),
                   (SearchTask, "tvm.auto_scheduler.search_task")):
    _cls.__module__ = _mod
    setattr(sys.modules[_mod], _cls.__name__, _cls)


class _Graph:
    """TVM 0.8 ``SaveJSON`` layout: node 0 is null, attributes are strings, references are node indices."""

    def __init__(self):
        self.nodes: list[dict] = [{"type_key": ""}]

    def add(self, node: dict) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def shape(self, dims: list[int]) -> int:
        items = [self.add({"type_key": "IntImm", "attrs": {"dtype": "int32", "span": "0", "value": str(d)}})
                 for d in dims]
        return self.add({"type_key": "Array", "data": items})

    def tensor(self, op: int, dims: list[int], dtype: str) -> int:
        return self.add({"type_key": "Tensor", "attrs": {"dtype": dtype, "op": str(op), "shape": str(self.shape(dims)),
                                                         "value_index": "0"}})

    def placeholder(self, name: str, dims: list[int], dtype: str = "float32") -> int:
        op = self.add({"type_key": "te.PlaceholderOp", "attrs": {"attrs": "0", "dtype": dtype, "name": name,
                                                                 "shape": str(self.shape(dims)), "tag": ""}})
        return self.tensor(op, dims, dtype)

    def compute(self, name: str, tag: str, dims: list[int], dtype: str = "float32") -> int:
        op = self.add({"type_key": "te.ComputeOp", "attrs": {"attrs": "0", "axis": "0", "body": "0", "name": name,
                                                             "reduce_axis": "0", "tag": tag}})
        return self.tensor(op, dims, dtype)

    def dump(self, root: int) -> str:
        return json.dumps({"root": root, "nodes": self.nodes, "b64ndarrays": [], "attrs": {"tvm_version": "0.8.dev0"}})


def conv_dag() -> ComputeDAG:
    g = _Graph()
    data = g.placeholder("placeholder", [1, 8, 8, 16])
    weight = g.placeholder("placeholder", [1, 1, 16, 32])
    g.compute("PaddedInput", "injective,pad", [1, 8, 8, 16])
    g.compute("conv2d_nhwc", "conv2d_nhwc", [1, 8, 8, 32])
    out = g.compute("T_relu", "elemwise", [1, 8, 8, 32])
    return ComputeDAG(g.dump(g.add({"type_key": "Array", "data": [data, weight, out]})))


def take_dag() -> ComputeDAG:
    g = _Graph()
    ids = g.placeholder("placeholder", [1, 128], "int64")
    table = g.placeholder("placeholder", [30522, 768])
    out = g.compute("T_take", "injective", [1, 128, 768])
    return ComputeDAG(g.dump(g.add({"type_key": "Array", "data": [ids, table, out]})))


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    conv, take = SearchTask(CONV_KEY, conv_dag()), SearchTask(TAKE_KEY, take_dag())
    with open(folder / "((resnet_50,[(1,3,224,224)]),llvm).task.pkl", "wb") as f:
        pickle.dump(([conv, take], [3, 1]), f)
    with open(folder / "((bert_base,[(1,128)]),llvm).task.pkl", "wb") as f:
        pickle.dump(([take], [2]), f)
    with open(folder / "(bert_base,[(1,128)]).relay.pkl", "wb") as f:
        pickle.dump(("{}", 1234, [("input_ids", (1, 128), "int64")]), f)
    with open(folder / "all_tasks.pkl", "wb") as f:
        pickle.dump([conv, take], f)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
