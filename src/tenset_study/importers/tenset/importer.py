"""Import TenSet (Ansor) measurement logs into a dataset.

``import_tenset(src, dest)`` reads either one log file (one JSON record per line, see
:mod:`tenset_study.importers.tenset.log`) or a TenSet dataset folder::

    measure_records/<platform>/<task>.json   one file per task and platform
    network_info/*.task.pkl, all_tasks.pkl   networks, their tasks and weights (optional)

and writes the ``platforms``, ``tasks``, ``programs``, ``measurements`` (and, from ``network_info``,
``networks`` and ``network_tasks``) tables. Every record becomes one measurement: failed measurements
(``error_no != 0``) are kept with ``latency_s`` and ``repeats_s`` null and ``error`` set to TenSet's
error name. A record whose costs are all zero is a program not measured (yet): its program is written, no
measurement, and the report counts it as ``not_measured``. Every stored latency is a finite positive
number. Malformed lines (see :mod:`.log` for what is valid) are reported (file, line, reason) and
skipped; no line can stop the import. Program ids and (program, platform) keys are unique, within the
input and against what the dataset already holds, so importing the same data twice writes nothing the
second time.

The work is streamed: files are read in chunks, rows are written as Parquet parts of ``batch_rows``
rows, and ``jobs`` worker processes share the groups of files (all platforms' files of one task go to
the same worker, so that programs shared between platforms are written once). The module layout:

* :mod:`.log` - record format, versions (v0.2-v0.6 are read), the thorough reader ``read_tenset_log``;
* :mod:`.chunk` - the fast path over chunks of lines, and the exact check of new step lists;
  :mod:`.costs` - costs, error codes and timestamps of a chunk as checked arrays;
* :mod:`.worker` - one worker: ids, de-duplication, buffering; :mod:`.columns` - Arrow
  columns and the Parquet part writer;
* :mod:`.workload`, :mod:`.platforms`, :mod:`.network_info` - what is derived for
  tasks, machines and networks, and from what;
* :mod:`.keys` - keys already in the dataset, held compactly; :mod:`tenset_study.importers.report` - the report.

Throughput (``benchmarks/bench_import.py --records 300000``, 304 k TenSet-like records, 2-core AMD EPYC
machine): about 125 k records/s with one job, 160 k/s with two. The exact check of every new program's
step list (:class:`~tenset_study.importers.tenset.chunk.StepChecker`, one orjson decode and encode) costs
about 18% of that: the importer without it read the same input at 152 k and 190 k records/s.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import shutil
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ...data.dataset import Dataset, to_arrow, write_parquet_atomic
from .keys import KeyIndex
from .log import LogRecord, MalformedRecord, parse_line, read_tenset_log
from .network_info import NetworkInfo, read_network_info
from .platforms import TENSET_PLATFORMS, derived_platform_row, tenset_platform_row
from ..report import ImportReport
from .worker import FileJob, GroupImporter, WorkerConfig
from .workload import task_row

__all__ = ["ImportReport", "import_tenset", "read_tenset_log", "LogRecord", "MalformedRecord"]

DEFAULT_BATCH_ROWS = 250_000


def import_tenset(
    src: str | os.PathLike,
    dest: str | os.PathLike,
    jobs: int = 1,
    platform: str | None = None,
    progress: bool = True,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> ImportReport:
    """Import a TenSet log file or dataset folder ``src`` into the dataset at ``dest`` (created if needed).

    ``platform``: for a log file, the platform id of all its records (default: derived from each
    record's target, e.g. ``llvm-core-avx2-8c``, or its ``-model``); for a folder, import only that
    ``measure_records/<platform>`` subfolder. ``jobs``: worker processes (folders only; a single file is
    read by one process). ``progress``: show a progress bar on stderr.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such file or folder")
    jobs = max(1, int(jobs))
    ds = Dataset.create(dest, description="tenset-study dataset")
    report = ImportReport(source=str(src), dest=str(dest), jobs=jobs)
    config = WorkerConfig(dest=str(ds.root), batch_rows=batch_rows)
    config.known_tasks = set(ds.existing_keys("tasks"))
    config.known_platforms = set(ds.existing_keys("platforms"))

    platforms: dict[str, list[Path]] = {}
    if src.is_file():
        groups = [[FileJob(str(src), None, src.stat().st_size)]]
        config.platform_override = platform
    else:
        groups, platforms = _folder_groups(src, platform)
        _write_small_rows(ds, "platforms", [_folder_platform_row(name, files) for name, files in platforms.items()])
        config.known_platforms |= set(platforms)
        info_dir = src / "network_info"
        if info_dir.is_dir():
            info = read_network_info(info_dir)
            _write_network_info(ds, info, report)
            config.details = {t: nt.details for t, nt in info.tasks.items() if nt.details is not None}
            config.known_tasks |= set(info.tasks)
    jobs = report.jobs = min(jobs, len(groups))

    index_dir = None
    if ds.parts("programs") or ds.parts("measurements"):
        keys = KeyIndex.from_dataset(ds, set(platforms) if platforms else None)
        index_dir = tempfile.mkdtemp(prefix="tenset-keys-")
        keys.save(Path(index_dir))
        config.key_index_dir = index_dir
    parts_before = {t: set(ds.parts(t)) for t in ("programs", "measurements")}
    try:
        results = _run(config, groups, jobs, progress)
    finally:
        if index_dir:
            shutil.rmtree(index_dir, ignore_errors=True)

    group_tasks: list[frozenset[str]] = []
    platforms_seen: set[str] = set()
    for worker_report, tasks_per_group, seen in results:
        report.merge(worker_report)
        group_tasks.extend(tasks_per_group)
        platforms_seen |= seen
    shared = {t for t, c in Counter(t for g in group_tasks for t in g).items() if c > 1}
    if shared:
        _remove_cross_group_duplicates(ds, shared, parts_before, report)
    report.tasks = len(set().union(*group_tasks)) if group_tasks else 0
    report.platforms = sorted(platforms_seen)
    report.elapsed_s = time.perf_counter() - start
    report.cpu_s += time.process_time() - cpu_start  # the workers added their own
    return report


# --- inputs -------------------------------------------------------------------------------------


def _folder_groups(src: Path, only: str | None) -> tuple[list[list[FileJob]], dict[str, list[Path]]]:
    """Files of a TenSet folder grouped by file name (= task) across platform folders."""
    records = src / "measure_records" if (src / "measure_records").is_dir() else src
    platform_dirs = sorted(p for p in records.iterdir() if p.is_dir())
    if only is not None:
        platform_dirs = [p for p in platform_dirs if p.name == only]
        if not platform_dirs:
            raise FileNotFoundError(f"{records}: no platform folder {only!r}")
    if not platform_dirs:
        raise FileNotFoundError(f"{src}: no measure_records/<platform>/ folders with .json logs")
    by_name: dict[str, list[FileJob]] = {}
    platforms: dict[str, list[Path]] = {}
    for pdir in platform_dirs:
        files = sorted(pdir.glob("*.json"))
        if not files:
            continue
        platforms[pdir.name] = files
        for f in files:
            by_name.setdefault(f.name, []).append(FileJob(str(f), pdir.name, f.stat().st_size))
    groups = sorted(by_name.values(), key=lambda g: -sum(j.size for j in g))  # biggest first
    return groups, platforms


def _first_record(files: list[Path]) -> LogRecord | None:
    for path in files[:20]:
        with open(path, "rb") as f:
            for line in f:
                try:
                    record = parse_line(line)
                except MalformedRecord:
                    continue
                if record is not None:
                    return record
    return None


def _folder_platform_row(name: str, files: list[Path]) -> dict:
    """A TenSet machine's public specs (plus what its first record says), or a row derived from it."""
    record = _first_record(files)
    if name in TENSET_PLATFORMS:
        readings = None
        if record is not None:
            readings = {"target": record.task.target, "hardware_params": list(record.task.hardware_params or [])}
        return tenset_platform_row(name, readings)
    if record is None:
        return {"platform": name, "features_source": '{"*": "unknown platform folder, no readable record"}'}
    return derived_platform_row(name, record.task.target, record.task.hardware_params)


def _write_small_rows(ds: Dataset, table: str, rows: list[dict]) -> int:
    """Append the rows of a small table that are absent or different from what is stored."""
    if not rows:
        return 0
    key = {"platforms": "platform", "tasks": "task", "networks": "network"}.get(table)
    existing = ds.read(table).to_pylist()
    if key is not None:
        stored = {r[key]: r for r in existing}
        fresh = [r for r, full in zip(rows, to_arrow(table, rows).to_pylist()) if stored.get(r[key]) != full]
    else:
        stored_links = {(r["network"], r["task"]): r for r in existing}
        fresh = [r for r in rows if stored_links.get((r["network"], r["task"])) != r]
    return ds.append(table, fresh) if fresh else 0


def _write_network_info(ds: Dataset, info: NetworkInfo, report: ImportReport) -> None:
    tasks = [task_row(t.workload_key, t.kind_name, t.details) for t in info.tasks.values()]
    _write_small_rows(ds, "tasks", tasks)
    _write_small_rows(ds, "networks", info.networks)
    _write_small_rows(ds, "network_tasks", info.network_tasks)
    report.networks = len(info.networks)
    report.network_tasks = len(info.network_tasks)
    report.notes.extend(info.problems[:20])
    if len(info.problems) > 20:
        report.notes.append(f"... and {len(info.problems) - 20} more network_info problem(s)")


# --- running workers ----------------------------------------------------------------------------


def _run(config: WorkerConfig, groups: list[list[FileJob]], jobs: int, progress: bool) -> list[tuple]:
    from tqdm import tqdm

    total = sum(j.size for g in groups for j in g)
    bar = tqdm(total=total, unit="B", unit_scale=True, desc="import-tenset", disable=not progress)
    try:
        if jobs == 1:
            worker = GroupImporter(config, progress=bar.update)
            for group in groups:
                worker.import_group(group)
            worker.flush()
            worker.report.cpu_s = 0.0  # counted by the caller, this is its process
            return [(worker.report, worker.group_tasks, worker.platforms_seen)]
        return _run_processes(config, groups, jobs, bar)
    finally:
        bar.close()


def _worker_main(config: WorkerConfig, todo: "mp.Queue", done: "mp.Queue") -> None:
    try:
        worker = GroupImporter(config, progress=lambda n: done.put(("progress", n)))
        while (group := todo.get()) is not None:
            worker.import_group(group)
        worker.flush()
        worker.report.cpu_s = time.process_time()
        done.put(("result", (worker.report, worker.group_tasks, worker.platforms_seen)))
    except BaseException:  # noqa: BLE001 - hand every failure to the parent
        done.put(("error", traceback.format_exc()))


def _run_processes(config: WorkerConfig, groups: list[list[FileJob]], jobs: int, bar) -> list[tuple]:
    # A fork server imports the worker module once and forks the workers from that clean process: no
    # per-worker import cost, and no fork of this process's threads (pyarrow's pools, the progress bar).
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["tenset_study.importers.tenset.worker"])
    else:
        ctx = mp.get_context("spawn")
    todo, done = ctx.Queue(), ctx.Queue()
    for group in groups:
        todo.put(group)
    for _ in range(jobs):
        todo.put(None)
    workers = [ctx.Process(target=_worker_main, args=(config, todo, done), daemon=True) for _ in range(jobs)]
    for w in workers:
        w.start()
    results: list[tuple] = []
    try:
        while len(results) < jobs:
            try:
                kind, payload = done.get(timeout=1.0)
            except queue.Empty:
                if not any(w.is_alive() for w in workers) and done.empty():
                    raise RuntimeError("import worker(s) ended without a result") from None
                continue
            if kind == "progress":
                bar.update(payload)
            elif kind == "result":
                results.append(payload)
            else:
                raise RuntimeError(f"import worker failed:\n{payload}")
    finally:
        for w in workers:
            if w.is_alive() and len(results) < jobs:
                w.terminate()
            w.join(timeout=10)
    return results


# --- the rare case: one task in several groups ----------------------------------------------------


def _remove_cross_group_duplicates(ds: Dataset, tasks: set[str], before: dict[str, set], report: ImportReport) -> None:
    """Drop rows written twice because a task's records sat in files of different names.

    Workers de-duplicate within a group (a task's files); when the same task also occurs in another
    group (e.g. two loose logs of a folder hold the same task), this pass rewrites the parts of this
    import that hold such repeats, keeping the first row of every key.
    """
    task_set = pa.array(sorted(tasks))
    seen: set[str] = set()
    for part in sorted(set(ds.parts("programs")) - before["programs"]):
        data = pq.read_table(part)
        keep = []
        for program, task in zip(data.column("program").to_pylist(), data.column("task").to_pylist()):
            dup = task in tasks and program in seen
            if task in tasks:
                seen.add(program)
            keep.append(not dup)
        if not all(keep):
            report.programs -= keep.count(False)
            write_parquet_atomic(data.filter(pa.array(keep)), part)
    programs = ds.read("programs", columns=["program"], filter=pc.field("task").isin(task_set))
    affected = set(programs.column("program").to_pylist())
    seen_keys: set[tuple[str, str]] = set()
    for part in sorted(set(ds.parts("measurements")) - before["measurements"]):
        data = pq.read_table(part)
        keep = []
        for program, plat, error in zip(data.column("program").to_pylist(), data.column("platform").to_pylist(),
                                        data.column("error").to_pylist()):
            key = (program, plat)
            dup = program in affected and key in seen_keys
            if program in affected:
                seen_keys.add(key)
            if dup:
                report.records -= 1
                report.duplicates += 1
                report.failures -= error is not None
            keep.append(not dup)
        if not all(keep):
            write_parquet_atomic(data.filter(pa.array(keep)), part)
