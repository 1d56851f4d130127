"""The candidate pool every pruning strategy reads, and the helpers the strategies share.

:func:`candidate_pool` turns the records table into one row per candidate program (:class:`CandidatePool`:
task, kind, operator class, mean log latency, failed everywhere; the latency matrix over platforms; the
program and workload features aligned to it). A strategy is a function ``(pool, target, rng) ->``
:class:`Selection`; :func:`target_count` says how many programs ``target`` is, :func:`proportional_quotas`
and :func:`random_within_tasks` share the budget between tasks, :func:`standardized` scales features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


# --- the pool -------------------------------------------------------------------------------------------------


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


def target_count(fraction: float, n: int) -> int:
    """Programs to keep of ``n``: ``round(fraction * n)`` (Python's rounding), at least 1 when ``n > 0``."""
    return 0 if n == 0 else max(1, min(n, round(fraction * n)))


def candidate_pool(records: pd.DataFrame, candidates: Sequence[str] | None = None, *,
                   features=None, workload: pd.DataFrame | None = None) -> CandidatePool:
    """One row per candidate program (see :class:`CandidatePool`), with its features aligned to it.

    ``candidates`` that are not in ``records`` raise ValueError (a split's training programs always are).
    """
    missing_columns = {"program", "task", "platform", "latency_s"} - set(records.columns)
    if missing_columns:
        raise ValueError(f"records lack column(s) {sorted(missing_columns)}; "
                         "use tenset_study.data.records.load_records")
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


def standardized(matrix: np.ndarray) -> np.ndarray:
    """Columns scaled to mean 0 and standard deviation 1 (constant columns, up to rounding, become 0)."""
    mean = matrix.mean(axis=0)
    std = matrix.std(axis=0)
    varies = std > 1e-9 * np.maximum(1.0, np.abs(mean))
    return np.where(varies, (matrix - mean) / np.where(varies, std, 1.0), 0.0)
