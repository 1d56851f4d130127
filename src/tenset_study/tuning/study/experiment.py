"""The whole transfer-tuning experiment for one target: :func:`run_study` pretrains (or reuses) the transferred
model, tunes every arm not done yet, times every arm not timed yet, writes the result tables and compares every
arm with the baseline. Resumable: run it again after an interruption."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ...fastjson import jsonable
from ...programs import targets
from ..result import write_json
from .compare import compare_to_baseline
from .layout import TARGET_PLATFORM_FILE
from .pretrain import dataset_platforms, pretrain_for_target, target_platform_row
from .results import collect_results, write_study_results
from .run import run_transfer_tuning
from .settings import check_networks, log as _log, make_arms, network_budgets, transfer_settings
from .timing import time_tuned_networks


@dataclass
class StudyOutcome:
    """What :func:`run_study` did and found."""

    study_dir: str
    model_path: str | None
    budgets: dict
    tuning: pd.DataFrame
    timing: pd.DataFrame | None
    results: pd.DataFrame
    comparison: pd.DataFrame
    paths: dict


def run_study(dataset: str | os.PathLike | None, target_platform: str | None, networks: list[str] | None = None,
              preset: str | dict = "book", study_dir: str | os.PathLike = "studies/transfer", *,
              target: dict | None = None, budgets: dict | int | None = None, seeds: tuple[int, ...] | None = None,
              random_arms: bool | None = None, train_platforms: list[str] | None = None, tune: bool = True,
              time_networks: bool = True, retime: bool = False, timing_rounds: int | None = None,
              results_dir: str | os.PathLike | None = None, time_limit_s: float | None = None, progress: bool = True,
              log=_log) -> StudyOutcome:
    """The whole experiment for one target: pretrain (or reuse), tune every arm not done yet, time every arm
    not timed yet, write the results and compare. Resumable: run it again after an interruption.

    ``target_platform``: the dataset's platform id of the target (held out of pretraining; its hardware
    features go to our model), or None for this machine read off directly (then a dataset platform with
    the same id is held out, and with none every dataset platform is "other"). ``target``: the TVM target
    (default: this CPU, ``targets.cpu_target()``). ``networks``, ``budgets`` (B per network, or one B),
    ``seeds``, ``random_arms``: override the preset. ``tune=False`` only times and tabulates what is tuned
    (no dataset needed). ``time_networks``: time the tuned arms end to end; ``retime``: time them again even
    when done; ``timing_rounds``: time in that many rounds, each in a fresh process (default: the preset's,
    :func:`~tenset_study.tuning.study.timing.time_tuned_networks`). ``results_dir``: also merge the results
    into the files there (e.g. ``results``). ``time_limit_s``: start no arm's tuning or timing after this many
    seconds (those left are ``deferred`` and the next run does them); an arm already started runs to its end,
    so leave room for the longest.
    """
    from ...params import resolve_path

    if time_limit_s is not None and time_limit_s <= 0:
        raise ValueError(f"time_limit_s must be > 0, got {time_limit_s}")
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    settings = transfer_settings(preset)
    target = targets.checked_target(target) if target is not None else targets.cpu_target()
    networks = check_networks(list(networks or settings["networks"]))
    study_dir = resolve_path(study_dir)
    seeds = tuple(seeds or settings.get("seeds", (0,)))
    timing = dict(settings.get("timing") or {})
    if timing_rounds is not None:
        if timing_rounds < 1:
            raise ValueError(f"timing_rounds must be >= 1, got {timing_rounds}")
        timing["rounds"] = int(timing_rounds)
    model_path, per_network, tuned = None, {}, pd.DataFrame()
    if tune:
        if dataset is None:
            raise ValueError("tuning needs the dataset to pretrain on (or tune=False to only time)")
        model_path, per_network, tuned, timed = _pretrain_tune_and_time(
            dataset, target_platform, networks, settings, study_dir, target, budgets, seeds, random_arms,
            train_platforms, time_networks, retime, timing, results_dir, deadline, progress, log)
    else:
        timed = (time_tuned_networks(study_dir, networks, overwrite=retime, deadline=deadline, log=log, **timing)
                 if time_networks else None)
    paths = write_study_results(study_dir, results_dir)
    results = collect_results(study_dir)
    results = results[results["network"].isin(networks)].reset_index(drop=True)
    return StudyOutcome(str(study_dir), None if model_path is None else str(model_path), per_network, tuned, timed,
                        results, compare_to_baseline(results), paths)


def _pretrain_tune_and_time(dataset, target_platform: str | None, networks: list[str], settings: dict,
                            study_dir: Path, target: dict, budgets, seeds: tuple[int, ...], random_arms: bool | None,
                            train_platforms: list[str] | None, time_networks: bool, retime: bool, timing: dict,
                            results_dir, deadline: float | None, progress: bool, log):
    """:func:`run_study`'s tuning: store the target's platforms row, pretrain (or reuse), then tune each
    network's arms and time them as soon as they are tuned, the comparison's arms first and the random arms
    last. Returns the model's path, B per network, the tuning table and the timing table (None without
    timing)."""
    from ...data.dataset import Dataset
    from ...params import resolve_path

    row = target_platform_row(dataset, target_platform, target)
    platform = str(row["platform"])
    study_dir.mkdir(parents=True, exist_ok=True)
    write_json(study_dir / TARGET_PLATFORM_FILE, jsonable(row))
    if train_platforms is None and platform not in dataset_platforms(Dataset.open(resolve_path(dataset))):
        train_platforms = dataset_platforms(Dataset.open(resolve_path(dataset)))  # all are "other" hardware
    model_path = pretrain_for_target(dataset, platform, settings.get("model", "ours"), settings, study_dir,
                                     seed=seeds[0], train_platforms=train_platforms, progress=progress, log=log)
    per_network = network_budgets(networks, budgets, settings, target, log)
    arms = make_arms(tuple(settings.get("fractions", (0.25, 0.40))),
                     settings.get("random_arms", True) if random_arms is None else random_arms,
                     settings.get("model", "ours"), tuple(settings.get("search_variants") or {}))
    # the comparison itself first, every network timed as soon as it is tuned; the random arms last
    frames, timed_frames = [], []
    for group in ([a for a in arms if a.cost_model != "random"], [a for a in arms if a.cost_model == "random"]):
        for network in networks if group else []:
            frames.append(run_transfer_tuning(
                [network], target, per_network, study_dir, model_path=model_path, platform_row=row, seeds=seeds,
                num_trials_per_iter=int(settings.get("num_trials_per_iter", 64)), search=settings.get("search"),
                search_variants=settings.get("search_variants"), runner=settings.get("runner"), online=settings.get("online"), arms=group, deadline=deadline,
                progress=progress, log=log))
            write_study_results(study_dir, results_dir)
            if time_networks:
                timed_frames.append(time_tuned_networks(study_dir, [network], arms=[a.name for a in group],
                                                        overwrite=retime, deadline=deadline, log=log, **timing))
                write_study_results(study_dir, results_dir)
    tuned = pd.concat(frames, ignore_index=True)
    timed = pd.concat(timed_frames, ignore_index=True) if timed_frames else None
    return model_path, per_network, tuned, timed


__all__ = ["StudyOutcome", "run_study"]
