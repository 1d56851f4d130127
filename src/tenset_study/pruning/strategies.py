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

The code lives in one module per part, re-exported here: :mod:`~tenset_study.pruning.pool` (the candidate pool
and shared helpers), :mod:`~tenset_study.pruning.uniform` (``random``, ``per-task-cap``),
:mod:`~tenset_study.pruning.clusters` (``task-cluster``), :mod:`~tenset_study.pruning.spread` (``diversity``,
``latency-spread``), :mod:`~tenset_study.pruning.clean` (``clean``), :mod:`~tenset_study.pruning.select`
(:func:`select_programs`, :data:`STRATEGIES`) and :mod:`~tenset_study.pruning.write` (:func:`prune_dataset`).
"""

from __future__ import annotations

from .clean import DUPLICATE_LATENCY_TOLERANCE, clean_report, duplicate_flags, select_clean
from .clusters import labels_after_merges, representatives, select_task_cluster, ward_merges
from .pool import (CandidatePool, Selection, Strategy, candidate_pool, latency_matrix, proportional_quotas,
                   random_within_tasks, standardized, target_count, task_sizes)
from .select import (DESCRIPTIONS, NEEDS_PROGRAM_FEATURES, NEEDS_WORKLOAD_FEATURES, STRATEGIES, USES_PROGRAM_FEATURES,
                     PruneResult, check_fraction, check_strategy, select_programs, strategy_table)
from .spread import k_center, select_diversity, select_latency_spread, spread_ranks
from .uniform import cap_per_task, select_per_task_cap, select_random
from .write import POOLED_TOKEN_LENGTH, pooled_token_features, program_features_for, prune_dataset

__all__ = [
    "DESCRIPTIONS", "DUPLICATE_LATENCY_TOLERANCE", "NEEDS_PROGRAM_FEATURES", "NEEDS_WORKLOAD_FEATURES",
    "POOLED_TOKEN_LENGTH", "STRATEGIES", "USES_PROGRAM_FEATURES", "CandidatePool", "PruneResult", "Selection",
    "Strategy", "candidate_pool", "cap_per_task", "check_fraction", "check_strategy", "clean_report",
    "duplicate_flags", "k_center", "labels_after_merges", "latency_matrix", "pooled_token_features",
    "program_features_for", "proportional_quotas", "prune_dataset", "random_within_tasks", "representatives",
    "select_clean", "select_diversity", "select_latency_spread", "select_per_task_cap", "select_programs",
    "select_random", "select_task_cluster", "spread_ranks", "standardized", "strategy_table", "target_count",
    "task_sizes", "ward_merges",
]
