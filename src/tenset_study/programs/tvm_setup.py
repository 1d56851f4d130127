"""Importing TVM quickly: tensor intrinsics on demand, and MetaSchedule's logging around tuning calls.

``import tvm.s_tir.tensor_intrin`` registers every tensor intrinsic TVM knows (CUDA, ROCm, Arm, x86,
Hexagon, RISC-V) by parsing hundreds of TVMScript functions. On our 2-core machine it took 40-50 s, and
MetaSchedule runs it in every ``TuneContext`` and in every builder worker. Float32 CPU schedules only
need the x86 intrinsics (0.5 s), so :func:`register_tensor_intrinsics` loads just the families asked
for and makes the package import a no-op afterwards. Call it before MetaSchedule is used; builder
workers call it through :func:`builder_initializer`.

Most of what is left is not parsing: TVMScript's ``prim_func`` calls ``inspect.stack()`` for every function it
parses, and for a frame of a file that does not exist (``<frozen importlib._bootstrap>``: the import that is
registering them) ``inspect.getmodule`` scans every loaded module, each time. :func:`register_tensor_intrinsics`
remembers those answers while it imports (``benchmarks/bench_tensor_intrinsics.py`` measures the gain).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
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
    with _frame_modules_remembered():
        for family in families:
            importlib.import_module(f"{name}.{family}")


@contextlib.contextmanager
def _frame_modules_remembered():
    """Within the block, ``inspect.getmodule`` of a frame is computed once per (file name given, frame's file):
    a frame's module depends on its file alone, and the full answer scans every loaded module (thousands once
    TVM is imported) for each frame of ``inspect.stack()``. Other objects go to the original."""
    original = inspect.getmodule
    answers: dict = {}

    def getmodule(object, _filename=None):  # noqa: A002 (inspect's own signature)
        if not inspect.isframe(object):
            return original(object, _filename)
        key = (_filename, object.f_code.co_filename)
        if key not in answers:
            answers[key] = original(object, _filename)
        return answers[key]

    inspect.getmodule = getmodule
    try:
        yield
    finally:
        inspect.getmodule = original


def builder_initializer() -> None:
    """Initializer for MetaSchedule builder and runner workers.

    Workers receive programs that are already scheduled (tensorized code carries the intrinsic's body),
    so they need no tensor intrinsics registered; the stub only spares them the 40 s import.
    """
    register_tensor_intrinsics(())


def prepare_tvm(kind: str = "cpu") -> None:
    """Register the tensor intrinsics that scheduling for a target kind needs (call before MetaSchedule)."""
    register_tensor_intrinsics(INTRINSIC_FAMILIES[kind])


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
