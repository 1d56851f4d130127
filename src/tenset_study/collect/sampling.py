"""Random programs from MetaSchedule's design space.

TenSet measured random programs: Ansor's sketches with random annotations. The MetaSchedule analogue is
its design space (the traces that the default schedule rules generate for a task, its "sketches") with
every sampling instruction (tile sizes, unroll factors, compute locations) decided at random, followed
by the postprocessors that turn annotations into parallel / vectorized / unrolled loops. This is what
MetaSchedule's ``replay-trace`` search strategy does; here it is a plain function with a seed, so the
same call gives the same programs on any machine.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from ..programs.traces import trace_json


@dataclass
class DesignSpace:
    """A task's design space: the sketches' traces (decisions dropped) and the postprocessors."""

    mod: object
    sketches: list
    postprocs: list

    @classmethod
    def of(cls, mod, target, seed: int = 1) -> "DesignSpace":
        """Generate the design space with MetaSchedule's default rules for ``target``."""
        from tvm import s_tir
        from tvm.s_tir import meta_schedule as ms

        ctx = ms.TuneContext(
            mod=mod, target=target, space_generator="post-order-apply", search_strategy="replay-trace",
            task_name="sample", num_threads=1, rand_state=seed,
        )
        spaces = ctx.space_generator.generate_design_space(mod)
        sketches = [s_tir.Trace(space.trace.insts, {}) for space in spaces]
        return cls(mod=mod, sketches=sketches, postprocs=list(ctx.space_generator.postprocs))

    def sample(self, seed: int):
        """One random program (a Schedule) from sketch and decisions chosen by ``seed``; None if invalid."""
        from tvm import s_tir

        rng = random.Random(seed)
        sketch = self.sketches[rng.randrange(len(self.sketches))]
        sch = s_tir.Schedule(self.mod, seed=rng.randint(1, 2**31 - 1), debug_mask=0, error_render_level="none")
        try:
            sketch.apply_to_schedule(sch, remove_postproc=True)
            sch.enter_postproc()
            if not all(postproc.apply(sch) for postproc in self.postprocs):
                return None
        except Exception:  # noqa: BLE001 - TVM raises ScheduleError for invalid random decisions
            return None
        return sch


def sample_programs(space: DesignSpace, count: int, seed: int, max_attempts: int | None = None) -> Iterator[str]:
    """Yield up to ``count`` distinct random traces (JSON) of a design space, deterministically from ``seed``.

    Invalid samples (a postprocessor rejects them) and repeats are skipped; at most ``max_attempts``
    samples are drawn (default ``8 * count + 16``), so a tiny design space yields fewer programs.
    """
    seen: set[str] = set()
    attempts = max_attempts if max_attempts is not None else 8 * count + 16
    rng = random.Random(seed)
    for _ in range(attempts):
        if len(seen) >= count:
            return
        sch = space.sample(rng.randint(0, 2**63 - 1))
        if sch is None:
            continue
        text = trace_json(sch.trace)
        if text not in seen:
            seen.add(text)
            yield text


@dataclass(frozen=True)
class SamplingJob:
    """One task's sampling request, picklable so that worker processes can run it."""

    task: str
    workload: str  # the task's IRModule as TVM JSON (the ``workload`` column)
    target: dict
    count: int
    seed: int
    max_attempts: int


def run_sampling_job(job: SamplingJob) -> tuple[str, list[str]]:
    """Sample ``job.count`` distinct random traces of one task (in a worker process or in this one)."""
    from ..programs.tvm_setup import prepare_tvm
    from ..programs.targets import make_target, target_kind
    from ..programs.workload import load_workload

    prepare_tvm(target_kind(job.target))
    space = DesignSpace.of(load_workload(job.workload), make_target(job.target), seed=1)
    return job.task, list(sample_programs(space, job.count, seed=job.seed, max_attempts=job.max_attempts))


def run_sampling_jobs(jobs: list[SamplingJob], workers: int = 1,
                      deadline: float | None = None) -> Iterator[tuple[str, list[str]]]:
    """Run sampling jobs, in ``workers`` processes when more than one; yields ``(task, traces)`` as they finish.

    Every job is deterministic in its seed, so the result does not depend on ``workers`` or on order.
    ``deadline`` (a ``time.monotonic()`` value) stops the run: no job starts after it, and with worker
    processes the unfinished jobs are abandoned and the workers ended, so the caller keeps what finished.
    """
    import time

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            if deadline is not None and time.monotonic() > deadline:
                return
            yield run_sampling_job(job)
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # spawn, not fork: TVM's runtime holds threads that a forked child must not inherit.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        remaining = {pool.submit(run_sampling_job, job) for job in jobs}
        while remaining:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, remaining = wait(remaining, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
            if deadline is not None and time.monotonic() > deadline:
                return
    finally:
        processes = list((pool._processes or {}).values())  # noqa: SLF001 - no public way to end busy workers
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
