"""Tests of the pruning strategies: exact counts, determinism, candidates, each strategy's rule, the
dataset writer and the ``prune`` command.

The small frames below are test fixtures, never shown in the book; the dataset tests use a few tasks of
the small test dataset data/mini.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenset_study.pruning import strategies as pruning
from tenset_study.pruning.strategies import clean_report, proportional_quotas, select_programs, target_count

MINI_DATA = Path(__file__).resolve().parents[1] / "data" / "mini"
PLATFORMS = ("cpu-a", "cpu-b")


def make_records(sizes: dict[str, int], ops: dict[str, str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Tasks of the given sizes, every program on two CPU platforms with random latencies."""
    rng = np.random.default_rng(seed)
    rows = []
    for task, size in sizes.items():
        for p in range(size):
            base = rng.uniform(1e-4, 1e-2)
            for platform in PLATFORMS:
                rows.append((f"{task}-p{p:03d}", task, platform, "cpu", (ops or {}).get(task, "conv2d"),
                             base * rng.uniform(0.9, 1.1)))
    return pd.DataFrame(rows, columns=["program", "task", "platform", "kind", "op", "latency_s"])


def random_features(records: pd.DataFrame, width: int = 3, seed: int = 0) -> pd.DataFrame:
    ids = np.sort(records["program"].unique())
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(len(ids), width)), index=ids)


def workload_for(records: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    tasks = np.sort(records["task"].unique())
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(len(tasks), 4)), index=tasks,
                        columns=["log_flops", "log_bytes", "log_arithmetic_intensity", "max_rank"])


SIZES = {"t1": 3, "t2": 7, "t3": 12, "t4": 20, "t5": 1, "t6": 17}
RECORDS = make_records(SIZES)
FEATURES = random_features(RECORDS)
WORKLOAD = workload_for(RECORDS)
EXACT = ("random", "per-task-cap", "diversity", "latency-spread", "clean")


def select(strategy: str, fraction: float, seed: int = 0, records: pd.DataFrame = RECORDS, **kwargs):
    kwargs.setdefault("features", FEATURES)
    kwargs.setdefault("workload", WORKLOAD)
    return select_programs(records, strategy, fraction, seed, **kwargs)


# --- every strategy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", EXACT)
@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.45, 0.8, 1.0])
def test_exact_count(strategy, fraction):
    result = select(strategy, fraction)
    n = RECORDS["program"].nunique()
    assert len(result.kept) == target_count(fraction, n) == max(1, round(fraction * n))
    assert result.note is None and result.kept_fraction == len(result.kept) / n
    assert list(result.kept) == sorted(set(result.kept)) and set(result.kept) <= set(RECORDS["program"])


@pytest.mark.parametrize("strategy", pruning.STRATEGIES)
def test_same_seed_same_result_and_candidates_only(strategy):
    candidates = np.sort(RECORDS["program"].unique())[::3]
    first = select(strategy, 0.5, seed=7, candidates=candidates)
    again = select(strategy, 0.5, seed=7, candidates=list(candidates))
    np.testing.assert_array_equal(first.kept, again.kept)
    assert set(first.kept) <= set(candidates)
    assert first.candidates == len(candidates)
    if strategy != "task-cluster":
        assert len(first.kept) == round(0.5 * len(candidates))


@pytest.mark.parametrize("strategy", ["random", "per-task-cap"])
def test_different_seeds_differ(strategy):
    kept = {tuple(select(strategy, 0.4, seed=seed).kept) for seed in range(4)}
    assert len(kept) == 4


def test_mask_and_summary():
    result = select("random", 0.5)
    mask = result.mask(RECORDS["program"])
    assert mask.dtype == bool and set(RECORDS["program"][mask]) == set(result.kept)
    assert mask.sum() == 2 * len(result.kept)  # both platforms of a kept program
    assert f"kept {len(result.kept)} of {RECORDS['program'].nunique()} programs" in result.summary()


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, float("nan"), "half", None])
def test_bad_fraction(fraction):
    with pytest.raises(ValueError, match=r"fraction must be .*\(0, 1\]"):
        select("random", fraction)


def test_bad_strategy_and_missing_features():
    with pytest.raises(ValueError, match="unknown strategy 'best'; strategies are random, per-task-cap"):
        select("best", 0.5)
    with pytest.raises(ValueError, match="'diversity' needs features"):
        select_programs(RECORDS, "diversity", 0.5)
    with pytest.raises(ValueError, match="'task-cluster' needs workload"):
        select_programs(RECORDS, "task-cluster", 0.5)
    with pytest.raises(ValueError, match="features: 1 candidate program"):
        select("diversity", 0.5, features=FEATURES.iloc[1:])
    with pytest.raises(ValueError, match="candidates: 1 program id"):
        select("random", 0.5, candidates=["t1-p000", "nope"])


def test_proportional_quotas():
    assert proportional_quotas(np.array([1, 9]), 5).tolist() == [1, 4]
    assert proportional_quotas(np.array([1, 1, 98]), 10).tolist() == [1, 1, 8]  # at least one each
    assert proportional_quotas(np.array([1, 1, 98]), 2).tolist() == [0, 0, 2]  # the total does not allow it
    assert proportional_quotas(np.array([3, 3, 3]), 4).tolist() == [2, 1, 1]  # ties by position
    assert proportional_quotas(np.array([3, 3, 3]), 4, priority=np.array([2, 0, 1])).tolist() == [1, 2, 1]
    quotas = proportional_quotas(np.array([5, 2, 7, 1, 30]), 17)
    assert quotas.sum() == 17 and (quotas >= 1).all() and (quotas <= [5, 2, 7, 1, 30]).all()


# --- the rules ----------------------------------------------------------------------------------------------


def test_per_task_cap_rule():
    for target in (8, 15, 31, 50):
        result = select("per-task-cap", target / 60)
        counts = pd.Series(result.kept).str.split("-").str[0].value_counts().reindex(list(SIZES), fill_value=0)
        sizes = pd.Series(SIZES)
        cap = pruning.cap_per_task(sizes.to_numpy(), target)
        assert counts.sum() == target
        assert (counts <= cap + 1).all() and (counts >= np.minimum(sizes, cap)).all()
        assert (counts[sizes <= cap] == sizes[sizes <= cap]).all()  # small tasks keep everything
    assert pruning.cap_per_task(np.array([1, 3, 10, 20]), 15) == 5


def one_task(values: list[float], op: str = "conv2d") -> tuple[pd.DataFrame, pd.DataFrame]:
    """One task whose programs have the given 1-D feature values (and latencies 1, 2, 3, ... ms)."""
    ids = [f"t-p{i}" for i in range(len(values))]
    records = pd.DataFrame({"program": ids, "task": "t", "platform": "cpu-a", "kind": "cpu", "op": op,
                            "latency_s": [1e-3 * (i + 1) for i in range(len(values))]})
    return records, pd.DataFrame({"x": values}, index=ids)


def test_diversity_keeps_the_extremes():
    records, features = one_task([0.0, 1.0, 2.0, 10.0])
    # first the program nearest the mean (3.25: the 2), then the farthest from it (the 10)
    assert select("diversity", 0.5, records=records, features=features).kept.tolist() == ["t-p2", "t-p3"]
    assert select("diversity", 0.75, records=records, features=features).kept.tolist() == ["t-p0", "t-p2", "t-p3"]
    for seed in range(3):  # no ties here: the seed does not matter
        assert select("diversity", 0.5, seed, records=records, features=features).kept.tolist() == ["t-p2", "t-p3"]


def test_diversity_prefers_programs_with_features():
    records, features = one_task([0.0, np.nan, 5.0, 1.0, 4.0])
    kept = select("diversity", 0.8, records=records, features=features).kept.tolist()
    assert kept == ["t-p0", "t-p2", "t-p3", "t-p4"]  # the NaN row (failed features) is left out
    assert len(select("diversity", 1.0, records=records, features=features).kept) == 5


def test_diversity_quota_follows_task_size():
    result = select("diversity", 25 / 60)
    counts = pd.Series(result.kept).str.split("-").str[0].value_counts()
    sizes = pd.Series(SIZES).sort_index()
    expected = pd.Series(proportional_quotas(sizes.to_numpy(), 25), index=sizes.index)  # no equal remainders
    assert expected.tolist() == [1, 3, 5, 8, 1, 7]  # t1, t2, t3, t4, t5, t6
    assert counts.reindex(expected.index, fill_value=0).tolist() == expected.tolist()


@pytest.mark.parametrize("strategy", ["diversity", "latency-spread"])
def test_equal_tasks_share_the_quota_by_seed(strategy):
    records = make_records({f"t{i}": 2 for i in range(10)})
    features = random_features(records)
    kept = [kept_tasks(select(strategy, 0.25, seed, records=records, features=features)) for seed in range(3)]
    assert all(len(tasks) == 5 for tasks in kept)  # one program in each of 5 of the 10 tasks
    assert len({tuple(sorted(tasks)) for tasks in kept}) > 1  # which 5: drawn by the seed, not the task ids


def test_latency_spread_keeps_fastest_and_slowest():
    records = make_records({"t": 10, "u": 10}, seed=3)
    slow = records["program"] == "t-p004"
    records.loc[slow & (records["platform"] == "cpu-a"), "latency_s"] = 1.0  # slowest on one platform only
    records.loc[records["program"] == "t-p007", "latency_s"] = np.nan  # failed everywhere
    mean_log = (records.dropna().assign(log=lambda f: np.log(f["latency_s"]))
                .groupby(["task", "program"])["log"].mean())
    result = select("latency-spread", 0.3, records=records)
    for task in ("t", "u"):
        ordered = mean_log[task].sort_values()
        kept = [p for p in result.kept if p.startswith(task)]
        assert len(kept) == 3
        assert ordered.index[0] in kept and ordered.index[-1] in kept
    assert "t-p004" in result.kept and "t-p007" not in result.kept
    assert "t-p007" in select("latency-spread", 1.0, records=records).kept  # failed ones fill the quota last


def test_clean_drops_failed_and_duplicates():
    records = make_records({"t": 6, "u": 4}, seed=1)
    records.loc[records["program"] == "t-p001", "latency_s"] = np.nan  # failed everywhere
    records.loc[(records["program"] == "t-p002") & (records["platform"] == "cpu-a"), "latency_s"] = np.nan
    for platform in PLATFORMS:  # t-p005 repeats t-p003's latencies exactly
        at = records["platform"] == platform
        records.loc[at & (records["program"] == "t-p005"), "latency_s"] = records.loc[
            at & (records["program"] == "t-p003"), "latency_s"].to_numpy()
    result = select_programs(records, "clean", 1.0)
    assert "t-p001" not in result.kept and "t-p005" not in result.kept
    assert "t-p003" in result.kept and "t-p002" in result.kept  # failed on one platform only: kept
    assert len(result.kept) == 8 and "only 8 of 10 programs are clean" in result.note
    fewer = select_programs(records, "clean", 0.5, seed=2)
    assert len(fewer.kept) == 5 and fewer.note is None and not {"t-p001", "t-p005"} & set(fewer.kept)
    report = clean_report(records)
    assert report.loc["all"].tolist() == [10, 1, 1, 8]
    # with features, duplicates are programs of a task with identical feature rows
    features = pd.DataFrame({"a": np.arange(10.0)}, index=np.sort(records["program"].unique()))
    features.loc["u-p003", "a"] = features.loc["u-p001", "a"]
    features.loc["u-p000", "a"] = features.loc["t-p000", "a"]  # another task: not a duplicate
    by_features = select_programs(records, "clean", 1.0, features=features)
    assert set(records["program"]) - set(by_features.kept) == {"t-p001", "u-p003"}
    assert clean_report(records, features=features).loc["all", "duplicates"] == 1


def cluster_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three near-identical conv2d workloads, a distinct conv2d, and a dense workload next to them."""
    sizes = {"a1": 10, "a2": 11, "a3": 12, "b": 14, "d": 9}
    records = make_records(sizes, ops={"d": "dense"})
    workload = pd.DataFrame({"log_flops": [0.50, 0.5001, 0.4999, 0.9, 0.5],
                             "log_bytes": [0.30, 0.30, 0.3001, 0.7, 0.3],
                             "op_conv2d": [1.0, 1, 1, 1, 0], "op_dense": [0.0, 0, 0, 0, 1]},
                            index=list(sizes))
    return records, workload


def kept_tasks(result) -> set[str]:
    return {p.split("-")[0] for p in result.kept}


def test_task_cluster_keeps_one_of_near_identical_workloads():
    records, workload = cluster_case()
    result = select("task-cluster", 35 / 56, records=records, workload=workload)
    tasks = kept_tasks(result)
    assert {"b", "d"} <= tasks and len(tasks & {"a1", "a2", "a3"}) == 1
    assert tasks & {"a1", "a2", "a3"} == {"a1"}  # nearest the centroid of the three
    assert len(result.kept) == 10 + 14 + 9 and "33 programs" in result.note
    assert result.kept_fraction == 33 / 56 and result.tasks_kept == 3
    mask = result.mask(records["program"])  # whole tasks: all or none of a task's programs
    assert records.groupby("task")["program"].apply(lambda p: mask[p.index].all() or not mask[p.index].any()).all()


def test_task_cluster_never_merges_operator_classes():
    records, workload = cluster_case()
    # the dense task has the same workload numbers as a1, yet it is never clustered with it
    smallest = select("task-cluster", 0.01, records=records, workload=workload)
    tasks = kept_tasks(smallest)  # one task per operator class: fewer clusters are not allowed
    assert len(tasks) == 2 and "d" in tasks and "closest achievable" in smallest.note
    counts = []  # all the counts task-cluster can reach, growing its clusters
    for fraction in np.linspace(0.01, 1.0, 60):
        result = select("task-cluster", fraction, records=records, workload=workload)
        counts.append(len(result.kept))
        assert "d" in kept_tasks(result)
    reachable = sorted(set(counts))
    for target in range(1, 57):
        got = len(select("task-cluster", target / 56, records=records, workload=workload).kept)
        assert got in reachable and abs(got - target) == min(abs(c - target) for c in reachable)
    assert len(select("task-cluster", 1.0, records=records, workload=workload).kept) == 56


# --- datasets and the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """Three tasks of data/mini (two CPU, one GPU), at most 8 programs each, with their tables."""
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    from tenset_study.data.dataset import Dataset

    source = Dataset.open(MINI_DATA)
    tasks = source.to_pandas("tasks")
    programs = source.to_pandas("programs")
    per_task = programs.groupby("task").size()
    chosen = []
    for kind, count in (("cpu", 2), ("gpu", 1)):
        of_kind = tasks[(tasks["kind"] == kind) & tasks["task"].isin(per_task[per_task >= 8].index)]
        chosen += sorted(of_kind["task"])[:count]
    programs = programs[programs["task"].isin(chosen)].groupby("task").head(8)
    measurements = source.to_pandas("measurements")
    root = tmp_path_factory.mktemp("tiny") / "ds"
    ds = Dataset.create(root, description="three tasks of data/mini")
    ds.append("platforms", source.read("platforms"))
    ds.append("networks", source.read("networks"))
    ds.append("tasks", tasks[tasks["task"].isin(chosen)])
    links = source.to_pandas("network_tasks")
    ds.append("network_tasks", links[links["task"].isin(chosen)])
    ds.append("programs", programs)
    ds.append("measurements", measurements[measurements["program"].isin(programs["program"])])
    return root


def assert_consistent(root: Path, source_root: Path, kept: np.ndarray) -> None:
    from tenset_study.data.dataset import Dataset

    ds, source = Dataset.open(root), Dataset.open(source_root)
    assert ds.validate() == []
    programs = ds.to_pandas("programs")
    measurements = ds.to_pandas("measurements")
    tasks = ds.to_pandas("tasks")
    assert sorted(programs["program"]) == sorted(kept)
    assert set(measurements["program"]) <= set(programs["program"])  # every measurement's program exists
    assert set(programs["task"]) == set(tasks["task"])  # every program's task exists, no task without programs
    original = source.to_pandas("measurements")
    assert len(measurements) == original["program"].isin(kept).sum()  # every platform's measurements kept
    links = ds.to_pandas("network_tasks").sort_values(["network", "task"]).reset_index(drop=True)
    expected = source.to_pandas("network_tasks")
    expected = expected[expected["task"].isin(tasks["task"])].sort_values(["network", "task"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(links, expected)  # weights kept
    for table in ("platforms", "networks"):
        assert ds.count(table) == source.count(table)


def test_prune_dataset_writes_a_consistent_dataset(tiny, tmp_path):
    dest = tmp_path / "pruned"
    result = pruning.prune_dataset(tiny, dest, "task-cluster", 0.5)
    assert_consistent(dest, tiny, result.kept)
    assert result.candidates == 24 and result.tasks_kept < 3
    meta = json.loads((dest / "dataset.json").read_text())
    assert meta["format_version"] == 1 and "task-cluster pruning" in meta["description"]
    provenance = meta["provenance"]
    assert provenance["strategy"] == "task-cluster" and provenance["fraction"] == 0.5 and provenance["seed"] == 0
    assert provenance["pruned_from"] == str(tiny.resolve()) and provenance["kept_programs"] == len(result.kept)
    assert provenance["features"] == "workload-v1" and provenance["created_at"]
    with pytest.raises(ValueError, match="not empty; pass --overwrite"):
        pruning.prune_dataset(tiny, dest, "random", 0.5)
    again = pruning.prune_dataset(tiny, dest, "per-task-cap", 0.5, seed=3, overwrite=True)
    assert len(again.kept) == 12
    assert_consistent(dest, tiny, again.kept)
    assert [p.name for p in tmp_path.iterdir()] == ["pruned"]  # no temporary folders left
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no dataset; refusing"):
        pruning.prune_dataset(tiny, tmp_path / "other", "random", 0.5, overwrite=True)
    with pytest.raises(ValueError, match="lies inside the source"):
        pruning.prune_dataset(tiny, tiny / "pruned", "random", 0.5)


def test_prune_dataset_with_per_store_features(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("TENSET_STUDY_CACHE", str(tmp_path / "cache"))
    cpu = ["amd-epyc-znver3-2c"]
    result = pruning.prune_dataset(tiny, tmp_path / "diverse", "diversity", 0.5, platforms=cpu)
    assert len(result.kept) == 8 and result.tasks_kept == 2
    assert "8 program(s) without measurements on the considered platforms were dropped" in result.note
    assert_consistent(tmp_path / "diverse", tiny, result.kept)
    provenance = json.loads((tmp_path / "diverse" / "dataset.json").read_text())["provenance"]
    assert provenance["features"] == "perstore-v1" and provenance["platforms"] == cpu


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    return subprocess.run([sys.executable, "-m", "tenset_study.cli", "prune", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_cli_prune(tiny, tmp_path):
    dest = tmp_path / "cli"
    done = run_cli(str(tiny), str(dest), "--strategy", "latency-spread", "--fraction", "0.5", "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert "latency-spread: kept 12 of 24 programs (50.0%" in done.stdout and "3 of 3 tasks" in done.stdout
    from tenset_study.data.dataset import Dataset

    assert Dataset.open(dest).count("programs") == 12 and Dataset.open(dest).validate() == []
    failed = run_cli(str(tiny), str(tmp_path / "bad"), "--strategy", "random", "--fraction", "1.5")
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert failed.stderr.strip() == ("tenset-study prune: error: fraction must be in (0, 1] (the share of "
                                     "candidate programs kept), got 1.5")
    assert not (tmp_path / "bad").exists()


def test_cli_prune_errors_in_process(tiny, tmp_path, capsys):
    from tenset_study.cli import main

    assert main(["prune", str(tiny), str(tmp_path / "bad"), "--strategy", "best", "--fraction", "0.5"]) == 2
    assert "unknown strategy 'best'; strategies are random, per-task-cap" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert main(["prune", str(tiny), str(tmp_path / "full"), "--strategy", "random", "--fraction", "0.5"]) == 2
    assert "not empty; pass --overwrite" in capsys.readouterr().err
