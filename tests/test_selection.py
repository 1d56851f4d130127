"""Choosing the tasks a collection measures (tenset_study.collect.selection), and a real replay restricted to a
task list."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tenset_study.collect import CollectConfig, collect
from tenset_study.collect.selection import (choose_tasks, keep_listed, read_task_list, workload_ids,
                                            write_task_list)
from tenset_study.data.dataset import Dataset


def _tasks(rows):
    return pd.DataFrame(rows, columns=["task", "op", "arg_shapes", "arg_dtypes"])


def _conv_tasks(n: int, prefix: str) -> list[tuple]:
    return [(f"{prefix}{i:015x}", "conv2d", f"[[1, {i}, 8, 8]]", "['float32']") for i in range(n)]


def test_a_cpu_and_a_gpu_task_of_one_workload_share_its_id() -> None:
    frame = _tasks([("a" * 16, "dense", "[[1, 4]]", "['float32']"), ("b" * 16, "dense", "[[1, 4]]", "['float32']"),
                    ("c" * 16, "dense", "[[1, 5]]", "['float32']")])
    ids = workload_ids(frame)
    assert ids[0] == ids[1] != ids[2]
    assert all(len(i) == 16 and i.startswith("w") for i in ids)


def test_choice_keeps_rankable_tasks_whole_and_caps_a_class_evenly_over_networks() -> None:
    conv = _conv_tasks(40, "c")
    other = [("d" * 15 + str(i), "dense", f"[[1, {i}]]", "['float32']") for i in range(5)]
    tiny = [("e" * 16, "softmax", "[[1, 3]]", "['float32']")]
    frame = _tasks(conv + other + tiny)
    programs = pd.Series({t[0]: 64 for t in conv + other} | {tiny[0][0]: 1})
    links = pd.DataFrame({"network": ["net_a"] * 30 + ["net_b"] * 10 + ["net_a"] * 5,
                          "task": [t[0] for t in conv + other]})
    chosen = choose_tasks(frame, programs, links, min_programs=32, caps={"conv2d": 12}, seed=0)
    assert set(chosen["op"].value_counts().items()) == {("conv2d", 12), ("dense", 5)}
    assert tiny[0][0] not in set(chosen["task"]), "a task of one program ranks nothing"
    from_b = set(chosen["task"]) & set(links.loc[links["network"] == "net_b", "task"])
    assert len(from_b) == 6, "round-robin: the small network gives as many as the large one"
    again = choose_tasks(frame, programs, links, caps={"conv2d": 12}, seed=0)
    assert list(again["task"]) == list(chosen["task"])
    other_seed = choose_tasks(frame, programs, links, caps={"conv2d": 12}, seed=1)
    assert set(other_seed["task"]) != set(chosen["task"])


def test_task_list_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    write_task_list(path, ["w" + "0" * 15, "ab" * 8], "two tasks\nsecond line")
    assert read_task_list(path) == {"w" + "0" * 15, "ab" * 8}
    assert path.read_text().startswith("# two tasks\n# second line\n")
    path.write_text("# a list\nabababababababab\nresnet_18\n")
    with pytest.raises(ValueError, match=r"list.txt:3: 'resnet_18' is neither"):
        read_task_list(path)
    path.write_text("# nothing\n")
    with pytest.raises(ValueError, match="names no task"):
        read_task_list(path)
    with pytest.raises(ValueError, match="names no task"):
        CollectConfig(dataset=tmp_path / "ds", replay=True, task_list=path)


def test_keep_listed_matches_task_ids_and_workload_ids() -> None:
    rows = _tasks([("a" * 16, "dense", "[[1, 4]]", "['float32']"), ("b" * 16, "pool", "[[1, 9]]", "['float32']"),
                   ("c" * 16, "softmax", "[[2]]", "['float32']")])

    class T:  # a collection task: only its id matters here
        def __init__(self, task):
            self.task = task

    tasks = [T(t) for t in rows["task"]]
    listed = {"a" * 16, workload_ids(rows)[1]}
    assert [t.task for t in keep_listed(tasks, rows, listed)] == ["a" * 16, "b" * 16]


@pytest.mark.slow
def test_a_replay_measures_only_the_listed_tasks(bert_tiny_collection, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(bert_tiny_collection[0], root)
    ds = Dataset.open(root)
    tasks = ds.to_pandas("tasks", columns=["task", "op", "arg_shapes", "arg_dtypes"])
    measured_tasks = ds.to_pandas("programs", columns=["task"])["task"].unique()
    chosen = tasks[tasks["task"].isin(measured_tasks)].iloc[:1]
    path = tmp_path / "one.txt"
    write_task_list(path, workload_ids(chosen), "one task, by workload id")
    from conftest import COLLECT_QUICK
    from tenset_study.collect.measure import MeasureSettings

    report = collect(CollectConfig(dataset=root, replay=True, platform="listed-only", task_list=path,
                                   measure=MeasureSettings(**COLLECT_QUICK), progress=False, batch_size=4,
                                   probe_hardware=False))
    assert report.tasks == 1
    ds = Dataset.open(root)
    on_platform = ds.to_pandas("measurements", columns=["program", "platform"])
    on_platform = on_platform[on_platform["platform"] == "listed-only"]
    programs = ds.to_pandas("programs", columns=["program", "task"]).set_index("program")["task"]
    assert set(programs.loc[on_platform["program"]]) == set(chosen["task"])
    assert report.measured == (programs == chosen["task"].iloc[0]).sum()
    runner = ds.to_pandas("platforms").set_index("platform").loc["listed-only", "runner"]
    assert '"task_list": "one.txt"' in runner
