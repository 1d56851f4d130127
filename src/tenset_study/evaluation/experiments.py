"""Experiments as the chapters and commands run them: a dataset prepared for the named models, the splits it
supports, every model under every split, and the summary written to ``results/``.

The pieces live in their own modules and are re-exported here under the names the notebooks, commands and
benchmarks use: :mod:`~tenset_study.evaluation.runner` (models x seeds under one split, tidy rows,
:func:`summarize_seeds`), :mod:`~tenset_study.evaluation.presets` (:data:`PRESETS`, :func:`resolve_preset`,
the models' hyperparameters) and :mod:`~tenset_study.evaluation.benchmarks` (the committed speed runs).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..models.inputs import ModelInputs
from .benchmarks import read_benchmarks, read_ddp_benchmarks, read_inference_benchmarks
from .presets import (PRESETS, PRUNE_STRATEGIES, TRANSFER_ARMS, ablation_specs, check_model_names, model_params,
                      model_specs, resolve_preset)
from .runner import (DEFAULT_SCOPES, RESULT_COLUMNS, SCOPES, ModelSpec, RunTiming, epochs_run,
                     fitted_histories, run_experiment, summarize_seeds, timing_table, train_and_score)
from .learning_curves import best_baseline, gain_per_doubling, learning_curve, summarize_curve
from .splits import Split, check_split_names

__all__ = [
    "DEFAULT_SCOPES", "PRESETS", "PRUNE_STRATEGIES", "RESULT_COLUMNS", "SCOPES", "TRANSFER_ARMS", "ModelSpec",
    "RunTiming", "ablation_specs", "applicable_splits", "best_baseline", "gain_per_doubling", "learning_curve",
    "summarize_curve", "check_model_names", "check_split_names", "compare_splits",
    "default_split", "epochs_run", "fitted_histories", "model_params", "model_specs",
    "parse_params", "prepare", "read_benchmarks", "read_ddp_benchmarks", "read_inference_benchmarks", "resolve_preset",
    "run_experiment", "split_table", "summarize_seeds", "timing_table", "train_and_score", "write_summary",
]


# --- preparing a dataset ----------------------------------------------------------------------------------


def prepare(dataset, model_names: list[str], platforms: list[str] | None = None, max_len: int = 64,
            perstore_workers: int | None = None, progress: bool = False):
    """Open a dataset and build what the named models need: ``(ds, records, inputs, network_tasks)``."""
    from ..data.dataset import Dataset
    from ..models import families_of
    from ..models.inputs import build_inputs
    from ..data.records import load_records, network_tasks

    ds = dataset if hasattr(dataset, "to_pandas") else Dataset.open(dataset)
    records = load_records(ds, platforms=platforms)
    if records.empty:
        raise ValueError(f"{ds.root}: no successful measurements to train on")
    families = families_of(model_names) + ("context",)
    inputs = build_inputs(ds, records, families=tuple(dict.fromkeys(families)), max_len=max_len,
                          perstore_workers=perstore_workers, progress=progress)
    return ds, records, inputs, network_tasks(ds)


def parse_params(items: list[str] | None) -> dict:
    """``["epochs=5", "hidden=64", "device=cpu"]`` -> ``{"epochs": 5, "hidden": 64, "device": "cpu"}``."""
    import json

    params = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {item!r}: expected KEY=VALUE")
        try:
            params[key.replace("-", "_")] = json.loads(text)
        except ValueError:
            params[key.replace("-", "_")] = text
    return params


# --- splits ------------------------------------------------------------------------------------------------


def default_split(records: pd.DataFrame, network_tasks: pd.DataFrame, strategy: str = "by-network",
                  seed: int = 0, **kwargs) -> Split:
    """``strategy``; a dataset with no network information (loose TenSet logs) falls back from
    ``by-network`` to ``by-task``, and says so in the split's description."""
    from .splits import make_split

    if strategy == "by-network" and network_tasks.empty:
        split = make_split("by-task", records, network_tasks, seed=seed)
        note = " (the dataset names no networks, so whole tasks are held out instead of whole networks)"
        return Split(split.name, split.train, split.test, split.held_out, split.description + note)
    return make_split(strategy, records, network_tasks, seed=seed, **kwargs)


def applicable_splits(names: list[str], records: pd.DataFrame, network_tasks: pd.DataFrame,
                      seed: int = 0) -> list[Split]:
    """The named splits this dataset supports (each printed with the reason when it is skipped)."""
    from .splits import make_split

    out = []
    for name in names:
        try:
            out.append(make_split(name, records, network_tasks, seed=seed))
        except ValueError as err:
            print(f"skipped {name}: {err}")
    return out


def split_table(splits: list[Split], records: pd.DataFrame) -> pd.DataFrame:
    """Per split: what is held out, and the records, tasks and platforms on each side."""
    rows = []
    for split in splits:
        train, test = records.iloc[split.train], records.iloc[split.test]
        held = {k: (v if not isinstance(v, (list, tuple)) or len(v) <= 5 else f"{len(v)} {k}")
                for k, v in split.held_out.items()}
        rows.append({"split": split.name, "held out": held, "train records": len(train),
                     "test records": len(test), "train tasks": train["task"].nunique(),
                     "test tasks": test["task"].nunique(), "test platforms": test["platform"].nunique()})
    return pd.DataFrame(rows).set_index("split")


def compare_splits(models: list[str], preset: dict, inputs: ModelInputs, splits: list[Split],
                   network_tasks: pd.DataFrame) -> pd.DataFrame:
    """Every model under every split (per-platform models are trained jointly under ``by-platform``, where
    the test platform has no training records)."""
    frames = []
    for split in splits:
        specs = model_specs(models, preset)
        if split.name == "by-platform":
            specs = [ModelSpec(s.name, s.params, s.variant, "joint") for s in specs]
        frames.append(run_experiment(specs, inputs, split, network_tasks, seeds=preset["seeds"],
                                     n_boot=preset["n_boot"]))
    return pd.concat(frames, ignore_index=True)


# --- results ------------------------------------------------------------------------------------------------


def write_summary(summary: pd.DataFrame, results_dir: str | os.PathLike, name: str) -> Path:
    """Write a summary under ``results_dir`` (relative paths: to the repository root) with the columns
    model, variant, scope, split, platform, network, metric, value, low, high, seed_std, seeds, tasks."""
    from ..params import resolve_path
    from ..data.results import write_results

    return write_results(summary, resolve_path(results_dir) / name)
