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
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from ..data.dataset import KEYS, Dataset, program_id, stable_id
from .measure import Measurer, MeasureSettings
from ..programs.tvm_setup import prepare_tvm
from ..programs.targets import cpu_target, make_target, target_kind


@dataclass
class CollectConfig:
    """What to collect, where, and how to measure it."""

    dataset: Path
    networks: list[str] = field(default_factory=list)
    target: dict | None = None
    platform: str | None = None
    programs_per_task: int = 100
    guided_share: float = 0.0
    seed: int = 0
    batch_size: int = 256
    sample_attempts: int = 8
    replay: bool = False
    sample_only: bool = False
    sample_workers: int = 1
    time_limit_s: float | None = None
    max_tasks: int | None = None
    measure: MeasureSettings = field(default_factory=MeasureSettings)
    progress: bool = True

    def __post_init__(self) -> None:
        self.dataset = Path(self.dataset)
        if not self.replay and not self.networks:
            raise ValueError("collect needs --networks (or --replay to measure an existing program set)")
        if self.programs_per_task < 1:
            raise ValueError(f"programs_per_task must be >= 1, got {self.programs_per_task}")
        if not 0.0 <= self.guided_share < 1.0:
            raise ValueError(f"guided_share must be in [0, 1), got {self.guided_share}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.sample_attempts < 1:
            raise ValueError(f"sample_attempts must be >= 1, got {self.sample_attempts}")
        if self.measure.rpc_tracker and not self.platform:
            raise ValueError("measuring through RPC needs --platform (the remote machine cannot be read from here)")
        if self.replay and self.guided_share:
            raise ValueError("--replay measures an existing program set; it cannot add guided programs")
        if self.sample_only and (self.replay or self.guided_share):
            raise ValueError("--sample-only stores random programs; it cannot be combined with --replay or --guided-share")
        if self.sample_workers < 1:
            raise ValueError(f"sample_workers must be >= 1, got {self.sample_workers}")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "CollectConfig":
        target = json.loads(args.target) if args.target else None
        if target is None and args.gpu:
            from ..programs.targets import gpu_target

            target = gpu_target(args.gpu)
        measure = MeasureSettings(
            number=args.number, repeat=args.repeat, min_repeat_ms=args.min_repeat_ms,
            enable_cpu_cache_flush=args.cache_flush, run_timeout_s=args.run_timeout,
            build_timeout_s=args.build_timeout, builder_workers=args.builder_workers,
            export_format=args.export_format, rpc_tracker=args.rpc_tracker, rpc_key=args.rpc_key,
        )
        return cls(
            dataset=args.dataset, networks=args.networks or [], target=target, platform=args.platform,
            programs_per_task=args.programs_per_task, guided_share=args.guided_share, seed=args.seed,
            batch_size=args.batch_size, sample_attempts=args.sample_attempts, replay=args.replay,
            sample_only=args.sample_only, sample_workers=args.sample_workers, time_limit_s=args.time_limit,
            max_tasks=args.max_tasks, measure=measure, progress=not args.quiet,
        )


def add_collect_arguments(p: argparse.ArgumentParser) -> None:
    """The ``collect`` command's flags."""
    p.add_argument("--dataset", type=Path, required=True, help="dataset folder to create or append to")
    p.add_argument("--networks", nargs="+", help="zoo network names, e.g. resnet_18-b1-224 bert_tiny-b1-128")
    p.add_argument("--target", default=None, help='TVM target as JSON (default: this CPU, e.g. {"kind": "llvm", "mcpu": "znver3", "num-cores": 2})')
    p.add_argument("--gpu", default=None, metavar="ARCH", help="measure on the CUDA GPU with this arch, e.g. sm_90")
    p.add_argument("--platform", default=None, help="platform id (default: read off the machine)")
    p.add_argument("--programs-per-task", type=int, default=100)
    p.add_argument("--guided-share", type=float, default=0.0, help="share of programs per task from evolutionary search")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=256, help="programs built and measured per batch")
    p.add_argument("--sample-attempts", type=int, default=8,
                   help="random samples drawn per wanted program before a task gives up (GPU spaces reject many)")
    p.add_argument("--replay", action="store_true", help="measure the dataset's existing programs of this kind")
    p.add_argument("--sample-only", action="store_true",
                   help="sample and store the programs without measuring them (measure later with --replay)")
    p.add_argument("--sample-workers", type=int, default=1, help="processes that sample programs (with --sample-only)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="start no batch that would end after this many seconds, judged by the longest batch so far "
                        "(re-run the command to continue)")
    p.add_argument("--max-tasks", type=int, default=None, help="only the first N tasks (for quick runs)")
    p.add_argument("--number", type=int, default=1, help="runs per repeat (raised to reach --min-repeat-ms)")
    p.add_argument("--repeat", type=int, default=5, help="repeats kept per program")
    p.add_argument("--min-repeat-ms", type=int, default=20)
    p.add_argument("--cache-flush", action="store_true", help="flush CPU caches before each repeat")
    p.add_argument("--run-timeout", type=float, default=30.0)
    p.add_argument("--build-timeout", type=float, default=60.0)
    p.add_argument("--builder-workers", type=int, default=None)
    p.add_argument("--export-format", choices=["tar", "so"], default="tar")
    p.add_argument("--rpc-tracker", default=None, metavar="HOST:PORT", help="measure through a TVM RPC tracker")
    p.add_argument("--rpc-key", default=None, help="device key registered at the tracker")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@dataclass
class CollectReport:
    """What a collection did and where its time went."""

    platform: str = ""
    tasks: int = 0
    measured: int = 0
    failed: int = 0
    skipped_already_measured: int = 0
    sampled: int = 0
    stopped_at_time_limit: bool = False
    batches: int = 0
    elapsed_s: float = 0.0
    extract_s: float = 0.0
    sample_s: float = 0.0
    build_s: float = 0.0
    run_s: float = 0.0
    guided_s: float = 0.0
    write_s: float = 0.0

    @property
    def programs_per_minute(self) -> float:
        return 60.0 * self.measured / self.elapsed_s if self.elapsed_s else 0.0

    def summary(self) -> str:
        other = self.elapsed_s - (self.extract_s + self.sample_s + self.build_s + self.run_s + self.guided_s + self.write_s)
        parts = [("extract", self.extract_s), ("sample", self.sample_s), ("guided search", self.guided_s),
                 ("build", self.build_s), ("run", self.run_s), ("write", self.write_s), ("other", other)]
        share = ", ".join(f"{name} {sec:.1f} s ({100 * sec / max(self.elapsed_s, 1e-9):.0f}%)" for name, sec in parts)
        stopped = "; stopped at the time limit (re-run to continue)" if self.stopped_at_time_limit else ""
        sampled = f"{self.sampled} new programs sampled; " if self.sampled else ""
        return (
            f"platform {self.platform}: {sampled}{self.measured} programs measured ({self.failed} failed) on "
            f"{self.tasks} tasks in {self.batches} batches, {self.skipped_already_measured} already measured; "
            f"{self.elapsed_s:.1f} s, {self.programs_per_minute:.1f} programs/min{stopped}\ntime: {share}"
        )


@dataclass
class _Task:
    task: str
    mod: object
    name: str
    workload: str


@dataclass
class _Pending:
    task: _Task
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
    # Sampling measures nothing: the platform row (with its runner settings) is written by the measuring run.
    report.platform = "" if config.sample_only else _register_platform(ds, config, target_spec, kind)

    t0 = time.perf_counter()
    tasks = _replay_tasks(ds, config, kind) if config.replay else _extract_tasks(ds, config, target_spec)
    if config.max_tasks is not None:
        tasks = tasks[: config.max_tasks]
    report.tasks = len(tasks)
    report.extract_s = time.perf_counter() - t0
    if config.sample_only:
        _sample_and_store(ds, tasks, config, target_spec, report)
        report.elapsed_s = time.perf_counter() - start
        return report

    measured = ds.existing_keys("measurements", filter=pc.field("platform") == report.platform)
    measured_ids = {p for p, _ in measured}
    measurer = Measurer(target, config.measure)

    if config.guided_share > 0:
        t0 = time.perf_counter()
        from .guided import guided_programs

        report.measured += guided_programs(ds, tasks, target, measurer, config, report.platform, measured_ids)
        report.guided_s = time.perf_counter() - t0

    pending = _pending_programs(ds, tasks, config, target, measured_ids, report)
    if config.replay:
        pending = list(pending)
        total = len(pending)
    else:  # an upper bound: tiny design spaces may hold fewer distinct programs
        total = max(0, len(tasks) * config.programs_per_task - len(measured_ids & _program_ids(ds, tasks)))
    bar = _progress(config.progress, total, f"collect {report.platform}")
    batch: list[_Pending] = []
    longest_batch_s = 0.0
    for item in pending:
        if not batch and _no_time_for_batch(config, start, longest_batch_s):
            report.stopped_at_time_limit = True
            break
        batch.append(item)
        if len(batch) >= config.batch_size:
            longest_batch_s = max(longest_batch_s, _timed_batch(ds, batch, measurer, report))
            bar.update(len(batch))
            bar.set_postfix(failed=report.failed)
            batch = []
    if batch:
        _measure_and_write(ds, batch, measurer, report)
        bar.update(len(batch))
    bar.close()
    report.elapsed_s = time.perf_counter() - start
    return report


def _no_time_for_batch(config: CollectConfig, start: float, longest_batch_s: float) -> bool:
    """True when the next batch, if it takes as long as the longest so far, would end past the time limit."""
    if config.time_limit_s is None:
        return False
    return time.perf_counter() - start + longest_batch_s > config.time_limit_s


def _timed_batch(ds: Dataset, batch: list[_Pending], measurer: Measurer, report: CollectReport) -> float:
    """Measure and write one batch; its wall time in seconds."""
    t0 = time.perf_counter()
    _measure_and_write(ds, batch, measurer, report)
    return time.perf_counter() - t0


def _progress(enabled: bool, total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="prog", disable=not enabled, smoothing=0.1)


def _register_platform(ds: Dataset, config: CollectConfig, target_spec: dict, kind: str) -> str:
    """Read the machine, add its platform row unless present; refuse to mix targets under one id."""
    from . import platforms

    runner = config.measure.as_dict()
    if config.measure.rpc_tracker:
        row = platforms.remote_platform(target_spec, runner, config.platform, kind)
    elif kind == "gpu":
        row = platforms.gpu_platform(target_spec, runner, platform=config.platform)
    else:
        row = platforms.cpu_platform(target_spec, runner, platform=config.platform)
    existing = ds.to_pandas("platforms")
    same = existing[existing["platform"] == row["platform"]]
    if len(same):
        if json.loads(same["target"].iloc[0]) != json.loads(row["target"]):
            raise ValueError(
                f"platform {row['platform']!r} exists in {ds.root} with target {same['target'].iloc[0]}, "
                f"not {row['target']}; pass --platform to name this configuration"
            )
        return row["platform"]
    ds.append("platforms", [row])
    return row["platform"]


def _extract_tasks(ds: Dataset, config: CollectConfig, target_spec: dict) -> list[_Task]:
    """Extract the networks' tasks and record the networks, tasks and weights that the dataset lacks."""
    from .tasks import extract_network_tasks

    tasks: dict[str, _Task] = {}
    rows: dict[str, list[dict]] = {"networks": [], "tasks": [], "network_tasks": []}
    for name in config.networks:
        extracted = extract_network_tasks(name, target_spec)
        rows["networks"].append(extracted.network)
        rows["tasks"].extend(extracted.task_rows())
        rows["network_tasks"].extend(extracted.network_task_rows())
        for task in extracted.tasks:
            tasks.setdefault(task.task, _Task(task.task, task.mod, task.task_name, task.row["workload"]))
    for table, new_rows in rows.items():
        _append_missing(ds, table, new_rows)
    return list(tasks.values())


def _append_missing(ds: Dataset, table: str, rows: list[dict]) -> None:
    """Append the rows whose key the table does not hold yet (each key once)."""
    key = KEYS[table]
    have = {k if isinstance(k, tuple) else (k,) for k in ds.existing_keys(table)}
    fresh: dict[tuple, dict] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in have:
            fresh.setdefault(k, row)
    ds.append(table, list(fresh.values()))


def _replay_tasks(ds: Dataset, config: CollectConfig, kind: str) -> list[_Task]:
    """The dataset's tasks of this kind (of the chosen networks, when given), with their stored workloads."""
    from ..programs.workload import WORKLOAD_FORMAT, load_workload

    frame = ds.to_pandas("tasks", columns=["task", "kind", "task_name", "workload_format", "workload"])
    frame = frame[(frame["kind"] == kind) & (frame["workload_format"] == WORKLOAD_FORMAT)]
    if config.networks:
        links = ds.to_pandas("network_tasks")
        unknown = set(config.networks) - set(links["network"])
        if unknown:
            raise ValueError(f"--replay: network(s) {sorted(unknown)} not in {ds.root}")
        frame = frame[frame["task"].isin(set(links[links["network"].isin(config.networks)]["task"]))]
    if frame.empty:
        raise ValueError(f"--replay: {ds.root} has no replayable {kind} tasks")
    return [_Task(r.task, load_workload(r.workload), r.task_name, r.workload) for r in frame.itertuples()]


def _program_ids(ds: Dataset, tasks: list[_Task]) -> set[str]:
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


def _sample_and_store(ds: Dataset, tasks: list[_Task], config: CollectConfig, target_spec: dict,
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
    for task, traces in run_sampling_jobs(jobs, config.sample_workers, deadline=deadline):
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
    report.stopped_at_time_limit = bar.n < len(jobs)
    bar.close()
    report.sample_s += time.perf_counter() - t0


def _sampling_seed(config: CollectConfig, task: str) -> int:
    """The seed of a task's random programs: the same for a plain collection and for ``--sample-only``."""
    return int(stable_id(str(config.seed), task), 16) % 2**62


def _measure_and_write(ds: Dataset, batch: list[_Pending], measurer: Measurer, report: CollectReport) -> None:
    """Build and measure one batch, then append its new programs and its measurements."""
    from ..programs.traces import schedule_from_trace

    schedules, replay_errors = [], {}
    for i, item in enumerate(batch):
        try:
            schedules.append(schedule_from_trace(item.task.mod, item.trace))
        except Exception as err:  # noqa: BLE001 - a trace that no longer replays is a failed measurement
            replay_errors[i] = f"replay: {err}"
    results, timing = measurer.measure(schedules)
    report.build_s += timing.build_s
    report.run_s += timing.run_s
    report.batches += 1

    t0 = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc)
    ok = iter(results)
    measurements = []
    for i, item in enumerate(batch):
        if i in replay_errors:
            repeats, error = None, replay_errors[i]
        else:
            res = next(ok)
            repeats, error = res.repeats_s, res.error
        measurements.append({
            "program": item.program, "platform": report.platform,
            "latency_s": float(np.mean(repeats)) if repeats else None,
            "repeats_s": repeats, "error": error, "measured_at": now,
        })
        report.failed += error is not None
    new_programs = [
        {"program": p.program, "task": p.task.task, "encoding": "metaschedule", "trace": p.trace, "source": p.source}
        for p in batch if p.new
    ]
    ds.append("programs", new_programs)
    ds.append("measurements", measurements)
    report.measured += len(batch)
    report.write_s += time.perf_counter() - t0
