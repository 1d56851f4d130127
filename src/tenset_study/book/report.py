"""Tables and figures of cost-model results (the tidy rows of :mod:`tenset_study.evaluation.experiments`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .style import REFERENCE, palette, width

from .notebook import Figures

METRIC_LABELS = {"pca": "PCA", "top1": "top-1", "top5": "top-5"}


def wide_table(summary: pd.DataFrame, index: list[str], columns: str = "metric", network: str | None = "all",
               with_interval: bool = True) -> pd.DataFrame:
    """Summary rows as a table of ``value [low, high] ± seed std`` strings (``network``: rows of that
    network only; ``None`` keeps all)."""
    frame = summary if network is None else summary[summary["network"] == network]
    frame = frame.copy()
    if with_interval:
        frame["cell"] = frame.apply(_cell, axis=1)
    else:
        frame["cell"] = frame["value"].map("{:.3f}".format)
    table = frame.pivot_table(index=index, columns=columns, values="cell", aggfunc="first")
    table.columns = [METRIC_LABELS.get(c, c) for c in table.columns]
    return table


def _cell(row: pd.Series) -> str:
    text = f"{row['value']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"
    if row.get("seeds", 1) and row.get("seeds", 1) > 1:
        text += f" ±{row['seed_std']:.3f}"
    return text


def plot_metric_bars(summary: pd.DataFrame, metric: str, x: str = "platform", hue: str = "variant",
                     network: str | None = "all", title: str | None = None) -> Figure:
    """Bars of one metric with the bootstrap interval as error bars."""
    frame = summary[(summary["metric"] == metric) & ((summary["network"] == network) if network else True)]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    xs = list(dict.fromkeys(frame[x]))
    hues = list(dict.fromkeys(frame[hue]))
    width = 0.8 / max(1, len(hues))
    colors = palette(len(hues))
    for j, h in enumerate(hues):
        part = frame[frame[hue] == h].set_index(x).reindex(xs)
        pos = np.arange(len(xs)) + (j - (len(hues) - 1) / 2) * width
        err = np.vstack([part["value"] - part["low"], part["high"] - part["value"]]).clip(min=0)
        ax.bar(pos, part["value"], width, yerr=err, capsize=3, label=h, color=colors[j])
    ax.set_xticks(np.arange(len(xs)), xs, rotation=15, ha="right")
    label = METRIC_LABELS.get(metric, metric)
    ax.set_ylabel(f"{label} (0 to 1, higher is better)")
    ax.set_xlabel(x.replace("_", " "))
    if metric == "pca":
        ax.axhline(0.5, color=REFERENCE, lw=1, ls="--")
        ax.text(len(xs) - 0.5, 0.505, "random ranking", ha="right", va="bottom", fontsize=8, color=REFERENCE)
    ax.set_ylim(0, 1.05)
    ax.set_title(title or f"{label} on held-out records (bars: bootstrap 95% interval over tasks)")
    ax.legend(title=hue, fontsize=8, ncols=min(4, len(hues)))
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_learning_curves(histories: dict[str, list[dict]]) -> Figure:
    """Training loss per epoch of each model (LambdaRank loss; lower is better)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, history in histories.items():
        frame = pd.DataFrame(history)
        if not frame.empty:
            ax.plot(frame["epoch"] + 1, frame["loss"], marker="o", ms=3, label=name)
    ax.set_xlabel("epoch (passes over the training records)")
    ax.set_ylabel("training loss (LambdaRank, unitless)")
    ax.set_title("Learning curves: training loss per epoch (seed 0)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_task_curve(summary: pd.DataFrame, metrics: tuple[str, ...] = ("pca", "top5"), network: str = "all") -> Figure:
    """Each metric against the number of training tasks (log scale), one line per (variant, platform), band:
    the bootstrap interval over test tasks (rows: :func:`~tenset_study.evaluation.learning_curves.summarize_curve`,
    all programs per task)."""
    part = summary[(summary["network"] == network) & summary["programs_per_task"].isna()]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(7, 3.4 * len(metrics)), sharex=True, squeeze=False)
    lines = list(part.groupby(["variant", "platform"], sort=True).groups)
    colours = dict(zip(lines, palette(len(lines))))
    for ax, metric in zip(axes[:, 0], metrics):
        for (variant, platform), line in part[part["metric"] == metric].groupby(["variant", "platform"], sort=True):
            line = line.sort_values("train_tasks")
            colour = colours[(variant, platform)]
            ax.plot(line["train_tasks"], line["value"], marker="o", color=colour, label=f"{variant} on {platform}")
            ax.fill_between(line["train_tasks"], line["low"], line["high"], color=colour, alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:g}"))
        ax.set_ylabel(f"{METRIC_LABELS.get(metric, metric)} (0 to 1)")
        ax.set_title(f"{METRIC_LABELS.get(metric, metric)} on held-out networks", fontsize="medium")
    axes[-1, 0].set_xlabel("training tasks per kind (log scale)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Accuracy against the number of training tasks (band: bootstrap 95% interval over test tasks)",
                 fontsize="medium")
    fig.tight_layout()
    plt.close(fig)
    return fig

def plot_throughput(timing: pd.DataFrame) -> Figure:
    """Training (records/s) and inference (candidates/s) throughput per model, log scale."""
    fig, axes = plt.subplots(2, 1, figsize=(7, 6.4), sharex=True)
    for ax, column, label, unit in ((axes[0], "train_records_per_s", "training", "records per second"),
                                    (axes[1], "predict_per_s", "inference", "candidates per second")):
        ax.bar(timing.index, timing[column], color=palette(len(timing)))
        ax.set_yscale("log")
        ax.set_title(f"{label} ({unit}, higher is faster)", fontsize="medium")
        ax.set_ylabel(f"{unit} (log scale)")
        ax.tick_params(axis="x", rotation=15)
    axes[1].set_xlabel("model")
    fig.suptitle("Training and inference speed on the machine that ran this chapter")
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_lengths(lengths: pd.DataFrame | pd.Series, max_len: int) -> Figure:
    """Histogram of schedule lengths (steps per program) per encoding, with the crop length marked."""
    frame = lengths.reset_index() if isinstance(lengths, pd.Series) else lengths
    column = "steps" if "steps" in frame else frame.columns[-1]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    hue = "encoding" if "encoding" in frame else None
    sns.histplot(frame, x=column, hue=hue, discrete=True, ax=ax)
    ax.axvline(max_len + 0.5, color="black", ls="--", lw=1)
    cropped = float((frame[column] > max_len).mean())
    ax.text(max_len + 0.5, ax.get_ylim()[1] * 0.9, f" crop at {max_len}: {cropped:.1%} of programs cut", fontsize=8)
    ax.set_xlabel("schedule steps per program (count)")
    ax.set_ylabel("programs (count)")
    ax.set_title("Schedule lengths, and where the model crops them")
    fig.tight_layout()
    plt.close(fig)
    return fig


def _paired_row(paired: pd.DataFrame | None, platform: str, metric: str, a: str, b: str) -> tuple[float, pd.Series] | None:
    """The paired difference ``a - b`` on (platform, metric) with its interval, read from a table of
    :func:`~tenset_study.evaluation.paired.paired_differences` in either direction (sign 1 or -1), if it has one."""
    if paired is None or paired.empty:
        return None
    part = paired[(paired["platform"] == platform) & (paired["metric"] == metric)]
    for sign, model, minus in ((1.0, a, b), (-1.0, b, a)):
        hit = part[(part["model"] == model) & (part["minus"] == minus)]
        if len(hit):
            return sign, hit.iloc[0]
    return None


def conclusions(summary: pd.DataFrame, ablation: pd.DataFrame | None = None,
                paired: pd.DataFrame | None = None) -> str:
    """Plain sentences read off the results: best model per platform and metric, and what the context
    features add. Best and runner-up are told apart by their paired difference over seeds and tasks where
    ``paired`` (:func:`~tenset_study.evaluation.paired.paired_differences`) holds it: ahead when its interval
    excludes zero; else by the seeds' spread (a margin under it, or inside the best's interval, is a tie)."""
    lines = []
    overall = summary[summary["network"] == "all"]
    for (platform, metric), part in overall.groupby(["platform", "metric"], sort=True):
        part = part.sort_values("value", ascending=False)
        best, rest = part.iloc[0], part.iloc[1:]
        label = METRIC_LABELS.get(metric, metric)
        if rest.empty:
            lines.append(f"{platform}, {label}: {best['variant']} {best['value']:.3f}.")
            continue
        second = rest.iloc[0]
        head = (f"{platform}, {label}: {best['variant']} {best['value']:.3f} is {{verdict}} {second['variant']} "
                f"{second['value']:.3f}")
        found = _paired_row(paired, platform, metric, best["variant"], second["variant"])
        if found is not None:
            sign, row = found
            low, high = sorted((sign * row["low"], sign * row["high"]))
            verdict = "ahead of" if row["excludes_zero"] and sign * row["diff"] > 0 else "level with"
            lines.append(head.format(verdict=verdict)
                         + f" (paired difference {sign * row['diff']:+.3f} [{low:+.3f}, {high:+.3f}]).")
            continue
        margin = best["value"] - second["value"]
        spread = max(best["seed_std"], second["seed_std"])
        verdict = "ahead of" if margin > spread and best["low"] > second["value"] else "level with"
        lines.append(head.format(verdict=verdict) + f" (seed spread {spread:.3f}).")
    if ablation is not None and not ablation.empty:
        pca = ablation[(ablation["network"] == "all") & (ablation["metric"] == "pca")]
        full = pca[pca["variant"] == "ours"].set_index("platform")["value"]
        for variant, part in pca[pca["variant"] != "ours"].groupby("variant"):
            delta = (full - part.set_index("platform")["value"]).dropna()
            if len(delta):
                lines.append(f"PCA of ours minus {variant}: mean {delta.mean():+.3f} over {len(delta)} platform(s).")
    return "\n".join(lines)


def plot_split_comparison(summary: pd.DataFrame, metric: str = "pca") -> Figure:
    """One metric per split and model (whole-platform rows averaged over platforms), with intervals."""
    frame = summary[(summary["metric"] == metric) & (summary["network"] == "all")]
    frame = frame.groupby(["split", "variant"], sort=False)[["value", "low", "high"]].mean().reset_index()
    frame = frame.assign(network="all", metric=metric)
    label = METRIC_LABELS.get(metric, metric)
    return plot_metric_bars(frame, metric, x="split", hue="variant",
                            title=f"{label} under each split (mean over platforms; bars: bootstrap 95% interval)")


def split_flattery(summary: pd.DataFrame, metric: str = "pca", reference: str = "by-network") -> pd.DataFrame:
    """Per model variant and split: the mean over platforms of ``metric`` on all test tasks, and how much
    higher it is than under ``reference`` (``flattery``, in the metric's units), with the share of platforms
    where the two bootstrap intervals do not overlap (``separated``)."""
    part = summary[(summary["metric"] == metric) & (summary["network"] == "all")]
    ref = part[part["split"] == reference].set_index(["variant", "platform"])
    rows = []
    for (variant, split), group in part.groupby(["variant", "split"], sort=False):
        joined = group.merge(ref[["value", "low", "high"]].add_suffix("_ref"), left_on=["variant", "platform"],
                             right_index=True, how="inner")
        if joined.empty:
            continue
        apart = (joined["low"] > joined["high_ref"]) | (joined["high"] < joined["low_ref"])
        rows.append({"variant": variant, "split": split, "value": joined["value"].mean(),
                     "reference": joined["value_ref"].mean(),
                     "flattery": (joined["value"] - joined["value_ref"]).mean(),
                     "separated": apart.mean(), "platforms": len(joined)})
    return pd.DataFrame(rows, columns=["variant", "split", "value", "reference", "flattery", "separated",
                                       "platforms"])


def flattery_table(summary: pd.DataFrame, reference: str = "by-network",
                   metrics: tuple[str, ...] = ("pca", "top5")) -> pd.DataFrame:
    """:func:`split_flattery` of each metric side by side: per split and model variant, the metric's mean over
    platforms, how much higher it is than under ``reference``, and the share of platforms where the two
    bootstrap intervals are apart."""
    frames = [split_flattery(summary, metric, reference).assign(metric=METRIC_LABELS.get(metric, metric))
              for metric in metrics]
    table = pd.concat(frames, ignore_index=True)
    return table.pivot(index=["split", "variant"], columns="metric", values=["value", "flattery", "separated"])


def split_verdict(summary: pd.DataFrame, reference: str = "by-network") -> str:
    """Sentences ranking the splits by how much they flatter PCA against ``reference``."""
    frame = summary[(summary["network"] == "all") & (summary["metric"] == "pca")]
    means = frame.groupby("split")["value"].mean().sort_values(ascending=False)
    if reference not in means:
        return f"{reference} could not be run on this dataset; splits by mean PCA: " + \
            ", ".join(f"{s} {v:.3f}" for s, v in means.items())
    ref = means[reference]
    lines = [f"Mean PCA over models and platforms under {reference}: {ref:.3f}."]
    for split, value in means.items():
        if split != reference:
            lines.append(f"{split}: {value:.3f} ({value - ref:+.3f} against {reference}).")
    return "\n".join(lines)


def plot_pruning_curves_per_split(summary: pd.DataFrame, metric: str = "pca", network: str = "all") -> Figures:
    """:func:`plot_pruning_curves` of every split in ``summary``, in its order."""
    return Figures(plot_pruning_curves(summary, metric, network, split) for split in dict.fromkeys(summary["split"]))


def plot_pruning_curves(summary: pd.DataFrame, metric: str = "pca", network: str = "all",
                        split: str | None = None) -> Figure:
    """A metric against the share of training programs kept, one line per pruning strategy, one panel per
    (model variant, platform); the band is the full-data model's bootstrap interval.

    ``summary``: :func:`tenset_study.pruning.study.summarize_curve` rows; ``split``: the split drawn (default:
    the first in ``summary``, which in the pruning study holds out networks)."""
    split = summary["split"].iloc[0] if split is None and len(summary) else split
    part = summary[(summary["metric"] == metric) & (summary["network"] == network) & (summary["split"] == split)]
    variants, platforms = list(dict.fromkeys(part["variant"])), list(dict.fromkeys(part["platform"]))
    fig, axes = plt.subplots(len(variants), len(platforms), figsize=(width(len(platforms), 3.6), 3 * len(variants)),
                             squeeze=False, sharex=True)
    strategies = [s for s in dict.fromkeys(part["strategy"]) if s != "full"]
    colors = dict(zip(strategies, palette(len(strategies))))
    for (i, variant), (j, platform) in ((a, b) for a in enumerate(variants) for b in enumerate(platforms)):
        ax = axes[i][j]
        cell = part[(part["variant"] == variant) & (part["platform"] == platform)]
        full = cell[cell["strategy"] == "full"]
        if len(full):
            ax.axhspan(full["low"].iloc[0], full["high"].iloc[0], color=REFERENCE, alpha=0.2)
            ax.axhline(full["value"].iloc[0], color=REFERENCE, lw=1)
        for strategy in strategies:
            line = pd.concat([cell[cell["strategy"] == strategy], full]).sort_values("kept_fraction")
            ax.plot(line["kept_fraction"] * 100, line["value"], marker="o", ms=3, color=colors[strategy],
                    label=strategy)
        ax.set_title(f"{variant} / {platform}", fontsize=9)
        ax.set_xlabel("training programs kept (%)" if i == len(variants) - 1 else "")
        ax.set_ylabel(f"{METRIC_LABELS.get(metric, metric)} (0 to 1)" if j == 0 else "")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{METRIC_LABELS.get(metric, metric)} against data kept" + (f", split {split}" if split else "")
                 + " (band: full data's 95% interval)", fontsize="medium")
    fig.tight_layout()
    plt.close(fig)
    return fig
