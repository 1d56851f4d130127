"""Tests of the ranking metrics against brute-force implementations (loops over pairs, explicit sorting).

The small frames below are test fixtures, never shown in the book.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from tenset_study.evaluation import metrics



# --- fixtures and brute force ------------------------------------------------------------------------


def make_records(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """Records from (task, platform, latency) rows, with programs numbered and labels computed."""
    frame = pd.DataFrame(rows, columns=["task", "platform", "latency_s"])
    frame.insert(0, "program", [f"p{i}" for i in range(len(frame))])
    best = frame.groupby(["task", "platform"])["latency_s"].transform("min")
    frame["label"] = best / frame["latency_s"]
    return frame


def random_records(
    seed: int, n: int, tasks: int = 4, platforms: int = 2, levels: int = 4
) -> tuple[pd.DataFrame, np.ndarray]:
    """Random records with few distinct latencies and scores, so that both tie often."""
    rng = np.random.default_rng(seed)
    rows = [
        (f"t{rng.integers(tasks)}", f"hw{rng.integers(platforms)}", float(rng.integers(1, levels + 1)))
        for _ in range(n)
    ]
    return make_records(rows), rng.integers(0, levels, n).astype(float)


def brute_pca_per_group(records: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    """PCA per (task, platform) by looping over every pair."""
    rows = []
    for (task, platform), group in records.groupby(["task", "platform"], sort=True):
        agree, pairs = 0.0, 0
        for i, j in itertools.combinations(group.index, 2):
            label_diff = records.at[i, "label"] - records.at[j, "label"]
            if label_diff == 0:
                continue
            pairs += 1
            score_diff = scores[i] - scores[j]
            agree += 0.5 if score_diff == 0 else float((label_diff > 0) == (score_diff > 0))
        rows.append((task, platform, len(group), pairs, agree / pairs if pairs else 0.5))
    return pd.DataFrame(rows, columns=["task", "platform", "programs", "pairs", "pca"])


def brute_top_k_per_task(records: pd.DataFrame, scores: np.ndarray, k: int) -> pd.DataFrame:
    """Best latency and best of the k highest-scored programs, by explicit sorting (ties: row order)."""
    rows = []
    for (task, platform), group in records.groupby(["task", "platform"], sort=True):
        ranked = sorted(group.index, key=lambda i: (-scores[i], i))
        best_of_top_k = min(records.at[i, "latency_s"] for i in ranked[:k])
        rows.append((task, platform, group["latency_s"].min(), best_of_top_k))
    return pd.DataFrame(rows, columns=["task", "platform", "best_latency_s", "top_k_latency_s"])


def brute_top_k_score(records: pd.DataFrame, scores: np.ndarray, network_tasks: pd.DataFrame, k: int) -> dict:
    """{(network, platform): (top_k, tasks, weight_covered)} from the definition, loop by loop."""
    per_task = brute_top_k_per_task(records, scores, k)
    result = {}
    for platform, tasks in per_task.groupby("platform"):
        overall = tasks["best_latency_s"].sum() / tasks["top_k_latency_s"].sum()
        result[(metrics.ALL, platform)] = (overall, len(tasks), 1.0)
        for network, links in network_tasks.groupby("network"):
            weight = dict(zip(links["task"], links["weight"]))
            present = tasks[tasks["task"].isin(weight)]
            if present.empty:
                continue
            w = present["task"].map(weight)
            value = (w * present["best_latency_s"]).sum() / (w * present["top_k_latency_s"]).sum()
            result[(network, platform)] = (value, len(present), w.sum() / sum(weight.values()))
    return result


# --- PCA ---------------------------------------------------------------------------------------------


def test_pca_hand_made():
    records = make_records(
        [("a", "x", 1.0), ("a", "x", 2.0), ("a", "x", 4.0), ("a", "x", 4.0),  # labels 1, .5, .25, .25
         ("b", "x", 1.0), ("b", "x", 2.0),  # scores tied
         ("c", "x", 3.0),  # a single program
         ("d", "x", 2.0), ("d", "x", 2.0)]  # equal labels only
    )
    scores = np.array([3, 1, 2, 2, 5, 5, 0, 1, 2], dtype=float)
    per_group = metrics.pairwise_accuracy_per_group(records, scores)
    # group a: 5 pairs of different labels; (a>b), (a>c), (a>d) agree, (b>c), (b>d) disagree
    assert per_group["pca"].tolist() == pytest.approx([0.6, 0.5, 0.5, 0.5])
    assert per_group["pairs"].tolist() == [5, 1, 0, 0]
    assert per_group["programs"].tolist() == [4, 2, 1, 2]
    assert metrics.pairwise_accuracy(records, scores) == pytest.approx((4 * 0.6 + 2 * 0.5 + 1 * 0.5 + 2 * 0.5) / 9)


@pytest.mark.parametrize("seed", range(12))
def test_pca_matches_brute_force(seed):
    records, scores = random_records(seed, n=int(np.random.default_rng(seed).integers(1, 80)))
    ours = metrics.pairwise_accuracy_per_group(records, scores)
    brute = brute_pca_per_group(records, scores)
    assert ours[["task", "platform"]].values.tolist() == brute[["task", "platform"]].values.tolist()
    assert ours["programs"].tolist() == brute["programs"].tolist()
    assert ours["pairs"].tolist() == brute["pairs"].tolist()
    np.testing.assert_allclose(ours["pca"], brute["pca"], rtol=0, atol=1e-12)


def test_pca_large_groups_with_continuous_scores():
    """Groups larger than a few merge levels, distinct scores, and reversed and perfect orders."""
    rng = np.random.default_rng(7)
    rows = [("t", "hw", float(v)) for v in rng.integers(1, 50, 150)] + [("u", "hw", float(v)) for v in range(1, 70)]
    records = make_records(rows)
    scores = rng.normal(size=len(records))
    ours = metrics.pairwise_accuracy_per_group(records, scores)
    np.testing.assert_allclose(ours["pca"], brute_pca_per_group(records, scores)["pca"], atol=1e-12)
    latency = records["latency_s"].to_numpy()
    assert metrics.pairwise_accuracy(records, -latency) == 1.0
    assert metrics.pairwise_accuracy(records, latency) == 0.0


def test_pca_does_not_depend_on_row_order():
    records, scores = random_records(3, n=60)
    order = np.random.default_rng(0).permutation(len(records))
    shuffled = records.iloc[order].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        metrics.pairwise_accuracy_per_group(records, scores),
        metrics.pairwise_accuracy_per_group(shuffled, scores[order]),
    )


def test_scores_are_checked():
    records, scores = random_records(0, n=10)
    with pytest.raises(ValueError, match="one number per record"):
        metrics.pairwise_accuracy(records, scores[:-1])
    with pytest.raises(ValueError, match="NaN"):
        metrics.pairwise_accuracy(records, np.where(np.arange(10) == 3, np.nan, scores))
    with pytest.raises(ValueError, match="positive integer"):
        metrics.top_k_per_task(records, scores, 0)


# --- top-k -------------------------------------------------------------------------------------------


def test_top_k_hand_made():
    records = make_records([("a", "x", 1.0), ("a", "x", 2.0), ("a", "x", 4.0), ("b", "x", 3.0), ("b", "x", 6.0)])
    scores = np.array([0.0, 2.0, 1.0, 1.0, 1.0])  # b's scores tie: row order picks its first program
    top1 = metrics.top_k_per_task(records, scores, 1)
    assert top1["best_latency_s"].tolist() == [1.0, 3.0]
    assert top1["top_k_latency_s"].tolist() == [2.0, 3.0]
    assert metrics.top_k_per_task(records, scores, 3)["top_k_latency_s"].tolist() == [1.0, 3.0]
    network_tasks = pd.DataFrame({"network": ["n", "n", "n"], "task": ["a", "b", "z"], "weight": [2, 1, 1]})
    table = metrics.top_k_score(records, scores, network_tasks, 1).set_index("network")
    assert table.loc["n", "top_k"] == pytest.approx((2 * 1 + 3) / (2 * 2 + 3))
    assert table.loc["n", "weight_covered"] == pytest.approx(3 / 4)
    assert table.loc["n", "tasks"] == 2
    assert table.loc[metrics.ALL, "top_k"] == pytest.approx((1 + 3) / (2 + 3))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 5, 100])
def test_top_k_matches_brute_force(seed, k):
    records, scores = random_records(seed, n=70, tasks=5, platforms=3)
    ours = metrics.top_k_per_task(records, scores, k)
    brute = brute_top_k_per_task(records, scores, k)
    pd.testing.assert_frame_equal(ours.drop(columns="programs"), brute, check_dtype=False)

    network_tasks = pd.DataFrame(
        {"network": ["n1", "n1", "n2", "n2", "n2", "n3"], "task": ["t0", "t1", "t1", "t2", "t9", "t8"],
         "weight": [1, 3, 2, 1, 4, 1]}
    )
    expected = brute_top_k_score(records, scores, network_tasks, k)
    table = metrics.top_k_score(records, scores, network_tasks, k)
    assert set(zip(table["network"], table["platform"])) == set(expected)
    for row in table.itertuples():
        value, tasks, covered = expected[(row.network, row.platform)]
        assert row.top_k == pytest.approx(value)
        assert row.tasks == tasks
        assert row.weight_covered == pytest.approx(covered)


def test_top_k_failed_measurements_count_as_infinitely_slow():
    records = make_records([("a", "x", 1.0), ("a", "x", np.nan), ("b", "x", np.nan)])
    top1 = metrics.top_k_per_task(records, np.array([0.0, 1.0, 0.0]), 1)
    assert top1["top_k_latency_s"].tolist() == [np.inf, np.inf]
    assert top1["best_latency_s"].iloc[0] == 1.0 and np.isnan(top1["best_latency_s"].iloc[1])
    table = metrics.top_k_score(records, np.array([0.0, 1.0, 0.0]), None, 1)
    assert table["top_k"].tolist() == [0.0] and table["tasks"].tolist() == [1]


# --- bootstrap and evaluate -------------------------------------------------------------------------


def test_bootstrap_matches_a_loop_and_is_reproducible():
    rng = np.random.default_rng(1)
    programs = rng.integers(1, 30, 25).astype(float)
    pca = rng.uniform(0.4, 0.9, 25)
    low, high = metrics.bootstrap_ratio(programs * pca, programs, n_boot=300, seed=5)
    draws = np.random.default_rng(5).integers(0, 25, size=(300, 25))
    resampled = [np.average(pca[d], weights=programs[d]) for d in draws]
    assert (low, high) == pytest.approx(tuple(np.quantile(resampled, [0.025, 0.975])))
    assert low <= np.average(pca, weights=programs) <= high
    assert metrics.bootstrap_ratio(programs * pca, programs, n_boot=300, seed=5) == (low, high)
    assert metrics.bootstrap_ratio(programs * pca, programs, n_boot=300, seed=6) != (low, high)
    assert all(np.isnan(metrics.bootstrap_ratio(programs, programs, n_boot=0)))
    assert metrics.bootstrap_ratio(2 * programs, programs, n_boot=50) == pytest.approx((2.0, 2.0))


def test_evaluate_agrees_with_the_metrics():
    records, _ = random_records(4, n=400, tasks=12, platforms=2, levels=40)
    scores = -records["latency_s"].to_numpy() + np.random.default_rng(0).normal(0, 8, len(records))
    network_tasks = pd.DataFrame(
        {"network": ["n1"] * 3 + ["n2"] * 4, "task": ["t0", "t1", "t2", "t2", "t3", "t4", "t5"],
         "weight": [1, 2, 1, 1, 1, 3, 1]}
    )
    table = metrics.evaluate(records, scores, network_tasks, ks=(1, 5), n_boot=200, seed=3)
    assert list(table.columns) == list(metrics.EVALUATION_COLUMNS)
    assert set(table["metric"]) == {"pca", "top1", "top5"}
    assert set(table["network"]) == {metrics.ALL, "n1", "n2"}
    for platform, part in records.groupby("platform"):
        positions = part.index.to_numpy()
        sub = part.reset_index(drop=True)
        row = table[(table.platform == platform) & (table.network == metrics.ALL) & (table.metric == "pca")].iloc[0]
        assert row.value == pytest.approx(metrics.pairwise_accuracy(sub, scores[positions]))
        assert row.tasks == sub["task"].nunique()
        top5 = metrics.top_k_score(sub, scores[positions], network_tasks, 5).set_index("network")
        for network in ("n1", "n2", metrics.ALL):
            row = table[(table.platform == platform) & (table.network == network) & (table.metric == "top5")].iloc[0]
            assert row.value == pytest.approx(top5.loc[network, "top_k"])
    assert (table["low"] <= table["value"] + 1e-12).all() and (table["value"] <= table["high"] + 1e-12).all()
    pd.testing.assert_frame_equal(table, metrics.evaluate(records, scores, network_tasks, n_boot=200, seed=3))
    assert not table["low"].equals(metrics.evaluate(records, scores, network_tasks, n_boot=200, seed=4)["low"])
    assert set(metrics.evaluate(records, scores, None, n_boot=0)["network"]) == {metrics.ALL}


# --- the shipped dataset -----------------------------------------------------------------------------


def test_default_data_with_perfect_scores(default_records):
    records, network_tasks = default_records
    per_group = metrics.pairwise_accuracy_per_group(records, -records["latency_s"].to_numpy())
    ranked = per_group["pairs"] > 0
    assert (per_group.loc[ranked, "pca"] == 1.0).all()
    # groups of one program (or of equal labels) count 0.5 by definition, so the overall PCA is just below 1
    assert (per_group.loc[~ranked, "pca"] == 0.5).all()
    table = metrics.evaluate(records, -records["latency_s"].to_numpy(), network_tasks, n_boot=100)
    assert (table.loc[table.metric != "pca", "value"] == 1.0).all()
    assert set(table["platform"]) == set(records["platform"])
    assert {"resnet_18-b1-224", "mobilenet_v2-b1-224", "bert_tiny-b1-128", metrics.ALL} == set(table["network"])


def test_default_data_with_random_scores(default_records):
    records, network_tasks = default_records
    scores = np.random.default_rng(0).random(len(records))
    assert metrics.pairwise_accuracy(records, scores) == pytest.approx(0.5, abs=0.03)
    top1 = metrics.top_k_score(records, scores, network_tasks, 1)
    assert (top1["top_k"] < 1.0).all()
