"""The dataset folder: compacted copies (``Dataset.copy_compacted`` and ``tenset-study compact``)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import MINI_DATA
from tenset_study.cli import main
from tenset_study.data.dataset import SCHEMAS, Dataset, DatasetError


@pytest.fixture()
def collection(tmp_path: Path) -> Dataset:
    """A dataset in many parts, as a collection leaves it: the rows of data/mini's first network's tasks,
    written in two halves, with one measurement part written twice (a shard merged twice)."""
    mini = Dataset.open(MINI_DATA)
    ds = Dataset.create(tmp_path / "collection", description="many parts")
    for table in ("platforms", "networks", "tasks", "network_tasks"):
        ds.append(table, mini.read(table))
    programs = mini.to_pandas("programs").head(300)
    measurements = mini.to_pandas("measurements")
    measurements = measurements[measurements["program"].isin(programs["program"])]
    for half in (programs.iloc[:150], programs.iloc[150:]):
        ds.append("programs", half)
    first, second = measurements.iloc[: len(measurements) // 2], measurements.iloc[len(measurements) // 2:]
    for part in (first, second, second):
        ds.append("measurements", part)
    return ds


def _sorted(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


def test_compacted_copy_has_one_part_per_table_and_the_same_rows_once(collection, tmp_path):
    assert len(collection.parts("measurements")) == 3
    copy = collection.copy_compacted(tmp_path / "default")
    for table in SCHEMAS:
        assert len(copy.parts(table)) == (1 if collection.count(table) else 0), table
    measured = collection.to_pandas("measurements")
    assert len(measured) > measured.drop_duplicates(["program", "platform"]).shape[0]  # the duplicate shard
    expected = _sorted(measured.drop_duplicates(["program", "platform"], keep="last"), ["program", "platform"])
    got = _sorted(copy.to_pandas("measurements"), ["program", "platform"])
    pd.testing.assert_frame_equal(got, expected)
    assert copy.validate() == []
    assert copy.summary() == {**collection.summary(), "measurements": len(expected)}
    assert copy.meta["description"] == "many parts"
    assert not list(tmp_path.glob(".default.tmp-*"))  # no staging folder left behind


def test_compacted_copy_refuses_to_overwrite_unless_asked(collection, tmp_path):
    dest = tmp_path / "default"
    collection.copy_compacted(dest)
    with pytest.raises(DatasetError, match="not empty"):
        collection.copy_compacted(dest)
    with pytest.raises(DatasetError, match="another folder"):
        collection.copy_compacted(collection.root)
    stale = dest / "programs" / "part-stale.parquet"
    stale.write_bytes((dest / "programs").glob("part-*.parquet").__next__().read_bytes())
    replaced = collection.copy_compacted(dest, overwrite=True)
    assert not stale.exists() and len(replaced.parts("programs")) == 1


def test_compact_command(collection, tmp_path, capsys):
    dest = tmp_path / "out"
    assert main(["compact", str(collection.root), str(dest)]) == 0
    assert '"measurements"' in capsys.readouterr().out
    assert len(Dataset.open(dest).parts("measurements")) == 1
    assert main(["compact", str(collection.root), str(dest)]) == 2
    assert "not empty" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_an_unreadable_part_is_named_in_one_line(collection, damage):
    part = collection.parts("measurements")[1]
    data = part.read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "garbage": b"not parquet at all\n" * 5, "empty": b""}
    part.write_bytes(damaged[damage])
    for read in (lambda: collection.read("measurements"), lambda: collection.count("measurements"),
                 lambda: list(collection.iter_batches("measurements")),
                 lambda: collection.to_pandas("measurements", columns=["program"])):
        with pytest.raises(DatasetError) as raised:
            read()
        message = str(raised.value)
        assert message.startswith(f"{part}: not a Parquet file (") and "\n" not in message, message
    assert main(["summary", str(collection.root)]) == 2  # the command says it in one line, no traceback


def test_a_bad_column_is_not_blamed_on_a_part(collection):
    with pytest.raises(Exception) as raised:
        collection.read("measurements", columns=["no_such_column"])
    assert not isinstance(raised.value, DatasetError) or "part-" not in str(raised.value)


def test_a_dataset_named_by_a_string_reads_like_one_named_by_a_path(tmp_path):
    from tenset_study.data import Dataset

    Dataset.create(tmp_path / "ds")
    assert Dataset(str(tmp_path / "ds")).root == tmp_path / "ds"
    assert Dataset(str(tmp_path / "ds")).parts("measurements") == Dataset.open(tmp_path / "ds").parts("measurements")
