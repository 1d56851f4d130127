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


def small_cpu_inputs(families: tuple[str, ...], max_len: int = 32, n_tasks: int = 6):
    """``(ds, records, inputs)`` of the first ``n_tasks`` CPU tasks of data/default (skipped where it is
    absent): small real inputs for training tiny models in tests."""
    if not (DEFAULT_DATA / "dataset.json").exists():
        pytest.skip("data/default is not present")
    from tenset_study import records, tvm_setup
    from tenset_study.dataset import Dataset
    from tenset_study.models.inputs import build_inputs

    tvm_setup.prepare_tvm("cpu")
    ds = Dataset.open(DEFAULT_DATA)
    recs = records.load_records(ds)
    cpu = recs[recs["kind"] == "cpu"]
    tasks = sorted(cpu["task"].unique())[:n_tasks]
    sub = cpu[cpu["task"].isin(tasks)].reset_index(drop=True)
    return ds, sub, build_inputs(ds, sub, families=families, max_len=max_len)
