"""Writing a pruned dataset: :func:`prune_dataset` applies a strategy to a dataset folder and writes the kept
programs, their measurements and the tasks and networks they belong to as a new dataset, with its provenance;
:func:`program_features_for` gives the per-program features the feature-reading strategies need."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .select import (NEEDS_WORKLOAD_FEATURES, USES_PROGRAM_FEATURES, PruneResult, check_fraction, check_strategy,
                     select_programs)

#: Schedule tokens per program kept when pooled tokens stand in for per-store features.
POOLED_TOKEN_LENGTH = 64


def program_features_for(ds, program_ids: np.ndarray, workers: int | None = None, progress: bool = False
                         ) -> tuple[tuple[np.ndarray, np.ndarray], str]:
    """Per-program features of a dataset's programs and their name.

    Pooled per-store features (:func:`tenset_study.features.perstore.program_perstore`, cached) for MetaSchedule
    programs; TVM 0.27 has no per-store features for Ansor programs (TenSet imports), so for those the
    schedule tokens pooled over steps stand in (:func:`pooled_token_features`).
    """
    from ..features import perstore

    try:
        ids, matrix = perstore.program_perstore(ds, workers=workers, program_ids=program_ids, progress=progress)
        return (ids, matrix), f"perstore-v{perstore.PERSTORE_VERSION}"
    except perstore.PerStoreError:
        from ..features import tokens

        return pooled_token_features(ds, program_ids), f"pooled-tokens-v{tokens.TOKENIZER_VERSION}"


def pooled_token_features(ds, program_ids: np.ndarray, max_len: int = POOLED_TOKEN_LENGTH,
                          batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Schedule tokens pooled over steps (:func:`tenset_study.models.inputs.pooled_tokens`) of ``program_ids``,
    streamed through the programs table batch by batch (no ``[N, max_len, width]`` array is ever whole)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..models.inputs import pooled_tokens
    from ..features.tokens import encode_programs

    wanted = pa.array(np.asarray(program_ids, dtype=object).astype(str))
    ids, blocks = [], []
    for batch in ds.iter_batches("programs", columns=["program", "encoding", "trace"], batch_size=batch_size):
        batch = batch.filter(pc.is_in(batch.column("program"), value_set=wanted))
        if batch.num_rows:
            frame = batch.to_pandas()
            blocks.append(pooled_tokens(*encode_programs(frame, max_len)))
            ids.append(frame["program"].to_numpy(dtype=object))
    if not blocks:
        return np.zeros(0, dtype=object), np.zeros((0, 0), np.float32)
    return np.concatenate(ids), np.concatenate(blocks)


def prune_dataset(src: str | os.PathLike, dest: str | os.PathLike, strategy: str, fraction: float, seed: int = 0,
                  platforms: Sequence[str] | None = None, overwrite: bool = False, *, workers: int | None = None,
                  progress: bool = False) -> PruneResult:
    """Prune the dataset at ``src`` and write the result, in the same format, to ``dest``.

    Parameters
    ----------
    src : a dataset folder (:class:`tenset_study.data.dataset.Dataset`).
    dest : the folder to write; refused when it is not empty, unless ``overwrite`` (and then only when it
        holds a dataset or nothing).
    strategy, fraction, seed : as in :func:`select_programs`; the candidates are every program measured on
        the considered platforms (programs without a measurement there are dropped, and the note says so).
    platforms : the platforms whose measurements the strategy reads (default: all). The kept programs
        keep their measurements on every platform.
    workers, progress : processes and progress bar for per-store features (``diversity``, ``clean``).

    The new dataset has the same platforms and networks tables, the kept programs and their measurements,
    and the tasks (with their network weights) that still have programs. It is written in a temporary
    folder next to ``dest`` and renamed into place; its ``dataset.json`` records the provenance.
    """
    from ..features import context
    from ..data.dataset import Dataset
    from ..data.records import load_records

    check_strategy(strategy)
    fraction = check_fraction(fraction)
    source = Dataset.open(src)
    dest = Path(dest)
    _check_destination(source.root, dest, overwrite)
    records = load_records(source, platforms=list(platforms) if platforms else None, keep_failed=True)
    features, feature_name, workload = None, None, None
    if strategy in USES_PROGRAM_FEATURES:
        features, feature_name = program_features_for(source, np.sort(records["program"].unique()), workers, progress)
    if strategy in NEEDS_WORKLOAD_FEATURES:
        workload = context.workload_features(source.to_pandas("tasks"))
        feature_name = f"workload-v{context.CONTEXT_VERSION}"
    result = select_programs(records, strategy, fraction, seed, features=features, workload=workload)
    unmeasured = source.count("programs") - result.candidates
    if unmeasured > 0:
        dropped = f"{unmeasured} program(s) without measurements on the considered platforms were dropped"
        result = _with_note(result, dropped)
    provenance = {
        "pruned_from": str(source.root.resolve()), "strategy": strategy, "fraction": fraction, "seed": seed,
        "platforms": list(platforms) if platforms else None, "features": feature_name,
        "candidates": result.candidates, "kept_programs": len(result.kept), "kept_fraction": result.kept_fraction,
        "tasks_kept": result.tasks_kept, "tasks_total": result.tasks_total, "note": result.note,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "source_provenance": source.meta.get("provenance"),
    }
    kept_tasks = np.sort(records.loc[records["program"].isin(result.kept), "task"].unique())
    _write_atomically(dest, overwrite, lambda tmp: _write_pruned(source, tmp, result.kept, kept_tasks, provenance))
    return result


def _with_note(result: PruneResult, text: str) -> PruneResult:
    from dataclasses import replace

    return replace(result, note=f"{result.note}; {text}" if result.note else text)


def _check_destination(src: Path, dest: Path, overwrite: bool) -> None:
    """Refuse a destination that is the source, inside it or holding it, or that holds other files."""
    src, target = src.resolve(), dest.resolve()
    if target == src or src in target.parents or target in src.parents:
        raise ValueError(f"dest {dest} is, contains or lies inside the source dataset {src}")
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"dest {dest} exists and is not a folder")
    if dest.exists() and any(dest.iterdir()):
        if not overwrite:
            raise ValueError(f"dest {dest} is not empty; pass --overwrite (overwrite=True) to replace it")
        if not (dest / "dataset.json").exists():
            raise ValueError(f"dest {dest} is not empty and holds no dataset; refusing to delete it")


def _write_atomically(dest: Path, overwrite: bool, write: Callable[[Path], None]) -> None:
    """Write into a hidden sibling of ``dest``, then swap it into place (the old ``dest`` removed after)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
    try:
        write(tmp)
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _write_pruned(source, root: Path, kept: np.ndarray, kept_tasks: np.ndarray, provenance: dict) -> None:
    """The pruned tables, table by table; programs and measurements streamed batch by batch."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..data.dataset import Dataset, write_json_atomic

    description = (f"{provenance['strategy']} pruning (fraction {provenance['fraction']}, seed {provenance['seed']}) "
                   f"of {provenance['pruned_from']}")
    original = source.meta.get("description")
    ds = Dataset.create(root, description=f"{description}: {original}" if original else description,
                        exist_ok=False)
    for table in ("platforms", "networks"):
        ds.append(table, source.read(table))
    tasks = pa.array(list(kept_tasks), pa.string())
    for table in ("tasks", "network_tasks"):
        data = source.read(table)
        ds.append(table, data.filter(pc.is_in(data.column("task"), value_set=tasks)))
    programs = pa.array(list(kept), pa.string())
    for table, batch_size in (("programs", 8192), ("measurements", 65536)):
        _copy_filtered(source, ds, table, programs, batch_size)
    meta = ds.meta
    meta["provenance"] = provenance
    write_json_atomic(meta, root / "dataset.json")


def _copy_filtered(source, ds, table: str, programs, batch_size: int, rows_per_part: int = 500_000) -> None:
    """Copy the rows of ``table`` whose program is kept, in parts of about ``rows_per_part`` rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pending, rows = [], 0
    for batch in source.iter_batches(table, batch_size=batch_size):
        batch = batch.filter(pc.is_in(batch.column("program"), value_set=programs))
        if batch.num_rows:
            pending.append(batch)
            rows += batch.num_rows
        if rows >= rows_per_part:
            ds.append(table, pa.Table.from_batches(pending))
            pending, rows = [], 0
    if pending:
        ds.append(table, pa.Table.from_batches(pending))
