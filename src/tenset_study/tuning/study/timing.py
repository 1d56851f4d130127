"""Timing a study's tuned arms end to end: :func:`time_tuned_networks` compiles every tuned arm with its database
and times it, in this process (:mod:`~tenset_study.tuning.study.arm_timing`) or in rounds of fresh processes
(:mod:`~tenset_study.tuning.study.rounds`). A separate, resumable step: the timing can be redone on a quiet
machine (``overwrite=True``) without tuning again."""

from __future__ import annotations

import os

import pandas as pd

from ..result import read_json
from .arm_timing import time_one_arm, timing_row
from .layout import ARM_FILE, END_TO_END_FILE, tuned_arm_dirs
from .rounds import time_arms_in_rounds
from .settings import log as _log, past


def time_tuned_networks(study_dir: str | os.PathLike, networks: list[str] | None = None, *,
                        arms: list[str] | None = None, repeat: int = 100,
                        number: int = 1, min_repeat_ms: int = 100, rounds: int = 1, n_boot: int = 2000,
                        confidence: float = 0.95, overwrite: bool = False, deadline: float | None = None,
                        log=_log) -> pd.DataFrame:
    """Compile every tuned arm of the study with its database and time it end to end in the Relax VM.

    ``rounds`` = 1 times each arm in this process: ``repeat`` repeats, and the interval is the
    percentile bootstrap of their mean. ``rounds`` > 1 times a network's arms in that many rounds, each
    arm in a fresh process every round (:func:`~tenset_study.tuning.study.rounds.time_arms_in_rounds`), the
    arms' order rotated from round to round; the latency is the mean of the round means and the interval
    Student's t over them, because a network's time moves more between processes than between repeats in one.

    Writes ``end_to_end.json`` in each arm's work dir: every repeat, mean, standard deviation, median, the
    interval of the mean (``low_s``, ``high_s``), the rounds (when more than one), the compile summary,
    the timing settings and the machine's load average when it ran. An arm already timed with the same
    settings is skipped unless ``overwrite`` (re-time on a quiet machine without tuning again).
    ``networks``, ``arms``: only these networks and arm names (default: all). Returns one row per arm:
    network, arm, seed, status (``timed``, ``skipped``, ``failed``: logged, the other arms go on;
    ``deferred``: not started because ``deadline``, a ``time.monotonic()`` value, had passed), mean_s,
    work_dir.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    settings = {"repeat": int(repeat), "number": int(number), "min_repeat_ms": int(min_repeat_ms),
                "n_boot": int(n_boot), "confidence": float(confidence)}
    if rounds > 1:  # one round keeps the settings (and so the timings) of studies timed before rounds existed
        settings["rounds"] = int(rounds)
    rows, due_by_network = [], {}
    for work_dir in tuned_arm_dirs(study_dir, networks, arms):
        plan = read_json(work_dir / ARM_FILE)
        old = read_json(work_dir / END_TO_END_FILE)
        if not (overwrite or old is None or old.get("timing_settings") != settings):
            rows.append(timing_row(plan, "skipped", old, work_dir))
        elif past(deadline):
            log(f"{plan['network']} {plan['arm']} seed {plan['seed']}: time limit reached, not timed (re-run)")
            rows.append(timing_row(plan, "deferred", None, work_dir))
        else:
            due_by_network.setdefault(plan["network"], []).append(work_dir)
    for work_dirs in due_by_network.values():
        if rounds == 1:
            for work_dir in work_dirs:
                rows.append(time_one_arm(work_dir, settings, log))
        else:
            rows.extend(time_arms_in_rounds(work_dirs, settings, log=log))
    return pd.DataFrame(rows, columns=["network", "arm", "seed", "status", "mean_s", "work_dir"])


__all__ = ["time_tuned_networks"]
