"""Everything a cost model reads, aligned with the records table.

Programs are shared by platforms (the same program measured on several machines), so per-program arrays
(schedule tokens, per-store features) are stored once and indexed by ``program_row``; hardware features
once per platform (``platform_row``) and workload features once per task (``task_row``). A model gets
the inputs and the positions of the records it trains on or scores.

Families: ``tokens`` (schedule tokens), ``perstore`` (per-store features pooled per program), ``stores`` (the
same per-store rows unpooled: ``[programs, S, 164]`` zero-padded, with a store count per program) and
``context`` (hardware and workload features). Where per-store features cannot exist (Ansor programs from
TenSet), ``stores`` is left None, ``versions["stores"]`` says why, and one line on stdout says so (not a
warning: the book treats stderr as an error, and a TenSet import is a legitimate input).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..features import context
from ..data.dataset import Dataset
from ..data.records import group_ids

#: Feature families a model may ask for.
FAMILIES = ("tokens", "perstore", "stores", "context")


@dataclass
class ModelInputs:
    """Records plus the feature arrays the models need (see the module docstring)."""

    records: pd.DataFrame
    groups: np.ndarray
    program_ids: np.ndarray
    program_row: np.ndarray
    platform_ids: list[str]
    platform_row: np.ndarray
    task_ids: list[str]
    task_row: np.ndarray
    hardware: np.ndarray
    workload: np.ndarray
    tokens: np.ndarray | None = None
    lengths: np.ndarray | None = None
    perstore: np.ndarray | None = None
    stores: np.ndarray | None = None
    store_counts: np.ndarray | None = None
    versions: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.records)

    def tokens_of(self, positions: np.ndarray, crop: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Schedule tokens ``[n, L, F]`` and lengths of the records at ``positions``; with ``crop``, ``L`` is
        the longest of their lengths (at least 1) instead of ``max_len``."""
        lengths = self.lengths_of(positions)
        rows = self.program_row[positions]
        if not crop:
            return self.tokens[rows], lengths
        return self.tokens[rows, : max(1, int(lengths.max(initial=0)))], lengths

    def lengths_of(self, positions: np.ndarray) -> np.ndarray:
        """Schedule token counts (after cropping to ``max_len``) of the records at ``positions``."""
        if self.tokens is None:
            raise ValueError("these inputs hold no schedule tokens; build them with families including 'tokens'")
        return self.lengths[self.program_row[positions]]

    def perstore_of(self, positions: np.ndarray) -> np.ndarray:
        """Pooled per-store features ``[n, D]`` of the records at ``positions``."""
        if self.perstore is None:
            raise ValueError("these inputs hold no per-store features; build them with families including 'perstore'")
        return self.perstore[self.program_row[positions]]

    def stores_of(self, positions: np.ndarray, crop: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Per-store rows ``[n, S, 164]`` (zero padding) and store counts of the records at ``positions``; with
        ``crop``, ``S`` is the most stores among them (at least 1)."""
        if self.stores is None:
            why = self.versions.get("stores", "build them with families including 'stores'")
            raise ValueError(f"these inputs hold no per-store feature sets ({why})")
        rows = self.program_row[positions]
        counts = self.store_counts[rows]
        if not crop:
            return self.stores[rows], counts
        return self.stores[rows, : max(1, int(counts.max(initial=0)))], counts

    def hardware_of(self, positions: np.ndarray) -> np.ndarray:
        return self.hardware[self.platform_row[positions]]

    def workload_of(self, positions: np.ndarray) -> np.ndarray:
        return self.workload[self.task_row[positions]]


def build_inputs(ds: Dataset, records: pd.DataFrame, families: tuple[str, ...] = FAMILIES,
                 max_len: int = 64, perstore_workers: int | None = None, progress: bool = False) -> ModelInputs:
    """Assemble the inputs for ``records`` (from :func:`tenset_study.data.records.load_records`).

    Token and per-store features come from the on-disk feature cache (computed on first use, with a
    progress bar when ``progress``; ``perstore_workers`` processes, None: one per core for large datasets).
    """
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown feature families {sorted(unknown)}; valid: {FAMILIES}")
    program_ids = np.array(sorted(records["program"].unique()))
    program_row = np.searchsorted(program_ids, records["program"].to_numpy())
    platform_ids = sorted(records["platform"].unique())
    task_ids = sorted(records["task"].unique())
    hardware = context.hardware_features(ds.to_pandas("platforms")).reindex(platform_ids)
    workload = context.workload_features(ds.to_pandas("tasks")).reindex(task_ids)
    inputs = ModelInputs(
        records=records, groups=group_ids(records), program_ids=program_ids, program_row=program_row,
        platform_ids=platform_ids, platform_row=_rows(platform_ids, records["platform"]),
        task_ids=task_ids, task_row=_rows(task_ids, records["task"]),
        hardware=np.nan_to_num(hardware.to_numpy(np.float32)), workload=np.nan_to_num(workload.to_numpy(np.float32)),
        versions={"context": context.CONTEXT_VERSION},
    )
    if "tokens" in families:
        from ..features import tokens

        ids, toks, lengths = tokens.program_tokens(ds, max_len=max_len)
        rows = _align(ids, program_ids, "schedule tokens")
        inputs.tokens, inputs.lengths = toks[rows], lengths[rows]
        inputs.versions["tokens"] = tokens.TOKENIZER_VERSION
    if "perstore" in families:
        inputs.perstore, inputs.versions["perstore"] = _program_features(ds, program_ids, max_len, perstore_workers,
                                                                         progress)
    if "stores" in families:
        _store_sets(inputs, ds, perstore_workers, progress)
    return inputs


def _store_sets(inputs: ModelInputs, ds: Dataset, workers: int | None, progress: bool) -> None:
    """Fill ``inputs.stores`` and ``store_counts`` (failed extractions: no stores); for Ansor programs leave them
    None, say why in ``versions["stores"]`` and print it (one line)."""
    from ..features import perstore

    try:
        ids, sets = perstore.program_store_sets(ds, workers=workers, progress=progress)
    except perstore.PerStoreError as err:
        inputs.versions["stores"] = f"unavailable: {str(err).splitlines()[0]}"
        print(f"per-store feature sets {inputs.versions['stores']} Models that read them (ours) fall back to "
              "schedule tokens.")
        return
    stores, counts, _ = perstore.split_sets(sets[_align(ids, inputs.program_ids, "per-store sets")])
    inputs.stores, inputs.store_counts = stores, counts
    inputs.versions["stores"] = f"perstore-sets-{perstore.SETS_VERSION}"


def _program_features(ds: Dataset, program_ids: np.ndarray, max_len: int, workers: int | None,
                      progress: bool) -> tuple[np.ndarray, str]:
    """Pooled per-store features of the programs (failed extractions as zeros), or, for Ansor programs
    (TenSet's logs: TVM 0.27 has no Ansor feature extractor), the schedule tokens pooled over steps."""
    from ..features import perstore, tokens

    try:
        ids, feats = perstore.program_perstore(ds, workers=workers, progress=progress)
        version = f"perstore-{perstore.PERSTORE_VERSION}"
    except perstore.PerStoreError:
        ids, toks, lengths = tokens.program_tokens(ds, max_len=max_len)
        feats = pooled_tokens(toks, lengths)
        version = f"pooled-tokens-{tokens.TOKENIZER_VERSION}"
    feats = np.nan_to_num(feats[_align(ids, program_ids, "program features")].astype(np.float32))
    return feats, version


def pooled_tokens(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A fixed-size vector per program from its token sequence: [log2(1 + steps), sum, mean, max] over steps."""
    valid = (np.arange(tokens.shape[1])[None, :] < lengths[:, None])[:, :, None]
    summed = (tokens * valid).sum(axis=1)
    mean = summed / np.maximum(lengths, 1)[:, None]
    largest = np.where(valid, tokens, -np.inf).max(axis=1)
    largest[~np.isfinite(largest)] = 0.0
    return np.hstack([np.log2(1 + lengths)[:, None], summed, mean, largest]).astype(np.float32)


def _rows(ids: list[str], values: pd.Series) -> np.ndarray:
    lookup = {v: i for i, v in enumerate(ids)}
    return values.map(lookup).to_numpy(dtype=np.int64)


def _align(have: np.ndarray, want: np.ndarray, what: str) -> np.ndarray:
    """Rows of ``have`` for every id of ``want`` (error naming what is missing)."""
    have = np.asarray(have)
    order = np.argsort(have)
    pos = np.searchsorted(have, want, sorter=order)
    pos = np.clip(pos, 0, len(have) - 1)
    rows = order[pos]
    missing = have[rows] != want
    if missing.any():
        raise ValueError(f"{what}: {int(missing.sum())} program(s) have no features, e.g. {want[missing][:3].tolist()}")
    return rows
