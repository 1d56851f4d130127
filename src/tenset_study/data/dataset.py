"""The dataset format: a folder of compressed Parquet tables.

A dataset is a directory::

    dataset.json                 format version and a free-text description
    platforms/part-*.parquet     one row per measurement platform (hardware features, provenance)
    networks/part-*.parquet      one row per network variant (family, batch, input shape)
    tasks/part-*.parquet         one row per task (operator class, FLOPs, replayable workload)
    network_tasks/part-*.parquet which task occurs how often in which network
    programs/part-*.parquet      one row per program (a schedule of a task, as a JSON trace)
    measurements/part-*.parquet  one row per (program, platform): latency, repeats or error

Every table is a folder of part files so that writers append without rewriting what is there and
readers stream large tables batch by batch. Each part is written to a hidden temporary file and renamed
into place, so a part is either complete or absent. The small tables (platforms, networks, tasks,
network_tasks) are de-duplicated on their key when read, the last written row winning; writers of
programs and measurements skip keys that already exist (see :meth:`Dataset.existing_keys`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from . import files
from .files import write_json_atomic

FORMAT_VERSION = 1
COMPRESSION = "zstd"

_TS = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    "platforms": pa.schema(
        [
            ("platform", pa.string()),
            ("kind", pa.string()),
            ("target", pa.string()),
            ("model", pa.string()),
            ("arch", pa.string()),
            ("cores", pa.int32()),
            ("threads_per_core", pa.int32()),
            ("vector_bits", pa.int32()),
            ("cache_line_bytes", pa.int32()),
            ("l1d_kib_per_core", pa.float64()),
            ("l2_kib_per_core", pa.float64()),
            ("l3_mib", pa.float64()),
            ("clock_mhz", pa.float64()),
            ("clock_max_mhz", pa.float64()),
            ("memory_gib", pa.float64()),
            ("memory_bandwidth_gbs", pa.float64()),
            ("peak_gflops_fp32", pa.float64()),
            ("sm_count", pa.int32()),
            ("max_threads_per_block", pa.int32()),
            ("max_shared_memory_per_block", pa.int64()),
            ("warp_size", pa.int32()),
            ("compute_capability", pa.string()),
            ("features_source", pa.string()),
            ("readings", pa.string()),
            ("software", pa.string()),
            ("runner", pa.string()),
            ("recorded_at", _TS),
        ]
    ),
    "networks": pa.schema(
        [
            ("network", pa.string()),
            ("family", pa.string()),
            ("batch_size", pa.int32()),
            ("input_shape", pa.list_(pa.int64())),
            ("input_dtype", pa.string()),
            ("source", pa.string()),
        ]
    ),
    "tasks": pa.schema(
        [
            ("task", pa.string()),
            ("kind", pa.string()),
            ("op", pa.string()),
            ("task_name", pa.string()),
            ("flops", pa.float64()),
            ("bytes", pa.float64()),
            ("arithmetic_intensity", pa.float64()),
            ("arg_shapes", pa.string()),
            ("arg_dtypes", pa.string()),
            ("workload_format", pa.string()),
            ("workload", pa.string()),
            ("target", pa.string()),
        ]
    ),
    "network_tasks": pa.schema(
        [
            ("network", pa.string()),
            ("task", pa.string()),
            ("weight", pa.int32()),
        ]
    ),
    "programs": pa.schema(
        [
            ("program", pa.string()),
            ("task", pa.string()),
            ("encoding", pa.string()),
            ("trace", pa.string()),
            ("source", pa.string()),
        ]
    ),
    "measurements": pa.schema(
        [
            ("program", pa.string()),
            ("platform", pa.string()),
            ("latency_s", pa.float64()),
            ("repeats_s", pa.list_(pa.float64())),
            ("error", pa.string()),
            ("measured_at", _TS),
        ]
    ),
}

KEYS: dict[str, tuple[str, ...]] = {
    "platforms": ("platform",),
    "networks": ("network",),
    "tasks": ("task",),
    "network_tasks": ("network", "task"),
    "programs": ("program",),
    "measurements": ("program", "platform"),
}

# Tables small enough to be de-duplicated on read; programs and measurements are append-only streams.
SMALL_TABLES = ("platforms", "networks", "tasks", "network_tasks")
TABLES = tuple(SCHEMAS)

# Column documentation: (type, unit, meaning). Rendered into the book's data chapter and used by tests
# to make sure every column is documented.
COLUMN_DOCS: dict[str, dict[str, tuple[str, str]]] = {
    "platforms": {
        "platform": ("", "platform id, e.g. `epyc-9b45-2c` or TenSet's `platinum-8272`"),
        "kind": ("", "`cpu` or `gpu`"),
        "target": ("", "the TVM target as JSON (TVM 0.27 dict form, or TenSet's target string)"),
        "model": ("", "processor or GPU model as the machine reports it"),
        "arch": ("", "micro-architecture: LLVM `mcpu` for CPUs, `sm_XY` for NVIDIA GPUs"),
        "cores": ("count", "physical cores used (CPU) or streaming multiprocessors (GPU)"),
        "threads_per_core": ("count", "hardware threads per core (CPU)"),
        "vector_bits": ("bit", "widest SIMD register the code generator may use (CPU)"),
        "cache_line_bytes": ("byte", "cache line size"),
        "l1d_kib_per_core": ("KiB", "L1 data cache per core (GPU: per SM, when known)"),
        "l2_kib_per_core": ("KiB", "L2 cache per core (GPU: null, see l3_mib for the shared L2)"),
        "l3_mib": ("MiB", "last-level cache in total (CPU L3, GPU L2)"),
        "clock_mhz": ("MHz", "base clock"),
        "clock_max_mhz": ("MHz", "maximum (boost) clock"),
        "memory_gib": ("GiB", "main memory (CPU) or device memory (GPU)"),
        "memory_bandwidth_gbs": ("GB/s", "memory bandwidth: measured or public spec, see features_source"),
        "peak_gflops_fp32": ("GFLOP/s", "fp32 peak: public spec or derived, see features_source"),
        "sm_count": ("count", "streaming multiprocessors (GPU)"),
        "max_threads_per_block": ("count", "TVM target limit (GPU)"),
        "max_shared_memory_per_block": ("byte", "TVM target limit (GPU)"),
        "warp_size": ("count", "threads per warp (GPU)"),
        "compute_capability": ("", "CUDA compute capability, e.g. `9.0`"),
        "features_source": ("", "where each hardware feature came from (JSON: column -> source)"),
        "readings": ("", "raw machine readings (lscpu, nvidia-smi) as JSON"),
        "software": ("", "TVM, TVM-FFI, torch, Python, driver versions as JSON"),
        "runner": ("", "measurement settings (repeats, minimum repeat time, builder) as JSON"),
        "recorded_at": ("UTC", "when the platform row was recorded"),
    },
    "networks": {
        "network": ("", "network id: `<family>-b<batch>-<size>`, e.g. `resnet_50-b1-224`"),
        "family": ("", "network family, e.g. `resnet_50`, `bert_base`"),
        "batch_size": ("count", "batch size"),
        "input_shape": ("", "shape of the network's input tensor"),
        "input_dtype": ("", "dtype of the input tensor"),
        "source": ("", "`zoo` (this project's PyTorch zoo) or `tenset` (imported)"),
    },
    "tasks": {
        "task": ("", "task id: hash of the workload and the target kind"),
        "kind": ("", "`cpu` or `gpu`: the design space the programs come from"),
        "op": ("", "operator class, e.g. `conv2d`, `dense`, `batch_matmul`, `pool`, `elementwise`"),
        "task_name": ("", "MetaSchedule's task name (fused function name) or TenSet's workload name"),
        "flops": ("FLOP", "floating-point operations of one run (null when unknown)"),
        "bytes": ("byte", "bytes of all buffer arguments (inputs and outputs)"),
        "arithmetic_intensity": ("FLOP/byte", "flops / bytes"),
        "arg_shapes": ("", "JSON list of the buffer arguments' shapes"),
        "arg_dtypes": ("", "JSON list of the buffer arguments' dtypes"),
        "workload_format": ("", "`tvm-ir-json` (replayable IRModule) or `ansor-workload-key`"),
        "workload": ("", "the workload itself: an IRModule as TVM JSON, or TenSet's workload key"),
        "target": ("", "the TVM target the task was extracted for (JSON)"),
    },
    "network_tasks": {
        "network": ("", "network id"),
        "task": ("", "task id"),
        "weight": ("count", "occurrences of the task in the network"),
    },
    "programs": {
        "program": ("", "program id: hash of the task and the trace"),
        "task": ("", "task id"),
        "encoding": ("", "`metaschedule` (TVM trace JSON) or `ansor` (TenSet's step list)"),
        "trace": ("", "the schedule as JSON: MetaSchedule `[instructions, decisions]` or Ansor steps"),
        "source": ("", "how the program was found: `random`, `evolutionary`, `tenset`, `database`"),
    },
    "measurements": {
        "program": ("", "program id"),
        "platform": ("", "platform id"),
        "latency_s": ("s", "mean of the repeats; null when the measurement failed"),
        "repeats_s": ("s", "every repeat's time"),
        "error": ("", "null, or what failed (build, run, timeout) with its message"),
        "measured_at": ("UTC", "when the measurement was taken"),
    },
}


class DatasetError(ValueError):
    """A dataset folder or a table written to it is not valid."""


def to_arrow(table: str, rows: pa.Table | pd.DataFrame | Iterable[dict]) -> pa.Table:
    """Convert rows (Arrow table, DataFrame, or dicts) to the table's schema, filling missing columns."""
    schema = _schema(table)
    if isinstance(rows, pa.Table):
        data = rows
    elif isinstance(rows, pd.DataFrame):
        data = pa.Table.from_pandas(rows, preserve_index=False)
    else:
        rows = list(rows)
        columns = {name: [row.get(name) for row in rows] for name in schema.names}
        unknown = {k for row in rows for k in row} - set(schema.names)
        if unknown:
            raise DatasetError(f"table {table!r} has no column(s) {sorted(unknown)}")
        return pa.table(columns, schema=schema)
    unknown = set(data.column_names) - set(schema.names)
    if unknown:
        raise DatasetError(f"table {table!r} has no column(s) {sorted(unknown)}")
    arrays = []
    for field in schema:
        if field.name in data.column_names:
            try:
                arrays.append(data.column(field.name).cast(field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise DatasetError(f"table {table!r}, column {field.name!r}: {err}") from err
        else:
            arrays.append(pa.nulls(data.num_rows, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _schema(table: str) -> pa.Schema:
    if table not in SCHEMAS:
        raise DatasetError(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
    return SCHEMAS[table]


def part_name() -> str:
    """A new part's file name: ``part-<nanoseconds>-<random>.parquet``, unique and in order of writing."""
    return f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"


def write_parquet_atomic(data: pa.Table, path: Path) -> None:
    """Write a Parquet file (the dataset's compression) so that readers see either the whole file or nothing."""
    files.write_parquet_atomic(data, path, compression=COMPRESSION)


@dataclass
class Dataset:
    """A dataset folder. Open an existing one with :meth:`open`, make a new one with :meth:`create`."""

    root: Path

    @classmethod
    def create(cls, root: str | os.PathLike, description: str = "", exist_ok: bool = True) -> "Dataset":
        """Create an empty dataset at ``root`` (or open it, when it exists and ``exist_ok``)."""
        root = Path(root)
        if (root / "dataset.json").exists():
            if not exist_ok:
                raise DatasetError(f"{root}: a dataset exists already")
            return cls.open(root)
        root.mkdir(parents=True, exist_ok=True)
        write_json_atomic({"format_version": FORMAT_VERSION, "description": description}, root / "dataset.json")
        return cls(root)

    @classmethod
    def open(cls, root: str | os.PathLike) -> "Dataset":
        """Open an existing dataset; raise :class:`DatasetError` naming the folder if it is not one."""
        root = Path(root)
        meta_path = root / "dataset.json"
        if not meta_path.exists():
            raise DatasetError(f"{root}: not a tenset-study dataset (no dataset.json)")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as err:
            raise DatasetError(f"{meta_path}: not valid JSON ({err})") from err
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise DatasetError(f"{meta_path}: format version {version!r}, this package reads {FORMAT_VERSION}")
        return cls(root)

    @property
    def meta(self) -> dict:
        return json.loads((self.root / "dataset.json").read_text())

    # --- writing ---------------------------------------------------------------------------------

    def append(self, table: str, rows: pa.Table | pd.DataFrame | Iterable[dict]) -> int:
        """Append rows to a table as one new part file (atomic). Returns the number of rows written."""
        data = to_arrow(table, rows)
        if data.num_rows == 0:
            return 0
        write_parquet_atomic(data, self.root / table / part_name())
        return data.num_rows

    def compact(self, table: str) -> None:
        """Rewrite a table as one part file, de-duplicated on its key (last row wins)."""
        parts = self.parts(table)
        if len(parts) <= 1 and table not in SMALL_TABLES:
            return
        data = self._deduplicated(table)
        write_parquet_atomic(data, self.root / table / part_name())
        for part in parts:
            part.unlink()

    def _deduplicated(self, table: str) -> pa.Table:
        """The whole table, de-duplicated on its key (last row wins); small tables come so from :meth:`read`."""
        data = self.read(table)
        return data if table in SMALL_TABLES else _drop_duplicate_keys(data, KEYS[table])

    def copy_compacted(self, dest: str | os.PathLike, overwrite: bool = False) -> "Dataset":
        """Copy the dataset to ``dest`` with every table as one de-duplicated part file (a folder to commit
        or share; the source, e.g. a collection still in progress, keeps its parts). Each table is read whole,
        one at a time. ``dest`` must not hold a dataset unless ``overwrite``; the copy is written into a
        hidden sibling folder and renamed into place, so a killed copy leaves no half dataset behind."""
        dest = Path(dest)
        if dest.resolve() == self.root.resolve():
            raise DatasetError(f"{dest}: the copy must go to another folder than {self.root}")
        if dest.exists() and any(dest.iterdir()) and not overwrite:
            raise DatasetError(f"{dest}: exists and is not empty (overwrite to replace it)")
        staging = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
        copy = Dataset.create(staging, description=self.meta.get("description", ""), exist_ok=False)
        try:
            for table in SCHEMAS:
                copy.append(table, self._deduplicated(table))
            if dest.exists():
                shutil.rmtree(dest)
            staging.rename(dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return Dataset(dest)

    # --- reading ---------------------------------------------------------------------------------

    def parts(self, table: str) -> list[Path]:
        """The table's part files in the order they were written."""
        _schema(table)
        folder = self.root / table
        return sorted(folder.glob("part-*.parquet")) if folder.exists() else []

    def read(self, table: str, columns: list[str] | None = None, filter: pc.Expression | None = None) -> pa.Table:
        """Read a whole table (or some columns / rows). Small tables come de-duplicated on their key."""
        schema = _schema(table)
        parts = self.parts(table)
        if not parts:
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        wanted = columns
        if table in SMALL_TABLES and columns is not None:
            wanted = list(dict.fromkeys([*KEYS[table], *columns]))
        data = pads.dataset([str(p) for p in parts], schema=schema, format="parquet").to_table(
            columns=wanted, filter=filter
        )
        if table in SMALL_TABLES:
            data = _drop_duplicate_keys(data, KEYS[table])
            if columns is not None:
                data = data.select(columns)
        return data

    def to_pandas(self, table: str, columns: list[str] | None = None, filter: pc.Expression | None = None) -> pd.DataFrame:
        """Read a table as a pandas DataFrame."""
        return self.read(table, columns, filter).to_pandas()

    def iter_batches(self, table: str, columns: list[str] | None = None, batch_size: int = 65536) -> Iterator[pa.RecordBatch]:
        """Stream a table batch by batch without loading it whole (not de-duplicated)."""
        schema = _schema(table)
        for part in self.parts(table):
            yield from pq.ParquetFile(part).iter_batches(batch_size=batch_size, columns=columns or schema.names)

    def count(self, table: str) -> int:
        """Number of rows in a table (small tables: after de-duplication)."""
        if table in SMALL_TABLES:
            return self.read(table).num_rows
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.parts(table))

    def existing_keys(self, table: str, filter: pc.Expression | None = None) -> set:
        """The keys present in a table: single values for one-column keys, tuples otherwise."""
        key = KEYS[table]
        data = self.read(table, columns=list(key), filter=filter)
        if len(key) == 1:
            return set(data.column(key[0]).to_pylist())
        return set(zip(*(data.column(k).to_pylist() for k in key)))

    def summary(self) -> dict[str, int]:
        """Row counts of every table."""
        return {table: self.count(table) for table in TABLES}

    def size_bytes(self) -> int:
        """Bytes on disk of all part files."""
        return sum(p.stat().st_size for table in TABLES for p in self.parts(table))

    def validate(self) -> list[str]:
        """Check keys and references between tables. Returns a list of problems (empty when valid)."""
        problems = []
        platforms = self.existing_keys("platforms")
        tasks = self.existing_keys("tasks")
        networks = self.existing_keys("networks")
        programs = self.read("programs", columns=["program", "task"])
        if programs.num_rows != len(set(programs.column("program").to_pylist())):
            problems.append("programs: duplicate program ids")
        missing = set(programs.column("task").to_pylist()) - tasks
        if missing:
            problems.append(f"programs: {len(missing)} task id(s) missing from tasks, e.g. {sorted(missing)[:3]}")
        program_ids = set(programs.column("program").to_pylist())
        measured = self.read("measurements", columns=["program", "platform"])
        pairs = list(zip(measured.column("program").to_pylist(), measured.column("platform").to_pylist()))
        if len(pairs) != len(set(pairs)):
            problems.append("measurements: duplicate (program, platform) rows")
        unknown_programs = {p for p, _ in pairs} - program_ids
        if unknown_programs:
            problems.append(f"measurements: {len(unknown_programs)} program id(s) missing from programs")
        unknown_platforms = {q for _, q in pairs} - platforms
        if unknown_platforms:
            problems.append(f"measurements: platform(s) missing from platforms: {sorted(unknown_platforms)}")
        links = self.read("network_tasks")
        bad_networks = set(links.column("network").to_pylist()) - networks
        if bad_networks:
            problems.append(f"network_tasks: network(s) missing from networks: {sorted(bad_networks)[:5]}")
        bad_tasks = set(links.column("task").to_pylist()) - tasks
        if bad_tasks:
            problems.append(f"network_tasks: {len(bad_tasks)} task id(s) missing from tasks")
        return problems


def _drop_duplicate_keys(data: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """Keep the last row of every key, in the order of first appearance of the key."""
    if data.num_rows == 0:
        return data
    frame = data.select(list(key)).to_pandas()
    keep = ~frame.duplicated(subset=list(key), keep="last")
    if keep.all():
        return data
    return data.filter(pa.array(keep.to_numpy()))


def stable_id(*parts: str, length: int = 16) -> str:
    """A short, stable hexadecimal id from strings (BLAKE2b), used for task and program ids."""
    import hashlib

    h = hashlib.blake2b(digest_size=max(8, length // 2 + 1))
    for part in parts:
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:length]


def task_id(workload: str, kind: str) -> str:
    """Task id: the workload (TenSet workload key or TVM structural hash) and the target kind."""
    return stable_id("task", workload, kind)


def program_id(task: str, trace: str) -> str:
    """Program id: the task and the schedule's canonical JSON."""
    return stable_id("program", task, trace)
