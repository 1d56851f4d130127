"""Exports: the results of an experiment run once at its full size (the ``full`` preset, on the GPU host where it
needs one), committed as compact tables with their provenance, so that a chapter shows the full experiment
without running it while ``make book`` runs the small ``book`` preset live beside it.

An export is a folder: one zstd-compressed Parquet file per table and ``provenance.json`` (what ran: the
experiment and its settings, the dataset with its content fingerprint, the code's version and commit, the
machine, the start, the wall time and the command). :func:`write_export` writes one, :func:`read_export` reads it
back (None when the folder holds none yet), :func:`describe_export` says in one sentence where it came from.
``tenset-study export-results`` runs an experiment and writes its export (:mod:`.runs`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform as platform_module
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..data.provenance import code_version, dataset_content_fingerprint
from ..params import display_path

#: The provenance file of an export folder.
PROVENANCE = "provenance.json"
#: The format of ``provenance.json``; :func:`read_export` refuses other formats.
EXPORT_FORMAT = 1
#: Where the book reads exports from, relative to the repository root: ``data/exports/<experiment>``.
EXPORTS_DIR = Path("data") / "exports"


class ExportError(ValueError):
    """An export folder that cannot be read (the message names the file and what is wrong)."""


@dataclass
class Export:
    """An export read back: its folder, tables by name and provenance."""

    folder: Path
    tables: dict[str, pd.DataFrame]
    provenance: dict

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            raise ExportError(f"{self.folder}: no table {name!r} (it has {', '.join(sorted(self.tables)) or 'none'})")
        return self.tables[name]


def machine() -> dict:
    """The machine that ran: CPU model, logical CPUs, OS, Python, and the GPU torch sees (None without one)."""
    cpu = platform_module.processor() or None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpu = None
    if "torch" in sys.modules:  # only where the experiment already imported it
        torch = sys.modules["torch"]
        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "os": platform_module.platform(),
            "python": platform_module.python_version(), "gpu": gpu}


def provenance(experiment: str, settings: Mapping, dataset: str | os.PathLike, started: dt.datetime,
               command: str | None = None, extra: Mapping | None = None, fingerprint: str | None = None) -> dict:
    """The provenance of an export: ``experiment`` (its name), ``settings`` (the preset as run, its tuning settings
    left out), the dataset (path relative to the repository root, or its name outside it, and content fingerprint), the code, the machine, the start (UTC), the wall time until now and the
    command (default: this process's command line). ``fingerprint``: the dataset's content fingerprint where the
    caller has it already (else computed)."""
    finished = dt.datetime.now(dt.timezone.utc)
    return {
        "format": EXPORT_FORMAT, "experiment": experiment,
        "settings": json.loads(json.dumps({k: v for k, v in dict(settings).items() if k != "tuning"}, default=str)),
        "dataset": {"path": display_path(dataset, name_outside=True),
                    "fingerprint": fingerprint or dataset_content_fingerprint(dataset)},
        "code": code_version(), "machine": machine(),
        "started": started.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round((finished - started).total_seconds(), 1),
        "command": command if command is not None else " ".join(sys.argv),
        **dict(extra or {}),
    }


def write_export(folder: str | os.PathLike, tables: Mapping[str, pd.DataFrame], provenance_: Mapping) -> list[Path]:
    """Write ``tables`` (name -> frame; the index is kept) as ``<name>.parquet`` and the provenance under
    ``folder`` (created; tables of an earlier export that ``tables`` lacks are removed). Returns the paths."""
    from ..data.files import write_text_atomic

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.parquet"):
        if stale.stem not in tables:
            stale.unlink()
    paths = []
    for name, frame in tables.items():
        path = out / f"{name}.parquet"
        frame.to_parquet(path, compression="zstd")
        paths.append(path)
    path = out / PROVENANCE
    write_text_atomic(path, json.dumps({**dict(provenance_), "tables": sorted(tables)}, indent=1) + "\n")
    return [*paths, path]


def read_export(folder: str | os.PathLike | None) -> Export | None:
    """The export in ``folder`` (relative: to the repository root), or None when ``folder`` is None or holds no
    ``provenance.json`` yet. A folder whose provenance is malformed, of another format, or names a table that is
    missing raises :class:`ExportError`."""
    from ..params import resolve_path

    if folder is None:
        return None
    folder = resolve_path(folder)
    path = folder / PROVENANCE
    if not path.is_file():
        return None
    try:
        prov = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ExportError(f"{path}: not JSON ({err})") from err
    if not isinstance(prov, dict) or prov.get("format") != EXPORT_FORMAT:
        raise ExportError(f"{path}: format {prov.get('format') if isinstance(prov, dict) else None!r}, "
                          f"expected {EXPORT_FORMAT}")
    tables = {}
    for name in prov.get("tables", []):
        table = folder / f"{name}.parquet"
        if not table.is_file():
            raise ExportError(f"{path}: names table {name!r}, but {table.name} is missing")
        tables[name] = pd.read_parquet(table)
    return Export(folder, tables, prov)


def describe_export(export: Export | None, what: str = "the full experiment") -> str:
    """One sentence saying where an export came from (or that there is none yet)."""
    if export is None:
        return f"No export of {what} yet: this chapter shows only its live run."
    prov = export.provenance
    settings = prov.get("settings", {})
    code = prov.get("code", {})
    machine_ = prov.get("machine", {})
    where = machine_.get("gpu") or machine_.get("cpu") or "an unrecorded machine"
    commit = (code.get("commit") or "")[:10] or code.get("package_version", "?")
    resumed = prov.get("resume", {})
    took = f"in {prov.get('wall_s', 0) / 60:.0f} min"
    if resumed.get("units_reused"):
        took = (f"in {resumed.get('unit_seconds', 0) / 60:.0f} min of model fitting over several runs "
                f"({resumed['units_reused']} of {resumed['units_reused'] + resumed.get('units_computed', 0)} units "
                f"from earlier runs, at commits {', '.join(c[:10] for c in resumed.get('unit_commits', []))})")
    return (f"{what.capitalize()} ({prov.get('experiment')}, preset {settings.get('preset', '?')}), read from "
            f"{display_path(export.folder, name_outside=True)}: run on {where} "
            f"({machine_.get('logical_cpus')} logical CPUs) on "
            f"{prov.get('started', '?')[:10]} {took}, code {commit}, dataset "
            f"{prov.get('dataset', {}).get('path')} ({str(prov.get('dataset', {}).get('fingerprint', ''))[:19]}).")
