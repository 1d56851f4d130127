"""Exploring a dataset, under the one name the exploration chapter, the tests and the ``coverage`` command use.

The tables, sentences and figures live in :mod:`tenset_study.book.exploration` (one module per kind of
question), the notebook display settings in :mod:`tenset_study.book.notebook`, the dataset parameter's check in
:mod:`tenset_study.book.chapters`, and the path helpers and :class:`ParameterError` in
:mod:`tenset_study.params`; this module re-exports them. The figures (seaborn) are imported on first use.
"""

from __future__ import annotations

from ..params import ParameterError, check_shares, repo_root, resolve_path
from .chapters import open_dataset
from .exploration import (FIGURES, HARDWARE_FEATURES, PLATFORM_COLUMNS, TEXT_WIDTH, UNKNOWN_OP, agreement_matrix,
                          agreement_summary, best_median_gap, comparable_platforms, cross_platform_agreement,
                          cv_summary, describe_agreement, describe_coverage, describe_dataset, describe_gap,
                          describe_noise_vs_gap, display_path, error_kind, error_kinds, failure_rates, format_bytes,
                          hardware_gaps, gap_by_op, latency_summary, main_kind, measurement_frame, op_mix,
                          platform_table, program_set_coverage, programs_per_task, repeat_cv, runner_summary,
                          self_agreement, software_summary, table_sizes, target_summary, task_frame,
                          tasks_per_network)

#: Names imported on first use: the figures, and the display settings (both need seaborn).
_LAZY = {**{name: ".exploration.figures" for name in FIGURES}, "setup_notebook": ".notebook", "styled": ".notebook"}

__all__ = [
    "HARDWARE_FEATURES", "PLATFORM_COLUMNS", "TEXT_WIDTH", "UNKNOWN_OP", "ParameterError", "agreement_matrix",
    "agreement_summary", "best_median_gap", "check_shares", "comparable_platforms", "cross_platform_agreement",
    "cv_summary", "describe_agreement", "describe_coverage", "describe_dataset", "describe_gap",
    "describe_noise_vs_gap", "display_path", "error_kind", "error_kinds", "failure_rates", "format_bytes",
    "gap_by_op", "hardware_gaps", "latency_summary", "main_kind", "measurement_frame", "op_mix", "open_dataset",
    "platform_table", "program_set_coverage", "programs_per_task", "repeat_cv", "repo_root", "resolve_path",
    "runner_summary", "self_agreement", "software_summary", "table_sizes", "target_summary", "task_frame",
    "tasks_per_network", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
