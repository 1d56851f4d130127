"""The record shards of a feature store: measurements joined to the feature shards' programs and labelled.

How (an external hash join with bounded memory) is described in :mod:`tenset_study.features.store`.
"""

from __future__ import annotations

import math
import shutil
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..data.dataset import Dataset
from ..data.files import write_parquet_atomic
from .cache import content_key, table_fingerprint
from .store_reader import GROUPS_FILE, SHARD_KEY_BYTES



def records_key(ds: Dataset, shard_names: list[str]) -> str:
    """The name of the record shards' folder: a hash of the measurement and task parts and the feature shards."""
    return content_key(table_fingerprint(ds, ("measurements", "tasks")), *shard_names, digest_size=SHARD_KEY_BYTES)


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


def write_record_shards(ds: Dataset, out: Path, names: list[str], target: Path, bucket_rows: int,
                         progress: bool) -> dict[str, int]:
    """Join measurements to the feature shards' programs, label them, and write one record shard per
    feature shard into ``target`` (see :mod:`tenset_study.features.store`). Returns records per shard."""
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



def _write_groups(ds: Dataset, counts: list[pd.DataFrame], path: Path) -> None:
    """Records per (shard, task, platform) with the task's kind and operator class."""
    tasks = ds.to_pandas("tasks", columns=["task", "kind", "op"]).drop_duplicates("task", keep="last")
    tasks["op"] = tasks["op"].fillna("unknown")
    groups = pd.concat(counts, ignore_index=True) if counts else pd.DataFrame(
        {"shard": pd.Series([], dtype=str), "task": pd.Series([], dtype=str),
         "platform": pd.Series([], dtype=str), "records": pd.Series([], dtype=np.int64)})
    groups = groups.merge(tasks, on="task", how="left")
    write_parquet_atomic(pa.Table.from_pandas(groups, preserve_index=False), path)

