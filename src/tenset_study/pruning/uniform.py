"""Random pruning strategies: ``random`` (programs uniformly at random, the baseline) and ``per-task-cap``
(at most ``c`` or ``c + 1`` random programs per task, the largest cap that fits the budget)."""

from __future__ import annotations

import numpy as np

from .pool import CandidatePool, Selection, random_within_tasks, task_sizes


def select_random(pool: CandidatePool, target: int, rng: np.random.Generator) -> Selection:
    """``target`` programs uniformly at random."""
    return Selection(np.sort(rng.choice(pool.size, size=target, replace=False)))


def cap_per_task(sizes: np.ndarray, target: int) -> int:
    """The largest cap ``c`` with ``sum(min(size, c)) <= target``."""
    low, high = 0, int(sizes.max())
    while low < high:
        mid = (low + high + 1) // 2
        if np.minimum(sizes, mid).sum() <= target:
            low = mid
        else:
            high = mid - 1
    return low


def select_per_task_cap(pool: CandidatePool, target: int, rng: np.random.Generator) -> Selection:
    """At most ``c`` random programs per task, then one more in randomly chosen tasks above the cap."""
    sizes = task_sizes(pool)
    cap = cap_per_task(sizes.to_numpy(), target)
    quotas = np.minimum(sizes, cap)
    above = np.flatnonzero(sizes.to_numpy() > cap)
    extra = target - int(quotas.sum())
    quotas.iloc[rng.choice(above, size=extra, replace=False)] += 1
    return Selection(random_within_tasks(pool, quotas, rng))
