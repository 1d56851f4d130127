"""The results chapter's verdicts, on hand-made result tables whose right answer is known."""

import pandas as pd
import pytest

from tenset_study.book import claims, report, tuning_claim


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
    flattery = report.split_flattery(pd.DataFrame(rows)).set_index(["variant", "split"])
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


def _transfer_rows(platform, top5):
    return [dict(direction="cpu->cpu", platform=platform, network="all", metric="top5", variant=arm,
                 fraction=fraction, value=v, low=v - 0.05, high=min(1.0, v + 0.05))
            for arm, fraction, v in top5]


def test_transfer_claim_judges_only_models_trained_without_the_target():
    rows = (_transfer_rows("a", [("zero-shot", 0.0, 0.80), ("fine-tune", 0.05, 0.93), ("random", 0.0, 0.6)])
            + _transfer_rows("b", [("zero-shot", 0.0, 0.70), ("mtl", 0.05, 0.85), ("xgb", 0.05, 0.97),
                                   ("random", 0.0, 0.5)]))
    best = claims.best_transfer_top5(pd.DataFrame(rows)).set_index("platform")
    assert best.loc["a", "arm"] == "fine-tune" and best.loc["b", "arm"] == "mtl"  # xgb saw only target data
    assert best.loc["b", "best_other"] == "xgb" and best.loc["b", "random"] == 0.5
    assert claims.transfer_claim(pd.DataFrame(rows)).verdict == claims.PARTLY
    only_a = [r for r in rows if r["platform"] == "a"]
    assert claims.transfer_claim(pd.DataFrame(only_a)).verdict == claims.REPRODUCED


def _tuning_row(network, arm, fraction, e2e, tuning_s, width=0.05):
    return dict(target_platform="cpu0", network=network, arm=arm, budget_fraction=fraction, seed=0,
                e2e_mean_s=e2e, e2e_low_s=e2e - width, e2e_high_s=e2e + width, estimated_latency_s=e2e,
                tuning_s=tuning_s, trials=100 * fraction, scoring_share=0.1)


def test_tuning_claim_needs_on_par_latency_within_forty_percent_of_the_time():
    rows = [_tuning_row("n1", "baseline-xgb", 1.0, 1.0, 1000), _tuning_row("n1", "ours@25%", 0.25, 1.05, 260),
            _tuning_row("n1", "random@25%", 0.25, 1.5, 250),
            _tuning_row("n2", "baseline-xgb", 1.0, 1.0, 1000), _tuning_row("n2", "ours@25%", 0.25, 1.5, 250),
            _tuning_row("n2", "ours@40%", 0.40, 1.04, 450)]  # on par, but 45% of the time
    claim = tuning_claim.tuning_claim(pd.DataFrame(rows))
    assert claim.verdict == claims.PARTLY
    assert "random search at the same budget: slower" in claim.ours
    assert tuning_claim.tuning_claim(pd.DataFrame(rows[:3])).verdict == claims.REPRODUCED
    assert tuning_claim.tuning_claim(pd.DataFrame(rows[3:])).verdict == claims.NOT_REPRODUCED
    faster = [_tuning_row("n3", "baseline-xgb", 1.0, 1.0, 1000), _tuning_row("n3", "ours@25%", 0.25, 0.6, 300)]
    claim = tuning_claim.tuning_claim(pd.DataFrame(faster))
    assert claim.verdict == claims.REPRODUCED and "(faster)" in claim.ours


def _curve_rows(network, arm, seed, points):
    return [dict(target_platform="cpu0", network=network, arm=arm, budget_fraction=1.0, seed=seed, seconds=t,
                 estimated_latency_s=latency) for t, latency in points]


def test_tuning_claim_reads_a_whole_budget_arm_off_its_curves():
    baseline = [(10, float("nan")), (20, 5.0), (40, 3.0), (60, 2.0), (100, 2.0)]  # ends at 2.0 after 100 s
    rows, curves = [], []
    for network, ours in (("n1", [(10, 4.0), (30, 2.0), (100, 1.9)]),   # at 40 s (40%): 2.0 -> on par
                          ("n2", [(10, 4.0), (50, 3.0), (100, 2.0)])):  # at 40 s: 4.0 -> x2.00
        rows += [_tuning_row(network, "baseline-xgb", 1.0, 1.0, 100), _tuning_row(network, "ours@100%", 1.0, 1.0, 110)]
        for seed in (0, 1):
            curves += _curve_rows(network, "baseline-xgb", seed, baseline) + _curve_rows(network, "ours@100%", seed, ours)
    claim = tuning_claim.tuning_claim(pd.DataFrame(rows), curves=pd.DataFrame(curves))
    assert claim.verdict == claims.PARTLY and claim.basis == tuning_claim.CURVE_BASIS
    n1, n2 = claim.ours.split(" | ")
    assert "at 40% of the baseline's time: latency x1.00 [1.00, 1.00] of its final (2 of 2 seed pairs)" in n1
    assert "search-time speedup 2.0x" in n1 and "final end to end: on par" in n1
    assert "at 40% of the baseline's time: latency x2.00" in n2 and "not reached" not in n2
    # without curves the whole-budget arm is judged end to end: on par, but with all of the time
    assert tuning_claim.tuning_claim(pd.DataFrame(rows)).verdict == claims.NOT_REPRODUCED


def test_pruning_curves_draw_one_figure_per_split_and_the_first_split_by_default():
    from tenset_study.book.notebook import Figures

    rows = (_pruning_rows("by-network", "ours", "a", (0.70, 0.68, 0.72), {"random": {0.45: 0.69, 0.2: 0.60}})
            + _pruning_rows("by-platform", "ours", "b", (0.70, 0.68, 0.72), {"random": {0.45: 0.685}})
            + _pruning_rows("by-platform", "xgb", "b", (0.70, 0.68, 0.72), {"random": {0.45: 0.685}}))
    figures = report.plot_pruning_curves_per_split(pd.DataFrame(rows), "pca")
    assert isinstance(figures, Figures) and len(figures) == 2
    assert [len(figure.axes) for figure in figures] == [1, 2], "one panel per (model, platform) of each split"
    first = report.plot_pruning_curves(pd.DataFrame(rows), "pca")
    assert [ax.get_title() for ax in first.axes] == ["ours / a"]
    assert [ax.get_title() for ax in report.plot_pruning_curves(pd.DataFrame(rows), "pca", split="by-platform").axes] \
        == ["ours / b", "xgb / b"]


def test_the_results_folder_is_shown_relative_to_the_repository(tmp_path) -> None:
    from tenset_study.book import claims
    from tenset_study.params import repo_root

    inside = repo_root() / "results"
    assert claims.describe_results(inside).splitlines()[0] in ("results:", "results: no result tables yet; run the "
                                                                           "chapters before this one")
    (tmp_path / "table.csv").write_text("a\n1\n")
    # outside the repository only the folder's name: the book shows no path of the machine that built it
    assert claims.describe_results(tmp_path).startswith(f"{tmp_path.name}:\n  table.csv (written ")


def test_conclusions_call_a_lead_only_where_the_paired_interval_excludes_zero() -> None:
    from tenset_study.book import report

    def summary_row(variant, value):
        return {"variant": variant, "platform": "cpu-a", "network": "all", "metric": "pca", "value": value,
                "seed_std": 0.001, "low": value - 0.002, "high": value + 0.002}

    summary = pd.DataFrame([summary_row("ours", 0.851), summary_row("mlp", 0.840)])
    # the seed-spread rule alone calls this lead, but the paired interval says otherwise, and the reverse
    paired = pd.DataFrame([{"platform": "cpu-a", "metric": "pca", "model": "ours", "minus": "mlp", "diff": 0.011,
                            "low": -0.002, "high": 0.024, "excludes_zero": False}])
    assert "ours 0.851 is ahead of mlp 0.840 (seed spread 0.001)" in report.conclusions(summary)
    assert "ours 0.851 is level with mlp 0.840 (paired difference +0.011 [-0.002, +0.024])" \
        in report.conclusions(summary, paired=paired)
    # the runner-up as the table's model: the difference is turned around
    paired = paired.assign(model="mlp", minus="ours", diff=-0.011, low=-0.016, high=-0.006, excludes_zero=True)
    assert "ours 0.851 is ahead of mlp 0.840 (paired difference +0.011 [+0.006, +0.016])" \
        in report.conclusions(summary, paired=paired)
