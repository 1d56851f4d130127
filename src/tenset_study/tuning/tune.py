"""Tuning a whole zoo network with MetaSchedule: :func:`tune_network`.

This is the engine of the transfer-tuning experiment: the same network is tuned with the same budget of
measured programs (trials) by MetaSchedule's own cost model and by ours (:class:`~tenset_study.tuning.cost_model.
ProjectCostModel`), and the compiled networks are timed (:mod:`tenset_study.tuning.compile`,
:mod:`tenset_study.tuning.timing`).

:func:`tune_network` exports the network to Relax and extracts its tasks with MetaSchedule
(:func:`~tenset_study.tuning.extraction.extract_tuning_tasks`), and tunes **all** of them with ``ms.tune_tasks``
(gradient task scheduler, evolutionary search) under a global budget of ``trials``. The MetaSchedule JSON database
and its logs stay in ``work_dir``, with the timeline of measured batches (:mod:`tenset_study.tuning.timeline`,
``tuning_timeline.json``); a :class:`~tenset_study.tuning.result.TuningResult` is returned and written to
``work_dir/tuning_result.json``.

**Every task is tuned.** On a CPU an untuned task runs naive (unscheduled) TIR, which can be slower than
all tuned kernels together, so end-to-end times would measure the tuning *coverage*, not its quality.
MetaSchedule's gradient scheduler first gives every task one search round of ``num_trials_per_iter``
trials and stops at the global budget, so :func:`tune_network` lowers ``num_trials_per_iter`` to
``trials // tasks`` when needed (the value used is recorded) and refuses budgets below one trial per task.
A task left without any valid measurement (all its candidates failed) gets one extra round of
``top_up_trials`` trials afterwards; those trials are counted in ``trials_measured`` and reported apart
as ``top_up_trials_measured``.

**Where the time goes.** ``tuning_seconds`` is the wall time of ``ms.tune_tasks`` (design-space generation,
search, building, running, cost-model updates; task extraction is ``extract_seconds``, not included).
``scoring_seconds`` is the time spent in the cost model's ``predict`` (feature extraction included) and
``update_seconds`` in its ``update``: read from the cost model's ``timing()`` (``ProjectCostModel`` keeps
these counters); MetaSchedule's named models ("xgb", "random") are wrapped in
:class:`~tenset_study.tuning.timed_model.TimedCostModel`, which keeps the same counters, so both sides of a
comparison report them. ``scoring_share`` = ``scoring_seconds / tuning_seconds``. Candidates are built in one
pool of workers kept for the whole run (:class:`~tenset_study.collect.builder.PersistentBuilder`), not a new
pool every round as MetaSchedule's ``LocalBuilder`` does: that start-up, paid every round whatever the
round's size, is no part of either cost model's cost.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..collect.measure import MeasureSettings, close_runner
from ..params import check_choice
from ..programs import targets, tvm_setup
from ..programs.database import RECORD_FILE, WORKLOAD_FILE, read_database
from .extraction import extract_tuning_tasks
from .result import RESULT_FILE, TIMELINE_FILE, TuningResult, utc_now, write_json
from .timed_model import cost_model_timing, make_cost_model
from .timeline import TuningTimeline

#: Runner settings of tuning runs: the dataset's (``MeasureSettings``' defaults), shared libraries linked in
#: the build workers, except that integer inputs are zeros so that index tensors stay in bounds and every
#: task can be tuned (see ``MeasureSettings.integer_inputs``).
DEFAULT_SETTINGS = MeasureSettings(integer_inputs="zeros")
#: How candidates can be built, recorded with every run as ``settings["builder"]``: ``persistent-pool``
#: (the default), MetaSchedule's build and export in one pool of workers kept for the whole run
#: (:class:`~tenset_study.collect.builder.PersistentBuilder`); ``local``, MetaSchedule's ``LocalBuilder``, which
#: starts new workers every search round (how runs recorded without the key were built).
BUILDERS = ("persistent-pool", "local")


def tune_network(network: str, target: dict | str, work_dir: str | os.PathLike, trials: int, cost_model="xgb", *,
                 trials_per_task: int | None = None, num_trials_per_iter: int = 64,
                 builder_workers: int | None = None, number: int | None = None, repeat: int | None = None,
                 min_repeat_ms: int | None = None, settings: MeasureSettings | None = None,
                 search: dict | None = None, layout: str = "NCHW", top_up_trials: int | None = None,
                 seed: int = 0, overwrite: bool = False, cost_model_label: str | None = None,
                 builder: str = "persistent-pool", progress: bool = True, verbose: bool = False) -> TuningResult:
    """Tune every task of a zoo network for ``target`` with a global budget of ``trials`` measured programs.

    Parameters
    ----------
    network: a zoo variant name (``tenset-study networks``), e.g. ``resnet_18-b1-224``.
    target: the TVM target as a dict or its JSON (``targets.cpu_target()``, ``targets.gpu_target("sm_90")``).
    work_dir: where the MetaSchedule JSON database, its logs, the timeline and the result are kept (a folder
        that already holds a database is refused unless ``overwrite``).
    trials: the global budget (``max_trials_global``); at least one per task.
    cost_model: ``"xgb"``, ``"random"`` or ``"mlp"`` (MetaSchedule's), a path to a model saved by
        ``tenset-study train`` (wrapped in ``ProjectCostModel``), or a cost-model object such as a
        ``ProjectCostModel``.
    trials_per_task: per-task limit (``max_trials_per_task``; default: no limit beyond the budget).
    num_trials_per_iter: trials per search round (lowered to ``trials // tasks`` so every task gets a round).
    builder_workers, number, repeat, min_repeat_ms: override the fields of ``settings`` (default
        :data:`DEFAULT_SETTINGS`, the dataset's runner settings; RPC settings are honoured too).
    search: keyword arguments of ``ms.search_strategy.EvolutionarySearch`` (default: MetaSchedule's).
    layout: ``NCHW`` or ``NHWC`` (:func:`tenset_study.collect.tasks.export_to_relax`).
    top_up_trials: trials of the extra round for tasks left without a valid measurement (default: the
        trials per round used; 0 disables it).
    seed: seeds the task contexts, the search and MetaSchedule's xgb / random models.
    builder: one of :data:`BUILDERS`.
    progress: a tqdm bar over the trials (stderr) with the network's estimated latency.
    verbose: MetaSchedule's INFO log on the console as well (it always goes to ``work_dir/logs``).
    """
    target = targets.checked_target(target)
    check_choice(builder, BUILDERS, "builder", "builder")
    _check_trials(trials, num_trials_per_iter, trials_per_task)
    settings = _settings(settings, builder_workers=builder_workers, number=number, repeat=repeat,
                         min_repeat_ms=min_repeat_ms)
    work_dir = Path(work_dir)
    num_cores = _tuning_cores(target)
    cost_model_obj, label = make_cost_model(cost_model, num_cores, seed)  # fails early on a missing model file

    start_extract = time.perf_counter()
    _, extracted, rows = extract_tuning_tasks(network, target, layout)
    extract_seconds = time.perf_counter() - start_extract
    per_iter = _trials_per_round(network, target, len(extracted), trials, num_trials_per_iter, trials_per_task)
    top_up = per_iter if top_up_trials is None else int(top_up_trials)

    work_dir.mkdir(parents=True, exist_ok=True)
    _clear_work_dir(work_dir, overwrite)
    session = _open_session(target, work_dir, settings, search, extracted, rows, num_cores, trials_per_task,
                            cost_model_obj, verbose, builder)
    try:
        run = _tune_all(session, network, trials, per_iter, top_up, seed, progress)
    finally:
        if hasattr(session.builder, "close"):  # the persistent pool's workers; LocalBuilder keeps none
            session.builder.close()
        close_runner(session.runner)
    record = {"trials_per_task": trials_per_task, "num_trials_per_iter": int(num_trials_per_iter),
              "num_trials_per_iter_used": int(per_iter), "top_up_trials": int(top_up), "layout": layout,
              "seed": int(seed), "search": dict(search or {}), "task_scheduler": "gradient",
              "num_threads": int(num_cores), "runner": settings.as_dict(), "builder": builder}
    result = _tuning_result(session, network, target, trials, cost_model_label or label, run, record,
                            extract_seconds)
    write_json(work_dir / TIMELINE_FILE, {"started_at": run["started_at"], "tuning_seconds": run["tuning_seconds"],
                                          "batches": session.timeline.batches})
    result.save()
    return result


# --- the steps of tune_network ------------------------------------------------------------------------------


def _check_trials(trials: int, num_trials_per_iter: int, trials_per_task: int | None) -> None:
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if num_trials_per_iter < 1:
        raise ValueError(f"num_trials_per_iter must be >= 1, got {num_trials_per_iter}")
    if trials_per_task is not None and trials_per_task < 1:
        raise ValueError(f"trials_per_task must be >= 1, got {trials_per_task}")


def _settings(settings: MeasureSettings | None, **overrides) -> MeasureSettings:
    base = asdict(settings or DEFAULT_SETTINGS)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return MeasureSettings(**base)


def _tuning_cores(target: dict) -> int:
    """Threads of the tuning contexts and of MetaSchedule's xgb: the target's ``num-cores`` on a CPU, else this
    machine's physical cores."""
    num_cores = targets.physical_cores()
    if targets.target_kind(target) == "cpu" and target.get("num-cores"):
        num_cores = int(target["num-cores"])
    return num_cores


def _trials_per_round(network: str, target: dict, n_tasks: int, trials: int, num_trials_per_iter: int,
                      trials_per_task: int | None) -> int:
    """``num_trials_per_iter`` lowered so that every task gets a round within the budget."""
    if not n_tasks:
        raise ValueError(f"{network}: no tunable tasks for target {target}")
    if trials < n_tasks:
        raise ValueError(f"{network} has {n_tasks} tasks: a budget of {trials} trials cannot tune every task "
                         f"(at least {n_tasks} needed)")
    per_iter = min(num_trials_per_iter, trials // n_tasks)
    if trials_per_task is not None:
        per_iter = min(per_iter, trials_per_task)
    return per_iter


def _clear_work_dir(work_dir: Path, overwrite: bool) -> None:
    existing = [work_dir / name for name in (WORKLOAD_FILE, RECORD_FILE, RESULT_FILE, TIMELINE_FILE)]
    if any(p.exists() for p in existing):
        if not overwrite:
            raise ValueError(f"{work_dir} already holds a tuning database; pick a new work dir or pass overwrite")
        for p in existing:
            p.unlink(missing_ok=True)
        shutil.rmtree(work_dir / "logs", ignore_errors=True)


def _console_level(logger: logging.Logger, verbose: bool) -> None:
    """MetaSchedule logs every batch's statistics table to the console at INFO level: keep its console
    handler at WARNING (the log files in ``work_dir/logs`` keep everything)."""
    for handler in logger.handlers:
        if handler.get_name() == "tvm.s_tir.meta_schedule.console":
            handler.setLevel(logging.INFO if verbose else logging.WARNING)


@dataclass
class _Session:
    """What every ``ms.tune_tasks`` call of one :func:`tune_network` run shares."""

    extracted: list
    rows: list[dict]
    work_dir: Path
    num_cores: int
    trials_per_task: int | None
    cost_model: object
    builder: object
    runner: object
    database: object
    strategy: object
    verbose: bool
    timeline: TuningTimeline | None = None
    callbacks: list | None = None

    def tune(self, selected: list[int], budget: int, round_trials: int, seed: int) -> None:
        """``ms.tune_tasks`` on the tasks at ``selected`` with a global budget and trials per round."""
        from tvm.s_tir import meta_schedule as ms

        with tvm_setup.metaschedule_logging() as logger:
            logger.setLevel(logging.INFO if self.verbose else logging.WARNING)  # the level its console handler gets
            contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
                [self.extracted[i] for i in selected], work_dir=str(self.work_dir), strategy=self.strategy,
                num_threads=self.num_cores, seed=seed,
            )
            self.timeline.use_tasks([self.rows[i]["task_name"] for i in selected],
                                    [self.rows[i]["weight"] for i in selected])
            _console_level(logger, self.verbose)
            ms.tune_tasks(
                tasks=contexts, task_weights=weights, work_dir=str(self.work_dir), max_trials_global=budget,
                max_trials_per_task=self.trials_per_task or budget, num_trials_per_iter=round_trials,
                builder=self.builder, runner=self.runner, database=self.database,
                cost_model=self.cost_model, measure_callbacks=self.callbacks,
                task_scheduler=ms.task_scheduler.GradientBased(seed=seed),
            )


def _open_session(target: dict, work_dir: Path, settings: MeasureSettings, search: dict | None, extracted: list,
                  rows: list[dict], num_cores: int, trials_per_task: int | None, cost_model,
                  verbose: bool, builder: str = "persistent-pool") -> _Session:
    """The builder and runner, the JSON database in ``work_dir`` and the search strategy of a run."""
    from tvm.s_tir import meta_schedule as ms

    from ..collect.builder import persistent_builder
    from ..collect.measure import local_builder, make_runner
    if builder == "local":
        builder_obj = local_builder(settings)  # new workers every round
    else:
        builder_obj = persistent_builder(settings)
    database = ms.database.JSONDatabase(work_dir=str(work_dir))
    strategy = ms.search_strategy.EvolutionarySearch(**search) if search else "evolutionary"
    return _Session(extracted, rows, work_dir, num_cores, trials_per_task, cost_model, builder_obj, make_runner(settings),
                    database, strategy, verbose)


def _tune_all(session: _Session, network: str, trials: int, per_iter: int, top_up: int, seed: int,
              progress: bool) -> dict:
    """Tune every task, then give one more round to each task left without a valid measurement. Returns
    ``started_at``, ``finished_at``, ``load_at_start``, ``tuning_seconds``, ``main_trials`` (before the
    top-up round) and ``profile`` (MetaSchedule's profiler: seconds per scope)."""
    from tvm.s_tir import meta_schedule as ms
    from tqdm import tqdm

    rows = session.rows
    bar = tqdm(total=trials, desc=f"tuning {network}", unit="trial", disable=not progress, file=sys.stderr)
    started_at = utc_now()
    load_at_start = list(os.getloadavg())
    start = time.perf_counter()
    session.timeline = TuningTimeline(start, bar)
    session.timeline.use_tasks([r["task_name"] for r in rows], [r["weight"] for r in rows])
    session.callbacks = list(ms.measure_callback.MeasureCallback.create("default")) + [session.timeline]
    profiler = ms.Profiler()  # seconds per phase of the search (tuning/phases.py groups its scopes)
    try:
        with profiler:
            session.tune(list(range(len(rows))), trials, per_iter, seed)
            main_trials = sum(b["records"] for b in session.timeline.batches)
            missing = [i for i, r in enumerate(rows) if r["task_name"] not in session.timeline.best]
            if missing and top_up > 0:
                if progress:
                    bar.write(f"{len(missing)} task(s) without a valid measurement: one more round of {top_up} "
                              "trials each")
                bar.total = trials + top_up * len(missing)
                session.tune(missing, top_up * len(missing), top_up, seed + 1)
    finally:
        tuning_seconds = time.perf_counter() - start
        bar.close()
    return {"started_at": started_at, "finished_at": utc_now(), "load_at_start": load_at_start,
            "tuning_seconds": tuning_seconds, "main_trials": main_trials,
            "profile": {str(k): float(v) for k, v in profiler.get().items()}}


def _tuning_result(session: _Session, network: str, target: dict, trials: int, label: str, run: dict,
                   settings: dict, extract_seconds: float) -> TuningResult:
    """The :class:`TuningResult` of a finished run (``run``: what :func:`_tune_all` returned)."""
    summary = _task_summary(session.work_dir, session.rows)
    measured = sum(t["trials"] for t in summary)
    timing = cost_model_timing(session.cost_model)
    return TuningResult(
        network=network, target=targets.target_json(target), cost_model=label,
        trials=int(trials), trials_measured=int(measured), valid_trials=int(sum(t["valid_trials"] for t in summary)),
        tuning_seconds=float(run["tuning_seconds"]),
        scoring_seconds=None if timing is None else float(timing.get("predict_seconds", 0.0)),
        update_seconds=None if timing is None else float(timing.get("update_seconds", 0.0)),
        work_dir=str(session.work_dir), tasks=summary, started_at=run["started_at"], finished_at=run["finished_at"],
        tvm_version=_tvm_version(), extract_seconds=float(extract_seconds),
        top_up_trials_measured=int(measured - run["main_trials"]), settings=settings,
        cost_model_timing=timing, load_average={"start": run["load_at_start"], "end": list(os.getloadavg())},
        profile=run.get("profile", {}),
    )


def _task_summary(work_dir: Path, rows: list[dict]) -> list[dict]:
    """Per task row: trials and valid trials in the database, and the best latency (None when none is valid)."""
    _, records = read_database(work_dir)
    out = []
    for row in rows:
        mine = records[records["workload_shash"] == row["workload_shash"]]
        valid = mine["latency_s"].dropna()
        out.append({**row, "trials": int(len(mine)), "valid_trials": int(len(valid)),
                    "best_latency_s": float(valid.min()) if len(valid) else None})
    return out


def _tvm_version() -> str:
    import tvm

    return str(tvm.__version__)


__all__ = ["DEFAULT_SETTINGS", "tune_network"]
