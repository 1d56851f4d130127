"""Importing TVM quickly, and building TVM targets for a machine.

``import tvm.s_tir.tensor_intrin`` registers every tensor intrinsic TVM knows (CUDA, ROCm, Arm, x86,
Hexagon, RISC-V) by parsing hundreds of TVMScript functions. On our 2-core machine it took 40-50 s, and
MetaSchedule runs it in every ``TuneContext`` and in every builder worker. Float32 CPU schedules only
need the x86 intrinsics (0.5 s), so :func:`register_tensor_intrinsics` loads just the families asked
for and makes the package import a no-op afterwards. Call it before MetaSchedule is used; builder
workers call it through :func:`builder_initializer`.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
import types

# Tensor-intrinsic families per target kind. MetaSchedule picks its tensor-core rules for sm_70 and
# newer, which look up the CUDA (wmma) intrinsics when the design space is made.
INTRINSIC_FAMILIES = {"cpu": ("x86",), "gpu": ("x86", "cuda")}


def register_tensor_intrinsics(families: tuple[str, ...] = ("x86",)) -> None:
    """Register only the named tensor-intrinsic families and make ``tvm.s_tir.tensor_intrin`` cheap.

    Idempotent. If the full package was already imported, nothing changes.
    """
    name = "tvm.s_tir.tensor_intrin"
    existing = sys.modules.get(name)
    if existing is not None and not getattr(existing, "_tenset_study_stub", False):
        return
    import tvm.s_tir

    if existing is None:
        stub = types.ModuleType(name)
        stub.__path__ = [os.path.join(os.path.dirname(tvm.s_tir.__file__), "tensor_intrin")]
        stub.__package__ = name
        stub._tenset_study_stub = True
        sys.modules[name] = stub
        tvm.s_tir.tensor_intrin = stub
    for family in families:
        importlib.import_module(f"{name}.{family}")


def builder_initializer() -> None:
    """Initializer for MetaSchedule builder and runner workers.

    Workers receive programs that are already scheduled (tensorized code carries the intrinsic's body),
    so they need no tensor intrinsics registered; the stub only spares them the 40 s import.
    """
    register_tensor_intrinsics(())


def prepare_tvm(kind: str = "cpu") -> None:
    """Register the tensor intrinsics that scheduling for a target kind needs (call before MetaSchedule)."""
    register_tensor_intrinsics(INTRINSIC_FAMILIES[kind])


def physical_cores() -> int:
    """Physical cores available to this process (falls back to logical CPUs)."""
    import psutil

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    physical = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    return min(physical, affinity) if affinity else physical


def cpu_target(num_cores: int | None = None, mcpu: str | None = None) -> dict:
    """The TVM target (dict form) for this machine's CPU: LLVM with the host's ``mcpu`` and core count."""
    import tvm

    return {
        "kind": "llvm",
        "mcpu": mcpu or tvm.target.codegen.llvm_get_system_cpu(),
        "num-cores": int(num_cores or physical_cores()),
    }


def gpu_target(arch: str, max_threads_per_block: int = 1024, max_shared_memory_per_block: int = 49152,
               warp_size: int = 32, host_mcpu: str | None = None) -> dict:
    """A CUDA target (dict form) with its limits and an LLVM host."""
    host = {"kind": "llvm"}
    if host_mcpu:
        host["mcpu"] = host_mcpu
    return {
        "kind": "cuda",
        "arch": arch,
        "max_threads_per_block": int(max_threads_per_block),
        "max_shared_memory_per_block": int(max_shared_memory_per_block),
        "thread_warp_size": int(warp_size),
        "host": host,
    }


def make_target(spec: dict | str):
    """A ``tvm.target.Target`` from a dict or its JSON text."""
    import tvm

    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"target must be JSON in TVM 0.27's dict form, e.g. "
                f'{{"kind": "llvm", "num-cores": 2}}; got {spec!r} ({err})'
            ) from err
    return tvm.target.Target(spec)


def target_kind(target) -> str:
    """``gpu`` for CUDA/ROCm/Vulkan/OpenCL/Metal targets, ``cpu`` otherwise."""
    name = target["kind"] if isinstance(target, dict) else target.kind.name
    return "gpu" if name in {"cuda", "rocm", "vulkan", "opencl", "metal", "webgpu"} else "cpu"


def target_json(target: dict) -> str:
    """Canonical JSON text of a target dict (sorted keys), as stored in the dataset."""
    return json.dumps(target, sort_keys=True)


@contextlib.contextmanager
def metaschedule_logging():
    """Wrap every MetaSchedule tuning call (``tune_tasks``, ``tune_tir``): its logging set-up names every
    handler of its logger in a ``dictConfig`` and fails on unnamed ones (pytest's capture handlers, left
    there by an earlier run in the same process); detach those while tuning, and restore the logger's level
    after."""
    logger = logging.getLogger("tvm.s_tir.meta_schedule")
    unnamed = [h for h in logger.handlers if h.get_name() is None]
    for handler in unnamed:
        logger.removeHandler(handler)
    level = logger.level
    try:
        yield logger
    finally:
        for handler in unnamed:
            logger.addHandler(handler)
        logger.setLevel(level)
