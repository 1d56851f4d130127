"""The paper's claims beside this study's measured figures, each with a verdict computed from ``results/``.

The study we reproduce states four results in its abstracts (the full texts were not available to us, so
how each was measured is our reading, and the book says so):

* pruning: up to 45% (journal: 53%) of the training data can be removed without losing pairwise comparison
  accuracy (PCA);
* tuning: on-par or better mean inference time with 25-40% of the baseline's tuning time;
* transfer: top-5 accuracy above 90% on previously unseen hardware;
* split comparison: the test-split strategy changes how good a cost model looks (no figure given).

Every function here reads a results table written by a chapter and returns one :class:`Claim`, so the
results chapter types no number by hand. A verdict is ``reproduced``, ``partly``, ``not reproduced`` or
``not run`` (the chapter that writes the table has not run); ``basis`` says how it was decided.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN = "reproduced", "partly", "not reproduced", "not run"

#: The paper's pruning claims: share of training data removed at unchanged PCA (conference, journal).
PAPER_PRUNED = (0.45, 0.53)
#: The paper's transfer claim: top-5 accuracy on unseen hardware above this.
PAPER_TOP5 = 0.90


@dataclass
class Claim:
    """One row of the results chapter's table."""

    claim: str
    paper: str
    ours: str
    verdict: str
    basis: str
    source: str

    def as_dict(self) -> dict:
        return asdict(self)


def _not_run(claim: str, paper: str, source: Path, chapter: str) -> Claim:
    return Claim(claim, paper, "-", NOT_RUN, f"{source.name} is missing: run {chapter} first", str(source))


# --- pruning ---------------------------------------------------------------------------------------------

def best_pruning(summary: pd.DataFrame) -> pd.DataFrame:
    """Per split: every strategy's pruned share without a PCA loss, averaged over models and platforms
    (:func:`~tenset_study.pruning_study.pruning_verdict`), best first; columns split, strategy, pruned,
    pruned_min (the least over models and platforms), cases."""
    from .pruning_study import pruning_verdict

    rows = []
    for split, part in summary.groupby("split", sort=False):
        verdicts = pruning_verdict(part)
        for strategy, group in verdicts.groupby("strategy", sort=False):
            rows.append({"split": split, "strategy": strategy, "pruned": group["pruned"].mean(),
                         "pruned_min": group["pruned"].min(), "cases": len(group)})
    table = pd.DataFrame(rows, columns=["split", "strategy", "pruned", "pruned_min", "cases"])
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
    return Claim("pruning", _paper_pruning(), ours, verdict, basis, source)


def _paper_pruning() -> str:
    return (f"up to {PAPER_PRUNED[0]:.0%} (journal: {PAPER_PRUNED[1]:.0%}) of the training data removed "
            "without a PCA loss")


# --- split comparison ------------------------------------------------------------------------------------

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
    flattery = split_flattery(summary, reference=reference)
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
    return Claim("split comparison", paper, ours, verdict, basis, source)


# --- the table -------------------------------------------------------------------------------------------

def results_folder(path: str | os.PathLike, parameter: str = "results_dir") -> Path:
    """The results folder (relative paths: to the repository root). It may not exist yet (no chapter has
    written to it); a path that exists but is not a folder is a ParameterError."""
    from .explore import ParameterError, resolve_path

    folder = resolve_path(path)
    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"parameter {parameter!r} = {str(path)!r}: {folder} is not a folder")
    return folder


def describe_results(results_dir: Path) -> str:
    """Which result tables the folder holds, and when each was last written."""
    import time

    tables = sorted(results_dir.glob("*.csv")) if results_dir.is_dir() else []
    if not tables:
        return f"{results_dir}: no result tables yet; run the chapters before this one"
    lines = [f"{results_dir}:"] + [
        f"  {t.name} (written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t.stat().st_mtime))})"
        for t in tables]
    return "\n".join(lines)


def read_table(results_dir: str | os.PathLike, name: str) -> pd.DataFrame | None:
    """A chapter's results table, or None when that chapter has not written it."""
    path = Path(results_dir) / name
    return pd.read_csv(path) if path.exists() else None


def claims_table(results_dir: str | os.PathLike) -> pd.DataFrame:
    """Every claim with its verdict, read from the chapters' CSVs under ``results_dir``."""
    results_dir = Path(results_dir)
    claims = []
    split = read_table(results_dir, "split_comparison.csv")
    claims.append(split_claim(split) if split is not None else
                  _not_run("split comparison", "split choice matters", results_dir / "split_comparison.csv",
                           "notebook 02"))
    pruning = read_table(results_dir, "pruning.csv")
    claims.append(pruning_claim(pruning) if pruning is not None else
                  _not_run("pruning", _paper_pruning(), results_dir / "pruning.csv", "notebook 03"))
    return pd.DataFrame([c.as_dict() for c in claims])


def plot_pruning_claim(best: pd.DataFrame):
    """Bars: every strategy's mean share pruned without loss, per split, beside the paper's 45% and 53%."""
    import matplotlib.pyplot as plt

    splits = list(dict.fromkeys(best["split"]))
    fig, axes = plt.subplots(1, len(splits), figsize=(3.6 * len(splits), 3.4), sharey=True, squeeze=False)
    for ax, split in zip(axes[0], splits):
        part = best[best["split"] == split].sort_values("pruned")
        ax.barh(part["strategy"], part["pruned"], color="#4c72b0")
        for share, style in zip(PAPER_PRUNED, ("--", ":")):
            ax.axvline(share, color="black", linestyle=style, linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_title(split)
        ax.set_xlabel("share pruned without a PCA loss")
    axes[0][0].text(PAPER_PRUNED[1], -0.9, " paper: 45% / 53%", fontsize=8, va="bottom")
    fig.tight_layout()
    plt.close(fig)
    return fig
