"""Fixtures shared by several test files."""

from __future__ import annotations

from pathlib import Path

import pytest

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data" / "default"


@pytest.fixture(scope="module")
def default_records():
    """Records and network tasks of the shipped default dataset (skipped where it is absent)."""
    if not (DEFAULT_DATA / "dataset.json").exists():
        pytest.skip("data/default is not present")
    from tenset_study import records
    from tenset_study.dataset import Dataset

    ds = Dataset.open(DEFAULT_DATA)
    return records.load_records(ds), records.network_tasks(ds)
