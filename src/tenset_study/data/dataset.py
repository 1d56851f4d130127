"""The dataset format: a folder of compressed Parquet tables.

A dataset is a directory::

    dataset.json                 format version and a free-text description
    platforms/part-*.parquet     one row per measurement platform (hardware features, provenance)
    networks/part-*.parquet      one row per network variant (family, batch, input shape)
    tasks/part-*.parquet         one row per task (operator class, FLOPs, replayable workload)
    network_tasks/part-*.parquet which task occurs how often in which network
    programs/part-*.parquet      one row per program (a schedule of a task, as a JSON trace)
    measurements/part-*.parquet  one row per (program, platform): latency, repeats or error
    remeasurements/part-*.parquet one row per (program, platform, session): a fixed sample measured again

Every table is a folder of part files so that writers append without rewriting what is there and
readers stream large tables batch by batch. Each part is written to a hidden temporary file and renamed
into place, so a part is either complete or absent. The small tables (platforms, networks, tasks,
network_tasks) are de-duplicated on their key when read, the last written row winning; writers of
programs and measurements skip keys that already exist (see :meth:`Dataset.existing_keys`). A program
without a row in ``measurements`` for a platform is not measured there (yet); a row with a null latency is a
measurement that failed, and ``error`` says why. A part that cannot be read is named in a
:class:`DatasetError`.

The tables' schemas, keys and column documentation are in :mod:`tenset_study.data.schema`, the task and
program ids in :mod:`tenset_study.data.ids`; both are re-exported here. ``remeasurements`` holds the
measurements of a fixed sample of programs taken again in later collection sessions
(:mod:`tenset_study.collect.remeasure`): the noise across sessions.
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
from .ids import program_id, stable_id, task_id
from .schema import COLUMN_DOCS, KEYS, SCHEMAS, SMALL_TABLES, TABLES

__all__ = [
    "COLUMN_DOCS", "COMPRESSION", "FORMAT_VERSION", "KEYS", "SCHEMAS", "SMALL_TABLES", "TABLES", "Dataset",
    "DatasetError", "part_name", "program_id", "stable_id", "task_id", "to_arrow", "write_json_atomic",
    "write_parquet_atomic",
]

FORMAT_VERSION = 1
COMPRESSION = "zstd"
#: What pyarrow raises for a file it cannot read as Parquet.
_READ_ERRORS = (pa.ArrowException, OSError)

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

    def __post_init__(self) -> None:
        self.root = Path(self.root)  # a folder named by a string works too (``Dataset("data/v1")``)

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
        try:
            data = pads.dataset([str(p) for p in parts], schema=schema, format="parquet").to_table(
                columns=wanted, filter=filter
            )
        except _READ_ERRORS as err:
            bad = _unreadable_part(parts)
            if bad is None:
                raise
            raise bad from err
        if table in SMALL_TABLES:
            data = _drop_duplicate_keys(data, KEYS[table])
            if columns is not None:
                data = data.select(columns)
        return data

    def to_pandas(self, table: str, columns: list[str] | None = None,
                  filter: pc.Expression | None = None) -> pd.DataFrame:
        """Read a table as a pandas DataFrame."""
        return self.read(table, columns, filter).to_pandas()

    def iter_batches(self, table: str, columns: list[str] | None = None,
                     batch_size: int = 65536) -> Iterator[pa.RecordBatch]:
        """Stream a table batch by batch without loading it whole (not de-duplicated)."""
        schema = _schema(table)
        for part in self.parts(table):
            try:
                yield from pq.ParquetFile(part).iter_batches(batch_size=batch_size, columns=columns or schema.names)
            except _READ_ERRORS as err:
                raise (_unreadable_part([part]) or DatasetError(f"{part}: {_first_line(err)}")) from err

    def count(self, table: str) -> int:
        """Number of rows in a table (small tables: after de-duplication)."""
        if table in SMALL_TABLES:
            return self.read(table).num_rows
        return sum(_parquet_file(p).metadata.num_rows for p in self.parts(table))

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
        again = self.read("remeasurements", columns=["program", "platform"])
        if set(again.column("program").to_pylist()) - program_ids:
            problems.append("remeasurements: program id(s) missing from programs")
        if set(again.column("platform").to_pylist()) - platforms:
            problems.append("remeasurements: platform(s) missing from platforms")
        links = self.read("network_tasks")
        bad_networks = set(links.column("network").to_pylist()) - networks
        if bad_networks:
            problems.append(f"network_tasks: network(s) missing from networks: {sorted(bad_networks)[:5]}")
        bad_tasks = set(links.column("task").to_pylist()) - tasks
        if bad_tasks:
            problems.append(f"network_tasks: {len(bad_tasks)} task id(s) missing from tasks")
        return problems


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:300] if lines else type(err).__name__


def _parquet_file(part: Path) -> pq.ParquetFile:
    """Open a part; a file that is not Parquet (truncated, overwritten) raises a :class:`DatasetError` naming it."""
    try:
        return pq.ParquetFile(part)
    except _READ_ERRORS as err:
        raise DatasetError(f"{part}: not a Parquet file ({_first_line(err)})") from err


def _unreadable_part(parts: list[Path]) -> DatasetError | None:
    """After reading ``parts`` failed: a one-line :class:`DatasetError` naming the first part that does not
    open or read, or None when every part reads on its own (the error was a bad column or filter)."""
    for part in parts:
        try:
            _parquet_file(part)
        except DatasetError as bad:
            return bad
    for part in parts:
        try:
            pq.read_table(part)
        except _READ_ERRORS as bad:
            return DatasetError(f"{part}: unreadable Parquet part ({_first_line(bad)})")
    return None


def _drop_duplicate_keys(data: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """Keep the last row of every key, in the order of first appearance of the key."""
    if data.num_rows == 0:
        return data
    frame = data.select(list(key)).to_pandas()
    keep = ~frame.duplicated(subset=list(key), keep="last")
    if keep.all():
        return data
    return data.filter(pa.array(keep.to_numpy()))
