"""The exploration chapter's figures: each takes a table of :mod:`tenset_study.book.exploration` and returns a
matplotlib Figure (not managed by pyplot, so a notebook shows it once and nothing leaks); an empty table
gives a figure that says there is no data."""

from __future__ import annotations

import warnings

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..style import palette


def _figure(width: float = 7.0, height: float = 4.0, ncols: int = 1) -> tuple[Figure, list]:
    # Figures not managed by pyplot: a notebook shows the returned Figure once, and nothing leaks.
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _percent_axis(axis) -> None:
    # percentages on major and minor ticks (a log axis spanning less than a decade labels minor ticks)
    formatter = mticker.FuncFormatter(lambda x, _: f"{100 * x:.3g}%")
    axis.set_major_formatter(formatter)
    if axis.get_scale() == "log":
        axis.set_minor_formatter(mticker.FuncFormatter(
            lambda x, _: f"{100 * x:.3g}%" if str(f"{x:.1e}")[0] in "25" else ""))


def _ratio_axis(axis) -> None:
    # plain ratios ("2x", "10x") on a log axis instead of powers of ten
    axis.set_major_formatter(mticker.FuncFormatter(lambda x, _: f"{x:g}x"))
    axis.set_minor_formatter(mticker.FuncFormatter(
        lambda x, _: f"{x:g}x" if str(f"{x:.1e}")[0] in "25" else ""))


def _no_data(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no data: {what}", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _boxplot(*args, **kwargs):
    # seaborn 0.13 passes matplotlib's deprecated ``vert`` to boxplots (matplotlib >= 3.11): silence that only.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*vert: bool was deprecated", category=DeprecationWarning)
        return sns.boxplot(*args, **kwargs)


def _order(values: pd.Series) -> list:
    return list(values.value_counts().index)


def plot_op_mix(mix: pd.DataFrame) -> Figure:
    """Bars: share of tasks and share of FLOPs per operator class."""
    fig, (ax,) = _figure(7, max(2.5, 0.45 * len(mix) + 1.2))
    long = mix.reset_index().melt(id_vars="op", value_vars=["task_share", "flop_share"], var_name="share of",
                                  value_name="share")
    long["share of"] = long["share of"].map({"task_share": "tasks", "flop_share": "FLOPs"})
    sns.barplot(long.dropna(), y="op", x="share", hue="share of", ax=ax, orient="h")
    _percent_axis(ax.xaxis)
    title = "Operator mix: tasks and FLOPs per operator class"
    if mix["flop_share"].isna().all():
        title = "Operator mix: tasks per operator class (FLOPs unknown)"
    ax.set(title=title, xlabel="share (%)", ylabel="operator class")
    return fig


def plot_flops_by_op(tasks: pd.DataFrame) -> Figure:
    """Strip and box plot of the FLOPs of one run of every task, per operator class (log scale)."""
    known = tasks.dropna(subset=["flops"])
    known = known[known["flops"] > 0]
    fig, (ax,) = _figure(7, max(2.5, 0.45 * known["op"].nunique() + 1.2))
    if known.empty:
        _no_data(ax, "no task has known FLOPs")
    else:
        order = _order(known["op"])
        _boxplot(known, x="flops", y="op", order=order, log_scale=True, ax=ax, color="0.9", showfliers=False)
        sns.stripplot(known, x="flops", y="op", order=order, ax=ax, size=3, alpha=0.6, jitter=0.2)
    ax.set(title="FLOPs per task, by operator class", xlabel="FLOPs of one run (FLOP, log scale)",
           ylabel="operator class")
    return fig


def plot_latency_by_platform(frame: pd.DataFrame) -> Figure:
    """Histogram of the latencies of all ok measurements, one step line per platform (log scale)."""
    ok = frame[frame["ok"]]
    fig, (ax,) = _figure()
    if ok.empty:
        _no_data(ax, "no successful measurement")
    else:
        sns.histplot(ok, x="latency_s", hue="platform", log_scale=True, element="step", fill=False,
                     stat="density", common_norm=False, ax=ax)
        ax.set_ylim(bottom=0)
    ax.set(title="Latency of every measured program, per platform", xlabel="latency (s, log scale)",
           ylabel="density (per platform)")
    return fig


def plot_programs_per_task(counts: pd.DataFrame) -> Figure:
    """Histogram of the number of programs measured per task, per platform."""
    fig, (ax,) = _figure()
    if counts.empty:
        _no_data(ax, "no measurement")
    else:
        discrete = counts["measured"].max() - counts["measured"].min() <= 40
        sns.histplot(counts, x="measured", hue="platform", discrete=discrete, multiple="dodge",
                     shrink=0.8, bins="auto" if discrete else 30, ax=ax)
        ax.yaxis.set_major_locator(mticker.MaxNLocator(integer=True))
        if discrete:
            ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    ax.set(title="Programs measured per task", xlabel="programs per task (count)", ylabel="tasks (count)")
    return fig


def plot_best_median_gap(gap: pd.DataFrame) -> Figure:
    """Left: distribution of the median/best ratio over tasks; right: the ratio per operator class."""
    multi = gap[gap["programs"] >= 2]
    fig = Figure(figsize=(7, 4 + max(2.5, 0.45 * multi["op"].nunique() + 1.2)), layout="constrained")
    left, right = fig.subplots(2, 1, height_ratios=[4, max(2.5, 0.45 * multi["op"].nunique() + 1.2)])
    if multi.empty:
        _no_data(left, "no task with 2+ successful programs")
        _no_data(right, "no task with 2+ successful programs")
    else:
        sns.histplot(multi, x="ratio", hue="platform", log_scale=True, element="step", fill=False, ax=left)
        left.set_ylim(bottom=0)
        _boxplot(multi, x="ratio", y="op", hue="platform", order=_order(multi["op"]), log_scale=True,
                 ax=right, showfliers=False)
        sns.move_legend(right, "lower right", fontsize="small")
        _ratio_axis(left.xaxis)
        _ratio_axis(right.xaxis)
    left.set(title="Median program vs best program, per task", xlabel="median / best latency (ratio, log scale)",
             ylabel="tasks (count)")
    right.set(title="Median / best per operator class", xlabel="median / best latency (ratio, log scale)",
              ylabel="operator class")
    return fig


def plot_failures(kinds: pd.DataFrame, rates: pd.DataFrame) -> Figure:
    """Stacked bars: the share of failed measurements per platform, split by error kind."""
    fig, (ax,) = _figure(7, max(2.5, 0.5 * len(rates) + 1.2))
    if kinds.empty or kinds.shape[1] == 0 or rates["failed"].sum() == 0:
        _no_data(ax, "no failed measurement")
    else:
        shares = kinds.div(rates["measurements"], axis=0).fillna(0)
        left = np.zeros(len(shares))
        for color, column in zip(palette(shares.shape[1]), shares.columns):
            ax.barh(shares.index, shares[column], left=left, label=column, color=color)
            left += shares[column].to_numpy()
        ax.legend(title="error kind", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
        ax.xaxis.set_major_locator(mticker.MaxNLocator(5))
        _percent_axis(ax.xaxis)
    ax.set(title="Failed measurements per platform", xlabel="share of measurements (%)", ylabel="platform")
    return fig


def plot_repeat_cv(cv: pd.DataFrame) -> Figure:
    """Empirical CDF of the coefficient of variation of the repeats, per platform (log scale)."""
    valid = cv.dropna(subset=["cv"])
    valid = valid[valid["cv"] > 0]
    fig, (ax,) = _figure()
    if valid.empty:
        _no_data(ax, "no measurement with 2+ repeats")
    else:
        sns.ecdfplot(valid, x="cv", hue="platform", log_scale=True, ax=ax)
        _percent_axis(ax.xaxis)
    ax.set(title="Measurement noise: spread of the repeats of one program",
           xlabel="coefficient of variation of the repeats (std / mean, %, log scale)",
           ylabel="share of measurements (cumulative)")
    return fig


def plot_cross_platform(agreement: pd.DataFrame) -> Figure:
    """Histogram of the per-task Spearman correlation of latencies, one line per platform pair."""
    fig, (ax,) = _figure()
    data = agreement.dropna(subset=["spearman"]).assign(
        pair=lambda d: d["platform_a"] + " vs " + d["platform_b"])
    if data.empty:
        _no_data(ax, "no task measured on two platforms of one kind")
    else:
        sns.histplot(data, x="spearman", hue="pair", binrange=(-1, 1), bins=20, element="step", fill=False, ax=ax)
        ax.set_ylim(bottom=0)
    ax.set(title="Do two platforms rank the same programs alike?",
           xlabel="Spearman rank correlation of latencies within a task (1 = same order)", ylabel="tasks (count)")
    return fig


def plot_agreement_matrix(agreement: pd.DataFrame, statistic: str = "spearman") -> Figure:
    """Heatmaps, one per platform kind, stacked: the median over tasks of the per-task rank correlation of
    every pair of platforms (:func:`~.agreement.agreement_matrix`), the diagonal each platform against a second
    repeat of its own measurement where ``agreement`` holds those rows (:func:`~.agreement.self_agreement`)."""
    from .agreement import agreement_matrix

    kinds = sorted(agreement["kind"].dropna().unique()) if not agreement.empty else []
    if not kinds:
        fig, (ax,) = _figure()
        _no_data(ax, "no task measured on two platforms of one kind")
        ax.set(title="Platform agreement")
        return fig
    matrices = [agreement_matrix(agreement[agreement["kind"] == kind], statistic) for kind in kinds]
    sizes = [len(m) for m in matrices]
    fig = Figure(figsize=(7.0, sum(0.5 * n + 2.6 for n in sizes)), layout="constrained")
    axes = fig.subplots(len(kinds), 1, squeeze=False, height_ratios=[n + 4 for n in sizes])[:, 0]
    for ax, kind, matrix in zip(axes, kinds, matrices):
        sns.heatmap(matrix, ax=ax, vmin=0, vmax=1, cmap="cividis", annot=len(matrix) <= 12,
                    fmt=".3f" if len(matrix) <= 6 else ".2f", square=True, annot_kws={"fontsize": 7},
                    cbar_kws={"label": f"median {statistic}\nover tasks", "shrink": 0.8})
        ax.set(title=f"{kind.upper()} platforms: how alike they rank a task's programs", xlabel="platform",
               ylabel="platform")
        ax.tick_params(axis="x", labelrotation=90, labelsize=7)
        ax.tick_params(axis="y", labelrotation=0, labelsize=7)
    return fig
