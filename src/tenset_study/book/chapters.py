"""Each chapter's parameters, checked in one call from the chapter's set-up cell.

A notebook's parameters cell sets plain values (papermill may replace them); the next cell hands all of them
to this chapter's ``check_...`` function, which opens the dataset, resolves the preset and checks every other
parameter, the dataset first, and returns a :class:`Chapter` holding what the chapter uses. A wrong value
stops the set-up cell with a :class:`~tenset_study.params.ParameterError` naming the parameter. Every check
is one call into :mod:`tenset_study.params` or into the concept that knows the valid values
(:mod:`tenset_study.evaluation.presets`, :mod:`~tenset_study.evaluation.splits`, :mod:`~tenset_study.pruning.study`,
:mod:`~tenset_study.transfer.experiment`, :mod:`~tenset_study.tuning`).
"""

from __future__ import annotations

import os
from types import SimpleNamespace

from ..data.dataset import Dataset, DatasetError
from ..evaluation import presets, splits as split_strategies
from ..params import (ParameterError, check_choice, check_choices, check_flag, existing_folder, folder_parameter,
                      parameter_text)


class Chapter(SimpleNamespace):
    """A chapter's checked parameters, each under its parameter's name: ``ds`` is the opened dataset,
    ``settings`` the preset's settings (where the chapter has a preset), ``summary`` what the set-up cell
    shows."""


def open_dataset(path: str | os.PathLike, parameter: str = "dataset") -> Dataset:
    """Open the dataset a notebook parameter names, or raise :class:`ParameterError` saying what is wrong.

    Parameters
    ----------
    path: the parameter's value, absolute or relative to the repository root.
    parameter: the parameter's name, used in the error message.
    """
    resolved = existing_folder(path, parameter)
    where = parameter_text(parameter, str(path), resolved)
    try:
        ds = Dataset.open(resolved)
    except DatasetError as err:
        raise ParameterError(f"{where}: not a tenset-study dataset ({err})") from err
    if ds.count("measurements") == 0:
        raise ParameterError(f"{where}: the dataset has no measurements; collect or import some first")
    return ds


def _platforms(ds: Dataset) -> list[str]:
    return sorted(ds.to_pandas("platforms", columns=["platform"])["platform"].unique())


def check_exploration(dataset: str | os.PathLike) -> Chapter:
    """Chapter 01 (exploring the dataset): the dataset."""
    return Chapter(ds=open_dataset(dataset), summary={})


def check_split_comparison(dataset: str | os.PathLike, preset: str, models: list[str], splits: list[str],
                           results_dir: str | os.PathLike) -> Chapter:
    """Chapter 02 (split comparison): the dataset, the preset, the models and the split strategies compared,
    and the results folder."""
    ds = open_dataset(dataset)
    settings = presets.resolve_preset(preset)
    return Chapter(ds=ds, settings=settings, models=presets.check_model_names(list(models)),
                   splits=split_strategies.check_split_names(list(splits)),
                   results_dir=folder_parameter(results_dir, "results_dir"), summary=settings)


def check_pruning(dataset: str | os.PathLike, preset: str, models: list[str], strategies: list[str] | None,
                  splits: list[str] | None, results_dir: str | os.PathLike) -> Chapter:
    """Chapter 03 (dataset pruning): the dataset, the preset, the models, the pruning strategies and splits
    (None: the preset's), the preset's kept fractions, and the results folder."""
    from ..pruning import study

    ds = open_dataset(dataset)
    settings = presets.resolve_preset(preset)
    strategies = study.check_strategies(list(strategies or settings["prune_strategies"]))
    splits = split_strategies.check_split_names(list(splits or settings["prune_splits"]))
    shown = ("prune_fractions", "prune_seeds", "prune_epochs", "hidden", "rounds", "n_boot")
    return Chapter(ds=ds, settings=settings, models=presets.check_model_names(list(models)),
                   strategies=strategies, splits=splits,
                   fractions=study.check_fractions(list(settings["prune_fractions"]), parameter="prune_fractions"),
                   results_dir=folder_parameter(results_dir, "results_dir"),
                   summary={"strategies": strategies, "splits": splits, **{k: settings[k] for k in shown}})


def check_cost_models(dataset: str | os.PathLike, preset: str, models: list[str], split: str,
                      results_dir: str | os.PathLike, benchmarks_dir: str | os.PathLike) -> Chapter:
    """Chapter 04 (the attention cost model): the dataset, the preset, the models, the test split, the
    results folder and the folder of committed speed runs."""
    ds = open_dataset(dataset)
    settings = presets.resolve_preset(preset)
    return Chapter(ds=ds, settings=settings, models=presets.check_model_names(list(models)),
                   split=check_choice(split, split_strategies.STRATEGIES, "split", "split"),
                   results_dir=folder_parameter(results_dir, "results_dir"),
                   benchmarks_dir=folder_parameter(benchmarks_dir, "benchmarks_dir"), summary=settings)


def check_transfer(dataset: str | os.PathLike, preset: str, directions: list[str] | None, targets: list[str] | None,
                   arms: list[str] | None, fractions: list[float] | None, results_dir: str | os.PathLike,
                   tuning_networks: list[str] | None, tuning_target_platform: str | None,
                   study_dir: str | os.PathLike, measured_tuning: str | os.PathLike | None,
                   tune_live: bool = True, search_variants: str | os.PathLike | None = None) -> Chapter:
    """Chapter 05 (transfer): the dataset, the preset, the directions, target platforms, arms and shares of
    the target data (None: the preset's, or every target), the results folder, and the transfer-tuning
    networks, target platform, work folder and exports, whether to tune here now (``tune_live``), and the
    exports of the search-variant studies (``search_variants``; None: none)."""
    from ..transfer import experiment as transfer
    from ..tuning import archive, study

    ds = open_dataset(dataset)
    settings = presets.resolve_preset(preset)
    platforms = _platforms(ds)
    chapter = Chapter(
        ds=ds, settings=settings,
        directions=transfer.check_direction_labels(list(directions or settings["transfer_directions"])),
        targets=None if targets is None else check_choices(targets, platforms, "targets", "platform"),
        arms=transfer.check_arms(list(arms or settings["transfer_arms"])),
        fractions=transfer.check_fractions(list(fractions or settings["transfer_fractions"])),
        results_dir=folder_parameter(results_dir, "results_dir"),
        tuning_networks=study.check_networks(list(tuning_networks or settings["tuning"]["networks"]),
                                             parameter="tuning_networks"),
        tuning_target_platform=None if tuning_target_platform is None else check_choice(
            tuning_target_platform, platforms, "tuning_target_platform", "platform"),
        study_dir=folder_parameter(study_dir, "study_dir"),
        measured_tuning=archive.check_measured_folder(measured_tuning, parameter="measured_tuning"),
        search_variants=archive.check_measured_folder(search_variants, parameter="search_variants"),
        tune_live=check_flag(tune_live, "tune_live"))
    shown = ("transfer_seeds", "transfer_epochs", "transfer_finetune_epochs", "transfer_finetune_lr",
             "transfer_min_per_task", "hidden", "rounds", "n_boot")
    chapter.summary = {"directions": chapter.directions, "targets": chapter.targets, "arms": chapter.arms,
                       "fractions": chapter.fractions, **{k: settings[k] for k in shown}}
    return chapter


def check_results(dataset: str | os.PathLike, results_dir: str | os.PathLike,
                  measured_tuning: str | os.PathLike | None,
                  search_variants: str | os.PathLike | None = None) -> Chapter:
    """Chapter 06 (results against the paper): the dataset the chapters ran on, the folder of their tables,
    the exports of the full transfer-tuning experiment and those of the search-variant studies."""
    from ..tuning import archive

    return Chapter(ds=open_dataset(dataset), results_dir=folder_parameter(results_dir, "results_dir"),
                   measured_tuning=archive.check_measured_folder(measured_tuning, parameter="measured_tuning"),
                   search_variants=archive.check_measured_folder(search_variants, parameter="search_variants"),
                   summary={})


__all__ = ["Chapter", "check_cost_models", "check_exploration", "check_pruning", "check_results",
           "check_split_comparison", "check_transfer", "open_dataset"]
