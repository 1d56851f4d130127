"""Tensor programs as MetaSchedule sees them: targets, workloads (a task's IRModule), traces (a schedule) and
MetaSchedule's JSON database, plus fast TVM set-up.

Modules: :mod:`.targets` (TVM target dicts, their kinds and JSON), :mod:`.workload` (a task's IRModule stored
as JSON, its operator class and workload features), :mod:`.traces` (trace JSON, replaying a trace),
:mod:`.database` (MetaSchedule's JSON database read without TVM) and :mod:`.tvm_setup` (tensor intrinsics on
demand, MetaSchedule's logging). Names load on first use.
"""

from __future__ import annotations

from ..lazy import lazy_exports

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "GPU_KINDS": "targets", "checked_target": "targets", "cpu_target": "targets", "gpu_target": "targets",
    "make_target": "targets", "target_dict": "targets", "target_json": "targets", "target_kind": "targets",
    "WORKLOAD_FORMAT": "workload", "classify_op": "workload", "describe_workload": "workload",
    "load_workload": "workload", "save_workload": "workload", "task_row": "workload",
    "schedule_from_trace": "traces", "trace_json": "traces",
    "read_database": "database", "run_latency": "database",
    "metaschedule_logging": "tvm_setup", "prepare_tvm": "tvm_setup",
}

__all__ = ["GPU_KINDS", "WORKLOAD_FORMAT", "checked_target", "classify_op", "cpu_target", "describe_workload",
           "gpu_target", "load_workload", "make_target", "metaschedule_logging", "prepare_tvm", "read_database",
           "run_latency", "save_workload", "schedule_from_trace", "target_dict", "target_json", "target_kind",
           "task_row", "trace_json"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
