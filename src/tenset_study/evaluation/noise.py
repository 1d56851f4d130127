"""Measurement noise as a ranking ceiling: how well one set of a program's repeats ranks the programs of a
task against another set of its repeats.

Every measurement keeps its repeats (``repeats_s``). Ranking the programs of each (task, platform) by the
mean of some repeats and scoring that ranking, with the package's PCA, against the mean of other repeats
of the same programs gives what no cost model can beat on that platform: a model is judged against labels
that carry the same noise. ``repeats_vs_repeats`` does it for chosen repeat sets; ``repeat_budget``
tabulates, per platform, r repeats against r others for growing r, which is how a collection's repeat
count is chosen from measured noise rather than habit: where 1 against 1 already reaches the ceiling that
averaging more repeats approaches, more repeats buy nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..data.records import normalized_throughput
from .metrics import pairwise_accuracy_per_group

#: Columns of :func:`repeat_budget`'s table.
REPEAT_BUDGET_COLUMNS = ("platform", "repeats", "programs", "tasks", "pca", "low", "high")
#: Columns of :func:`across_sessions`'s table.
ACROSS_SESSIONS_COLUMNS = ("platform", "session", "programs", "tasks", "pca", "low", "high")


def measurements_with_repeats(ds, platforms: Sequence[str] | None = None) -> pd.DataFrame:
    """Successful measurements of a dataset with their task and repeats: ``program``, ``task``, ``platform``,
    ``repeats_s`` (a list per row)."""
    import pyarrow.compute as pc

    flt = pc.field("error").is_null()
    if platforms:
        flt = flt & pc.field("platform").isin(list(platforms))
    m = ds.to_pandas("measurements", columns=["program", "platform", "repeats_s", "error"], filter=flt)
    tasks = ds.to_pandas("programs", columns=["program", "task"])
    return m.drop(columns="error").merge(tasks, on="program", how="inner")


def repeats_vs_repeats(measurements: pd.DataFrame, score_repeats: Sequence[int],
                       label_repeats: Sequence[int]) -> pd.DataFrame:
    """PCA per (task, platform) of the ranking by the mean of ``score_repeats`` (indices into each row's
    ``repeats_s``) against the mean of ``label_repeats``. Rows with too few repeats are left out. Returns
    :func:`~.metrics.pairwise_accuracy_per_group`'s table."""
    records, scores = repeat_records(measurements, score_repeats, label_repeats)
    return pairwise_accuracy_per_group(records, scores)


def repeat_records(measurements: pd.DataFrame, score_repeats: Sequence[int],
                   label_repeats: Sequence[int]) -> tuple[pd.DataFrame, np.ndarray]:
    """A records table whose latencies are the mean of ``label_repeats`` (label: the group's best over it), and
    the scores of the ranking by the mean of ``score_repeats`` (minus the latency: higher = faster), aligned
    with it. Rows with too few repeats are left out; ``program`` is kept where ``measurements`` has it."""
    if set(score_repeats) & set(label_repeats):
        raise ValueError(f"score and label repeats overlap: {list(score_repeats)} and {list(label_repeats)}")
    needed = max([*score_repeats, *label_repeats]) + 1
    rows = measurements[measurements["repeats_s"].map(lambda r: r is not None and len(r) >= needed)]
    if rows.empty:
        raise ValueError(f"no measurement has the {needed} repeats that repeats {list(score_repeats)} against "
                         f"{list(label_repeats)} need")
    repeats = np.stack(rows["repeats_s"].map(lambda r: np.asarray(r[:needed], dtype=np.float64)).to_list())
    latency = repeats[:, list(label_repeats)].mean(axis=1)
    records = pd.DataFrame({"task": rows["task"].to_numpy(), "platform": rows["platform"].to_numpy(),
                            "latency_s": latency})
    if "program" in rows.columns:
        records.insert(0, "program", rows["program"].to_numpy())
    records["label"] = normalized_throughput(records)
    return records, -repeats[:, list(score_repeats)].mean(axis=1)


def repeat_budget(measurements: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                  confidence: float = 0.95) -> pd.DataFrame:
    """Per platform and r = 1 .. R // 2 (R: the fewest repeats any of its measurements has), PCA of the mean
    of repeats ``0..r-1`` against the mean of repeats ``r..2r-1``, with a bootstrap interval over tasks."""
    out = []
    for platform, group in measurements.groupby("platform", sort=True):
        most = int(group["repeats_s"].map(len).min())
        for r in range(1, most // 2 + 1):
            per_group = repeats_vs_repeats(group, range(r), range(r, 2 * r))
            low, high = _bootstrap_weighted_mean(per_group, n_boot, seed, confidence)
            pca = float(np.average(per_group["pca"], weights=per_group["programs"]))
            out.append((platform, r, int(per_group["programs"].sum()), len(per_group), pca, low, high))
    return pd.DataFrame(out, columns=list(REPEAT_BUDGET_COLUMNS))


def across_sessions(ds, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95) -> pd.DataFrame:
    """Per platform and later session: PCA of the ranking by a program's first measurement against the ranking
    by its measurement in that session (``remeasurements``, :mod:`tenset_study.collect.remeasure`), within
    tasks, with a bootstrap interval over tasks. Empty where nothing was measured again."""
    import pyarrow.compute as pc

    first = ds.to_pandas("measurements", columns=["program", "platform", "latency_s"], filter=pc.field("error").is_null())
    first = first.merge(ds.to_pandas("programs", columns=["program", "task"]), on="program")
    again = ds.to_pandas("remeasurements", columns=["program", "platform", "session", "latency_s"],
                         filter=pc.field("error").is_null())
    both = first.merge(again, on=["program", "platform"], suffixes=("", "_again"))
    out = []
    for (platform, session), group in both.groupby(["platform", "session"], sort=True):
        records = pd.DataFrame({"task": group["task"].to_numpy(), "platform": platform,
                                "label": 1.0 / group["latency_s_again"].to_numpy()})
        per_group = pairwise_accuracy_per_group(records, -group["latency_s"].to_numpy())
        per_group = per_group[per_group["pairs"] > 0]
        if per_group.empty:
            continue
        low, high = _bootstrap_weighted_mean(per_group, n_boot, seed, confidence)
        pca = float(np.average(per_group["pca"], weights=per_group["programs"]))
        out.append((platform, session, int(per_group["programs"].sum()), len(per_group), pca, low, high))
    return pd.DataFrame(out, columns=list(ACROSS_SESSIONS_COLUMNS))


def _bootstrap_weighted_mean(per_group: pd.DataFrame, n_boot: int, seed: int,
                             confidence: float) -> tuple[float, float]:
    """Percentile interval of the program-weighted mean PCA, tasks resampled with replacement."""
    rng = np.random.default_rng(seed)
    pca, weight = per_group["pca"].to_numpy(), per_group["programs"].to_numpy(dtype=np.float64)
    picks = rng.integers(0, len(pca), size=(n_boot, len(pca)))
    means = (pca[picks] * weight[picks]).sum(axis=1) / weight[picks].sum(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
