"""The chapters' experiments at a chosen size, without plotting (the GPU host has no matplotlib), each returning
the tables its chapter shows, and :func:`export_results`, which runs one and writes its export (:mod:`.store`).

Each runner makes the same calls as its chapter's cells, so an export of the ``full`` preset and the chapter's
live ``book`` run differ only by the preset: ``splits`` (chapter 02: every model under every split),
``pruning`` (chapter 03: the whole grid of strategies, kept shares and seeds), ``cost-models`` (chapter 04: the
models with their diagnostics, paired differences, hardware-swap test and learning curve) and ``transfer``
(chapter 05, part 1: every arm at every share of the unseen platform's data, beside the bounds).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from .store import EXPORTS_DIR, provenance, write_export

#: The chapters' default models.
SPLIT_MODELS = ("xgb", "ours")
PRUNING_MODELS = ("xgb", "ours")
COST_MODELS = ("xgb", "mlp", "tlp", "ours")
ALL_SPLITS = ("random", "within-task", "by-task", "by-network", "by-op", "by-platform")


def _settings(preset: str) -> dict:
    from ..evaluation.experiments import resolve_preset

    return resolve_preset(preset)


def run_splits(dataset, preset: str = "full", models: Sequence[str] = SPLIT_MODELS,
               splits: Sequence[str] = ALL_SPLITS) -> dict[str, pd.DataFrame]:
    """Chapter 02: every model under every split this dataset supports. Tables: results, summary, splits."""
    from ..evaluation import experiments

    settings = _settings(preset)
    ds, records, inputs, links = experiments.prepare(dataset, list(models), max_len=settings["max_len"])
    the_splits = experiments.applicable_splits(list(splits), records, links)
    results = experiments.compare_splits(list(models), settings, inputs, the_splits, links)
    table = experiments.split_table(the_splits, records).reset_index()
    table["held out"] = table["held out"].map(str)  # a dict per split: kept as its text
    return {"results": results, "summary": experiments.summarize_seeds(results), "splits": table}


def run_pruning(dataset, preset: str = "full", models: Sequence[str] = PRUNING_MODELS) -> dict[str, pd.DataFrame]:
    """Chapter 03: the pruning grid of the preset (strategies, kept shares, seeds, splits). Tables: runs, summary."""
    from .. import pruning
    from ..evaluation import experiments

    settings = _settings(preset)
    ds, records, inputs, links = experiments.prepare(dataset, [*models, "xgb"], max_len=settings["max_len"])
    curve = pruning.run_pruning_study(ds, inputs, links, list(models), settings,
                                      strategies=list(settings["prune_strategies"]),
                                      splits=list(settings["prune_splits"]),
                                      fractions=list(settings["prune_fractions"]), progress=True)
    return {"runs": curve, "summary": pruning.summarize_curve(curve)}


def run_cost_models(dataset, preset: str = "full", models: Sequence[str] = COST_MODELS) -> dict[str, pd.DataFrame]:
    """Chapter 04: the models under the by-network split with every seed, the bounds beside them, the paired
    differences against the MLP, the hardware-swap test of ``ours`` and the learning curve of ``ours`` and the best
    baseline. Tables: results, summary, references, diagnostics, paired, swap, timing, curve, gain."""
    from ..evaluation import experiments
    from ..evaluation.diagnostics import diagnostics_table
    from ..evaluation.hardware_swap import hardware_swap
    from ..evaluation.paired import paired_differences
    from ..evaluation.references import reference_rows

    settings = _settings(preset)
    ds, records, inputs, links = experiments.prepare(dataset, list(models), max_len=settings["max_len"])
    split = experiments.default_split(records, links, "by-network")
    specs = experiments.model_specs(list(models), settings)
    timings, scores, fitted = [], {}, {}
    results = experiments.run_experiment(specs, inputs, split, links, seeds=settings["seeds"],
                                         n_boot=settings["n_boot"], timings=timings, scores=scores, models=fitted)
    summary = experiments.summarize_seeds(results)
    test = records.iloc[split.test].reset_index(drop=True)
    references = reference_rows(ds, test, links, latencies=records, n_boot=settings["n_boot"])
    tables = {"results": results, "summary": summary, "references": references,
              "diagnostics": diagnostics_table(summary, references),
              "paired": paired_differences(test, scores, base="mlp" if "mlp" in scores else specs[0].variant,
                                           n_boot=settings["n_boot"]),
              "timing": experiments.timing_table(timings)}
    if "ours" in fitted:
        tables["swap"] = hardware_swap(fitted["ours"][0]["all"], inputs, split.test, n_boot=settings["n_boot"])
    fitted.clear()  # the learning curve trains its own models
    baseline = experiments.best_baseline(summary)
    curve_specs = [s for s in specs if s.variant in ("ours", baseline)]
    curve = experiments.summarize_curve(experiments.learning_curve(
        curve_specs, inputs, split, links, settings["curve_tasks"], seeds=settings["curve_seeds"],
        n_boot=settings["n_boot"]))
    tables.update(curve=curve, gain=experiments.gain_per_doubling(curve))
    return tables


def run_transfer(dataset, preset: str = "full", directions: Sequence[str] | None = None,
                 targets: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Chapter 05, part 1: every arm of the preset at every share of each unseen platform's data, for every
    direction and seed, with each target's noise ceiling, oracle and random scores. Tables: runs, summary,
    bounds."""
    from ..evaluation import experiments
    from ..evaluation.references import reference_rows
    from ..transfer import experiment as transfer

    settings = _settings(preset)
    arms = list(settings["transfer_arms"])
    ds, records, inputs, links = experiments.prepare(dataset, transfer.models_of(arms), max_len=settings["max_len"])
    split = experiments.default_split(records, links, "by-network")
    chosen = transfer.select_directions(records, list(directions or settings["transfer_directions"]),
                                        list(targets) if targets else None)
    runs = transfer.run_transfer(inputs, links, split, chosen, settings, arms=arms,
                                 fractions=list(settings["transfer_fractions"]), progress=True)
    test = records.iloc[split.test]
    target_test = test[test["platform"].isin([d.target for d in chosen])].reset_index(drop=True)
    bounds = reference_rows(ds, target_test, links, latencies=records, n_boot=settings["n_boot"])
    return {"runs": runs, "summary": transfer.summarize_transfer(runs), "bounds": bounds}


#: Experiment name -> its runner.
RUNNERS: dict[str, Callable[..., dict[str, pd.DataFrame]]] = {
    "splits": run_splits, "pruning": run_pruning, "cost-models": run_cost_models, "transfer": run_transfer}


def units_folder(out: str | os.PathLike) -> Path:
    """Where :func:`export_results` keeps the finished units of an export to ``out`` until it is written: a hidden
    sibling folder (``data/exports/.cost-models.units``), ignored by git."""
    out = Path(out)
    return out.parent / f".{out.name}.units"


def export_results(experiment: str, dataset: str | os.PathLike, preset: str = "full",
                   out: str | os.PathLike | None = None, command: str | None = None, keep_units: bool = False,
                   **options) -> list[Path]:
    """Run ``experiment`` (a key of :data:`RUNNERS`) on ``dataset`` under ``preset`` and write its export to
    ``out`` (default ``data/exports/<experiment>`` under the repository root). Returns the paths written.

    Resumable: every finished unit (a model fitted for one seed, a transfer direction and seed) is kept in
    :func:`units_folder` as it completes, and the same call after an interruption computes only the rest
    (:mod:`tenset_study.evaluation.resume`). The units are deleted once the export is written, unless
    ``keep_units``; the provenance says how many units were reused and their compute time in all."""
    import shutil

    from ..data.dataset import Dataset
    from ..data.provenance import dataset_content_fingerprint
    from ..evaluation.resume import resuming
    from ..params import check_choice, repo_root

    check_choice(experiment, RUNNERS, "experiment", "experiment")
    settings = _settings(preset)
    Dataset.open(dataset)  # a clear error for a folder that is no dataset, before anything is written
    folder = Path(out) if out is not None else repo_root() / EXPORTS_DIR / experiment
    plain_options = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in options.items()}
    fingerprint = dataset_content_fingerprint(dataset)
    context = {"experiment": experiment, "preset": preset, "settings": settings, "options": plain_options,
               "dataset": fingerprint}
    started = dt.datetime.now(dt.timezone.utc)
    with resuming(units_folder(folder), context) as store:
        if store.units():
            print(f"{experiment}: resuming with {store.units()} finished units from {store.folder}", file=sys.stderr)
        try:
            tables = RUNNERS[experiment](dataset, preset, **options)
        except BaseException:
            if not store.units():  # nothing finished: leave no empty units folder behind
                shutil.rmtree(store.folder, ignore_errors=True)
            raise
    prov = provenance(experiment, {"preset": preset, **settings}, dataset, started, command=command,
                      extra={"options": plain_options, "resume": store.summary()}, fingerprint=fingerprint)
    paths = write_export(folder, tables, prov)
    if not keep_units:
        shutil.rmtree(store.folder, ignore_errors=True)
    return paths
