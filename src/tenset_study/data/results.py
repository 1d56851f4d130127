"""Result tables on disk: ``results/*.csv``, written atomically, read back by later chapters."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd


def write_results(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` as CSV at ``path`` (atomic: a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        table.to_csv(handle, index=False)
    os.replace(tmp, path)
    return path


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """Read a results CSV (clear error when a chapter that writes it has not run)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no results yet; run the notebook or command that writes it first")
    return pd.read_csv(path)
