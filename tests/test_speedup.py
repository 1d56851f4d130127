"""Search-time speedup from tuning curves."""

import math

import numpy as np
import pandas as pd

from tenset_study.tuning.speedup import describe_speedup, has_flattened, search_speedup, time_to_reach


def _curve(seconds, latencies) -> pd.DataFrame:
    return pd.DataFrame({"seconds": seconds, "estimated_latency_s": latencies})


BASELINE = _curve([10, 20, 40, 60, 80, 100], [np.nan, 5.0, 3.0, 2.0, 2.0, 2.0])


def test_time_to_reach_is_the_first_second_at_or_below_the_latency() -> None:
    assert time_to_reach(BASELINE, 2.0) == 60
    assert time_to_reach(BASELINE, 4.0) == 40
    assert time_to_reach(BASELINE, 1.0) is None


def test_the_baseline_has_flattened_when_its_last_quarter_improved_under_one_percent() -> None:
    assert has_flattened(BASELINE)
    assert not has_flattened(_curve([10, 50, 80, 100], [5.0, 3.0, 3.0, 2.0]))
    assert not has_flattened(_curve([10, 20], [np.nan, np.nan]))


def test_speedup_per_seed_pair_and_not_reached_is_never_a_speedup() -> None:
    fast = _curve([5, 10, 15], [4.0, 2.0, 1.9])  # reaches 2.0 at 10 s: 60 / 10 = 6x
    faster = _curve([5, 20], [2.0, 2.0])  # at 5 s: 12x
    short = _curve([5, 10], [4.0, 2.5])  # never: final gap +25%
    pairs, summary = search_speedup([BASELINE, BASELINE], [fast, faster])
    assert list(pairs["speedup"]) == [6.0, 12.0] and pairs["reached"].all()
    assert math.isclose(summary["speedup"], math.sqrt(72.0))
    assert summary["low"] >= 6.0 - 1e-9 and summary["high"] <= 12.0 + 1e-9
    pairs, summary = search_speedup([BASELINE, BASELINE], [fast, short])
    assert list(pairs["reached"]) == [True, False] and math.isnan(pairs["speedup"].iloc[1])
    assert math.isclose(summary["worst_gap"], 0.25) and summary["speedup"] == 6.0
    assert "not reached in 1" in describe_speedup(summary)
    _, none = search_speedup([BASELINE], [short])
    assert none["reached"] == 0 and describe_speedup(none).startswith("not reached in any of 1")


def test_a_baseline_still_improving_is_said() -> None:
    improving = _curve([10, 50, 80, 100], [5.0, 3.0, 3.0, 2.0])
    _, summary = search_speedup([improving], [_curve([1, 2], [2.0, 2.0])])
    assert summary["baselines_flattened"] == 0 and "had not flattened" in describe_speedup(summary)


def test_speedup_table_pairs_seeds_per_network_from_the_committed_exports() -> None:
    from pathlib import Path

    from tenset_study.tuning.archive import measured_curves
    from tenset_study.tuning.speedup import speedup_table

    exports = Path(__file__).resolve().parents[1] / "data" / "transfer-tuning"
    table = speedup_table(measured_curves(exports))
    assert set(table["study"]) == {p.parent.name for p in exports.glob("*/provenance.json")}
    assert "baseline-xgb" not in set(table["arm"]) and (table["seeds"] >= 1).all()
    whole = table[table["arm"].str.endswith("@100%")]  # the search-time studies: every seed paired
    assert len(whole) and (whole["seeds"] >= 2).all()
    reached = whole[whole["reached"] > 0]
    assert (reached["low"] <= reached["speedup"]).all() and (reached["speedup"] <= reached["high"]).all()
    reached = table[table["reached"] > 0]
    assert (reached["speedup"] > 0).all() and reached["verdict"].str.contains("x \\[").all()
    assert table.loc[table["reached"] == 0, "verdict"].str.startswith("not reached").all()
    assert speedup_table(None).empty


def test_latency_at_shares_reads_each_arm_at_a_share_of_the_baselines_time() -> None:
    from tenset_study.tuning.speedup import latency_at, latency_at_shares

    assert latency_at(BASELINE, 25) == 5.0 and latency_at(BASELINE, 100) == 2.0 and math.isnan(latency_at(BASELINE, 15))
    fast = _curve([5, 10, 15], [4.0, 2.0, 1.9])
    late = _curve([30, 50], [3.0, 2.0])  # nothing covers the network before 30 s
    frames = [BASELINE.assign(arm="baseline-xgb", seed=0), fast.assign(arm="ours@100%", seed=0),
              BASELINE.assign(arm="baseline-xgb", seed=1), late.assign(arm="ours@100%", seed=1)]
    table = latency_at_shares(pd.concat(frames).assign(network="net"), shares=(0.25, 0.40)).set_index(["arm", "share"])
    assert table.loc[("baseline-xgb", 0.25), "ratio"] == 2.5 and table.loc[("baseline-xgb", 0.40), "ratio"] == 1.5
    at_quarter = table.loc[("ours@100%", 0.25)]
    assert at_quarter["seeds"] == 2 and at_quarter["covered"] == 1 and math.isclose(at_quarter["ratio"], 0.95)
    at_two_fifths = table.loc[("ours@100%", 0.40)]
    assert at_two_fifths["covered"] == 2 and math.isclose(at_two_fifths["ratio"], math.sqrt(0.95 * 1.5))
    assert at_two_fifths["low"] >= 0.95 - 1e-9 and at_two_fifths["high"] <= 1.5 + 1e-9
    assert latency_at_shares(None).empty


def _study_curves(arms: dict[str, pd.DataFrame], network: str = "net", seeds=(0, 1)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Curves and results of a one-network study whose arms (name -> curve) tuned with every seed the same way."""
    curves = pd.concat([curve.assign(network=network, arm=arm, seed=seed)
                        for arm, curve in arms.items() for seed in seeds])
    results = pd.DataFrame([{"network": network, "arm": arm, "seed": seed,
                             "estimated_latency_s": curve["estimated_latency_s"].dropna().iloc[-1],
                             "scoring_share": 0.1, "tuning_s": float(curve["seconds"].max()), "trials": 100}
                            for arm, curve in arms.items() for seed in seeds])
    return curves, results


def test_the_chosen_search_variant_reaches_the_baselines_final_latency_soonest() -> None:
    from tenset_study.tuning.search_choice import choose_variant, variant_table

    arms = {"baseline-xgb": BASELINE,
            "ours@100%": _curve([5, 10, 15], [4.0, 2.0, 1.9]),  # reaches 2.0 at 10 s: 6x
            "ours-p256@100%": _curve([4, 5, 8], [3.0, 2.0, 1.95]),  # at 5 s: 12x
            "ours-p64@100%": _curve([1, 2], [2.5, 2.2])}  # fastest, but never reaches 2.0
    curves, results = _study_curves(arms)
    table = variant_table(curves, results).set_index("arm")
    assert list(table.index) == ["ours-p256@100%", "ours-p64@100%", "ours@100%"], "the baseline is no row"
    assert table.loc["ours-p256@100%", "speedup"] == 12.0 and table.loc["ours@100%", "speedup"] == 6.0
    assert table.loc["ours-p64@100%", "reached"] == 0
    assert math.isclose(table.loc["ours-p64@100%", "final_ratio"], 1.1)
    assert choose_variant(table.reset_index()) == "ours-p256@100%"
    # a variant must reach the baseline on every network: on a second one only ours@100% does
    other, other_results = _study_curves({"baseline-xgb": BASELINE, "ours@100%": arms["ours@100%"],
                                          "ours-p256@100%": _curve([1, 2], [3.0, 2.5])}, network="other")
    both = variant_table(pd.concat([curves, other]), pd.concat([results, other_results]))
    assert choose_variant(both) == "ours@100%"
    slow = {"baseline-xgb": BASELINE, "ours@100%": _curve([1, 2], [3.0, 2.5])}
    assert choose_variant(variant_table(*_study_curves(slow))) is None
