"""Result tables on disk: ``results/*.csv``, written atomically, read back by later chapters."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .files import atomic_path


def write_results(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` as CSV at ``path`` (atomic: a temporary file renamed into place)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """Read a results CSV (clear error when a chapter that writes it has not run)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no results yet; run the notebook or command that writes it first")
    return pd.read_csv(path)
