"""Exploring a dataset: sizes, platforms, networks, operators, latencies, noise and cross-platform agreement.

Small, pure functions that take a :class:`~tenset_study.data.dataset.Dataset` (or a frame made from one) and
return pandas DataFrames, sentences computed from them, and plotting functions that take those frames and
return matplotlib Figures. The exploration chapter calls them cell by cell (through
:mod:`tenset_study.book.explore`); readers can call them on their own datasets.

Modules: :mod:`.contents` (table sizes, platforms, networks, tasks, operator mix), :mod:`.measurements`
(latencies, programs per task, best versus median program, failures), :mod:`.noise` (spread of the repeats),
:mod:`.agreement` (same program sets, rank agreement between platforms), :mod:`.devices` (whether the devices
of one host rank programs alike, so that they can share a platform), :mod:`.sentences` (the chapter's
computed sentences) and :mod:`.figures` (the figures; imported on first use, as they need seaborn).

Conventions: latencies are seconds; a measurement is *ok* when it has a latency and no error; tasks
without an operator class (TenSet imports may lack it) are grouped under ``unknown``; tasks without
FLOPs keep NaN and are left out of FLOP sums (never counted as zero).
"""

from __future__ import annotations

from .agreement import (agreement_matrix, agreement_summary, comparable_platforms, cross_platform_agreement,
                        neighbour_effect, program_set_coverage, redundant_configurations, self_agreement)
from .contents import (HARDWARE_FEATURES, PLATFORM_COLUMNS, UNKNOWN_OP, format_bytes, hardware_gaps, main_kind,
                       op_mix, platform_table, runner_summary, software_summary, table_sizes, target_summary,
                       task_frame, tasks_per_network)
from .devices import describe_device_agreement, device_agreement
from .measurements import (best_median_gap, error_kind, error_kinds, failure_rates, gap_by_op, latency_summary,
                           measurement_frame, programs_per_task)
from .noise import cv_summary, repeat_cv
from .sentences import (TEXT_WIDTH, describe_agreement, describe_coverage, describe_dataset, describe_gap,
                        describe_noise_vs_gap, display_path)

#: The figures, imported from :mod:`.figures` on first use (seaborn is only needed to draw).
FIGURES = ("plot_op_mix", "plot_flops_by_op", "plot_latency_by_platform", "plot_programs_per_task",
           "plot_best_median_gap", "plot_failures", "plot_repeat_cv", "plot_cross_platform", "plot_agreement_matrix")

__all__ = [
    "HARDWARE_FEATURES", "PLATFORM_COLUMNS", "TEXT_WIDTH", "UNKNOWN_OP", "agreement_matrix", "agreement_summary",
    "best_median_gap", "comparable_platforms", "cross_platform_agreement", "cv_summary", "describe_agreement",
    "describe_coverage", "describe_dataset", "describe_device_agreement", "describe_gap", "describe_noise_vs_gap",
    "device_agreement", "display_path", "error_kind", "error_kinds", "failure_rates", "format_bytes", "gap_by_op",
    "hardware_gaps", "latency_summary",
    "main_kind", "measurement_frame", "neighbour_effect", "op_mix", "platform_table", "program_set_coverage",
    "programs_per_task", "redundant_configurations", "repeat_cv", "self_agreement", "runner_summary",
    "software_summary", "table_sizes", "target_summary", "task_frame", "tasks_per_network", *FIGURES,
]


def __getattr__(name: str):
    if name in FIGURES:
        from . import figures

        return getattr(figures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
