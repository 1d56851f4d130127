"""The transfer-tuning experiment (:mod:`tenset_study.tuning.study`): the ``smoke`` preset's whole flow on
``dcgan-b1-16`` (6 tasks) with real MetaSchedule on this CPU: pretraining on data/mini without the target
platform, ``baseline-xgb`` with B = 12 trials and ``ours@50%`` with 6, end-to-end timing, the result and
curve tables; a re-run that skips everything; the comparison's verdicts on hand-made rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import MINI_DATA, SMOKE_TUNING_NETWORK, SMOKE_TUNING_TARGET, replayed_candidates, run_smoke_tuning
from tenset_study.evaluation import experiments
from tenset_study.tuning import study as tuning_study
from tenset_study.tuning.study import BASELINE, CURVE_COLUMNS, RESULT_COLUMNS

NETWORK = SMOKE_TUNING_NETWORK
N_TASKS = 6
TARGET_PLATFORM = SMOKE_TUNING_TARGET
SMOKE = experiments.PRESETS["smoke"]["tuning"]


# --- the whole flow -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_smoke_flow_tunes_every_arm_times_it_and_writes_the_tables(smoke_tuning_study) -> None:
    outcome, _, study_dir = smoke_tuning_study
    assert outcome.budgets == {NETWORK: 12}
    assert list(outcome.tuning["arm"]) == [BASELINE, "ours@50%"] and (outcome.tuning["status"] == "tuned").all()
    assert (outcome.timing["status"] == "timed").all() and len(outcome.timing) == 2

    results = pd.read_csv(study_dir / tuning_study.RESULTS_FILE)
    assert list(results.columns) == RESULT_COLUMNS and len(results) == 2
    by_arm = results.set_index("arm")
    assert by_arm.loc[BASELINE, "trials_budget"] == 12 and by_arm.loc["ours@50%", "trials_budget"] == 6
    assert by_arm.loc["ours@50%", "budget_fraction"] == 0.5 and (results["budget"] == 12).all()
    assert (results["target_platform"] == TARGET_PLATFORM).all() and (results["network"] == NETWORK).all()
    assert (results["tasks"] == N_TASKS).all() and (results["untuned_tasks"] == 0).all(), "every task is tuned"
    for _, row in results.iterrows():
        work_dir = Path(row["work_dir"])
        assert (work_dir / "database_tuning_record.json").is_file(), "the MetaSchedule database is kept"
        assert row["trials"] == len((work_dir / "database_tuning_record.json").read_text().splitlines())
        assert row["e2e_repeats"] == SMOKE["timing"]["repeat"] and row["e2e_mean_s"] > 0
        assert row["e2e_low_s"] <= row["e2e_mean_s"] <= row["e2e_high_s"]
        assert 0 < row["scoring_share"] < 1 and row["tuning_s"] > 0 and row["estimated_latency_s"] > 0
        e2e = json.loads((work_dir / tuning_study.END_TO_END_FILE).read_text())
        assert np.mean(e2e["repeats_s"]) == pytest.approx(row["e2e_mean_s"])
        assert e2e["compile"]["untuned_functions"] == []
        load = json.loads((work_dir / "tuning_result.json").read_text())["load_average"]
        assert len(load["start"]) == len(load["end"]) == 3, "the load the tuning ran under is kept"
    assert by_arm.loc["ours@50%", "cost_model"].startswith("ours:")
    ours = json.loads((Path(by_arm.loc["ours@50%", "work_dir"]) / "tuning_result.json").read_text())
    timing = ours["cost_model_timing"]
    assert ours["scoring_seconds"] == pytest.approx(timing["predict_seconds"]) and timing["candidates_scored"] > 0
    assert timing["update_calls"] >= N_TASKS and timing["online_records"] == ours["trials_measured"]
    assert timing["online_updates"] >= 1, "measurements fed back into the model"

    curves = pd.read_csv(study_dir / tuning_study.CURVES_FILE)
    assert list(curves.columns) == CURVE_COLUMNS
    for arm, part in curves.groupby("arm"):
        assert len(part) == by_arm.loc[arm, "trials"] and list(part["trial"]) == list(range(1, len(part) + 1))
        assert part["estimated_latency_s"].dropna().iloc[-1] == pytest.approx(by_arm.loc[arm, "estimated_latency_s"])
    shared = pd.read_csv(study_dir / "shared" / tuning_study.RESULTS_FILE)
    pd.testing.assert_frame_equal(shared.sort_values("arm").reset_index(drop=True),
                                  results.sort_values("arm").reset_index(drop=True), check_dtype=False)

    comparison = outcome.comparison
    assert list(comparison["arm"]) == ["ours@50%"] and comparison["verdict"].iloc[0] in ("faster", "on par", "slower")
    row = comparison.iloc[0]
    ratio = by_arm.loc["ours@50%", "e2e_mean_s"] / by_arm.loc[BASELINE, "e2e_mean_s"]
    assert row["latency_ratio"] == pytest.approx(ratio)
    assert row["ratio_low"] <= row["latency_ratio"] <= row["ratio_high"]
    assert row["trials_ratio"] == pytest.approx(by_arm.loc["ours@50%", "trials"] / by_arm.loc[BASELINE, "trials"])


@pytest.mark.slow
def test_the_study_log_shows_no_path_of_the_machine_inside_the_repository(smoke_tuning_study) -> None:
    _, logs, _ = smoke_tuning_study
    root = str(Path(__file__).resolve().parents[1])
    assert any(" of data/mini (target" in line for line in logs), logs[:3]
    assert not [line for line in logs if root in line], "the book shows these lines: paths relative to the repo"


@pytest.mark.slow
def test_every_arm_records_where_its_tuning_time_went(smoke_tuning_study) -> None:
    from tenset_study.tuning.phases import PHASE_NAMES, study_phase_table

    _, _, study_dir = smoke_tuning_study
    table = study_phase_table(study_dir).set_index("arm")
    assert set(table.index) == {BASELINE, "ours@50%"}
    for arm, row in table.iterrows():
        seconds = [row[f"{phase}_s"] for phase in PHASE_NAMES]
        assert all(v >= 0 for v in seconds) and sum(seconds) == pytest.approx(row["tuning_s"], rel=1e-6)
        assert row["building_s"] > 0 and row["measuring_s"] > 0 and row["sampling_s"] > 0, arm
        assert row["scoring_s"] > 0 and row["other_share"] < 1, arm
    results = pd.read_csv(study_dir / tuning_study.RESULTS_FILE).set_index("arm")
    # MetaSchedule's scoring scope wraps our model's predict, which the model times itself
    assert table.loc["ours@50%", "scoring_s"] >= 0.9 * results.loc["ours@50%", "scoring_s"]


@pytest.mark.slow
def test_pretrained_model_never_saw_the_target_platform(smoke_tuning_study) -> None:
    outcome, _, study_dir = smoke_tuning_study
    metadata = json.loads(Path(outcome.model_path + ".json").read_text())
    pretrain = metadata["pretrain"]
    assert TARGET_PLATFORM not in metadata["platforms"]
    assert TARGET_PLATFORM not in pretrain["records_per_platform"]
    assert pretrain["settings"]["target_platform"] == TARGET_PLATFORM
    assert pretrain["settings"]["train_platforms"] == ["h200", "intel-xeon-emeraldrapids-16c"]
    assert pretrain["records"] == metadata["train_records"] == SMOKE["max_pretrain_records"]
    assert Path(outcome.model_path).parent == study_dir / tuning_study.PRETRAINED_DIR
    arm = json.loads((tuning_study.arm_dir(study_dir, NETWORK, tuning_study.make_arms((0.5,), False)[1])
                      / tuning_study.ARM_FILE).read_text())
    assert arm["pretrained"]["file"] == Path(outcome.model_path).name
    assert TARGET_PLATFORM not in arm["pretrained"]["platforms"]


@pytest.mark.slow
def test_rerun_skips_completed_arms_and_refuses_other_settings(smoke_tuning_study) -> None:
    _, _, study_dir = smoke_tuning_study
    files = sorted(study_dir.glob(f"{NETWORK}/*/*.json")) + sorted(study_dir.glob("pretrained/*"))
    before = {p: p.read_bytes() for p in files}
    logs: list[str] = []
    again = run_smoke_tuning(study_dir, logs)
    assert (again.tuning["status"] == "skipped").all() and len(again.tuning) == 2
    assert (again.timing["status"] == "skipped").all() and len(again.timing) == 2
    assert any("reusing" in line for line in logs), "the pretrained model is reused"
    assert {p: p.read_bytes() for p in files} == before, "databases, results and the model untouched"
    with pytest.raises(ValueError, match="other settings .*budget"):
        run_smoke_tuning(study_dir, [], budgets=18)


def test_an_interrupted_arm_is_pending_and_tuned_again(tmp_path: Path) -> None:
    from tenset_study import tuning
    from tenset_study.programs import database

    plan = {"network": NETWORK, "arm": BASELINE, "budget": 12}
    (tmp_path / tuning_study.ARM_FILE).write_text(json.dumps(plan))
    (tmp_path / database.RECORD_FILE).write_text("")
    assert tuning_study.arm_status(tmp_path, plan) == "pending", "a database without a result: interrupted"
    (tmp_path / tuning.RESULT_FILE).write_text("{}")
    assert tuning_study.arm_status(tmp_path, plan) == "done"
    assert tuning_study.arm_status(tmp_path, {**plan, "budget": 24}) == "conflict"


# --- arms, budgets, pretraining checks (no tuning) ---------------------------------------------------------


def test_search_variants_add_pretrained_arms_that_search_their_own_way(tmp_path: Path, capsys) -> None:
    from tenset_study.cli import main
    from tenset_study.tuning.study.run import _arm_plan

    arms = tuning_study.make_arms((1.0,), random_arms=False, search_variants=("p256", "i2", "r64"))
    assert [a.name for a in arms] == [BASELINE, "ours@100%", "ours-p256@100%", "ours-i2@100%", "ours-r64@100%"]
    assert [a.slug for a in arms] == [BASELINE, "ours-100", "ours-p256-100", "ours-i2-100", "ours-r64-100"]
    assert [a.search for a in arms] == [None, None, "p256", "i2", "r64"]
    shared = {"target": {"kind": "llvm"}, "target_platform": "p", "num_trials_per_iter": 16,
              "search": {"eps_greedy": 0.1},
              "search_variants": {"p256": {"population_size": 256}, "i2": {},
                                  "r64": {"num_trials_per_iter": 64, "genetic_num_iters": 2}},
              "runner": {}, "layout": "NCHW", "pretrained": {"file": "m"}, "online": {}}
    plans = {a.name: _arm_plan("bert_tiny-b1-128", a, 64, 0, shared) for a in arms}
    assert plans["ours-p256@100%"]["search"] == {"population_size": 256}
    assert plans["ours@100%"]["search"] == plans[BASELINE]["search"] == {"eps_greedy": 0.1}, "the study's search"
    assert plans["ours-r64@100%"]["search"] == {"genetic_num_iters": 2}, "trials per round are no search setting"
    assert plans["ours-r64@100%"]["num_trials_per_iter"] == 64
    assert plans["ours-p256@100%"]["num_trials_per_iter"] == plans["ours@100%"]["num_trials_per_iter"] == 16
    assert shared["search_variants"]["r64"] == {"num_trials_per_iter": 64, "genetic_num_iters": 2}, "left as it was"
    assert "search_variants" not in plans["ours@100%"], "plans of arms without a variant are as before"
    with pytest.raises(ValueError, match="search variant names"):
        tuning_study.make_arms((1.0,), search_variants=("Bad Name",))
    with pytest.raises(ValueError, match="p: population is not a setting of EvolutionarySearch"):
        tuning_study.check_search({"population": 256}, "p")
    for flag, message in (("{bad", "not JSON"), ('{"p": 3}', "object of objects"),
                          ('{"p": {"population": 256}}', "not a setting of EvolutionarySearch"),
                          ('{"p": {"num_trials_per_iter": 0}}', "num_trials_per_iter must be a positive integer"),
                          ('{"P 1": {}}', "search variant names")):
        assert main(["transfer-tune", "--dataset", str(MINI_DATA), "--study-dir", str(tmp_path / "s"),
                     "--search-variants", flag]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists(), "nothing tuned, nothing written"


def test_arms_and_budgets() -> None:
    arms = tuning_study.make_arms((0.25, 0.40))
    assert [a.name for a in arms] == [BASELINE, "ours@25%", "ours@40%", "random@25%", "random@40%"]
    assert [a.slug for a in arms] == [BASELINE, "ours-25", "ours-40", "random-25", "random-40"]
    assert [a.name for a in tuning_study.make_arms((0.25,), random_arms=False)] == [BASELINE, "ours@25%"]
    with pytest.raises(ValueError, match="fractions"):
        tuning_study.make_arms((0.0,))
    assert tuning_study.arm_trials(896, 0.25) == 224 and tuning_study.arm_trials(896, 0.40) == 358
    full = tuning_study.transfer_settings("full")
    assert tuning_study.network_budget("resnet_50-b1-224", full) == full["budgets"]["resnet_50-b1-224"]
    assert tuning_study.network_budget("resnet_18-b1-224", full, n_tasks=20) == 20 * full["trials_per_task"]
    with pytest.raises(ValueError, match="n_tasks"):
        tuning_study.network_budget("resnet_18-b1-224", full)
    for name in ("smoke", "book", "full"):
        settings = tuning_study.transfer_settings(name)
        assert set(settings["networks"]) <= set(settings["budgets"])
    from tenset_study.book.explore import ParameterError

    with pytest.raises(ParameterError, match="unknown preset"):
        tuning_study.transfer_settings("huge")


def test_pretraining_refuses_to_see_the_target(tmp_path: Path) -> None:
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    with pytest.raises(ValueError, match="no measurements"):
        tuning_study.pretrain_for_target(MINI_DATA, "no-such-cpu", preset="smoke", study_dir=tmp_path)
    with pytest.raises(ValueError, match="must not include the target"):
        tuning_study.pretrain_for_target(MINI_DATA, TARGET_PLATFORM, preset="smoke", study_dir=tmp_path,
                                         train_platforms=["h200", TARGET_PLATFORM])
    assert not (tmp_path / tuning_study.PRETRAINED_DIR).exists()


def _mini_candidates(n: int):
    """A TuneContext for data/mini's first CPU task on this CPU and MetaSchedule candidates replayed from ``n``
    of its stored programs, with the x86 tensor intrinsics only (as the package's tuning registers them)."""
    from tenset_study.data.dataset import Dataset
    from tenset_study.programs import targets, tvm_setup

    tvm_setup.register_tensor_intrinsics(tvm_setup.INTRINSIC_FAMILIES["cpu"])
    ds = Dataset.open(MINI_DATA)
    task = ds.to_pandas("tasks").query("kind == 'cpu'")["task"].iloc[0]
    programs = ds.to_pandas("programs", columns=["program", "task"])
    return replayed_candidates(ds, task, programs[programs["task"] == task]["program"].head(n), targets.cpu_target(2))


def test_a_model_pretrained_on_tenset_records_scores_metaschedule_candidates(tenset_dataset, tmp_path: Path) -> None:
    """Chapter 05's tuning on a dataset imported from TenSet: Ansor records have no per-store features, so
    ``ours`` pretrained on them (for this machine, a platform the dataset lacks) reads schedule tokens, and
    scores MetaSchedule's candidates for this CPU."""
    if tenset_dataset is None:
        pytest.skip("../shared/tenset-format is not present")
    from tenset_study.data.dataset import Dataset
    from tenset_study.tuning.cost_model import ProjectCostModel
    from tenset_study.tuning.study.pretrain import dataset_platforms

    platforms = dataset_platforms(Dataset.open(tenset_dataset))
    path = tuning_study.pretrain_for_target(tenset_dataset, "this-machine", preset="smoke", study_dir=tmp_path,
                                            train_platforms=platforms, progress=False, log=lambda *_: None)
    cost_model = ProjectCostModel(str(path))
    assert cost_model.model.dims_["store_width"] == 0 and cost_model.model.dims_["token_width"] > 0
    assert cost_model.model.metadata["pretrain"]["settings"]["train_platforms"] == platforms

    context, candidates = _mini_candidates(8)
    scores = cost_model.predict(context, candidates)
    assert scores.shape == (8,)
    assert np.isfinite(scores).all() and ((scores > 0) & (scores < 1)).all()


def test_a_study_not_tuned_yet_tabulates_nothing(tmp_path: Path) -> None:
    """``tune=False`` (chapter 05's ``tune_live = False``) on a fresh folder: empty tables with their columns."""
    from tenset_study.tuning.phases import PHASE_NAMES, study_phase_table

    outcome = tuning_study.run_study(None, None, [NETWORK], "smoke", tmp_path, tune=False, time_networks=False,
                                     progress=False)
    assert outcome.results.empty and list(outcome.results.columns) == RESULT_COLUMNS
    assert outcome.comparison.empty and outcome.budgets == {} and outcome.timing is None
    assert tuning_study.collect_curves(tmp_path).empty
    table = study_phase_table(tmp_path)
    assert table.empty and {"network", "arm", "seed", *(f"{p}_share" for p in PHASE_NAMES)} <= set(table.columns)


# --- the comparison table ----------------------------------------------------------------------------------


def _row(network: str, arm: str, mean: float, half: float, tuning_s: float, trials: int, seed: int = 0) -> dict:
    return {"target_platform": "cpu-x", "network": network, "arm": arm, "budget_fraction": 1.0, "seed": seed,
            "e2e_mean_s": mean, "e2e_low_s": mean - half, "e2e_high_s": mean + half, "estimated_latency_s": mean,
            "tuning_s": tuning_s, "trials": trials, "scoring_share": 0.1}


def test_comparison_verdicts_on_hand_made_rows() -> None:
    rows = [
        _row("net-a", BASELINE, 10.0, 0.5, 1000.0, 800),
        _row("net-a", "ours@25%", 10.2, 0.4, 250.0, 200),   # overlaps the baseline: on par
        _row("net-a", "ours@40%", 9.0, 0.2, 400.0, 320),    # entirely faster
        _row("net-a", "random@25%", 12.0, 0.5, 240.0, 200),  # entirely slower
        _row("net-b", "ours@25%", 5.0, 0.1, 100.0, 50),     # no baseline: not compared
        _row("net-c", BASELINE, np.nan, np.nan, 500.0, 400),  # baseline not timed yet
        _row("net-c", "ours@25%", 5.0, 0.1, 100.0, 100),
    ]
    table = tuning_study.compare_to_baseline(pd.DataFrame(rows)).set_index(["network", "arm"])
    assert set(table.index) == {("net-a", "ours@25%"), ("net-a", "ours@40%"), ("net-a", "random@25%"),
                                ("net-c", "ours@25%")}
    assert table.loc[("net-a", "ours@25%"), "verdict"] == "on par"
    assert table.loc[("net-a", "ours@40%"), "verdict"] == "faster"
    assert table.loc[("net-a", "random@25%"), "verdict"] == "slower"
    assert table.loc[("net-c", "ours@25%"), "verdict"] == "n/a"
    ours = table.loc[("net-a", "ours@25%")]
    assert ours["latency_ratio"] == pytest.approx(1.02)
    assert ours["ratio_low"] == pytest.approx(9.8 / 10.5) and ours["ratio_high"] == pytest.approx(10.6 / 9.5)
    assert ours["tuning_time_ratio"] == pytest.approx(0.25) and ours["trials_ratio"] == pytest.approx(0.25)
    # touching intervals still overlap; a hair above does not
    assert tuning_study.verdict(10.5, 11.0, 9.5, 10.5) == "on par"
    assert tuning_study.verdict(10.5 + 1e-9, 11.0, 9.5, 10.5) == "slower"


def test_rounds_are_summarized_with_a_t_interval_over_round_means() -> None:
    rounds = [{"mean_s": m, "std_s": 0.0, "median_s": m, "repeats_s": [m, m], "timing_wall_s": 1.0,
               "settings": {"repeat": 2}, "device": "cpu(0)", "inputs": []} for m in (1.0, 2.0, 3.0)]
    out = tuning_study.summarize_rounds(rounds)
    half = 4.302652729911275 / np.sqrt(3)  # t(0.975, 2 dof) x sd 1 / sqrt(3)
    assert out["mean_s"] == pytest.approx(2.0) and out["std_s"] == pytest.approx(1.0)
    assert out["low_s"] == pytest.approx(2.0 - half) and out["high_s"] == pytest.approx(2.0 + half)
    assert len(out["rounds"]) == 3 and out["repeats_s"] == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    assert "3 rounds" in out["interval"]


@pytest.mark.slow
def test_rounds_time_every_arm_in_fresh_processes(smoke_tuning_study, tmp_path: Path) -> None:
    _, _, study_dir = smoke_tuning_study
    study = shutil.copytree(study_dir, tmp_path / "study")
    logs: list[str] = []
    timed = tuning_study.time_tuned_networks(study, repeat=3, min_repeat_ms=5, rounds=2, overwrite=True,
                                             log=logs.append)
    assert (timed["status"] == "timed").all() and len(timed) == 2
    for work_dir in timed["work_dir"]:
        e2e = json.loads((Path(work_dir) / tuning_study.END_TO_END_FILE).read_text())
        assert e2e["timing_settings"]["rounds"] == 2 and len(e2e["rounds"]) == 2
        assert len(e2e["repeats_s"]) == 6 and all(len(r["repeats_s"]) == 3 for r in e2e["rounds"])
        means = [r["mean_s"] for r in e2e["rounds"]]
        assert e2e["mean_s"] == pytest.approx(np.mean(means)) and e2e["low_s"] <= e2e["mean_s"] <= e2e["high_s"]
        assert e2e["compile"]["untuned_functions"] == []
    assert sum("fresh processes" in line for line in logs) == 2
    rounds = tuning_study.timing_rounds(study)
    assert len(rounds) == 4 and sorted(rounds["round"].unique()) == [0, 1]
    assert rounds.groupby("arm")["of_mean"].mean().tolist() == pytest.approx([1.0, 1.0])
    # the same settings again: nothing to do; one round is the old, in-process timing (no 'rounds' key)
    again = tuning_study.time_tuned_networks(study, repeat=3, min_repeat_ms=5, rounds=2)
    assert (again["status"] == "skipped").all()
    single = tuning_study.time_tuned_networks(study, arms=[BASELINE], repeat=3, min_repeat_ms=5, rounds=1)
    assert (single["status"] == "timed").all() and len(single) == 1
    e2e = json.loads((Path(single["work_dir"].iloc[0]) / tuning_study.END_TO_END_FILE).read_text())
    assert "rounds" not in e2e["timing_settings"] and "rounds" not in e2e
    with pytest.raises(ValueError, match="rounds"):
        tuning_study.time_tuned_networks(study, rounds=0)


def test_seeds_are_folded_and_widen_the_interval() -> None:
    rows = [_row("net", BASELINE, 10.0, 0.1, 1000.0, 800, seed=s) for s in (0, 1)]
    rows += [_row("net", "ours@25%", mean, 0.1, 250.0, 200, seed=s) for s, mean in ((0, 10.2), (1, 10.6))]
    folded = tuning_study.fold_seeds(pd.DataFrame(rows)).set_index("arm")
    assert folded.loc["ours@25%", "seeds"] == 2 and folded.loc["ours@25%", "e2e_mean_s"] == pytest.approx(10.4)
    std = np.std([10.2, 10.6], ddof=1)
    assert folded.loc["ours@25%", "seed_std"] == pytest.approx(std) and folded.loc[BASELINE, "seed_std"] == 0
    # without the seed spread [10.3, 10.5] lies above [9.9, 10.1]; with it the intervals overlap
    row = tuning_study.compare_to_baseline(pd.DataFrame(rows)).iloc[0]
    assert row["e2e_low_s"] == pytest.approx(10.3 - std) and row["verdict"] == "on par"


def test_merge_results_replaces_rows_of_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "results" / tuning_study.RESULTS_FILE
    gpu = pd.DataFrame([{"target_platform": "gpu", "network": "n", "arm": BASELINE, "seed": 0, "e2e_mean_s": 1.0}])
    cpu = pd.DataFrame([{"target_platform": "cpu", "network": "n", "arm": BASELINE, "seed": 0, "e2e_mean_s": 2.0}])
    tuning_study.merge_results(gpu, path)
    tuning_study.merge_results(cpu, path)
    tuning_study.merge_results(cpu.assign(e2e_mean_s=3.0), path)
    table = pd.read_csv(path).set_index("target_platform")
    assert len(table) == 2 and table.loc["gpu", "e2e_mean_s"] == 1.0 and table.loc["cpu", "e2e_mean_s"] == 3.0
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary file left behind"


# --- the command line --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_time_only_tabulates_the_tuned_study(smoke_tuning_study, tmp_path: Path, capsys) -> None:
    from tenset_study.cli import main

    _, _, study_dir = smoke_tuning_study
    code = main(["transfer-tune", "--time-only", "--preset", "smoke", "--study-dir", str(study_dir),
                 "--results-dir", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "ours@50%" in out and "verdict" in out
    assert len(pd.read_csv(tmp_path / tuning_study.RESULTS_FILE)) == 2


def test_cli_errors_exit_2(tmp_path: Path, capsys) -> None:
    from tenset_study.cli import main

    base = ["transfer-tune", "--study-dir", str(tmp_path / "s"), "--results-dir", str(tmp_path / "r")]
    assert main([*base, "--preset", "smoke"]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert main([*base, "--dataset", str(MINI_DATA), "--preset", "huge"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main([*base, "--dataset", str(MINI_DATA), "--preset", "smoke", "--networks", "alexnet-b1-224"]) == 2
    assert "unknown family" in capsys.readouterr().err
    if (MINI_DATA / "dataset.json").exists():
        assert main([*base, "--dataset", str(MINI_DATA), "--preset", "smoke", "--target-platform", "nope"]) == 2
        assert "platform 'nope' not in" in capsys.readouterr().err
        assert main([*base, "--dataset", str(MINI_DATA), "--preset", "smoke", "--target-platform", "h200"]) == 2
        assert "gpu platform" in capsys.readouterr().err
    assert not (tmp_path / "s").exists() and not (tmp_path / "r").exists(), "nothing written"


def test_reproduce_guide_uses_only_transfer_tune_options() -> None:
    import re

    from tenset_study.cli import build_parser

    guide = (Path(__file__).resolve().parents[1] / "book" / "reproduce.md").read_text()
    section = guide.split("## Transfer tuning", 1)[1].split("\n## ", 1)[0]
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    options = {opt for action in subparsers.choices["transfer-tune"]._actions for opt in action.option_strings}
    used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", section))
    assert {"--dataset", "--target-platform", "--preset", "--study-dir", "--time-only"} <= used
    assert used <= options, f"options in the guide that transfer-tune does not have: {used - options}"


def test_a_failing_arm_is_reported_and_the_others_go_on(tmp_path: Path) -> None:
    from tenset_study.programs import targets

    arms = [tuning_study.Arm("random@50%", "random", 0.5), tuning_study.Arm("random@100%", "random", 1.0)]
    logs: list[str] = []
    # a layout tune_network refuses: every arm raises inside tuning, is logged, and the loop goes on
    table = tuning_study.run_transfer_tuning([NETWORK], targets.cpu_target(2), 12, tmp_path, arms=arms,
                                             layout="NCWH", progress=False, log=logs.append)
    assert list(table["status"]) == ["failed", "failed"] and list(table["arm"]) == ["random@50%", "random@100%"]
    assert sum("FAILED" in line and "layout must be one of" in line for line in logs) == 2
    for arm in arms:
        work_dir = tuning_study.arm_dir(tmp_path, NETWORK, arm)
        plan = json.loads((work_dir / tuning_study.ARM_FILE).read_text())
        assert tuning_study.arm_status(work_dir, plan) == "pending", "tuned again by the next run"


def test_time_limit_defers_the_arms_not_started(tmp_path: Path, capsys) -> None:
    from tenset_study.programs import database
    from tenset_study.cli import main

    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    study_dir = tmp_path / "study"
    code = main(["transfer-tune", "--dataset", str(MINI_DATA), "--target-platform", TARGET_PLATFORM,
                 "--preset", "smoke", "--study-dir", str(study_dir), "--results-dir", str(tmp_path / "r"),
                 "--time-limit", "1e-6", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"stopped at the time limit (re-run to continue): {NETWORK} {BASELINE}, {NETWORK} ours@50% left" in out
    assert list(study_dir.glob("pretrained/*.model")), "pretraining is not cut short"
    assert not list(study_dir.glob(f"{NETWORK}/*/{database.RECORD_FILE}")), "no arm started"
    with pytest.raises(ValueError, match="time_limit_s must be > 0"):
        run_smoke_tuning(study_dir, [], time_limit_s=0)
