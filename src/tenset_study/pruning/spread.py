"""Pruning strategies that spread the kept programs within each task, with quotas by task size:
``diversity`` (greedy k-center on program features) and ``latency-spread`` (evenly spaced latency ranks)."""

from __future__ import annotations

import numpy as np

from .pool import CandidatePool, Selection, proportional_quotas, standardized, task_sizes


def _tie_break(values: np.ndarray, priority: np.ndarray, largest: bool) -> int:
    """Index of the largest (or smallest) value; among ties the one with the lowest ``priority``."""
    best = values.max() if largest else values.min()
    ties = np.flatnonzero(values == best)
    return int(ties[np.argmin(priority[ties])])


def k_center(points: np.ndarray, k: int, priority: np.ndarray) -> np.ndarray:
    """Greedy farthest-point selection of ``k`` rows of ``points`` (all finite), first the row nearest the mean.

    Ties (equal distances) go to the lowest ``priority``. Returns row positions in selection order.
    """
    points = standardized(points)
    points = points[:, np.abs(points).sum(axis=0) > 0]
    first = _tie_break(((points - points.mean(axis=0)) ** 2).sum(axis=1), priority, largest=False)
    chosen = [first]
    nearest = ((points - points[first]) ** 2).sum(axis=1)
    nearest[first] = -np.inf
    for _ in range(1, min(k, len(points))):
        pick = _tie_break(nearest, priority, largest=True)
        chosen.append(pick)
        nearest = np.minimum(nearest, ((points - points[pick]) ** 2).sum(axis=1))
        nearest[chosen] = -np.inf
    return np.asarray(chosen, dtype=np.int64)


def select_diversity(pool: CandidatePool, target: int, rng: np.random.Generator) -> Selection:
    """Per task, greedy k-center on standardized features; programs with NaN features come last.

    Quotas follow task size (:func:`proportional_quotas`, equal remainders in a random task order).
    """
    sizes = task_sizes(pool)
    quotas = dict(zip(sizes.index, proportional_quotas(sizes.to_numpy(), target, rng.permutation(len(sizes)))))
    priority = rng.permutation(pool.size)
    finite = np.isfinite(pool.features).all(axis=1)
    kept = []
    for task, positions in pool.programs.groupby("task", sort=True).indices.items():
        quota = quotas[task]
        if quota == 0:
            continue
        good, bad = positions[finite[positions]], positions[~finite[positions]]
        if len(good):
            kept.append(good[k_center(pool.features[good], quota, priority[good])])
        if quota > len(good):
            kept.append(bad[np.argsort(priority[bad])[: quota - len(good)]])
    return Selection(np.sort(np.concatenate(kept)))


def spread_ranks(m: int, k: int) -> np.ndarray:
    """``k`` distinct ranks of ``0..m-1`` evenly spaced from first to last (``k <= m``; rounding half up)."""
    return np.unique(np.floor(np.linspace(0, m - 1, k) + 0.5).astype(np.int64))


def select_latency_spread(pool: CandidatePool, target: int, rng: np.random.Generator) -> Selection:
    """Per task, programs at evenly spaced ranks of mean log latency; failed programs only to fill the quota."""
    sizes = task_sizes(pool)
    quotas = dict(zip(sizes.index, proportional_quotas(sizes.to_numpy(), target, rng.permutation(len(sizes)))))
    priority = rng.permutation(pool.size)
    log_latency = pool.programs["log_latency"].to_numpy()
    kept = []
    for task, positions in pool.programs.groupby("task", sort=True).indices.items():
        quota = quotas[task]
        measured = positions[np.isfinite(log_latency[positions])]
        failed = positions[~np.isfinite(log_latency[positions])]
        measured = measured[np.lexsort((measured, log_latency[measured]))]  # ties: program id order
        if quota <= len(measured):
            kept.append(measured[spread_ranks(len(measured), quota)])
        else:
            kept.append(measured)
            kept.append(failed[np.argsort(priority[failed])[: quota - len(measured)]])
    return Selection(np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64))
