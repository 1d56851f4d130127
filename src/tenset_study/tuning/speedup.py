"""Search-time speedup: how much sooner an arm reaches the latency the baseline tuner ends at (as TLP reports it).

From :func:`~tenset_study.tuning.curve.tuning_curve` frames (estimated network latency against tuning seconds):

- :func:`has_flattened`: the stopping rule for the baseline: over the last ``tail`` share of its tuning time
  the estimated latency improved by less than ``tolerance`` (default: the last 25% improved it by under 1%).
  A speedup against a baseline that had not flattened flatters the arm, so :func:`search_speedup` reports it.
- :func:`time_to_reach`: the first second at which a curve's estimated latency is at or below a latency.
- :func:`search_speedup`: per pair of seeds (the i-th baseline run with the i-th arm run), the baseline's
  time to reach its own final latency divided by the arm's time to reach the same latency. A pair in which
  the arm never gets there is *not reached*, with the arm's final gap (arm final / baseline final - 1), and
  never counts as a speedup. The summary gives the geometric mean over the reached pairs with a percentile
  bootstrap interval over them (with 2-3 seeds the interval is wide, as it should be).
- :func:`latency_at_shares`: the paper's claim read off the same curves: an arm's estimated latency once a
  share (25%, 40%) of the baseline's tuning time has passed, relative to the latency the baseline ends at
  (1.0: on par; the baseline's own row says how far it was itself at that time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Columns of :func:`search_speedup`'s per-pair table.
PAIR_COLUMNS = ["pair", "baseline_final_s", "baseline_seconds", "arm_seconds", "reached", "speedup", "final_gap",
                "baseline_flattened"]


def _valid(curve: pd.DataFrame) -> pd.DataFrame:
    return curve[curve["estimated_latency_s"].notna()]


def has_flattened(curve: pd.DataFrame, tail: float = 0.25, tolerance: float = 0.01) -> bool:
    """Whether the last ``tail`` of the tuning time improved the estimated latency by less than ``tolerance``."""
    valid = _valid(curve)
    if valid.empty:
        return False
    end = float(curve["seconds"].max())
    before = valid[valid["seconds"] <= end * (1 - tail)]
    if before.empty:
        return False
    start, final = float(before["estimated_latency_s"].iloc[-1]), float(valid["estimated_latency_s"].iloc[-1])
    return (start - final) / start < tolerance


def time_to_reach(curve: pd.DataFrame, latency: float) -> float | None:
    """The first tuning second at which the curve's estimated latency is <= ``latency`` (None: never)."""
    valid = _valid(curve)
    reached = valid[valid["estimated_latency_s"] <= latency * (1 + 1e-12)]
    return float(reached["seconds"].iloc[0]) if len(reached) else None


def final_latency(curve: pd.DataFrame) -> float:
    """The curve's last estimated latency (NaN when no record ever covered every task)."""
    valid = _valid(curve)
    return float(valid["estimated_latency_s"].iloc[-1]) if len(valid) else float("nan")


def latency_at(curve: pd.DataFrame, seconds: float) -> float:
    """The curve's estimated latency at tuning second ``seconds``: its last value at or before it (NaN while
    no record covered every task)."""
    valid = _valid(curve)
    before = valid[valid["seconds"] <= seconds]
    return float(before["estimated_latency_s"].iloc[-1]) if len(before) else float("nan")


def geometric_mean(values) -> float:
    """Geometric mean of the finite values among positive ``values`` (NaN for none)."""
    logs = np.log(np.asarray(values, dtype=float))
    logs = logs[np.isfinite(logs)]
    return float(np.exp(logs.mean())) if len(logs) else float("nan")


def _geometric_interval(ratios: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float]:
    """Geometric mean of positive ``ratios`` and its percentile bootstrap interval (NaN for none)."""
    logs = np.log(ratios[np.isfinite(ratios)])
    if not len(logs):
        return float("nan"), float("nan"), float("nan")
    boots = logs[np.random.default_rng(seed).integers(0, len(logs), size=(n_boot, len(logs)))].mean(axis=1)
    low, high = (float(np.exp(q)) for q in np.quantile(boots, [0.025, 0.975]))
    return float(np.exp(logs.mean())), low, high


def search_speedup(baseline: list[pd.DataFrame], arm: list[pd.DataFrame], n_boot: int = 2000,
                   seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Per seed pair and in summary, the arm's search-time speedup over the baseline (module docstring).

    ``baseline`` and ``arm``: curves of the same network and target, one per tuning seed, paired in order
    (the shorter list decides how many pairs). Returns the per-pair table and a summary dict: ``pairs``,
    ``reached`` (pairs), ``speedup`` (geometric mean over reached pairs, NaN if none), ``low``/``high``
    (bootstrap interval), ``worst_gap`` (largest final gap of a pair not reached, NaN if all reached) and
    ``baselines_flattened`` (pairs whose baseline met :func:`has_flattened`).
    """
    rows = []
    for i, (base, ours) in enumerate(zip(baseline, arm)):
        target = final_latency(base)
        base_seconds = time_to_reach(base, target)
        arm_seconds = time_to_reach(ours, target)
        reached = arm_seconds is not None and base_seconds is not None
        speedup = base_seconds / max(arm_seconds, 1e-9) if reached else float("nan")
        rows.append({"pair": i, "baseline_final_s": target, "baseline_seconds": base_seconds,
                     "arm_seconds": arm_seconds, "reached": reached, "speedup": speedup,
                     "final_gap": final_latency(ours) / target - 1, "baseline_flattened": has_flattened(base)})
    pairs = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    mean, low, high = _geometric_interval(pairs.loc[pairs["reached"], "speedup"].to_numpy(dtype=float), n_boot, seed)
    missed = pairs.loc[~pairs["reached"], "final_gap"]
    summary = {"pairs": len(pairs), "reached": int(pairs["reached"].sum()), "speedup": mean, "low": low,
               "high": high, "worst_gap": float(missed.max()) if len(missed) else float("nan"),
               "baselines_flattened": int(pairs["baseline_flattened"].sum())}
    return pairs, summary


def describe_speedup(summary: dict) -> str:
    """One sentence for a table cell or the prose: the speedup with its interval, or why there is none."""
    if summary["reached"] == 0:
        return (f"not reached in any of {summary['pairs']} seed pair(s): final latency "
                f"{summary['worst_gap']:+.1%} against the baseline's at worst")
    text = f"{summary['speedup']:.1f}x [{summary['low']:.1f}, {summary['high']:.1f}] over {summary['reached']} seed pair(s)"
    if summary["reached"] < summary["pairs"]:
        text += f"; not reached in {summary['pairs'] - summary['reached']} (final gap up to {summary['worst_gap']:+.1%})"
    if summary["baselines_flattened"] < summary["pairs"]:
        text += f"; the baseline had not flattened in {summary['pairs'] - summary['baselines_flattened']}"
    return text


def group_columns(curves: pd.DataFrame) -> list[str]:
    """What curves are compared within: the study (exports) or else the target platform, if either is a
    column, and the network."""
    return [c for c in ("study", "target_platform") if c in curves][:1] + ["network"]


def _seed_runs(curves: pd.DataFrame, baseline: str):
    """Per :func:`group_columns` group: its keys and {arm: [curve per seed, in seed order]}, for groups with a
    ``baseline`` arm."""
    if curves is None or curves.empty:
        curves = pd.DataFrame(columns=["network", "arm", "seed"])
    group = group_columns(curves)
    out = []
    for keys, frame in curves.groupby(group, sort=True):
        runs = {arm: [part for _, part in sorted(arm_frame.groupby("seed"), key=lambda kv: kv[0])]
                for arm, arm_frame in frame.groupby("arm")}
        if baseline in runs:
            out.append((dict(zip(group, keys if isinstance(keys, tuple) else (keys,))), runs))
    return group, out


def latency_at_shares(curves: pd.DataFrame | None, shares: tuple[float, ...] = (0.25, 0.40),
                      baseline: str = "baseline-xgb", n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Every arm's (the baseline's too) estimated latency once ``share`` of the baseline's tuning time has
    passed, over the latency the baseline ends at, per seed pair (paired in seed order as in
    :func:`speedup_table`), as a geometric mean with a bootstrap interval over the pairs. ``covered``: the pairs
    in which the arm had an estimate for the whole network by then (only those count). Columns: the grouping,
    ``arm``, ``share``, ``seeds``, ``covered``, ``ratio``, ``low``, ``high``."""
    group, groups = _seed_runs(curves, baseline)
    rows = []
    for keys, runs in groups:
        for arm in [baseline, *sorted(a for a in runs if a != baseline)]:
            for share in shares:
                ratios = []
                for base, ours in zip(runs[baseline], runs[arm]):
                    end = float(base["seconds"].max())
                    ratios.append(latency_at(ours, share * end) / final_latency(base))
                ratio, low, high = _geometric_interval(np.array(ratios, dtype=float), n_boot, seed)
                rows.append(keys | {"arm": arm, "share": float(share), "seeds": len(ratios),
                                    "covered": int(np.isfinite(ratios).sum()), "ratio": ratio, "low": low,
                                    "high": high})
    return pd.DataFrame(rows, columns=[*group, "arm", "share", "seeds", "covered", "ratio", "low", "high"])


def speedup_table(curves: pd.DataFrame | None, baseline: str = "baseline-xgb") -> pd.DataFrame:
    """Every arm's search-time speedup over ``baseline`` per study (or target) and network, from the curves
    of :func:`~tenset_study.tuning.study.collect_curves` or :func:`~tenset_study.tuning.archive.measured_curves`
    (columns ``network``, ``arm``, ``seed``, ``seconds``, ``estimated_latency_s``; seeds are paired in
    sorted order). Columns: the grouping, ``arm``, ``seeds``, ``reached``, ``speedup``, ``low``, ``high``,
    ``worst_gap``, ``baselines_flattened`` and ``verdict`` (:func:`describe_speedup`). No curves: no rows."""
    group, groups = _seed_runs(curves, baseline)
    rows = []
    for keys, runs in groups:
        for arm in sorted(a for a in runs if a != baseline):
            _, summary = search_speedup(runs[baseline], runs[arm])
            rows.append(keys | {"arm": arm, "seeds": summary["pairs"]}
                        | {k: v for k, v in summary.items() if k != "pairs"} | {"verdict": describe_speedup(summary)})
    columns = [*group, "arm", "seeds", "reached", "speedup", "low", "high", "worst_gap", "baselines_flattened",
               "verdict"]
    return pd.DataFrame(rows, columns=columns)
