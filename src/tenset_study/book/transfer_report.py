"""Tables, figures and sentences of the transfer experiment (summaries of
:func:`tenset_study.transfer.experiment.summarize_transfer`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .style import REFERENCE, palette, width

from .report import METRIC_LABELS, wide_table

ZERO_SHOT = "zero-shot"
RANDOM = "random"
REFERENCES = (ZERO_SHOT, RANDOM)


def transfer_table(summary: pd.DataFrame, network: str | None = "all") -> pd.DataFrame:
    """One row per (direction, target, share, arm): ``value [low, high] ±seed std`` per metric and the
    target records the arm trained on (mean over seeds). ``network``: rows of that network only; None: one
    row per network as well."""
    index = ([] if network else ["network"]) + ["direction", "platform", "fraction", "variant"]
    table = wide_table(summary, index=index, network=network)
    frame = summary if network is None else summary[summary["network"] == network]
    records = frame.groupby(index)["target_records"].first().round().astype(int)
    table.insert(0, "target records", records.reindex(table.index))
    return table


def _panels(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(dict.fromkeys(zip(frame["direction"], frame["platform"])))


def plot_transfer_curves(summary: pd.DataFrame, metric: str = "pca", network: str = "all") -> Figure:
    """``metric`` against the share of the target's training data used, one line per arm, one panel per
    (direction, target); error bars are the bootstrap 95% interval over tasks (mean over seeds), the grey
    line and band the zero-shot model's value and interval, the dotted line random scores. The x axis is the
    realized share (mean over seeds), which can exceed the requested one where every task keeps a minimum of
    records."""
    frame = summary[(summary["metric"] == metric) & (summary["network"] == network)]
    panels = _panels(frame)
    if not panels:
        raise ValueError(f"no {metric!r} rows for network {network!r} in the summary")
    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width(columns, 3.75), 3.6 * rows), squeeze=False,
                             sharey=True)
    arms = [a for a in dict.fromkeys(frame["variant"]) if a not in REFERENCES]
    colors = dict(zip(arms, palette(len(arms))))
    label = METRIC_LABELS.get(metric, metric)
    for ax, (direction, platform) in zip(axes.flat, panels):
        cell = frame[(frame["direction"] == direction) & (frame["platform"] == platform)]
        zero = cell[cell["variant"] == ZERO_SHOT]
        if len(zero):
            ax.axhspan(zero["low"].iloc[0], zero["high"].iloc[0], color=REFERENCE, alpha=0.2)
            ax.axhline(zero["value"].iloc[0], color=REFERENCE, lw=1.2, label=ZERO_SHOT)
        chance = cell[cell["variant"] == RANDOM]
        if len(chance):
            ax.axhline(chance["value"].iloc[0], color="black", lw=0.9, ls=":", label=RANDOM)
        for j, arm in enumerate(arms):
            line = cell[cell["variant"] == arm].sort_values("fraction")
            if line.empty:
                continue
            x = line["target_share"].to_numpy() * 100 * (1 + 0.03 * (j - (len(arms) - 1) / 2))
            err = np.vstack([line["value"] - line["low"], line["high"] - line["value"]]).clip(min=0)
            ax.errorbar(x, line["value"], yerr=err, marker="o", ms=3.5, capsize=2, lw=1.2, color=colors[arm],
                        label=arm)
        _share_axis(ax, cell[~cell["variant"].isin(REFERENCES)]["target_share"])
        ax.set_title(f"{direction}: {platform}", fontsize=9)
        ax.set_xlabel("target training records used (%)")
        ax.set_ylabel(f"{label} (0 to 1, higher is better)" if ax in axes[:, 0] else "")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=min(4, len(labels)), fontsize=8, frameon=False)
    fig.suptitle(f"{label} on the unseen platform's held-out networks\n"
                 "(bars: bootstrap 95% interval over tasks; grey: zero-shot; dotted: random)", fontsize=10)
    fig.tight_layout(rect=(0, 0.12 / rows, 1, 1))
    plt.close(fig)
    return fig


def _share_axis(ax, shares: pd.Series) -> None:
    """A log x axis with a plain ``N%`` tick at each share used (no scientific minor labels)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ax.set_xscale("log")
    ticks = sorted({round(float(v) * 100, 1) for v in shares.dropna()})
    if ticks:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%" if v >= 10 else f"{v:.1f}%"))
        ax.set_xlim(ticks[0] / 1.25, ticks[-1] * 1.25)


def _versus(best: pd.Series, second: pd.Series) -> str:
    """``ahead of`` when the margin exceeds the seeds' spread and the best interval's low end clears the
    runner-up's value, else ``level with`` (the rule of :func:`tenset_study.book.report.conclusions`)."""
    margin = best["value"] - second["value"]
    spread = max(best["seed_std"], second["seed_std"])
    return "ahead of" if margin > spread and best["low"] > second["value"] else "level with"


def _best(part: pd.DataFrame, metric: str) -> str:
    rows = part[part["metric"] == metric].sort_values("value", ascending=False)
    if rows.empty:
        return ""
    best = rows.iloc[0]
    text = (f"best {METRIC_LABELS.get(metric, metric)}: {best['variant']} {best['value']:.3f} "
            f"[{best['low']:.3f}, {best['high']:.3f}]")
    if len(rows) > 1:
        second = rows.iloc[1]
        text += f", {_versus(best, second)} {second['variant']} {second['value']:.3f}"
    return text


def _delta(part: pd.DataFrame, zero: pd.DataFrame, metric: str, arm: str, other: str) -> str:
    values = part[part["metric"] == metric].set_index("variant")["value"]
    reference = zero[zero["metric"] == metric].set_index("variant")["value"] if other == ZERO_SHOT else values
    if arm not in values or other not in reference:
        return ""
    return f"{arm} minus {other} {values[arm] - reference[other]:+.3f}"


def findings(summary: pd.DataFrame, claim_top5: float = 0.9) -> str:
    """Sentences read off the summary (whole-platform rows): per direction and target the zero-shot
    metrics, then per share the best arm by PCA and by top-5 and what fine-tuning adds over zero-shot and
    over training from scratch (PCA); finally which arms reach top-5 >= ``claim_top5`` on an unseen
    platform, the study's claim for transfer (to be read against random scores' top-5 on the same tasks)."""
    frame = summary[summary["network"] == "all"]
    lines = []
    for direction, platform in _panels(frame):
        cell = frame[(frame["direction"] == direction) & (frame["platform"] == platform)]
        sources = cell["sources"].iloc[0]
        lines.append(f"{direction} to {platform} (pretrained on {sources}):")
        zero = cell[cell["variant"] == ZERO_SHOT]
        for reference in REFERENCES:
            rows = cell[cell["variant"] == reference]
            if len(rows):
                metrics = ", ".join(f"{METRIC_LABELS.get(r['metric'], r['metric'])} {r['value']:.3f} "
                                    f"[{r['low']:.3f}, {r['high']:.3f}]" for _, r in rows.iterrows())
                lines.append(f"  {reference}: {metrics}.")
        for fraction, part in cell[~cell["variant"].isin(REFERENCES)].groupby("fraction", sort=True):
            records, share = part["target_records"].mean(), part["target_share"].mean()
            parts = [_best(part, "pca"), _best(part, "top5"), _delta(part, zero, "pca", "fine-tune", ZERO_SHOT),
                     _delta(part, zero, "pca", "fine-tune", "scratch")]
            lines.append(f"  {fraction:.0%} share ({records:.0f} target records, {share:.0%} of the pool): "
                         + "; ".join(p for p in parts if p) + ".")
    top5 = frame[(frame["metric"] == "top5") & (frame["value"] >= claim_top5) & (frame["variant"] != RANDOM)]
    if top5.empty:
        lines.append(f"No arm reaches top-5 >= {claim_top5:.2f} on an unseen platform here.")
    else:
        reached = "; ".join(f"{r['variant']} at {r['fraction']:.0%} on {r['platform']} ({r['direction']}, "
                            f"{r['value']:.3f})" for _, r in top5.iterrows())
        lines.append(f"Top-5 >= {claim_top5:.2f} on an unseen platform: {reached}.")
    return "\n".join(lines)


def training_time(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean seconds to train each arm (over shares and seeds) per direction and target: the zero-shot
    arm's is the pretraining, which fine-tuning reuses and ``mtl`` repeats at every share."""
    per_run = runs.drop_duplicates(["direction", "platform", "variant", "fraction", "seed"])
    table = per_run.pivot_table(index=["direction", "platform"], columns="variant", values="fit_s", aggfunc="mean")
    return table[[a for a in dict.fromkeys(runs["variant"]) if a in table.columns]].round(2)


def plot_tuning_curves(curves: pd.DataFrame, x: str = "seconds") -> Figure:
    """The network's estimated latency (sum over tasks of weight x best latency so far, once every task has
    a measurement) against tuning ``x`` ("seconds" or "trial"), one line per tuning arm, one panel per
    (target, network); curves of :func:`tenset_study.tuning.study.collect_curves`."""
    frame = curves.dropna(subset=["estimated_latency_s"])
    if frame.empty:
        raise ValueError("no tuning curve reaches an estimate (no arm has measured every task yet)")
    panels = list(dict.fromkeys(zip(frame["target_platform"].fillna(""), frame["network"])))
    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width(columns, 3.75), 3.4 * rows), squeeze=False)
    arms = list(dict.fromkeys(frame["arm"]))
    colors = dict(zip(arms, palette(len(arms))))
    for ax, (platform, network) in zip(axes.flat, panels):
        cell = frame[(frame["target_platform"].fillna("") == platform) & (frame["network"] == network)]
        for (arm, seed), line in cell.groupby(["arm", "seed"], sort=False):
            line = line.sort_values(x)
            ax.step(line[x], line["estimated_latency_s"] * 1e3, where="post", color=colors[arm],
                    label=arm if seed == cell["seed"].min() else None)
        ax.set_title(f"{network}" + (f" on {platform}" if platform else ""), fontsize=10)
        ax.set_xlabel("tuning time (s)" if x == "seconds" else "trials (count)")
        ax.set_ylabel("estimated latency (ms)")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle("Estimated network latency against tuning " + ("time" if x == "seconds" else "trials")
                 + " (lower is better)", fontsize="medium")
    fig.tight_layout()
    plt.close(fig)
    return fig


def tuning_curves_figure(curves: pd.DataFrame | None, x: str = "seconds") -> Figure | str | None:
    """:func:`plot_tuning_curves` of ``curves`` when some arm has a network estimate; else the sentence saying
    there is none yet, or None when there are no curves at all (a notebook cell shows what it returns)."""
    if curves is None:
        return None
    if not curves["estimated_latency_s"].notna().any():
        return "no arm has measured every task of its network yet, so there is no network estimate to draw"
    return plot_tuning_curves(curves, x)


def timing_rounds_table(rounds: pd.DataFrame | None) -> pd.DataFrame | None:
    """Each timing round's mean as a share of the arm's mean over rounds, one column per round and a row per
    (study, network, arm) (:func:`tenset_study.tuning.archive.measured_timing_rounds`); None without rounds."""
    if rounds is None:
        return None
    return rounds.pivot_table(index=["study", "network", "arm"], columns="round", values="of_mean").round(3)
