"""``tenset-study collect``: measure programs of networks' tasks on this machine and append them to a dataset.

For every task of the chosen networks, the collector samples random programs from MetaSchedule's design
space (deterministically from a seed, like TenSet's random programs), optionally adds programs found by
MetaSchedule's evolutionary search (``guided_share``), builds them in large batches and measures them,
appending each finished batch to the dataset as new Parquet parts. Re-running the same command resumes:
the same seed gives the same programs, and programs already measured on this platform are skipped, so a
run killed at any point loses at most the batch in flight. ``replay`` measures the programs already in
the dataset (of the target's kind) on this platform instead of sampling new ones, so that every platform
of a kind gets the same program set. ``sample_only`` samples and stores the programs without measuring
them (in several processes: GPU design spaces reject most random samples, so sampling them is slow), so
that every platform, this one included, then measures the same set with ``replay``. ``time_limit_s``
starts no batch that would end past the limit (judged by the longest batch so far), for machines lent for
a few minutes at a time.

This module runs the collection (the measuring loop, and sampling alone); :mod:`.config` holds what to collect
(:class:`CollectConfig`), :mod:`.prepare` the platform row and the tasks, :mod:`.report` what a run did.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow.compute as pc

from ..data.dataset import Dataset, program_id, stable_id
from ..programs.targets import cpu_target, make_target, target_kind
from ..programs.tvm_setup import prepare_tvm
from .config import CollectConfig
from .measure import BatchTiming, MeasureResult, Measurer, measurement_row
from .prepare import CollectTask, extract_tasks, register_platform, replay_tasks
from .report import CollectReport


@dataclass
class _Pending:
    """A program to measure: its task, id and trace, where it came from, and whether the dataset lacks it."""

    task: CollectTask
    program: str
    trace: str
    source: str
    new: bool


def collect(config: CollectConfig) -> CollectReport:
    """Run a collection (see the module docstring). Returns the report; the data is in the dataset."""
    start = time.perf_counter()
    report = CollectReport()
    target_spec = config.target or cpu_target()
    kind = target_kind(target_spec)
    prepare_tvm(kind)
    target = make_target(target_spec)
    ds = Dataset.create(config.dataset)
    # Sampling measures nothing: the platform row (with its runner settings) is written by the measuring run;
    # configurations each write their own.
    measures_here = not (config.sample_only or config.configurations)
    report.platform = register_platform(ds, config, target_spec, kind) if measures_here else ""

    t0 = time.perf_counter()
    tasks = replay_tasks(ds, config, kind) if config.replay else extract_tasks(ds, config, target_spec)
    if config.task_list is not None:
        tasks = _listed_tasks(ds, tasks, config.task_list)
    if config.max_tasks is not None:
        tasks = tasks[: config.max_tasks]
    report.tasks = len(tasks)
    report.extract_s = time.perf_counter() - t0
    if config.sample_only or config.configurations:
        if config.sample_only:
            _sample_and_store(ds, tasks, config, target_spec, report)
        else:
            _collect_configurations(ds, tasks, config, target_spec, start, report)
        report.elapsed_s = time.perf_counter() - start
        return report

    measured = ds.existing_keys("measurements", filter=pc.field("platform") == report.platform)
    measured_ids = {p for p, _ in measured}
    if config.remeasure_share > 0 and measured_ids:
        _remeasure(ds, tasks, config, target_spec, report)

    if config.guided_share > 0:
        t0 = time.perf_counter()
        from .guided import guided_programs

        report.measured += guided_programs(ds, tasks, target, config, report.platform, measured_ids)
        report.guided_s = time.perf_counter() - t0

    pending = _pending_programs(ds, tasks, config, target, measured_ids, report)
    if config.replay:
        pending = list(pending)
        total = len(pending)
    else:  # an upper bound: tiny design spaces may hold fewer distinct programs
        total = max(0, len(tasks) * config.programs_per_task - len(measured_ids & _program_ids(ds, tasks)))
    bar = _progress(config.progress, total, f"collect {report.platform}")
    if config.pipeline:
        _measure_pipelined(ds, pending, config, target_spec, start, report, bar)
    else:
        measurer = Measurer(target, config.measure)
        try:
            _measure_one_batch_at_a_time(ds, pending, config, measurer, start, report, bar)
        finally:
            measurer.close()
    bar.close()
    report.elapsed_s = time.perf_counter() - start
    return report


def _listed_tasks(ds: Dataset, tasks: list[CollectTask], path) -> list[CollectTask]:
    """The tasks that the task list at ``path`` names (:mod:`.selection`)."""
    from .selection import keep_listed, read_task_list

    rows = ds.to_pandas("tasks", columns=["task", "op", "arg_shapes", "arg_dtypes"])
    kept = keep_listed(tasks, rows, read_task_list(path))
    if not kept:
        raise ValueError(f"--tasks-file {path}: none of its tasks is among the {len(tasks)} tasks to collect")
    return kept


def _measure_pipelined(ds: Dataset, pending: Iterable[_Pending], config: CollectConfig, target_spec: dict,
                       start: float, report: CollectReport, bar) -> None:
    """Measure the pending programs with :class:`~.pipeline.PipelinedMeasurer` (the next batch builds while
    this one is measured, where timings allow) and write each batch as it is measured."""
    from .pipeline import PipelinedMeasurer, Program

    longest = [0.0]
    with PipelinedMeasurer(target_spec, config.measure) as measurer:
        batches = _batches(pending, config, start, longest, report, ahead=measurer.overlap)
        last = time.perf_counter()
        for batch, results, timing in measurer.measure_batches(
                batches, lambda item: Program(item.task.task, item.task.mod, item.trace)):
            _write_batch(ds, batch, results, timing, report)
            now = time.perf_counter()
            longest[0], last = max(longest[0], now - last), now
            bar.update(len(batch))
            bar.set_postfix(failed=report.failed)


def _measure_one_batch_at_a_time(ds: Dataset, pending: Iterable[_Pending], config: CollectConfig,
                                 measurer: Measurer, start: float, report: CollectReport, bar) -> None:
    """v1's way: replay a batch's traces here, build the batch in a new worker pool, measure it, write it."""
    from ..programs.traces import schedule_from_trace

    longest = [0.0]
    for batch in _batches(pending, config, start, longest, report, ahead=False):
        t0 = time.perf_counter()
        schedules, replay_errors = [], {}
        for i, item in enumerate(batch):
            try:
                schedules.append(schedule_from_trace(item.task.mod, item.trace))
            except Exception as err:  # noqa: BLE001 - a trace that no longer replays is a failed measurement
                replay_errors[i] = f"replay: {err}"
        measured, timing = measurer.measure(schedules)
        ok = iter(measured)
        results = [MeasureResult(None, replay_errors[i]) if i in replay_errors else next(ok)
                   for i in range(len(batch))]
        _write_batch(ds, batch, results, timing, report)
        longest[0] = max(longest[0], time.perf_counter() - t0)
        bar.update(len(batch))
        bar.set_postfix(failed=report.failed)


def _remeasure(ds: Dataset, tasks: list[CollectTask], config: CollectConfig, target_spec: dict,
               report: CollectReport) -> None:
    """Measure again the fixed sample's programs that an earlier session measured here (:mod:`.remeasure`)."""
    from .pipeline import PipelinedMeasurer, Program
    from .remeasure import programs_to_remeasure, remeasurement_rows, session_of

    session = session_of(dt.datetime.now(dt.timezone.utc))
    todo = programs_to_remeasure(ds, [t.task for t in tasks], report.platform, config.remeasure_share, session)
    if todo.empty:
        return
    mods = {t.task: t.mod for t in tasks}
    with PipelinedMeasurer(target_spec, config.measure) as measurer:
        for start in range(0, len(todo), config.batch_size):
            chunk = todo.iloc[start : start + config.batch_size]
            results, _ = measurer.measure([Program(r.task, mods[r.task], r.trace) for r in chunk.itertuples()])
            ds.append("remeasurements", remeasurement_rows(chunk, results, report.platform, session))
            report.remeasured += len(chunk)


def _collect_configurations(ds: Dataset, tasks: list[CollectTask], config: CollectConfig, target_spec: dict,
                            start: float, report: CollectReport) -> None:
    """Measure the replayed programs on every CPU configuration (:mod:`.configurations`; one after another
    unless ``config.side_by_side``), each configuration a platform; a program goes to the configurations that
    lack it."""
    from .configurations import ConfigurationsMeasurer, host_mcpu
    from .pipeline import Program
    from .prepare import configuration_platforms

    mcpu = target_spec.get("mcpu") or host_mcpu()
    platforms = configuration_platforms(ds, config, mcpu)
    report.platform = ", ".join(platforms)
    measured = {p: set() for p in platforms}
    for program, platform in ds.existing_keys("measurements", filter=pc.field("platform").isin(platforms)):
        measured[platform].add(program)
    everywhere = set.intersection(*measured.values())
    pending = list(_pending_programs(ds, tasks, config, None, everywhere, report))
    bar = _progress(config.progress, len(pending) * len(platforms), f"collect {len(platforms)} configurations")
    longest = [0.0]
    with ConfigurationsMeasurer(config.configurations, mcpu, config.measure, config.side_by_side) as measurer:
        last = time.perf_counter()
        for batch, results, timing in measurer.measure_batches(
                _batches(pending, config, start, longest, report, ahead=True),
                lambda item: Program(item.task.task, item.task.mod, item.trace)):
            for platform, platform_results in zip(platforms, results):
                lacking = [i for i, item in enumerate(batch) if item.program not in measured[platform]]
                _write_measurements(ds, [batch[i] for i in lacking], [platform_results[i] for i in lacking],
                                    platform, report)
                bar.update(len(lacking))
            _count_batch(timing, report)
            now = time.perf_counter()
            longest[0], last = max(longest[0], now - last), now
            bar.set_postfix(failed=report.failed)
    bar.close()


def _batches(pending: Iterable[_Pending], config: CollectConfig, start: float, longest: list[float],
             report: CollectReport, ahead: bool) -> Iterator[list[_Pending]]:
    """The pending programs in batches of ``config.batch_size``. No batch starts that would end past the time
    limit, judged by the longest batch so far (``longest[0]``, kept by the caller); a batch taken ahead,
    to build while another is measured, ends one batch later."""
    batch: list[_Pending] = []
    for item in pending:
        if not batch and _no_time_for_batch(config, start, longest[0] * (2 if ahead else 1)):
            report.stopped_at_time_limit = True
            return
        batch.append(item)
        if len(batch) >= config.batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _no_time_for_batch(config: CollectConfig, start: float, batch_s: float) -> bool:
    """True when a batch that takes ``batch_s`` seconds, started now, would end past the time limit."""
    if config.time_limit_s is None:
        return False
    return time.perf_counter() - start + batch_s > config.time_limit_s


def _progress(enabled: bool, total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="prog", disable=not enabled, smoothing=0.1)


def _program_ids(ds: Dataset, tasks: list[CollectTask]) -> set[str]:
    """Ids of the dataset's programs of these tasks."""
    ids = ds.read("programs", columns=["program"], filter=pc.field("task").isin([t.task for t in tasks]))
    return set(ids.column("program").to_pylist())


def _pending_programs(ds, tasks, config, target, measured_ids, report) -> Iterator[_Pending]:
    """Programs still to measure on this platform, task by task."""
    from .sampling import DesignSpace, sample_programs

    task_ids = [t.task for t in tasks]
    programs = ds.to_pandas("programs", columns=["program", "task", "trace", "source"],
                            filter=pc.field("task").isin(task_ids))
    by_task = {t: g for t, g in programs.groupby("task")}
    for task in tasks:
        existing = by_task.get(task.task)
        existing_ids = set(existing["program"]) if existing is not None else set()
        if config.replay:
            if existing is not None and config.replay_subset is not None:
                existing = existing.sort_values("program").head(config.replay_subset)
            for row in (existing.itertuples() if existing is not None else []):
                if row.program in measured_ids:
                    report.skipped_already_measured += 1
                    continue
                yield _Pending(task, row.program, row.trace, row.source, new=False)
            continue
        t0 = time.perf_counter()
        guided = 0 if existing is None else int((existing["source"] == "evolutionary").sum())
        count = config.programs_per_task - guided
        space = DesignSpace.of(task.mod, target, seed=1)
        seed = _sampling_seed(config, task.task)
        traces = list(sample_programs(space, count, seed=seed, max_attempts=config.sample_attempts * count + 16))
        report.sample_s += time.perf_counter() - t0
        for trace in traces:
            pid = program_id(task.task, trace)
            if pid in measured_ids:
                report.skipped_already_measured += 1
                continue
            yield _Pending(task, pid, trace, "random", new=pid not in existing_ids)


def _sample_and_store(ds: Dataset, tasks: list[CollectTask], config: CollectConfig, target_spec: dict,
                      report: CollectReport) -> None:
    """Sample every task's random programs (in parallel) and append the ones the dataset lacks.

    Uses the same seeds as a measuring collection, so ``--sample-only`` then ``--replay`` stores the same
    programs that a plain collection would. Programs are written every few tasks, so an interrupted run
    keeps what it sampled and a re-run samples only the tasks that still lack programs.
    """
    from .sampling import SamplingJob, run_sampling_jobs

    t0 = time.perf_counter()
    programs = ds.to_pandas("programs", columns=["program", "task", "source"],
                            filter=pc.field("task").isin([t.task for t in tasks]))
    have = programs[programs["source"] == "random"].groupby("task").size().to_dict()
    existing = set(programs["program"])
    count = config.programs_per_task
    jobs = [
        SamplingJob(t.task, t.workload, target_spec, count, _sampling_seed(config, t.task),
                    config.sample_attempts * count + 16)
        for t in tasks if have.get(t.task, 0) < count
    ]
    bar = _progress(config.progress, len(jobs), f"sample {target_kind(target_spec)} programs")
    bar.unit = "task"
    pending: list[dict] = []
    deadline = None if config.time_limit_s is None else time.monotonic() + config.time_limit_s - report.extract_s
    done = 0
    for task, traces in run_sampling_jobs(jobs, config.sample_workers, deadline=deadline):
        done += 1
        for trace in traces:
            pid = program_id(task, trace)
            if pid not in existing:
                existing.add(pid)
                pending.append({"program": pid, "task": task, "encoding": "metaschedule", "trace": trace,
                                "source": "random"})
        bar.update(1)
        if len(pending) >= 8 * count:
            report.sampled += ds.append("programs", pending)
            pending = []
    report.sampled += ds.append("programs", pending)
    report.stopped_at_time_limit = done < len(jobs)  # (a quiet run's progress bar counts nothing)
    bar.close()
    report.sample_s += time.perf_counter() - t0


def _sampling_seed(config: CollectConfig, task: str) -> int:
    """The seed of a task's random programs: the same for a plain collection and for ``--sample-only``."""
    return int(stable_id(str(config.seed), task), 16) % 2**62


def _write_batch(ds: Dataset, batch: list[_Pending], results: list[MeasureResult], timing: BatchTiming,
                 report: CollectReport) -> None:
    """Append a measured batch's new programs and its measurements; count its time in the report."""
    _count_batch(timing, report)
    t0 = time.perf_counter()
    new_programs = [
        {"program": p.program, "task": p.task.task, "encoding": "metaschedule", "trace": p.trace, "source": p.source}
        for p in batch if p.new
    ]
    ds.append("programs", new_programs)
    report.write_s += time.perf_counter() - t0
    _write_measurements(ds, batch, results, report.platform, report)


def _count_batch(timing: BatchTiming, report: CollectReport) -> None:
    report.build_s += timing.build_s
    report.run_s += timing.run_s
    for name, seconds in timing.extra.get("run_s_by_configuration", {}).items():
        report.run_s_by_configuration[name] = report.run_s_by_configuration.get(name, 0.0) + seconds
    report.batches += 1


def _write_measurements(ds: Dataset, batch: list[_Pending], results: list[MeasureResult], platform: str,
                        report: CollectReport) -> None:
    """Append one platform's measurements of a batch; count them (and their failures) in the report."""
    t0 = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc)
    ds.append("measurements", [measurement_row(item.program, platform, result, now)
                               for item, result in zip(batch, results, strict=True)])
    report.failed += sum(result.error is not None for result in results)
    report.measured += len(batch)
    report.write_s += time.perf_counter() - t0


__all__ = ["CollectConfig", "CollectReport", "collect"]
