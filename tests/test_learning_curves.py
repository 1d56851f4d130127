"""Learning curves on nested subsets of the training tasks and programs (evaluation.learning_curves), on
data/mini with XGBoost (fast, deterministic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenset_study.data import Dataset
from tenset_study.evaluation import experiments
from tenset_study.evaluation.learning_curves import (gain_per_doubling, learning_curve, subset_positions,
                                                     summarize_curve, training_tasks)

MINI = Path(__file__).resolve().parents[1] / "data" / "mini"


@pytest.fixture(scope="module")
def prepared():
    ds, records, inputs, links = experiments.prepare(Dataset.open(MINI), ["xgb"], max_len=32)
    return records, inputs, links, experiments.default_split(records, links, "by-network")


def _tasks_per_kind(records: pd.DataFrame, positions: np.ndarray) -> dict[str, set]:
    part = records.iloc[positions]
    return {kind: set(group) for kind, group in part.groupby("kind")["task"]}


def test_subsets_are_nested_the_same_on_every_platform_and_capped_per_task(prepared) -> None:
    records, _, _, split = prepared
    small = subset_positions(records, split.train, 2, None, seed=3)
    large = subset_positions(records, split.train, 4, None, seed=3)
    assert set(small) < set(large) <= set(split.train), "more tasks only add positions"
    assert all(len(t) == 2 for t in _tasks_per_kind(records, small).values()), "2 tasks of each kind"
    part = records.iloc[small]
    per_platform = part.groupby("platform")["task"].apply(frozenset)
    kinds = part.groupby("platform")["kind"].first()
    for kind in set(kinds):
        assert len(set(per_platform[kinds == kind])) == 1, "every platform of a kind trains on the same tasks"
    other_seed = subset_positions(records, split.train, 2, None, seed=4)
    assert not np.array_equal(np.sort(small), np.sort(other_seed)) or len(training_tasks(records, split.train)) == 0
    capped = subset_positions(records, split.train, 4, 3, seed=3)
    assert set(capped) <= set(large)
    counts = records.iloc[capped].groupby(["task", "platform"])["program"].nunique()
    assert counts.max() == 3, "at most 3 programs of a task"
    programs = records.iloc[capped].groupby("task")["program"].nunique()
    assert programs.max() <= 3, "the same 3 programs on every platform of the task's kind"
    assert len(subset_positions(records, split.train, None, None, seed=0)) == len(split.train)


def test_learning_curve_runs_each_point_once_with_more_records_for_more_tasks(prepared) -> None:
    records, inputs, links, split = prepared
    specs = experiments.model_specs(["xgb"], experiments.resolve_preset("smoke"))
    available = min(len(t) for t in training_tasks(records, split.train).values())
    curve = learning_curve(specs, inputs, split, links, task_counts=[1, 10_000, None], n_boot=20, seeds=(0, 1))
    assert sorted(curve["train_tasks"].unique()) == sorted({1, available}), "10,000 and None are all tasks"
    per_point = curve.groupby(["seed", "train_tasks"])["train_records"].first()
    for seed in (0, 1):
        assert per_point[seed].is_monotonic_increasing and per_point[seed].iloc[-1] == len(split.train)
    summary = summarize_curve(curve)
    assert (summary["seeds"] == 2).all() and summary["metric"].isin(["pca", "top1", "top5"]).all()
    assert (summary["low"] <= summary["high"]).all()
    from tenset_study.book import report

    fig = report.plot_task_curve(summary)
    for ax in fig.axes:
        assert ax.get_title() and ax.get_ylabel() and ax.get_xscale() == "log"
        assert len(ax.get_lines()) == summary.groupby(["variant", "platform"]).ngroups
    assert fig.axes[-1].get_xlabel() == "training tasks per kind (log scale)"


def test_gain_per_doubling_is_the_slope_against_log2_tasks() -> None:
    summary = pd.DataFrame({"variant": "m", "platform": "p", "network": "all", "metric": "pca",
                            "programs_per_task": np.nan, "train_tasks": [10, 20, 40, 80],
                            "value": [0.60, 0.63, 0.66, 0.69]})
    gain = gain_per_doubling(summary)
    assert gain["per_doubling"].iloc[0] == pytest.approx(0.03)
    assert (gain["from_tasks"].iloc[0], gain["to_tasks"].iloc[0]) == (10, 80)
    assert gain_per_doubling(summary.iloc[:1]).empty, "one point has no slope"
