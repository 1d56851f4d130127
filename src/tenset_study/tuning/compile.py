"""Building a tuned network: :func:`compile_with_database` applies the best schedules of a MetaSchedule database.

The Relax module is exported, legalized and fused exactly as for tuning (:func:`tenset_study.collect.tasks.
export_to_relax`), so its fused TIR functions are the database's workloads. The result, a
:class:`CompiledNetwork`, is what :func:`tenset_study.tuning.timing.time_network` times.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..programs import targets, tvm_setup
from ..programs.database import RECORD_FILE, WORKLOAD_FILE


@dataclass
class CompiledNetwork:
    """A network built with a tuning database, ready for :func:`~tenset_study.tuning.timing.time_network`."""

    network: str
    target: dict
    executable: object
    inputs: list[tuple[tuple[int, ...], str]]
    compile_seconds: float
    functions: int
    functions_tuned: int
    untuned_functions: list[str]

    def summary(self) -> dict:
        """Compile seconds, functions, tuned functions and the untuned functions' names (as results record them)."""
        return {"seconds": self.compile_seconds, "functions": self.functions, "functions_tuned": self.functions_tuned,
                "untuned_functions": self.untuned_functions}


def compile_with_database(network: str, target: dict | str, work_dir: str | os.PathLike, *,
                          layout: str = "NCHW") -> CompiledNetwork:
    """Build a zoo network for ``target`` with the best schedules of the MetaSchedule database in ``work_dir``.

    The Relax module is exported, legalized and fused exactly as for tuning, so its fused TIR functions are
    the database's workloads; ``MetaScheduleApplyDatabase`` replaces each by its best schedule. This is
    ``ms.relax_integration.compile_relax`` without its second legalization and fusion (the module is
    already fused; fusing fused functions again could merge them into functions the database never saw).
    Functions without a record stay as they are on a CPU (naive loops) and get DLight's default GPU
    schedules on a GPU; ``untuned_functions`` names them.
    """
    import tvm
    from tvm import relax
    from tvm.s_tir import meta_schedule as ms

    from ..collect import tasks
    from .. import zoo

    spec = zoo.parse_network(network)
    target = targets.checked_target(target)
    work_dir = Path(work_dir)
    for name in (WORKLOAD_FILE, RECORD_FILE):
        if not (work_dir / name).is_file():
            raise FileNotFoundError(f"{work_dir / name} not found: tune the network first (tune_network)")
    tvm_setup.prepare_tvm(targets.target_kind(target))
    start = time.perf_counter()
    mod = tasks.export_to_relax(network, target, layout)
    target_obj = targets.make_target(target)
    database = ms.database.JSONDatabase(work_dir=str(work_dir))
    found: dict[str, bool] = {}
    pipeline = _database_pipeline(target_obj, found)
    with target_obj, database, tvm.transform.PassContext(opt_level=3):
        executable = relax.build(mod, target=target_obj, relax_pipeline=pipeline)
    untuned = sorted(name for name, ok in found.items() if not ok)
    return CompiledNetwork(network=network, target=target, executable=executable,
                           inputs=[(tuple(spec.input_shape), spec.input_dtype)],
                           compile_seconds=time.perf_counter() - start, functions=len(found),
                           functions_tuned=len(found) - len(untuned), untuned_functions=untuned)


def _database_pipeline(target_obj, found: dict[str, bool]):
    """The Relax pipeline of :func:`compile_with_database`: apply the database (recording in ``found`` whether
    each TIR function got a schedule), DLight's defaults on a GPU, then lower and finalize."""
    import tvm
    from tvm.relax import pipeline as relax_pipeline
    from tvm.relax.transform import MetaScheduleApplyDatabase

    is_gpu = relax_pipeline.BackendDispatcher.is_gpu_target(target_obj)
    lower, finalize = lowering_passes(target_obj)

    @tvm.transform.module_pass(opt_level=3)
    def pipeline(mod: tvm.IRModule, _ctx) -> tvm.IRModule:
        mod = MetaScheduleApplyDatabase(enable_warning=False)(mod)
        for gvar, func in mod.functions.items():
            if isinstance(func, tvm.tirx.PrimFunc):
                found[gvar.name_hint] = is_scheduled(func)
        if is_gpu:
            from tvm.s_tir import dlight as dl

            mod = dl.ApplyDefaultSchedule(dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(),
                                          dl.gpu.GeneralReduction(), dl.gpu.Fallback())(mod)
        return tvm.transform.Sequential(list(lower) + list(finalize))(mod)

    return pipeline


def lowering_passes(target) -> tuple[list, list]:
    """Relax's dataflow-lowering and finalizing passes for the target (the lists ``compile_relax`` falls
    back to when ``relax.pipeline`` has none: 0.27's ``cpu_generic`` package does not export its own)."""
    from tvm import relax
    from tvm.relax import pipeline as relax_pipeline

    try:
        return list(relax_pipeline.dataflow_lower_passes(target)), list(relax_pipeline.finalize_passes(target))
    except (ValueError, AttributeError):
        pass
    lower = [relax.transform.RewriteDataflowReshape(), relax.transform.ToNonDataflow(),
             relax.transform.RemovePurityChecking(), relax.transform.CallTIRRewrite()]
    finalize = [relax.transform.StaticPlanBlockMemory(), relax.transform.LowerAllocTensor(),
                relax.transform.KillAfterLastUse(), relax.transform.LowerRuntimeBuiltin(),
                relax.transform.ComputePrimValue(), relax.transform.VMShapeLower(),
                relax.transform.AttachGlobalSymbol()]
    return lower, finalize


def is_scheduled(func) -> bool:
    """Whether a TIR ``PrimFunc`` carries an ``*is_scheduled`` attribute that is true."""
    attrs = func.attrs
    if attrs is None:
        return False
    return any(str(key).endswith("is_scheduled") and bool(attrs[key]) for key in attrs.keys())


__all__ = ["CompiledNetwork", "compile_with_database", "is_scheduled", "lowering_passes"]
