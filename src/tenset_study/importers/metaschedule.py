"""Import a MetaSchedule JSON database (a tuning work dir) into a dataset; the canonical trace text.

A MetaSchedule work dir holds two JSON-lines files:

* ``database_workload.json``: one line per workload, ``[structural_hash, base64 of the IRModule's JSON]``;
  a record refers to a workload by its line (0-based, blank lines not counted);
* ``database_tuning_record.json``: one line per measured program,
  ``[workload_index, [trace_json, run_secs, target, args_info]]``.

Each line is decoded on its own with MetaSchedule's ``Workload.from_json`` and
``TuningRecord.from_json`` (which replays the trace on the workload, so a trace that does not apply is
caught), so a bad line is reported with its file and line number and the rest is imported. Tasks come
from :func:`tenset_study.programs.workload.task_row`; programs are stored with encoding ``metaschedule``, source
``database`` and the trace text of :func:`trace_json`, the same text the collector stores, so a program
measured by both gets one id. A record whose ``run_secs`` is missing, empty or holds MetaSchedule's
failure value (1e10 s) is kept as a failed measurement. The database has no timestamps:
``measured_at`` stays null.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..data.dataset import Dataset, program_id
from ..programs.traces import trace_json  # noqa: F401 - trace_json is part of this module's API
from ..programs.database import FAILED_RUN_S, RECORD_FILE, WORKLOAD_FILE, read_lines
from .report import ImportReport



def platform_id(target: dict) -> str:
    """Platform id derived from a target: ``llvm-znver5-2c`` (kind, mcpu or triple arch, cores) or ``cuda-sm_90``."""
    kind = str(target.get("kind", "unknown"))
    if kind in {"cuda", "rocm", "vulkan", "opencl", "metal"}:
        return f"{kind}-{target.get('arch') or 'generic'}"
    arch = target.get("mcpu") or str(target.get("mtriple") or "generic").split("-", 1)[0]
    cores = target.get("num-cores")
    return f"{kind}-{arch}" + (f"-{cores}c" if cores else "")


def platform_row(platform: str, target: dict) -> dict:
    """A ``platforms`` row with what the target says (cores, mcpu, GPU limits)."""
    from ..programs.targets import target_json, target_kind

    kind = target_kind(target)
    row: dict = {"platform": platform, "kind": kind, "target": target_json(target)}
    sources = {"*": "derived from the MetaSchedule record's target"}
    if kind == "cpu":
        pairs = [("arch", target.get("mcpu")), ("cores", target.get("num-cores"))]
    else:
        pairs = [("arch", target.get("arch")), ("max_threads_per_block", target.get("max_threads_per_block")),
                 ("max_shared_memory_per_block", target.get("max_shared_memory_per_block")),
                 ("warp_size", target.get("thread_warp_size"))]
    for column, value in pairs:
        if value not in (None, "", -1):
            row[column] = value
            sources[column] = "target"
    row["features_source"] = json.dumps(sources, sort_keys=True)
    row["software"] = json.dumps({"collector": "MetaSchedule JSON database"})
    return row


def _task_name(mod) -> str:
    """The workload's function name (its ``global_symbol`` when set), for the operator class."""
    for gvar, func in mod.functions.items():
        attrs = getattr(func, "attrs", None)
        symbol = attrs.get("global_symbol") if attrs is not None and hasattr(attrs, "get") else None
        return str(symbol or gvar.name_hint)
    return ""


def import_metaschedule(
    workdir: str | os.PathLike,
    dest: str | os.PathLike,
    platform: str | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import the MetaSchedule database in ``workdir`` into the dataset at ``dest`` (created if needed).

    ``platform``: the platform id of the measurements (default: derived from each record's target,
    e.g. ``llvm-znver5-2c``). A platform or task already in the dataset is left as it is (the
    collector's rows carry more than a target can say); programs and measurements already there are
    skipped, so importing twice writes nothing the second time.
    """
    from tqdm import tqdm

    start, cpu_start = time.perf_counter(), time.process_time()
    workdir = Path(workdir)
    paths = {name: workdir / name for name in (WORKLOAD_FILE, RECORD_FILE)}
    for path in paths.values():
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file (a MetaSchedule work dir holds {WORKLOAD_FILE} "
                                    f"and {RECORD_FILE})")
    ds = Dataset.create(dest, description="tenset-study dataset")
    report = ImportReport(source=str(workdir), dest=str(dest))
    workload_lines = read_lines(paths[WORKLOAD_FILE])
    record_lines = read_lines(paths[RECORD_FILE])
    report.files = 2
    report.lines = len(workload_lines) + len(record_lines)
    parsed = _parse_records(record_lines, str(paths[RECORD_FILE]), len(workload_lines), report)

    from ..programs.tvm_setup import prepare_tvm
    from ..programs.targets import target_json, target_kind

    kinds = {target_kind(t) for _, _, _, _, t, _ in parsed}
    prepare_tvm("gpu" if "gpu" in kinds else "cpu")
    from tvm.s_tir import meta_schedule as ms

    from ..programs.workload import task_row, workload_hash

    workloads: dict[int, object] = {}
    used = {w for _, w, _, _, _, _ in parsed}
    for index, (lineno, text) in enumerate(workload_lines):
        if index not in used:
            continue
        try:
            workloads[index] = ms.database.Workload.from_json(json.loads(text))
        except Exception as err:  # noqa: BLE001 - TVM raises its own errors for a bad module
            report.add_malformed(str(paths[WORKLOAD_FILE]), lineno, f"not a MetaSchedule workload ({_short(err)})")

    known_tasks = ds.existing_keys("tasks")
    known_platforms = ds.existing_keys("platforms")
    known_programs = ds.existing_keys("programs")
    known_measurements = ds.existing_keys("measurements")
    tasks, platforms, programs, measurements = [], [], [], []
    task_ids: dict[tuple[int, str], str] = {}
    written: set[tuple[str, str]] = set()
    for lineno, windex, body, run_secs, target, _ in tqdm(parsed, desc="import-metaschedule", disable=not progress):
        workload = workloads.get(windex)
        if workload is None:
            report.add_malformed(str(paths[RECORD_FILE]), lineno, f"workload {windex} could not be read")
            continue
        try:
            record = ms.database.TuningRecord.from_json(body, workload)
            trace = trace_json(record.trace)
        except Exception as err:  # noqa: BLE001
            report.add_malformed(str(paths[RECORD_FILE]), lineno, f"trace does not apply to its workload ({_short(err)})")
            continue
        kind = target_kind(target)
        key = (windex, kind)
        if key not in task_ids:
            task_ids[key] = _task_id(workload.mod, kind, workload_hash)
            if task_ids[key] not in known_tasks:
                tasks.append(task_row(workload.mod, kind, target_json(target), _task_name(workload.mod)))
                known_tasks.add(task_ids[key])
        task = task_ids[key]
        plat = platform or platform_id(target)
        if plat not in known_platforms:
            platforms.append(platform_row(plat, target))
            known_platforms.add(plat)
        if plat not in report.platforms:
            report.platforms.append(plat)
        pid = program_id(task, trace)
        if pid not in known_programs:
            programs.append({"program": pid, "task": task, "encoding": "metaschedule", "trace": trace,
                             "source": "database"})
            known_programs.add(pid)
            report.programs += 1
        if (pid, plat) in known_measurements:
            report.already_present += 1
            continue
        if (pid, plat) in written:
            report.duplicates += 1
            continue
        written.add((pid, plat))
        measurements.append(_measurement(pid, plat, run_secs))
        report.records += 1
        report.failures += measurements[-1]["error"] is not None
    for table, rows in (("tasks", tasks), ("platforms", platforms), ("programs", programs),
                        ("measurements", measurements)):
        ds.append(table, rows)
    report.tasks = len(set(task_ids.values()))
    report.elapsed_s = time.perf_counter() - start
    report.cpu_s = time.process_time() - cpu_start
    return report


def _task_id(mod, kind: str, workload_hash) -> str:
    from ..data.dataset import task_id

    return task_id(workload_hash(mod), kind)


def _measurement(program: str, platform: str, run_secs: list | None) -> dict:
    row = {"program": program, "platform": platform, "latency_s": None, "repeats_s": None, "error": None,
           "measured_at": None}
    if not run_secs:
        row["error"] = "no run_secs: the program was not run (build or run failed)"
    elif any(s >= FAILED_RUN_S for s in run_secs):
        row["error"] = f"run failed: MetaSchedule recorded run_secs of {max(run_secs):g} s"
    else:
        row["repeats_s"] = [float(s) for s in run_secs]
        row["latency_s"] = sum(row["repeats_s"]) / len(row["repeats_s"])
    return row


def _parse_records(lines: list[tuple[int, str]], path: str, n_workloads: int,
                   report: ImportReport) -> list[tuple[int, int, list, list | None, dict, object]]:
    """Check the structure of every tuning-record line; report the bad ones.

    Returns ``(line, workload_index, record_body, run_secs, target, args_info)`` of the good ones.
    """
    out = []
    for lineno, text in lines:
        try:
            obj = json.loads(text)
        except ValueError as err:
            report.add_malformed(path, lineno, f"invalid JSON ({err})")
            continue
        reason = _record_problem(obj, n_workloads)
        if reason:
            report.add_malformed(path, lineno, reason)
            continue
        body = obj[1]
        run_secs = body[1] if len(body) > 1 else None
        out.append((lineno, obj[0], body, run_secs, body[2], body[3] if len(body) > 3 else None))
    return out


def _record_problem(obj: object, n_workloads: int) -> str | None:
    if not isinstance(obj, list) or len(obj) != 2 or not isinstance(obj[1], list):
        return "a tuning record must be [workload_index, [trace, run_secs, target, args_info]]"
    index, body = obj
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n_workloads:
        return f"workload index {index!r} is not one of the {n_workloads} workload(s)"
    if len(body) < 3 or not isinstance(body[0], list):
        return "a tuning record must be [trace, run_secs, target, args_info]"
    run_secs = body[1]
    if run_secs is not None and (not isinstance(run_secs, list)
                                 or not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in run_secs)):
        return "run_secs must be a list of numbers (seconds) or null"
    if not isinstance(body[2], dict) or "kind" not in body[2]:
        return "target must be a JSON object with a kind"
    return None


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return (text[-1] if text else type(err).__name__)[:200]
