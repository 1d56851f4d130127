"""Programs from MetaSchedule's evolutionary search, so the fast region of a design space is covered.

Random programs are mostly slow (the median random program of a conv2d task is about ten times slower
than the best one), so a cost model trained on them alone sees few fast programs. ``guided_share`` of
each task's programs come from MetaSchedule's own search (XGBoost cost model + evolutionary search),
measured with the same builder and runner as the random ones and stored with source ``evolutionary``.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile

import numpy as np

from ..data.dataset import Dataset, program_id
from ..programs.database import FAILED_RUN_S
from ..programs.traces import trace_json
from ..programs.tvm_setup import metaschedule_logging


def guided_programs(ds: Dataset, tasks: list, target, config, platform: str, measured_ids: set[str]) -> int:
    """Run evolutionary search on every task that has no guided programs yet; returns programs written.

    Each task gets ``ceil(guided_share * programs_per_task)`` trials. Tasks that already have
    ``evolutionary`` programs in the dataset are skipped, so an interrupted collection resumes here too.
    Candidates are built by one pool of workers kept for every task's search (:mod:`.builder`) and timed by
    the collection's runner settings.
    """
    from .builder import persistent_builder
    from .measure import close_runner, make_runner

    trials = math.ceil(config.guided_share * config.programs_per_task)
    programs = ds.to_pandas("programs", columns=["task", "source"])
    done = set(programs.loc[programs["source"] == "evolutionary", "task"])
    written = 0
    builder, runner = persistent_builder(config.measure), make_runner(config.measure)
    try:
        for task in (t for t in tasks if t.task not in done):
            records = _search(task, target, trials, builder, runner, config.seed + 1)
            written += _write_records(ds, task.task, records, platform, measured_ids)
    finally:
        builder.close()
        close_runner(runner)
    return written


def _search(task, target, trials: int, builder, runner, seed: int) -> list:
    """MetaSchedule's evolutionary search with its XGBoost model on one task: its tuning records."""
    from tvm.s_tir import meta_schedule as ms

    with tempfile.TemporaryDirectory(prefix="tenset-study-guided-") as work_dir, metaschedule_logging():
        database = ms.database.MemoryDatabase()
        ms.tune_tir(
            mod=task.mod, target=target, work_dir=work_dir, max_trials_global=trials,
            num_trials_per_iter=min(trials, 64), builder=builder, runner=runner,
            database=database, cost_model="xgb", seed=seed,
        )
        return database.get_all_tuning_records()


def _write_records(ds: Dataset, task: str, records, platform: str, measured_ids: set[str]) -> int:
    """Append a search's tuning records as programs (source ``evolutionary``) and their measurements."""
    now = dt.datetime.now(dt.timezone.utc)
    programs, measurements = {}, []
    for rec in records:
        trace = trace_json(rec.trace)
        pid = program_id(task, trace)
        if pid in programs or pid in measured_ids:
            continue
        secs = [float(s) for s in (rec.run_secs or [])]
        failed = not secs or min(secs) >= FAILED_RUN_S
        programs[pid] = {"program": pid, "task": task, "encoding": "metaschedule", "trace": trace,
                         "source": "evolutionary"}
        measurements.append({
            "program": pid, "platform": platform, "latency_s": None if failed else float(np.mean(secs)),
            "repeats_s": None if failed else secs, "error": "run: failed in evolutionary search" if failed else None,
            "measured_at": now,
        })
    existing = ds.existing_keys("programs")
    ds.append("programs", [row for pid, row in programs.items() if pid not in existing])
    ds.append("measurements", measurements)
    measured_ids.update(programs)
    return len(measurements)
