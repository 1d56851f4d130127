"""Per-store features of real MetaSchedule programs; Ansor programs refused; the cached entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenset_study.features import perstore as ps
from tenset_study.data.dataset import Dataset

MINI_DATA = Path(__file__).resolve().parents[1] / "data" / "mini"


@pytest.fixture(scope="module")
def source() -> Dataset:
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    return Dataset.open(MINI_DATA)


@pytest.fixture(scope="module")
def sample(source) -> pd.DataFrame:
    """Two programs of each of two CPU tasks and one GPU task (a matmul, a reduction, a GPU kernel)."""
    programs = source.to_pandas("programs")
    tasks = source.to_pandas("tasks").set_index("task")
    kind = programs["task"].map(tasks["kind"])
    cpu_tasks = programs.loc[kind == "cpu", "task"].drop_duplicates().iloc[:2]
    gpu_tasks = programs.loc[kind == "gpu", "task"].drop_duplicates().iloc[:1]
    chosen = programs[programs["task"].isin([*cpu_tasks, *gpu_tasks])]
    return chosen.groupby("task").head(2).reset_index(drop=True)


@pytest.fixture(scope="module")
def raw(source, sample) -> list[np.ndarray]:
    return ps.perstore_arrays(source, sample, progress=False)


def test_raw_features_of_real_programs(raw, sample):
    assert len(raw) == len(sample) == 6
    for array in raw:
        assert array is not None and array.dtype == np.float32
        assert array.ndim == 2 and array.shape[1] == ps.PERSTORE_WIDTH and 1 <= len(array) <= 8
        assert np.isfinite(array).all()
    flat = [a.tobytes() for a in raw]
    assert len(set(flat)) == len(flat)  # every program has its own features


def test_pooled_vector(raw):
    pooled = ps.pool_stores(raw)
    assert pooled.shape == (len(raw), ps.POOLED_WIDTH) == (6, 1 + 3 * 164)
    assert len(ps.POOLED_FEATURE_NAMES) == ps.POOLED_WIDTH
    w = ps.PERSTORE_WIDTH
    for row, array in zip(pooled, raw):
        assert row[0] == pytest.approx(np.log2(1 + len(array)))
        np.testing.assert_allclose(row[1 : 1 + w], array.sum(0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(row[1 + w : 1 + 2 * w], array.mean(0), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(row[1 + 2 * w :], array.max(0))
    empty_and_failed = ps.pool_stores([np.zeros((0, w), np.float32), None])
    assert not empty_and_failed[0].any() and np.isnan(empty_and_failed[1]).all()


def test_order_and_batches_do_not_matter(source, sample, raw):
    shuffled = sample.iloc[[5, 0, 3, 1, 4, 2]].reset_index(drop=True)
    pooled = ps.perstore_features(source, shuffled, batch_size=1, progress=False)
    np.testing.assert_array_equal(pooled, ps.pool_stores([raw[i] for i in [5, 0, 3, 1, 4, 2]]))


def test_ansor_programs_are_refused(source, sample):
    ansor = sample.head(2).assign(encoding="ansor", trace='[["CI", 1]]')
    with pytest.raises(ps.PerStoreError, match="no Ansor feature extractor.*tokens"):
        ps.perstore_features(source, ansor, progress=False)


def test_tasks_without_replayable_workload_are_refused(tmp_path, sample):
    ds = Dataset.create(tmp_path / "ds")
    ds.append("tasks", [{"task": t, "kind": "cpu", "workload_format": "ansor-workload-key", "workload": "[]"}
                        for t in sample["task"].unique()])
    with pytest.raises(ps.PerStoreError, match="no replayable workload"):
        ps.perstore_features(ds, sample, progress=False)
    with pytest.raises(ps.PerStoreError, match="not in the tasks table"):
        ps.perstore_features(Dataset.create(tmp_path / "empty"), sample, progress=False)


def test_broken_trace_gives_nan_and_a_warning(source, sample):
    kinds = source.to_pandas("tasks").set_index("task")["kind"]
    # a CPU task: a GPU trace that fails would first retry with the CUDA intrinsics (15 s)
    broken = sample[sample["task"].map(kinds) == "cpu"].head(2).reset_index(drop=True)
    broken.loc[1, "trace"] = '[[["GetSBlock",[],["no_such_block","main"],["b0"]]],[]]'
    with pytest.warns(UserWarning, match="1 of 2 program"):
        pooled = ps.perstore_features(source, broken, progress=False)
    assert np.isfinite(pooled[0]).all() and np.isnan(pooled[1]).all()


def test_cached_entry_point(tmp_path, monkeypatch, source, sample, raw):
    monkeypatch.setenv("TENSET_STUDY_CACHE", str(tmp_path / "cache"))
    ds = Dataset.create(tmp_path / "ds")
    ds.append("tasks", source.to_pandas("tasks"))
    ds.append("programs", sample)
    ids, features = ps.program_perstore(ds, progress=False)
    assert list(ids) == list(sample["program"])
    np.testing.assert_array_equal(features, ps.pool_stores(raw))
    monkeypatch.setattr(ps, "perstore_features", lambda *a, **k: pytest.fail("recomputed"))
    again_ids, again = ps.program_perstore(ds, program_ids=list(sample["program"][::-1]))
    np.testing.assert_array_equal(again, features[::-1])


@pytest.mark.slow
def test_worker_processes_give_the_same_features(source, sample, raw):
    pooled = ps.perstore_features(source, sample, workers=2, batch_size=2, progress=False)
    np.testing.assert_array_equal(pooled, ps.pool_stores(raw))


def test_auto_workers_use_processes_only_for_large_sets(monkeypatch) -> None:
    monkeypatch.setattr(ps.os, "cpu_count", lambda: 16)
    assert ps.auto_workers(ps.MIN_PROGRAMS_FOR_WORKERS - 1) == 1
    assert ps.auto_workers(ps.MIN_PROGRAMS_FOR_WORKERS) == 8
    monkeypatch.setattr(ps.os, "cpu_count", lambda: 2)
    assert ps.auto_workers(25_000) == 2
    monkeypatch.setattr(ps.os, "cpu_count", lambda: None)
    assert ps.auto_workers(25_000) == 1
