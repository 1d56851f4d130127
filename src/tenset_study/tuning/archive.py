"""Measured transfer-tuning studies, kept small enough to commit beside the dataset.

A study dir (:mod:`tenset_study.tuning.study`) holds per arm the plan (``arm.json``), the tuning result,
the timeline, the end-to-end timing and the MetaSchedule JSON database, plus MetaSchedule's text logs and the
pretrained model. :func:`export_study` copies what the results, the curves and a later re-timing need: the
JSON files as they are, the two database files compressed with xz (``database_*.json.xz``, about 30 times
smaller), the pretrained model's metadata, and a ``provenance.json`` (the target platform's ``platforms``
row when the dataset is given, versions, dates, the load the arms were tuned and timed under). The export is
itself a readable study: :func:`tenset_study.tuning.study.collect_results` and ``collect_curves`` work on it
(:func:`tenset_study.programs.database.read_database` reads the ``.xz`` files). :func:`restore_study` unpacks one into
a working study dir again, e.g. to re-time its arms on a quiet machine with ``transfer-tune --time-only
--retime``.

The book's chapter 05 shows the exports under ``data/transfer-tuning/``: the full experiment takes hours,
so it is measured once with ``tenset-study transfer-tune --preset full`` and exported with
``tenset-study export-study``.
"""

from __future__ import annotations

import json
import lzma
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from ..fastjson import jsonable
from ..programs.database import RECORD_FILE, WORKLOAD_FILE
from .platforms import platform_row_from_dataset
from .result import RESULT_FILE, TIMELINE_FILE, read_json, utc_now, write_json
from .study import (ARM_FILE, END_TO_END_FILE, PRETRAINED_DIR, TARGET_PLATFORM_FILE, collect_curves, collect_results,
                    timing_rounds, tuned_arm_dirs)

#: Folder of the committed study exports (relative to the repository root).
MEASURED_STUDIES = "data/transfer-tuning"
PROVENANCE_FILE = "provenance.json"
#: Files of an arm's work dir copied as they are.
ARM_JSON_FILES = (ARM_FILE, RESULT_FILE, TIMELINE_FILE, END_TO_END_FILE)
#: The MetaSchedule database, compressed in an export.
DATABASE_FILES = (WORKLOAD_FILE, RECORD_FILE)


def export_study(study_dir: str | os.PathLike, dest: str | os.PathLike, *, dataset: str | os.PathLike | None = None,
                 networks: list[str] | None = None) -> Path:
    """Write the tuned arms of ``study_dir`` (only those of ``networks`` when given) into ``dest``, replacing
    an earlier export there (the new one is built beside it and renamed into place). ``dataset``: the
    dataset that holds the target platform's ``platforms`` row, copied into the provenance. Returns ``dest``."""
    study_dir, dest = Path(study_dir), Path(dest)
    arms = tuned_arm_dirs(study_dir, networks)
    if not arms:
        raise ValueError(f"{study_dir}: no tuned arm to export" + (f" for {networks}" if networks else ""))
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for work_dir in arms:
            _export_arm(work_dir, staging / work_dir.parent.name / work_dir.name)
        for metadata in sorted((study_dir / PRETRAINED_DIR).glob("*.model.json")):
            (staging / PRETRAINED_DIR).mkdir(exist_ok=True)
            shutil.copy2(metadata, staging / PRETRAINED_DIR / metadata.name)
        write_json(staging / PROVENANCE_FILE, study_provenance(arms, dataset, study_dir))
        make_portable(staging)
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            os.replace(staging, dest)
            shutil.rmtree(old)
        else:
            os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _export_arm(work_dir: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    for name in ARM_JSON_FILES:
        if (work_dir / name).is_file():
            shutil.copy2(work_dir / name, dest / name)
    for name in DATABASE_FILES:
        with open(work_dir / name, "rb") as src, lzma.open(dest / f"{name}.xz", "wb", preset=9) as out:
            shutil.copyfileobj(src, out)


def make_portable(export: str | os.PathLike) -> Path:
    """Rewrite the paths of the machine that tuned an export's arms, in place: each ``tuning_result.json``'s
    ``work_dir`` becomes ``<network>/<arm>`` (relative to the study), and every ``dataset`` path (the pretraining
    settings in ``arm.json`` and the pretrained model's metadata, the provenance's) becomes relative to the
    repository root, or only the folder's name when outside it. The results, curves and re-timing read the
    folders themselves, never these fields. Returns the export."""
    export = Path(export)
    files = [export / PROVENANCE_FILE, *sorted(export.glob(f"{PRETRAINED_DIR}/*.model.json")),
             *sorted(export.glob(f"*/*/{ARM_FILE}")), *sorted(export.glob(f"*/*/{RESULT_FILE}"))]
    for path in files:
        data = read_json(path)
        if data is None:
            continue
        if path.name == RESULT_FILE:
            data["work_dir"] = f"{path.parent.parent.name}/{path.parent.name}"
        write_json(path, _portable_datasets(data))
    return export


def _portable_datasets(value):
    from ..params import display_path

    if isinstance(value, dict):
        return {k: display_path(v, name_outside=True) if k == "dataset" and isinstance(v, str) and os.path.isabs(v)
                else _portable_datasets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable_datasets(v) for v in value]
    return value


def study_provenance(arms: list[Path], dataset: str | os.PathLike | None = None,
                     study_dir: str | os.PathLike | None = None) -> dict:
    """What an export records about where and when its arms were measured: per arm the target, TVM version,
    tuning start and end, load averages, and the timing's date and load; the target platforms' rows (from
    ``dataset`` when given, else as the study read them off the machine); the export's date and the package
    version."""
    from importlib.metadata import PackageNotFoundError, version

    rows, platforms = [], set()
    for work_dir in arms:
        plan = read_json(work_dir / ARM_FILE)
        result = read_json(work_dir / RESULT_FILE)
        e2e = read_json(work_dir / END_TO_END_FILE) or {}
        platforms.add(plan.get("target_platform"))
        rows.append({"network": plan["network"], "arm": plan["arm"], "seed": plan["seed"], "target": plan["target"],
                     "target_platform": plan.get("target_platform"), "tvm_version": result.get("tvm_version"),
                     "tuning_started_at": result.get("started_at"), "tuning_finished_at": result.get("finished_at"),
                     "tuning_load_average": result.get("load_average"), "timed_at": e2e.get("timed_at"),
                     "timing_load_average": e2e.get("load_average"), "timing_settings": e2e.get("timing_settings")})
    platform_rows = {}
    stored = read_json(Path(study_dir) / TARGET_PLATFORM_FILE) if study_dir is not None else None
    for platform in sorted(p for p in platforms if p):
        row = None
        if dataset is not None:
            try:
                row = jsonable(platform_row_from_dataset(dataset, platform))
            except ValueError:
                pass  # a target read off the machine, not in the dataset
        if row is None and stored is not None and stored.get("platform") == platform:
            row = stored  # as run_study read it off the machine
        platform_rows[platform] = row
    try:
        package = version("tenset-study")
    except PackageNotFoundError:
        package = None
    return {"exported_at": utc_now(),
            "study_dir": None if study_dir is None else Path(study_dir).name, "tenset_study_version": package,
            "dataset": None if dataset is None else str(dataset), "platforms": platform_rows, "arms": rows}


def restore_study(export: str | os.PathLike, study_dir: str | os.PathLike) -> Path:
    """Unpack an export into ``study_dir`` (which must not hold a study already): plain database files again,
    so that MetaSchedule can compile with them (``transfer-tune --time-only --retime``). Returns the dir."""
    export, study_dir = Path(export), Path(study_dir)
    if any(study_dir.glob(f"*/*/{ARM_FILE}")):
        raise FileExistsError(f"{study_dir} already holds a study; restore into an empty folder")
    shutil.copytree(export, study_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.xz"))
    for packed in export.glob("*/*/database_*.json.xz"):
        target = study_dir / packed.relative_to(export).with_suffix("")
        with lzma.open(packed, "rb") as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
    return study_dir


def measured_studies(folder: str | os.PathLike = MEASURED_STUDIES) -> list[Path]:
    """The exported studies in ``folder`` (each a subfolder with a provenance file), sorted; [] when none."""
    from ..params import resolve_path

    root = resolve_path(folder)
    return sorted(p.parent for p in root.glob(f"*/{PROVENANCE_FILE}")) if root.is_dir() else []


def check_measured_folder(folder: str | os.PathLike | None, parameter: str = "measured_tuning") -> Path | None:
    """The folder of study exports (relative paths: to the repository root), or None to show none; a
    ParameterError when the path exists but is not a folder."""
    from ..params import folder_parameter

    return None if folder is None or str(folder) == "" else folder_parameter(folder, parameter)


def measured_results(folder: str | os.PathLike | None = MEASURED_STUDIES) -> pd.DataFrame | None:
    """The results tables (:func:`tenset_study.tuning.study.collect_results`) of every export in ``folder``,
    with the export's name in ``study``; None when there is none."""
    return _concat_exports(folder, collect_results)


def measured_curves(folder: str | os.PathLike | None = MEASURED_STUDIES) -> pd.DataFrame | None:
    """The tuning curves (:func:`tenset_study.tuning.study.collect_curves`) of every export in ``folder``,
    with the export's name in ``study``; None when there is none."""
    return _concat_exports(folder, collect_curves)


def measured_timing_rounds(folder: str | os.PathLike | None = MEASURED_STUDIES) -> pd.DataFrame | None:
    """Every timing round of every exported study under ``folder`` (:func:`~tenset_study.tuning.study.
    timing_rounds`), with a ``study`` column; None when there is none."""
    return _concat_exports(folder, timing_rounds)


def describe_measured(folder: str | os.PathLike | None = MEASURED_STUDIES) -> pd.DataFrame:
    """One row per export: target platforms, networks, arms, TVM version, when the tuning ran (first
    start, last end) and was timed, and the highest 15-minute load average seen while tuning and timing."""
    rows = []
    for export in measured_studies(folder) if folder is not None else []:
        arms = json.loads((export / PROVENANCE_FILE).read_text())["arms"]
        tuning_load = [a["tuning_load_average"]["end"][2] for a in arms if a.get("tuning_load_average")]
        timing_load = [a["timing_load_average"][2] for a in arms if a.get("timing_load_average")]
        rows.append({
            "study": export.name, "target_platforms": ", ".join(sorted({str(a["target_platform"]) for a in arms})),
            "networks": len({a["network"] for a in arms}), "arms": len(arms),
            "tvm": ", ".join(sorted({str(a["tvm_version"]) for a in arms})),
            "tuned_from": min(a["tuning_started_at"] for a in arms),
            "tuned_to": max(a["tuning_finished_at"] for a in arms),
            "timed_to": max((a["timed_at"] for a in arms if a.get("timed_at")), default=None),
            "max_load_tuning": max(tuning_load, default=None), "max_load_timing": max(timing_load, default=None)})
    return pd.DataFrame(rows)


def _concat_exports(folder, collect) -> pd.DataFrame | None:
    exports = measured_studies(folder) if folder is not None else []
    frames = [collect(export).assign(study=export.name) for export in exports]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else None


__all__ = ["MEASURED_STUDIES", "PROVENANCE_FILE", "check_measured_folder", "describe_measured", "export_study",
           "make_portable", "measured_curves", "measured_results", "measured_studies", "measured_timing_rounds", "restore_study",
           "study_provenance"]
