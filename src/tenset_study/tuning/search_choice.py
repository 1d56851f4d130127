"""Choosing how a pretrained cost model searches (issue 19, item 3).

A pretrained model ranks candidates well from the first round, so it may need less of MetaSchedule's
evolutionary search (population, evolution iterations) than the XGBoost model that starts blind, and every
candidate it does not score is feature-extraction time saved. A *search-variant study* tunes networks outside
the reported set with the baseline, the pretrained model under the study's search, and the same model under
each variant (``transfer-tune --search-variants``); :func:`variant_table` lines the pretrained arms up and
:func:`choose_variant` applies the rule stated in chapter 05: the arm that reaches the baseline's final latency
in every seed pair of every network and has the largest search-time speedup (geometric mean over networks).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .speedup import geometric_mean, group_columns, speedup_table
from .study.settings import BASELINE

#: The columns of :func:`variant_table`.
VARIANT_COLUMNS = ["network", "arm", "search", "seeds", "reached", "speedup", "low", "high", "final_ratio",
                   "scoring_share", "tuning_s", "trials"]


def _final_ratios(results: pd.DataFrame, group: list[str], baseline: str) -> pd.DataFrame:
    """Per group and arm: the geometric mean over seeds of the arm's final estimated latency over the baseline's
    of the same seed (seeds the baseline lacks are left out)."""
    base = results[results["arm"] == baseline].set_index([*group, "seed"])["estimated_latency_s"]
    rows = []
    for keys, frame in results.groupby([*group, "arm"], sort=True):
        paired = frame.set_index([*group, "seed"])["estimated_latency_s"]
        ratio = (paired / base.reindex(paired.index)).dropna()
        rows.append(dict(zip([*group, "arm"], keys)) | {"final_ratio": geometric_mean(ratio)})
    return pd.DataFrame(rows, columns=[*group, "arm", "final_ratio"])


def _search_of(work_dir) -> str:
    """The EvolutionarySearch settings an arm's plan (``arm.json``) names and its trials per search round
    (``num_trials_per_iter``), as compact JSON (settings left out are MetaSchedule's defaults); '' when the plan
    cannot be read."""
    from .study.layout import ARM_FILE

    try:
        plan = json.loads((Path(work_dir) / ARM_FILE).read_text())
    except (OSError, ValueError, TypeError):
        return ""
    search = dict(plan.get("search") or {}, num_trials_per_iter=plan.get("num_trials_per_iter"))
    return json.dumps(search, sort_keys=True, separators=(",", ":"))


def variant_table(curves: pd.DataFrame, results: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Per network and pretrained arm of a search-variant study: the search-time speedup over ``baseline`` with its
    interval (:func:`~tenset_study.tuning.speedup.speedup_table`; ``reached``: seed pairs in which the arm reached
    the baseline's final latency), the final latency relative to the baseline's (``final_ratio``, geometric mean
    over seeds, below 1: better), and the means over seeds of the scoring share, tuning seconds and trials.
    ``curves`` and ``results``: :func:`~tenset_study.tuning.archive.measured_curves` and ``measured_results`` of
    the study (or a study dir's ``collect_curves``/``collect_results``). ``search``: the arm's EvolutionarySearch
    settings and trials per round, read from its plan through the results' ``work_dir`` (:func:`_search_of`)."""
    group = group_columns(curves)
    speedups = speedup_table(curves, baseline)
    speedups = speedups[speedups["arm"] != baseline]
    results = results.copy()
    if "study" in group and "study" not in results:
        results["study"] = curves["study"].iloc[0]
    means = (results.groupby([*group, "arm"], sort=True)[["scoring_share", "tuning_s", "trials"]].mean()
             .reset_index())
    dirs = results.groupby([*group, "arm"], sort=True)["work_dir"].first() if "work_dir" in results else None
    means["search"] = [_search_of(dirs.loc[tuple(row)]) if dirs is not None else ""
                       for row in means[[*group, "arm"]].itertuples(index=False)]
    table = (speedups.merge(_final_ratios(results, group, baseline), on=[*group, "arm"], how="left")
             .merge(means, on=[*group, "arm"], how="left"))
    extra = [c for c in group if c not in VARIANT_COLUMNS]
    return table[[*extra, *VARIANT_COLUMNS]].reset_index(drop=True)


def choose_variant(table: pd.DataFrame) -> str | None:
    """The arm of :func:`variant_table` that reached the baseline's final latency in every seed pair of every
    network, with the largest geometric mean of its speedups over networks (ties: the lower scoring share);
    None when no arm reached it everywhere. ``table`` holds one study (a ValueError otherwise: arms of different
    targets are not compared)."""
    if "study" in table and table["study"].nunique() > 1:
        raise ValueError(f"choose_variant compares the arms of one study, got {sorted(table['study'].unique())}")
    networks = table["network"].nunique()
    everywhere = table[(table["reached"] == table["seeds"]) & (table["seeds"] > 0)]
    counted = everywhere.groupby("arm")["network"].nunique()
    candidates = everywhere[everywhere["arm"].isin(counted[counted == networks].index)]
    if candidates.empty:
        return None
    summary = candidates.groupby("arm").agg(speedup=("speedup", geometric_mean),
                                            scoring_share=("scoring_share", "mean"))
    summary = summary.sort_values(["speedup", "scoring_share"], ascending=[False, True])
    return str(summary.index[0])


def measured_variant_table(folder) -> pd.DataFrame:
    """:func:`variant_table` of every search-variant study exported under ``folder`` (``export-study``), with a
    ``study`` column and ``chosen`` (the arm :func:`choose_variant` picks in its study); empty when none."""
    from . import archive

    curves, results = archive.measured_curves(folder), archive.measured_results(folder)
    if curves is None or results is None:
        return pd.DataFrame(columns=["study", *VARIANT_COLUMNS, "chosen"])
    tables = []
    for study, part in curves.groupby("study", sort=True):
        table = variant_table(part, results[results["study"] == study])
        tables.append(table.assign(chosen=table["arm"] == choose_variant(table)))
    return pd.concat(tables, ignore_index=True)


__all__ = ["VARIANT_COLUMNS", "choose_variant", "measured_variant_table", "variant_table"]
