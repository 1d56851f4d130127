"""Whole-network tuning (:mod:`tenset_study.tuning`: tune, curve, compile, timing): real MetaSchedule runs on
the smallest zoo network (``dcgan-b1-16``: 6 tasks), with MetaSchedule's XGBoost cost model (the smoke study's
baseline arm, tuned once per test run) and with our ``ProjectCostModel`` (tiny models trained on data/mini), the
tuning curve, compiling with the database and timing end to end, and the ``tune`` command through a subprocess. A few trials per task, small search populations, short
runner settings: about 1 minute per tuning run on 2 cores."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import small_cpu_inputs
from tenset_study.programs import database, targets

ROOT = Path(__file__).resolve().parents[1]
NETWORK = "dcgan-b1-16"  # the smallest zoo variant: 6 tasks (4 transposed convolutions, a dense, a reshape)
N_TASKS = 6
CPU = {"kind": "llvm", "num-cores": 2}


def _target() -> dict:
    return targets.cpu_target(2)


@pytest.fixture(scope="module")
def tuned_baseline(smoke_tuning_study):
    """dcgan-b1-16 tuned by the session's smoke study (conftest) in its baseline arm: MetaSchedule's XGBoost
    cost model, 12 trials (2 per task), through :func:`tuning.tune_network` like every arm."""
    from tenset_study import tuning

    _, _, study_dir = smoke_tuning_study
    return tuning.TuningResult.load(study_dir / NETWORK / "baseline-xgb-s0")


def _tiny_model(name: str):
    """A tiny fitted model on six CPU tasks of data/mini (as tests/test_tuning_model.py trains them)."""
    from tenset_study import models

    families = ("perstore",) if name == "xgb" else ("stores", "tokens", "context")
    _, sub, inputs = small_cpu_inputs(families, max_len=32)
    params = {"xgb": {"rounds": 10, "threads": 1},
              "ours": {"epochs": 1, "hidden": 16, "heads": 2, "device": "cpu"}}[name]
    model = models.create(name, seed=0, **params).fit(inputs, np.arange(len(sub)))
    model.metadata.setdefault("max_len", 32)
    return model


# --- tuning with MetaSchedule's XGBoost model ------------------------------------------------------------


@pytest.mark.slow
def test_every_task_is_tuned_and_the_database_is_kept(tuned_baseline) -> None:
    from tenset_study import tuning

    result = tuned_baseline
    work_dir = Path(result.work_dir)
    assert (work_dir / database.WORKLOAD_FILE).is_file() and (work_dir / database.RECORD_FILE).is_file()
    assert len(result.tasks) == N_TASKS and result.untuned_tasks == []
    for task in result.tasks:
        assert task["valid_trials"] >= 1 and 0 < task["best_latency_s"] < 1.0, task
    _, records = database.read_database(work_dir)
    assert result.trials_measured == len(records) == sum(t["trials"] for t in result.tasks)
    assert result.trials_measured >= result.trials - 1  # a task whose space is exhausted may give up early
    assert result.valid_trials == int(records["latency_s"].notna().sum())
    assert result.settings["num_trials_per_iter_used"] == 12 // N_TASKS, "lowered so every task gets a round"
    assert result.settings["builder"] == "persistent-pool", "one pool of build workers for the whole run"
    assert result.cost_model == "xgb" and result.top_up_trials_measured == 0
    assert result.tuning_seconds > 0 and result.started_at <= result.finished_at
    assert result.scoring_seconds is not None and result.scoring_seconds > 0, "TimedCostModel counts predict time"
    assert 0 < result.scoring_share < 1 and result.cost_model_timing["predict_calls"] > 0
    assert result.tvm_version.startswith("0.27")
    expected = sum(t["weight"] * t["best_latency_s"] for t in result.tasks)
    assert result.estimated_latency_s == pytest.approx(expected)
    # the result round-trips through its JSON file; MetaSchedule's logs are kept (task scheduler included)
    again = tuning.TuningResult.load(work_dir)
    assert again.as_dict() == json.loads(json.dumps(result.as_dict()))
    logs = work_dir / "logs"
    assert len(list(logs.glob("*.logging.task_[0-9]*.log"))) == N_TASKS
    assert "Initializing Task" in (logs / "tvm.s_tir.meta_schedule.logging.task_scheduler.log").read_text()


@pytest.mark.slow
def test_tuning_curve_is_monotone_and_timed(tuned_baseline, tmp_path: Path) -> None:
    from tenset_study import tuning

    result = tuned_baseline
    curve = tuning.tuning_curve(result.work_dir)
    assert len(curve) == result.trials_measured and list(curve["trial"]) == list(range(1, len(curve) + 1))
    assert (curve["time_source"] == "timeline").all()
    seconds = curve["seconds"].to_numpy()
    assert (np.diff(seconds) >= 0).all() and 0 < seconds[-1] <= result.tuning_seconds
    estimate = curve["estimated_latency_s"].to_numpy()
    complete = ~np.isnan(estimate)
    assert complete[-1] and (curve.loc[complete, "tasks_covered"] == N_TASKS).all()
    assert not complete[: N_TASKS - 1].any(), "no estimate before every task has a measurement"
    assert (np.diff(estimate[complete]) <= 1e-15).all(), "best-so-far estimate never rises"
    assert estimate[-1] == pytest.approx(result.estimated_latency_s)
    for _, rows in curve.groupby("task_name"):
        best = rows["task_best_latency_s"].to_numpy()
        assert (np.diff(best[~np.isnan(best)]) <= 0).all(), "each task's best so far never rises"
    # without the timeline (a database from elsewhere): record times spread evenly over the wall time
    for name in (database.WORKLOAD_FILE, database.RECORD_FILE):
        shutil.copy(Path(result.work_dir) / name, tmp_path / name)
    bare = tuning.tuning_curve(tmp_path, tasks=result.tasks, tuning_seconds=60.0)
    assert (bare["time_source"] == "interpolated").all() and bare["seconds"].iloc[-1] == pytest.approx(60.0)
    np.testing.assert_allclose(bare["estimated_latency_s"], curve["estimated_latency_s"])
    unweighted = tuning.tuning_curve(tmp_path)  # no task list: every workload once, no times
    assert (unweighted["time_source"] == "none").all() and unweighted["tasks_covered"].iloc[-1] == N_TASKS


@pytest.mark.slow
def test_compile_with_database_and_time_end_to_end(tuned_baseline) -> None:
    import torch
    from tvm import relax

    from tenset_study import tuning
    from tenset_study import zoo
    from tenset_study.collect.tasks import fold_batch_norms

    target = json.loads(tuned_baseline.target)
    compiled = tuning.compile_with_database(NETWORK, target, tuned_baseline.work_dir)
    assert compiled.functions >= N_TASKS and compiled.functions_tuned == compiled.functions
    assert compiled.untuned_functions == [] and compiled.inputs == [((1, 100), "float32")]
    timing = tuning.time_network(compiled, target, repeat=5, min_repeat_ms=10)
    assert len(timing["repeats_s"]) == 5 and timing["mean_s"] > 0 and timing["min_s"] <= timing["median_s"]
    assert timing["settings"] == {"repeat": 5, "number": 1, "min_repeat_ms": 10}
    # the tuned kernels are within a small factor of the estimate (sum of weighted best kernels)
    assert 0.2 < timing["mean_s"] / tuned_baseline.estimated_latency_s < 5
    # and compute what torch computes
    import tvm

    model, example = zoo.build_model(NETWORK)
    with torch.no_grad():
        want = fold_batch_norms(model)(example).numpy()
    vm = relax.VirtualMachine(compiled.executable, tvm.cpu())
    got = vm["main"](tvm.runtime.tensor(example.numpy(), tvm.cpu()))
    got = got[0] if not hasattr(got, "numpy") else got
    np.testing.assert_allclose(got.numpy(), want, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="inputs="):
        tuning.time_network(compiled.executable, _target())


def test_refuses_budgets_that_cannot_tune_every_task_and_existing_databases(tmp_path: Path) -> None:
    from tenset_study import tuning

    with pytest.raises(ValueError, match="6 tasks"):
        tuning.tune_network(NETWORK, _target(), tmp_path / "w", N_TASKS - 1, "random", progress=False)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / database.RECORD_FILE).write_text("")
    with pytest.raises(ValueError, match="already holds"):
        tuning.tune_network(NETWORK, _target(), tmp_path / "old", 12, "random", progress=False)
    with pytest.raises(FileNotFoundError, match="saved model"):
        tuning.tune_network(NETWORK, _target(), tmp_path / "w", 12, str(tmp_path / "none.model"), progress=False)
    with pytest.raises(ValueError, match="bad target"):
        tuning.tune_network(NETWORK, {"kind": "no-such-kind"}, tmp_path / "w", 12, "random", progress=False)


# --- the command line --------------------------------------------------------------------------------------


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tenset_study.cli", "tune", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.mark.slow
def test_cli_tunes_compiles_and_times_with_a_saved_model(tmp_path: Path) -> None:
    model_path = _tiny_model("ours").save(tmp_path / "ours.model")
    work_dir = tmp_path / "work"
    done = _cli(NETWORK, "--target", json.dumps(_target()), "--trials", str(N_TASKS), "--work-dir", str(work_dir),
                "--cost-model", str(model_path), "--population", "16", "--repeat", "1", "--min-repeat-ms", "5",
                "--builder-workers", "2", "--time-repeat", "4", "--time-min-repeat-ms", "5", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads((work_dir / "tune_result.json").read_text())
    tuning, e2e = out["tuning"], out["end_to_end"]
    assert tuning["network"] == NETWORK and tuning["cost_model"] == "ours:ours.model"
    assert tuning["untuned_tasks"] == [] and tuning["trials_measured"] >= N_TASKS - 1
    assert tuning["scoring_seconds"] > 0 and tuning["cost_model_timing"]["candidates_scored"] > 0
    assert len(e2e["repeats_s"]) == 4 and e2e["mean_s"] > 0
    assert out["compile"]["untuned_functions"] == []
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith(f"{NETWORK} [ours:ours.model]") and "measured" in line and str(work_dir) in line
    assert (work_dir / "tuning_result.json").is_file() and (work_dir / "database_tuning_record.json").is_file()


def test_cli_errors_exit_2(tmp_path: Path, capsys) -> None:
    from tenset_study.cli import main

    base = ["tune", "--trials", "8", "--work-dir", str(tmp_path / "w")]
    assert main([*base[:1], "alexnet-b1-224", *base[1:]]) == 2
    assert "unknown family 'alexnet'" in capsys.readouterr().err
    assert main([*base[:1], NETWORK, *base[1:], "--target", "{llvm"]) == 2
    assert "target must be JSON" in capsys.readouterr().err
    assert main([*base[:1], NETWORK, *base[1:], "--cost-model", str(tmp_path / "missing.model")]) == 2
    assert "no such model file" in capsys.readouterr().err
    assert main([*base[:1], NETWORK, *base[1:], "--cost-model", "xgb", "--platform", "p"]) == 2
    assert "--platform-dataset" in capsys.readouterr().err
    assert not (tmp_path / "w").exists(), "nothing tuned, nothing written"


def test_phases_group_the_profiler_scopes_and_the_rest_is_other() -> None:
    from tenset_study.tuning.phases import PHASE_NAMES, phase_seconds

    profile = {"Total": 10.0, "SendToBuilder": 4.0, "SendToRunner": 0.5, "JoinRunnerFutures": 2.0,
               "EvoSearch/SampleInitPopulation": 1.0, "EvoSearch/Evolve/Misc": 0.3,
               "EvoSearch/Evolve/Misc/CopyMeasuredWorkloads": 0.2, "EvoSearch/Evolve/PredictNormalizedScore": 1.2,
               "MeasureCallback/UpdateCostModel": 0.5, "InitializeTask": 0.1}
    phases = phase_seconds(profile)
    assert list(phases) == list(PHASE_NAMES)
    assert phases["building"] == 4.0 and phases["measuring"] == 2.5 and phases["scoring"] == 1.2
    assert phases["evolution"] == pytest.approx(0.3), "a nested scope is not counted twice"
    assert phases["other"] == pytest.approx(10.0 - 4.0 - 2.5 - 1.0 - 0.3 - 1.2 - 0.5)
    assert phase_seconds(profile, wall_s=12.0)["other"] == pytest.approx(phases["other"] + 2.0), "wall time given"
    assert all(v != v for v in phase_seconds({}).values()), "no profile: NaN, never zero"
