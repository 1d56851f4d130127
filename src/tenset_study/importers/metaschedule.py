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
failure value (1e10 s) is kept as a failed measurement; one whose run seconds are all zero is a program
not measured: its program is stored, no measurement (counted as ``not_measured``). Run seconds that are
not finite, negative, or zero beside others make the line malformed, so every stored latency is a finite
positive number. The database has no timestamps: ``measured_at`` stays null.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import NamedTuple

from ..data.dataset import Dataset, program_id
from ..programs.database import FAILED_RUN_S, RECORD_FILE, WORKLOAD_FILE, read_all_lines
from ..programs.targets import target_json, target_kind
from ..programs.traces import trace_json
from .checks import MAX_NESTING, nesting_exceeds, short_repr
from .report import ImportReport

__all__ = ["import_metaschedule", "platform_id", "platform_row", "trace_json"]

#: Largest value of the platforms table's 32-bit integer columns.
_INT32_MAX = 2**31 - 1


def platform_id(target: dict) -> str:
    """Platform id derived from a target: ``llvm-znver5-2c`` (kind, mcpu or triple arch, cores) or ``cuda-sm_90``."""
    kind = str(target.get("kind", "unknown"))
    if target_kind(target) == "gpu":
        return f"{kind}-{target.get('arch') or 'generic'}"
    arch = target.get("mcpu") or str(target.get("mtriple") or "generic").split("-", 1)[0]
    cores = target.get("num-cores")
    return f"{kind}-{arch}" + (f"-{cores}c" if cores else "")


def platform_row(platform: str, target: dict) -> dict:
    """A ``platforms`` row with what the target says (cores, mcpu, GPU limits)."""
    kind = target_kind(target)
    row: dict = {"platform": platform, "kind": kind, "target": target_json(target)}
    sources = {"*": "derived from the MetaSchedule record's target"}
    if kind == "cpu":
        pairs = [("arch", target.get("mcpu")), ("cores", target.get("num-cores"))]
    else:
        pairs = [("arch", target.get("arch")), ("max_threads_per_block", target.get("max_threads_per_block")),
                 ("max_shared_memory_per_block", target.get("max_shared_memory_per_block")),
                 ("warp_size", target.get("thread_warp_size"))]
    for column, value in pairs:  # only values the table's columns hold (a text; a count of 32 bits)
        if (isinstance(value, str) and value) if column == "arch" else (
                isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _INT32_MAX):
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


class _Record(NamedTuple):
    """A tuning-record line whose structure is right (the trace is checked by TVM later)."""

    line: int
    workload: int
    body: list
    run_secs: list | None
    target: dict


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
    skipped, so importing twice writes nothing the second time. Bad lines are reported, never raised.
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
    report = ImportReport(source=str(workdir), dest=str(dest), files=2)
    workload_lines = _read(paths[WORKLOAD_FILE], report)
    record_lines = _read(paths[RECORD_FILE], report)
    parsed = _parse_records(record_lines, str(paths[RECORD_FILE]), len(workload_lines), report)
    ms = _metaschedule({target_kind(r.target) for r in parsed})
    workloads = _read_workloads(ms, workload_lines, {r.workload for r in parsed}, str(paths[WORKLOAD_FILE]), report)
    rows = _Rows(ds, platform, report, str(paths[RECORD_FILE]))
    for record in tqdm(parsed, desc="import-metaschedule", disable=not progress):
        rows.add(ms, record, workloads.get(record.workload))
    rows.write()
    report.tasks = len(set(rows.task_ids.values()))
    report.elapsed_s = time.perf_counter() - start
    report.cpu_s = time.process_time() - cpu_start
    return report


def _read(path: Path, report: ImportReport) -> list[tuple[int, str]]:
    """The non-blank lines of a database file (blank: JSON whitespace only); all its lines counted in ``report``,
    blank ones as such."""
    lines = read_all_lines(path)
    kept = [(number, line) for number, line in enumerate(lines, 1) if line.strip(" \t\r\n")]
    report.lines += len(lines)
    report.comment_lines += len(lines) - len(kept)
    return kept


def _metaschedule(kinds: set[str]):
    """MetaSchedule, with the tensor intrinsics the records' target kinds need."""
    from ..programs.tvm_setup import prepare_tvm

    prepare_tvm("gpu" if "gpu" in kinds else "cpu")
    from tvm.s_tir import meta_schedule as ms

    return ms


def _read_workloads(ms, lines: list[tuple[int, str]], used: set[int], path: str, report: ImportReport) -> dict:
    """The workloads that records refer to, decoded by MetaSchedule; a bad one is reported. Every workload
    line is counted: as malformed, or as a workload line."""
    workloads: dict[int, object] = {}
    bad = 0
    for index, (lineno, text) in enumerate(lines):
        if index not in used:
            continue
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError) as err:
            report.add_malformed(path, lineno, f"invalid JSON ({_short(err)})")
            bad += 1
            continue
        if not (isinstance(obj, list) and len(obj) == 2 and all(isinstance(x, str) for x in obj)):
            report.add_malformed(path, lineno, "a workload must be [structural_hash, base64 of the IRModule's JSON]")
            bad += 1
            continue
        try:
            workloads[index] = ms.database.Workload.from_json(obj)
        except Exception as err:  # noqa: BLE001 - TVM raises its own errors for a bad module
            report.add_malformed(path, lineno, f"not a MetaSchedule workload ({_short(err)})")
            bad += 1
    report.workload_lines += len(lines) - bad
    return workloads


class _Rows:
    """The rows an import writes, checked against the keys in the dataset and in the rows before."""

    def __init__(self, ds: Dataset, platform: str | None, report: ImportReport, path: str) -> None:
        self.ds, self.platform, self.report, self.path = ds, platform, report, path
        self.known_tasks = ds.existing_keys("tasks")
        self.known_platforms = ds.existing_keys("platforms")
        self.known_programs = ds.existing_keys("programs")
        self.known_measurements = ds.existing_keys("measurements")
        self.tables: dict[str, list[dict]] = {"tasks": [], "platforms": [], "programs": [], "measurements": []}
        self.task_ids: dict[tuple[int, str], str] = {}
        self.written: set[tuple[str, str]] = set()

    def add(self, ms, record: _Record, workload) -> None:
        """The rows of one record: its task, platform and program when new, its measurement (or why not)."""
        report = self.report
        if workload is None:
            report.add_malformed(self.path, record.line, f"workload {record.workload} could not be read")
            return
        try:
            trace = trace_json(ms.database.TuningRecord.from_json(record.body, workload).trace)
        except Exception as err:  # noqa: BLE001 - TVM raises its own errors
            report.add_malformed(self.path, record.line, f"trace does not apply to its workload ({_short(err)})")
            return
        task = self._task(record, workload)
        plat = self._platform(record.target)
        pid = program_id(task, trace)
        if pid not in self.known_programs:
            self.tables["programs"].append({"program": pid, "task": task, "encoding": "metaschedule",
                                            "trace": trace, "source": "database"})
            self.known_programs.add(pid)
            report.programs += 1
        if not _measured(record.run_secs):
            report.not_measured += 1
        elif (pid, plat) in self.known_measurements:
            report.already_present += 1
        elif (pid, plat) in self.written:
            report.duplicates += 1
        else:
            self.written.add((pid, plat))
            self.tables["measurements"].append(_measurement(pid, plat, record.run_secs))
            report.records += 1
            report.failures += self.tables["measurements"][-1]["error"] is not None

    def _task(self, record: _Record, workload) -> str:
        from ..programs.workload import task_row, workload_hash

        kind = target_kind(record.target)
        key = (record.workload, kind)
        if key not in self.task_ids:
            self.task_ids[key] = _task_id(workload.mod, kind, workload_hash)
            if self.task_ids[key] not in self.known_tasks:
                self.tables["tasks"].append(task_row(workload.mod, kind, target_json(record.target),
                                                     _task_name(workload.mod)))
                self.known_tasks.add(self.task_ids[key])
        return self.task_ids[key]

    def _platform(self, target: dict) -> str:
        plat = self.platform or platform_id(target)
        if plat not in self.known_platforms:
            self.tables["platforms"].append(platform_row(plat, target))
            self.known_platforms.add(plat)
        if plat not in self.report.platforms:
            self.report.platforms.append(plat)
        return plat

    def write(self) -> None:
        """Append the new rows: tasks and platforms first, then programs, then measurements."""
        for table, rows in self.tables.items():
            self.ds.append(table, rows)


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


def _measured(run_secs: list | None) -> bool:
    """False for a program without a measurement: run seconds all zero (missing ones are a failed run)."""
    return not run_secs or any(s != 0 for s in run_secs)


def _parse_records(lines: list[tuple[int, str]], path: str, n_workloads: int, report: ImportReport) -> list[_Record]:
    """Check the structure and run seconds of every tuning-record line; report the bad ones."""
    out = []
    for lineno, text in lines:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError) as err:
            report.add_malformed(path, lineno, f"invalid JSON ({_short(err)})")
            continue
        reason = _record_problem(obj, n_workloads)
        if reason:
            report.add_malformed(path, lineno, reason)
            continue
        body = obj[1]
        out.append(_Record(lineno, obj[0], body, body[1], body[2]))
    return out


def _record_problem(obj: object, n_workloads: int) -> str | None:
    """Why a decoded tuning-record line is not one, or None (TVM checks the trace and target later)."""
    if not isinstance(obj, list) or len(obj) != 2 or not isinstance(obj[1], list):
        return "a tuning record must be [workload_index, [trace, run_secs, target, args_info]]"
    index, body = obj
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n_workloads:
        return f"workload index {short_repr(index)} is not one of the {n_workloads} workload(s)"
    if not 3 <= len(body) <= 4 or not isinstance(body[0], list):
        return "a tuning record must be [trace, run_secs, target, args_info]"
    if nesting_exceeds(obj, MAX_NESTING):
        return f"the record nests lists more than {MAX_NESTING} deep"
    problem = _trace_problem(body[0])
    if problem:
        return problem
    run_secs = body[1]
    if run_secs is not None and (not isinstance(run_secs, list)
                                 or not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in run_secs)):
        return "run_secs must be a list of numbers (seconds) or null"
    if run_secs and not all(math.isfinite(s) and s >= 0 for s in run_secs):
        return "run_secs must be finite and not negative"
    failed = bool(run_secs) and any(s >= FAILED_RUN_S for s in run_secs)
    if run_secs and not failed and 0 < sum(s == 0 for s in run_secs) < len(run_secs):
        return "a run of 0 s among measured runs (all zero means not measured)"
    if not _known_target(body[2]):
        return "target must be a JSON object with a kind"
    return None


def _trace_problem(trace: list) -> str | None:
    """What TVM cannot be trusted to catch in a trace's JSON (it crashes on a decision for a missing
    instruction): ``[instructions, decisions]``, each decision ``[instruction index, value]``."""
    if len(trace) != 2 or not all(isinstance(part, list) for part in trace):
        return "a trace must be [instructions, decisions]"
    instructions, decisions = trace
    if not all(isinstance(inst, list) and inst and isinstance(inst[0], str) for inst in instructions):
        return "every instruction of a trace must be a list led by its name"
    for decision in decisions:
        if not (isinstance(decision, list) and len(decision) == 2 and isinstance(decision[0], int)
                and not isinstance(decision[0], bool) and 0 <= decision[0] < len(instructions)):
            return "every decision of a trace must be [instruction index, value] for an instruction of the trace"
    return None


def _known_target(target: object) -> bool:
    return isinstance(target, dict) and isinstance(target.get("kind"), str)


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return (text[-1] if text else type(err).__name__)[:200]
