"""Building ahead while measuring: the collector's pipelined measurer.

v1's :class:`~.measure.Measurer` replays every batch's traces in the collecting process, one by one,
starts a new pool of build workers for every batch (each worker imports TVM again), and measures only
once the whole batch is built, so the GPU waits for the host and the host for the GPU.
:class:`PipelinedMeasurer` keeps one pool of build workers for the whole collection (each recycled after
``recycle_after`` builds, against the memory growth that made MetaSchedule restart its pool every batch),
replays the traces in those workers, links shared libraries there (the runner only loads them), and,
where timings allow it, builds the next batch while this one is measured:

- on a GPU, always: kernels are timed on the device, and the host CPU's load does not change them;
- on a CPU, only when the build workers and the timed programs are pinned to disjoint core sets
  (``MeasureSettings.build_cores`` and ``measure_cores``): no compiler runs on the cores being timed.
  Otherwise each batch is built, then measured, as before.

The same programs are built with the same settings and timed by MetaSchedule's runner with the same
evaluator settings as v1's way, so the two give the same kind of measurement; ``benchmarks/bench_collect.py``
compares their pace on one batch.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Self, TypeVar

from .measure import (
    BatchTiming,
    MeasureResult,
    MeasureSettings,
    close_runner,
    make_runner,
    parse_cores,
    quiet_machine,
)

T = TypeVar("T")

#: Builds a worker does before it is replaced by a fresh process.
RECYCLE_AFTER = 256


@dataclass(frozen=True)
class Program:
    """One program to build and measure: its task's key (any string naming the task's IRModule), the
    IRModule, and the scheduling trace (JSON text) to replay on it."""

    task: str
    mod: object
    trace: str


@dataclass
class _Submitted:
    """A batch whose builds were handed to the pool: the programs, one future per program, when."""

    programs: list[Program]
    futures: list
    submitted_at: float


class PipelinedMeasurer:
    """Builds and times batches of programs for one target, building ahead where timings allow.

    ``target_spec``: the target as a dict (it goes to the build workers). Use as a context manager, or call
    :meth:`close`, to stop the workers and remove what they wrote.
    """

    def __init__(self, target_spec: dict, settings: MeasureSettings, recycle_after: int = RECYCLE_AFTER) -> None:
        from tvm.support.popen_pool import PopenPoolExecutor

        from ..programs.targets import make_target, target_kind

        self.target_spec = target_spec
        self.settings = settings
        self.kind = target_kind(target_spec)
        self.device_type = "cuda" if make_target(target_spec).kind.name == "cuda" else "cpu"
        self.overlap = overlaps(self.kind, settings)
        self._modules = tempfile.mkdtemp(prefix="tenset-study-modules-")
        self._module_paths: dict[str, str] = {}
        workers = settings.build_workers()
        self.pool = PopenPoolExecutor(
            max_workers=workers, timeout=settings.build_timeout_s, initializer=build_worker_init,
            initargs=(self.kind, settings.build_cores), maximum_process_uses=recycle_after,
        )

    @functools.cached_property
    def runner(self):
        """The runner, started on first use: a measurer that only builds (one instruction set's builder of
        :class:`~.configurations.ConfigurationsMeasurer`) never starts a runner worker."""
        return make_runner(self.settings)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the build workers and remove the task modules they read."""
        self.pool.shutdown()
        if "runner" in self.__dict__:
            close_runner(self.runner)
        shutil.rmtree(self._modules, ignore_errors=True)

    def measure_batches(self, batches: Iterable[list[T]], program_of: Callable[[T], Program]
                        ) -> Iterator[tuple[list[T], list[MeasureResult], BatchTiming]]:
        """Measure every batch, in order: ``(batch, results, timing)`` per batch, results in the batch's
        order; ``program_of`` gives an item's :class:`Program`.

        With :attr:`overlap`, the next batch is taken from ``batches`` and its builds started before this
        batch is measured, so an iterator that stops (a time limit) is asked one batch ahead.
        """
        source = iter(batches)

        def submit_next() -> tuple[list[T], _Submitted] | None:
            batch = next(source, None)
            return None if batch is None else (batch, self.submit([program_of(item) for item in batch]))

        ahead = submit_next()
        while ahead is not None:
            batch, submitted = ahead
            if self.overlap:
                ahead = submit_next()
            results, timing = self._measure(submitted)
            if not self.overlap:
                ahead = submit_next()
            yield batch, results, timing

    def measure(self, programs: list[Program]) -> tuple[list[MeasureResult], BatchTiming]:
        """Build and time one batch (nothing ahead)."""
        return self._measure(self.submit(programs))

    # --- building ------------------------------------------------------------------------------------------

    def submit(self, programs: list[Program]) -> _Submitted:
        """Hand a batch's builds to the pool; :meth:`wait_built` collects them."""
        spec = json.dumps(self.target_spec, sort_keys=True)
        futures = [self.pool.submit(build_program, self._module_path(p), p.trace, spec,
                                    self.settings.export_format) for p in programs]
        return _Submitted(programs, futures, time.perf_counter())

    def _module_path(self, program: Program) -> str:
        """The task's IRModule as a file the workers load once each (programs carry only its path)."""
        path = self._module_paths.get(program.task)
        if path is None:
            import tvm

            path = os.path.join(self._modules, f"{len(self._module_paths)}.json")
            with open(path, "w") as handle:
                handle.write(tvm.ir.save_json(program.mod))
            self._module_paths[program.task] = path
        return path

    # --- measuring -----------------------------------------------------------------------------------------

    def _measure(self, batch: _Submitted) -> tuple[list[MeasureResult], BatchTiming]:
        built = self.wait_built(batch)
        start = time.perf_counter()
        with quiet_machine():
            futures = self.runner.run(built.inputs) if built.inputs else []
            results = built.results_of([future.result() for future in futures])
        built.remove_artifacts()
        built.timing.run_s = time.perf_counter() - start
        return results, built.timing

    def wait_built(self, batch: _Submitted) -> Built:
        """Wait for a submitted batch's builds: the runner's inputs, the build errors, the build time."""
        timing = BatchTiming(programs=len(batch.programs))
        start = time.perf_counter()
        outcomes = [_build_outcome(future) for future in batch.futures]
        timing.build_s = time.perf_counter() - start  # the build time not hidden behind measuring
        timing.extra["build_wall_s"] = time.perf_counter() - batch.submitted_at
        results, inputs, positions = _runner_inputs(outcomes, self.device_type, timing)
        return Built(outcomes, results, inputs, positions, timing)


@dataclass
class Built:
    """A built batch: each program's build outcome, its results so far (build errors filled in), the
    runner's inputs for the built ones and their positions in the batch, and the batch's timing."""

    outcomes: list
    results: list
    inputs: list
    positions: list[int]
    timing: BatchTiming

    def results_of(self, run_outcomes: list) -> list[MeasureResult]:
        """The batch's results once a runner's outcomes (one per input) are in; a built batch timed by several
        runners gives one result list per runner, and its timing counts the run errors of all of them."""
        results = list(self.results)
        for i, outcome in zip(self.positions, run_outcomes, strict=True):
            if outcome.error_msg:
                results[i] = MeasureResult(None, "run: " + _short(outcome.error_msg))
                self.timing.run_errors += 1
            else:
                results[i] = MeasureResult([float(s) for s in outcome.run_secs], None)
        return results

    def remove_artifacts(self) -> None:
        """Delete the built libraries (once every runner has timed them)."""
        for artifact, _ in (b for b in self.outcomes if isinstance(b, tuple)):
            shutil.rmtree(os.path.dirname(artifact), ignore_errors=True)


def overlaps(kind: str, settings: MeasureSettings) -> bool:
    """Whether building may run while programs are timed: on a GPU, or on disjoint CPU core sets."""
    if kind == "gpu":
        return True
    build, measure = parse_cores(settings.build_cores), parse_cores(settings.measure_cores)
    return bool(build and measure) and not set(build) & set(measure)


def _build_outcome(future) -> tuple[str, list] | str:
    """``(artifact path, argument infos as JSON)`` of a finished build, or its error message."""
    try:
        return future.result()
    except TimeoutError:
        return "build: timeout"
    except Exception as err:  # noqa: BLE001 - a program that fails to replay or build is a failed measurement
        return "build: " + _short(f"{type(err).__name__}: {err}")


def _runner_inputs(built: list, device_type: str, timing: BatchTiming):
    """Results with the build errors filled in, the runner's inputs, and their positions in the batch."""
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.runner import RunnerInput

    results: list[MeasureResult | None] = [None] * len(built)
    inputs, positions = [], []
    for i, outcome in enumerate(built):
        if isinstance(outcome, str):
            results[i] = MeasureResult(None, outcome)
            timing.build_errors += 1
            continue
        artifact, args = outcome
        inputs.append(RunnerInput(artifact, device_type, [ArgInfo.from_json(a) for a in args]))
        positions.append(i)
    return results, inputs, positions


# --- in the build workers -----------------------------------------------------------------------------------

_WORKER_MODULES: dict[str, object] = {}


def build_worker_init(kind: str, cores: str | None) -> None:
    """A build worker's start: pinned to its cores (when given), tensor intrinsics of the target kind."""
    from ..programs.tvm_setup import prepare_tvm

    chosen = parse_cores(cores)
    if chosen:
        os.sched_setaffinity(0, chosen)
    prepare_tvm(kind)


def build_program(module_path: str, trace: str, target_json: str, export_format: str) -> tuple[str, list]:
    """In a build worker: replay the trace on the task's IRModule, build it, export it; returns the
    artifact's path and the entry function's argument infos (JSON) for the runner."""
    import tvm
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build

    from ..programs.targets import make_target
    from ..programs.traces import schedule_from_trace
    from .measure import export_shared_library, export_tar

    mod = _WORKER_MODULES.get(module_path)
    if mod is None:
        with open(module_path) as handle:
            mod = _WORKER_MODULES[module_path] = tvm.ir.load_json(handle.read())
    sch = schedule_from_trace(mod, trace)
    rt_mod = default_build(sch.mod, make_target(target_json), None)
    artifact = (export_tar if export_format == "tar" else export_shared_library)(rt_mod)
    return artifact, [arg.as_json() for arg in ArgInfo.from_entry_func(sch.mod, remove_preproc=True)]


def _short(message: str, limit: int = 2000) -> str:
    from .measure import _short as short

    return short(message, limit)
