"""One import worker: reads groups of TenSet files and writes its own Parquet parts.

A *group* is the set of files of one task, one per platform (TenSet names a task's file the same
under every ``measure_records/<platform>/``), or one loose log file. Programs are shared between the
platforms of a group: a program's id is computed once per distinct step text and task (BLAKE2b, as
:func:`tenset_study.data.dataset.program_id`), its row written once, and each platform's measurement of it
written once; later repeats are counted as duplicates. Keys present in the dataset before the import
(:class:`tenset_study.importers.tenset.keys.KeyIndex`) are skipped, so a re-import writes nothing.

Rows are buffered and written as parts of at least ``batch_rows`` rows; every flush writes the new
tasks and platforms first, then programs, then measurements, so a part never refers to a row that
does not exist yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from ...data.dataset import Dataset, task_id
from .chunk import STEP_TABLE, BadLine, Chunk, StepChecker, canonical_steps, split_lines
from .costs import Numbers, convert
from .columns import append_part, first_unseen, program_ids, string_array
from .keys import KeyIndex
from .log import ERROR_NAMES, LogTask, MalformedRecord, parse_task
from .platforms import derived_platform_id, derived_platform_row
from ..report import ImportReport
from .workload import TaskDetails, target_kind, task_row

CHUNK_BYTES = 8 << 20
_ERROR_NAMES = pa.array([None, *ERROR_NAMES[1:]], pa.string())
_NO_IDS = np.zeros(0, dtype=np.uint64)
_TS = pa.timestamp("us", tz="UTC")


@dataclass
class FileJob:
    """A log file and the platform of its records (None: derive it from each record)."""

    path: str
    platform: str | None
    size: int = 0


@dataclass
class WorkerConfig:
    """What every worker needs to know; picklable for worker processes."""

    dest: str
    batch_rows: int = 250_000
    details: dict[str, TaskDetails] = field(default_factory=dict)  # task id -> network_info tensors
    known_tasks: set[str] = field(default_factory=set)  # task rows already written
    known_platforms: set[str] = field(default_factory=set)
    platform_override: str | None = None  # --platform for loose files
    key_index_dir: str | None = None


@dataclass
class _Task:
    task: str
    platform: str | None
    hasher: "hashlib._Hash"


class GroupImporter:
    """Imports groups of files into a dataset; see the module docstring."""

    def __init__(self, config: WorkerConfig, progress: Callable[[int], None] | None = None) -> None:
        self.cfg = config
        self.ds = Dataset(Path(config.dest))
        self.keys = KeyIndex.load(Path(config.key_index_dir)) if config.key_index_dir else KeyIndex()
        self.progress = progress
        self.report = ImportReport()
        self.entries: list[_Task] = []
        self.by_text: dict[bytes, int] = {}
        self.known_tasks = set(config.known_tasks)
        self.known_platforms = set(config.known_platforms)
        self.pending_tasks: list[dict] = []
        self.pending_platforms: list[dict] = []
        self.programs: list[pa.Table] = []
        self.measurements: list[pa.Table] = []
        self.buffered = 0
        self.group_tasks: list[frozenset[str]] = []
        self.platforms_seen: set[str] = set()
        self._caches: dict[str, dict[bytes, bytes]] = {}
        self._raw_caches: dict[str, dict[bytes, bytes]] = {}
        self._seen: dict[str, np.ndarray] = {}  # per platform: sorted program numbers measured in the group
        self._group: set[str] = set()
        self._file_platform: str | None = None  # the platform of the file being read (None: loose file)
        self.steps = StepChecker()

    # --- tasks and platforms -----------------------------------------------------------------------

    def _resolve(self, text: bytes, task: LogTask | None) -> int:
        index = self.by_text.get(text)
        if index is not None:
            return index
        if task is None:
            try:
                task = parse_task(orjson.loads(text))
            except orjson.JSONDecodeError:
                raise MalformedRecord("task is not valid JSON") from None
        tid = task_id(task.workload_key, target_kind(task.target))
        platform = None
        if self._file_platform is None:
            platform = self.cfg.platform_override or derived_platform_id(task.target, task.hardware_params)
            if platform not in self.known_platforms:
                self.known_platforms.add(platform)
                self.pending_platforms.append(derived_platform_row(platform, task.target, task.hardware_params))
        if tid not in self.known_tasks:
            self.known_tasks.add(tid)
            self.pending_tasks.append(task_row(task.workload_key, task.target, self.cfg.details.get(tid)))
        hasher = hashlib.blake2b(digest_size=9)  # exactly dataset.stable_id("program", task, trace)
        hasher.update(b"program\x00" + tid.encode() + b"\x00")
        self.entries.append(_Task(tid, platform, hasher))
        self.by_text[text] = len(self.entries) - 1
        return len(self.entries) - 1

    # --- reading -----------------------------------------------------------------------------------

    def import_group(self, group: list[FileJob]) -> None:
        """Import the files of one group (one task on several platforms, or one loose file)."""
        self._caches, self._raw_caches, self._seen, self._group = {}, {}, {}, set()
        for job in group:
            self._import_file(job)
        self.group_tasks.append(frozenset(self._group))
        self._caches, self._raw_caches, self._seen = {}, {}, {}

    def _import_file(self, job: FileJob) -> None:
        self.report.files += 1
        self._file_platform = job.platform
        if job.platform is not None:
            self.platforms_seen.add(job.platform)
        lineno = 0
        with open(job.path, "rb") as f:
            while True:
                data = f.read(CHUNK_BYTES)
                if not data:
                    break
                if not data.endswith(b"\n"):
                    data += f.readline()
                lineno += self._chunk(data, lineno, job.path)
                if self.progress is not None:
                    self.progress(len(data))

    def _chunk(self, data: bytes, lineno: int, path: str) -> int:
        """Import the whole lines in ``data``; returns how many lines it held."""
        report = self.report

        def bad(line: int, reason: str) -> None:
            report.add_malformed(path, line, reason)

        chunk = split_lines(data, lineno, self._resolve, bad)
        report.lines += chunk.lines
        report.comment_lines += chunk.comment_lines
        nums = convert(chunk, bad)
        if len(nums.keep) < len(chunk.raws):
            chunk = chunk.take(nums.keep)
        if len(nums.keep):
            digests, new, new_traces, ok = self._hash(chunk, bad)
            self._write_rows(chunk, nums, digests, new, new_traces, ok)
            if self.buffered >= self.cfg.batch_rows:
                self.flush()
        return chunk.lines

    def _hash(self, chunk: Chunk, bad: BadLine) -> tuple[list[bytes], list[int], list[bytes], np.ndarray]:
        """Program digests of the records, the first-seen programs (indices, traces), and a keep mask.

        Two caches per task: written step text -> digest (hit for the same program on the next
        platform), and canonical text -> digest (programs written with other spacing).
        """
        entries = self.entries
        used = set(chunk.task_idx)
        raw_caches = {t: self._raw_caches.setdefault(entries[t].task, {}) for t in used}
        caches = {t: self._caches.setdefault(entries[t].task, {}) for t in used}
        hashers = {t: entries[t].hasher for t in used}
        canonical = chunk.canonical
        new: list[int] = []
        new_traces: list[bytes] = []
        ok = np.ones(len(chunk.raws), dtype=bool)
        if len(used) == 1:  # one task (always so in TenSet files): look the texts up at C speed
            (t,) = used
            digests = list(map(raw_caches[t].get, chunk.raws))
        else:
            digests = [raw_caches[t].get(raw) for t, raw in zip(chunk.task_idx, chunk.raws)]
        misses = [j for j, d in enumerate(digests) if d is None]
        for j in misses:
            t, raw = chunk.task_idx[j], chunk.raws[j]
            d = raw_caches[t].get(raw)  # an earlier miss of this chunk may have added it
            if d is None:
                cache = caches[t]
                try:
                    trace = self._trace(raw, j in canonical, cache)
                except MalformedRecord as err:
                    bad(chunk.lineno(j), str(err))
                    ok[j] = False
                    digests[j] = b"\x00" * 9
                    continue
                d = cache.get(trace)
                if d is None:
                    h = hashers[t].copy()
                    h.update(trace)
                    h.update(b"\x00")
                    d = cache[trace] = h.digest()
                    new.append(j)
                    new_traces.append(trace)
                raw_caches[t][raw] = d
            digests[j] = d
        self._group.update(entries[t].task for t in used)
        return digests, new, new_traces, ok

    def _trace(self, raw: bytes, is_canonical: bool, cache: dict[bytes, bytes]) -> bytes:
        """The canonical text of a step list as written; raises :class:`MalformedRecord` for a bad one.

        Fast: the text without spaces, when that is a program seen before in the task (``cache``); a new
        one is checked and re-encoded exactly (:class:`StepChecker`), so that only valid step lists are
        stored, with the text the slow path gives.
        """
        trace = raw.translate(STEP_TABLE, b" ")  # canonical_steps' fast path, inlined
        removed = len(raw) - len(trace)
        if (removed and removed != trace.count(b",")) or b"\x00" in trace or is_canonical:
            return canonical_steps(raw, is_canonical)  # decoded, checked and re-encoded
        return trace if trace in cache else self.steps.canonical(trace)

    # --- writing -----------------------------------------------------------------------------------

    def _write_rows(self, chunk: Chunk, nums: Numbers, digests: list[bytes], new: list[int],
                    new_traces: list[bytes], ok: np.ndarray) -> None:
        """Buffer the rows of a chunk: its new programs (measured or not) and its fresh measurements."""
        ids, id_strings = program_ids(digests)
        names, codes = self._platform_codes(chunk)
        self.platforms_seen.update(names)
        measured = ok & nums.measured
        self.report.not_measured += int((ok & ~nums.measured).sum())
        fresh = self._fresh_measurements(ids, measured, names, codes)
        if new:
            self._buffer_programs(chunk, ids, id_strings, new, new_traces)
        kept = int(fresh.sum())
        if kept == 0:
            return
        failed = nums.errors != 0
        offsets = np.zeros(len(digests) + 1, dtype=np.int32)
        np.cumsum(nums.lengths, out=offsets[1:])
        table = pa.table({
            "program": id_strings,
            "platform": pa.array(names, pa.string()).take(pa.array(codes)),
            "latency_s": pa.array(nums.latency, mask=failed),
            "repeats_s": pa.ListArray.from_arrays(pa.array(offsets), pa.array(nums.values), mask=pa.array(failed)),
            "error": _ERROR_NAMES.take(pa.array(nums.errors)),
            "measured_at": pa.array((nums.stamps * 1e6).astype(np.int64), _TS),
        })
        if kept < len(digests):
            table = table.filter(pa.array(fresh))
        self.measurements.append(table)
        self.buffered += kept
        self.report.records += kept
        self.report.failures += int(failed[fresh].sum())

    def _platform_codes(self, chunk: Chunk) -> tuple[list[str], np.ndarray]:
        """The platforms of a chunk's records (the file's, or each task text's for loose files) and each
        record's index into them."""
        if self._file_platform is not None:
            return [self._file_platform], np.zeros(len(chunk.raws), dtype=np.int32)
        names = sorted({self.entries[t].platform for t in set(chunk.task_idx)})
        code_of = {name: i for i, name in enumerate(names)}
        by_task = np.array([code_of.get(e.platform, -1) for e in self.entries], dtype=np.int32)
        return names, by_task[np.asarray(chunk.task_idx, dtype=np.int64)]

    def _fresh_measurements(self, ids: np.ndarray, candidates: np.ndarray, names: list[str],
                            codes: np.ndarray) -> np.ndarray:
        """Mask of the first record of each (program, platform) in the group that is not in the dataset
        before the import; counts the others as duplicates or already present."""
        fresh = np.zeros(len(ids), dtype=bool)
        for code, name in enumerate(names):
            rows = candidates if len(names) == 1 else candidates & (codes == code)
            first, self._seen[name] = first_unseen(ids, rows, self._seen.get(name, _NO_IDS))
            self.report.duplicates += int(rows.sum() - first.sum())
            if not self.keys.empty:
                present = first & self.keys.has_measurements(name, ids)
                first &= ~present
                self.report.already_present += int(present.sum())
            fresh |= first
        return fresh

    def _buffer_programs(self, chunk: Chunk, ids: np.ndarray, id_strings: pa.Array, new: list[int],
                         new_traces: list[bytes]) -> None:
        """Buffer the rows of the programs first seen in this group, minus those in the dataset already."""
        new_idx = np.array(new, dtype=np.int64)
        traces = new_traces
        if not self.keys.empty:
            absent = ~self.keys.has_programs(ids[new_idx])
            new_idx = new_idx[absent]
            traces = [tr for tr, a in zip(new_traces, absent) if a]
        if not len(new_idx):
            return
        task_names = pa.array([e.task for e in self.entries], pa.string())
        task_codes = np.asarray(chunk.task_idx, dtype=np.int64)[new_idx]
        self.programs.append(pa.table({
            "program": id_strings.take(pa.array(new_idx)),
            "task": task_names.take(pa.array(task_codes)),
            "encoding": pa.repeat("ansor", len(new_idx)),
            "trace": string_array(traces),
            "source": pa.repeat("tenset", len(new_idx)),
        }))
        self.report.programs += len(new_idx)
        self.buffered += len(new_idx)

    def flush(self) -> None:
        """Write everything buffered: tasks, platforms, programs, measurements (in that order)."""
        if self.pending_tasks:
            self.ds.append("tasks", self.pending_tasks)
            self.pending_tasks = []
        if self.pending_platforms:
            self.ds.append("platforms", self.pending_platforms)
            self.pending_platforms = []
        if self.programs:
            append_part(self.ds, "programs", pa.concat_tables(self.programs))
            self.programs = []
        if self.measurements:
            append_part(self.ds, "measurements", pa.concat_tables(self.measurements))
            self.measurements = []
        self.buffered = 0
