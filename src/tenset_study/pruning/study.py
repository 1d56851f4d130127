"""The pruning experiment: models trained on a pruned share of a split's training programs, tested on the
unchanged test records.

For each strategy of :mod:`tenset_study.pruning.strategies`, each kept fraction and each seed, the training programs
of a split are pruned (test programs are never candidates), the models are trained on the kept programs'
records and scored with the metrics of :mod:`tenset_study.evaluation.metrics`. Keeping every program is the same
experiment for every strategy, so it is run once per seed and labelled ``full``. :func:`pruning_verdict`
then finds, per strategy, the largest pruning whose mean PCA stays within the full-data model's interval.
:func:`run_pruning_study` runs the whole grid under every split the book's chapter asks for, and
:func:`write_pruning` writes its tables to ``results/``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import select as pruning
from ..evaluation.runner import ModelSpec, RunTiming, run_experiment, summarize_seeds
from ..evaluation.splits import Split
from ..models.inputs import ModelInputs
from ..params import check_choices, check_shares

#: Label of the unpruned reference run.
FULL = "full"


def program_features(inputs: ModelInputs, extra_programs=()) -> tuple[np.ndarray, np.ndarray] | None:
    """``(program ids, pooled per-store features)`` of every program in ``inputs`` (None without them), plus
    NaN rows for ``extra_programs`` that ``inputs`` lacks (e.g. programs that failed everywhere)."""
    if inputs.perstore is None:
        return None
    programs = inputs.records["program"].to_numpy()
    ids, first = np.unique(programs, return_index=True)
    matrix = inputs.perstore_of(first)
    missing = np.setdiff1d(np.asarray(extra_programs, dtype=object).astype(str), ids.astype(str))
    if len(missing):
        ids = np.concatenate([ids.astype(str), missing])
        matrix = np.vstack([matrix, np.full((len(missing), matrix.shape[1]), np.nan, dtype=matrix.dtype)])
    return ids.astype(str), matrix


def dataset_clean_report(ds, inputs: ModelInputs) -> pd.DataFrame:
    """What ``clean`` removes from the whole dataset, failed programs included
    (:func:`tenset_study.pruning.clean.clean_report`), duplicates found by the programs' pooled per-store
    features where ``inputs`` have them."""
    from ..data.records import load_records
    from .clean import clean_report

    with_failures = load_records(ds, keep_failed=True)
    return clean_report(with_failures, features=program_features(inputs, with_failures["program"]))


def check_strategies(names: list[str], parameter: str = "strategies") -> list[str]:
    """``names`` if each is a pruning strategy, else a ParameterError naming the valid ones."""
    return check_choices(names, sorted(pruning.STRATEGIES), parameter, "strategy", "strategies")


def check_fractions(fractions: list[float], parameter: str = "fractions") -> list[float]:
    """Fractions in (0, 1), sorted from the largest; a ParameterError otherwise (1.0 is always run)."""
    hint = "the full training set (1.0) is always run as the reference"
    return check_shares(fractions, parameter, whole=False, hint=hint)[::-1]


def pruning_splits(names: list[str], records: pd.DataFrame, network_tasks: pd.DataFrame, seed: int = 0) -> list[Split]:
    """The named splits this dataset supports: ``by-network`` falls back to ``by-task`` without network
    information (:func:`tenset_study.evaluation.experiments.default_split`); others are skipped with the reason
    printed."""
    from ..evaluation.experiments import applicable_splits, default_split

    out = []
    for name in names:
        if name == "by-network" and network_tasks.empty:
            out.append(default_split(records, network_tasks, name, seed=seed))
            print(f"{name}: {out[-1].description}")
        else:
            out.extend(applicable_splits([name], records, network_tasks, seed=seed))
    return out


def pruning_specs(models: list[str], preset: dict, split_name: str) -> list[ModelSpec]:
    """The models of the pruning grid: the preset's hyperparameters with its ``prune_epochs`` for neural
    models; trained jointly under ``by-platform`` (a per-platform model has no data for the unseen one)."""
    from ..evaluation.experiments import model_params

    specs = []
    for name in models:
        params = model_params(name, preset)
        if "epochs" in params:
            params["epochs"] = preset["prune_epochs"]
        spec = ModelSpec(name, params=params)
        specs.append(ModelSpec(name, params, spec.variant, "joint") if split_name == "by-platform" else spec)
    return specs


def pruned_split(split: Split, records: pd.DataFrame, kept: pruning.PruneResult) -> Split:
    """``split`` with its training rows restricted to the kept programs (test rows unchanged)."""
    train_programs = records["program"].to_numpy()[split.train]
    return Split(split.name, split.train[kept.mask(train_programs)], split.test, split.held_out,
                 split.description)


def pruning_curve(specs: list[ModelSpec], inputs: ModelInputs, split: Split, network_tasks: pd.DataFrame,
                  strategies: list[str], fractions: list[float], seeds: tuple[int, ...] = (0,),
                  workload: pd.DataFrame | None = None, n_boot: int = 1000,
                  timings: list[RunTiming] | None = None, progress: bool = True) -> pd.DataFrame:
    """Metric rows (see :data:`tenset_study.evaluation.experiments.RESULT_COLUMNS`) plus ``strategy``, ``fraction``
    (requested), ``kept_fraction``, ``train_records``, ``prune_s`` and ``fit_s`` (the variant's training
    seconds in that run) for every strategy x fraction x seed,
    and the ``full`` reference (fraction 1.0) once per seed."""
    from tqdm import tqdm

    records = inputs.records
    candidates = np.unique(records["program"].to_numpy()[split.train])
    features = program_features(inputs)
    runs = [(FULL, 1.0)] + [(s, f) for s in strategies for f in fractions]
    rows = []
    bar = tqdm(total=len(runs) * len(seeds), desc="pruning runs", disable=not progress)
    for strategy, fraction in runs:
        for seed in seeds:
            start = time.perf_counter()
            if strategy == FULL:
                sub, kept_fraction = split, 1.0
            else:
                kept = pruning.select_programs(records, strategy, fraction, seed, features=features,
                                               workload=workload, candidates=candidates)
                sub, kept_fraction = pruned_split(split, records, kept), kept.kept_fraction
            prune_s = time.perf_counter() - start
            run_timings: list[RunTiming] = []
            table = run_experiment(specs, inputs, sub, network_tasks, seeds=(seed,), n_boot=n_boot,
                                   timings=run_timings)
            fit_s = pd.Series({t.variant: 0.0 for t in run_timings})
            for t in run_timings:
                fit_s[t.variant] += t.fit_s
            rows.append(table.assign(strategy=strategy, fraction=fraction, kept_fraction=kept_fraction,
                                     train_records=len(sub.train), prune_s=prune_s,
                                     fit_s=table["variant"].map(fit_s)))
            if timings is not None:
                timings.extend(run_timings)
            bar.update(1)
    bar.close()
    return pd.concat(rows, ignore_index=True)


def summarize_curve(curve: pd.DataFrame) -> pd.DataFrame:
    """Fold seeds per (strategy, fraction, model, platform, network, metric): mean value, its standard
    deviation over seeds, the mean bootstrap interval, the mean kept fraction and training records."""
    return summarize_seeds(curve, by=("strategy", "fraction"), means=("kept_fraction", "train_records"))


def run_pruning_study(ds, inputs: ModelInputs, network_tasks: pd.DataFrame, models: list[str], settings: dict,
                      strategies: list[str] | None = None, splits: list[str] | None = None,
                      fractions: list[float] | None = None, progress: bool = True) -> pd.DataFrame:
    """The whole pruning grid of the book's chapter: :func:`pruning_curve` under every split this dataset
    supports (:func:`pruning_splits`), for the models of :func:`pruning_specs`. One tidy table (the
    ``pruning_curve`` columns, ``split`` telling the splits apart, in the order they ran).

    ``ds``: the dataset (its tasks give the workload features of ``task-cluster``); ``inputs`` and
    ``network_tasks``: :func:`tenset_study.evaluation.experiments.prepare`'s; ``settings``: a preset
    (:data:`tenset_study.evaluation.presets.PRESETS`); ``strategies``, ``splits`` and ``fractions`` default to
    its ``prune_strategies``, ``prune_splits`` and ``prune_fractions``; its ``prune_seeds`` and ``n_boot`` are
    used."""
    from ..evaluation.experiments import check_split_names
    from ..features import context

    strategies = check_strategies(list(strategies or settings["prune_strategies"]))
    splits = check_split_names(list(splits or settings["prune_splits"]))
    fractions = check_fractions(list(fractions or settings["prune_fractions"]))
    workload = context.workload_features(ds.to_pandas("tasks"))
    curves = []
    for split in pruning_splits(splits, inputs.records, network_tasks):
        specs = pruning_specs(models, settings, split.name)
        curves.append(pruning_curve(specs, inputs, split, network_tasks, strategies, fractions,
                                    seeds=settings["prune_seeds"], workload=workload, n_boot=settings["n_boot"],
                                    progress=progress))
    return pd.concat(curves, ignore_index=True)


def write_pruning(curve: pd.DataFrame, summary: pd.DataFrame, results_dir: str | os.PathLike,
                  name: str = "pruning") -> tuple[Path, Path]:
    """``<results_dir>/<name>.csv`` (summary over seeds) and ``<name>_runs.csv`` (every run: seeds, seconds),
    atomically."""
    from ..evaluation.experiments import write_summary

    return write_summary(summary, results_dir, f"{name}.csv"), write_summary(curve, results_dir, f"{name}_runs.csv")


#: Columns of :func:`pruning_verdict`.
VERDICT_COLUMNS = ["variant", "platform", "strategy", "full", "full_low", "full_high", "kept", "pruned",
                   "value_at_kept"]


def pruning_verdict(summary: pd.DataFrame, metric: str = "pca", network: str = "all") -> pd.DataFrame:
    """Per model, platform and strategy: the smallest kept fraction whose mean ``metric`` stays at or above
    the low end of the full-data model's bootstrap interval, and so the largest share pruned "without loss"
    (``pruned``), with the full and pruned values.
    Fractions are compared as kept (``kept_fraction``), which differs from the request only for strategies
    that cannot hit it exactly. A strategy that loses at every fraction gets pruned 0."""
    part = summary[(summary["metric"] == metric) & (summary["network"] == network)]
    full = part[part["strategy"] == FULL].set_index(["variant", "platform"])
    rows = []
    for (variant, platform, strategy), group in part[part["strategy"] != FULL].groupby(
            ["variant", "platform", "strategy"], sort=False):
        reference = full.loc[(variant, platform)]
        holding = group[group["value"] >= reference["low"]].sort_values("kept_fraction")
        best = holding.iloc[0] if len(holding) else None
        rows.append({
            "variant": variant, "platform": platform, "strategy": strategy,
            "full": reference["value"], "full_low": reference["low"], "full_high": reference["high"],
            "kept": best["kept_fraction"] if best is not None else 1.0,
            "pruned": 1.0 - best["kept_fraction"] if best is not None else 0.0,
            "value_at_kept": best["value"] if best is not None else reference["value"],
        })
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


def pruning_verdicts(summary: pd.DataFrame, metric: str = "pca", network: str = "all") -> pd.DataFrame:
    """:func:`pruning_verdict` of every split in ``summary`` (in their order), with the split in a first
    column ``split``."""
    frames = [pruning_verdict(part, metric, network).assign(split=split)
              for split, part in summary.groupby("split", sort=False)]
    if not frames:
        return pd.DataFrame(columns=["split", *VERDICT_COLUMNS])
    verdicts = pd.concat(frames, ignore_index=True)
    return verdicts[["split", *VERDICT_COLUMNS]]


def training_time(curve: pd.DataFrame) -> pd.DataFrame:
    """Mean training seconds (pruning included) per model variant and kept fraction, over strategies and seeds,
    with the share of the full-data training time it is."""
    runs = curve.drop_duplicates(["split", "strategy", "fraction", "seed", "variant"]).assign(
        seconds=lambda f: f["fit_s"] + f["prune_s"])
    table = runs.groupby(["variant", "fraction"])["seconds"].mean().unstack(0).sort_index(ascending=False)
    return pd.concat({"seconds": table, "share of full": table / table.loc[1.0]}, axis=1).round(3)


def recommendation(verdicts: pd.DataFrame) -> str:
    """A sentence naming the strategy that prunes the most without loss, averaged over the verdict rows
    (models, platforms and splits), with each strategy's mean pruned share."""
    if verdicts.empty:
        return "No pruned runs to judge."
    mean = verdicts.groupby("strategy")["pruned"].mean().sort_values(ascending=False)
    best, share = mean.index[0], mean.iloc[0]
    listing = ", ".join(f"{s} {v:.0%}" for s, v in mean.items())
    if share == 0:
        return f"No strategy pruned any tried fraction without a PCA loss (mean pruned share: {listing})."
    return (f"Prune with {best!r}: on average it removes {share:.0%} of the training programs while the mean "
            f"PCA stays within the full-data interval (mean pruned share per strategy: {listing}). "
            "The fractions tried are the preset's; a finer grid (preset 'full') locates the limit more precisely.")
