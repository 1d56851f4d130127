"""The values each chapter's prose quotes, computed from its data and glued by name (:mod:`.glue`).

Every function returns a mapping of names to values and declares the names (``glue_keys``); a chapter glues
the mapping with :func:`tenset_study.book.glue.glue` and its markdown pastes the names. Values the data do not
give (a split this dataset cannot run, a folder without exports) are :data:`~tenset_study.book.glue.MISSING`,
so the prose always has a value to paste.
"""

from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from .glue import MISSING, count, glued, listing, share


@glued("platforms", "networks", "tasks", "programs", "measurements", "tvm_version")
def dataset_facts(ds: Dataset) -> dict:
    """How many platforms, networks, tasks, programs and measurements the dataset holds, and the TVM
    version(s) its platforms were measured with."""
    from .exploration.contents import _json

    rows = ds.summary()
    software = ds.to_pandas("platforms", columns=["software"])["software"]
    versions = sorted({str(v["apache-tvm"]) for v in map(_json, software)
                       if isinstance(v, dict) and v.get("apache-tvm") not in (None, "None")})
    return {**{name: count(rows[name]) for name in ("platforms", "networks", "tasks", "programs", "measurements")},
            "tvm_version": listing(versions) if versions else MISSING}


@glued("noise_median", "gap_median")
def noise_gap_facts(cv: pd.DataFrame, gap: pd.DataFrame) -> dict:
    """The median repeat noise (coefficient of variation) over all measurements, and the median over tasks
    of how much slower a task's median program is than its best (tasks with two or more programs)."""
    noise = cv["cv"].dropna().median() if "cv" in cv else float("nan")
    ratios = gap.loc[gap["programs"] >= 2, "ratio"] if "ratio" in gap else pd.Series(dtype=float)
    return {"noise_median": share(noise, 1), "gap_median": MISSING if ratios.empty else f"{ratios.median():.1f}x"}


@glued("paper_pruned", "paper_pruned_journal", "paper_top5", "paper_tuning_shares")
def paper_facts() -> dict:
    """The paper's claims as :mod:`tenset_study.book.claims` tests them (one place holds each figure)."""
    from .claims import PAPER_PRUNED, PAPER_TOP5, PAPER_TUNING_SHARES

    return {"paper_pruned": share(PAPER_PRUNED[0]), "paper_pruned_journal": share(PAPER_PRUNED[1]),
            "paper_top5": share(PAPER_TOP5),
            "paper_tuning_shares": f"{100 * PAPER_TUNING_SHARES[0]:.0f}-{share(PAPER_TUNING_SHARES[1])}"}


@glued("split_reference", "split_reference_pca", "split_most_flattering", "split_flattery", "split_models")
def split_facts(summary: pd.DataFrame, reference: str = "by-network") -> dict:
    """The reference split's mean PCA over models and platforms, and the split (with the model) that
    flatters PCA most against it (:func:`tenset_study.book.report.split_flattery`)."""
    from .report import split_flattery

    flattery = split_flattery(summary, "pca", reference)
    others = flattery[flattery["split"] != reference]
    ref = flattery.loc[flattery["split"] == reference, "reference"]
    top = others.loc[others["flattery"].idxmax()] if len(others) else None
    return {"split_reference": reference, "split_reference_pca": f"{ref.mean():.3f}" if len(ref) else MISSING,
            "split_most_flattering": MISSING if top is None else f"{top['split']} ({top['variant']})",
            "split_flattery": MISSING if top is None else f"{top['flattery']:+.3f}",
            "split_models": listing(dict.fromkeys(summary["variant"]))}


@glued("pruning_fractions", "pruning_best_strategy", "pruning_best_split", "pruning_best_pruned")
def pruning_facts(summary: pd.DataFrame) -> dict:
    """The kept shares the grid tried, and the strategy that removes the most training programs without a
    PCA loss, averaged over models and platforms (:func:`tenset_study.book.claims.best_pruning`)."""
    from .claims import best_pruning

    fractions = sorted(summary.loc[summary["strategy"] != "full", "fraction"].dropna().unique(), reverse=True)
    best = best_pruning(summary)
    top = best.loc[best["pruned"].idxmax()] if len(best) else None
    return {"pruning_fractions": listing(share(f) for f in fractions),
            "pruning_best_strategy": MISSING if top is None else str(top["strategy"]),
            "pruning_best_split": MISSING if top is None else str(top["split"]),
            "pruning_best_pruned": MISSING if top is None else share(top["pruned"])}


@glued("perstore_width", "interval_level")
def method_facts() -> dict:
    """The width of MetaSchedule's per-store feature vector and the level of every bootstrap interval."""
    from ..evaluation.metrics import evaluate
    from ..features.perstore import PERSTORE_WIDTH

    level = inspect.signature(evaluate).parameters["confidence"].default
    return {"perstore_width": count(PERSTORE_WIDTH), "interval_level": share(level)}


@glued("best_model", "best_model_pca", "ours_pca")
def cost_model_facts(summary: pd.DataFrame) -> dict:
    """The model with the highest PCA on the held-out networks (mean over platforms) beside ``ours``'s."""
    pca = summary[(summary["metric"] == "pca") & (summary["network"] == "all")]
    means = pca.groupby("variant")["value"].mean().sort_values(ascending=False)
    return {"best_model": means.index[0] if len(means) else MISSING,
            "best_model_pca": f"{means.iloc[0]:.3f}" if len(means) else MISSING,
            "ours_pca": f"{means['ours']:.3f}" if "ours" in means else MISSING}


@glued("full_seeds", "full_best_model", "full_best_model_pca", "full_ours_pca", "full_ours_minus_mlp",
       "full_swap_moved", "full_swap_pairs", "full_swap_largest_delta", "full_swap_verdict")
def full_cost_model_facts(full) -> dict:
    """What the full preset's export of chapter 04 (:class:`~tenset_study.exports.Export` or None) says: its
    seeds, the best model and ``ours`` by mean PCA over platforms (:func:`cost_model_facts`), ``ours``'s paired
    PCA difference with the MLP per platform (``+0.061 [+0.051, +0.071] on <platform>``, joined), and the
    hardware swap (:func:`hardware_swap_facts`) with a verdict: whether any swap moved PCA beyond its interval."""
    if full is None:
        return {name: MISSING for name in full_cost_model_facts.glue_keys}
    best = cost_model_facts(full["summary"])
    swap_table = full.tables.get("swap")
    swap = hardware_swap_facts(swap_table)
    paired = full.tables.get("paired")
    mine = (pd.DataFrame() if paired is None else
            paired[(paired["metric"] == "pca") & (paired["model"] == "ours") & (paired["minus"] == "mlp")])
    versus = listing(f"{r.diff:+.3f} [{r.low:+.3f}, {r.high:+.3f}] on {r.platform}"
                     for r in mine.sort_values("platform").itertuples())
    return {"full_seeds": count(len(full.provenance.get("settings", {}).get("seeds", ()))),
            **{f"full_{name}": best[name] for name in ("best_model", "best_model_pca", "ours_pca")},
            "full_ours_minus_mlp": versus if len(mine) else MISSING,
            **{f"full_{name}": swap[name] for name in ("swap_moved", "swap_pairs", "swap_largest_delta")},
            "full_swap_verdict": _swap_verdict(swap_table)}


def _swap_verdict(swap: pd.DataFrame | None) -> str:
    """A clause on whether scoring with another platform's hardware features moved any PCA beyond its interval."""
    if swap is None or swap.empty:
        return MISSING
    if _moved(swap).any():
        return "the trained model uses the hardware features it is given"
    return "the hardware features change no ranking beyond the noise of the tasks"


def _moved(swap: pd.DataFrame) -> pd.Series:
    """Per swap: whether its PCA change's interval over tasks excludes zero."""
    return (swap["delta_low"] > 0) | (swap["delta_high"] < 0)


@glued("swap_pairs", "swap_moved", "swap_min_task_spearman", "swap_largest_delta")
def hardware_swap_facts(swap: pd.DataFrame | None) -> dict:
    """How many (platform, other hardware) swaps :func:`~tenset_study.evaluation.hardware_swap.hardware_swap`
    made, in how many the PCA moved beyond its interval over tasks, the lowest mean within-task rank
    correlation of the two scorings, and the largest PCA change (signed)."""
    if swap is None or swap.empty:
        return {name: MISSING for name in hardware_swap_facts.glue_keys}
    moved = _moved(swap)
    largest = swap.loc[swap["delta"].abs().idxmax(), "delta"]
    return {"swap_pairs": count(len(swap)), "swap_moved": count(int(moved.sum())),
            "swap_min_task_spearman": f"{swap['task_spearman'].min():.4f}", "swap_largest_delta": f"{largest:+.4f}"}


@glued("transfer_best_arm", "transfer_best_top5", "transfer_random_top5", "transfer_targets")
def transfer_facts(summary: pd.DataFrame) -> dict:
    """The transferred arm with the best top-5 on an unseen platform, random scores' top-5 on the same tasks,
    and how many (direction, target) pairs were tried (:func:`tenset_study.book.claims.best_transfer_top5`)."""
    from .claims import best_transfer_top5

    best = best_transfer_top5(summary)
    top = best.loc[best["value"].idxmax()] if len(best) else None
    return {"transfer_best_arm": MISSING if top is None else f"{top['arm']} on {top['platform']}",
            "transfer_best_top5": MISSING if top is None else f"{top['value']:.2f}",
            "transfer_random_top5": MISSING if top is None else f"{top['random']:.2f}",
            "transfer_targets": count(len(best))}


@glued("book_tuning_networks", "book_trials_per_task", "book_timing_repeats", "full_tuning_networks",
       "full_trials_per_task", "full_timing_rounds", "full_timing_repeats", "book_tuning_shares", "tuning_shares",
       "full_tuning_seeds")
def tuning_preset_facts() -> dict:
    """The transfer-tuning settings of the ``book`` and ``full`` presets (:mod:`tenset_study.evaluation.presets`)."""
    from ..evaluation.presets import PRESETS

    book, full = PRESETS["book"]["tuning"], PRESETS["full"]["tuning"]
    return {"book_tuning_networks": listing(book["networks"]), "book_trials_per_task": count(book["trials_per_task"]),
            "book_timing_repeats": count(book["timing"]["repeat"]), "full_tuning_networks": listing(full["networks"]),
            "full_trials_per_task": count(full["trials_per_task"]), "full_timing_rounds": count(full["timing"]["rounds"]),
            "full_timing_repeats": count(full["timing"]["repeat"]),
            "book_tuning_shares": listing(share(f) for f in book["fractions"]),
            "tuning_shares": listing(share(f) for f in full["fractions"]), "full_tuning_seeds": count(len(full["seeds"]))}


@glued("measured_studies", "measured_targets", "measured_trials_shares", "round_cv_median", "round_spread_max",
       "flat_tail", "flat_tolerance")
def measured_tuning_facts(folder: str | os.PathLike | None) -> dict:
    """What the exported transfer-tuning studies in ``folder`` hold: how many, their targets, the range of
    the reduced arms' share of the baseline's trials, the median spread of the repeats within a timing
    round and the largest distance of a round's mean from its arm's mean; and the rule that calls a
    baseline flat (:func:`tenset_study.tuning.speedup.has_flattened`)."""
    from ..tuning import archive
    from ..tuning.speedup import has_flattened
    from ..tuning.study import compare_to_baseline

    flat = inspect.signature(has_flattened).parameters
    facts = {"flat_tail": share(flat["tail"].default), "flat_tolerance": share(flat["tolerance"].default)}
    studies = archive.measured_studies(folder) if folder is not None else []
    results = archive.measured_results(folder) if studies else None
    if results is None:
        return {**facts, "measured_studies": "0", "measured_targets": MISSING, "measured_trials_shares": MISSING,
                "round_cv_median": MISSING, "round_spread_max": MISSING}
    comparison = compare_to_baseline(results)
    ratios = comparison.loc[comparison["arm"] != "baseline-xgb", "trials_ratio"].dropna()
    rounds = archive.measured_timing_rounds(folder)
    return {**facts, "measured_studies": count(len(studies)),
            "measured_targets": listing(sorted(results["target_platform"].dropna().unique())),
            "measured_trials_shares": f"{100 * ratios.min():.0f}-{share(ratios.max())}" if len(ratios) else MISSING,
            "round_cv_median": MISSING if rounds is None else share((rounds["std_s"] / rounds["mean_s"]).median(), 1),
            "round_spread_max": MISSING if rounds is None else share((rounds["of_mean"] - 1).abs().max(), 1)}


@glued("variant_networks", "variant_arms", "variant_seeds", "variant_chosen", "variant_chosen_search",
       "variant_chosen_speedup", "variant_default_speedup", "variant_chosen_scoring", "variant_default_scoring")
def search_variant_facts(folder: str | os.PathLike | None) -> dict:
    """What the search-variant studies in ``folder`` chose (:mod:`tenset_study.tuning.search_choice`): their
    networks and targets, the variants tried, the chosen arm with its settings, its speedup and scoring share
    beside those of the pretrained model under the study's search (``ours@100%``). MISSING where none ran."""
    from ..tuning.search_choice import measured_variant_table
    from ..tuning.speedup import geometric_mean

    table = measured_variant_table(folder) if folder is not None else None
    if table is None or table.empty:
        return dict.fromkeys(search_variant_facts.glue_keys, MISSING)
    chosen = table[table["chosen"]]
    default = table[table["arm"] == "ours@100%"]

    def geomean(values) -> str:
        mean = geometric_mean(values)
        return MISSING if np.isnan(mean) else f"{mean:.1f}x"

    return {"variant_networks": listing(sorted(table["network"].unique())),
            "variant_arms": listing(sorted(table["arm"].unique())),
            "variant_seeds": count(table["seeds"].max()),
            "variant_chosen": listing(sorted(chosen["arm"].unique())) if len(chosen) else "none",
            "variant_chosen_search": listing(sorted(chosen["search"].unique())) if len(chosen) else MISSING,
            "variant_chosen_speedup": geomean(chosen["speedup"]),
            "variant_default_speedup": geomean(default["speedup"]),
            "variant_chosen_scoring": share(chosen["scoring_share"].mean()) if len(chosen) else MISSING,
            "variant_default_scoring": share(default["scoring_share"].mean()) if len(default) else MISSING}


def measured_studies_table(folder: str | os.PathLike | None) -> pd.DataFrame:
    """One row per exported transfer-tuning study: its target, the target's kind and cores, the networks
    tuned, the baseline's trials per task, whether random-search arms ran, and the platforms the model was
    pretrained on (read from the export's provenance and pretrained model)."""
    from ..tuning import archive

    rows = []
    results = archive.measured_results(folder) if folder is not None else None
    for export in archive.measured_studies(folder) if folder is not None else []:
        provenance = json.loads((export / archive.PROVENANCE_FILE).read_text())
        arms = provenance["arms"]
        part = results[results["study"] == export.name] if results is not None else pd.DataFrame()
        base = part[part["arm"] == "baseline-xgb"]
        pretrained = [json.loads(p.read_text()).get("platforms", []) for p in sorted(export.glob("pretrained/*.json"))]
        for target in sorted({a["target_platform"] for a in arms}):
            platform = provenance.get("platforms", {}).get(target, {})
            rows.append({"study": export.name, "target": target, "kind": platform.get("kind"),
                         "cores": platform.get("cores"),
                         "networks": ", ".join(sorted({a["network"] for a in arms if a["target_platform"] == target})),
                         "trials_per_task": round((base["budget"] / base["tasks"]).median()) if len(base) else None,
                         "random_arms": any(str(a["arm"]).startswith("random@") for a in arms),
                         "pretrained_on": ", ".join(sorted({p for ps in pretrained for p in ps}))})
    return pd.DataFrame(rows)


__all__ = ["cost_model_facts", "dataset_facts", "measured_studies_table", "measured_tuning_facts", "method_facts",
           "noise_gap_facts",
           "paper_facts", "pruning_facts", "split_facts", "transfer_facts", "tuning_preset_facts"]
