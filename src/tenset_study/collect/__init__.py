"""Collection: measuring programs of the zoo's networks on this machine and appending them to a dataset.

Modules: :mod:`.collector` (:func:`collect`: the measuring loop, resumable), :mod:`.config`
(:class:`CollectConfig`), :mod:`.prepare` (the platform row and the tasks of a run), :mod:`.report`
(:class:`CollectReport`), :mod:`.tasks` (networks exported to Relax and their MetaSchedule tasks),
:mod:`.sampling` (random programs of a design space), :mod:`.guided` (programs from evolutionary search),
:mod:`.measure` (building and timing programs in batches, v1's way), :mod:`.pipeline` (building the next
batch while this one is measured, with one build pool for the run), :mod:`.builder` (MetaSchedule's builder
with one pool of workers kept across search rounds, for tuning), :mod:`.configurations` (one CPU measured as
several platforms at once: thread counts on their own cores, instruction sets), :mod:`.remeasure` (a fixed
sample measured again in later sessions) and :mod:`.platforms` (the machine's hardware row).
Names load on first use: :mod:`.tasks` needs torch, the others pandas or TVM.
"""

from __future__ import annotations

from ..lazy import lazy_exports

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "collect": "collector",
    "CollectConfig": "config",
    "CollectReport": "report",
    "MeasureSettings": "measure", "Measurer": "measure", "PipelinedMeasurer": "pipeline", "Program": "pipeline",
    "PersistentBuilder": "builder", "CpuConfiguration": "configurations",
    "NetworkTasks": "tasks", "extract_network_tasks": "tasks", "tables_for_networks": "tasks",
    "DesignSpace": "sampling", "sample_programs": "sampling",
    "cpu_platform": "platforms", "gpu_platform": "platforms",
}

__all__ = ["CollectConfig", "CollectReport", "CpuConfiguration", "DesignSpace", "MeasureSettings", "Measurer", "NetworkTasks", "PersistentBuilder", "PipelinedMeasurer",
           "Program", "collect",
           "cpu_platform", "extract_network_tasks", "gpu_platform", "sample_programs", "tables_for_networks"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
