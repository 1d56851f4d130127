"""A tuning run's curve: the network's estimated latency after each measured program, against trials and seconds.

:func:`tuning_curve` reads the MetaSchedule database back in commit order (:func:`tenset_study.programs.database.
read_database`). Each record gets the time its batch was committed from ``tuning_timeline.json``
(:mod:`tenset_study.tuning.timeline`). For a database without a timeline (tuned elsewhere), records are spread
evenly over the tuning wall time (``tuning_seconds`` of ``tuning_result.json`` or the argument): record ``i`` of
``n`` at ``tuning_seconds * (i + 1) / n`` (column ``time_source`` says which was used).

A record's latency is the mean of its repeats (as in the dataset, :mod:`tenset_study.data.records`; MetaSchedule's
own log tables use the median). A record with no repeats or MetaSchedule's failure value (1e10 s) is invalid.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..programs.database import read_database
from .result import RESULT_FILE, TIMELINE_FILE, TuningResult

#: Columns of :func:`tuning_curve`.
TUNING_CURVE_COLUMNS = ["trial", "seconds", "time_source", "task_name", "latency_s", "task_best_latency_s",
                        "tasks_covered", "estimated_latency_s"]


def tuning_curve(work_dir: str | os.PathLike, tasks: list[dict] | None = None,
                 tuning_seconds: float | None = None) -> pd.DataFrame:
    """The network's estimated latency after each measured program, in commit order.

    ``tasks``: per task ``workload_shash``, ``weight`` and ``task_name`` (default: ``tuning_result.json``'s;
    without one every workload of the database counts once). ``tuning_seconds``: the wall time used to
    interpolate record times when the work dir has no timeline (default: the result's).

    Columns: ``trial`` (1-based), ``seconds`` (since tuning started), ``time_source`` (``timeline`` or
    ``interpolated``), ``task_name``, ``latency_s`` (this record, NaN when it failed),
    ``task_best_latency_s`` (best of its task so far), ``tasks_covered`` (tasks with a valid record so far)
    and ``estimated_latency_s`` (sum of weight x best-so-far over all tasks; NaN until every task has a
    valid record, non-increasing from then on).
    """
    work_dir = Path(work_dir)
    shashes, records = read_database(work_dir)
    result = None
    if (work_dir / RESULT_FILE).is_file():
        result = TuningResult.load(work_dir)
    if tasks is None:
        if result is not None:
            tasks = result.tasks
        else:
            tasks = [{"workload_shash": s, "weight": 1, "task_name": f"workload_{i}"} for i, s in enumerate(shashes)]
    if tuning_seconds is None and result is not None:
        tuning_seconds = result.tuning_seconds
    weight = {t["workload_shash"]: float(t["weight"]) for t in tasks}
    name = {t["workload_shash"]: str(t.get("task_name", t["workload_shash"])) for t in tasks}

    n = len(records)
    seconds, source = record_seconds(work_dir, n, tuning_seconds)
    best: dict[str, float] = {}
    rows = []
    for i, (shash, latency) in enumerate(zip(records["workload_shash"], records["latency_s"])):
        if not np.isnan(latency) and latency < best.get(shash, math.inf):
            best[shash] = float(latency)
        covered = sum(1 for s in weight if s in best)
        estimate = sum(w * best[s] for s, w in weight.items()) if covered == len(weight) else np.nan
        rows.append({"trial": i + 1, "seconds": seconds[i], "time_source": source, "task_name": name.get(shash, shash),
                     "latency_s": latency, "task_best_latency_s": best.get(shash, np.nan),
                     "tasks_covered": covered, "estimated_latency_s": estimate})
    return pd.DataFrame(rows, columns=TUNING_CURVE_COLUMNS)


def record_seconds(work_dir: Path, n: int, tuning_seconds: float | None) -> tuple[np.ndarray, str]:
    """Seconds since tuning started of the ``n`` records of ``work_dir``'s database, and where they come from:
    ``timeline`` (the batches of ``tuning_timeline.json``), ``interpolated`` (spread over ``tuning_seconds``)
    or ``none`` (NaN)."""
    path = work_dir / TIMELINE_FILE
    if path.is_file():
        batches = json.loads(path.read_text()).get("batches", [])
        counts = [int(b["records"]) for b in batches]
        if sum(counts) == n:
            return np.repeat([float(b["seconds"]) for b in batches], counts).astype(np.float64), "timeline"
    if tuning_seconds is None:
        return np.full(n, np.nan), "none"
    return tuning_seconds * (np.arange(n) + 1) / max(n, 1), "interpolated"


__all__ = ["TUNING_CURVE_COLUMNS", "record_seconds", "tuning_curve"]
