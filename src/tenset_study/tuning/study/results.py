"""A study's result tables: :func:`collect_results` (one row per tuned arm) and :func:`collect_curves` (every
arm's tuning curve) read the study dir back; :func:`write_study_results` writes them atomically into the study
dir and, merged by (platform, network, arm, seed) with :func:`merge_results`, into a shared results folder.

The estimated latency (sum of weight x best kernel) of every arm of a network is taken over the same tasks
(:func:`estimate_tasks`: those every arm measured), so that it compares across arms."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..curve import tuning_curve
from ..result import TuningResult, read_json
from .layout import ARM_FILE, CURVES_FILE, END_TO_END_FILE, RESULTS_FILE, tuned_arm_dirs

#: Rows of the shared results files are replaced by key when a study writes them again.
RESULT_KEYS = ["target_platform", "network", "arm", "seed"]
RESULT_COLUMNS = [
    "target_platform", "network", "arm", "cost_model", "budget_fraction", "budget", "trials_budget", "trials",
    "valid_trials", "tasks", "untuned_tasks", "tuning_s", "scoring_s", "scoring_share", "update_s",
    "estimated_latency_s", "estimate_tasks", "e2e_mean_s", "e2e_std_s", "e2e_low_s", "e2e_high_s", "e2e_repeats",
    "seed", "target", "work_dir",
]
CURVE_COLUMNS = ["target_platform", "network", "arm", "budget_fraction", "seed", "trial", "seconds", "time_source",
                 "task_name", "latency_s", "task_best_latency_s", "tasks_covered", "estimated_latency_s"]


def estimate_tasks(study_dir: str | os.PathLike) -> dict[str, list[dict]]:
    """Per network, the tasks that every tuned arm measured at least once (``tuning_result.json``'s task
    entries). The estimated latency (sum of weight x best kernel) is taken over these, so that it exists
    and compares across arms when a task can never be measured alone: BERT's ``take`` (the embedding
    lookup) gets random indices from MetaSchedule's runner, reads out of bounds and fails in every arm,
    while the compiled network runs it with valid token ids."""
    results: dict[str, list] = {}
    for work_dir in tuned_arm_dirs(study_dir):
        result = TuningResult.load(work_dir)
        results.setdefault(result.network, []).append(result)
    out = {}
    for network, arm_results in results.items():
        unmeasured = {t["workload_shash"] for r in arm_results for t in r.tasks if t["best_latency_s"] is None}
        out[network] = [t for t in arm_results[0].tasks if t["workload_shash"] not in unmeasured]
    return out


def _estimate(result: TuningResult, tasks: list[dict]) -> float | None:
    best = {t["workload_shash"]: t["best_latency_s"] for t in result.tasks}
    if not tasks or any(best.get(t["workload_shash"]) is None for t in tasks):
        return None
    return float(sum(t["weight"] * best[t["workload_shash"]] for t in tasks))


def collect_results(study_dir: str | os.PathLike) -> pd.DataFrame:
    """The results table of a study dir: one row per tuned arm (columns :data:`RESULT_COLUMNS`; the
    end-to-end columns are NaN until :func:`~tenset_study.tuning.study.timing.time_tuned_networks` ran).
    ``estimated_latency_s`` is over the ``estimate_tasks`` tasks that every arm of the network measured
    (:func:`estimate_tasks`)."""
    common = estimate_tasks(study_dir)
    rows = []
    for work_dir in tuned_arm_dirs(study_dir):
        plan = read_json(work_dir / ARM_FILE)
        result = TuningResult.load(work_dir)
        e2e = read_json(work_dir / END_TO_END_FILE) or {}
        tasks = common.get(result.network, [])
        rows.append({
            "target_platform": plan.get("target_platform"), "network": plan["network"], "arm": plan["arm"],
            "cost_model": result.cost_model, "budget_fraction": plan["budget_fraction"], "budget": plan["budget"],
            "trials_budget": plan["trials"], "trials": result.trials_measured, "valid_trials": result.valid_trials,
            "tasks": len(result.tasks), "untuned_tasks": len(result.untuned_tasks),
            "tuning_s": result.tuning_seconds, "scoring_s": result.scoring_seconds,
            "scoring_share": result.scoring_share, "update_s": result.update_seconds,
            "estimated_latency_s": _estimate(result, tasks), "estimate_tasks": len(tasks),
            "e2e_mean_s": e2e.get("mean_s"),
            "e2e_std_s": e2e.get("std_s"), "e2e_low_s": e2e.get("low_s"), "e2e_high_s": e2e.get("high_s"),
            "e2e_repeats": len(e2e.get("repeats_s", [])) or None, "seed": plan["seed"],
            "target": json.dumps(plan["target"], sort_keys=True), "work_dir": str(work_dir),
        })
    return pd.DataFrame(rows, columns=RESULT_COLUMNS).astype({"e2e_mean_s": float, "e2e_std_s": float,
                                                              "e2e_low_s": float, "e2e_high_s": float})


def collect_curves(study_dir: str | os.PathLike) -> pd.DataFrame:
    """Every tuned arm's tuning curve (:func:`tenset_study.tuning.curve.tuning_curve`: the network's estimated
    latency against trials and tuning seconds, over the tasks of :func:`estimate_tasks`), with the arm's
    keys (columns :data:`CURVE_COLUMNS`)."""
    common = estimate_tasks(study_dir)
    frames = []
    for work_dir in tuned_arm_dirs(study_dir):
        plan = read_json(work_dir / ARM_FILE)
        curve = tuning_curve(work_dir, tasks=common.get(plan["network"]) or None)
        frames.append(curve.assign(target_platform=plan.get("target_platform"), network=plan["network"],
                                   arm=plan["arm"], budget_fraction=plan["budget_fraction"], seed=plan["seed"]))
    if not frames:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]


def merge_results(new: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``new`` into the CSV at ``path`` (atomic), replacing the rows with the same
    (target_platform, network, arm, seed) and keeping the others (another platform's study, say)."""
    from ...data.results import write_results

    path = Path(path)
    if path.is_file():
        old = pd.read_csv(path)
        if not old.empty:
            key = lambda frame: frame[RESULT_KEYS].astype(str).agg("|".join, axis=1)  # noqa: E731
            old = old[~key(old).isin(set(key(new)))]
            new = pd.concat([old, new], ignore_index=True) if not new.empty else old
    return write_results(new.sort_values(RESULT_KEYS, kind="stable"), path)


def write_study_results(study_dir: str | os.PathLike, results_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write the study's results and curves into ``study_dir`` (``transfer_tuning.csv``,
    ``transfer_tuning_curves.csv``) and, when ``results_dir`` is given, merge them into the files of the same
    names there (:func:`merge_results`). Returns the paths written."""
    from ...data.results import write_results

    results, curves = collect_results(study_dir), collect_curves(study_dir)
    paths = {"results": write_results(results, Path(study_dir) / RESULTS_FILE),
             "curves": write_results(curves, Path(study_dir) / CURVES_FILE)}
    if results_dir is not None:
        from ...params import resolve_path

        shared = resolve_path(results_dir)
        paths["shared_results"] = merge_results(results, shared / RESULTS_FILE)
        paths["shared_curves"] = merge_results(curves, shared / CURVES_FILE)
    return paths


__all__ = ["CURVE_COLUMNS", "RESULT_COLUMNS", "RESULT_KEYS", "collect_curves", "collect_results", "estimate_tasks",
           "merge_results", "write_study_results"]
