"""Files written atomically: a reader sees the whole file or none of it, never half of one.

Every writer of the package (dataset parts, results, saved models, tuning results, feature caches) goes
through :func:`atomic_path`: the data goes to a hidden temporary file beside the destination, which is
renamed onto it only when writing succeeded.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` (its folder created) to write to; renamed onto ``path`` when the block
    ends without an error, removed otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}{path.suffix}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(obj: object, path: str | os.PathLike, *, sort_keys: bool = True, default=None) -> Path:
    """Write ``obj`` as indented JSON (and a final newline) to ``path`` atomically; returns the path."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=sort_keys, default=default) + "\n")


def write_parquet_atomic(table, path: str | os.PathLike, **options) -> Path:
    """Write a ``pyarrow.Table`` to ``path`` atomically (``options``: ``pyarrow.parquet.write_table``'s)."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **options)
    return Path(path)
