"""A sharded on-disk store of training records and their schedule tokens, for training at TenSet scale.

The in-memory path (:func:`tenset_study.models.inputs.build_inputs`) holds every record and a token array
``[programs, max_len, width]`` in memory: about 20 KB per program, so 200 GB for TenSet's 10 million
programs. The store keeps the same features on disk in shards that a training process reads one (or a few)
at a time, so memory is bounded by the shard size, not by the dataset:

    STORE/store.json                      manifest: featurizer, shards, record counts, source dataset
    STORE/features/<shard>.parquet        per program: id, task, token count, its real tokens (zstd)
    STORE/records-<key>/<shard>.parquet   the measured records of that shard's programs, with labels
    STORE/records-<key>/_groups.parquet   per (shard, task, platform): records, kind, op
    STORE/hardware.parquet, workload.parquet, network_tasks.parquet   the small context tables

A *feature shard* is a run of at most ``shard_programs`` consecutive rows of one ``programs`` part file,
tokenized with the featurizer of the in-memory path (:func:`tenset_study.features.tokens.encode_programs`, same
:data:`~tenset_study.features.tokens.TOKENIZER_VERSION`, same ``max_len``). Only real tokens are stored (padding is
restored on reading), in compressed Parquet. Its name carries a hash of the part file's name and size, the
featurizer version, ``max_len`` and ``shard_programs``, so a shard on disk is never stale; each is written
atomically, and a build that is interrupted resumes at the first shard not written. Programs of one task
are written together by the collector and by the TenSet importer, so a shard holds few tasks and most
(task, platform) groups lie in one shard; the stream forms ranking lists within a group and a shard.

The *record shard* of a feature shard holds the records of its programs (one per successful measurement,
as :func:`tenset_study.data.records.load_records` keeps them) with the label ``min latency of the (task,
platform) group / latency``, the minimum taken over the whole dataset. Measurements are in collection
order, so they are joined to their programs by an external hash join: programs ids and measurements are
partitioned to disk by a hash of the program id into buckets of about ``bucket_rows`` rows, each bucket is
joined in memory, the joined rows are partitioned again by shard range, and each range is split into its
record shards. Memory is bounded by ``bucket_rows`` and ``shard_programs``; the group minima are the only
state that grows with the data (one number per (task, platform) group). Record shards are rebuilt, into a
new folder named by a hash of the measurement and task part files and the feature shards, whenever those
change; the manifest is replaced atomically after the new folder is complete, then the old one removed.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import context, tokens
from ..data.dataset import Dataset, write_json_atomic, write_parquet_atomic
from .cache import cache_root, table_fingerprint

STORE_FORMAT = 1
MANIFEST = "store.json"
DEFAULT_SHARD_PROGRAMS = 4096
DEFAULT_BUCKET_ROWS = 500_000
GROUPS_FILE = "_groups.parquet"
RECORD_COLUMNS = ("program", "task", "platform", "latency_s", "label", "feature_row")


class FeatureStoreError(ValueError):
    """A feature store folder is missing, of another format, or built with other settings."""


def default_store_path(ds: Dataset, max_len: int) -> Path:
    """Where ``train --stream`` keeps a dataset's store unless told otherwise (beside the feature cache)."""
    return cache_root(ds) / f"stream-tokens-len{int(max_len)}"


# --- reading ---------------------------------------------------------------------------------------------


@dataclass
class ShardFeatures:
    """The tokens of one feature shard: real tokens of all programs concatenated, and where each starts."""

    flat: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.flat.nbytes + self.starts.nbytes + self.lengths.nbytes

    def gather(self, rows: np.ndarray, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Tokens ``[n, L, width]`` (zero-padded; ``L`` the longest of the rows' lengths, at least 1, or
        ``max_len``) and lengths ``[n]`` of the programs at ``rows``."""
        lengths = self.lengths[rows]
        width = self.flat.shape[1]
        steps = max(1, int(lengths.max(initial=0))) if max_len is None else max_len
        out = np.zeros((len(rows), steps, width), dtype=np.float32)
        if lengths.sum():
            which = np.repeat(np.arange(len(rows)), lengths)
            offset = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            out[which, offset] = self.flat[np.repeat(self.starts[rows], lengths) + offset]
        return out, lengths.astype(np.int64)


@dataclass
class FeatureStore:
    """A built store (see the module docstring). Open one with :meth:`open`; build one with
    :func:`build_feature_store`."""

    root: Path
    manifest: dict

    @classmethod
    def open(cls, root: str | Path) -> "FeatureStore":
        root = Path(root)
        path = root / MANIFEST
        if not path.exists():
            raise FeatureStoreError(f"{root}: not a feature store (no {MANIFEST}); build it with "
                                    "`tenset-study features --dataset D --out {root}`")
        manifest = json.loads(path.read_text())
        if manifest.get("format") != STORE_FORMAT:
            raise FeatureStoreError(f"{path}: store format {manifest.get('format')!r}, "
                                    f"this package reads {STORE_FORMAT}")
        return cls(root, manifest)

    @property
    def shards(self) -> list[str]:
        """Names of the shards, in the order of the dataset's program parts."""
        return [shard["name"] for shard in self.manifest["shards"]]

    @property
    def max_len(self) -> int:
        return int(self.manifest["featurizer"]["max_len"])

    @property
    def width(self) -> int:
        return int(self.manifest["featurizer"]["width"])

    @property
    def versions(self) -> dict:
        """Feature versions, as a model's metadata records them (``tokens``, ``context``)."""
        return {"tokens": self.manifest["featurizer"]["version"], "context": self.manifest["context_version"]}

    def features(self, shard: str) -> ShardFeatures:
        """The tokens of one shard."""
        table = pq.read_table(self.root / "features" / f"{shard}.parquet", columns=["length", "tokens"])
        lengths = table.column("length").to_numpy().astype(np.int64)
        column = table.column("tokens").combine_chunks()
        flat = column.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, self.width)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(lengths) else lengths
        return ShardFeatures(flat, starts, lengths)

    def records(self, shard: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The records of one shard (columns :data:`RECORD_COLUMNS`), sorted by task, platform, program."""
        return pq.read_table(self._records_dir / f"{shard}.parquet", columns=columns).to_pandas()

    def shard_index(self, shard: str) -> int:
        return self.shards.index(shard)

    def groups(self) -> pd.DataFrame:
        """Per (shard, task, platform): ``records``, ``kind``, ``op``."""
        return pd.read_parquet(self._records_dir / GROUPS_FILE)

    def group_table(self) -> pd.DataFrame:
        """One row per (task, platform) group (``task``, ``platform``, ``kind``, ``op``, ``records``): the
        table a split is computed on when records are not in memory."""
        groups = self.groups()
        table = groups.groupby(["task", "platform"], sort=True).agg(
            kind=("kind", "first"), op=("op", "first"), records=("records", "sum")).reset_index()
        return table

    def hardware(self) -> pd.DataFrame:
        """Hardware features, one row per platform (index: platform)."""
        return pd.read_parquet(self.root / "hardware.parquet")

    def workload(self) -> pd.DataFrame:
        """Workload features, one row per task (index: task)."""
        return pd.read_parquet(self.root / "workload.parquet")

    def network_tasks(self) -> pd.DataFrame:
        return pd.read_parquet(self.root / "network_tasks.parquet")

    def record_keys(self, record_ids: np.ndarray) -> pd.DataFrame:
        """``program``, ``platform`` and ``task`` of record ids as the stream yields them (``shard index << 32 |
        row``), in the order of ``record_ids``."""
        record_ids = np.asarray(record_ids, dtype=np.int64)
        out = pd.DataFrame(index=np.arange(len(record_ids)), columns=["program", "platform", "task"], dtype=object)
        shard_of = record_ids >> 32
        for index in np.unique(shard_of):
            where = np.flatnonzero(shard_of == index)
            frame = self.records(self.shards[int(index)], columns=["program", "platform", "task"])
            out.iloc[where] = frame.iloc[record_ids[where] & 0xFFFFFFFF].to_numpy()
        return out

    @property
    def _records_dir(self) -> Path:
        return self.root / self.manifest["records_dir"]


# --- building --------------------------------------------------------------------------------------------


def build_feature_store(dataset: Dataset | str | Path, out: str | Path, max_len: int = 64,
                        shard_programs: int | None = None, bucket_rows: int = DEFAULT_BUCKET_ROWS,
                        progress: bool = False) -> FeatureStore:
    """Build or bring up to date the store of ``dataset`` in ``out`` (see the module docstring).

    Only what is missing is computed: feature shards of new program parts, and the record shards when
    measurements, tasks or feature shards changed. ``max_len`` must be that of the store already in ``out``;
    ``shard_programs`` defaults to the existing store's, else :data:`DEFAULT_SHARD_PROGRAMS` (a different
    value re-shards the store).
    """
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    out = Path(out)
    if max_len < 1:
        raise FeatureStoreError(f"max_len must be at least 1, got {max_len}")
    featurizer = {"name": "tokens", "version": tokens.TOKENIZER_VERSION, "max_len": int(max_len),
                  "width": tokens.FEATURE_WIDTH}
    old = _old_manifest(out, featurizer)
    if shard_programs is None:
        shard_programs = int(old["shard_programs"]) if old else DEFAULT_SHARD_PROGRAMS
    if shard_programs < 1 or bucket_rows < 1:
        raise FeatureStoreError(f"shard_programs and bucket_rows must be positive, got {shard_programs}, {bucket_rows}")
    shards = _write_feature_shards(ds, out, max_len, shard_programs, progress)
    names = [shard["name"] for shard in shards]
    _remove_unlisted(out / "features", set(names))
    records_key = _records_key(ds, names)
    records_dir = f"records-{records_key}"
    if old and old.get("records_dir") == records_dir and (out / records_dir).exists():
        counts = {shard["name"]: shard["records"] for shard in old["shards"]}
    else:
        counts = _write_record_shards(ds, out, names, out / records_dir, bucket_rows, progress)
    for shard in shards:
        shard["records"] = int(counts.get(shard["name"], 0))
    _write_context(ds, out)
    manifest = {"format": STORE_FORMAT, "dataset": str(ds.root), "featurizer": featurizer,
                "context_version": context.CONTEXT_VERSION, "shard_programs": int(shard_programs),
                "records_dir": records_dir, "shards": shards,
                "programs": int(sum(s["programs"] for s in shards)), "records": int(sum(counts.values())),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_json_atomic(manifest, out / MANIFEST)
    for folder in out.glob("records-*"):
        if folder.name != records_dir:
            shutil.rmtree(folder, ignore_errors=True)
    return FeatureStore(out, manifest)


def _old_manifest(out: Path, featurizer: dict) -> dict | None:
    """The manifest already in ``out`` (None when there is none); an error when it was built otherwise."""
    path = out / MANIFEST
    if not path.exists():
        return None
    old = FeatureStore.open(out).manifest
    if old["featurizer"] != featurizer:
        raise FeatureStoreError(f"{out}: the store was built with {old['featurizer']}, not {featurizer}; "
                                "use another --out folder (or delete this one)")
    return old


def _key(*items) -> str:
    h = hashlib.blake2b(digest_size=6)
    for item in items:
        h.update(f"{item}\n".encode())
    return h.hexdigest()


def _exact_chunks(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    """Re-cut record batches into tables of exactly ``size`` rows (the last may be shorter)."""
    pending, rows = [], 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        while rows >= size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending)


def _write_feature_shards(ds: Dataset, out: Path, max_len: int, shard_programs: int, progress: bool) -> list[dict]:
    """Tokenize every program part into shards of at most ``shard_programs`` programs (existing ones kept)."""
    from tqdm import tqdm

    folder = out / "features"
    shards = []
    parts = ds.parts("programs")
    total = sum(pq.ParquetFile(part).metadata.num_rows for part in parts)
    bar = tqdm(total=total, desc="feature shards", unit="program", disable=not progress)
    for part in parts:
        rows = pq.ParquetFile(part).metadata.num_rows
        key = _key(part.name, part.stat().st_size, tokens.TOKENIZER_VERSION, max_len, shard_programs)
        names = [f"{part.stem}-{key}-c{i:05d}" for i in range(math.ceil(rows / shard_programs))]
        sizes = [min(shard_programs, rows - i * shard_programs) for i in range(len(names))]
        shards += [{"name": name, "programs": size} for name, size in zip(names, sizes)]
        if all((folder / f"{name}.parquet").exists() for name in names):
            bar.update(rows)
            continue
        chunks = _exact_chunks(pq.ParquetFile(part).iter_batches(
            batch_size=min(shard_programs, 65536), columns=["program", "task", "encoding", "trace"]), shard_programs)
        for name, chunk in zip(names, chunks):
            path = folder / f"{name}.parquet"
            if not path.exists():
                write_parquet_atomic(_token_table(chunk.to_pandas(), max_len), path)
            bar.update(chunk.num_rows)
    bar.close()
    return shards


def _token_table(programs: pd.DataFrame, max_len: int) -> pa.Table:
    """One row per program: id, task, token count and its real tokens flattened (padding left out)."""
    toks, lengths = tokens.encode_programs(programs, max_len)
    real = np.arange(max_len)[None, :] < lengths[:, None]
    values = pa.array(toks[real].reshape(-1), type=pa.float32())
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths.astype(np.int64) * toks.shape[2])]), type=pa.int64())
    return pa.table({
        "program": pa.array(programs["program"].astype(str).to_numpy(), type=pa.string()),
        "task": pa.array(programs["task"].astype(str).to_numpy(), type=pa.string()),
        "length": pa.array(lengths, type=pa.int32()),
        "tokens": pa.LargeListArray.from_arrays(offsets, values),
    })


def _remove_unlisted(folder: Path, keep: set[str]) -> None:
    """Delete feature shards of program parts that no longer exist (after a compaction, say)."""
    for path in folder.glob("*.parquet") if folder.exists() else []:
        if path.stem not in keep:
            path.unlink()


def _records_key(ds: Dataset, shard_names: list[str]) -> str:
    return _key(table_fingerprint(ds, ("measurements", "tasks")), *shard_names)


class _DiskPartitioner:
    """Rows partitioned into ``buckets`` folders of Parquet parts, buffering at most ``budget_rows`` rows."""

    def __init__(self, folder: Path, buckets: int, budget_rows: int) -> None:
        self.folder, self.buckets, self.budget_rows = folder, buckets, budget_rows
        self.pending: list[list[pd.DataFrame]] = [[] for _ in range(buckets)]
        self.rows = 0
        self.flushes = 0

    def add(self, frame: pd.DataFrame, bucket: np.ndarray) -> None:
        if frame.empty:
            return
        order = np.argsort(bucket, kind="stable")
        sorted_buckets = bucket[order]
        bounds = np.flatnonzero(np.diff(sorted_buckets)) + 1
        for rows in np.split(order, bounds):
            self.pending[int(bucket[rows[0]])].append(frame.iloc[rows])
        self.rows += len(frame)
        if self.rows >= self.budget_rows:
            self.flush()

    def flush(self) -> None:
        for b, pieces in enumerate(self.pending):
            if pieces:
                path = self.folder / f"{b:06d}" / f"part-{self.flushes:06d}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(pa.Table.from_pandas(pd.concat(pieces, ignore_index=True), preserve_index=False), path)
        self.pending = [[] for _ in range(self.buckets)]
        self.rows = 0
        self.flushes += 1

    def read(self, b: int, columns: list[str]) -> pd.DataFrame:
        parts = sorted((self.folder / f"{b:06d}").glob("*.parquet"))
        if not parts:
            return pd.DataFrame({c: [] for c in columns})
        return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)


def _hash_bucket(values: pd.Series, buckets: int) -> np.ndarray:
    """A bucket per value from a fixed-key hash (the same in every process and run)."""
    return (pd.util.hash_array(values.to_numpy(dtype=object)) % np.uint64(buckets)).astype(np.int64)


def _write_record_shards(ds: Dataset, out: Path, names: list[str], target: Path, bucket_rows: int,
                         progress: bool) -> dict[str, int]:
    """Join measurements to the feature shards' programs, label them, and write one record shard per
    feature shard into ``target`` (see the module docstring). Returns records per shard."""
    from tqdm import tqdm

    staging = out / f".staging-{uuid.uuid4().hex[:8]}"
    for stale in out.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    try:
        n_programs = sum(pq.ParquetFile(out / "features" / f"{n}.parquet").metadata.num_rows for n in names)
        n_measured = ds.count("measurements")
        join_buckets = max(1, math.ceil(max(n_programs, n_measured) / bucket_rows))
        index = _DiskPartitioner(staging / "index", join_buckets, bucket_rows)
        for s, name in enumerate(tqdm(names, desc="program index", disable=not progress)):
            frame = pq.read_table(out / "features" / f"{name}.parquet", columns=["program", "task"]).to_pandas()
            frame["shard"] = np.int32(s)
            frame["feature_row"] = np.arange(len(frame), dtype=np.int32)
            index.add(frame, _hash_bucket(frame["program"], join_buckets))
        index.flush()
        measured = _DiskPartitioner(staging / "measurements", join_buckets, bucket_rows)
        for batch in ds.iter_batches("measurements", columns=["program", "platform", "latency_s"]):
            frame = batch.to_pandas()
            frame = frame[frame["latency_s"].notna() & (frame["latency_s"] > 0)]
            measured.add(frame, _hash_bucket(frame["program"], join_buckets))
        measured.flush()
        tasks = ds.to_pandas("tasks", columns=["task"])["task"].astype(str)
        ranges = max(1, math.ceil(n_measured / bucket_rows))
        shard_range = (np.arange(len(names)) * ranges) // max(1, len(names))
        joined = _DiskPartitioner(staging / "joined", ranges, bucket_rows)
        minima: pd.Series | None = None
        for b in tqdm(range(join_buckets), desc="join measurements", disable=not progress):
            meas = measured.read(b, ["program", "platform", "latency_s"])
            programs = index.read(b, ["program", "task", "shard", "feature_row"])
            frame = meas.merge(programs, on="program", how="inner")
            frame = frame[frame["task"].isin(tasks)]
            if frame.empty:
                continue
            low = frame.groupby(["task", "platform"])["latency_s"].min()
            minima = low if minima is None else pd.concat([minima, low]).groupby(level=[0, 1]).min()
            joined.add(frame, shard_range[frame["shard"].to_numpy()])
        joined.flush()
        target.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        group_counts: list[pd.DataFrame] = []
        for r in tqdm(range(ranges), desc="record shards", disable=not progress):
            frame = joined.read(r, ["program", "platform", "latency_s", "task", "shard", "feature_row"])
            for s, rows in frame.groupby("shard", sort=True) if not frame.empty else []:
                name = names[int(s)]
                counts[name] = _write_record_shard(rows, minima, target / f"{name}.parquet")
                sizes = rows.groupby(["task", "platform"], sort=True).size().rename("records").reset_index()
                group_counts.append(sizes.assign(shard=name)[["shard", "task", "platform", "records"]])
        empty = pd.DataFrame({c: pd.Series([], dtype=float if c == "latency_s" else object)
                              for c in ["program", "task", "platform", "latency_s", "feature_row"]})
        for name in names:  # shards whose programs have no successful measurement
            if name not in counts:
                counts[name] = _write_record_shard(empty, minima, target / f"{name}.parquet")
        _write_groups(ds, group_counts, target / GROUPS_FILE)
        return counts
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_record_shard(rows: pd.DataFrame, minima: pd.Series | None, path: Path) -> int:
    """Label one shard's records with their group minimum and write them sorted by task, platform, program."""
    rows = rows.sort_values(["task", "platform", "program"], kind="stable").reset_index(drop=True)
    if len(rows):
        best = minima.reindex(pd.MultiIndex.from_frame(rows[["task", "platform"]])).to_numpy()
        label = (best / rows["latency_s"].to_numpy(dtype=np.float64)).astype(np.float32)
    else:
        label = np.zeros(0, dtype=np.float32)
    table = pa.table({
        "program": pa.array(rows["program"].astype(str).to_numpy(), type=pa.string()),
        "task": pa.array(rows["task"].astype(str).to_numpy(), type=pa.string()),
        "platform": pa.array(rows["platform"].astype(str).to_numpy(), type=pa.string()),
        "latency_s": pa.array(rows["latency_s"].to_numpy(dtype=np.float64), type=pa.float64()),
        "label": pa.array(label, type=pa.float32()),
        "feature_row": pa.array(rows["feature_row"].to_numpy(dtype=np.int32), type=pa.int32()),
    })
    write_parquet_atomic(table, path)
    return len(rows)


def _write_context(ds: Dataset, out: Path) -> None:
    """The small tables: hardware and workload features, network tasks (rewritten on every build)."""
    hardware = context.hardware_features(ds.to_pandas("platforms"))
    write_parquet_atomic(pa.Table.from_pandas(hardware), out / "hardware.parquet")
    workload = context.workload_features(ds.to_pandas("tasks"))
    write_parquet_atomic(pa.Table.from_pandas(workload), out / "workload.parquet")
    write_parquet_atomic(ds.read("network_tasks"), out / "network_tasks.parquet")


def _write_groups(ds: Dataset, counts: list[pd.DataFrame], path: Path) -> None:
    """Records per (shard, task, platform) with the task's kind and operator class."""
    tasks = ds.to_pandas("tasks", columns=["task", "kind", "op"]).drop_duplicates("task", keep="last")
    tasks["op"] = tasks["op"].fillna("unknown")
    groups = pd.concat(counts, ignore_index=True) if counts else pd.DataFrame(
        {"shard": pd.Series([], dtype=str), "task": pd.Series([], dtype=str),
         "platform": pd.Series([], dtype=str), "records": pd.Series([], dtype=np.int64)})
    groups = groups.merge(tasks, on="task", how="left")
    write_parquet_atomic(pa.Table.from_pandas(groups, preserve_index=False), path)
