"""Building and measuring programs in batches, locally or through a TVM RPC tracker.

Building dominates the cost of a measurement (about 1 s per program on 2 cores), so programs are built
in large batches by MetaSchedule's ``LocalBuilder`` (one worker pool per batch, its start-up paid once),
and exported as shared libraries in the parallel build workers so that the serial runner only loads and
times them. Measurement never overlaps building, so timings are not disturbed by compilers. Through a TVM RPC
tracker, ``rpc_workers`` servers time a batch's programs at once (:func:`wait_for_rpc_servers` waits for them).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..programs.tvm_setup import builder_initializer


@dataclass
class MeasureSettings:
    """How programs are built and timed. Stored with the platform as its ``runner`` provenance."""

    number: int = 1
    repeat: int = 5
    min_repeat_ms: int = 20
    enable_cpu_cache_flush: bool = False
    run_timeout_s: float = 30.0
    build_timeout_s: float = 60.0
    builder_workers: int | None = None
    export_format: str = "so"
    rpc_tracker: str | None = None
    rpc_key: str | None = None
    rpc_session_timeout_s: float = 120.0
    #: Measurements sent through the tracker at once: one per RPC server registered under ``rpc_key`` spreads
    #: each batch over all of them (``scripts/rpc_collect.sh`` passes its number of servers); 1: one at a time.
    rpc_workers: int = 1
    #: How the runner fills integer input tensors: ``random`` (MetaSchedule's default, what the datasets
    #: were measured with) or ``zeros``: random integers used as indices (BERT's embedding ``take``) read
    #: out of bounds and fail every measurement of those tasks, so tuning, which must tune every task,
    #: uses zeros (valid indices). Float inputs are random either way.
    integer_inputs: str = "random"
    #: CPU cores (``"4-15"``, ``"0,2,4"``) the build workers run on, and the cores the timed programs run on
    #: (their thread count is the number of cores): on disjoint sets, building overlaps measuring
    #: (:mod:`.pipeline`). ``None``: every core.
    build_cores: str | None = None
    measure_cores: str | None = None

    def __post_init__(self) -> None:
        if self.number < 1 or self.repeat < 1 or self.min_repeat_ms < 0:
            raise ValueError(f"number and repeat must be >= 1 and min_repeat_ms >= 0, got {self}")
        if self.export_format not in {"so", "tar"}:
            raise ValueError(f"export_format must be 'so' or 'tar', got {self.export_format!r}")
        if (self.rpc_tracker is None) != (self.rpc_key is None):
            raise ValueError("RPC needs both rpc_tracker (host:port) and rpc_key")
        if self.rpc_workers < 1:
            raise ValueError(f"--rpc-workers must be >= 1, got {self.rpc_workers}")
        if self.rpc_workers > 1 and not self.rpc_tracker:
            raise ValueError(f"--rpc-workers {self.rpc_workers} needs --rpc-tracker (it counts RPC servers)")
        if self.integer_inputs not in {"random", "zeros"}:
            raise ValueError(f"integer_inputs must be 'random' or 'zeros', got {self.integer_inputs!r}")
        for name in ("build_cores", "measure_cores"):
            parse_cores(getattr(self, name), name)

    def build_workers(self) -> int:
        """Build worker processes: ``builder_workers``, or one per build core, or one per core of this machine."""
        return self.builder_workers or len(parse_cores(self.build_cores)) or max(1, os.cpu_count() or 1)

    def export_function(self):
        """The builders' export step: a linked shared library, or an object tarball (``export_format="tar"``)."""
        return export_tar if self.export_format == "tar" else export_shared_library

    def as_dict(self) -> dict:
        """The settings, plus the measurement lock in force (see :func:`quiet_machine`), as provenance."""
        return {**asdict(self), "measure_lock": os.environ.get("TENSET_STUDY_MEASURE_LOCK")}


@dataclass
class MeasureResult:
    """One program's measurement: repeats in seconds, or an error."""

    repeats_s: list[float] | None
    error: str | None


def measurement_row(program: str, platform: str, result: MeasureResult, measured_at) -> dict:
    """A ``measurements`` (or ``remeasurements``, with its session added) row: the latency is the mean of the
    repeats; a failed program has none and its error."""
    repeats = result.repeats_s
    return {"program": program, "platform": platform, "latency_s": float(np.mean(repeats)) if repeats else None,
            "repeats_s": repeats, "error": result.error, "measured_at": measured_at}


@dataclass
class BatchTiming:
    """Where a batch's time went."""

    programs: int = 0
    build_s: float = 0.0
    run_s: float = 0.0
    build_errors: int = 0
    run_errors: int = 0
    extra: dict = field(default_factory=dict)


def alloc_zero_integer_arguments(device, args_info, alloc_repeat: int) -> list:
    """MetaSchedule's argument allocation for the local runner (``f_alloc_argument``) with integer tensors
    set to zeros instead of random values; float tensors get MetaSchedule's random fill."""
    from tvm.s_tir.meta_schedule.utils import get_global_func_with_default_on_worker

    random_fill = get_global_func_with_default_on_worker("tvm.contrib.random.random_fill_for_measure", None)
    return _alloc_zero_integers(random_fill, device, args_info, alloc_repeat)


def rpc_alloc_zero_integer_arguments(session, device, args_info, alloc_repeat: int) -> list:
    """:func:`alloc_zero_integer_arguments` for the RPC runner (random fill on the remote server)."""
    from tvm.s_tir.meta_schedule.utils import get_global_func_on_rpc_session

    random_fill = get_global_func_on_rpc_session(session, "tvm.contrib.random.random_fill_for_measure",
                                                 "the RPC server's TVM lacks random fill (USE_RANDOM)")
    return _alloc_zero_integers(random_fill, device, args_info, alloc_repeat)


def _alloc_zero_integers(random_fill, device, args_info, alloc_repeat: int) -> list:
    import numpy as np
    from tvm.s_tir.meta_schedule.runner.utils import alloc_argument_common

    def fill(tensor) -> None:
        if str(tensor.dtype).startswith(("int", "uint")):
            tensor.copyfrom(np.zeros(tuple(tensor.shape), dtype=str(tensor.dtype)))
        else:
            random_fill(tensor)

    return alloc_argument_common(fill, device, args_info, alloc_repeat)


def export_shared_library(rt_mod) -> str:
    """Builder export step: a linked shared library (linking happens in the parallel build workers)."""
    path = os.path.join(tempfile.mkdtemp(prefix="tenset-study-"), "program.so")
    rt_mod.export_library(path)
    return path


def export_tar(rt_mod) -> str:
    """Builder export step for RPC: an object tarball that the remote server links itself."""
    from tvm.support.tar import tar

    path = os.path.join(tempfile.mkdtemp(prefix="tenset-study-"), "program.tar")
    rt_mod.export_library(path, fcompile=tar)
    return path


class Measurer:
    """Builds and times batches of scheduled IRModules for one target."""

    def __init__(self, target, settings: MeasureSettings) -> None:
        from tvm.s_tir import meta_schedule as ms

        self.target = target
        self.settings = settings
        self.device_type = "cuda" if target.kind.name == "cuda" else "cpu"
        self.builder = local_builder(settings)
        self.runner = make_runner(settings)

    def close(self) -> None:
        """Stop the runner's worker (see :func:`close_runner`)."""
        close_runner(self.runner)

    def measure(self, schedules: list) -> tuple[list[MeasureResult], BatchTiming]:
        """Build every schedule (``tvm.s_tir.Schedule``) in one batch, then time the built ones one by one."""
        from tvm.s_tir.meta_schedule.arg_info import ArgInfo
        from tvm.s_tir.meta_schedule.builder import BuilderInput
        from tvm.s_tir.meta_schedule.runner import RunnerInput

        timing = BatchTiming(programs=len(schedules))
        start = time.perf_counter()
        built = self.builder.build([BuilderInput(sch.mod, self.target) for sch in schedules])
        timing.build_s = time.perf_counter() - start

        results: list[MeasureResult | None] = [None] * len(schedules)
        inputs, positions = [], []
        for i, (sch, res) in enumerate(zip(schedules, built)):
            if res.error_msg:
                results[i] = MeasureResult(None, "build: " + _short(res.error_msg))
                timing.build_errors += 1
                continue
            args = ArgInfo.from_entry_func(sch.mod, remove_preproc=True)
            inputs.append(RunnerInput(res.artifact_path, self.device_type, args))
            positions.append(i)

        start = time.perf_counter()
        with quiet_machine():
            futures = self.runner.run(inputs) if inputs else []
            outcomes = [future.result() for future in futures]
        for i, outcome, runner_input in zip(positions, outcomes, inputs):
            if outcome.error_msg:
                results[i] = MeasureResult(None, "run: " + _short(outcome.error_msg))
                timing.run_errors += 1
            else:
                results[i] = MeasureResult([float(s) for s in outcome.run_secs], None)
            shutil.rmtree(os.path.dirname(str(runner_input.artifact_path)), ignore_errors=True)
        timing.run_s = time.perf_counter() - start
        return results, timing  # type: ignore[return-value]


def local_builder(settings: MeasureSettings):
    """MetaSchedule's ``LocalBuilder`` for these settings (it starts new workers in every ``build`` call)."""
    from tvm.s_tir import meta_schedule as ms

    return ms.builder.LocalBuilder(max_workers=settings.build_workers(), timeout_sec=settings.build_timeout_s,
                                   initializer=builder_initializer, f_export=settings.export_function())


def close_runner(runner) -> None:
    """Stop a runner's worker pool now. Left to the garbage collector, TVM's pool shuts down inside whatever
    runs then; when that is a new thread's start, both wait for each other forever (TVM's ``PopenPoolExecutor``
    warns of it, and a test run here hung on it)."""
    pool = getattr(runner, "pool", None)
    if pool is not None and not getattr(pool, "_shutdown", False):
        pool.shutdown()


def make_runner(settings: MeasureSettings):
    """MetaSchedule's runner for these settings: local (pinned to ``measure_cores`` when given) or through
    the RPC tracker. The local runner keeps one worker process across ``run`` calls; the RPC runner keeps
    ``rpc_workers``, each of which asks the tracker for a free server per program, so that a batch's programs
    are timed on that many servers at once."""
    from tvm.s_tir import meta_schedule as ms

    evaluator = ms.runner.EvaluatorConfig(
        number=settings.number, repeat=settings.repeat, min_repeat_ms=settings.min_repeat_ms,
        enable_cpu_cache_flush=settings.enable_cpu_cache_flush,
    )
    zero_integers = settings.integer_inputs == "zeros"
    if settings.rpc_tracker:
        host, _, port = settings.rpc_tracker.rpartition(":")
        rpc = ms.runner.RPCConfig(
            tracker_host=host, tracker_port=int(port), tracker_key=settings.rpc_key,
            session_timeout_sec=settings.rpc_session_timeout_s,
        )
        alloc = rpc_alloc_zero_integer_arguments if zero_integers else None
        return ms.runner.RPCRunner(rpc_config=rpc, evaluator_config=evaluator, max_workers=settings.rpc_workers,
                                   f_alloc_argument=alloc)
    alloc = alloc_zero_integer_arguments if zero_integers else None
    initializer = functools.partial(pinned_runner_init, settings.measure_cores) if settings.measure_cores \
        else builder_initializer
    return ms.runner.LocalRunner(timeout_sec=settings.run_timeout_s, evaluator_config=evaluator,
                                 initializer=initializer, f_alloc_argument=alloc)


def wait_for_rpc_servers(tracker: str, servers: dict[str, int], timeout_s: float = 120.0,
                         watch: tuple[int, ...] = (), log=print) -> None:
    """Wait until the tracker at ``tracker`` (``host:port``) has ``servers[key]`` free servers under each key.

    ``watch``: process ids (the servers) whose end stops the wait early. A RuntimeError says which keys are
    short when the time is up or a watched process ended; ``log`` gets a line whenever the count changes.
    """
    from tvm import rpc

    host, _, port = tracker.rpartition(":")
    deadline, seen = time.monotonic() + timeout_s, None
    while True:
        queues = rpc.connect_tracker(host, int(port)).summary()["queue_info"]
        free = {key: queues.get(key, {}).get("free", 0) for key in servers}
        if free != seen:
            log(f"RPC servers registered at {tracker}: {sum(free.values())} of {sum(servers.values())}")
            seen = free
        short = {key: f"{free[key]} of {count}" for key, count in servers.items() if free[key] < count}
        if not short:
            return
        ended = [pid for pid in watch if not _process_runs(pid)]
        if ended or time.monotonic() > deadline:
            why = f"process(es) {ended} ended" if ended else f"not within {timeout_s:.0f} s"
            raise RuntimeError(f"RPC servers at {tracker} did not register ({why}): free servers per key {short}")
        time.sleep(0.5)


def _process_runs(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def pinned_runner_init(cores: str) -> None:
    """The runner worker's start: pinned to ``cores``, TVM's thread pool one thread per core."""
    chosen = parse_cores(cores)
    os.sched_setaffinity(0, chosen)
    os.environ["TVM_NUM_THREADS"] = str(len(chosen))
    builder_initializer()


def parse_cores(cores: str | None, name: str = "cores") -> list[int]:
    """``"0-3,8"`` as ``[0, 1, 2, 3, 8]``; ``None`` or ``""`` as ``[]``. Cores this machine lacks are an error."""
    if not cores:
        return []
    chosen: set[int] = set()
    try:
        for part in cores.split(","):
            low, _, high = part.strip().partition("-")
            chosen.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise ValueError(f"{name}: {cores!r} is not a core list like '0-3' or '0,2,4'") from None
    available = os.sched_getaffinity(0)
    if not chosen or not chosen <= available:
        raise ValueError(f"{name}: {cores!r} names cores this process cannot use (it has {sorted(available)})")
    return sorted(chosen)


@contextlib.contextmanager
def quiet_machine():
    """Hold an exclusive lock on ``$TENSET_STUDY_MEASURE_LOCK`` (when set) while programs are timed.

    On a machine shared with other work, wrap heavy commands in ``flock -s "$TENSET_STUDY_MEASURE_LOCK" CMD``:
    they then wait while a measurement runs, and a measurement waits for them to finish, so that timings
    are not disturbed by compilers or tests running beside them. Without the variable this does nothing.
    """
    path = os.environ.get("TENSET_STUDY_MEASURE_LOCK")
    if not path:
        yield
        return
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _short(message: str, limit: int = 2000) -> str:
    """Keep the start and the end of a long error message."""
    message = str(message).strip()
    if len(message) <= limit:
        return message
    return message[: limit // 2] + "\n...\n" + message[-limit // 2 :]
