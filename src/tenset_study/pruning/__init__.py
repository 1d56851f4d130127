"""Dataset pruning: which programs a cost model may train on when only a share of them is kept, and how much
of a split's training data can go before the models lose accuracy.

Modules: :mod:`.pool` (the candidate programs every strategy reads, shared helpers), one module per family of
strategies (:mod:`.uniform`: ``random``, ``per-task-cap``; :mod:`.clusters`: ``task-cluster``; :mod:`.spread`:
``diversity``, ``latency-spread``; :mod:`.clean`: ``clean``), :mod:`.select` (:func:`select_programs`, the
one interface), :mod:`.write` (:func:`prune_dataset`: a pruned dataset on disk), :mod:`.strategies` (all of
these under one name) and :mod:`.study` (the book's experiment: models trained on pruned shares, the
verdicts). The study's names are imported on first use (it trains models: torch).
"""

from __future__ import annotations

import importlib

from .clean import clean_report
from .select import DESCRIPTIONS, STRATEGIES, PruneResult, select_programs, strategy_table
from .write import program_features_for, prune_dataset

#: Names of :mod:`.study`, imported on first use.
_STUDY = ("run_pruning_study", "summarize_curve", "pruning_verdict", "pruning_verdicts", "write_pruning",
          "training_time", "recommendation", "check_strategies", "check_fractions", "dataset_clean_report")

__all__ = ["DESCRIPTIONS", "STRATEGIES", "PruneResult", "clean_report", "program_features_for", "prune_dataset",
           "select_programs", "strategy_table", *_STUDY]


def __getattr__(name: str):
    if name in _STUDY:
        return getattr(importlib.import_module(".study", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
