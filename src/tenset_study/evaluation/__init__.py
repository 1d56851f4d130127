"""Evaluation: how well a cost model ranks programs it was not trained on, under which split, and with what
uncertainty.

Modules: :mod:`.splits` (which records train and which test: ``random``, ``within-task``, ``by-task``,
``by-network``, ``by-op``, ``by-platform``), :mod:`.metrics` (pairwise comparison accuracy, top-k, bootstrap
intervals over tasks), :mod:`.presets` (the named experiment sizes and the models' hyperparameters),
:mod:`.noise` (measurement noise as a ranking ceiling: repeats against repeats, the repeat budget, and
across collection sessions), :mod:`.references` (the rankings a model is read against: the noise ceiling, the
cross-platform oracle, random scores), :mod:`.paired` (differences between models paired over seeds and tasks,
with a bootstrap interval), :mod:`.hardware_swap` (a trained model scored with another platform's hardware),
:mod:`.diagnostics` (all of these beside a results table, and in one call), :mod:`.learning_curves`
(accuracy against the number of training tasks and programs per task, on nested subsets),
:mod:`.runner` (models x seeds under one split, tidy result rows, seeds folded), :mod:`.resume` (a long
experiment's finished units kept in a folder and reused when it runs again), :mod:`.experiments` (a
dataset prepared for the models, the splits it supports, the chapters' helpers; re-exports the others),
:mod:`.benchmarks` (the committed speed runs) and :mod:`.stream_training` (training from an on-disk feature
store). Names of the modules that train models (torch) are imported on first use.
"""

from __future__ import annotations


from .metrics import evaluate
from .presets import PRESETS, check_model_names, model_params, resolve_preset
from .splits import STRATEGIES as SPLIT_STRATEGIES, Split, check_split_names, make_split
from ..lazy import lazy_exports

#: Names imported on first use, and their module.
_LAZY = {
    "ModelSpec": ".runner", "RESULT_COLUMNS": ".runner", "run_experiment": ".runner",
    "summarize_seeds": ".runner", "prepare": ".experiments", "default_split": ".experiments",
    "applicable_splits": ".experiments", "write_summary": ".experiments",
    "repeat_budget": ".noise", "repeats_vs_repeats": ".noise", "measurements_with_repeats": ".noise",
    "across_sessions": ".noise", "reference_rows": ".references", "noise_ceiling": ".references",
    "cross_platform_oracle": ".references", "random_reference": ".references",
    "expected_random_top_k": ".references", "paired_differences": ".paired", "hardware_swap": ".hardware_swap",
    "diagnostics_table": ".diagnostics", "run_diagnostics": ".diagnostics", "write_diagnostics": ".diagnostics",
    "learning_curve": ".learning_curves", "summarize_curve": ".learning_curves",
    "gain_per_doubling": ".learning_curves",
}

__all__ = ["PRESETS", "SPLIT_STRATEGIES", "Split", "check_model_names", "check_split_names", "evaluate",
           "make_split", "model_params", "resolve_preset", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
