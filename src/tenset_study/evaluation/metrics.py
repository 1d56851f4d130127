"""Ranking metrics for cost models: pairwise comparison accuracy (PCA) and top-k, with bootstrap intervals.

Every function takes the records table of :mod:`tenset_study.data.records` (one row per program and platform,
with ``task``, ``platform``, ``latency_s`` and ``label``) and ``scores``, a float array aligned with its
rows: higher score = the model predicts a faster program. Programs are compared only within their
(task, platform) group. The definitions are those of BRIEF section 4:

* **PCA** of a group: over all pairs of programs with different labels, the fraction whose order by score
  agrees with their order by label. A pair with equal scores counts 0.5 (a model that cannot tell two
  programs apart is credited like a coin flip, never fully right or fully wrong). A group with fewer than
  2 programs, or without a pair of different labels, has PCA 0.5. The PCA of a set of groups is the mean
  of their PCAs weighted by their number of programs (TenSet's convention).
* **top-k** of a network on a platform: ``sum_t w_t * best_t / sum_t w_t * best_of_top_k_t`` over the
  network's tasks present in the records, ``best_t`` the task's best measured latency and
  ``best_of_top_k_t`` the best latency among the k programs the model scores highest; ``w_t`` is how often
  the task occurs in the network. Programs with equal scores at the k-th place are taken in records row
  order (program id, a hash: effectively at random). Failed measurements (no latency, kept only by
  ``load_records(keep_failed=True)``) count as infinitely slow; a group without any successful
  measurement has no top-k. The ``all`` row of a platform uses every task present with weight 1.

Intervals come from a bootstrap over tasks: tasks are resampled with replacement and the statistic (both
metrics are ratios of sums over tasks) is recomputed; the interval is the percentile interval. Each
interval's random stream is derived from ``seed`` and the row's (metric, platform, network), so a row's
interval does not change when other rows are added.

Everything is vectorised with numpy: a million records take a few seconds.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..params import check_positive_int

#: Network name used for statistics over all tasks of a platform.
ALL = "all"

#: Columns of :func:`evaluate`'s table.
EVALUATION_COLUMNS = ("platform", "network", "metric", "value", "low", "high", "tasks")


# --- groups ---------------------------------------------------------------------------------------


def _check_scores(records: pd.DataFrame, scores: np.ndarray | pd.Series | Sequence[float]) -> np.ndarray:
    """``scores`` as a float array, checked to be aligned with ``records`` and free of NaN."""
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or len(values) != len(records):
        raise ValueError(f"scores must be one number per record: got shape {values.shape} for {len(records)} records")
    if len(records) == 0:
        raise ValueError("records are empty: nothing to evaluate")
    if np.isnan(values).any():
        raise ValueError(f"scores contain {int(np.isnan(values).sum())} NaN value(s)")
    return values


def _groups(records: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Group id per row (groups in sorted (task, platform) order) and the table of groups.

    The table has columns ``task``, ``platform``, ``programs`` (rows of the group) and ``start`` (position
    of the group's first row once rows are sorted by group).
    """
    group_id = records.groupby(["task", "platform"], sort=True).ngroup().to_numpy(dtype=np.int64)
    _, first_row, programs = np.unique(group_id, return_index=True, return_counts=True)
    table = pd.DataFrame(
        {
            "task": records["task"].to_numpy()[first_row],
            "platform": records["platform"].to_numpy()[first_row],
            "programs": programs.astype(np.int64),
            "start": np.concatenate([[0], np.cumsum(programs)[:-1]]).astype(np.int64),
        }
    )
    return group_id, table


def _dense_rank(values: np.ndarray) -> np.ndarray:
    """0 for the smallest distinct value, 1 for the next, ...; equal values get equal ranks."""
    return np.unique(values, return_inverse=True)[1].astype(np.int64).ravel()


# --- pairwise comparison accuracy ---------------------------------------------------------------------


def _tied_pairs(group_id: np.ndarray, *codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the number of pairs of rows equal in every code; rows sorted so equal rows are adjacent."""
    n = len(group_id)
    new_run = np.ones(n, dtype=bool)
    same = group_id[1:] == group_id[:-1]
    for code in codes:
        same &= code[1:] == code[:-1]
    new_run[1:] = ~same
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, n))
    pairs = lengths * (lengths - 1) // 2
    return np.rint(np.bincount(group_id[starts], weights=pairs, minlength=n_groups)).astype(np.int64)


def _inversions(group_id: np.ndarray, position: np.ndarray, rank: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the number of pairs at positions i < j within the group with ``rank[i] > rank[j]``.

    Rows are sorted by group and ``position`` is a row's place within its group. Like a bottom-up merge
    sort, level by level: at width w, every element of the right half of a block of 2w positions counts
    the larger elements of the left half, for all blocks of all groups at once. Every pair is counted at
    exactly one level (the highest bit in which the two positions differ): O(n log^2 n) in all.
    """
    inversions = np.zeros(n_groups, dtype=np.int64)
    if len(rank) == 0:
        return inversions
    span = int(rank.max()) + 1
    longest = int(position.max()) + 1
    width = 1
    while width < longest:
        blocks_per_group = -(-longest // (2 * width))
        block = group_id * blocks_per_group + position // (2 * width)
        right = (position // width) % 2 == 1
        left_keys = np.sort(block[~right] * span + rank[~right])
        right_block, right_rank = block[right], rank[right]
        larger = np.searchsorted(left_keys, right_block * span + span, side="left") - np.searchsorted(
            left_keys, right_block * span + right_rank, side="right"
        )
        inversions += np.rint(np.bincount(group_id[right], weights=larger, minlength=n_groups)).astype(np.int64)
        width *= 2
    return inversions


def pairwise_accuracy_per_group(records: pd.DataFrame, scores: np.ndarray | pd.Series) -> pd.DataFrame:
    """PCA of every (task, platform) group.

    Parameters
    ----------
    records : the records table (needs ``task``, ``platform``, ``label``).
    scores : one score per record row, higher = predicted faster.

    Returns
    -------
    DataFrame with columns ``task``, ``platform``, ``programs`` (records in the group), ``pairs`` (pairs of
    programs with different labels) and ``pca``, one row per group sorted by task and platform. A score
    tie counts 0.5; a group without a pair of different labels has PCA 0.5.

    Method: with sign(.) the sign, ``PCA = 0.5 + (C - D) / (2 pairs)``, where ``C - D = sum over pairs of
    sign(label difference) * sign(score difference)`` (concordant minus discordant pairs; pairs tied in
    score contribute 0, i.e. count 0.5). ``C - D`` comes from an inversion count and tie counts.
    """
    values = _check_scores(records, scores)
    group_id, groups = _groups(records)
    n_groups = len(groups)
    label_rank = _dense_rank(records["label"].to_numpy(dtype=np.float64))
    score_rank = _dense_rank(values)

    by_label = np.lexsort((score_rank, label_rank, group_id))
    g, lab, sco = group_id[by_label], label_rank[by_label], score_rank[by_label]
    position = np.arange(len(g)) - groups["start"].to_numpy()[g]
    label_ties = _tied_pairs(g, lab, n_groups=n_groups)
    both_ties = _tied_pairs(g, lab, sco, n_groups=n_groups)
    by_score = np.lexsort((score_rank, group_id))
    score_ties = _tied_pairs(group_id[by_score], score_rank[by_score], n_groups=n_groups)
    inversions = _inversions(g, position, sco, n_groups)

    n = groups["programs"].to_numpy()
    all_pairs = n * (n - 1) // 2
    # In label order (score ascending among equal labels), sum of sign(score_j - score_i) over i < j ...
    ordered_sum = all_pairs - score_ties - 2 * inversions
    # ... minus the pairs of equal labels and different scores, which all contribute +1 there.
    concordant_minus_discordant = ordered_sum - (label_ties - both_ties)
    pairs = all_pairs - label_ties
    pca = np.full(n_groups, 0.5)
    has_pairs = pairs > 0
    pca[has_pairs] = 0.5 + concordant_minus_discordant[has_pairs] / (2.0 * pairs[has_pairs])
    return pd.DataFrame(
        {"task": groups["task"], "platform": groups["platform"], "programs": n, "pairs": pairs, "pca": pca}
    )


def pairwise_accuracy(records: pd.DataFrame, scores: np.ndarray | pd.Series) -> float:
    """PCA over all groups: their PCAs averaged with their number of programs as weights."""
    per_group = pairwise_accuracy_per_group(records, scores)
    return float(np.average(per_group["pca"], weights=per_group["programs"]))


# --- top-k -----------------------------------------------------------------------------------------


def top_k_per_task(records: pd.DataFrame, scores: np.ndarray | pd.Series, k: int) -> pd.DataFrame:
    """Best measured latency and best latency among the k highest-scored programs, per (task, platform).

    Returns a DataFrame with columns ``task``, ``platform``, ``programs``, ``best_latency_s`` and
    ``top_k_latency_s``, one row per group sorted by task and platform. With k at least the group's size
    the two latencies agree. Failed measurements count as infinitely slow (``top_k_latency_s`` is inf when
    all k chosen programs failed); ``best_latency_s`` is NaN for a group without a successful measurement.
    """
    check_positive_int(k, "k")
    values = _check_scores(records, scores)
    group_id, groups = _groups(records)
    latency = records["latency_s"].to_numpy(dtype=np.float64, na_value=np.nan)
    latency = np.where(np.isnan(latency) | (latency <= 0), np.inf, latency)
    starts = groups["start"].to_numpy()

    by_score = np.lexsort((np.arange(len(values)), -values, group_id))
    place = np.arange(len(values)) - starts[group_id[by_score]]
    chosen = by_score[place < k]
    chosen_starts = np.concatenate([[0], np.cumsum(np.minimum(groups["programs"].to_numpy(), k))[:-1]])
    top_k_latency = np.minimum.reduceat(latency[chosen], chosen_starts)
    best = np.minimum.reduceat(latency[by_score], starts)
    return pd.DataFrame(
        {
            "task": groups["task"],
            "platform": groups["platform"],
            "programs": groups["programs"],
            "best_latency_s": np.where(np.isinf(best), np.nan, best),
            "top_k_latency_s": top_k_latency,
        }
    )


def _network_weights(tasks: pd.DataFrame, network_tasks: pd.DataFrame | None) -> pd.DataFrame:
    """Rows of ``tasks`` (task, platform, ...) once per network they occur in, with ``network`` and ``weight``.

    Every row also appears once under network :data:`ALL` with weight 1.
    """
    everything = tasks.assign(network=ALL, weight=1.0)
    if network_tasks is None or len(network_tasks) == 0:
        return everything
    links = network_tasks.groupby(["network", "task"], as_index=False)["weight"].sum()
    per_network = tasks.merge(links.astype({"weight": np.float64}), on="task", how="inner")
    return pd.concat([everything, per_network], ignore_index=True)


def _network_totals(network_tasks: pd.DataFrame | None) -> pd.Series:
    """Sum of task weights per network (its whole weight, present in the records or not)."""
    if network_tasks is None or len(network_tasks) == 0:
        return pd.Series(dtype=np.float64)
    return network_tasks.groupby("network")["weight"].sum().astype(np.float64)


def _top_k_units(
    records: pd.DataFrame, scores: np.ndarray | pd.Series, network_tasks: pd.DataFrame | None, k: int
) -> pd.DataFrame:
    """Per (network, task, platform): ``weight``, ``num = w * best latency``, ``den = w * best of top-k``."""
    per_task = top_k_per_task(records, scores, k).dropna(subset=["best_latency_s"])
    units = _network_weights(per_task, network_tasks)
    return units.assign(
        num=units["weight"] * units["best_latency_s"], den=units["weight"] * units["top_k_latency_s"]
    )


def top_k_score(
    records: pd.DataFrame, scores: np.ndarray | pd.Series, network_tasks: pd.DataFrame | None, k: int
) -> pd.DataFrame:
    """top-k of every network on every platform, plus an ``all`` row per platform.

    Parameters
    ----------
    records : the records table.
    scores : one score per record row, higher = predicted faster.
    network_tasks : ``network``, ``task``, ``weight`` (:func:`tenset_study.data.records.network_tasks`), or None
        for the ``all`` rows only.
    k : how many of the highest-scored programs of a task the model gets to measure.

    Returns
    -------
    DataFrame with columns ``network``, ``platform``, ``top_k``, ``tasks`` (the network's tasks present for
    the platform) and ``weight_covered`` (their share of the network's total weight; 1 for ``all``, whose
    tasks have weight 1 each). Networks without any task present on a platform have no row there.
    """
    units = _top_k_units(records, scores, network_tasks, k)
    table = units.groupby(["network", "platform"], sort=True).agg(
        num=("num", "sum"), den=("den", "sum"), tasks=("task", "size"), weight=("weight", "sum")
    )
    table = table.reset_index()
    totals = table["network"].map(_network_totals(network_tasks))
    table["top_k"] = table["num"] / table["den"]
    table["weight_covered"] = np.where(table["network"] == ALL, 1.0, table["weight"] / totals)
    return table[["network", "platform", "top_k", "tasks", "weight_covered"]]


# --- bootstrap and the evaluation table -------------------------------------------------------------


def bootstrap_ratio(
    numerators: np.ndarray,
    denominators: np.ndarray,
    n_boot: int = 1000,
    seed: int | Sequence[int] = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``sum(numerators) / sum(denominators)``, resampling tasks.

    ``numerators[t]`` and ``denominators[t]`` are task t's parts of the ratio (for PCA ``programs * pca``
    and ``programs``; for top-k ``w * best`` and ``w * best_of_top_k``). Tasks are drawn with replacement
    ``n_boot`` times; returns the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the
    resampled ratios, or (NaN, NaN) when ``n_boot`` is 0 or there are no tasks. Reproducible with ``seed``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    num = np.asarray(numerators, dtype=np.float64)
    den = np.asarray(denominators, dtype=np.float64)
    if n_boot == 0 or len(num) == 0:
        return (np.nan, np.nan)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(num), size=(n_boot, len(num)))
    ratios = num[draws].sum(axis=1) / den[draws].sum(axis=1)
    low, high = np.quantile(ratios, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def _row_seed(seed: int, metric: str, platform: str, network: str) -> list[int]:
    """A seed for one row's bootstrap, stable under adding or removing other rows."""
    return [int(seed), zlib.crc32(f"{metric}|{platform}|{network}".encode())]


def _ratio_rows(
    units: pd.DataFrame, metric: str, n_boot: int, seed: int, confidence: float
) -> list[dict[str, object]]:
    """One evaluation row per (network, platform) of ``units`` (columns network, platform, num, den)."""
    rows = []
    for (network, platform), part in units.groupby(["network", "platform"], sort=True):
        num, den = part["num"].to_numpy(), part["den"].to_numpy()
        low, high = bootstrap_ratio(num, den, n_boot, _row_seed(seed, metric, platform, network), confidence)
        rows.append(
            {"platform": platform, "network": network, "metric": metric, "value": num.sum() / den.sum(),
             "low": low, "high": high, "tasks": len(part)}
        )
    return rows


def evaluate(
    records: pd.DataFrame,
    scores: np.ndarray | pd.Series,
    network_tasks: pd.DataFrame | None = None,
    ks: Sequence[int] = (1, 5),
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """PCA and top-k of a model's scores, per platform and network, with bootstrap intervals over tasks.

    Parameters
    ----------
    records : the records table (typically a split's test rows).
    scores : one score per record row, higher = predicted faster.
    network_tasks : ``network``, ``task``, ``weight``; None gives only the ``all`` rows.
    ks : the k of the top-k rows (metric ``top1``, ``top5``, ...).
    n_boot : bootstrap resamples of the tasks (0: no interval, ``low`` and ``high`` NaN).
    seed : seed of the bootstrap.
    confidence : coverage of the percentile interval.

    Returns
    -------
    A tidy DataFrame with columns ``platform``, ``network``, ``metric`` (``pca``, ``top1``, ...), ``value``,
    ``low``, ``high`` and ``tasks`` (tasks the value is computed over). ``network`` is ``all`` for a
    statistic over every task of the platform. PCA rows of a network are the programs-weighted PCA of the
    network's tasks (task weights in the network do not enter PCA); top-k rows follow
    :func:`top_k_score`.
    """
    pca = pairwise_accuracy_per_group(records, scores)
    pca_units = _network_weights(pca, network_tasks)
    pca_units = pca_units.assign(num=pca_units["programs"] * pca_units["pca"], den=pca_units["programs"])
    rows = _ratio_rows(pca_units, "pca", n_boot, seed, confidence)
    for k in ks:
        rows += _ratio_rows(_top_k_units(records, scores, network_tasks, k), f"top{k}", n_boot, seed, confidence)
    table = pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS))
    metric_order = {"pca": 0, **{f"top{k}": i + 1 for i, k in enumerate(ks)}}
    table = table.assign(_metric=table["metric"].map(metric_order), _network=table["network"] != ALL)
    table = table.sort_values(["platform", "_metric", "_network", "network"], kind="stable")
    table = table.drop(columns=["_metric", "_network"])
    return table.reset_index(drop=True)
