"""Every arm of a study against the baseline: :func:`compare_to_baseline` (latency, tuning time and trials
ratios, and a :func:`verdict` from the intervals), after folding the seeds (:func:`fold_seeds`).

The end-to-end latency of an arm carries a 95% interval of its mean: Student's t over the timing rounds (each in
a fresh process) when there are several, else the percentile bootstrap over the repeats of one process; with
several tuning seeds the rows are folded like :func:`tenset_study.evaluation.experiments.summarize_seeds` (mean
value, standard deviation over seeds, mean interval) and the interval is widened by one standard deviation over
seeds on each side."""

from __future__ import annotations

import math

import pandas as pd

from .settings import BASELINE

COMPARISON_COLUMNS = ["target_platform", "network", "arm", "budget_fraction", "latency_ratio", "ratio_low",
                      "ratio_high", "e2e_mean_s", "e2e_low_s", "e2e_high_s", "baseline_mean_s", "baseline_low_s",
                      "baseline_high_s", "estimated_ratio", "tuning_time_ratio", "trials_ratio", "scoring_share",
                      "seeds", "verdict"]


def fold_seeds(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (target_platform, network, arm): means over seeds of the end-to-end latency, its
    interval bounds, the estimated latency, tuning seconds, trials and scoring share, the standard deviation
    of the latency over seeds (``seed_std``, 0 for one seed) and the number of seeds."""
    keys = ["target_platform", "network", "arm"]
    frame = results.copy()
    frame["target_platform"] = frame["target_platform"].fillna("")
    folded = frame.groupby(keys, sort=False).agg(
        budget_fraction=("budget_fraction", "first"), e2e_mean_s=("e2e_mean_s", "mean"),
        e2e_low_s=("e2e_low_s", "mean"), e2e_high_s=("e2e_high_s", "mean"), seed_std=("e2e_mean_s", "std"),
        estimated_latency_s=("estimated_latency_s", "mean"), tuning_s=("tuning_s", "mean"),
        trials=("trials", "mean"), scoring_share=("scoring_share", "mean"), seeds=("seed", "nunique"),
    ).reset_index()
    folded["seed_std"] = folded["seed_std"].fillna(0.0)
    return folded


def compare_to_baseline(results: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Per network and platform, every arm against the baseline arm.

    Columns: target_platform, network, arm, budget_fraction, latency_ratio (arm / baseline end-to-end mean
    latency) with ratio_low / ratio_high (arm's low / baseline's high, arm's high / baseline's low: the
    ratio's range over both intervals), the two latencies and intervals, estimated_ratio (the same for the
    estimated latency), tuning_time_ratio and trials_ratio (arm / baseline), the arm's scoring share, and
    ``verdict``: "faster" when the arm's interval lies entirely below the baseline's, "on par" when they
    overlap, "slower" when it lies above, "n/a" without both timings. Seeds are folded first (:func:`fold_seeds`);
    intervals are widened by one standard deviation over seeds on each side.
    """
    folded = fold_seeds(results)
    rows = []
    for (platform, network), group in folded.groupby(["target_platform", "network"], sort=False):
        base = group[group["arm"] == baseline]
        if base.empty:
            continue
        base = base.iloc[0]
        for _, arm in group[group["arm"] != baseline].iterrows():
            rows.append({"target_platform": platform, "network": network, **_against(arm, base)})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _against(arm: pd.Series, base: pd.Series) -> dict:
    """One arm's comparison columns against the baseline's folded row."""
    base_low, base_high = base["e2e_low_s"] - base["seed_std"], base["e2e_high_s"] + base["seed_std"]
    low, high = arm["e2e_low_s"] - arm["seed_std"], arm["e2e_high_s"] + arm["seed_std"]
    return {
        "arm": arm["arm"], "budget_fraction": arm["budget_fraction"],
        "latency_ratio": arm["e2e_mean_s"] / base["e2e_mean_s"],
        "ratio_low": low / base_high, "ratio_high": high / base_low, "e2e_mean_s": arm["e2e_mean_s"],
        "e2e_low_s": low, "e2e_high_s": high, "baseline_mean_s": base["e2e_mean_s"],
        "baseline_low_s": base_low, "baseline_high_s": base_high,
        "estimated_ratio": arm["estimated_latency_s"] / base["estimated_latency_s"],
        "tuning_time_ratio": arm["tuning_s"] / base["tuning_s"], "trials_ratio": arm["trials"] / base["trials"],
        "scoring_share": arm["scoring_share"], "seeds": int(arm["seeds"]),
        "verdict": verdict(low, high, base_low, base_high),
    }


def verdict(low: float, high: float, base_low: float, base_high: float) -> str:
    """``faster`` when [low, high] lies entirely below [base_low, base_high], ``on par`` when they overlap,
    ``slower`` when it lies entirely above, ``n/a`` when a bound is missing."""
    if any(v is None or not math.isfinite(v) for v in (low, high, base_low, base_high)):
        return "n/a"
    if high < base_low:
        return "faster"
    return "on par" if low <= base_high else "slower"


__all__ = ["COMPARISON_COLUMNS", "compare_to_baseline", "fold_seeds", "verdict"]
