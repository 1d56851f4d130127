"""The tasks a zoo network is tuned as: :func:`extract_tuning_tasks` exports the network to Relax
(:func:`tenset_study.collect.tasks.export_to_relax`) and extracts its tasks with MetaSchedule, each described by
the dataset's task id, weight, workload hash and FLOPs."""

from __future__ import annotations

from ..programs import targets, tvm_setup


def extract_tuning_tasks(network: str, target: dict | str, layout: str = "NCHW"):
    """``(relax_mod, extracted_tasks, task_rows)`` of a zoo network: the fused Relax module (weights bound),
    MetaSchedule's ``ExtractedTask`` list (tasks already scheduled in the module dropped), and per task a
    dict with the dataset's task id, ``task_name``, ``weight``, ``workload_shash`` and ``flops``."""
    from tvm.s_tir import meta_schedule as ms

    from ..collect import tasks
    from ..programs import workload
    from .. import zoo

    zoo.parse_network(network)  # a clear error for a bad name before torch runs
    target = targets.checked_target(target)
    kind = targets.target_kind(target)
    tvm_setup.prepare_tvm(kind)
    mod = tasks.export_to_relax(network, target, layout)
    extracted = [t for t in ms.relax_integration.extract_tasks(mod, targets.make_target(target))
                 if not t.mod.attrs.get("tirx.is_scheduled", False)]
    target_text = targets.target_json(target)
    rows = []
    for task in extracted:
        task_mod = task.dispatched[0]
        row = workload.task_row(task_mod, kind, target_text, task.task_name)
        rows.append({"task": row["task"], "task_name": str(task.task_name), "weight": int(task.weight),
                     "workload_shash": str(ms.database.Workload(task_mod).as_json()[0]),
                     "flops": float(row.get("flops") or 0.0)})
    return mod, extracted, rows


def count_tasks(network: str, target: dict | str, layout: str = "NCHW") -> int:
    """Tunable tasks of a network for a target (MetaSchedule's task extraction)."""
    return len(extract_tuning_tasks(network, target, layout)[1])


__all__ = ["count_tasks", "extract_tuning_tasks"]
