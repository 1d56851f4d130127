"""One interface for every pruning strategy: :func:`select_programs` takes the records table, a strategy name
(a key of :data:`STRATEGIES`) and the share of programs to keep, and returns a :class:`PruneResult` naming
the kept programs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..params import check_choice, check_share
from .clean import select_clean
from .clusters import select_task_cluster
from .pool import Strategy, candidate_pool, target_count
from .spread import select_diversity, select_latency_spread
from .uniform import select_per_task_cap, select_random

#: Strategy name -> one line saying what it keeps (for the book and ``--help``).
DESCRIPTIONS: dict[str, str] = {
    "random": "Programs uniformly at random: the baseline.",
    "per-task-cap": "At most c (or c + 1) random programs per task, c the largest cap that fits the budget.",
    "task-cluster": "Whole tasks: one representative per cluster of similar workloads (within an operator class).",
    "diversity": "Within each task, programs far apart in feature space (greedy k-center), quota by task size.",
    "latency-spread": "Within each task, programs evenly spread over the latency ranks, quota by task size.",
    "clean": "Drops programs that failed everywhere and duplicates, then random programs down to the budget.",
}

#: Strategies that need per-program features (``features=``), and those that need workload features.
NEEDS_PROGRAM_FEATURES = ("diversity",)
NEEDS_WORKLOAD_FEATURES = ("task-cluster",)
USES_PROGRAM_FEATURES = ("diversity", "clean")

#: Strategy name -> ``(pool, target, rng) -> Selection``.
STRATEGIES: dict[str, Strategy] = {
    "random": select_random,
    "per-task-cap": select_per_task_cap,
    "task-cluster": select_task_cluster,
    "diversity": select_diversity,
    "latency-spread": select_latency_spread,
    "clean": select_clean,
}


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


def check_fraction(fraction: float, parameter: str = "fraction") -> float:
    """``fraction`` as a float in (0, 1]; a ParameterError (a ValueError) naming the parameter otherwise."""
    return check_share(fraction, parameter, hint="the share of candidate programs kept")


def check_strategy(strategy: str, parameter: str = "strategy") -> str:
    """``strategy`` if it is known; a ParameterError (a ValueError) listing the strategies otherwise."""
    return check_choice(strategy, STRATEGIES, parameter, "strategy", "strategies")


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
        raise ValueError(f"strategy {strategy!r} needs workload= (tenset_study.features.context.workload_features "
                         "of the tasks table)")
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


def strategy_table(names: Sequence[str] | None = None) -> pd.DataFrame:
    """What each named strategy keeps (default: every strategy), one row per strategy (index: strategy)."""
    names = list(STRATEGIES) if names is None else [check_strategy(name, "strategies") for name in names]
    return pd.DataFrame({"keeps": DESCRIPTIONS}).loc[names]
