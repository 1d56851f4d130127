"""MetaSchedule's per-store program features: TenSet's 164 features, for the programs of a dataset.

TenSet's XGBoost and MLP baselines read Ansor's program features: one vector of 164 numbers for every
buffer store of the scheduled program (loop structure around the store, arithmetic counts, memory
access patterns and reuse of each buffer touched, arithmetic intensity curve, allocations, outer loop
extents). TVM 0.27 computes the same features for MetaSchedule programs with
``tvm.s_tir.meta_schedule.feature_extractor.PerStoreFeature``. Getting them needs the scheduled program,
so each trace is replayed on its task's workload (:func:`tenset_study.programs.traces.schedule_from_trace`)
and handed to the extractor as a ``MeasureCandidate`` with a ``TuneContext`` of the task's target.

TVM 0.27 has no Ansor feature extractor, so programs with encoding ``ansor`` (TenSet imports) raise
:class:`PerStoreError`; use :mod:`tenset_study.features.tokens` for them.

A program has as many per-store vectors as stores (1-4 on ``data/default``). A fixed-size vector per
program (:func:`pool_stores`, ``POOLED_WIDTH`` = 1 + 3 x 164 columns, named in
:data:`POOLED_FEATURE_NAMES`) is ``[log2(1 + number of stores), sum over stores, mean over stores,
max over stores]``: the sum is what TenSet's per-store models add up (they predict per store and sum),
the mean and max keep programs with different numbers of stores comparable. A program without stores
gives zeros; a program whose replay or extraction fails gives a row of NaN (and a warning), so one bad
trace does not stop an hour of extraction.

Models that read a program as a set of stores (``ours``) get the unpooled rows from :func:`program_store_sets`
(cached as ``perstore-sets``): ``[N, S, 1 + 164]``, S the most stores of a program, column 0 flagging a real
store (1) against padding (0), a failed program a first row of NaN (:func:`pad_stores`, :func:`split_sets`).
The pooled features are computed from the same cached sets, so a dataset is featurized once for both.

Cost, measured on this project's 2-core machine: replaying a trace takes 3-12 ms and extraction 2-6 ms
per program. Work is split into jobs of up to ``batch_size`` programs of one task and run in worker
processes (spawn: TVM must not be forked) with a progress bar. CUDA tensor intrinsics take about 15 s
to register, so a worker registers them only when a GPU trace fails to replay without them.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..programs.workload import WORKLOAD_FORMAT

PERSTORE_VERSION = 1
SETS_VERSION = 1
PERSTORE_WIDTH = 164
POOLS = ("sum", "mean", "max")
POOLED_WIDTH = 1 + len(POOLS) * PERSTORE_WIDTH
POOLED_FEATURE_NAMES: tuple[str, ...] = (
    "log2_stores", *(f"{pool}_{i}" for pool in POOLS for i in range(PERSTORE_WIDTH)),
)
DEFAULT_BATCH_SIZE = 64


class PerStoreError(ValueError):
    """Per-store features cannot be computed for these programs (Ansor encoding, no replayable workload)."""


@dataclass(frozen=True)
class PerStoreJob:
    """Programs of one task to featurize, picklable so that a worker process can run it."""

    task: str
    kind: str  # cpu or gpu
    target: str  # the task's target, JSON
    workload: str  # the task's IRModule, TVM JSON
    traces: tuple[str, ...]


# --- in a worker -------------------------------------------------------------------------------------

_CONTEXTS: dict[str, tuple] = {}  # task -> (IRModule, TuneContext), a few per worker process
_CONTEXTS_KEPT = 8


def _context(job: PerStoreJob) -> tuple:
    """The task's IRModule and a ``TuneContext`` for its target (kept for the next job of the task)."""
    if job.task not in _CONTEXTS:
        from tvm.s_tir import meta_schedule as ms

        from ..programs.targets import make_target
        from ..programs.workload import load_workload

        if len(_CONTEXTS) >= _CONTEXTS_KEPT:
            _CONTEXTS.pop(next(iter(_CONTEXTS)))
        mod = load_workload(job.workload)
        _CONTEXTS[job.task] = (mod, ms.TuneContext(mod=mod, target=make_target(job.target), num_threads=1))
    return _CONTEXTS[job.task]


_GPU_READY = False  # whether this process registered the CUDA tensor intrinsics


def _replay(mod, trace: str, kind: str):
    """The scheduled program of a trace; registers the GPU tensor intrinsics on demand and retries."""
    global _GPU_READY
    from ..programs.traces import schedule_from_trace
    from ..programs.tvm_setup import prepare_tvm

    try:
        return schedule_from_trace(mod, trace)
    except Exception:  # noqa: BLE001 - TVM raises many error types; a GPU trace may need CUDA intrinsics
        if kind != "gpu" or _GPU_READY:
            raise
    prepare_tvm("gpu")
    _GPU_READY = True
    return schedule_from_trace(mod, trace)


def _candidate(mod, trace: str, kind: str):
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    sch = _replay(mod, trace, kind)
    return ms.MeasureCandidate(sch, ArgInfo.from_entry_func(sch.mod, remove_preproc=True))


def extract_job(job: PerStoreJob) -> list[np.ndarray | None]:
    """Per-store features of a job's programs: one ``(stores, 164)`` float32 array each, None on failure."""
    from tvm.s_tir.meta_schedule.feature_extractor import PerStoreFeature

    from ..programs.tvm_setup import prepare_tvm

    prepare_tvm("cpu")  # the CPU intrinsics (0.5 s); the CUDA ones only when a trace needs them
    mod, ctx = _context(job)
    extractor = PerStoreFeature()
    results: list[np.ndarray | None] = [None] * len(job.traces)
    candidates, slots = [], []
    for i, trace in enumerate(job.traces):
        try:
            candidates.append(_candidate(mod, trace, job.kind))
            slots.append(i)
        except Exception:  # noqa: BLE001 - a trace that does not replay gets no features
            continue
    if not candidates:
        return results
    try:
        arrays = [a.numpy() for a in extractor.extract_from(ctx, candidates)]
    except Exception:  # noqa: BLE001 - find the failing candidate(s) one by one
        arrays = [_extract_one(extractor, ctx, c) for c in candidates]
    for i, array in zip(slots, arrays):
        results[i] = None if array is None else np.asarray(array, dtype=np.float32).reshape(-1, PERSTORE_WIDTH)
    return results


def _extract_one(extractor, ctx, candidate) -> np.ndarray | None:
    try:
        return extractor.extract_from(ctx, [candidate])[0].numpy()
    except Exception:  # noqa: BLE001
        return None


# --- in the caller -----------------------------------------------------------------------------------


def _check_programs(programs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    """Raise :class:`PerStoreError` for programs that have no per-store features in TVM 0.27."""
    if "encoding" in programs.columns:
        ansor = int((programs["encoding"] != "metaschedule").sum())
        if ansor:
            raise PerStoreError(
                f"{ansor} of {len(programs)} program(s) are not MetaSchedule traces (encoding "
                f"{sorted(set(programs['encoding']) - {'metaschedule'})}); TVM 0.27 has no Ansor feature "
                "extractor, so per-store features exist only for MetaSchedule programs. Use schedule tokens "
                "(tenset_study.features.tokens) for these programs."
            )
    missing = set(programs["task"]) - set(tasks.index)
    if missing:
        raise PerStoreError(
            f"{len(missing)} task(s) of these programs are not in the tasks table, e.g. {sorted(missing)[:3]}"
        )
    used = tasks.loc[sorted(set(programs["task"]))]
    bad = used[used["workload_format"] != WORKLOAD_FORMAT]
    if len(bad):
        raise PerStoreError(
            f"{len(bad)} task(s) have no replayable workload (workload_format {sorted(set(bad['workload_format']))}, "
            f"needed {WORKLOAD_FORMAT!r}), e.g. {list(bad.index[:3])}"
        )


def plan_jobs(programs: pd.DataFrame, tasks: pd.DataFrame,
              batch_size: int = DEFAULT_BATCH_SIZE) -> list[tuple[PerStoreJob, np.ndarray]]:
    """Jobs of up to ``batch_size`` programs of one task, each with the row positions it covers."""
    tasks = tasks.set_index("task") if "task" in tasks.columns else tasks
    _check_programs(programs, tasks)
    plan = []
    traces = programs["trace"].to_numpy(dtype=object)
    for task, positions in programs.groupby("task", sort=False).indices.items():
        row = tasks.loc[task]
        for start in range(0, len(positions), batch_size):
            chunk = positions[start : start + batch_size]
            job = PerStoreJob(task=task, kind=row["kind"], target=row["target"], workload=row["workload"],
                              traces=tuple(traces[chunk]))
            plan.append((job, chunk))
    return plan


def _run(jobs: list[PerStoreJob], workers: int) -> Iterator[tuple[int, list[np.ndarray | None]]]:
    """Run jobs here or in ``workers`` spawned processes; yields ``(job index, result)`` as they finish."""
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            yield i, extract_job(job)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: TVM's runtime holds threads that a forked child must not inherit.
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(extract_job, job): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            yield futures[future], future.result()


# Below this many programs to featurize, worker processes cost more to start (each imports TVM) than they save.
MIN_PROGRAMS_FOR_WORKERS = 4000


def auto_workers(programs: int) -> int:
    """Processes for featurizing ``programs`` programs when none are asked for: one for a few thousand, else
    one per CPU core (at most 8)."""
    return 1 if programs < MIN_PROGRAMS_FOR_WORKERS else max(1, min(8, os.cpu_count() or 1))


def perstore_arrays(ds: Dataset, programs: pd.DataFrame, workers: int | None = None,
                    batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = True) -> list[np.ndarray | None]:
    """Raw per-store features of programs: a ``(stores, 164)`` array per program, in the frame's order.

    Parameters
    ----------
    ds: the dataset holding the programs' tasks.
    programs: rows of ``programs`` (columns ``task``, ``trace`` and, to check it, ``encoding``).
    workers: processes (1: in this process; None: :func:`auto_workers`).
    batch_size: programs per job (all of one task).
    progress: show a progress bar.

    Returns
    -------
    One float32 array per program; None where the trace did not replay or extraction failed.
    Raises :class:`PerStoreError` for Ansor programs and tasks without a replayable workload.
    """
    from tqdm import tqdm

    results: list[np.ndarray | None] = [None] * len(programs)
    if len(programs) == 0:
        return results
    tasks = ds.to_pandas("tasks", columns=["task", "kind", "target", "workload_format", "workload"])
    plan = plan_jobs(programs.reset_index(drop=True), tasks, batch_size)
    workers = auto_workers(len(programs)) if workers is None else workers
    with tqdm(total=len(programs), desc="per-store features", unit="prog", disable=not progress) as bar:
        for i, arrays in _run([job for job, _ in plan], workers):
            for position, array in zip(plan[i][1], arrays):
                results[position] = array
            bar.update(len(arrays))
    failed = sum(r is None for r in results)
    if failed:
        warnings.warn(f"per-store features: {failed} of {len(programs)} program(s) failed to replay or extract "
                      "(their pooled rows are NaN)", stacklevel=2)
    return results


def pool_stores(arrays: Iterable[np.ndarray | None]) -> np.ndarray:
    """Pooled per-program vectors ``[log2(1 + stores), sum, mean, max]`` (``[N, POOLED_WIDTH]``, float32).

    A program without stores gives zeros; a None (failed) program gives NaN.
    """
    rows = []
    for array in arrays:
        if array is None:
            rows.append(np.full(POOLED_WIDTH, np.nan, dtype=np.float32))
        elif len(array) == 0:
            rows.append(np.zeros(POOLED_WIDTH, dtype=np.float32))
        else:
            rows.append(np.concatenate([[math.log2(1 + len(array))], array.sum(0), array.mean(0), array.max(0)]))
    return np.asarray(rows, dtype=np.float32).reshape(-1, POOLED_WIDTH)


def perstore_features(ds: Dataset, programs: pd.DataFrame, workers: int | None = None,
                      batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = True) -> np.ndarray:
    """Pooled per-store features ``[N, POOLED_WIDTH]`` of programs (not cached; see :func:`program_perstore`).

    Parameters as in :func:`perstore_arrays`; rows follow the frame's order.
    """
    return pool_stores(perstore_arrays(ds, programs, workers, batch_size, progress))


def program_perstore(ds: Dataset, workers: int | None = None, program_ids: Iterable[str] | None = None,
                     progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pooled per-store features of a dataset's programs, computed once and cached on disk.

    Parameters
    ----------
    ds: the dataset (its programs must all be MetaSchedule traces).
    workers: processes used for programs not yet cached (None: :func:`auto_workers`).
    program_ids: the programs wanted, in this order (default: all, in table order). Every program of
        the dataset is featurized either way; call :func:`perstore_features` for a sample.
    progress: show a progress bar while computing.

    Returns
    -------
    ``(program_ids, features)``: ids ``[N]`` and float32 ``[N, POOLED_WIDTH]``.
    """
    from .cache import cached_program_features

    def compute(programs: pd.DataFrame) -> np.ndarray:  # pooled from the cached sets: one extraction for both
        _, sets = program_store_sets(ds, workers=workers, program_ids=programs["program"], progress=progress)
        return pool_stores(unpad_sets(sets))

    return cached_program_features(
        ds, "perstore", PERSTORE_VERSION, compute,
        program_ids=program_ids, columns=("program", "task", "encoding", "trace"), depends_on=("tasks",),
    )


def pad_stores(arrays: Iterable[np.ndarray | None]) -> np.ndarray:
    """Per-store rows of programs padded to one array ``[N, S, 1 + 164]`` (float32; S = most stores, at least 1).

    Column 0 is 1 for a real store and 0 for padding (the rest of a padding row is 0); a failed program (None)
    has NaN in its first row. :func:`split_sets` and :func:`unpad_sets` read it back.
    """
    arrays = list(arrays)
    most = max([1, *(len(a) for a in arrays if a is not None)])
    out = np.zeros((len(arrays), most, 1 + PERSTORE_WIDTH), dtype=np.float32)
    for i, array in enumerate(arrays):
        if array is None:
            out[i, 0] = np.nan
        elif len(array):
            out[i, : len(array), 0] = 1.0
            out[i, : len(array), 1:] = array
    return out


def split_sets(sets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(stores [N, S, 164], counts [N], failed [N])`` of :func:`pad_stores`' array; a failed program's rows are
    zeros and its count 0."""
    failed = np.isnan(sets[:, 0, 0]) if len(sets) else np.zeros(0, dtype=bool)
    flags = np.nan_to_num(sets[:, :, 0])
    return np.nan_to_num(sets[:, :, 1:]), flags.sum(axis=1).astype(np.int64), failed


def unpad_sets(sets: np.ndarray) -> list[np.ndarray | None]:
    """The per-program ``(stores, 164)`` arrays of :func:`pad_stores`' array (None for a failed program)."""
    stores, counts, failed = split_sets(sets)
    return [None if bad else stores[i, :count] for i, (count, bad) in enumerate(zip(counts, failed))]


def program_store_sets(ds: Dataset, workers: int | None = None, program_ids: Iterable[str] | None = None,
                       progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Unpooled per-store features of a dataset's programs, computed once and cached on disk (``perstore-sets``).

    Parameters as in :func:`program_perstore`. Returns ``(program_ids, sets)``: ids ``[N]`` and the float32
    ``[N, S, 1 + 164]`` array of :func:`pad_stores` (parts cached with fewer stores are padded to S).
    Raises :class:`PerStoreError` for Ansor programs.
    """
    from .cache import cached_program_features

    return cached_program_features(
        ds, "perstore-sets", SETS_VERSION,
        lambda programs: pad_stores(perstore_arrays(ds, programs, workers=workers, progress=progress)),
        program_ids=program_ids, columns=("program", "task", "encoding", "trace"), depends_on=("tasks",),
    )
