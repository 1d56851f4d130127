"""The results chapter's verdicts, on hand-made result tables whose right answer is known."""

import pandas as pd
import pytest

from tenset_study import claims


def _pruning_rows(split, variant, platform, full, kept_values):
    """A pruning summary: the full-data reference (value, interval) and one strategy at several fractions."""
    value, low, high = full
    rows = [dict(strategy="full", fraction=1.0, kept_fraction=1.0, variant=variant, platform=platform,
                 split=split, network="all", metric="pca", value=value, low=low, high=high)]
    for strategy, per_fraction in kept_values.items():
        for fraction, v in per_fraction.items():
            rows.append(dict(strategy=strategy, fraction=fraction, kept_fraction=fraction, variant=variant,
                             platform=platform, split=split, network="all", metric="pca", value=v,
                             low=v - 0.02, high=v + 0.02))
    return rows


def test_pruning_claim_reproduced_only_when_every_split_prunes_enough():
    rows = (_pruning_rows("by-network", "ours", "a", (0.70, 0.68, 0.72), {"random": {0.45: 0.69, 0.2: 0.60}})
            + _pruning_rows("by-platform", "ours", "a", (0.70, 0.68, 0.72), {"random": {0.45: 0.685, 0.2: 0.5}}))
    claim = claims.pruning_claim(pd.DataFrame(rows))
    assert claim.verdict == claims.REPRODUCED
    assert "55%" in claim.ours

    rows = (_pruning_rows("by-network", "ours", "a", (0.70, 0.68, 0.72), {"random": {0.45: 0.69, 0.2: 0.60}})
            + _pruning_rows("by-platform", "ours", "a", (0.70, 0.68, 0.72), {"random": {0.45: 0.60, 0.2: 0.5}}))
    assert claims.pruning_claim(pd.DataFrame(rows)).verdict == claims.PARTLY

    rows = _pruning_rows("by-network", "ours", "a", (0.70, 0.68, 0.72), {"random": {0.45: 0.60, 0.2: 0.55}})
    assert claims.pruning_claim(pd.DataFrame(rows)).verdict == claims.NOT_REPRODUCED


def test_best_pruning_averages_over_models_and_platforms():
    rows = (_pruning_rows("by-network", "ours", "a", (0.70, 0.68, 0.72), {"random": {0.2: 0.69}})
            + _pruning_rows("by-network", "xgb", "a", (0.70, 0.68, 0.72), {"random": {0.2: 0.50}}))
    best = claims.best_pruning(pd.DataFrame(rows))
    assert best.loc[0, "pruned"] == pytest.approx(0.4)  # (0.8 + 0) / 2
    assert best.loc[0, "pruned_min"] == 0.0


def _split_rows(variant, split, per_platform):
    return [dict(variant=variant, split=split, platform=p, network="all", metric="pca", value=v, low=v - w,
                 high=v + w) for p, (v, w) in per_platform.items()]


def test_split_claim_counts_only_separated_flattery_of_leaky_splits():
    honest = {"a": (0.60, 0.02), "b": (0.62, 0.02)}
    rows = (_split_rows("xgb", "by-network", honest) + _split_rows("xgb", "within-task", {"a": (0.70, 0.02),
                                                                                          "b": (0.72, 0.02)})
            + _split_rows("ours", "by-network", honest) + _split_rows("ours", "random", {"a": (0.61, 0.02),
                                                                                       "b": (0.63, 0.02)}))
    claim = claims.split_claim(pd.DataFrame(rows))
    assert claim.verdict == claims.PARTLY  # xgb is flattered beyond its intervals, ours is not
    flattery = claims.split_flattery(pd.DataFrame(rows)).set_index(["variant", "split"])
    assert flattery.loc[("xgb", "within-task"), "flattery"] == pytest.approx(0.10)
    assert flattery.loc[("xgb", "within-task"), "separated"] == 1.0
    assert flattery.loc[("ours", "random"), "separated"] == 0.0

    # A split that holds more out (by-op) scoring higher is not the leak the claim is about.
    rows = _split_rows("xgb", "by-network", honest) + _split_rows("xgb", "by-op", {"a": (0.9, 0.01),
                                                                                    "b": (0.9, 0.01)})
    assert claims.split_claim(pd.DataFrame(rows)).verdict == claims.NOT_RUN


def test_claims_table_names_the_chapter_that_has_not_run(tmp_path):
    table = claims.claims_table(tmp_path)
    assert set(table["verdict"]) == {claims.NOT_RUN}
    assert table["basis"].str.contains("notebook 0").all()
