"""Building a feature store: the feature shards (programs tokenized in runs of one part file), the context tables
and the manifest; the record shards come from :mod:`.store_records`. The layout is in
:mod:`tenset_study.features.store`.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import context, tokens
from ..data.dataset import Dataset
from ..data.files import write_json_atomic, write_parquet_atomic
from .cache import content_key
from .store_reader import (DEFAULT_BUCKET_ROWS, DEFAULT_SHARD_PROGRAMS, MANIFEST, SHARD_KEY_BYTES, STORE_FORMAT,
                           FeatureStore, FeatureStoreError)
from .store_records import records_key, write_record_shards


def build_feature_store(dataset: Dataset | str | Path, out: str | Path, max_len: int = 64,
                        shard_programs: int | None = None, bucket_rows: int = DEFAULT_BUCKET_ROWS,
                        progress: bool = False) -> FeatureStore:
    """Build or bring up to date the store of ``dataset`` in ``out`` (see :mod:`tenset_study.features.store`).

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
    records_dir = f"records-{records_key(ds, names)}"
    if old and old.get("records_dir") == records_dir and (out / records_dir).exists():
        counts = {shard["name"]: shard["records"] for shard in old["shards"]}
    else:
        counts = write_record_shards(ds, out, names, out / records_dir, bucket_rows, progress)
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
        key = content_key(part.name, part.stat().st_size, tokens.TOKENIZER_VERSION, max_len, shard_programs,
                          digest_size=SHARD_KEY_BYTES)
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



def _write_context(ds: Dataset, out: Path) -> None:
    """The small tables: hardware and workload features, network tasks (rewritten on every build)."""
    hardware = context.hardware_features(ds.to_pandas("platforms"))
    write_parquet_atomic(pa.Table.from_pandas(hardware), out / "hardware.parquet")
    workload = context.workload_features(ds.to_pandas("tasks"))
    write_parquet_atomic(pa.Table.from_pandas(workload), out / "workload.parquet")
    write_parquet_atomic(ds.read("network_tasks"), out / "network_tasks.parquet")

