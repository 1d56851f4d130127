"""Dataset pruning: which programs a cost model may train on when only a share of them is kept.

One interface for every strategy: :func:`select_programs` takes the records table of
:mod:`tenset_study.data.records`, a strategy name and the share of programs to keep, and returns a
:class:`PruneResult` naming the kept programs. Pruning keeps or drops whole *programs*: a kept program
keeps its measurements on every platform. Only ``candidates`` (e.g. the training programs of a split) may
be kept, so held-out test programs never are.

Every strategy keeps exactly ``target_count(fraction, n)`` of the ``n`` candidates, except where its rule
cannot (``task-cluster`` keeps whole tasks, ``clean`` never keeps unclean programs); then it keeps the
closest count it can and says so in :attr:`PruneResult.note`. Results are deterministic in ``seed``.

* ``random``: programs uniformly at random (the baseline);
* ``per-task-cap``: at most ``c`` (or ``c + 1``) programs per task, the largest cap that fits;
* ``task-cluster``: whole tasks: Ward clustering of the tasks' workload features within each
  (kind, operator class), one representative task per cluster;
* ``diversity``: within each task, greedy k-center (farthest-point) selection on program features;
* ``latency-spread``: within each task, programs at evenly spaced ranks of their latency;
* ``clean``: drop programs that failed everywhere and duplicates, then random programs.

:func:`prune_dataset` applies a strategy to a dataset folder and writes the pruned dataset, and
:func:`clean_report` counts what ``clean`` removes. The book's pruning chapter and the ``tenset-study
prune`` command call these.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Strategy name -> one line saying what it keeps (for the book and ``--help``).
DESCRIPTIONS: dict[str, str] = {
    "random": "Programs uniformly at random: the baseline.",
    "per-task-cap": "At most c (or c + 1) random programs per task, c the largest cap that fits the budget.",
    "task-cluster": "Whole tasks: one representative per cluster of similar workloads (within an operator class).",
    "diversity": "Within each task, programs far apart in feature space (greedy k-center), quota by task size.",
    "latency-spread": "Within each task, programs evenly spread over the latency ranks, quota by task size.",
    "clean": "Drops programs that failed everywhere and duplicates, then random programs down to the budget.",
}

#: Absolute tolerance (seconds) under which two latencies count as identical for ``clean``.
DUPLICATE_LATENCY_TOLERANCE = 1e-12

#: Strategies that need per-program features (``features=``), and those that need workload features.
NEEDS_PROGRAM_FEATURES = ("diversity",)
NEEDS_WORKLOAD_FEATURES = ("task-cluster",)
USES_PROGRAM_FEATURES = ("diversity", "clean")

#: Schedule tokens per program kept when pooled tokens stand in for per-store features.
POOLED_TOKEN_LENGTH = 64


# --- the result ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    """The programs a strategy keeps.

    Attributes
    ----------
    strategy : the strategy (a key of :data:`STRATEGIES`).
    fraction_requested : the share of candidates asked for.
    kept : sorted program ids kept.
    kept_fraction : ``len(kept) / candidates``.
    note : why the count differs from the request (None when it does not, or nothing needs saying).
    candidates : number of candidate programs.
    target : the count asked for, ``target_count(fraction_requested, candidates)``.
    tasks_kept, tasks_total : tasks with at least one kept program / with at least one candidate.
    seed : the seed used.
    """

    strategy: str
    fraction_requested: float
    kept: np.ndarray
    kept_fraction: float
    note: str | None = None
    candidates: int = 0
    target: int = 0
    tasks_kept: int = 0
    tasks_total: int = 0
    seed: int = 0

    def mask(self, program_ids: Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
        """A boolean array: which of ``program_ids`` are kept (e.g. ``records["program"]`` -> rows to train on)."""
        return np.isin(np.asarray(program_ids, dtype=object).astype(str), self.kept)

    def summary(self) -> str:
        """One line: programs and tasks kept, and the note."""
        line = (f"{self.strategy}: kept {len(self.kept)} of {self.candidates} programs ({self.kept_fraction:.1%}, "
                f"requested {self.fraction_requested:.1%}), {self.tasks_kept} of {self.tasks_total} tasks")
        return f"{line}; note: {self.note}" if self.note else line


@dataclass(frozen=True)
class CandidatePool:
    """The candidate programs, one row each, with what the strategies read (built by :func:`candidate_pool`).

    ``programs`` is sorted by program id and has columns ``program``, ``task``, ``kind``, ``op``,
    ``log_latency`` (mean over platforms of the log latency of successful measurements, NaN when none) and
    ``failed_everywhere``. ``latency`` is the ``[programs, platforms]`` latency matrix (NaN: failed or not
    measured; platforms in sorted order), rows in the same order. ``features`` is ``[len(programs), D]``
    or None; ``workload`` a frame of workload features indexed by task, or None.
    """

    programs: pd.DataFrame
    latency: np.ndarray
    features: np.ndarray | None = None
    workload: pd.DataFrame | None = None

    @property
    def size(self) -> int:
        return len(self.programs)


@dataclass(frozen=True)
class Selection:
    """What a strategy returns: positions into the pool's programs, and a note when the count is off."""

    positions: np.ndarray
    note: str | None = None


Strategy = Callable[[CandidatePool, int, np.random.Generator], Selection]


# --- checking the request --------------------------------------------------------------------------------


def check_fraction(fraction: float) -> float:
    """``fraction`` as a float in (0, 1]; ValueError naming the parameter otherwise."""
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}") from None
    if not 0.0 < value <= 1.0:  # also rejects NaN
        raise ValueError(f"fraction must be in (0, 1] (the share of candidate programs kept), got {fraction!r}")
    return value


def check_strategy(strategy: str) -> str:
    """``strategy`` if it is known; ValueError listing the strategies otherwise."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; strategies are {', '.join(STRATEGIES)}")
    return strategy


def target_count(fraction: float, n: int) -> int:
    """Programs to keep of ``n``: ``round(fraction * n)`` (Python's rounding), at least 1 when ``n > 0``."""
    return 0 if n == 0 else max(1, min(n, round(fraction * n)))


# --- the candidate pool -----------------------------------------------------------------------------------


def candidate_pool(records: pd.DataFrame, candidates: Sequence[str] | None = None, *,
                   features=None, workload: pd.DataFrame | None = None) -> CandidatePool:
    """One row per candidate program (see :class:`CandidatePool`), with its features aligned to it.

    ``candidates`` that are not in ``records`` raise ValueError (a split's training programs always are).
    """
    missing_columns = {"program", "task", "platform", "latency_s"} - set(records.columns)
    if missing_columns:
        raise ValueError(f"records lack column(s) {sorted(missing_columns)}; use tenset_study.data.records.load_records")
    latency = records["latency_s"].to_numpy(dtype=np.float64)
    valid = np.isfinite(latency) & (latency > 0)
    latency = np.where(valid, latency, np.nan)
    frame = pd.DataFrame({
        "program": records["program"].astype(str).to_numpy(),
        "task": records["task"].astype(str).to_numpy(),
        "kind": records["kind"].astype(str).to_numpy() if "kind" in records else "unknown",
        "op": records["op"].astype(str).to_numpy() if "op" in records else "unknown",
        "platform": records["platform"].astype(str).to_numpy(),
        "latency_s": latency,
        "log_latency": np.log(latency),
        "measured": valid,
    })
    if candidates is not None:
        wanted = pd.Index(pd.unique(np.asarray(candidates, dtype=object).astype(str)))
        unknown = wanted.difference(pd.Index(frame["program"].unique()))
        if len(unknown):
            raise ValueError(f"candidates: {len(unknown)} program id(s) are not in records, e.g. {list(unknown[:3])}")
        frame = frame[frame["program"].isin(wanted)]
    if frame.empty:
        raise ValueError("no candidate programs: records (restricted to candidates) are empty")
    programs = frame.groupby("program", sort=True).agg(
        task=("task", "first"), kind=("kind", "first"), op=("op", "first"),
        log_latency=("log_latency", "mean"), measured=("measured", "sum")).reset_index()
    programs["failed_everywhere"] = programs.pop("measured") == 0
    return CandidatePool(programs=programs, latency=latency_matrix(frame, programs["program"]),
                         features=_aligned_features(features, programs["program"]) if features is not None else None,
                         workload=_workload_frame(workload) if workload is not None else None)


def latency_matrix(frame: pd.DataFrame, program_ids: pd.Series) -> np.ndarray:
    """``[programs, platforms]`` latencies (NaN: failed or not measured), rows in ``program_ids`` order."""
    rows = pd.Index(program_ids).get_indexer(frame["program"])
    platform, names = pd.factorize(frame["platform"], sort=True)
    matrix = np.full((len(program_ids), len(names)), np.nan)
    matrix[rows, platform] = frame["latency_s"].to_numpy()
    return matrix


def _aligned_features(features, program_ids: pd.Series) -> np.ndarray:
    """Rows of ``features`` (a frame indexed by program id, or ``(ids, matrix)``) for ``program_ids``."""
    if isinstance(features, pd.DataFrame):
        ids, matrix = features.index.to_numpy(), features.to_numpy()
    elif isinstance(features, tuple) and len(features) == 2:
        ids, matrix = np.asarray(features[0]), np.asarray(features[1])
    else:
        raise ValueError("features must be a DataFrame indexed by program id or a tuple (program_ids, matrix)")
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or len(matrix) != len(ids):
        raise ValueError(f"features: need a 2-D matrix with one row per program id, got shape {matrix.shape} "
                         f"for {len(ids)} ids")
    index = pd.Index(np.asarray(ids, dtype=object).astype(str))
    rows = index.get_indexer(program_ids)
    if (rows < 0).any():
        lacking = program_ids[rows < 0]
        raise ValueError(f"features: {len(lacking)} candidate program(s) have no row, e.g. {list(lacking[:3])}")
    return matrix[rows]


def _workload_frame(workload: pd.DataFrame) -> pd.DataFrame:
    """Workload features indexed by task (accepts a ``task`` column), numeric columns only."""
    frame = workload.set_index("task") if "task" in workload.columns else workload
    frame.index = frame.index.astype(str)
    return frame.select_dtypes("number").astype(np.float64)


# --- shared helpers ----------------------------------------------------------------------------------------


def task_sizes(pool: CandidatePool) -> pd.Series:
    """Candidate programs per task, indexed by task id (sorted)."""
    return pool.programs.groupby("task", sort=True).size()


def proportional_quotas(sizes: np.ndarray, total: int, priority: np.ndarray | None = None) -> np.ndarray:
    """Integer quotas proportional to ``sizes`` summing to ``total`` (largest remainder method).

    Equal remainders go first to the lowest ``priority`` (default: the position). Every entry gets at
    least 1 when ``total >= len(sizes)``, taken from the most over-served entries; no entry exceeds its size.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if total >= sizes.sum():
        return sizes.copy()
    ideal = total * sizes / sizes.sum()
    quotas = np.floor(ideal).astype(np.int64)
    priority = np.arange(len(sizes)) if priority is None else np.asarray(priority)
    order = np.lexsort((priority, -(ideal - quotas)))
    quotas[order[: total - quotas.sum()]] += 1
    if total >= len(sizes):
        for empty in np.flatnonzero(quotas == 0):
            surplus = np.where(quotas >= 2, quotas - ideal, -np.inf)
            quotas[int(np.argmax(surplus))] -= 1
            quotas[empty] = 1
    return np.minimum(quotas, sizes)


def random_within_tasks(pool: CandidatePool, quotas: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``quotas[task]`` random programs of every task, sorted."""
    frame = pd.DataFrame({"task": pool.programs["task"], "key": rng.random(pool.size)})
    frame = frame.sort_values(["task", "key"], kind="stable")
    rank = frame.groupby("task", sort=False).cumcount().to_numpy()
    quota = frame["task"].map(quotas).fillna(0).to_numpy()
    return np.sort(frame.index.to_numpy()[rank < quota])


def _tie_break(values: np.ndarray, priority: np.ndarray, largest: bool) -> int:
    """Index of the largest (or smallest) value; among ties the one with the lowest ``priority``."""
    best = values.max() if largest else values.min()
    ties = np.flatnonzero(values == best)
    return int(ties[np.argmin(priority[ties])])


# --- strategies --------------------------------------------------------------------------------------------


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


def standardized(matrix: np.ndarray) -> np.ndarray:
    """Columns scaled to mean 0 and standard deviation 1 (constant columns, up to rounding, become 0)."""
    mean = matrix.mean(axis=0)
    std = matrix.std(axis=0)
    varies = std > 1e-9 * np.maximum(1.0, np.abs(mean))
    return np.where(varies, (matrix - mean) / np.where(varies, std, 1.0), 0.0)


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


def duplicate_flags(pool: CandidatePool) -> np.ndarray:
    """Programs that duplicate an earlier one (by id) of their task: identical feature rows when the pool
    has features, else latencies equal within :data:`DUPLICATE_LATENCY_TOLERANCE` on every platform
    (failed on the same platforms). Programs that failed everywhere, or whose features are NaN, are never
    counted as duplicates."""
    programs = pool.programs
    duplicate = np.zeros(len(programs), bool)
    if pool.features is not None:
        values = pool.features
        usable = np.isfinite(values).all(axis=1)
    else:
        values = pool.latency
        usable = ~programs["failed_everywhere"].to_numpy()
    for positions in programs.groupby("task", sort=True).indices.values():
        positions = positions[usable[positions]]
        if len(positions) < 2:
            continue
        rows = values[positions]
        if pool.features is not None:
            _, first = np.unique(rows, axis=0, return_index=True)
            duplicate[np.setdiff1d(positions, positions[first])] = True
            continue
        filled = np.where(np.isnan(rows), -1.0, rows)
        order = np.lexsort(filled.T[::-1])
        same = (np.abs(np.diff(filled[order], axis=0)) <= DUPLICATE_LATENCY_TOLERANCE).all(axis=1)
        duplicate[positions[order[1:][same]]] = True
    return duplicate


def select_clean(pool: CandidatePool, target: int, rng: np.random.Generator) -> Selection:
    """Drop failed-everywhere programs and duplicates, then random programs down to ``target``."""
    clean = ~pool.programs["failed_everywhere"].to_numpy() & ~duplicate_flags(pool)
    positions = np.flatnonzero(clean)
    if len(positions) > target:
        return Selection(np.sort(rng.choice(positions, size=target, replace=False)))
    note = None
    if len(positions) < target:
        note = (f"only {len(positions)} of {pool.size} programs are clean ({pool.size - len(positions)} failed "
                f"everywhere or duplicates), fewer than the requested {target}: all clean programs kept")
    return Selection(positions, note)


#: Strategy name -> ``(pool, target, rng) -> Selection``.
STRATEGIES: dict[str, Strategy] = {
    "random": select_random,
    "per-task-cap": select_per_task_cap,
    "task-cluster": select_task_cluster,
    "diversity": select_diversity,
    "latency-spread": select_latency_spread,
    "clean": select_clean,
}


# --- the interface -----------------------------------------------------------------------------------------


def select_programs(records: pd.DataFrame, strategy: str, fraction: float, seed: int = 0, *, features=None,
                    workload: pd.DataFrame | None = None, candidates: Sequence[str] | None = None) -> PruneResult:
    """The programs a pruning strategy keeps.

    Parameters
    ----------
    records : the records table (:func:`tenset_study.data.records.load_records`, ``keep_failed=True`` so that
        failed programs are seen).
    strategy : a key of :data:`STRATEGIES`.
    fraction : share of the candidate programs to keep, in (0, 1].
    seed : seed of every random choice.
    features : per-program feature vectors, a DataFrame indexed by program id or a tuple ``(ids, matrix)``;
        needed by ``diversity``, used by ``clean`` (duplicates). NaN rows: features that failed.
    workload : workload features indexed by task (:func:`tenset_study.features.context.workload_features`);
        needed by ``task-cluster``.
    candidates : program ids that may be kept (default: every program of ``records``).

    Returns
    -------
    :class:`PruneResult`. Raises ValueError for a bad fraction, an unknown strategy or missing features.
    """
    check_strategy(strategy)
    fraction = check_fraction(fraction)
    if strategy in NEEDS_PROGRAM_FEATURES and features is None:
        raise ValueError(f"strategy {strategy!r} needs features= (per-program feature vectors: a DataFrame indexed "
                         "by program id or a tuple (ids, matrix))")
    if strategy in NEEDS_WORKLOAD_FEATURES and workload is None:
        raise ValueError(f"strategy {strategy!r} needs workload= (tenset_study.features.context.workload_features of the "
                         "tasks table)")
    pool = candidate_pool(records, candidates,
                          features=features if strategy in USES_PROGRAM_FEATURES else None,
                          workload=workload if strategy in NEEDS_WORKLOAD_FEATURES else None)
    target = target_count(fraction, pool.size)
    selection = STRATEGIES[strategy](pool, target, np.random.default_rng(seed))
    kept = np.sort(pool.programs["program"].to_numpy(dtype=object)[selection.positions]).astype(str)
    return PruneResult(
        strategy=strategy, fraction_requested=fraction, kept=kept, kept_fraction=len(kept) / pool.size,
        note=selection.note, candidates=pool.size, target=target,
        tasks_kept=pool.programs["task"].iloc[selection.positions].nunique(),
        tasks_total=pool.programs["task"].nunique(), seed=seed,
    )


def clean_report(records: pd.DataFrame, features=None) -> pd.DataFrame:
    """What ``clean`` removes, per operator class and in total (row ``all``).

    Columns: ``programs``, ``failed_everywhere``, ``duplicates`` (as :func:`duplicate_flags` defines them;
    by feature rows when ``features`` is given), ``kept`` (programs left before any random reduction).
    """
    pool = candidate_pool(records, features=features)
    failed = pool.programs["failed_everywhere"].to_numpy()
    frame = pd.DataFrame({"op": pool.programs["op"], "programs": 1, "failed_everywhere": failed.astype(int),
                          "duplicates": duplicate_flags(pool).astype(int)})
    frame["kept"] = frame["programs"] - frame["failed_everywhere"] - frame["duplicates"]
    report = frame.groupby("op", sort=True).sum()
    report.loc["all"] = report.sum()
    return report


# --- datasets ----------------------------------------------------------------------------------------------


def program_features_for(ds, program_ids: np.ndarray, workers: int | None = None, progress: bool = False
                         ) -> tuple[tuple[np.ndarray, np.ndarray], str]:
    """Per-program features of a dataset's programs and their name.

    Pooled per-store features (:func:`tenset_study.features.perstore.program_perstore`, cached) for MetaSchedule
    programs; TVM 0.27 has no per-store features for Ansor programs (TenSet imports), so for those the
    schedule tokens pooled over steps stand in (:func:`pooled_token_features`).
    """
    from ..features import perstore

    try:
        ids, matrix = perstore.program_perstore(ds, workers=workers, program_ids=program_ids, progress=progress)
        return (ids, matrix), f"perstore-v{perstore.PERSTORE_VERSION}"
    except perstore.PerStoreError:
        from ..features import tokens

        return pooled_token_features(ds, program_ids), f"pooled-tokens-v{tokens.TOKENIZER_VERSION}"


def pooled_token_features(ds, program_ids: np.ndarray, max_len: int = POOLED_TOKEN_LENGTH,
                          batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Schedule tokens pooled over steps (:func:`tenset_study.models.inputs.pooled_tokens`) of ``program_ids``,
    streamed through the programs table batch by batch (no ``[N, max_len, width]`` array is ever whole)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..models.inputs import pooled_tokens
    from ..features.tokens import encode_programs

    wanted = pa.array(np.asarray(program_ids, dtype=object).astype(str))
    ids, blocks = [], []
    for batch in ds.iter_batches("programs", columns=["program", "encoding", "trace"], batch_size=batch_size):
        batch = batch.filter(pc.is_in(batch.column("program"), value_set=wanted))
        if batch.num_rows:
            frame = batch.to_pandas()
            blocks.append(pooled_tokens(*encode_programs(frame, max_len)))
            ids.append(frame["program"].to_numpy(dtype=object))
    if not blocks:
        return np.zeros(0, dtype=object), np.zeros((0, 0), np.float32)
    return np.concatenate(ids), np.concatenate(blocks)


def prune_dataset(src: str | os.PathLike, dest: str | os.PathLike, strategy: str, fraction: float, seed: int = 0,
                  platforms: Sequence[str] | None = None, overwrite: bool = False, *, workers: int | None = None,
                  progress: bool = False) -> PruneResult:
    """Prune the dataset at ``src`` and write the result, in the same format, to ``dest``.

    Parameters
    ----------
    src : a dataset folder (:class:`tenset_study.data.dataset.Dataset`).
    dest : the folder to write; refused when it is not empty, unless ``overwrite`` (and then only when it
        holds a dataset or nothing).
    strategy, fraction, seed : as in :func:`select_programs`; the candidates are every program measured on
        the considered platforms (programs without a measurement there are dropped, and the note says so).
    platforms : the platforms whose measurements the strategy reads (default: all). The kept programs
        keep their measurements on every platform.
    workers, progress : processes and progress bar for per-store features (``diversity``, ``clean``).

    The new dataset has the same platforms and networks tables, the kept programs and their measurements,
    and the tasks (with their network weights) that still have programs. It is written in a temporary
    folder next to ``dest`` and renamed into place; its ``dataset.json`` records the provenance.
    """
    from ..features import context
    from ..data.dataset import Dataset
    from ..data.records import load_records

    check_strategy(strategy)
    fraction = check_fraction(fraction)
    source = Dataset.open(src)
    dest = Path(dest)
    _check_destination(source.root, dest, overwrite)
    records = load_records(source, platforms=list(platforms) if platforms else None, keep_failed=True)
    features, feature_name, workload = None, None, None
    if strategy in USES_PROGRAM_FEATURES:
        features, feature_name = program_features_for(source, np.sort(records["program"].unique()), workers, progress)
    if strategy in NEEDS_WORKLOAD_FEATURES:
        workload = context.workload_features(source.to_pandas("tasks"))
        feature_name = f"workload-v{context.CONTEXT_VERSION}"
    result = select_programs(records, strategy, fraction, seed, features=features, workload=workload)
    unmeasured = source.count("programs") - result.candidates
    if unmeasured > 0:
        dropped = f"{unmeasured} program(s) without measurements on the considered platforms were dropped"
        result = _with_note(result, dropped)
    provenance = {
        "pruned_from": str(source.root.resolve()), "strategy": strategy, "fraction": fraction, "seed": seed,
        "platforms": list(platforms) if platforms else None, "features": feature_name,
        "candidates": result.candidates, "kept_programs": len(result.kept), "kept_fraction": result.kept_fraction,
        "tasks_kept": result.tasks_kept, "tasks_total": result.tasks_total, "note": result.note,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "source_provenance": source.meta.get("provenance"),
    }
    kept_tasks = np.sort(records.loc[records["program"].isin(result.kept), "task"].unique())
    _write_atomically(dest, overwrite, lambda tmp: _write_pruned(source, tmp, result.kept, kept_tasks, provenance))
    return result


def _with_note(result: PruneResult, text: str) -> PruneResult:
    from dataclasses import replace

    return replace(result, note=f"{result.note}; {text}" if result.note else text)


def _check_destination(src: Path, dest: Path, overwrite: bool) -> None:
    """Refuse a destination that is the source, inside it or holding it, or that holds other files."""
    src, target = src.resolve(), dest.resolve()
    if target == src or src in target.parents or target in src.parents:
        raise ValueError(f"dest {dest} is, contains or lies inside the source dataset {src}")
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"dest {dest} exists and is not a folder")
    if dest.exists() and any(dest.iterdir()):
        if not overwrite:
            raise ValueError(f"dest {dest} is not empty; pass --overwrite (overwrite=True) to replace it")
        if not (dest / "dataset.json").exists():
            raise ValueError(f"dest {dest} is not empty and holds no dataset; refusing to delete it")


def _write_atomically(dest: Path, overwrite: bool, write: Callable[[Path], None]) -> None:
    """Write into a hidden sibling of ``dest``, then swap it into place (the old ``dest`` removed after)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
    try:
        write(tmp)
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _write_pruned(source, root: Path, kept: np.ndarray, kept_tasks: np.ndarray, provenance: dict) -> None:
    """The pruned tables, table by table; programs and measurements streamed batch by batch."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..data.dataset import Dataset, write_json_atomic

    description = (f"{provenance['strategy']} pruning (fraction {provenance['fraction']}, seed {provenance['seed']}) "
                   f"of {provenance['pruned_from']}")
    original = source.meta.get("description")
    ds = Dataset.create(root, description=f"{description}: {original}" if original else description,
                        exist_ok=False)
    for table in ("platforms", "networks"):
        ds.append(table, source.read(table))
    tasks = pa.array(list(kept_tasks), pa.string())
    for table in ("tasks", "network_tasks"):
        data = source.read(table)
        ds.append(table, data.filter(pc.is_in(data.column("task"), value_set=tasks)))
    programs = pa.array(list(kept), pa.string())
    for table, batch_size in (("programs", 8192), ("measurements", 65536)):
        _copy_filtered(source, ds, table, programs, batch_size)
    meta = ds.meta
    meta["provenance"] = provenance
    write_json_atomic(meta, root / "dataset.json")


def _copy_filtered(source, ds, table: str, programs, batch_size: int, rows_per_part: int = 500_000) -> None:
    """Copy the rows of ``table`` whose program is kept, in parts of about ``rows_per_part`` rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pending, rows = [], 0
    for batch in source.iter_batches(table, batch_size=batch_size):
        batch = batch.filter(pc.is_in(batch.column("program"), value_set=programs))
        if batch.num_rows:
            pending.append(batch)
            rows += batch.num_rows
        if rows >= rows_per_part:
            ds.append(table, pa.Table.from_batches(pending))
            pending, rows = [], 0
    if pending:
        ds.append(table, pa.Table.from_batches(pending))
