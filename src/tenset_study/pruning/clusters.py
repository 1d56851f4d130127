"""The ``task-cluster`` pruning strategy: whole tasks, one representative per Ward cluster of the tasks'
workload features within each (kind, operator class)."""

from __future__ import annotations

import numpy as np

from .pool import CandidatePool, Selection, standardized


def ward_merges(points: np.ndarray) -> np.ndarray:
    """SciPy's Ward linkage matrix of ``points`` (``[n - 1, 4]``; empty for fewer than 2 points)."""
    if len(points) < 2:
        return np.zeros((0, 4))
    from scipy.cluster.hierarchy import linkage

    return linkage(points, method="ward")


def labels_after_merges(merges: np.ndarray, n: int, count: int) -> np.ndarray:
    """Cluster label of each of ``n`` points after the first ``count`` merges of a linkage matrix."""
    parent = np.arange(2 * n - 1)
    for step in range(count):
        a, b = int(merges[step, 0]), int(merges[step, 1])
        parent[a] = parent[b] = n + step
    labels = np.arange(n)
    for _ in range(count):  # follow parents up; count bounds the depth
        moved = parent[labels]
        if np.array_equal(moved, labels):
            break
        labels = moved
    return labels


def representatives(points: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per cluster, the position of the point nearest its centroid (ties: the first position), sorted."""
    _, cluster = np.unique(labels, return_inverse=True)
    sums = np.zeros((cluster.max() + 1, points.shape[1]))
    np.add.at(sums, cluster, points)
    centroids = sums / np.bincount(cluster)[:, None]
    distance = ((points - centroids[cluster]) ** 2).sum(axis=1)
    order = np.lexsort((np.arange(len(points)), distance, cluster))
    first = np.r_[True, cluster[order][1:] != cluster[order][:-1]]
    return np.sort(order[first])


def select_task_cluster(pool: CandidatePool, target: int, rng: np.random.Generator) -> Selection:
    """Whole tasks: Ward clusters of workload features within each (kind, op); one task per cluster.

    The number of clusters grows from one per (kind, op) group until the kept tasks hold ``target``
    programs; of the counts seen on the way, the one closest to the target is kept (ties: fewer
    clusters). Merges happen in order of Ward distance across all groups, never across groups.
    No randomness: ``rng`` is unused.
    """
    tasks = pool.programs.groupby("task", sort=True).agg(kind=("kind", "first"), op=("op", "first"),
                                                        programs=("program", "size"))
    missing = tasks.index.difference(pool.workload.index)
    if len(missing):
        raise ValueError(f"workload: {len(missing)} task(s) have no workload features, e.g. {list(missing[:3])}")
    columns = [c for c in pool.workload.columns if not c.startswith("op_")]
    points = standardized(np.nan_to_num(pool.workload.loc[tasks.index, columns].to_numpy()))
    ids = tasks.index.to_numpy()
    groups = list(tasks.groupby(["kind", "op"], sort=True).indices.values())
    merges = [ward_merges(points[positions]) for positions in groups]
    order = sorted((m[i, 2], g, i) for g, m in enumerate(merges) for i in range(len(m)))
    # Kept tasks of each group after its first d merges, computed when first needed.
    cache: dict[tuple[int, int], np.ndarray] = {}

    def kept_of(g: int, d: int) -> np.ndarray:
        if (g, d) not in cache:
            positions = groups[g]
            labels = labels_after_merges(merges[g], len(positions), d)
            cache[(g, d)] = positions[representatives(points[positions], labels)]
        return cache[(g, d)]

    sizes = tasks["programs"].to_numpy()
    best = None
    done = [len(m) for m in merges]  # every merge within groups done: one cluster per group
    for clusters in range(len(groups), len(tasks) + 1):
        if clusters > len(groups):  # one more cluster: undo the highest merge still done
            done[order[len(tasks) - clusters][1]] -= 1
        kept = np.concatenate([kept_of(g, d) for g, d in enumerate(done)])
        count = int(sizes[kept].sum())
        if best is None or abs(count - target) < abs(best[0] - target):
            best = (count, kept, clusters)
        if count >= target:
            break
    count, kept, clusters = best
    positions = np.flatnonzero(pool.programs["task"].isin(ids[kept]).to_numpy())
    note = None
    if count != target:
        note = (f"task-level pruning keeps whole tasks: {clusters} task(s) hold {count} programs, the closest "
                f"achievable to the requested {target} ({count / pool.size:.1%} of {pool.size})")
    return Selection(positions, note)
