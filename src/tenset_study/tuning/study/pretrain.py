"""The target of a study and the model transferred to it: :func:`target_platform_row` (the platforms row whose
hardware features our model gets) and :func:`pretrain_for_target` (the model trained on every other platform,
saved under ``study_dir/pretrained/`` and reused by later runs with the same settings)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ...params import display_path
from ...programs import targets
from ..platforms import platform_row_for, platform_row_from_dataset
from .layout import PRETRAINED_DIR
from .settings import log as _log, transfer_settings


def target_platform_row(dataset: str | os.PathLike | None, target_platform: str | None, target: dict) -> dict:
    """The platforms row whose hardware features our model gets: the dataset's row ``target_platform``, or,
    with ``target_platform=None``, the row read off this machine for ``target`` (lscpu / nvidia-smi).
    The row's kind must match the target's (a CPU row for an LLVM target, a GPU row for CUDA)."""
    if target_platform:
        if dataset is None:
            raise ValueError("target_platform needs the dataset that holds its platforms row")
        row = platform_row_from_dataset(dataset, target_platform)
    else:
        row = platform_row_for(targets.make_target(target))
    kind = targets.target_kind(target)
    if row.get("kind") and row["kind"] != kind:
        raise ValueError(f"target platform {row['platform']!r} is a {row['kind']} platform but the target "
                         f"{targets.target_json(target)} is a {kind} target")
    return row


def dataset_platforms(ds) -> list[str]:
    """The platforms with measurements in a dataset, sorted."""
    return sorted(ds.to_pandas("measurements", columns=["platform"])["platform"].unique())


def _settings_hash(settings: dict) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _training_platforms(root, available: list[str], target_platform: str,
                        train_platforms: list[str] | None) -> list[str]:
    """The platforms to pretrain on (every one but the target by default), checked against the dataset's."""
    if train_platforms is None:
        if target_platform not in available:
            raise ValueError(f"target platform {target_platform!r} has no measurements in {root} (platforms: "
                             f"{', '.join(available)}); pass train_platforms= to pretrain for a machine outside it")
        train_platforms = [p for p in available if p != target_platform]
    train_platforms = sorted(train_platforms)
    unknown = sorted(set(train_platforms) - set(available))
    if unknown:
        raise ValueError(f"train_platforms {unknown} have no measurements in {root} "
                         f"(platforms: {', '.join(available)})")
    if target_platform in train_platforms:
        raise ValueError(f"train_platforms must not include the target platform {target_platform!r}")
    if not train_platforms:
        raise ValueError(f"{root}: no platform other than {target_platform!r} to pretrain on")
    return train_platforms


def pretrain_for_target(dataset: str | os.PathLike, target_platform: str, model: str = "ours",
                        preset: str | dict = "full", study_dir: str | os.PathLike = "studies/transfer", *,
                        seed: int = 0, train_platforms: list[str] | None = None, progress: bool = True,
                        log=_log) -> Path:
    """Train ``model`` on every platform of ``dataset`` except ``target_platform`` and save it under
    ``study_dir/pretrained/``; returns the model's path.

    ``train_platforms``: train on these instead (the target must not be among them); needed when the
    target is not in the dataset (a machine measured nowhere: every dataset platform is then "other").
    The preset's ``model_params`` and ``max_len`` size the model; ``max_pretrain_records`` (small presets)
    trains on a seeded random subset of the records. The file name carries a hash of the
    settings (model, hyperparameters, dataset path, target, training platforms, seed); a file with the same
    settings is reused as it is, even when the dataset has grown since (a study keeps one model; delete the
    file to train again). ``metadata["pretrain"]`` records the settings, the records per platform, the
    tasks and the dataset's row counts at training time.
    """
    from ...data.dataset import Dataset
    from ...params import resolve_path
    from ...models import CostModel

    settings = transfer_settings(preset)
    root = resolve_path(dataset)
    ds = Dataset.open(root)
    available = dataset_platforms(ds)
    train_platforms = _training_platforms(root, available, target_platform, train_platforms)
    params = dict(settings.get("model_params") or {})
    max_len = int(settings.get("max_len", 64))
    limit = settings.get("max_pretrain_records")
    key = {"model": model, "params": params, "max_len": max_len, "dataset": str(root),
           "target_platform": target_platform, "train_platforms": train_platforms, "seed": int(seed),
           "max_records": None if limit is None else int(limit)}
    path = resolve_path(study_dir) / PRETRAINED_DIR / f"{model}-for-{target_platform}-{_settings_hash(key)}.model"
    if path.is_file():
        existing = CostModel.load(path)
        if existing.metadata.get("pretrain", {}).get("settings") == key:
            log(f"pretrained {model} for {target_platform}: reusing {display_path(path)}")
            return path
    where = "held out" if target_platform in available else "not in the dataset"
    log(f"pretraining {model} on {', '.join(train_platforms)} of {display_path(root)} "
        f"(target {target_platform}: {where})")
    _fit_and_save(ds, key, params, path, progress, log)
    return path


def _fit_and_save(ds, key: dict, params: dict, path: Path, progress: bool, log) -> None:
    """Fit ``key["model"]`` on the training platforms' records (a seeded subset of ``key["max_records"]`` when
    set) and save it at ``path`` with ``metadata["pretrain"]``."""
    from ...evaluation import experiments
    from ...models import create

    model, seed, limit = key["model"], key["seed"], key["max_records"]
    _, records, inputs, _ = experiments.prepare(ds, [model], platforms=key["train_platforms"],
                                                max_len=key["max_len"], progress=progress)
    rows = np.arange(len(records))
    if limit is not None and len(rows) > int(limit):  # a seeded random subset (small presets)
        rows = np.sort(np.random.default_rng(seed).choice(rows, int(limit), replace=False))
    fitted = create(model, seed=seed, **params).fit(inputs, rows)
    used = records.iloc[rows]
    fitted.metadata["pretrain"] = {
        "settings": key, "records": int(len(used)), "tasks": int(used["task"].nunique()),
        "records_per_platform": {str(k): int(v) for k, v in used.groupby("platform").size().items()},
        "dataset_rows": ds.summary(),
    }
    fitted.save(path)
    log(f"pretrained {model} on {len(rows)} records in {fitted.metadata['fit_seconds']:.1f} s -> "
        f"{display_path(path)}")


__all__ = ["dataset_platforms", "pretrain_for_target", "target_platform_row"]
