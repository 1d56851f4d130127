"""Tests of the split strategies: disjoint sides, no leak of what a split holds out, determinism, errors.

The small frames below are test fixtures, never shown in the book.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from tenset_study.evaluation import splits
from tenset_study.evaluation.splits import make_split


OP_OF = {"t1": "conv2d", "t2": "conv2d", "t3": "dense", "t4": "dense", "t5": "pool", "t6": "softmax"}
NETWORK_TASKS = pd.DataFrame(
    [("net_a", "t1", 2), ("net_a", "t2", 1),
     ("net_b", "t2", 1), ("net_b", "t3", 1), ("net_b", "t4", 3),
     ("resnet_50-b1-224", "t5", 1), ("resnet_50-b1-224", "t1", 1),
     ("net_c", "t6", 1),
     ("bert_base-b1-128", "t99", 1)],  # a network whose only task has no records
    columns=["network", "task", "weight"],
)


def make_records() -> pd.DataFrame:
    """6 tasks of 5 programs each; most programs measured on 3 platforms, some on fewer."""
    rows = []
    for task, op in OP_OF.items():
        for p in range(5):
            program = f"{task}-{p}"
            for index, platform in enumerate(("cpu-a", "cpu-b", "gpu-a")):
                if (p + index + int(task[1])) % 4 == 0:
                    continue  # not every program on every platform
                rows.append((program, task, platform, "gpu" if platform.startswith("gpu") else "cpu", op, 1.0 + p))
    frame = pd.DataFrame(rows, columns=["program", "task", "platform", "kind", "op", "latency_s"])
    frame["label"] = frame.groupby(["task", "platform"])["latency_s"].transform("min") / frame["latency_s"]
    return frame.sort_values(["task", "platform", "program"]).reset_index(drop=True)


RECORDS = make_records()


def assert_partition(split: splits.Split, records: pd.DataFrame, covers_all: bool = True) -> None:
    """Sorted, disjoint, non-empty positions into ``records``; together all rows when ``covers_all``."""
    for side in (split.train, split.test):
        assert side.dtype == np.int64 and len(side) > 0
        assert (np.diff(side) > 0).all() and side.min() >= 0 and side.max() < len(records)
    assert not set(split.train) & set(split.test)
    if covers_all:
        assert len(split.train) + len(split.test) == len(records)
    assert split.name in splits.STRATEGIES and split.description


def values(records: pd.DataFrame, positions: np.ndarray, column: str) -> set:
    return set(records[column].iloc[positions])


# --- every strategy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", list(splits.STRATEGIES))
def test_every_strategy_partitions_and_is_deterministic(strategy):
    split = make_split(strategy, RECORDS, NETWORK_TASKS, seed=3)
    assert_partition(split, RECORDS)
    again = make_split(strategy, RECORDS, NETWORK_TASKS, seed=3)
    assert np.array_equal(split.train, again.train) and np.array_equal(split.test, again.test)
    assert split.held_out == again.held_out


def test_random_split_fraction_and_seed():
    split = make_split("random", RECORDS, seed=0, test_fraction=0.25)
    assert len(split.test) == round(0.25 * len(RECORDS))
    others = [make_split("random", RECORDS, seed=s).test for s in range(1, 4)]
    assert any(not np.array_equal(split.test, other) for other in others)


def test_within_task_keeps_a_program_on_one_side_across_platforms():
    for seed in range(5):
        split = make_split("within-task", RECORDS, seed=seed, test_fraction=0.4)
        assert not values(RECORDS, split.train, "program") & values(RECORDS, split.test, "program")
        test_programs = RECORDS.iloc[split.test].groupby("task")["program"].nunique()
        assert (test_programs == 2).all() and len(test_programs) == len(OP_OF)  # round(0.4 * 5) of every task
        assert values(RECORDS, split.train, "task") == set(OP_OF)


def test_within_task_does_not_depend_on_row_order():
    shuffled = RECORDS.sample(frac=1.0, random_state=0).reset_index(drop=True)
    a = make_split("within-task", RECORDS, seed=2)
    b = make_split("within-task", shuffled, seed=2)
    assert values(RECORDS, a.test, "program") == values(shuffled, b.test, "program")


def test_by_task_holds_out_whole_tasks():
    split = make_split("by-task", RECORDS, seed=1, test_fraction=0.34)
    test_tasks = values(RECORDS, split.test, "task")
    assert test_tasks == set(split.held_out["tasks"]) and len(test_tasks) == 2
    assert not values(RECORDS, split.train, "task") & test_tasks


def test_by_network_default_uses_tenset_networks_present():
    split = make_split("by-network", RECORDS, NETWORK_TASKS)
    assert split.held_out["networks"] == ["resnet_50-b1-224"]  # bert_base-b1-128 has no records
    assert values(RECORDS, split.test, "task") == {"t1", "t5"}
    assert not values(RECORDS, split.train, "task") & {"t1", "t5"}


def test_by_network_sends_shared_tasks_to_test():
    split = make_split("by-network", RECORDS, NETWORK_TASKS, test_networks=["net_a"])
    assert split.held_out["networks"] == ["net_a"]
    assert values(RECORDS, split.test, "task") == {"t1", "t2"}  # t2 is shared with net_b
    assert values(RECORDS, split.train, "task") == {"t3", "t4", "t5", "t6"}


def test_by_op_holds_out_operator_classes():
    split = make_split("by-op", RECORDS, test_ops=["dense", "pool"])
    assert values(RECORDS, split.test, "op") == {"dense", "pool"}
    assert not values(RECORDS, split.train, "op") & {"dense", "pool"}
    for seed in range(6):
        split = make_split("by-op", RECORDS, seed=seed, test_fraction=0.2)
        held = set(split.held_out["ops"])
        assert values(RECORDS, split.test, "op") == held and not values(RECORDS, split.train, "op") & held
        assert len(split.test) <= 0.2 * len(RECORDS) or len(held) == 1


def test_by_platform_holds_out_a_platform():
    split = make_split("by-platform", RECORDS, test_platform="cpu-b")
    assert values(RECORDS, split.test, "platform") == {"cpu-b"}
    assert "cpu-b" not in values(RECORDS, split.train, "platform")
    default = make_split("by-platform", RECORDS, seed=5)
    assert default.held_out["platform"] in set(RECORDS["platform"])


def test_by_platform_with_networks_holds_out_both():
    split = make_split("by-platform", RECORDS, NETWORK_TASKS, test_platform="gpu-a", test_networks=["net_b"])
    assert_partition(split, RECORDS, covers_all=False)
    test = RECORDS.iloc[split.test]
    train = RECORDS.iloc[split.train]
    assert set(test["platform"]) == {"gpu-a"} and set(test["task"]) == {"t2", "t3", "t4"}
    assert "gpu-a" not in set(train["platform"]) and not set(train["task"]) & {"t2", "t3", "t4"}
    assert len(test) == ((RECORDS.platform == "gpu-a") & RECORDS.task.isin(["t2", "t3", "t4"])).sum()
    assert len(train) == ((RECORDS.platform != "gpu-a") & ~RECORDS.task.isin(["t2", "t3", "t4"])).sum()


# --- errors ------------------------------------------------------------------------------------------


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(ValueError) as error:
        make_split("by-chip", RECORDS)
    for name in splits.STRATEGIES:
        assert name in str(error.value)


@pytest.mark.parametrize(
    ("strategy", "options", "message"),
    [
        ("by-platform", {"test_platform": "k80"}, r"unknown platform \['k80'\].*cpu-a"),
        ("by-network", {"test_networks": ["vgg"]}, r"unknown network.*\['vgg'\].*net_a"),
        ("by-network", {"test_networks": ["bert_base-b1-128"]}, r"unknown network"),  # no records
        ("by-op", {"test_ops": ["conv3d"]}, r"unknown op.*conv3d.*dense"),
        ("by-op", {"test_ops": sorted(set(OP_OF.values()))}, r"nothing to train on"),
        ("by-platform", {"test_platform": "gpu-a", "test_networks": ["net_c"]}, r"test side empty"),
        ("random", {"test_fraction": 0.0}, r"test_fraction"),
        ("within-task", {"test_fraction": 1.5}, r"test_fraction"),
        ("random", {"test_ops": ["dense"]}, r"test_ops does not apply"),
        ("by-task", {"test_platform": "cpu-a"}, r"test_platform does not apply"),
    ],
)
def test_bad_parameters_raise_clear_errors(strategy, options, message):
    records = RECORDS[~((RECORDS.task == "t6") & (RECORDS.platform == "gpu-a"))].reset_index(drop=True)
    with pytest.raises(ValueError, match=message):
        make_split(strategy, records, NETWORK_TASKS, **options)


def test_by_network_needs_network_tasks_and_a_present_network():
    with pytest.raises(ValueError, match="network_tasks"):
        make_split("by-network", RECORDS)
    no_tenset = NETWORK_TASKS[NETWORK_TASKS.network != "resnet_50-b1-224"]
    expected = r"none of TenSet's evaluation networks.*present: \['net_a', 'net_b', 'net_c'\]"
    with pytest.raises(ValueError, match=expected):
        make_split("by-network", RECORDS, no_tenset)


# --- the shipped dataset -----------------------------------------------------------------------------


def test_default_data_splits_do_not_leak(default_records):
    records, network_tasks = default_records
    for strategy in splits.STRATEGIES:
        split = make_split(strategy, records, network_tasks, seed=0)
        assert_partition(split, records)
        train, test = records.iloc[split.train], records.iloc[split.test]
        if strategy == "within-task":
            assert not set(train["program"]) & set(test["program"])
        if strategy in ("by-task", "by-network"):
            assert not set(train["task"]) & set(test["task"])
        if strategy == "by-network":
            held = network_tasks[network_tasks.network.isin(split.held_out["networks"])]["task"]
            assert set(test["task"]) == set(held) & set(records["task"])
            assert set(split.held_out["networks"]) == {"mobilenet_v2-b1-224", "bert_tiny-b1-128"}
        if strategy == "by-op":
            assert not set(train["op"]) & set(test["op"])
        if strategy == "by-platform":
            assert set(test["platform"]) == {split.held_out["platform"]}
            assert split.held_out["platform"] not in set(train["platform"])
