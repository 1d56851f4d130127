"""The pipelined measurer (:mod:`tenset_study.collect.pipeline`) with real builds and measurements on this
CPU: it measures what v1's way measures, keeps going past programs that fail to build, pins its build
workers and its runner to the cores it is given, and builds ahead only where timings allow it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tenset_study.collect import CollectConfig, collect
from tenset_study.collect.measure import MeasureSettings, parse_cores
from tenset_study.collect.pipeline import PipelinedMeasurer, Program, overlaps
from tenset_study.data.dataset import Dataset

NETWORK = "bert_tiny-b1-64"
QUICK = {"number": 1, "repeat": 3, "min_repeat_ms": 1, "builder_workers": 2}
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
def programs(tmp_path_factory) -> tuple[Path, list]:
    """A small real dataset (3 tasks x 3 programs, measured here v1's way: ``pipeline=False``) and its
    programs as pipeline inputs."""
    root = tmp_path_factory.mktemp("pipeline") / "ds"
    collect(CollectConfig(dataset=root, networks=[NETWORK], programs_per_task=3, max_tasks=3, batch_size=2,
                          measure=MeasureSettings(**QUICK), pipeline=False, progress=False))
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
