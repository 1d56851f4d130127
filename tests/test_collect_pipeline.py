"""The pipelined measurer (:mod:`tenset_study.collect.pipeline`) with real builds and measurements on this
CPU: it measures what v1's way measures, keeps going past programs that fail to build, pins its build
workers and its runner to the cores it is given, and builds ahead only where timings allow it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from conftest import COLLECT_QUICK
from tenset_study.collect import CollectConfig, collect
from tenset_study.collect.measure import MeasureSettings, parse_cores
from tenset_study.collect.pipeline import PipelinedMeasurer, Program, overlaps
from tenset_study.data.dataset import Dataset

QUICK = COLLECT_QUICK
TWO_CORES = len(os.sched_getaffinity(0)) >= 2


def test_core_lists_parse_and_bad_ones_name_the_parameter() -> None:
    first = min(os.sched_getaffinity(0))
    assert parse_cores(None) == parse_cores("") == []
    assert parse_cores(f"{first}") == [first]
    with pytest.raises(ValueError, match="build_cores: 'a-b' is not a core list"):
        MeasureSettings(build_cores="a-b")
    with pytest.raises(ValueError, match="measure_cores: '4096' names cores this process cannot use"):
        MeasureSettings(measure_cores="4096")


def test_building_overlaps_measuring_on_a_gpu_or_on_disjoint_cores_only() -> None:
    assert overlaps("gpu", MeasureSettings())
    assert not overlaps("cpu", MeasureSettings()), "a compiler would run on the cores being timed"
    if TWO_CORES:
        a, b = sorted(os.sched_getaffinity(0))[:2]
        assert overlaps("cpu", MeasureSettings(build_cores=f"{a}", measure_cores=f"{b}"))
        assert not overlaps("cpu", MeasureSettings(build_cores=f"{a},{b}", measure_cores=f"{b}"))
        assert not overlaps("cpu", MeasureSettings(build_cores=f"{a}")), "measuring on every core"


@pytest.fixture(scope="module")
def programs(bert_tiny_collection, tmp_path_factory) -> tuple[Path, list]:
    """A copy of the session's small real dataset (conftest: 3 tasks x 3 programs, measured v1's way) and its
    programs as pipeline inputs."""
    import shutil

    root = shutil.copytree(bert_tiny_collection[0], tmp_path_factory.mktemp("pipeline") / "ds")
    from tenset_study.collect.prepare import replay_tasks

    ds = Dataset.open(root)
    config = CollectConfig(dataset=root, replay=True, progress=False)
    mods = {t.task: t.mod for t in replay_tasks(ds, config, "cpu")}
    rows = ds.to_pandas("programs", columns=["program", "task", "trace"])
    return root, [Program(r.task, mods[r.task], r.trace) for r in rows.itertuples()]


@pytest.mark.slow
def test_replay_with_the_pipeline_measures_what_one_batch_at_a_time_measured(programs) -> None:
    root, progs = programs
    n = len(progs)
    v1_way = Dataset.open(root).to_pandas("measurements")
    assert n >= 5 and len(v1_way) == n and v1_way["error"].isna().all(), "v1's way measured every program"
    report = collect(CollectConfig(dataset=root, replay=True, platform="pipelined", batch_size=2,
                                   measure=MeasureSettings(**QUICK), progress=False))
    assert (report.measured, report.failed, report.batches) == (n, 0, (n + 1) // 2), report
    m = Dataset.open(root).to_pandas("measurements")
    pipelined = m[m["platform"] == "pipelined"]
    assert set(pipelined["program"]) == set(v1_way["program"])
    assert (pipelined["latency_s"] > 0).all() and (pipelined["repeats_s"].map(len) == 3).all()


@pytest.mark.slow
def test_a_program_that_fails_to_build_is_an_error_and_the_batch_goes_on(programs) -> None:
    _, progs = programs
    broken = Program(progs[0].task, progs[0].mod, '[["not a trace"]]')
    target = {"kind": "llvm", "num-cores": 1}
    with PipelinedMeasurer(target, MeasureSettings(**QUICK)) as measurer:
        results, timing = measurer.measure([progs[0], broken, progs[1]])
    assert results[1].repeats_s is None and results[1].error.startswith("build: ")
    assert results[0].error is None and results[2].error is None and len(results[0].repeats_s) == 3
    assert (timing.programs, timing.build_errors, timing.run_errors) == (3, 1, 0)


@pytest.mark.slow
@pytest.mark.skipif(not TWO_CORES, reason="needs two cores")
def test_disjoint_cores_pin_builders_and_runner_and_batches_come_back_in_order(programs) -> None:
    _, progs = programs
    build, measure = (str(c) for c in sorted(os.sched_getaffinity(0))[:2])
    settings = MeasureSettings(**(QUICK | {"builder_workers": 1}), build_cores=build, measure_cores=measure)
    target = {"kind": "llvm", "num-cores": 1}
    with PipelinedMeasurer(target, settings) as measurer:
        assert measurer.overlap
        assert measurer.pool.submit(os.sched_getaffinity, 0).result() == {int(build)}
        assert measurer.runner.pool.submit(os.sched_getaffinity, 0).result() == {int(measure)}
        assert measurer.runner.pool.submit(os.getenv, "TVM_NUM_THREADS").result() == "1"
        batches = [progs[0:2], progs[2:3], progs[3:5]]
        seen = list(measurer.measure_batches(batches, lambda p: p))
    assert [batch for batch, _, _ in seen] == batches
    assert [len(results) for _, results, _ in seen] == [2, 1, 2]
    assert all(r.error is None for _, results, _ in seen for r in results)


# --- CPU configurations: one processor as several platforms, measured at once -------------------------------


def test_configurations_parse_and_bad_ones_name_the_parameter() -> None:
    from tenset_study.collect.configurations import CpuConfiguration, check_isas, parse_configurations

    first = min(os.sched_getaffinity(0))
    config = CpuConfiguration.parse(f"avx2@{first}")
    assert (config.threads, config.label) == (1, "1c-avx2")
    assert config.target("sapphirerapids") == {"kind": "llvm", "mcpu": "sapphirerapids", "num-cores": 1,
                                                 "mattr": ["-avx512f"]}
    assert "mattr" not in CpuConfiguration("avx512", f"{first}").target("sapphirerapids")
    assert CpuConfiguration.parse(f"sse4@{first}").target("sapphirerapids")["mattr"] == ["-avx"]
    with pytest.raises(ValueError, match=r"--configurations: 'sse@0' is not ISA@CORES"):
        CpuConfiguration.parse("sse@0")
    with pytest.raises(ValueError, match="--configurations needs --build-cores"):
        parse_configurations([f"avx2@{first}"], None)
    with pytest.raises(ValueError, match=rf"core {first} of avx2@{first} is also in --build-cores"):
        parse_configurations([f"avx2@{first}"], f"{first}")
    if TWO_CORES:
        a, b = sorted(os.sched_getaffinity(0))[:2]
        with pytest.raises(ValueError, match=rf"core {a} of avx512@{a} is also in avx2@{a}"):
            parse_configurations([f"avx2@{a}", f"avx512@{a}"], f"{b}")
    with pytest.raises(ValueError, match="this CPU \\(znver3\\) has no AVX-512"):
        check_isas([CpuConfiguration("avx512", "0")], "znver3", {"avx2", "fma"})
    with pytest.raises(ValueError, match="needs --replay"):
        CollectConfig(dataset=Path("x"), networks=["n"], configurations=[f"avx2@{first}"],
                      measure=MeasureSettings(build_cores=f"{first}"))


class _CountingRunner:
    """A real runner that counts how many runners are timing at once and, side by side, first waits for every
    other configuration's runner to start (one after another, the first would wait in vain)."""

    def __init__(self, runner, state: dict) -> None:
        self.runner, self.state = runner, state
        self.pool = runner.pool  # closed with the measurer

    def run(self, inputs):
        with self.state["lock"]:
            self.state["active"] += 1
            self.state["most"] = max(self.state["most"], self.state["active"])
        try:
            if self.state["meeting"] is not None:
                self.state["meeting"].wait()
            return self.runner.run(inputs)
        finally:
            with self.state["lock"]:
                self.state["active"] -= 1


@pytest.mark.slow
@pytest.mark.skipif(not TWO_CORES, reason="needs two cores")
def test_one_build_is_timed_on_every_configuration_one_after_another_or_side_by_side(programs) -> None:
    from tenset_study.collect.collector import _count_batch
    from tenset_study.collect.configurations import ConfigurationsMeasurer, CpuConfiguration, host_mcpu
    from tenset_study.collect.report import CollectReport

    _, progs = programs
    cores = sorted(os.sched_getaffinity(0))[:2]
    configurations = [CpuConfiguration("avx2", str(core)) for core in cores]
    settings = MeasureSettings(**(QUICK | {"builder_workers": 1}), build_cores=str(cores[-1]))
    state = {"lock": threading.Lock(), "active": 0, "most": 0, "meeting": None}
    with ConfigurationsMeasurer(configurations, host_mcpu(), settings) as measurer:
        assert list(measurer.builders) == ["avx2"], "one build per instruction set"
        measurer.runners = [_CountingRunner(r, state) for r in measurer.runners]
        seen = list(measurer.measure_batches([progs[0:2], progs[2:4]], lambda p: p))
        assert state["most"] == 1, "by default one configuration is timed at a time"
        measurer.side_by_side = True
        state["meeting"] = threading.Barrier(len(configurations), timeout=30)
        seen += list(measurer.measure_batches([progs[0:2]], lambda p: p))
        assert state["most"] == 2
        assert not any("runner" in vars(b) for b in measurer.builders.values()), "the builders start no runner"
    assert all(runner.pool._shutdown for runner in measurer.runners), "closing stops the runners' workers"
    assert [batch for batch, _, _ in seen] == [progs[0:2], progs[2:4], progs[0:2]]
    for _, results, timing in seen:
        assert len(results) == 2 and all(len(r) == 2 for r in results)
        assert all(m.error is None and len(m.repeats_s) == 3 for r in results for m in r)
        assert timing.extra["configurations"] == 2
        assert set(timing.extra["run_s_by_configuration"]) == {f"{c.isa}@{c.cores}" for c in configurations}
    report = CollectReport(platform="p")
    _count_batch(seen[0][2], report)
    assert "run, per configuration: avx2@" in report.summary()


@pytest.mark.slow
@pytest.mark.skipif(not TWO_CORES, reason="needs two cores")
def test_collect_measures_a_fixed_subset_on_each_configuration_and_resumes(programs, tmp_path: Path) -> None:
    import json
    import shutil

    root = shutil.copytree(programs[0], tmp_path / "ds")
    build, measure = (str(c) for c in sorted(os.sched_getaffinity(0))[:2])
    config = CollectConfig(dataset=root, replay=True, replay_subset=2, platform="here", batch_size=4,
                           configurations=[f"avx2@{measure}"], progress=False, probe_hardware=True,
                           measure=MeasureSettings(**(QUICK | {"builder_workers": 1}), build_cores=build))
    report = collect(config)
    ds = Dataset.open(root)
    programs_of = ds.to_pandas("programs", columns=["program", "task"])
    subset = set(programs_of.sort_values("program").groupby("task").head(2)["program"])
    m = ds.to_pandas("measurements")
    here = m[m["platform"] == "here-1c-avx2"]
    assert set(here["program"]) == subset and here["error"].isna().all()
    assert (report.measured, report.platform) == (len(subset), "here-1c-avx2")
    row = ds.to_pandas("platforms").set_index("platform").loc["here-1c-avx2"]
    runner = json.loads(row["runner"])
    assert runner["measure_cores"] == measure and runner["program_set"].startswith("first 2 program ids")
    assert runner["configurations_one_at_a_time"] == [f"avx2@{measure}"]
    triad = json.loads(row["readings"])["triad"]
    assert row["memory_bandwidth_gbs"] == sorted(triad["processes_gbs"])[1] > 0 and triad["threads"] == 1
    assert row["clock_mhz"] > 0 and row["peak_gflops_fp32"] > 0
    assert json.loads(row["features_source"])["memory_bandwidth_gbs"].startswith("measured")
    assert json.loads(row["target"])["mattr"] == ["-avx512f"] and row["cores"] == 1 and row["vector_bits"] == 256
    again = collect(config)
    assert again.measured == 0 and again.skipped_already_measured == len(subset)


def test_each_instruction_set_gives_its_vector_width() -> None:
    import tvm

    from tenset_study.collect import platforms
    from tenset_study.collect.configurations import CpuConfiguration

    widths = {isa: platforms._vector_bits(platforms.llvm_features(tvm.target.Target(
        CpuConfiguration(isa, "0").target("sapphirerapids")))) for isa in ("avx512", "avx2", "sse4")}
    assert widths == {"avx512": 512, "avx2": 256, "sse4": 128}
