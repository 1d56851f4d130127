"""The on-disk feature cache: hits, invalidation by content, alignment to ids, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenset_study.features import cache as fc
from tenset_study.data.dataset import Dataset

MINI_DATA = Path(__file__).resolve().parents[1] / "data" / "mini"


@pytest.fixture(scope="module")
def real_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """60 real programs of data/mini and their tasks."""
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    source = Dataset.open(MINI_DATA)
    programs = source.to_pandas("programs").groupby("task").head(2).head(60).reset_index(drop=True)
    tasks = source.to_pandas("tasks")
    return programs, tasks[tasks["task"].isin(programs["task"])]


@pytest.fixture
def ds(tmp_path, real_rows, monkeypatch) -> Dataset:
    """A dataset of 40 real programs in two parts (the last 20 kept back for a third part)."""
    monkeypatch.delenv(fc.CACHE_ENV, raising=False)
    programs, tasks = real_rows
    ds = Dataset.create(tmp_path / "ds")
    ds.append("tasks", tasks)
    ds.append("programs", programs.iloc[:25])
    ds.append("programs", programs.iloc[25:40])
    return ds


class Featurizer:
    """A featurizer that counts its calls and the rows it was given: one number per program."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, programs: pd.DataFrame) -> np.ndarray:
        self.calls.append(list(programs["program"]))
        return np.array([[len(t), int(p, 16) % 1000] for p, t in zip(programs["program"], programs["trace"])],
                        dtype=np.float64)


def expected(programs: pd.DataFrame) -> np.ndarray:
    return Featurizer()(programs)


def test_computes_once_then_hits(ds, real_rows):
    f = Featurizer()
    ids, features = fc.cached_program_features(ds, "toy", 1, f)
    programs = real_rows[0].iloc[:40]
    assert list(ids) == list(programs["program"]) and len(f.calls) == 1 and len(f.calls[0]) == 40
    np.testing.assert_array_equal(features, expected(programs))
    folder = ds.root / ".cache" / "features" / "toy-v1"
    assert len(list(folder.glob("part-*.npz"))) == 2  # one file per programs part
    again_ids, again = fc.cached_program_features(ds, "toy", 1, f)
    assert len(f.calls) == 1  # a hit: nothing computed
    assert list(again_ids) == list(ids)
    np.testing.assert_array_equal(again, features)


def test_new_part_is_computed_alone(ds, real_rows):
    f = Featurizer()
    fc.cached_program_features(ds, "toy", 1, f)
    programs = real_rows[0]
    ds.append("programs", programs.iloc[40:])
    ids, features = fc.cached_program_features(ds, "toy", 1, f)
    assert len(f.calls) == 2 and f.calls[1] == list(programs["program"].iloc[40:])
    assert list(ids) == list(programs["program"])  # table order, the new rows included: nothing stale
    np.testing.assert_array_equal(features, expected(programs))


def test_compaction_name_version_and_dependencies_invalidate(ds, real_rows):
    f = Featurizer()
    fc.cached_program_features(ds, "toy", 1, f)
    fc.cached_program_features(ds, "toy", 2, f)  # another version
    fc.cached_program_features(ds, "other", 1, f)  # another featurizer
    assert len(f.calls) == 3
    fc.cached_program_features(ds, "toy", 1, f, depends_on=())  # another dependency set
    assert len(f.calls) == 4
    ds.append("tasks", real_rows[1].head(1))  # the tasks table changes
    fc.cached_program_features(ds, "toy", 1, f)
    assert len(f.calls) == 5
    fc.cached_program_features(ds, "toy", 1, f, depends_on=())  # features of traces alone: still valid
    assert len(f.calls) == 5
    ds.compact("programs")  # the same rows in a new part file
    ids, features = fc.cached_program_features(ds, "toy", 1, f)
    assert len(f.calls) == 6 and len(f.calls[-1]) == 40
    np.testing.assert_array_equal(features, expected(real_rows[0].iloc[:40]))


def test_rows_follow_the_given_ids(ds, real_rows):
    programs = real_rows[0].iloc[:40]
    wanted = list(programs["program"].iloc[[7, 30, 2, 2]])
    ids, features = fc.cached_program_features(ds, "toy", 1, Featurizer(), program_ids=wanted)
    assert list(ids) == wanted
    np.testing.assert_array_equal(features, expected(programs.iloc[[7, 30, 2, 2]]))
    with pytest.raises(KeyError, match="not in the dataset"):
        fc.cached_program_features(ds, "toy", 1, Featurizer(), program_ids=["0000000000000000"])


def test_cache_folder_from_the_environment(ds, tmp_path, monkeypatch):
    monkeypatch.setenv(fc.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert fc.cache_root(ds) == tmp_path / "elsewhere"
    fc.cached_program_features(ds, "toy", 1, Featurizer())
    assert len(list((tmp_path / "elsewhere" / "toy-v1").glob("*.npz"))) == 2
    assert not (ds.root / ".cache").exists()
    assert fc.clear_feature_cache(ds, "toy") == 1 and not (tmp_path / "elsewhere" / "toy-v1").exists()


def test_atomic_write_leaves_no_partial_file(ds, monkeypatch):
    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(fc.np, "savez", broken_savez)
    with pytest.warns(UserWarning, match="features not cached"):
        ids, features = fc.cached_program_features(ds, "toy", 1, Featurizer())
    assert len(ids) == 40  # the result is still returned
    folder = ds.root / ".cache" / "features" / "toy-v1"
    assert [p.name for p in folder.iterdir()] == [".computing.lock"]  # neither a final file nor a temporary one
    monkeypatch.undo()
    f = Featurizer()
    fc.cached_program_features(ds, "toy", 1, f)
    assert len(f.calls) == 1


def test_unreadable_file_is_recomputed(ds):
    f = Featurizer()
    fc.cached_program_features(ds, "toy", 1, f)
    first = sorted((ds.root / ".cache" / "features" / "toy-v1").glob("*.npz"))[0]
    first.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        ids, features = fc.cached_program_features(ds, "toy", 1, f)
    assert len(f.calls) == 2 and len(f.calls[1]) == 25
    fc.cached_program_features(ds, "toy", 1, f)
    assert len(f.calls) == 2


def test_bad_featurizers_and_names(ds, tmp_path):
    with pytest.raises(ValueError, match="rows"):
        fc.cached_program_features(ds, "toy", 1, lambda programs: np.zeros((3, 2)))
    with pytest.raises(ValueError, match="feature name"):
        fc.cached_program_features(ds, "../escape", 1, Featurizer())
    empty = Dataset.create(tmp_path / "empty")
    ids, features = fc.cached_program_features(empty, "toy", 1, Featurizer())
    assert len(ids) == 0 and features.shape == (0,)


def test_fingerprint_follows_parts(ds, real_rows):
    before = fc.dataset_fingerprint(ds)
    assert before == fc.dataset_fingerprint(ds)
    ds.append("programs", real_rows[0].iloc[40:])
    assert fc.dataset_fingerprint(ds) != before


def _slow_logged_featurizer(log: str):
    """A featurizer that takes a second and appends one line per call to ``log`` (seen across processes)."""

    def compute(programs: pd.DataFrame) -> np.ndarray:
        import time

        with open(log, "a") as handle:
            handle.write(f"{len(programs)}\n")
        time.sleep(1.0)
        return expected(programs)

    return compute


def _features_in_a_process(root: str, log: str, out: str) -> None:
    ids, features = fc.cached_program_features(Dataset.open(root), "toy", 1, _slow_logged_featurizer(log))
    np.save(out, features)


def test_processes_that_miss_at_once_compute_once(ds, real_rows, tmp_path):
    import multiprocessing

    log = tmp_path / "calls.log"
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_features_in_a_process, args=(str(ds.root), str(log), str(tmp_path / f"{i}.npy")))
             for i in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert log.read_text().split() == ["40"], "the second process waited and read the first one's files"
    want = expected(real_rows[0].iloc[:40])
    for i in range(2):
        np.testing.assert_array_equal(np.load(tmp_path / f"{i}.npy"), want)
