"""Pretrained cost models shipped with the package, one per target kind, loadable in one line as MetaSchedule's
``cost_model=``::

    from tvm.s_tir import meta_schedule as ms
    from tenset_study.tuning import pretrained_cost_model

    cost_model = pretrained_cost_model("cpu")          # or "gpu", or the TVM target itself
    database = ms.tune_tir(mod, target, work_dir, max_trials_global=64, cost_model=cost_model)
    # the same object goes to ms.tune_tasks(..., cost_model=) and
    # ms.relax_integration.tune_relax(..., cost_model=)

The result is a :class:`~tenset_study.tuning.cost_model.ProjectCostModel`: it scores MetaSchedule's candidates
with the shipped model and, as MetaSchedule hands it the measured results (``update``), keeps learning from
them (LambdaRank epochs on this session's measurements, from the shipped weights; ``online=False`` keeps the
shipped model as it is). The shipped file is never written: ``cost_model.save(path)`` saves the model as it
has become.

The files live in :data:`PRETRAINED_DIR` (``tenset_study/tuning/pretrained/``): one ``<model>-<kind>-v<N>.model``
per kind (a pickled :class:`~tenset_study.models.base.CostModel` with its ``.json`` metadata beside it) and
``manifest.json``, which names each kind's file and its version, SHA-256 and size, and says where it came from:
the dataset (path, content fingerprint, row counts), the platforms, records and tasks it was trained on, the
training settings (preset, hyperparameters, seed), the code (package version, git commit) and the date, the
command that trained it and, when measured, its accuracy on held-out networks. :mod:`.pretraining` writes them
(``tenset-study pretrain``).

A kind that is unknown, a manifest or model file that is missing, and a model file whose SHA-256 differs from
the manifest's (a corrupt or half-copied file) each stop with a one-line :class:`PretrainedModelError` naming
the kind and the file.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

from ..data.provenance import file_sha256
from ..params import ParameterError

#: The target kinds a model is shipped for.
KINDS = ("cpu", "gpu")
#: Where the shipped models and their manifest live (package data).
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
MANIFEST_FILE = "manifest.json"
#: The manifest's format; :func:`read_manifest` refuses other formats.
MANIFEST_FORMAT = 1


class PretrainedModelError(ParameterError):
    """A shipped model cannot be used: unknown kind, missing or corrupt file (the message names which)."""


def read_manifest(folder: str | os.PathLike | None = None) -> dict:
    """The manifest of a folder of pretrained models (default: the shipped one): ``{"format": 1, "models":
    {kind: entry}}``; an empty one when the folder has none yet."""
    path = Path(folder or PRETRAINED_DIR) / MANIFEST_FILE
    if not path.is_file():
        return {"format": MANIFEST_FORMAT, "models": {}}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PretrainedModelError(f"pretrained models: {path} is not a readable JSON manifest ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise PretrainedModelError(f"pretrained models: {path} is not a manifest of format {MANIFEST_FORMAT}")
    return manifest


def check_kind(kind) -> str:
    """``"cpu"`` or ``"gpu"`` from a kind name or a TVM target (a ``Target`` or its dict); else a one-line error."""
    if not isinstance(kind, str):
        from ..programs.targets import target_kind

        try:
            kind = target_kind(kind)
        except Exception as err:  # noqa: BLE001 - anything that is not a target
            raise PretrainedModelError(f"parameter 'kind' = {kind!r}: neither a kind ({', '.join(KINDS)}) "
                                       f"nor a TVM target ({err})") from None
    if kind not in KINDS:
        raise PretrainedModelError(f"parameter 'kind' = {kind!r}: no pretrained model for this kind; "
                                   f"kinds are {', '.join(KINDS)}")
    return kind


def pretrained_info(kind="cpu", folder: str | os.PathLike | None = None) -> dict:
    """The manifest entry of a kind's shipped model (version, file, provenance; module docstring)."""
    kind = check_kind(kind)
    folder = Path(folder or PRETRAINED_DIR)
    entry = read_manifest(folder)["models"].get(kind)
    if entry is None:
        raise PretrainedModelError(f"pretrained {kind} model: {folder / MANIFEST_FILE} names none "
                                   f"(train one with `tenset-study pretrain --kind {kind}`)")
    return dict(entry)


def pretrained_path(kind="cpu", folder: str | os.PathLike | None = None) -> Path:
    """The path of a kind's shipped model file, checked against the manifest's SHA-256."""
    kind = check_kind(kind)
    entry = pretrained_info(kind, folder)
    path = Path(folder or PRETRAINED_DIR) / entry["file"]
    if not path.is_file():
        raise PretrainedModelError(f"pretrained {kind} model: {path} is missing (reinstall the package, or train "
                                   f"it again with `tenset-study pretrain --kind {kind}`)")
    if file_sha256(path) != entry["sha256"]:
        raise PretrainedModelError(f"pretrained {kind} model: {path} is corrupt (its SHA-256 differs from the "
                                   f"manifest's); reinstall the package or train it again")
    return path


def load_pretrained(kind="cpu", folder: str | os.PathLike | None = None):
    """A kind's shipped model as a fitted :class:`~tenset_study.models.base.CostModel`, with the manifest entry
    in ``metadata["pretrained"]``."""
    from ..models.base import CostModel

    kind = check_kind(kind)
    path = pretrained_path(kind, folder)
    try:
        model = CostModel.load(path)
    except (pickle.UnpicklingError, EOFError, KeyError, AttributeError, ValueError, ImportError) as err:
        raise PretrainedModelError(f"pretrained {kind} model: {path} cannot be read ({type(err).__name__}: "
                                   f"{err})") from None
    model.metadata["pretrained"] = pretrained_info(kind, folder)
    return model


def pretrained_cost_model(kind="cpu", *, online: bool = True, platform=None, seed: int = 0,
                          folder: str | os.PathLike | None = None, **options):
    """The shipped model of a target kind as a MetaSchedule cost model (a
    :class:`~tenset_study.tuning.cost_model.ProjectCostModel`), for ``cost_model=`` of ``ms.tune_tir``,
    ``ms.tune_tasks`` and ``ms.relax_integration.tune_relax``.

    Parameters
    ----------
    kind: ``"cpu"`` or ``"gpu"``, or the TVM target to tune for (its kind is taken).
    online: learn from the measurements MetaSchedule reports (``update``); False keeps the shipped model.
    platform: the platforms-table row whose hardware features the model gets (default: read off this machine
        for each task's target: lscpu and LLVM for a CPU, nvidia-smi for a GPU).
    seed: seeds the online fine-tuning.
    folder: a folder of pretrained models with its manifest (default: the shipped one).
    options: passed on to ``ProjectCostModel`` (``online_epochs``, ``min_online``, ``score_transform``, ...).
    """
    from ..programs import tvm_setup
    from .cost_model import ProjectCostModel

    kind = check_kind(kind)
    model = load_pretrained(kind, folder)
    tvm_setup.prepare_tvm(kind)
    return ProjectCostModel(model, platform=platform, online=online, seed=seed, **options)


__all__ = ["KINDS", "MANIFEST_FILE", "PRETRAINED_DIR", "PretrainedModelError", "check_kind", "file_sha256",
           "load_pretrained", "pretrained_cost_model", "pretrained_info", "pretrained_path", "read_manifest"]
