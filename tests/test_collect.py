"""The collector end to end: real task extraction, real builds and measurements on this CPU, resume after a
kill, replay on a second platform through a real TVM RPC tracker and server on loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import COLLECT_NETWORK, COLLECT_QUICK, MINI_DATA
from tenset_study.collect import CollectConfig, collect
from tenset_study.data.dataset import Dataset
from tenset_study.collect.measure import MeasureResult, MeasureSettings

NETWORK = COLLECT_NETWORK
QUICK = MeasureSettings(**COLLECT_QUICK)


def quick_config(dataset: Path, **overrides) -> CollectConfig:
    args = dict(dataset=dataset, networks=[NETWORK], programs_per_task=3, max_tasks=3, batch_size=4,
                measure=QUICK, progress=False)
    args.update(overrides)
    return CollectConfig(**args)


@pytest.fixture(scope="module")
def collected(bert_tiny_collection) -> tuple[Path, object]:
    """The session's bert_tiny collection (conftest; read it, or copy it before changing it)."""
    return bert_tiny_collection


# --- configuration errors (fast) ------------------------------------------------------------------------


def test_config_needs_networks_or_replay(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--networks"):
        CollectConfig(dataset=tmp_path)


def test_config_rejects_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="programs_per_task"):
        CollectConfig(dataset=tmp_path, networks=[NETWORK], programs_per_task=0)
    with pytest.raises(ValueError, match="guided_share"):
        CollectConfig(dataset=tmp_path, networks=[NETWORK], guided_share=1.5)
    with pytest.raises(ValueError, match="--platform"):
        CollectConfig(dataset=tmp_path, networks=[NETWORK],
                      measure=MeasureSettings(rpc_tracker="127.0.0.1:9190", rpc_key="x"))
    with pytest.raises(ValueError, match="RPC needs both"):
        MeasureSettings(rpc_tracker="127.0.0.1:9190")


# --- real collection (slow) -----------------------------------------------------------------------------


@pytest.mark.slow
def test_collect_measures_real_programs(collected) -> None:
    root, report = collected
    ds = Dataset.open(root)
    assert ds.validate() == []
    platforms = ds.to_pandas("platforms")
    assert len(platforms) == 1
    platform = platforms.iloc[0]
    assert platform["kind"] == "cpu"
    assert json.loads(platform["target"])["kind"] == "llvm"
    assert json.loads(platform["readings"])["lscpu"], "lscpu readings are recorded"
    assert json.loads(platform["software"])["apache-tvm"] == "0.27.0.post1"
    assert json.loads(platform["runner"])["repeat"] == QUICK.repeat

    measurements = ds.to_pandas("measurements")
    programs = ds.to_pandas("programs")
    assert report.measured == len(measurements) == len(programs) > 0
    assert set(measurements["program"]) == set(programs["program"])
    assert (programs["source"] == "random").all() and (programs["encoding"] == "metaschedule").all()
    assert programs["task"].nunique() == 3
    ok = measurements[measurements["error"].isna()]
    assert len(ok) > 0
    assert (ok["latency_s"] > 0).all()
    assert all(len(r) == QUICK.repeat for r in ok["repeats_s"])
    # the network and its tasks with weights are recorded
    links = ds.to_pandas("network_tasks")
    assert set(links["network"]) == {NETWORK} and (links["weight"] >= 1).all()


@pytest.mark.slow
def test_stored_traces_replay_on_stored_workloads(collected) -> None:
    from tenset_study.programs.traces import schedule_from_trace
    from tenset_study.programs.tvm_setup import prepare_tvm
    from tenset_study.programs.workload import load_workload

    prepare_tvm("cpu")
    ds = Dataset.open(collected[0])
    tasks = ds.to_pandas("tasks").set_index("task")
    for row in ds.to_pandas("programs").itertuples():
        sch = schedule_from_trace(load_workload(tasks.loc[row.task, "workload"]), row.trace)
        assert sch.mod is not None


@pytest.mark.slow
def test_rerun_resumes_without_measuring_again(collected, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(collected[0], root)
    before = Dataset.open(root).count("measurements")
    report = collect(quick_config(root))
    assert report.measured == 0
    assert report.skipped_already_measured == before
    # asking for more programs per task measures only the new ones
    report = collect(quick_config(root, programs_per_task=4))
    ds = Dataset.open(root)
    assert ds.count("measurements") == before + report.measured
    assert ds.validate() == []


@pytest.mark.slow
def test_sample_only_stores_the_programs_a_collection_measures(collected, tmp_path: Path) -> None:
    root = tmp_path / "sampled"
    report = collect(quick_config(root, sample_only=True, sample_workers=2))
    ds = Dataset.open(root)
    assert ds.count("measurements") == 0 and ds.count("platforms") == 0, "sampling measures nothing"
    sampled = set(ds.to_pandas("programs")["program"])
    assert report.sampled == len(sampled) > 0
    assert not report.stopped_at_time_limit and "time limit" not in report.summary()
    # the same seeds as the measuring collection: --sample-only then --replay gives the same program set
    assert sampled == set(Dataset.open(collected[0]).to_pandas("programs")["program"])
    # a re-run finds every task sampled and adds nothing
    assert collect(quick_config(root, sample_only=True)).sampled == 0


def test_sampling_deadline_stops_and_ends_workers(tmp_path: Path) -> None:
    import time

    from tenset_study.collect.sampling import SamplingJob, run_sampling_jobs

    job = SamplingJob("t", "{}", {"kind": "llvm", "num-cores": 1}, 1, 0, 1)
    start = time.monotonic()
    assert list(run_sampling_jobs([job, job], workers=2, deadline=time.monotonic() - 1)) == []
    assert list(run_sampling_jobs([job], workers=1, deadline=time.monotonic() - 1)) == []
    assert time.monotonic() - start < 60


def test_time_limit_starts_no_batch_that_would_end_past_it(tmp_path: Path) -> None:
    import time

    from tenset_study.collect.collector import _no_time_for_batch

    config = CollectConfig(dataset=tmp_path, replay=True, time_limit_s=100)
    now = time.perf_counter()
    assert not _no_time_for_batch(config, now, batch_s=0.0)
    assert not _no_time_for_batch(config, now - 50, batch_s=40.0)
    assert _no_time_for_batch(config, now - 50, batch_s=60.0), "50 s used + a 60 s batch > 100 s"
    assert _no_time_for_batch(config, now - 101, batch_s=0.0)
    assert not _no_time_for_batch(CollectConfig(dataset=tmp_path, replay=True), now - 1e6, batch_s=1e6)


def test_a_batch_taken_ahead_counts_twice_against_the_time_limit(tmp_path: Path) -> None:
    """With building ahead, a batch taken now is measured after the one in flight: it must fit twice."""
    import time

    from tenset_study.collect.collector import _batches
    from tenset_study.collect.report import CollectReport

    config = CollectConfig(dataset=tmp_path, replay=True, time_limit_s=100, batch_size=2)
    start = time.perf_counter() - 50  # 50 s used
    for ahead, expected in ((False, [[0, 1], [2]]), (True, [])):
        report = CollectReport()
        assert list(_batches(range(3), config, start, [40.0], report, ahead=ahead)) == expected
        assert report.stopped_at_time_limit == (not expected)


def test_config_rejects_sample_only_with_replay(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--sample-only"):
        CollectConfig(dataset=tmp_path, replay=True, sample_only=True)
    with pytest.raises(ValueError, match="time_limit_s"):
        CollectConfig(dataset=tmp_path, networks=[NETWORK], time_limit_s=0)


def test_collect_flags_make_a_plain_config(tmp_path: Path) -> None:
    """``tenset-study collect`` turns its flags into a CollectConfig (cli.collect); the collect layer reads no flags."""
    from tenset_study.cli import build_parser
    from tenset_study.cli.collect import collect_config
    from tenset_study.programs.targets import gpu_target

    parser = build_parser()
    config = collect_config(parser.parse_args(["collect", "--dataset", str(tmp_path), "--networks", NETWORK, "x"]))
    assert isinstance(config, CollectConfig) and config.dataset == tmp_path and config.networks == [NETWORK, "x"]
    assert (config.target, config.platform, config.programs_per_task, config.batch_size, config.progress) == (
        None, None, 100, 256, True)
    assert config.measure == MeasureSettings(export_format="so"), "build workers link shared libraries locally"
    assert config.pipeline
    config = collect_config(parser.parse_args(
        ["collect", "--dataset", str(tmp_path), "--replay", "--gpu", "sm_90", "--time-limit", "5", "--quiet",
         "--repeat", "2", "--rpc-tracker", "h:9190", "--rpc-key", "k", "--platform", "p", "--no-pipeline",
         "--build-cores", "0", "--measure-cores", "0"]))
    assert config.replay and config.networks == [] and config.target == gpu_target("sm_90")
    assert (config.time_limit_s, config.progress, config.platform) == (5.0, False, "p")
    assert (config.measure.repeat, config.measure.export_format, config.measure.rpc_key) == (2, "tar", "k"), \
        "through RPC the server links the program"
    assert not config.pipeline and config.measure.build_cores == config.measure.measure_cores == "0"
    target = '{"kind": "llvm", "num-cores": 1}'
    config = collect_config(parser.parse_args(["collect", "--dataset", str(tmp_path), "--replay", "--target", target]))
    assert config.target == json.loads(target)
    root = Path(__file__).resolve().parents[1] / "src" / "tenset_study" / "collect"
    assert not [p.name for p in root.glob("*.py") if "argparse" in p.read_text()], "flags belong to tenset_study.cli"


@pytest.mark.slow
def test_kill_and_resume(tmp_path: Path) -> None:
    """A collection killed (SIGKILL, nothing flushed) between batches resumes where it stopped: a replay of the
    first 3 programs of 3 tasks of data/mini (no extraction or sampling: the kill is what is tested)."""
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    root = tmp_path / "ds"
    shutil.copytree(MINI_DATA, root, ignore=shutil.ignore_patterns(".cache"))
    before = Dataset.open(root).count("measurements")
    cmd = [sys.executable, "-m", "tenset_study.cli", "collect", "--dataset", str(root), "--replay",
           "--platform", "killed", "--replay-subset", "3", "--max-tasks", "3", "--batch-size", "1", "--repeat", "2",
           "--min-repeat-ms", "1", "--builder-workers", "2", "--no-probe-hardware", "--remeasure-share", "0",
           "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    parts = root / "measurements"
    had = len(list(parts.glob("part-*.parquet")))
    deadline = time.time() + 300
    while time.time() < deadline and len(list(parts.glob("part-*.parquet"))) < had + 2:
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the collection ended before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    ds = Dataset.open(root)
    partial = ds.count("measurements") - before
    assert partial >= 2
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{partial} already measured" in done.stdout
    ds = Dataset.open(root)
    assert ds.validate() == []
    resumed = ds.count("measurements") - before - partial
    killed = ds.to_pandas("measurements").query("platform == 'killed'")
    assert len(killed) == partial + resumed and killed["program"].is_unique, "no program measured twice"
    assert resumed > 0 and f": {resumed} programs measured" in done.stdout, "the resumed run measured only the rest"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_key(port: int, key: str, timeout: float = 60.0) -> None:
    from tvm import rpc

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            summary = rpc.connect_tracker("127.0.0.1", port).summary()
            if any(key in str(q) for q in summary.get("queue_info", {})):
                return
        except Exception:  # noqa: BLE001 - the tracker is still starting
            pass
        time.sleep(0.5)
    raise TimeoutError(f"RPC server with key {key!r} did not register at 127.0.0.1:{port}")


@pytest.mark.slow
def test_integer_inputs_are_zeros_on_an_rpc_server_too() -> None:
    """``integer_inputs="zeros"`` reaches a runner behind an RPC tracker on loopback (replays through RPC servers,
    their sessions and provenance are tested with scripts/rpc_collect.sh in test_rpc_collect.py)."""
    tracker_port, key = _free_port(), "loopback-cpu"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    tracker = subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_tracker", "--host", "127.0.0.1",
                                "--port", str(tracker_port), "--port-end", str(tracker_port + 1)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server, server_port = None, _free_port()
    try:
        server = subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_server", "--tracker",
                                   f"127.0.0.1:{tracker_port}", "--key", key, "--host", "127.0.0.1",
                                   "--port", str(server_port), "--port-end", str(server_port + 1)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        _wait_for_key(tracker_port, key)
        zeros = MeasureSettings(number=1, repeat=2, min_repeat_ms=0, builder_workers=1, integer_inputs="zeros",
                                rpc_tracker=f"127.0.0.1:{tracker_port}", rpc_key=key)
        (result,) = _measure_take(zeros)
        assert result.error is None and len(result.repeats_s) == 2, "indices in bounds on the RPC server too"
    finally:
        for proc in (server, tracker):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)


@pytest.mark.slow
def test_platform_id_cannot_change_target(collected, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(collected[0], root)
    platform = Dataset.open(root).to_pandas("platforms").iloc[0]
    other = {**json.loads(platform["target"]), "num-cores": 1}
    with pytest.raises(ValueError, match="pass --platform"):
        collect(quick_config(root, platform=platform["platform"], target=other))


@pytest.mark.slow
def test_guided_share_adds_evolutionary_programs(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    config = quick_config(root, programs_per_task=4, guided_share=0.5, max_tasks=1)
    report = collect(config)
    ds = Dataset.open(root)
    programs = ds.to_pandas("programs")
    sources = programs["source"].value_counts().to_dict()
    assert sources.get("evolutionary", 0) >= 1, sources
    assert sources.get("random", 0) >= 1, sources
    assert len(programs) <= config.programs_per_task
    assert report.measured == ds.count("measurements") == len(programs)
    assert ds.validate() == []
    # resuming does not search again
    again = collect(config)
    assert again.measured == 0


def _measure_take(*settings: MeasureSettings) -> list:
    """Measure an embedding look-up (BERT's ``take``: int32 indices into a 30,522-row table) as it is, built once
    and timed with each of ``settings`` (their runners; the first one's export format)."""
    import tvm
    from tvm import te
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.builder import BuilderInput
    from tvm.s_tir.meta_schedule.runner import RunnerInput

    from tenset_study.collect.builder import persistent_builder
    from tenset_study.collect.measure import close_runner, make_runner
    from tenset_study.programs import targets, tvm_setup

    tvm_setup.prepare_tvm("cpu")
    table = te.placeholder((30522, 16), "float32", name="table")
    indices = te.placeholder((64,), "int32", name="indices")
    out = te.compute((64, 16), lambda i, j: table[indices[i], j], name="T_take")
    mod = tvm.IRModule({"main": te.create_prim_func([table, indices, out])})
    builder = persistent_builder(settings[0])
    try:
        (built,) = builder.build([BuilderInput(mod, targets.make_target(targets.cpu_target()))])
    finally:
        builder.close()
    assert built.error_msg is None, built.error_msg
    args = ArgInfo.from_prim_func(mod["main"])
    runners = [make_runner(one) for one in settings]
    try:
        outcomes = [runner.run([RunnerInput(built.artifact_path, "cpu", args)])[0].result() for runner in runners]
    finally:
        for runner in runners:
            close_runner(runner)
    return [MeasureResult([float(s) for s in o.run_secs], None) if o.error_msg is None else MeasureResult(None, o.error_msg)
            for o in outcomes]


def test_integer_inputs_are_zeros_when_asked_so_that_indices_stay_in_bounds() -> None:
    quick = {"number": 1, "repeat": 2, "min_repeat_ms": 0, "builder_workers": 1}
    random, zeros = _measure_take(MeasureSettings(**quick), MeasureSettings(**quick, integer_inputs="zeros"))
    assert random.repeats_s is None and "LocalRunner" in random.error, "random indices read out of bounds"
    assert zeros.error is None and len(zeros.repeats_s) == 2
    from tenset_study.tuning.tune import DEFAULT_SETTINGS

    assert DEFAULT_SETTINGS.integer_inputs == "zeros", "tuning must be able to tune every task"
    with pytest.raises(ValueError, match="integer_inputs"):
        MeasureSettings(integer_inputs="ones")


def _move_to_an_earlier_session(root: Path) -> None:
    """Date the dataset's measurements one day back, as if an earlier collection session had taken them."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    for part in (root / "measurements").glob("part-*.parquet"):
        table = pq.read_table(part)
        earlier = [t - dt.timedelta(days=1) for t in table.column("measured_at").to_pylist()]
        column = table.schema.get_field_index("measured_at")
        table = table.set_column(column, table.schema.field(column), pa.array(earlier, table.schema.field(column).type))
        pq.write_table(table, part)


@pytest.mark.slow
def test_a_later_session_measures_the_fixed_sample_again(collected, tmp_path: Path) -> None:
    from tenset_study.evaluation.noise import across_sessions

    root = shutil.copytree(collected[0], tmp_path / "ds")
    same_day = collect(quick_config(root, replay=True, remeasure_share=1.0))
    assert same_day.remeasured == 0 and same_day.measured == 0, "nothing from an earlier session to measure again"
    _move_to_an_earlier_session(root)
    later = collect(quick_config(root, replay=True, remeasure_share=1.0))
    ds = Dataset.open(root)
    again = ds.to_pandas("remeasurements")
    ok = ds.to_pandas("measurements").query("error.isna()")
    assert later.remeasured == len(again) == len(ok) and "measured again" in later.summary()
    assert set(again["program"]) == set(ok["program"]) and again["session"].nunique() == 1
    assert (again["latency_s"] > 0).all() and ds.validate() == []
    assert collect(quick_config(root, replay=True, remeasure_share=1.0)).remeasured == 0, "once per session"
    noise = across_sessions(ds)
    tasks = ok.merge(ds.to_pandas("programs"), on="program").groupby("task").size()
    assert list(noise["platform"]) == [ok["platform"].iloc[0]] and noise["tasks"].iloc[0] == (tasks >= 2).sum() >= 1
    assert 0 <= noise["low"].iloc[0] <= noise["pca"].iloc[0] <= noise["high"].iloc[0] <= 1


def test_the_sample_is_whole_tasks_fixed_by_their_ids() -> None:
    from tenset_study.collect.remeasure import sample_tasks

    sizes = pd.Series({f"task{i}": 100 for i in range(300)})
    chosen = sample_tasks(sizes, 0.01)
    assert len(chosen) == 3 and chosen == sample_tasks(sizes.sample(frac=1, random_state=1), 0.01)
    assert set(sample_tasks(sizes.drop(chosen[1:]), 0.01)) >= {chosen[0]}, "a task keeps its place when others go"
    assert len(sample_tasks(sizes.head(10), 0.01)) == 2, "at least two tasks: a ranking needs pairs"
    assert sample_tasks(sizes, 0.0) == []
    with pytest.raises(ValueError, match="--remeasure-share must be in"):
        CollectConfig(dataset=Path("x"), networks=["n"], remeasure_share=1.5)
