"""Timing a network's arms in rounds, each arm in a fresh process every round (:func:`time_arms_in_rounds`),
summarizing an arm's rounds (:func:`summarize_rounds`: Student's t over the round means) and reading every
round of a study back (:func:`timing_rounds`).

A network's time moves more between processes than between repeats in one (on the H200, bert_tiny's round
means spread far wider than the repeats of any one round), so the ``full`` preset times in rounds."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..result import read_json
from ..timing import export_compiled, time_in_fresh_process
from .arm_timing import compile_arm, log_timed, timing_row, write_end_to_end
from .layout import ARM_FILE, END_TO_END_FILE, tuned_arm_dirs
from .settings import log as _log


def time_arms_in_rounds(work_dirs: list[Path], settings: dict, *, log=_log) -> list[dict]:
    """Time arms of one network in ``settings['rounds']`` rounds, each arm in a fresh process every round.

    Every arm is compiled once and exported as a shared library (in a temporary folder); round ``r`` then
    times the arms in their order rotated by ``r`` (so no arm always runs first), each with
    :func:`tenset_study.tuning.timing.time_in_fresh_process` (``repeat`` repeats). ``end_to_end.json`` keeps each
    round's repeats and mean; ``mean_s`` is the mean of the round means, ``std_s`` their standard
    deviation, ``low_s``/``high_s`` Student's t interval of the mean over rounds, and ``repeats_s`` every
    repeat of every round. An arm that fails to compile or in a round is logged and reported ``failed``;
    the others go on. Returns one row per arm as :func:`~tenset_study.tuning.study.timing.time_tuned_networks`
    does.
    """
    import tempfile

    rows, built, times = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="tenset-timing-") as tmp:
        for i, work_dir in enumerate(work_dirs):
            plan = read_json(work_dir / ARM_FILE)
            log(f"{plan['network']} {plan['arm']} seed {plan['seed']}: compiling to time in "
                f"{settings['rounds']} rounds")
            try:
                compiled = compile_arm(work_dir, plan)
                built[work_dir] = (plan, compiled, export_compiled(compiled, Path(tmp) / f"arm{i}.so"))
                times[work_dir] = []
            except Exception as err:  # noqa: BLE001 - time the other arms; the next run tries again
                log(f"{plan['network']} {plan['arm']}: compiling FAILED ({type(err).__name__}: {err})")
                rows.append(timing_row(plan, "failed", None, work_dir))
        for r in range(settings["rounds"]):
            order = [w for w in work_dirs if w in times]
            order = order[r % len(order):] + order[:r % len(order)] if order else []
            for work_dir in order:
                plan, compiled, library = built[work_dir]
                try:
                    times[work_dir].append(time_in_fresh_process(
                        library, plan["target"], compiled.inputs, repeat=settings["repeat"],
                        number=settings["number"], min_repeat_ms=settings["min_repeat_ms"]))
                except Exception as err:  # noqa: BLE001 - the other arms go on
                    log(f"{plan['network']} {plan['arm']}: round {r + 1} FAILED ({type(err).__name__}: {err})")
                    rows.append(timing_row(plan, "failed", None, work_dir))
                    del times[work_dir]
    for work_dir, arm_rounds in times.items():
        plan, compiled, _ = built[work_dir]
        e2e = write_end_to_end(work_dir, summarize_rounds(arm_rounds, settings["confidence"]), settings, compiled)
        log_timed(plan, e2e, log)
        rows.append(timing_row(plan, "timed", e2e, work_dir))
    return rows


def timing_rounds(study_dir: str | os.PathLike) -> pd.DataFrame:
    """Every timing round of every timed arm (:func:`time_arms_in_rounds`): one row per (network, arm,
    seed, round) with the round's mean and standard deviation over its repeats (seconds) and its share of
    the arm's mean (``of_mean``). An arm timed in one process gives one row, round 0. Shows how much a
    network's time moves from one process to the next."""
    rows = []
    for work_dir in tuned_arm_dirs(study_dir):
        plan, e2e = read_json(work_dir / ARM_FILE), read_json(work_dir / END_TO_END_FILE)
        if not e2e:
            continue
        for i, r in enumerate(e2e.get("rounds") or [e2e]):
            rows.append({"target_platform": plan.get("target_platform"), "network": plan["network"],
                         "arm": plan["arm"], "seed": plan["seed"], "round": i, "mean_s": r["mean_s"],
                         "std_s": r["std_s"], "of_mean": r["mean_s"] / e2e["mean_s"]})
    return pd.DataFrame(rows, columns=["target_platform", "network", "arm", "seed", "round", "mean_s", "std_s",
                                       "of_mean"])


def summarize_rounds(rounds: list[dict], confidence: float = 0.95) -> dict:
    """One arm's timing over rounds (each a :func:`tenset_study.tuning.timing.time_network` result): the mean and
    standard deviation of the round means, Student's t interval of their mean (``low_s``, ``high_s``), the
    median and extremes over all repeats, every repeat (``repeats_s``) and each round's summary."""
    from scipy import stats

    means = np.array([r["mean_s"] for r in rounds], dtype=np.float64)
    repeats = [float(v) for r in rounds for v in r["repeats_s"]]
    mean, n = float(means.mean()), len(means)
    std = float(means.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)) if n > 1 else 0.0
    return {"mean_s": mean, "std_s": std, "median_s": float(np.median(repeats)), "min_s": float(np.min(repeats)),
            "max_s": float(np.max(repeats)), "repeats_s": repeats, "low_s": mean - half, "high_s": mean + half,
            "interval": f"Student's t of the mean over {n} rounds, each in a fresh process",
            "rounds": [{k: r[k] for k in ("mean_s", "std_s", "median_s", "repeats_s", "timing_wall_s")}
                       for r in rounds],
            "settings": rounds[0]["settings"], "device": rounds[0]["device"], "inputs": rounds[0]["inputs"]}


__all__ = ["summarize_rounds", "time_arms_in_rounds", "timing_rounds"]
