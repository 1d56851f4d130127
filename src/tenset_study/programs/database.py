"""MetaSchedule's JSON database, read without TVM: file names, lines and run seconds.

A MetaSchedule work dir holds two JSON-lines files: ``database_workload.json`` (one line per workload,
``[structural_hash, base64 of the IRModule's JSON]``) and ``database_tuning_record.json`` (one line per
measured program, ``[workload_index, [trace_json, run_secs, target, args_info]]``); a record refers to a
workload by its line (0-based, blank lines not counted). A study export keeps them xz-compressed
(``<name>.xz``). This module is the one reader of those files: the importer
(:mod:`tenset_study.importers.metaschedule`) and the tuner (:mod:`tenset_study.tuning`) both use it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

WORKLOAD_FILE = "database_workload.json"
RECORD_FILE = "database_tuning_record.json"
#: MetaSchedule writes 1e10 s for a failed build or run; anything from 1e9 s on is taken as that sentinel.
FAILED_RUN_S = 1e9


def database_file(work_dir: str | os.PathLike, name: str) -> Path:
    """``work_dir / name``, or its xz-compressed copy ``name.xz`` (a study export) where only that exists."""
    path = Path(work_dir) / name
    packed = path.with_name(path.name + ".xz")
    return packed if not path.is_file() and packed.is_file() else path


def read_all_lines(path: str | os.PathLike) -> list[str]:
    """Every line (ended by ``\\n``) of a plain or ``.xz`` file, blank ones included (undecodable bytes replaced)."""
    path = Path(path)
    if path.suffix == ".xz":
        import lzma

        with lzma.open(path, "rt", encoding="utf-8", errors="replace", newline="\n") as handle:
            return list(handle)
    with open(path, encoding="utf-8", errors="replace", newline="\n") as handle:
        return list(handle)


def non_blank(lines: list[str]) -> list[tuple[int, str]]:
    """``(line number, text)`` of the lines that are not blank (numbered from 1)."""
    return [(i, line) for i, line in enumerate(lines, 1) if line.strip()]


def read_lines(path: str | os.PathLike) -> list[tuple[int, str]]:
    """``(line number, text)`` of the non-blank lines of a plain or ``.xz`` file (undecodable bytes replaced)."""
    return non_blank(read_all_lines(path))


def run_latency(run_secs) -> float | None:
    """Mean of MetaSchedule run seconds (floats or ``FloatImm``); None when missing, non-finite, not positive
    or MetaSchedule's failure sentinel (1e10 s)."""
    if not run_secs:
        return None
    try:
        mean = float(np.mean([float(getattr(s, "value", s)) for s in run_secs]))
    except (TypeError, ValueError):
        return None
    if not math.isfinite(mean) or mean <= 0 or mean >= FAILED_RUN_S:
        return None
    return mean


def read_database(work_dir: str | os.PathLike) -> tuple[list[str], pd.DataFrame]:
    """The workloads' structural hashes (by line) and the records in commit order: one row per line of
    ``database_tuning_record.json`` with ``workload`` (line index into the workloads), ``workload_shash``
    and ``latency_s`` (mean of the repeats; NaN for a failed measurement). Plain JSON, no TVM."""
    paths = [database_file(work_dir, WORKLOAD_FILE), database_file(work_dir, RECORD_FILE)]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: {work_dir} holds no MetaSchedule JSON database")
    shashes = [str(json.loads(text)[0]) for _, text in read_lines(paths[0])]
    rows = []
    for _, text in read_lines(paths[1]):
        index, record = json.loads(text)
        latency = run_latency(record[1] if len(record) > 1 else None)
        rows.append({"workload": int(index), "workload_shash": shashes[int(index)],
                     "latency_s": np.nan if latency is None else latency})
    return shashes, pd.DataFrame(rows, columns=["workload", "workload_shash", "latency_s"])
