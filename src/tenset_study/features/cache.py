"""Per-program features computed once and kept on disk.

Features of a program (its tokens, its per-store features) depend only on the program row, on the task
tables it refers to, and on the featurizer's code. The cache therefore keys them by content, one file
per part file of the ``programs`` table:

    key = BLAKE2b(cache format, featurizer name, featurizer version,
                  names and sizes of the part files of the tables the featurizer depends on (``tasks``),
                  name and size of the ``programs`` part)

Part files are never modified in place (writers add new parts; ``compact`` writes a new part and removes
the old ones), so a part's name and size identify its content, and a key that matches cannot describe
other data: a stale file is never returned. When the dataset gains a part only that part is computed;
when it is compacted, or a table it depends on changes, everything is computed again. Files of parts
that no longer exist stay until :func:`clear_feature_cache` removes them.

Files live under ``$TENSET_STUDY_CACHE/<name>-v<version>/`` when that variable is set, else under
``<dataset>/.cache/features/<name>-v<version>/`` (``.cache/`` is ignored by git). Each is an uncompressed
``.npz`` with the program ids and the feature array, written to a temporary file and renamed into place,
so a reader sees a whole file or none, even with several writers.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..data.dataset import Dataset
from ..data.files import atomic_path

CACHE_ENV = "TENSET_STUDY_CACHE"
CACHE_FORMAT = 1

Compute = Callable[[pd.DataFrame], np.ndarray]


def cache_root(ds: Dataset) -> Path:
    """The folder holding the feature caches of ``ds`` (``$TENSET_STUDY_CACHE`` or ``<dataset>/.cache/features``)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path(ds.root) / ".cache" / "features"


def table_fingerprint(ds: Dataset, tables: Iterable[str]) -> str:
    """A hash of the names and sizes of the part files of ``tables``: changes whenever their content does."""
    h = hashlib.blake2b(digest_size=16)
    for table in tables:
        h.update(f"table {table}\n".encode())
        for part in ds.parts(table):
            h.update(f"{part.name} {part.stat().st_size}\n".encode())
    return h.hexdigest()


def dataset_fingerprint(ds: Dataset) -> str:
    """Fingerprint of the ``programs`` and ``tasks`` tables (what program features depend on)."""
    return table_fingerprint(ds, ("programs", "tasks"))


def _folder(ds: Dataset, name: str, version: int | str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name):
        raise ValueError(f"feature name {name!r}: use letters, digits and _ . + - only")
    return cache_root(ds) / f"{name}-v{version}"


def content_key(*items: object, digest_size: int = 12) -> str:
    """A BLAKE2b hash (hex, ``digest_size`` bytes) of the items' text, one a line: names a cache file or a feature
    store's shard by what it was made from."""
    h = hashlib.blake2b(digest_size=digest_size)
    for item in items:
        h.update(f"{item}\n".encode())
    return h.hexdigest()


def part_cache_path(ds: Dataset, name: str, version: int | str, part: Path, depends: str) -> Path:
    """Where the features of one ``programs`` part file are cached (see the module docstring for the key)."""
    key = content_key(CACHE_FORMAT, name, version, depends, part.name, part.stat().st_size)
    return _folder(ds, name, version) / f"{part.stem}-{key}.npz"


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write arrays to ``path`` as ``.npz`` through a temporary file and a rename (readers never see half)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def _load(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """``(ids, features)`` from a cache file, or None when it is absent or unreadable."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, features = data["program_ids"], data["features"]
    except (OSError, ValueError, KeyError, EOFError) as err:
        warnings.warn(f"ignoring unreadable feature cache {path}: {err}", stacklevel=3)
        return None
    if len(ids) != len(features):
        return None
    return ids.astype(object), features


def _compute(compute: Compute, programs: pd.DataFrame) -> np.ndarray:
    features = np.asarray(compute(programs))
    if features.shape[:1] != (len(programs),):
        raise ValueError(f"the featurizer returned {features.shape[:1]} rows for {len(programs)} programs")
    return features


def cached_program_features(
    ds: Dataset,
    name: str,
    version: int | str,
    compute: Compute,
    program_ids: Iterable[str] | None = None,
    columns: Sequence[str] | None = None,
    depends_on: Sequence[str] = ("tasks",),
) -> tuple[np.ndarray, np.ndarray]:
    """Per-program features of a dataset, read from the cache or computed and cached.

    Parameters
    ----------
    ds: the dataset.
    name, version: the featurizer (e.g. ``"perstore"``, ``PERSTORE_VERSION``); bump the version whenever
        its output changes, so that old files are not read.
    compute: ``programs frame -> array [len(frame), ...]``, rows in the frame's order. It is called once
        with the rows of all parts not yet cached (so it can batch and parallelize).
    program_ids: the programs wanted, in this order (default: every program, in table order). Features
        are computed (and cached) for every program of the dataset either way; to featurize a sample
        without that, call the featurizer itself.
    columns: ``programs`` columns that ``compute`` needs (default: all).
    depends_on: other tables whose change must invalidate the cache (``()`` for features of the trace
        alone, such as tokens).

    Returns
    -------
    ``(program_ids, features)``: an object array of ids and the features, row ``i`` for ``program_ids[i]``.
    """
    depends = table_fingerprint(ds, depends_on)
    parts = ds.parts("programs")
    paths = [part_cache_path(ds, name, version, part, depends) for part in parts]
    found = [_load(path) for path in paths]
    if any(hit is None for hit in found):
        with _computing(_folder(ds, name, version)):  # another process may be computing the same parts
            found = [hit if hit is not None else _load(path) for hit, path in zip(found, paths)]
            _fill_missing(found, parts, paths, compute, columns)
    if not found:  # no programs yet: let the featurizer give the shape of an empty result
        empty = ds.to_pandas("programs", columns=list(columns) if columns else None)
        return _select(np.array([], dtype=object), _compute(compute, empty), program_ids)
    ids = np.concatenate([hit[0] for hit in found])
    features = _stack([hit[1] for hit in found]) if len(found) > 1 else found[0][1]
    return _select(ids, features, program_ids)


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """The parts' features one after another; arrays with a per-program axis of varying size (axis 1 of a 3-d
    array, e.g. stores) are padded with zeros to the largest first."""
    if arrays[0].ndim >= 3:
        most = max(a.shape[1] for a in arrays)
        arrays = [np.pad(a, [(0, 0), (0, most - a.shape[1])] + [(0, 0)] * (a.ndim - 2)) for a in arrays]
    return np.concatenate(arrays)


def _fill_missing(found: list, parts: list[Path], paths: list[Path], compute: Compute,
                  columns: Sequence[str] | None) -> None:
    """Compute the features of the parts without a cache hit (one ``compute`` call), store and fill them in."""
    missing = [i for i, hit in enumerate(found) if hit is None]
    if not missing:
        return
    cols = list(dict.fromkeys(["program", *(columns or [])])) if columns else None
    frames = [pq.read_table(parts[i], columns=cols).to_pandas() for i in missing]
    programs = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    features = _compute(compute, programs)
    start = 0
    for i, frame in zip(missing, frames):
        ids = frame["program"].to_numpy(dtype=object)
        chunk = features[start : start + len(frame)]
        start += len(frame)
        found[i] = (ids, chunk)
        _store(paths[i], ids, chunk)


@contextlib.contextmanager
def _computing(folder: Path):
    """Hold an exclusive lock on the featurizer's cache folder while its missing parts are computed, so that
    processes that miss the same parts at once (notebooks side by side, test workers) compute them once:
    the others wait, then read what the first one stored. Where the folder cannot be written, no lock."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".computing.lock", "a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _store(path: Path, ids: np.ndarray, features: np.ndarray) -> None:
    """Cache one part's features; a dataset we cannot write to is used without a cache."""
    try:
        save_npz_atomic(path, program_ids=ids.astype(str), features=features)
    except OSError as err:
        warnings.warn(f"features not cached ({path}: {err}); set {CACHE_ENV} to a writable folder", stacklevel=3)


def _select(ids: np.ndarray, features: np.ndarray, program_ids: Iterable[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Rows for ``program_ids`` in that order (all rows when None); a missing id raises KeyError."""
    if program_ids is None:
        return ids, features
    wanted = np.asarray(list(program_ids), dtype=object)
    position = {pid: i for i, pid in enumerate(ids)}
    try:
        rows = np.fromiter((position[pid] for pid in wanted), dtype=np.intp, count=len(wanted))
    except KeyError as err:
        raise KeyError(f"program {err.args[0]!r} is not in the dataset's programs table") from None
    return wanted, features[rows]


def clear_feature_cache(ds: Dataset, name: str | None = None) -> int:
    """Delete the cached features of ``ds`` (of one featurizer, or all). Returns the number of folders removed."""
    root = cache_root(ds)
    if not root.exists():
        return 0
    folders = [f for f in root.iterdir() if f.is_dir() and (name is None or f.name.rsplit("-v", 1)[0] == name)]
    for folder in folders:
        shutil.rmtree(folder)
    return len(folders)
