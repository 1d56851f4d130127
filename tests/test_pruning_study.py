"""The pruning experiment: pruned splits keep test rows and drop only training programs, the verdict finds
the largest loss-free pruning on hand-made summaries, and the curve runs end to end on real records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenset_study.features import context
from tenset_study.evaluation import experiments
from tenset_study.pruning import strategies as pruning, study as pruning_study
from tenset_study.book.explore import ParameterError
from tenset_study.evaluation.splits import Split

MINI_DATASET = Path(__file__).resolve().parents[1] / "data" / "mini"


def _summary_rows(strategy: str, kept: float, value: float, low: float = np.nan, high: float = np.nan) -> dict:
    return {"strategy": strategy, "fraction": kept, "model": "xgb", "variant": "xgb", "scope": "per-platform",
            "split": "by-network", "platform": "p", "network": "all", "metric": "pca", "value": value,
            "low": low, "high": high, "kept_fraction": kept, "train_records": 100 * kept, "seeds": 2, "tasks": 9}


def test_verdict_finds_the_smallest_share_within_the_full_interval() -> None:
    summary = pd.DataFrame([
        _summary_rows("full", 1.0, 0.80, 0.75, 0.85),
        _summary_rows("random", 0.6, 0.78), _summary_rows("random", 0.3, 0.76), _summary_rows("random", 0.1, 0.60),
        _summary_rows("clean", 0.6, 0.70), _summary_rows("clean", 0.3, 0.65),
    ])
    verdict = pruning_study.pruning_verdict(summary).set_index("strategy")
    assert verdict.loc["random", "pruned"] == pytest.approx(0.7)  # 30% kept still >= 0.75
    assert verdict.loc["clean", "pruned"] == 0.0  # loses at every fraction
    assert "'random'" in pruning_study.recommendation(verdict.reset_index())


def test_fraction_and_strategy_parameters_are_checked() -> None:
    assert pruning_study.check_fractions([0.2, 0.45]) == [0.45, 0.2]
    for bad in ([1.0], [0.0], [], [1.5], ["x"]):
        with pytest.raises(ParameterError, match="fractions"):
            pruning_study.check_fractions(bad)
    with pytest.raises(ParameterError, match="valid"):
        pruning_study.check_strategies(["kmeans"])


def test_pruned_split_keeps_test_rows_and_only_kept_training_programs(default_records) -> None:
    records = default_records[0].reset_index(drop=True)
    rng = np.random.default_rng(0)
    test = np.sort(rng.choice(len(records), size=len(records) // 4, replace=False))
    train = np.setdiff1d(np.arange(len(records)), test)
    split = Split("by-task", train, test, {}, "")
    candidates = np.unique(records["program"].to_numpy()[train])
    kept = pruning.select_programs(records, "random", 0.3, seed=1, candidates=candidates)
    sub = pruning_study.pruned_split(split, records, kept)
    assert np.array_equal(sub.test, split.test)
    assert set(sub.train) <= set(split.train) and len(sub.train) < len(split.train)
    assert set(records["program"].to_numpy()[sub.train]) <= set(kept.kept)
    test_programs = set(records["program"].to_numpy()[test]) - set(candidates)
    assert not test_programs & set(kept.kept), "a test-only program was kept"


def test_curve_runs_every_strategy_and_the_full_reference() -> None:
    ds, records, inputs, links = experiments.prepare(MINI_DATASET, ["xgb"], max_len=16)
    split = experiments.default_split(records, links, "by-network")
    specs = [experiments.ModelSpec("xgb", {"rounds": 5})]
    workload = context.workload_features(ds.to_pandas("tasks"))
    curve = pruning_study.pruning_curve(specs, inputs, split, links, ["random", "diversity", "task-cluster"], [0.5],
                                        workload=workload, n_boot=50, progress=False)
    assert set(curve["strategy"]) == {"full", "random", "diversity", "task-cluster"}
    full_records = curve.loc[curve["strategy"] == "full", "train_records"].iloc[0]
    assert full_records == len(split.train)
    half = curve[curve["strategy"] == "random"]
    assert (half["train_records"] < full_records).all() and np.allclose(half["kept_fraction"], 0.5, atol=0.01)
    assert curve["value"].notna().any() and (curve["fit_s"] >= 0).all()
    summary = pruning_study.summarize_curve(curve)
    assert set(pruning_study.pruning_verdict(summary)["strategy"]) == {"random", "diversity", "task-cluster"}
    assert list(pruning_study.training_time(curve).index) == [1.0, 0.5]


def test_study_runs_the_grid_under_every_split_and_writes_its_tables(tmp_path: Path) -> None:
    ds, records, inputs, links = experiments.prepare(MINI_DATASET, ["xgb"], max_len=16)
    settings = {**experiments.resolve_preset("smoke"), "rounds": 5, "n_boot": 50}
    curve = pruning_study.run_pruning_study(ds, inputs, links, ["xgb"], settings, strategies=["random"],
                                            splits=["by-network", "by-task"], fractions=[0.5], progress=False)
    assert list(dict.fromkeys(curve["split"])) == ["by-network", "by-task"], "every split, in the order asked"
    assert set(curve["strategy"]) == {"full", "random"} and set(curve["fraction"]) == {1.0, 0.5}
    summary = pruning_study.summarize_curve(curve)
    verdicts = pruning_study.pruning_verdicts(summary)
    assert list(verdicts.columns) == ["split", *pruning_study.VERDICT_COLUMNS]
    assert set(verdicts["split"]) == {"by-network", "by-task"} and set(verdicts["strategy"]) == {"random"}
    single = pruning_study.pruning_verdict(summary[summary["split"] == "by-task"])
    assert np.allclose(verdicts[verdicts["split"] == "by-task"]["pruned"], single["pruned"])
    paths = pruning_study.write_pruning(curve, summary, tmp_path)
    assert [p.name for p in paths] == ["pruning.csv", "pruning_runs.csv"] and all(p.exists() for p in paths)
    with pytest.raises(ParameterError, match="'strategies'"):
        pruning_study.run_pruning_study(ds, inputs, links, ["xgb"], settings, strategies=["kmeans"])
    assert pruning_study.pruning_verdicts(summary.iloc[:0]).empty


def test_clean_report_of_the_dataset_and_the_strategy_table() -> None:
    ds, records, inputs, links = experiments.prepare(MINI_DATASET, ["xgb"], max_len=16)
    report = pruning_study.dataset_clean_report(ds, inputs)
    assert report.loc["all", "programs"] == ds.count("programs")
    assert (report["kept"] == report["programs"] - report["failed_everywhere"] - report["duplicates"]).all()
    table = pruning.strategy_table(["clean", "random"])
    assert list(table.index) == ["clean", "random"] and table.loc["random", "keeps"] == pruning.DESCRIPTIONS["random"]
    with pytest.raises(ParameterError, match="unknown strategy 'best'"):
        pruning.strategy_table(["best"])
