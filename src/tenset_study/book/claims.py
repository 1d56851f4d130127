"""The paper's claims beside this study's measured figures, each with a verdict computed from ``results/``.

The study we reproduce states four results in its abstracts (the full texts were not available to us, so
how each was measured is our reading, and the book says so):

* pruning: up to 45% (journal: 53%) of the training data can be removed without losing pairwise comparison
  accuracy (PCA);
* tuning: on-par or better mean inference time with 25-40% of the baseline's tuning time
  (:mod:`.tuning_claim`);
* transfer: top-5 accuracy above 90% on previously unseen hardware;
* split comparison: the test-split strategy changes how good a cost model looks (no figure given).

Every function here reads a results table written by a chapter and returns one :class:`Claim`, so the
results chapter types no number by hand. A verdict is ``reproduced``, ``partly``, ``not reproduced`` or
``not run`` (the chapter that writes the table has not run); ``basis`` says how it was decided.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from . import report
from ..params import display_path, folder_parameter
from .claim import (NOT_REPRODUCED, NOT_RUN, PAPER_PRUNED, PAPER_SHORT, PAPER_TOP5, PAPER_TUNING_SHARES, PARTLY,
                    REPRODUCED, Claim)
from .tuning_claim import tuning_claim

#: The results folder parameter's check (chapter 06 checks it through :mod:`tenset_study.book.chapters`).
results_folder = folder_parameter

def _not_run(claim: str, paper: str, source: Path, chapter: str) -> Claim:
    return Claim(claim, paper, "-", NOT_RUN, f"{source.name} is missing: run {chapter} first",
                 display_path(source, name_outside=True),
                 PAPER_SHORT.get(claim, paper), "not run")


# --- pruning ---------------------------------------------------------------------------------------------

def best_pruning(summary: pd.DataFrame) -> pd.DataFrame:
    """Per split: every strategy's pruned share without a PCA loss, averaged over models and platforms
    (:func:`~tenset_study.pruning.study.pruning_verdicts`), best first; columns split, strategy, pruned,
    pruned_min (the least over models and platforms), cases."""
    from ..pruning.study import pruning_verdicts

    verdicts = pruning_verdicts(summary)
    table = verdicts.groupby(["split", "strategy"], sort=False)["pruned"].agg(
        pruned="mean", pruned_min="min", cases="size").reset_index()
    return table.sort_values(["split", "pruned"], ascending=[True, False], ignore_index=True)


def pruning_claim(summary: pd.DataFrame, source: str = "pruning.csv") -> Claim:
    """Reproduced when, on every split, some strategy prunes at least 45% on average without a PCA loss;
    partly when it does on some split, or prunes less but more than nothing; else not reproduced."""
    best = best_pruning(summary).groupby("split", sort=False).head(1)
    if best.empty:
        return Claim("pruning", _paper_pruning(), "no pruned runs", NOT_REPRODUCED,
                     "the table holds no pruned runs", source)
    ours = "; ".join(f"{r.split}: {r.strategy!r} prunes {r.pruned:.0%} (at least {r.pruned_min:.0%} for every "
                     f"model and platform)" for r in best.itertuples())
    enough = best["pruned"] >= PAPER_PRUNED[0]
    if enough.all():
        verdict = REPRODUCED
    elif enough.any() or (best["pruned"] > 0).all():
        verdict = PARTLY
    else:
        verdict = NOT_REPRODUCED
    fractions = sorted(summary.loc[summary["strategy"] != "full", "fraction"].unique())
    basis = ("largest share of training programs removed while the mean PCA over seeds stays within the "
             "full-data model's bootstrap interval, on held-out networks and held-out hardware; kept "
             f"fractions tried: {', '.join(f'{f:.0%}' for f in fractions)}, so shares between them are not seen")
    short = ", ".join(f"{r.split} {r.pruned:.0%}" for r in best.itertuples()) + " pruned"
    return Claim("pruning", _paper_pruning(), ours, verdict, basis, source, PAPER_SHORT["pruning"], short)


def _paper_pruning() -> str:
    return (f"up to {PAPER_PRUNED[0]:.0%} (journal: {PAPER_PRUNED[1]:.0%}) of the training data removed "
            "without a PCA loss")


# --- split comparison ------------------------------------------------------------------------------------

#: Splits that let a test program's task (or the program's siblings) into training: TenSet's default
#: within-task split and a random split over records.
LEAKY_SPLITS = ("random", "within-task")


def split_claim(summary: pd.DataFrame, source: str = "split_comparison.csv", reference: str = "by-network",
                leaky: tuple[str, ...] = LEAKY_SPLITS) -> Claim:
    """How much the splits that leak tasks into training (``leaky``) flatter each model against the
    ``reference`` split that holds whole networks out. Reproduced when, for every model, a leaky split's PCA
    is above the reference's with non-overlapping intervals on most platforms; partly when that holds for
    some model; else not reproduced."""
    paper = "the choice of test split changes how accurate a cost model looks (the abstracts give no figure)"
    flattery = report.split_flattery(summary, reference=reference)
    others = flattery[flattery["split"].isin(leaky)]
    if others.empty:
        return Claim("split comparison", paper, f"none of {list(leaky)} beside {reference!r}", NOT_RUN,
                     "the table compares no leaky split with the reference", source)
    widest = others.loc[others.groupby("variant", sort=False)["flattery"].idxmax()]
    ours = "; ".join(f"{r.variant}: {r.split} {r.flattery:+.3f} PCA over {reference} "
                     f"({r.separated:.0%} of platforms outside its interval)" for r in widest.itertuples())
    flattered = (widest["flattery"] > 0) & (widest["separated"] > 0.5)
    verdict = REPRODUCED if flattered.all() else PARTLY if flattered.any() else NOT_REPRODUCED
    basis = (f"mean PCA over platforms under the leaky split ({' or '.join(leaky)}) that flatters most, minus "
             f"under {reference} (the same platforms, held-out networks); it counts where the bootstrap "
             "intervals do not overlap on most platforms")
    top = widest.loc[widest["flattery"].idxmax()]
    short = f"{top['split']} {top['flattery']:+.3f} PCA over {reference} ({top['variant']})"
    return Claim("split comparison", paper, ours, verdict, basis, source, PAPER_SHORT["split comparison"], short)


# --- transfer to unseen hardware -------------------------------------------------------------------------

#: Arms of the transfer experiment that carry a model trained on other hardware to the target.
TRANSFERRED_ARMS = ("zero-shot", "fine-tune", "mtl")


def best_transfer_top5(summary: pd.DataFrame, arms: tuple[str, ...] = TRANSFERRED_ARMS) -> pd.DataFrame:
    """Per (direction, target platform): the transferred arm and share with the highest top-5 on the target's
    held-out networks (``value`` with its interval), beside random scores' top-5 on the same tasks
    (``random``) and the best arm trained on the target's data alone (``best_other``)."""
    top5 = summary[(summary["metric"] == "top5") & (summary["network"] == "all")]
    rows = []
    for (direction, platform), cell in top5.groupby(["direction", "platform"], sort=False):
        transferred = cell[cell["variant"].isin(arms)]
        if transferred.empty:
            continue
        best = transferred.loc[transferred["value"].idxmax()]
        chance = cell.loc[cell["variant"] == "random", "value"]
        others = cell[~cell["variant"].isin(arms + ("random",))]
        other = others.loc[others["value"].idxmax()] if len(others) else None
        rows.append({"direction": direction, "platform": platform, "arm": best["variant"],
                     "fraction": best["fraction"], "value": best["value"], "low": best["low"],
                     "high": best["high"], "random": chance.iloc[0] if len(chance) else float("nan"),
                     "best_other": other["variant"] if other is not None else None,
                     "best_other_value": other["value"] if other is not None else float("nan")})
    return pd.DataFrame(rows)


def transfer_claim(summary: pd.DataFrame, source: str = "transfer.csv") -> Claim:
    """Reproduced when, on every unseen platform, some transferred arm reaches top-5 above 90%; partly
    when it does on some; else not reproduced."""
    paper = f"top-5 accuracy above {PAPER_TOP5:.0%} on previously unseen hardware (journal)"
    best = best_transfer_top5(summary)
    if best.empty:
        return Claim("transfer", paper, "no transferred arm in the table", NOT_RUN,
                     "the table holds none of the arms " + ", ".join(TRANSFERRED_ARMS), source)
    ours = "; ".join(
        f"{r.direction} to {r.platform}: {r.arm}"
        + (f" at {r.fraction:.0%}" if r.fraction > 0 else "")
        + f" {r.value:.2f} [{r.low:.2f}, {r.high:.2f}] (random scores {r.random:.2f})"
        for r in best.itertuples())
    reached = best["value"] > PAPER_TOP5
    verdict = REPRODUCED if reached.all() else PARTLY if reached.any() else NOT_REPRODUCED
    basis = ("best top-5 (mean over seeds, bootstrap interval over tasks) of a model pretrained without the "
             "target platform (zero-shot, fine-tuned on a share of the target's data, or multi-head), on the "
             "target's held-out networks; random scores show how easy top-5 is on those tasks")
    top = best.loc[best["value"].idxmax()]
    short = f"best top-5 {top['value']:.2f} ({top['arm']} on {top['platform']}; random {top['random']:.2f})"
    return Claim("transfer", paper, ours, verdict, basis, source, PAPER_SHORT["transfer"], short)


# --- the table -------------------------------------------------------------------------------------------

def describe_results(results_dir: Path) -> str:
    """Which result tables the folder holds, and when each was last written."""
    import time

    tables = sorted(results_dir.glob("*.csv")) if results_dir.is_dir() else []
    if not tables:
        return (f"{display_path(results_dir, name_outside=True)}: no result tables yet; run the chapters before "
                "this one")
    lines = [f"{display_path(results_dir, name_outside=True)}:"] + [
        f"  {t.name} (written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t.stat().st_mtime))})"
        for t in tables]
    return "\n".join(lines)


def read_table(results_dir: str | os.PathLike, name: str) -> pd.DataFrame | None:
    """A chapter's results table, or None when that chapter has not written it."""
    path = Path(results_dir) / name
    return pd.read_csv(path) if path.exists() else None


def claims_table(results_dir: str | os.PathLike, measured_tuning: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every claim with its verdict, read from the chapters' CSVs under ``results_dir``. The transfer-tuning
    claim is judged on the full experiment's exports in ``measured_tuning``
    (:data:`tenset_study.tuning.archive.MEASURED_STUDIES`) where there are any, else on the book's run."""
    from ..tuning import archive as study_archive

    results_dir = Path(results_dir)
    claims = []
    split = read_table(results_dir, "split_comparison.csv")
    claims.append(split_claim(split) if split is not None else
                  _not_run("split comparison", "split choice matters", results_dir / "split_comparison.csv",
                           "notebook 02"))
    pruning = read_table(results_dir, "pruning.csv")
    claims.append(pruning_claim(pruning) if pruning is not None else
                  _not_run("pruning", _paper_pruning(), results_dir / "pruning.csv", "notebook 03"))
    transfer = read_table(results_dir, "transfer.csv")
    claims.append(transfer_claim(transfer) if transfer is not None else
                  _not_run("transfer", f"top-5 above {PAPER_TOP5:.0%} on unseen hardware",
                           results_dir / "transfer.csv", "notebook 05"))
    measured = study_archive.measured_results(measured_tuning)
    tuning_results = read_table(results_dir, "transfer_tuning.csv")
    if measured is not None:
        claims.append(tuning_claim(measured, source=f"{display_path(measured_tuning, name_outside=True)} (the full "
                                                    "experiment, measured offline)",
                                   curves=study_archive.measured_curves(measured_tuning)))
    elif tuning_results is not None:
        claims.append(tuning_claim(tuning_results,
                                   source=display_path(results_dir / "transfer_tuning.csv", name_outside=True),
                                   curves=read_table(results_dir, "transfer_tuning_curves.csv")))
    else:
        claims.append(_not_run("transfer tuning", "on-par inference time with 25-40% of the tuning time",
                               results_dir / "transfer_tuning.csv", "notebook 05 (transfer tuning)"))
    return pd.DataFrame([c.as_dict() for c in claims])


def verdict_table(table: pd.DataFrame) -> pd.DataFrame:
    """The verdicts at a glance, one short line per claim (:func:`claims_table`'s rows): the claim, the paper's
    figure and ours in a few words, the verdict. :func:`claim_details` gives the rest."""
    frame = table.copy()
    frame["paper_short"] = [s or PAPER_SHORT.get(c, p) for c, p, s in zip(frame["claim"], frame["paper"],
                                                                           frame["paper_short"])]
    frame["ours_short"] = [s or o for o, s in zip(frame["ours"], frame["ours_short"])]
    return frame[["claim", "paper_short", "ours_short", "verdict"]].rename(
        columns={"paper_short": "paper", "ours_short": "this book"}).set_index("claim")


def claim_details(table: pd.DataFrame) -> str:
    """Markdown: per claim of :func:`claims_table`, a heading with its verdict, then the paper's claim, our
    figures in full (one item per case), how the verdict was decided and the table it was read from."""
    blocks = []
    for row in table.itertuples():
        separator = " | " if " | " in str(row.ours) else "; "
        cases = [part.strip() for part in str(row.ours).split(separator) if part.strip()]
        blocks += [f"**{row.claim}**: *{row.verdict}*", "",
                   f"- paper: {row.paper}",
                   "- this book:" + ("".join(f"\n  - {case}" for case in cases) if len(cases) > 1 else
                                     f" {cases[0] if cases else '-'}"),
                   f"- basis: {row.basis}", f"- read from: `{row.source}`", ""]
    return "\n".join(blocks)


def plot_pruning_claim(best: pd.DataFrame):
    """Bars: every strategy's mean share pruned without loss, per split, beside the paper's 45% and 53%."""
    import matplotlib.pyplot as plt

    from .style import palette, width

    splits = list(dict.fromkeys(best["split"]))
    fig, axes = plt.subplots(1, len(splits), figsize=(width(len(splits), 3.6), 3.6), sharey=True, squeeze=False)
    for ax, split in zip(axes[0], splits):
        part = best[best["split"] == split].sort_values("pruned")
        ax.barh(part["strategy"], part["pruned"], color=palette(1)[0])
        for share, style in zip(PAPER_PRUNED, ("--", ":")):
            ax.axvline(share, color="black", linestyle=style, linewidth=1)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
        ax.set_title(f"split: {split}", fontsize="medium")
        ax.set_xlabel("training programs removed (%)")
    axes[0][0].set_ylabel("pruning strategy")
    axes[0][0].text(PAPER_PRUNED[1], -0.9, f" paper: {PAPER_PRUNED[0]:.0%} (dashed) / {PAPER_PRUNED[1]:.0%} (dotted)",
                    fontsize=8, va="bottom")
    fig.suptitle("Share of training data pruned without a PCA loss (mean over models and platforms)",
                 fontsize="medium")
    fig.tight_layout()
    plt.close(fig)
    return fig
