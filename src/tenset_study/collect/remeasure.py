"""Noise across collection sessions: a fixed sample of a platform's programs measured again in every later
session, into the ``remeasurements`` table.

Repeats within one measurement say how noisy a platform is within a session
(:mod:`tenset_study.evaluation.noise`); a machine can also drift from one session to the next (another
host of the same kind, another clock, other neighbours). So every collection run that measures on a platform
first measures again the sample's programs that an earlier session (an earlier UTC day) measured there, once
per day. The sample is whole tasks, because noise is judged as a ranking within a task: the tasks are
taken in the order of a hash of their id until they hold ``share`` of the programs (at least two tasks),
so every platform and every session draws the same ones from the same program set.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.compute as pc

from ..data.dataset import Dataset
from ..data.ids import stable_id

#: Share of a platform's programs measured again in every later collection session.
REMEASURE_SHARE = 0.01


def sample_tasks(programs_per_task: pd.Series, share: float, min_tasks: int = 2) -> list[str]:
    """The fixed sample: tasks (index of ``programs_per_task``) in the order of a hash of their id, until they
    hold ``share`` of the programs, and at least ``min_tasks`` of them."""
    if share <= 0 or programs_per_task.empty:
        return []
    order = sorted(programs_per_task.index, key=lambda task: stable_id("remeasure", task))
    wanted, chosen, held = share * programs_per_task.sum(), [], 0
    for task in order:
        if held >= wanted and len(chosen) >= min_tasks:
            break
        chosen.append(task)
        held += programs_per_task[task]
    return chosen


def session_of(moment: dt.datetime) -> str:
    """A collection session's name: its UTC day."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d")


def programs_to_remeasure(ds: Dataset, task_ids: list[str], platform: str, share: float,
                          session: str) -> pd.DataFrame:
    """The sample's programs (of these tasks) that an earlier session measured on ``platform`` without an error
    and that this session has not measured again yet: ``program``, ``task``, ``trace``."""
    programs = ds.to_pandas("programs", columns=["program", "task", "trace"], filter=pc.field("task").isin(task_ids))
    sample = set(sample_tasks(programs.groupby("task").size(), share))
    programs = programs[programs["task"].isin(sample)]
    measured = ds.to_pandas("measurements", columns=["program", "measured_at", "error"],
                            filter=(pc.field("platform") == platform) & pc.field("error").is_null())
    earlier = measured[measured["measured_at"].map(session_of) < session]["program"]
    done = ds.to_pandas("remeasurements", columns=["program"],
                        filter=(pc.field("platform") == platform) & (pc.field("session") == session))["program"]
    return programs[programs["program"].isin(set(earlier)) & ~programs["program"].isin(set(done))]


def remeasurement_rows(programs: pd.DataFrame, results: list, platform: str, session: str) -> list[dict]:
    """``remeasurements`` rows of measured programs (results in the frame's order)."""
    from .measure import measurement_row

    now = dt.datetime.now(dt.timezone.utc)
    return [measurement_row(program, platform, r, now) | {"session": session}
            for program, r in zip(programs["program"], results, strict=True)]
