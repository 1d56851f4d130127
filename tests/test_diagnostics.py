"""Diagnostics beside a results table (evaluation/references.py, paired.py, hardware_swap.py, diagnostics.py): the
noise ceiling, the cross-platform oracle and random scores against values known by construction or analytically,
paired differences and their interval, the hardware-swap test with a model whose use of the hardware is known
and with a trained ``ours`` v2, and the whole comparison on data/mini."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from conftest import MINI_DATA, small_cpu_inputs
from tenset_study.evaluation import diagnostics, metrics, references
from tenset_study.evaluation.hardware_swap import hardware_swap, spearman, task_spearman
from tenset_study.evaluation.paired import paired_bootstrap, paired_differences

AMD, INTEL, H200 = "amd-epyc-znver3-2c", "intel-xeon-emeraldrapids-16c", "h200"


def _all(table: pd.DataFrame, metric: str, platform: str | None = None) -> pd.Series:
    rows = table[(table["network"] == "all") & (table["metric"] == metric)]
    return rows.set_index("platform")["value"] if platform is None else rows.set_index("platform").loc[platform, "value"]


# --- references ----------------------------------------------------------------------------------------


def test_oracle_of_a_platform_against_itself_is_the_measured_ordering(default_records) -> None:
    records, links = default_records
    shared, scores = references.oracle_scores(records, AMD, AMD)
    assert len(shared) == int((records["platform"] == AMD).sum())
    table = metrics.evaluate(shared, scores, links, n_boot=0)
    by_labels = metrics.evaluate(shared, shared["label"].to_numpy(), links, n_boot=0)
    pd.testing.assert_frame_equal(table, by_labels)  # the noise-free ordering
    per_group = metrics.pairwise_accuracy_per_group(shared, scores)
    assert (per_group.loc[per_group["pairs"] > 0, "pca"] == 1.0).all(), "every pair ranked right"
    assert (table.loc[table["metric"] != "pca", "value"] == 1.0).all()


def test_oracle_reads_the_other_platform_of_its_kind_only(default_records) -> None:
    records, links = default_records
    table = references.cross_platform_oracle(records, links, n_boot=50)
    assert set(zip(table["platform"], table["reference"])) == {(AMD, f"oracle: {INTEL}"), (INTEL, f"oracle: {AMD}")}
    pca = _all(table, "pca")
    assert 0.5 < pca[AMD] < 1.0 and 0.5 < pca[INTEL] < 1.0, "two CPUs rank alike, but not identically"
    # a source that measured every program in the opposite order ranks them exactly wrong
    mine = records[records["platform"] == AMD]
    reversed_ = mine.assign(platform="reversed", latency_s=1.0 / mine["latency_s"])
    shared, scores = references.oracle_scores(records, AMD, "reversed", latencies=reversed_)
    per_group = metrics.pairwise_accuracy_per_group(shared, scores)
    assert (per_group.loc[per_group["pairs"] > 0, "pca"] == 0.0).all()


def _repeats() -> pd.DataFrame:
    # task a: repeat 0 ranks p1 < p2 < p3, repeat 1 ranks p2 < p1 < p3 (2 of 3 pairs agree); task b agrees.
    rows = [("p1", "a", [1.0, 2.0, 1.0]), ("p2", "a", [2.0, 1.0, 2.0]), ("p3", "a", [3.0, 3.0, 3.0]),
            ("q1", "b", [1.0, 1.0, 1.0]), ("q2", "b", [5.0, 5.0, 5.0])]
    return pd.DataFrame([{"program": p, "task": t, "platform": "x", "repeats_s": r} for p, t, r in rows])


def test_noise_ceiling_is_one_repeat_ranked_against_another() -> None:
    table = references.noise_ceiling(_repeats(), n_boot=200)
    assert _all(table, "pca", "x") == pytest.approx((3 * 2 / 3 + 2 * 1.0) / 5)
    assert _all(table, "top1", "x") == pytest.approx((1.0 + 1.0) / (2.0 + 1.0)), "a's pick p1 takes 2 s, its best 1 s"
    assert (table["records"] == 5).all() and (table["reference"] == "noise ceiling").all()
    assert (_all(references.noise_ceiling(_repeats(), score_repeats=[0], label_repeats=[2], n_boot=0), "pca")
            == 1.0).all(), "identical repeats agree on every pair"
    only_b = pd.DataFrame({"program": ["q1", "q2"], "platform": "x"})
    assert _all(references.noise_ceiling(_repeats(), only_b, n_boot=0), "pca", "x") == 1.0, "test records only"
    single = _repeats().assign(repeats_s=lambda d: d["repeats_s"].map(lambda r: r[:1]))
    single.loc[single["task"] == "b", "repeats_s"] = pd.Series([[1.0, 1.0], [5.0, 5.0]], index=[3, 4])
    assert (references.noise_ceiling(single, n_boot=0)["records"] == 2).all(), "one-repeat programs are left out"
    assert references.noise_ceiling(single.iloc[:3], n_boot=0).empty, "TenSet-style logs: no repeats, no ceiling"


def test_expected_random_top_k_is_the_mean_over_every_pick() -> None:
    latencies = [3.0, 1.0, 4.0, 2.0, 6.0]
    records = pd.DataFrame({"task": "t", "platform": "x", "latency_s": latencies})
    for k in (1, 2, 3, 5, 7):
        picks = list(itertools.combinations(latencies, min(k, len(latencies))))
        brute = 1.0 / np.mean([min(p) for p in picks])
        assert references.expected_random_top_k(records, k)["x"] == pytest.approx(brute)


def test_random_scores_sit_at_their_analytic_expectation(default_records) -> None:
    records, links = default_records
    cpu = records[records["platform"] == AMD].reset_index(drop=True)
    table = references.random_reference(cpu, links, draws=40, n_boot=0)
    pca = table[(table["network"] == "all") & (table["metric"] == "pca")].iloc[0]
    assert abs(pca["value"] - 0.5) < 3 * pca["seed_std"] / np.sqrt(40) + 1e-3 and pca["seed_std"] > 0
    top5 = table[(table["network"] == "all") & (table["metric"] == "top5")].iloc[0]
    expected = references.expected_random_top_k(cpu, 5)[AMD]
    assert abs(top5["value"] - expected) < 3 * top5["seed_std"] / np.sqrt(40) + 0.02


# --- paired differences --------------------------------------------------------------------------------


def test_paired_bootstrap_of_known_ratios() -> None:
    # two seeds x two tasks; model a wins every task of every seed, so no draw can reach zero
    num_a, den = np.array([[2.0, 3.0], [3.0, 2.0]]), np.array([[4.0, 4.0]])
    diff, low, high = paired_bootstrap(num_a, den, np.array([[1.0, 1.0]]), den, n_boot=500)
    assert diff == pytest.approx(5 / 8 - 2 / 8)
    assert 4 / 8 - 2 / 8 <= low <= diff <= high <= 6 / 8 - 2 / 8 and low < high
    same = paired_bootstrap(num_a, np.broadcast_to(den, (2, 2)), num_a, np.broadcast_to(den, (2, 2)), n_boot=200)
    assert same == (0.0, 0.0, 0.0)
    assert np.isnan(paired_bootstrap(num_a, den, num_a, den, n_boot=0)[1])


def test_paired_differences_count_only_intervals_that_exclude_zero(default_records) -> None:
    records, _ = default_records
    rng = np.random.default_rng(0)
    exact = -records["latency_s"].to_numpy()
    scores = {"exact": [exact, exact], "random": [rng.random(len(records)), rng.random(len(records))],
              "once": [exact]}
    table = paired_differences(records, scores, base="random", n_boot=300)
    assert set(table["model"]) == {"exact", "once"} and (table["minus"] == "random").all()
    pca = table[table["metric"] == "pca"].set_index(["model", "platform"])
    assert (pca["diff"] > 0.3).all() and pca["excludes_zero"].all() and (pca["low"] > 0).all()
    assert (pca.loc["exact", "seeds"] == 2).all() and (pca.loc["once", "seeds"] == 2).all()
    tasks = records.groupby("platform")["task"].nunique()
    assert (pca["tasks"].to_numpy() == pca.index.get_level_values("platform").map(tasks).to_numpy()).all()
    itself = paired_differences(records, {"a": scores["random"], "b": scores["random"]}, base="a", n_boot=100)
    assert (itself["diff"] == 0).all() and not itself["excludes_zero"].any()
    with pytest.raises(ValueError, match="base"):
        paired_differences(records, scores, base="missing")


# --- the hardware-swap test ----------------------------------------------------------------------------


class _HardwareScaled:
    """Scores ``base[program] * sum of the platform's hardware features``: the hardware scales every score of a
    platform alike, so a vector of the same sign keeps the ranking and a negated one reverses it."""

    def __init__(self, base: np.ndarray) -> None:
        self.base = base

    def predict(self, inputs, positions):
        return self.base[positions] * inputs.hardware_of(positions).sum(axis=1)


@pytest.fixture(scope="module")
def context_inputs():
    from tenset_study.data import records as recs
    from tenset_study.data.dataset import Dataset
    from tenset_study.models.inputs import build_inputs

    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    ds = Dataset.open(MINI_DATA)
    return build_inputs(ds, recs.load_records(ds), families=("context",))


def test_swap_reverses_a_ranking_exactly_when_the_hardware_reverses_the_scores(context_inputs) -> None:
    inputs = context_inputs
    assert (inputs.hardware.sum(axis=1) > 0).all()
    before = inputs.hardware.copy()
    model = _HardwareScaled(-inputs.records["latency_s"].to_numpy())  # with positive hardware: the true order
    sizes = inputs.records.groupby(["task", "platform"])["program"].transform("size").to_numpy()
    positions = np.flatnonzero(sizes > 1)  # a task with one program has PCA 0.5 whatever the scores
    negated = {"negated": -inputs.hardware[inputs.platform_ids.index(AMD)]}
    table = hardware_swap(model, inputs, positions, platforms=[AMD], sources=[AMD, INTEL, "negated"],
                          extra_hardware=negated, n_boot=100).set_index("hardware_of")
    np.testing.assert_array_equal(inputs.hardware, before)  # the inputs are left as they were
    for same in (AMD, INTEL):  # positive scale: the same ranking
        assert table.loc[same, "spearman"] == pytest.approx(1.0) and table.loc[same, "task_spearman"] == pytest.approx(1.0)
        assert table.loc[same, "delta"] == 0.0 and table.loc[same, "delta_low"] == table.loc[same, "delta_high"] == 0.0
    flipped = table.loc["negated"]
    assert flipped["spearman"] == pytest.approx(-1.0) and flipped["pca_swapped"] == pytest.approx(1 - flipped["pca"])
    assert (flipped["pca"], flipped["pca_swapped"], flipped["delta"]) == (1.0, 0.0, -1.0)
    assert flipped["delta_low"] == flipped["delta_high"] == -1.0, "every task reversed: no spread to draw from"
    default = hardware_swap(model, inputs, positions, n_boot=0)
    assert set(zip(default["platform"], default["hardware_of"])) == {
        (p, q) for p in inputs.platform_ids for q in inputs.platform_ids if p != q}


def test_spearman_helpers() -> None:
    records = pd.DataFrame({"task": ["a"] * 3 + ["b"] * 3, "platform": "x"})
    a = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    assert task_spearman(records, a, np.array([3.0, 2.0, 1.0, 1.0, 2.0, 3.0])) == pytest.approx(0.0)
    assert spearman(a, a * 2) == pytest.approx(1.0) and np.isnan(spearman(a, np.ones(6)))


def test_swap_with_its_own_hardware_changes_nothing_in_a_trained_ours() -> None:
    import torch

    from tenset_study import models

    torch.set_num_threads(1)
    _, records, inputs = small_cpu_inputs(("stores", "context"), max_len=32)
    model = models.create("ours", seed=0, epochs=2, hidden=32, heads=4, device="cpu").fit(inputs, np.arange(inputs.size))
    table = hardware_swap(model, inputs, np.arange(inputs.size), sources=[AMD, INTEL], n_boot=100)
    own = table[table["platform"] == table["hardware_of"]]
    assert len(own) == 2 and np.allclose(own["spearman"], 1.0) and (own["delta"] == 0).all()
    other = table[table["platform"] != table["hardware_of"]]
    assert len(other) == 2 and other[["pca", "pca_swapped", "spearman", "task_spearman"]].notna().all().all()
    assert (other["delta_low"] <= other["delta"]).all() and (other["delta"] <= other["delta_high"]).all()


# --- the table and the whole comparison ----------------------------------------------------------------


def test_diagnostics_beside_a_comparison_on_mini() -> None:
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    logs: list[str] = []
    result = diagnostics.run_diagnostics(MINI_DATA, models=("ours-v1", "tlp"), preset="smoke", seeds=(0, 1),
                                         base="tlp", swap_model="ours-v1", log=logs.append)
    assert len(logs) == 2 and {len(v) for v in result.scores.values()} == {2}
    table = result.table
    platforms = sorted(set(table.index.get_level_values("platform")))
    assert platforms == [AMD, H200, INTEL]
    for platform in platforms:
        kinds = table.loc[platform, "kind"].tolist()
        assert kinds[:2] == ["model", "model"] and kinds[-1] == "random" and "ceiling" in kinds
        assert ("oracle" in kinds) == (platform != H200), "only the CPUs have another platform of their kind"
    models_ = table[table["kind"] == "model"]
    ceiling = table[table["kind"] == "ceiling"].reset_index("row")["pca"]
    gaps = ceiling.reindex(models_.index.get_level_values("platform")).to_numpy() - models_["pca"].to_numpy()
    np.testing.assert_allclose(models_["pca_below_ceiling"], gaps)
    assert (table["pca_low"] <= table["pca"] + 1e-12).all() and (table["top5_high"] >= table["top5"] - 1e-12).all()
    summary = result.summary[(result.summary["network"] == "all") & (result.summary["metric"] == "pca")]
    assert models_.loc[(AMD, "tlp"), "pca"] == pytest.approx(
        summary.set_index(["platform", "variant"]).loc[(AMD, "tlp"), "value"])
    assert set(result.paired["model"]) == {"ours-v1"} and (result.paired["minus"] == "tlp").all()
    assert len(result.swap) == 3 * 2 and result.swap["spearman"].notna().all()
