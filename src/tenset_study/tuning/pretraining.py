"""Training the pretrained cost models the package ships (:mod:`.pretrained` loads them): :func:`train_pretrained`
fits one target kind's model on a dataset's platforms of that kind, writes ``<model>-<kind>-v<N>.model`` into
the folder of pretrained models and records its provenance in the folder's manifest
(``tenset-study pretrain`` runs it).

The model is the transfer-tuning study's (``experiments.PRESETS[preset]["tuning"]``: ``model``,
``model_params``, ``max_len``; preset ``full`` is ``ours`` v2 with hidden 64 and 10 epochs), trained on every
record of the kind's platforms. With ``held_out=True`` the same settings are first trained without the
``by-network`` split's test networks (TenSet's evaluation networks) and scored on them: PCA and top-k per
platform go to the manifest as ``held_out`` (the shipped model itself has seen those networks).

Provenance per entry: the dataset (path as given, :func:`dataset_content_fingerprint`, row counts), the
platforms, records and tasks, the training settings (preset, model, hyperparameters, ``max_len``, seed, fit
seconds), the code (:func:`code_version`), the date and the command.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ..params import ParameterError
from ..data.provenance import code_version, dataset_content_fingerprint, file_sha256
from .pretrained import KINDS, MANIFEST_FILE, MANIFEST_FORMAT, PRETRAINED_DIR, check_kind, read_manifest

#: The platforms of ``data/v1`` each kind's shipped model is trained on (the H200 is left out: a held-out
#: tuning target of the transfer-tuning study).
DEFAULT_PLATFORMS = {"cpu": ("amd-epyc-znver5-2c", "intel-xeon-emeraldrapids-16c"), "gpu": ("h100-80gb-hbm3",)}
DEFAULT_DATASET = "data/v1"
DEFAULT_PRESET = "full"
#: Bootstrap resamples of the held-out scores' intervals.
HELD_OUT_BOOT = 200


def _check_platforms(ds, platforms: list[str], kind: str) -> None:
    """A one-line error unless every platform is one of the dataset's platforms of this kind."""
    table = ds.to_pandas("platforms").drop_duplicates("platform", keep="last")
    of_kind = sorted(table.loc[table["kind"] == kind, "platform"])
    wrong = [p for p in platforms if p not in of_kind]
    if wrong:
        raise ParameterError(f"parameter 'platforms': {', '.join(wrong)} not among the {kind} platforms of "
                             f"{ds.root} ({', '.join(of_kind) or 'none'})")


def _settings(preset: str | dict) -> dict:
    from .study.settings import transfer_settings

    settings = transfer_settings(preset)
    return {"model": settings.get("model", "ours"), "params": dict(settings.get("model_params") or {}),
            "max_len": int(settings.get("max_len", 64))}


def held_out_scores(inputs, records, links, settings: dict, seed: int) -> dict:
    """The settings' model trained without the ``by-network`` test networks and scored on them: per platform,
    PCA, top-1 and top-5 with bootstrap intervals over tasks, and the held-out networks."""
    from ..evaluation import experiments, metrics
    from ..models import create

    split = experiments.default_split(records, links, "by-network")
    model = create(settings["model"], seed=seed, **settings["params"]).fit(inputs, split.train)
    table = metrics.evaluate(records.iloc[split.test].reset_index(drop=True), model.predict(inputs, split.test),
                             links, n_boot=HELD_OUT_BOOT, seed=seed)
    rows = table[table["network"] == "all"]
    scores = {str(platform): {row["metric"]: {"value": round(float(row["value"]), 4),
                                              "low": round(float(row["low"]), 4), "high": round(float(row["high"]), 4)}
                              for _, row in group.iterrows()} | {"tasks": int(group["tasks"].max())}
              for platform, group in rows.groupby("platform")}
    return {"split": split.name, "networks": list(split.held_out.get("networks", [])),
            "train_records": int(len(split.train)), "test_records": int(len(split.test)), "platforms": scores}


def _entry(kind: str, model, path: Path, version: int, dataset: str, root: Path, ds, preset, settings: dict,
           seed: int, command: str | None) -> dict:
    """The manifest entry of a freshly saved model."""
    meta = model.metadata
    return {
        "kind": kind, "version": version, "file": path.name, "sha256": file_sha256(path),
        "bytes": path.stat().st_size, "model": model.name,
        "dataset": {"path": str(dataset), "fingerprint": dataset_content_fingerprint(root), "rows": ds.summary()},
        "platforms": meta["platforms"], "records": meta["train_records"], "tasks": meta["train_tasks"],
        "training": {"preset": preset if isinstance(preset, str) else "custom", "model": settings["model"],
                     "params": settings["params"], "max_len": settings["max_len"], "seed": seed,
                     "fit_seconds": round(float(meta["fit_seconds"]), 1),
                     "feature_versions": meta.get("feature_versions", {})},
        "code": code_version(ignore=path.parent), "trained_at": meta["fitted_at"],
        "command": command or f"tenset-study pretrain --kind {kind} --dataset {dataset}",
    }


def train_pretrained(kind: str, dataset: str | os.PathLike = DEFAULT_DATASET, platforms: list[str] | None = None,
                     preset: str | dict = DEFAULT_PRESET, *, seed: int = 0, held_out: bool = True,
                     folder: str | os.PathLike | None = None, command: str | None = None,
                     progress: bool = True, log=print) -> dict:
    """Train a kind's pretrained model and ship it: returns its manifest entry (module docstring).

    Parameters
    ----------
    kind: ``cpu`` or ``gpu``.
    dataset: the dataset (relative paths resolve against the repository root; the manifest keeps it as given).
    platforms: the platforms trained on (default: :data:`DEFAULT_PLATFORMS`); all must be of this kind.
    preset: the preset whose transfer-tuning settings size the model (or a dict of them).
    seed: seeds the training (and the held-out run).
    held_out: first train without the held-out networks and score on them (``held_out`` in the manifest).
    folder: the folder of pretrained models (default: the package's); the kind's previous file is replaced,
        its version number goes up by one.
    command: the command line recorded in the manifest.
    """
    from ..data.dataset import Dataset
    from ..data.files import write_json_atomic
    from ..evaluation import experiments
    from ..models import create
    from ..params import resolve_path

    kind = check_kind(kind)
    folder = Path(folder or PRETRAINED_DIR)
    platforms = sorted(platforms or DEFAULT_PLATFORMS[kind])
    settings = _settings(preset)
    root = resolve_path(dataset)
    ds = Dataset.open(root)
    _check_platforms(ds, platforms, kind)
    start = time.perf_counter()
    ds, records, inputs, links = experiments.prepare(ds, [settings["model"]], platforms, settings["max_len"],
                                                     progress=progress)
    missing = sorted(set(platforms) - set(records["platform"].unique()))
    if missing:
        raise ParameterError(f"parameter 'platforms': {', '.join(missing)} have no measurements in {root}")
    log(f"pretrain {kind}: {len(records)} records of {', '.join(platforms)} in {root} "
        f"({time.perf_counter() - start:.0f} s to load and featurize)")
    scores = held_out_scores(inputs, records, links, settings, seed) if held_out else None
    if scores:
        log(f"pretrain {kind}: held out {', '.join(scores['networks'])}: " + "; ".join(
            f"{p} PCA {s['pca']['value']:.3f}" for p, s in scores["platforms"].items()))
    model = create(settings["model"], seed=seed, **settings["params"]).fit(inputs, np.arange(len(records)))
    manifest = read_manifest(folder)
    previous = manifest["models"].get(kind)
    version = int(previous["version"]) + 1 if previous else 1
    path = folder / f"{settings['model']}-{kind}-v{version}.model"
    model.metadata.update({"dataset": str(dataset), "pretrained_kind": kind, "pretrained_version": version})
    model.save(path)
    entry = _entry(kind, model, path, version, str(dataset), root, ds, preset, settings, seed, command)
    if scores:
        entry["held_out"] = scores
    manifest = read_manifest(folder)  # read again: another kind may have been written meanwhile
    manifest["models"][kind] = entry
    manifest["format"] = MANIFEST_FORMAT
    write_json_atomic(manifest, folder / MANIFEST_FILE, sort_keys=True)
    if previous and previous["file"] != path.name:
        for old in (folder / previous["file"], folder / (previous["file"] + ".json")):
            old.unlink(missing_ok=True)
    log(f"pretrain {kind}: v{version} trained in {entry['training']['fit_seconds']} s -> {path} "
        f"({entry['bytes'] / 1024:.0f} KiB)")
    return entry


__all__ = ["DEFAULT_DATASET", "DEFAULT_PLATFORMS", "DEFAULT_PRESET", "KINDS", "code_version",
           "dataset_content_fingerprint", "held_out_scores", "train_pretrained"]
