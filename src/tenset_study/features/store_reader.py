"""Reading a feature store: its manifest, the tokens of a feature shard and the records of a record shard.

The store's layout is described in :mod:`tenset_study.features.store`; :mod:`.store_writer` builds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..data.dataset import Dataset
from .cache import cache_root

STORE_FORMAT = 1
MANIFEST = "store.json"
DEFAULT_SHARD_PROGRAMS = 4096
DEFAULT_BUCKET_ROWS = 500_000
GROUPS_FILE = "_groups.parquet"
#: Bytes of the hash in the names of feature shards and record folders (see :func:`.cache.content_key`).
SHARD_KEY_BYTES = 6
RECORD_COLUMNS = ("program", "task", "platform", "latency_s", "label", "feature_row")


class FeatureStoreError(ValueError):
    """A feature store folder is missing, of another format, or built with other settings."""


def default_store_path(ds: Dataset, max_len: int) -> Path:
    """Where ``train --stream`` keeps a dataset's store unless told otherwise (beside the feature cache)."""
    return cache_root(ds) / f"stream-tokens-len{int(max_len)}"


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
    """A built store (see :mod:`tenset_study.features.store`). Open one with :meth:`open`; build one with
    :func:`~tenset_study.features.store.build_feature_store`."""

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
