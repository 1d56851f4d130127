"""Tuning a whole zoo network with MetaSchedule, its tuning curve, and timing the tuned network end to end.

This is the engine of the transfer-tuning experiment: the same network is tuned with the same budget of
measured programs (trials) by MetaSchedule's own cost model and by ours (:class:`~tenset_study.tuning.cost_model.
ProjectCostModel`), and the compiled networks are timed.

* :func:`tune_network` exports the network to Relax (:func:`tenset_study.collect.tasks.export_to_relax`), extracts
  its tasks with MetaSchedule, and tunes **all** of them with ``ms.tune_tasks`` (gradient task scheduler,
  evolutionary search) under a global budget of ``trials``. The MetaSchedule JSON database and its logs
  stay in ``work_dir``; a :class:`TuningResult` is returned and written to ``work_dir/tuning_result.json``.
* :func:`tuning_curve` reads the database back in commit order: the network's estimated latency (sum over
  tasks of weight x best latency so far) against trials and against tuning seconds.
* :func:`compile_with_database` builds the network with the database's best schedules;
  :func:`time_network` runs it in the Relax VM on random inputs with ``time_evaluator``;
  :func:`export_compiled` and :func:`time_in_fresh_process` do the same in a new process.

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
these counters); MetaSchedule's named models ("xgb", "random") are wrapped in :class:`TimedCostModel`,
which keeps the same counters, so both sides of a comparison report them. ``scoring_share`` =
``scoring_seconds / tuning_seconds``.

**Timestamps.** MetaSchedule's JSON database stores none. A measure callback added after MetaSchedule's
own (which commit the batch to the database and update the cost model) records, for every measured
batch, the seconds since tuning started, the task and the number of records; it is written to
``work_dir/tuning_timeline.json``. :func:`tuning_curve` gives each record the time its batch was committed.
For a database without a timeline (tuned elsewhere), records are spread evenly over the tuning wall time
(``tuning_seconds`` of ``tuning_result.json`` or the argument): record ``i`` of ``n`` at
``tuning_seconds * (i + 1) / n`` (column ``time_source`` says which was used).

**Latencies.** A record's latency is the mean of its repeats (as in the dataset,
:mod:`tenset_study.data.records`; MetaSchedule's own log tables use the median). A record with no repeats or
MetaSchedule's failure value (1e10 s) is invalid.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.cost_model import PyCostModel
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

from ..programs import targets, tvm_setup
from ..collect.measure import MeasureSettings
from ..data.files import write_text_atomic
from ..programs.database import RECORD_FILE, WORKLOAD_FILE, read_database
from .cost_model import result_latency

RESULT_FILE = "tuning_result.json"
TIMELINE_FILE = "tuning_timeline.json"
#: Runner settings of tuning runs: the dataset's (``MeasureSettings``' defaults), shared libraries linked in
#: the build workers, except that integer inputs are zeros so that index tensors stay in bounds and every
#: task can be tuned (see ``MeasureSettings.integer_inputs``).
DEFAULT_SETTINGS = MeasureSettings(integer_inputs="zeros")
#: MetaSchedule's named cost models that :func:`tune_network` accepts.
NAMED_COST_MODELS = ("xgb", "random", "mlp")


# --- results ------------------------------------------------------------------------------------------------


@dataclass
class TuningResult:
    """What one :func:`tune_network` run did (written to ``work_dir/tuning_result.json``).

    ``tasks`` has one entry per tuned task: ``task`` (the dataset's task id), ``task_name``, ``weight``,
    ``workload_shash`` (the database's key), ``flops``, ``trials``, ``valid_trials`` and
    ``best_latency_s`` (None when no measurement succeeded). ``load_average``: the machine's 1-, 5- and
    15-minute load averages at the ``start`` and ``end`` of tuning (other work on a shared machine inflates
    ``tuning_seconds``; the end's 15-minute figure covers most of a long run).
    """

    network: str
    target: str
    cost_model: str
    trials: int
    trials_measured: int
    valid_trials: int
    tuning_seconds: float
    scoring_seconds: float | None
    update_seconds: float | None
    work_dir: str
    tasks: list[dict]
    started_at: str
    finished_at: str
    tvm_version: str
    extract_seconds: float = 0.0
    top_up_trials_measured: int = 0
    settings: dict = field(default_factory=dict)
    cost_model_timing: dict | None = None
    load_average: dict | None = None

    @property
    def estimated_latency_s(self) -> float | None:
        """Sum over tasks of weight x best latency (None while a task has no valid measurement)."""
        best = [t["best_latency_s"] for t in self.tasks]
        if not best or any(b is None for b in best):
            return None
        return float(sum(t["weight"] * t["best_latency_s"] for t in self.tasks))

    @property
    def scoring_share(self) -> float | None:
        """Share of the tuning wall time spent scoring candidates."""
        if self.scoring_seconds is None or not self.tuning_seconds:
            return None
        return self.scoring_seconds / self.tuning_seconds

    @property
    def untuned_tasks(self) -> list[str]:
        """Names of tasks without any valid measurement."""
        return [t["task_name"] for t in self.tasks if t["best_latency_s"] is None]

    def as_dict(self) -> dict:
        out = asdict(self)
        out.update(estimated_latency_s=self.estimated_latency_s, scoring_share=self.scoring_share,
                   untuned_tasks=self.untuned_tasks)
        return out

    def save(self, path: str | os.PathLike | None = None) -> Path:
        path = Path(path) if path is not None else Path(self.work_dir) / RESULT_FILE
        _write_json(path, self.as_dict())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TuningResult":
        """Read a result written by :meth:`save` (a work dir or the JSON file)."""
        path = Path(path)
        if path.is_dir():
            path = path / RESULT_FILE
        data = json.loads(path.read_text())
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class CompiledNetwork:
    """A network built with a tuning database, ready for :func:`time_network`."""

    network: str
    target: dict
    executable: object
    inputs: list[tuple[tuple[int, ...], str]]
    compile_seconds: float
    functions: int
    functions_tuned: int
    untuned_functions: list[str]


# --- cost models ------------------------------------------------------------------------------------------


@derived_object
class TimedCostModel(PyCostModel):
    """A MetaSchedule cost model (e.g. ``ms.CostModel.create("xgb")``) with time counters.

    Every call is passed on unchanged; :meth:`timing` gives the same counters as ``ProjectCostModel``'s
    (``predict_calls``, ``predict_seconds``, ``candidates_scored``, ``update_calls``, ``update_seconds``,
    ``candidates_per_s``), so the share of tuning time spent scoring compares across cost models.
    """

    def __init__(self, inner) -> None:
        super().__init__()
        self.inner = inner
        self._counters = {"predict_calls": 0, "predict_seconds": 0.0, "candidates_scored": 0,
                          "update_calls": 0, "update_seconds": 0.0}

    def load(self, path: str) -> None:
        self.inner.load(path)

    def save(self, path: str) -> None:
        self.inner.save(path)

    def update(self, context, candidates, results) -> None:
        start = time.perf_counter()
        self.inner.update(context, candidates, results)
        self._counters["update_calls"] += 1
        self._counters["update_seconds"] += time.perf_counter() - start

    def predict(self, context, candidates) -> np.ndarray:
        start = time.perf_counter()
        scores = np.asarray(self.inner.predict(context, candidates), dtype=np.float64)
        self._counters["predict_calls"] += 1
        self._counters["candidates_scored"] += len(candidates)
        self._counters["predict_seconds"] += time.perf_counter() - start
        return scores

    def timing(self) -> dict:
        out = dict(self._counters)
        out["candidates_per_s"] = (out["candidates_scored"] / out["predict_seconds"]) if out["predict_seconds"] else 0.0
        return out


def make_cost_model(cost_model, num_cores: int, seed: int = 0):
    """The cost model object to tune with, and its label.

    ``cost_model``: a MetaSchedule name (``xgb``, ``random``, ``mlp``), wrapped in :class:`TimedCostModel`;
    a path to a model saved by ``tenset-study train`` (``CostModel.save``), wrapped in ``ProjectCostModel``;
    or a cost-model object (``ProjectCostModel``, any ``PyCostModel`` or ``ms.CostModel``), used as is.
    """
    from tvm.s_tir import meta_schedule as ms

    if isinstance(cost_model, str) and cost_model in NAMED_COST_MODELS:
        if cost_model == "xgb":
            inner = ms.CostModel.create("xgb", num_tuning_cores=num_cores, tree_method="auto",
                                        config=ms.cost_model.xgb_model.XGBConfig(seed=43 + seed))
        elif cost_model == "random":
            inner = ms.CostModel.create("random", seed=seed)
        else:
            inner = ms.CostModel.create(cost_model)
        return TimedCostModel(inner), cost_model
    if isinstance(cost_model, (str, os.PathLike)):
        path = Path(cost_model)
        if not path.is_file():
            raise FileNotFoundError(
                f"cost model {str(cost_model)!r} is neither one of MetaSchedule's ({', '.join(NAMED_COST_MODELS)}) "
                f"nor a saved model file (tenset-study train --out PATH)"
            )
        from .cost_model import ProjectCostModel

        wrapped = ProjectCostModel(str(path), seed=seed)
        return wrapped, f"{wrapped.model.name}:{path.name}"
    model = getattr(cost_model, "model", None)
    if model is not None and getattr(model, "name", None):
        return cost_model, f"{model.name}:project"
    inst = getattr(cost_model, "_inst", cost_model)
    return cost_model, type(inst).__name__


def _cost_model_timing(cost_model) -> dict | None:
    timing = getattr(cost_model, "timing", None)
    if timing is None:
        return None
    try:
        return dict(timing())
    except Exception:  # noqa: BLE001 - a cost model whose counters cannot be read
        return None


# --- the timeline callback ----------------------------------------------------------------------------------


@derived_object
class _Timeline(PyMeasureCallback):
    """Records when each measured batch was committed (MetaSchedule's callbacks run first) and shows progress."""

    def __init__(self, start: float, bar=None) -> None:
        super().__init__()
        self.start = start
        self.bar = bar
        self.batches: list[dict] = []
        self.names: list[str] = []
        self.weights: list[float] = []
        self.best: dict[str, float] = {}
        self.all_weights: dict[str, float] = {}

    def use_tasks(self, names: list[str], weights: list[float]) -> None:
        self.names, self.weights = list(names), list(weights)
        for name, weight in zip(names, weights):
            self.all_weights.setdefault(name, weight)

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results) -> None:
        name = self.names[int(task_id)]
        latencies = [result_latency(r) for r in runner_results]
        valid = [v for v in latencies if v is not None]
        if valid:
            self.best[name] = min(self.best.get(name, math.inf), min(valid))
        self.batches.append({"seconds": time.perf_counter() - self.start, "task_name": name,
                             "records": len(runner_results), "valid": len(valid)})
        if self.bar is not None:
            self.bar.update(len(runner_results))
            covered = sum(1 for n in self.all_weights if n in self.best)
            estimate = sum(w * self.best[n] for n, w in self.all_weights.items() if n in self.best)
            self.bar.set_postfix_str(f"{covered}/{len(self.all_weights)} tasks, est. {estimate * 1e3:.3f} ms"
                                     + ("" if covered == len(self.all_weights) else " (partial)"))


# --- tuning -------------------------------------------------------------------------------------------------


def _console_level(logger: logging.Logger, verbose: bool) -> None:
    """MetaSchedule logs every batch's statistics table to the console at INFO level: keep its console
    handler at WARNING (the log files in ``work_dir/logs`` keep everything)."""
    for handler in logger.handlers:
        if handler.get_name() == "tvm.s_tir.meta_schedule.console":
            handler.setLevel(logging.INFO if verbose else logging.WARNING)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, default=_json_default))


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _clear_work_dir(work_dir: Path, overwrite: bool) -> None:
    existing = [work_dir / name for name in (WORKLOAD_FILE, RECORD_FILE, RESULT_FILE, TIMELINE_FILE)]
    if any(p.exists() for p in existing):
        if not overwrite:
            raise ValueError(f"{work_dir} already holds a tuning database; pick a new work dir or pass overwrite")
        for p in existing:
            p.unlink(missing_ok=True)
        shutil.rmtree(work_dir / "logs", ignore_errors=True)


def extract_tuning_tasks(network: str, target: dict | str, layout: str = "NCHW"):
    """``(relax_mod, extracted_tasks, task_rows)`` of a zoo network: the fused Relax module (weights bound),
    MetaSchedule's ``ExtractedTask`` list (tasks already scheduled in the module dropped), and per task a
    dict with the dataset's task id, ``task_name``, ``weight``, ``workload_shash`` and ``flops``."""
    from tvm.s_tir import meta_schedule as ms

    from ..collect import tasks
    from ..programs import workload
    from .. import zoo

    zoo.parse_network(network)  # a clear error for a bad name before torch runs
    target = targets.checked_target(target)
    kind = targets.target_kind(target)
    tvm_setup.prepare_tvm(kind)
    mod = tasks.export_to_relax(network, target, layout)
    extracted = [t for t in ms.relax_integration.extract_tasks(mod, targets.make_target(target))
                 if not t.mod.attrs.get("tirx.is_scheduled", False)]
    target_text = targets.target_json(target)
    rows = []
    for task in extracted:
        task_mod = task.dispatched[0]
        row = workload.task_row(task_mod, kind, target_text, task.task_name)
        rows.append({"task": row["task"], "task_name": str(task.task_name), "weight": int(task.weight),
                     "workload_shash": str(ms.database.Workload(task_mod).as_json()[0]),
                     "flops": float(row.get("flops") or 0.0)})
    return mod, extracted, rows


def tune_network(network: str, target: dict | str, work_dir: str | os.PathLike, trials: int, cost_model="xgb", *,
                 trials_per_task: int | None = None, num_trials_per_iter: int = 64,
                 builder_workers: int | None = None, number: int | None = None, repeat: int | None = None,
                 min_repeat_ms: int | None = None, settings: MeasureSettings | None = None,
                 search: dict | None = None, layout: str = "NCHW", top_up_trials: int | None = None,
                 seed: int = 0, overwrite: bool = False, cost_model_label: str | None = None,
                 progress: bool = True, verbose: bool = False) -> TuningResult:
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
    progress: a tqdm bar over the trials (stderr) with the network's estimated latency.
    verbose: MetaSchedule's INFO log on the console as well (it always goes to ``work_dir/logs``).
    """
    from tvm.s_tir import meta_schedule as ms

    target = targets.checked_target(target)
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if num_trials_per_iter < 1:
        raise ValueError(f"num_trials_per_iter must be >= 1, got {num_trials_per_iter}")
    if trials_per_task is not None and trials_per_task < 1:
        raise ValueError(f"trials_per_task must be >= 1, got {trials_per_task}")
    settings = _settings(settings, builder_workers=builder_workers, number=number, repeat=repeat,
                         min_repeat_ms=min_repeat_ms)
    work_dir = Path(work_dir)
    kind = targets.target_kind(target)
    num_cores = targets.physical_cores()
    if kind == "cpu" and target.get("num-cores"):
        num_cores = int(target["num-cores"])
    cost_model_obj, label = make_cost_model(cost_model, num_cores, seed)  # fails early on a missing model file

    start_extract = time.perf_counter()
    _, extracted, rows = extract_tuning_tasks(network, target, layout)
    extract_seconds = time.perf_counter() - start_extract
    if not extracted:
        raise ValueError(f"{network}: no tunable tasks for target {target}")
    n_tasks = len(extracted)
    if trials < n_tasks:
        raise ValueError(f"{network} has {n_tasks} tasks: a budget of {trials} trials cannot tune every task "
                         f"(at least {n_tasks} needed)")
    per_iter = min(num_trials_per_iter, trials // n_tasks)
    if trials_per_task is not None:
        per_iter = min(per_iter, trials_per_task)
    top_up = per_iter if top_up_trials is None else int(top_up_trials)

    work_dir.mkdir(parents=True, exist_ok=True)
    _clear_work_dir(work_dir, overwrite)
    target_obj = targets.make_target(target)
    from ..collect.measure import Measurer

    measurer = Measurer(target_obj, settings)
    database = ms.database.JSONDatabase(work_dir=str(work_dir))
    strategy = ms.search_strategy.EvolutionarySearch(**search) if search else "evolutionary"

    from tqdm import tqdm

    bar = tqdm(total=trials, desc=f"tuning {network}", unit="trial", disable=not progress, file=sys.stderr)
    started_at = _now()
    load_at_start = list(os.getloadavg())
    start = time.perf_counter()
    timeline = _Timeline(start, bar)
    timeline.use_tasks([r["task_name"] for r in rows], [r["weight"] for r in rows])
    callbacks = list(ms.measure_callback.MeasureCallback.create("default")) + [timeline]

    def run(selected: list[int], budget: int, round_trials: int, run_seed: int) -> None:
        with tvm_setup.metaschedule_logging() as logger:
            logger.setLevel(logging.INFO if verbose else logging.WARNING)  # the level its console handler gets
            contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
                [extracted[i] for i in selected], work_dir=str(work_dir), strategy=strategy,
                num_threads=num_cores, seed=run_seed,
            )
            timeline.use_tasks([rows[i]["task_name"] for i in selected], [rows[i]["weight"] for i in selected])
            _console_level(logger, verbose)
            ms.tune_tasks(
                tasks=contexts, task_weights=weights, work_dir=str(work_dir), max_trials_global=budget,
                max_trials_per_task=trials_per_task or budget, num_trials_per_iter=round_trials,
                builder=measurer.builder, runner=measurer.runner, database=database, cost_model=cost_model_obj,
                measure_callbacks=callbacks, task_scheduler=ms.task_scheduler.GradientBased(seed=run_seed),
            )

    try:
        run(list(range(n_tasks)), trials, per_iter, seed)
        main_trials = sum(b["records"] for b in timeline.batches)
        missing = [i for i, r in enumerate(rows) if r["task_name"] not in timeline.best]
        if missing and top_up > 0:
            if progress:
                bar.write(f"{len(missing)} task(s) without a valid measurement: one more round of {top_up} trials each")
            bar.total = trials + top_up * len(missing)
            run(missing, top_up * len(missing), top_up, seed + 1)
    finally:
        tuning_seconds = time.perf_counter() - start
        bar.close()
    finished_at = _now()

    summary = _task_summary(work_dir, rows)
    measured = sum(t["trials"] for t in summary)
    timing = _cost_model_timing(cost_model_obj)
    result = TuningResult(
        network=network, target=targets.target_json(target), cost_model=cost_model_label or label,
        trials=int(trials), trials_measured=int(measured), valid_trials=int(sum(t["valid_trials"] for t in summary)),
        tuning_seconds=float(tuning_seconds),
        scoring_seconds=None if timing is None else float(timing.get("predict_seconds", 0.0)),
        update_seconds=None if timing is None else float(timing.get("update_seconds", 0.0)),
        work_dir=str(work_dir), tasks=summary, started_at=started_at, finished_at=finished_at,
        tvm_version=_tvm_version(), extract_seconds=float(extract_seconds),
        top_up_trials_measured=int(measured - main_trials),
        settings={"trials_per_task": trials_per_task, "num_trials_per_iter": int(num_trials_per_iter),
                  "num_trials_per_iter_used": int(per_iter), "top_up_trials": int(top_up), "layout": layout,
                  "seed": int(seed), "search": dict(search or {}), "task_scheduler": "gradient",
                  "num_threads": int(num_cores), "runner": settings.as_dict()},
        cost_model_timing=timing, load_average={"start": load_at_start, "end": list(os.getloadavg())},
    )
    _write_json(work_dir / TIMELINE_FILE, {"started_at": started_at, "tuning_seconds": tuning_seconds,
                                           "batches": timeline.batches})
    result.save()
    return result


def _settings(settings: MeasureSettings | None, **overrides) -> MeasureSettings:
    base = asdict(settings or DEFAULT_SETTINGS)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return MeasureSettings(**base)


def _tvm_version() -> str:
    import tvm

    return str(tvm.__version__)


# --- reading the database back ------------------------------------------------------------------------------


def _task_summary(work_dir: Path, rows: list[dict]) -> list[dict]:
    _, records = read_database(work_dir)
    out = []
    for row in rows:
        mine = records[records["workload_shash"] == row["workload_shash"]]
        valid = mine["latency_s"].dropna()
        out.append({**row, "trials": int(len(mine)), "valid_trials": int(len(valid)),
                    "best_latency_s": float(valid.min()) if len(valid) else None})
    return out


def tuning_curve(work_dir: str | os.PathLike, tasks: list[dict] | None = None,
                 tuning_seconds: float | None = None) -> pd.DataFrame:
    """The network's estimated latency after each measured program, in commit order.

    ``tasks``: per task ``workload_shash``, ``weight`` and ``task_name`` (default: ``tuning_result.json``'s;
    without one every workload of the database counts once). ``tuning_seconds``: the wall time used to
    interpolate record times when the work dir has no timeline (default: the result's).

    Columns: ``trial`` (1-based), ``seconds`` (since tuning started), ``time_source`` (``timeline`` or
    ``interpolated``), ``task_name``, ``latency_s`` (this record, NaN when it failed),
    ``task_best_latency_s`` (best of its task so far), ``tasks_covered`` (tasks with a valid record so far)
    and ``estimated_latency_s`` (sum of weight x best-so-far over all tasks; NaN until every task has a
    valid record, non-increasing from then on).
    """
    work_dir = Path(work_dir)
    shashes, records = read_database(work_dir)
    result = None
    if (work_dir / RESULT_FILE).is_file():
        result = TuningResult.load(work_dir)
    if tasks is None:
        if result is not None:
            tasks = result.tasks
        else:
            tasks = [{"workload_shash": s, "weight": 1, "task_name": f"workload_{i}"} for i, s in enumerate(shashes)]
    if tuning_seconds is None and result is not None:
        tuning_seconds = result.tuning_seconds
    weight = {t["workload_shash"]: float(t["weight"]) for t in tasks}
    name = {t["workload_shash"]: str(t.get("task_name", t["workload_shash"])) for t in tasks}

    n = len(records)
    seconds, source = _record_seconds(work_dir, n, tuning_seconds)
    best: dict[str, float] = {}
    rows = []
    for i, (shash, latency) in enumerate(zip(records["workload_shash"], records["latency_s"])):
        if not np.isnan(latency) and latency < best.get(shash, math.inf):
            best[shash] = float(latency)
        covered = sum(1 for s in weight if s in best)
        estimate = sum(w * best[s] for s, w in weight.items()) if covered == len(weight) else np.nan
        rows.append({"trial": i + 1, "seconds": seconds[i], "time_source": source, "task_name": name.get(shash, shash),
                     "latency_s": latency, "task_best_latency_s": best.get(shash, np.nan),
                     "tasks_covered": covered, "estimated_latency_s": estimate})
    columns = ["trial", "seconds", "time_source", "task_name", "latency_s", "task_best_latency_s", "tasks_covered",
               "estimated_latency_s"]
    return pd.DataFrame(rows, columns=columns)


def _record_seconds(work_dir: Path, n: int, tuning_seconds: float | None) -> tuple[np.ndarray, str]:
    path = work_dir / TIMELINE_FILE
    if path.is_file():
        batches = json.loads(path.read_text()).get("batches", [])
        counts = [int(b["records"]) for b in batches]
        if sum(counts) == n:
            return np.repeat([float(b["seconds"]) for b in batches], counts).astype(np.float64), "timeline"
    if tuning_seconds is None:
        return np.full(n, np.nan), "none"
    return tuning_seconds * (np.arange(n) + 1) / max(n, 1), "interpolated"


# --- compiling and timing -----------------------------------------------------------------------------------


def compile_with_database(network: str, target: dict | str, work_dir: str | os.PathLike, *,
                          layout: str = "NCHW") -> CompiledNetwork:
    """Build a zoo network for ``target`` with the best schedules of the MetaSchedule database in ``work_dir``.

    The Relax module is exported, legalized and fused exactly as for tuning, so its fused TIR functions are
    the database's workloads; ``MetaScheduleApplyDatabase`` replaces each by its best schedule. This is
    ``ms.relax_integration.compile_relax`` without its second legalization and fusion (the module is
    already fused; fusing fused functions again could merge them into functions the database never saw).
    Functions without a record stay as they are on a CPU (naive loops) and get DLight's default GPU
    schedules on a GPU; ``untuned_functions`` names them.
    """
    import tvm
    from tvm import relax
    from tvm.relax import pipeline as relax_pipeline
    from tvm.relax.transform import MetaScheduleApplyDatabase
    from tvm.s_tir import meta_schedule as ms

    from ..collect import tasks
    from .. import zoo

    spec = zoo.parse_network(network)
    target = targets.checked_target(target)
    work_dir = Path(work_dir)
    for name in (WORKLOAD_FILE, RECORD_FILE):
        if not (work_dir / name).is_file():
            raise FileNotFoundError(f"{work_dir / name} not found: tune the network first (tune_network)")
    tvm_setup.prepare_tvm(targets.target_kind(target))
    start = time.perf_counter()
    mod = tasks.export_to_relax(network, target, layout)
    target_obj = targets.make_target(target)
    database = ms.database.JSONDatabase(work_dir=str(work_dir))
    is_gpu = relax_pipeline.BackendDispatcher.is_gpu_target(target_obj)
    lower, finalize = _lowering_passes(target_obj)
    found: dict[str, bool] = {}

    @tvm.transform.module_pass(opt_level=3)
    def pipeline(mod: tvm.IRModule, _ctx) -> tvm.IRModule:
        mod = MetaScheduleApplyDatabase(enable_warning=False)(mod)
        for gvar, func in mod.functions.items():
            if isinstance(func, tvm.tirx.PrimFunc):
                found[gvar.name_hint] = _is_scheduled(func)
        if is_gpu:
            from tvm.s_tir import dlight as dl

            mod = dl.ApplyDefaultSchedule(dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(),
                                          dl.gpu.GeneralReduction(), dl.gpu.Fallback())(mod)
        return tvm.transform.Sequential(list(lower) + list(finalize))(mod)

    with target_obj, database, tvm.transform.PassContext(opt_level=3):
        executable = relax.build(mod, target=target_obj, relax_pipeline=pipeline)
    untuned = sorted(name for name, ok in found.items() if not ok)
    return CompiledNetwork(network=network, target=target, executable=executable,
                           inputs=[(tuple(spec.input_shape), spec.input_dtype)],
                           compile_seconds=time.perf_counter() - start, functions=len(found),
                           functions_tuned=len(found) - len(untuned), untuned_functions=untuned)


def _lowering_passes(target) -> tuple[list, list]:
    """Relax's dataflow-lowering and finalizing passes for the target (the lists ``compile_relax`` falls
    back to when ``relax.pipeline`` has none: 0.27's ``cpu_generic`` package does not export its own)."""
    from tvm import relax
    from tvm.relax import pipeline as relax_pipeline

    try:
        return list(relax_pipeline.dataflow_lower_passes(target)), list(relax_pipeline.finalize_passes(target))
    except (ValueError, AttributeError):
        pass
    lower = [relax.transform.RewriteDataflowReshape(), relax.transform.ToNonDataflow(),
             relax.transform.RemovePurityChecking(), relax.transform.CallTIRRewrite()]
    finalize = [relax.transform.StaticPlanBlockMemory(), relax.transform.LowerAllocTensor(),
                relax.transform.KillAfterLastUse(), relax.transform.LowerRuntimeBuiltin(),
                relax.transform.ComputePrimValue(), relax.transform.VMShapeLower(),
                relax.transform.AttachGlobalSymbol()]
    return lower, finalize


def _is_scheduled(func) -> bool:
    attrs = func.attrs
    if attrs is None:
        return False
    return any(str(key).endswith("is_scheduled") and bool(attrs[key]) for key in attrs.keys())


def _device(target: dict, device):
    import tvm

    if device is None:
        device = "cuda" if targets.target_kind(target) == "gpu" else "cpu"
    if isinstance(device, str):
        return tvm.device(device, 0)
    return device


def random_inputs(shapes: list[tuple[tuple[int, ...], str]], seed: int = 0, high: int = 1000) -> list[np.ndarray]:
    """Random arrays: standard normal floats, integers in ``[0, high)`` (token ids of any vocabulary here)."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, dtype in shapes:
        if np.dtype(dtype).kind in "iu":
            out.append(rng.integers(0, high, size=shape).astype(dtype))
        else:
            out.append(rng.standard_normal(shape).astype(dtype))
    return out


def time_network(compiled, target: dict | str, device=None, *, inputs: list[np.ndarray] | None = None,
                 repeat: int = 30, number: int = 1, min_repeat_ms: int = 100, seed: int = 0) -> dict:
    """Run a compiled network in the Relax VM and time ``main`` with ``time_evaluator``.

    ``compiled``: a :class:`CompiledNetwork`, a ``tvm.runtime.Executable`` (then ``inputs`` are needed) or a
    Relax ``IRModule`` (built with ``tvm.compile`` for ``target``; inputs drawn from its signature).
    ``device``: ``"cpu"``, ``"cuda"`` or a ``tvm.runtime.Device`` (default: from the target's kind).
    The evaluator runs ``main`` once to warm up, then ``repeat`` times (each at least ``min_repeat_ms``
    long, ``number`` runs or more); every repeat is returned.
    """
    import tvm
    from tvm import relax

    target = targets.checked_target(target)
    if repeat < 1 or number < 1 or min_repeat_ms < 0:
        raise ValueError(f"repeat and number must be >= 1 and min_repeat_ms >= 0, "
                         f"got {repeat}, {number}, {min_repeat_ms}")
    dev = _device(target, device)
    shapes = None
    if isinstance(compiled, CompiledNetwork):
        executable, shapes = compiled.executable, compiled.inputs
    elif isinstance(compiled, tvm.IRModule):
        func = compiled["main"]
        shapes = [(tuple(int(d) for d in p.struct_info.shape), str(p.struct_info.dtype)) for p in func.params]
        executable = tvm.compile(compiled, target=targets.make_target(target))
    else:
        executable = compiled
    if inputs is None:
        if shapes is None:
            raise ValueError("time_network: pass inputs= for an executable (or give a CompiledNetwork)")
        inputs = random_inputs(shapes, seed)
    vm = relax.VirtualMachine(executable, dev)
    args = [tvm.runtime.tensor(np.asarray(a), dev) for a in inputs]
    vm["main"](*args)  # a first run (any lazy initialization) outside the evaluator too
    dev.sync()
    start = time.perf_counter()
    result = vm.time_evaluator("main", dev, number=number, repeat=repeat, min_repeat_ms=min_repeat_ms)(*args)
    wall = time.perf_counter() - start
    repeats = [float(r) for r in result.results]
    return {
        "mean_s": float(np.mean(repeats)), "std_s": float(np.std(repeats)), "median_s": float(np.median(repeats)),
        "min_s": float(np.min(repeats)), "max_s": float(np.max(repeats)), "repeats_s": repeats,
        "settings": {"repeat": int(repeat), "number": int(number), "min_repeat_ms": int(min_repeat_ms)},
        "device": str(dev), "inputs": [[list(np.shape(a)), str(np.asarray(a).dtype)] for a in inputs],
        "timing_wall_s": wall,
    }


def export_compiled(compiled: CompiledNetwork, path: str | os.PathLike) -> Path:
    """Write a compiled network's executable as a shared library (``load_module`` reads it back)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiled.executable.export_library(str(path))
    return path


def time_in_fresh_process(library: str | os.PathLike, target: dict | str,
                          inputs: list[tuple[tuple[int, ...], str]], *, repeat: int = 30, number: int = 1,
                          min_repeat_ms: int = 100, seed: int = 0, timeout_s: float = 1800.0) -> dict:
    """Time an exported network (:func:`export_compiled`) in a new Python process
    (:mod:`tenset_study.tuning.timing_worker`): the same measurement as :func:`time_network`, from a fresh runtime.
    ``inputs``: the input shapes and dtypes (``CompiledNetwork.inputs``). Raises ``RuntimeError`` with the
    worker's stderr when it fails."""
    import subprocess

    spec = {"library": str(Path(library).resolve()), "target": targets.checked_target(target),
            "inputs": [[list(shape), dtype] for shape, dtype in inputs], "repeat": int(repeat),
            "number": int(number), "min_repeat_ms": int(min_repeat_ms), "seed": int(seed)}
    done = subprocess.run([sys.executable, "-m", "tenset_study.tuning.timing_worker"], input=json.dumps(spec),
                          capture_output=True, text=True, timeout=timeout_s, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"timing {library} in a fresh process failed (exit {done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


# --- the command line ---------------------------------------------------------------------------------------

COMMAND_RESULT_FILE = "tune_result.json"


def platform_row_from_dataset(dataset: str | os.PathLike, platform: str) -> dict:
    """The last ``platforms`` row with id ``platform`` of a dataset."""
    from ..data.dataset import Dataset

    table = Dataset.open(dataset).to_pandas("platforms")
    rows = table[table["platform"] == platform]
    if rows.empty:
        raise ValueError(f"platform {platform!r} not in {dataset} (platforms: {', '.join(sorted(table['platform']))})")
    return rows.iloc[-1].to_dict()


def run_tune_command(args) -> int:
    """``tenset-study tune``: tune, compile, time end to end; write ``work_dir/tune_result.json``."""
    from .. import zoo

    zoo.parse_network(args.network)
    if args.gpu:
        target = targets.gpu_target(args.gpu)
    elif args.target:
        target = targets.checked_target(args.target)
    else:
        target = targets.cpu_target()
    if args.platform and not args.platform_dataset:
        raise ValueError("--platform needs --platform-dataset (the dataset holding that platforms row)")
    cost_model, label = args.cost_model, None
    if args.cost_model not in NAMED_COST_MODELS:
        path = Path(args.cost_model)
        if not path.is_file():
            raise FileNotFoundError(f"--cost-model {args.cost_model!r}: not one of {', '.join(NAMED_COST_MODELS)} "
                                    f"and no such model file (save one with `tenset-study train --out PATH`)")
        from .cost_model import ProjectCostModel

        platform = platform_row_from_dataset(args.platform_dataset, args.platform) if args.platform else None
        cost_model = ProjectCostModel(str(path), platform=platform, online=not args.no_online, seed=args.seed)
        label = f"{cost_model.model.name}:{path.name}" + (":frozen" if args.no_online else "")
    elif args.platform:
        raise ValueError("--platform applies to our saved models only, not to MetaSchedule's xgb / random")
    search = None
    if args.population:
        search = {"population_size": args.population, "init_min_unmeasured": min(50, args.population)}
    result = tune_network(
        args.network, target, args.work_dir, args.trials, cost_model, trials_per_task=args.trials_per_task,
        num_trials_per_iter=args.num_trials_per_iter, builder_workers=args.builder_workers, number=args.number,
        repeat=args.repeat, min_repeat_ms=args.min_repeat_ms, search=search, layout=args.layout, seed=args.seed,
        overwrite=args.overwrite, cost_model_label=label, progress=not args.quiet,
    )
    out: dict = {"tuning": result.as_dict(), "compile": None, "end_to_end": None}
    if not args.no_time:
        compiled = compile_with_database(args.network, target, args.work_dir, layout=args.layout)
        out["compile"] = {"seconds": compiled.compile_seconds, "functions": compiled.functions,
                          "functions_tuned": compiled.functions_tuned, "untuned_functions": compiled.untuned_functions}
        out["end_to_end"] = time_network(compiled, target, repeat=args.time_repeat,
                                         min_repeat_ms=args.time_min_repeat_ms)
    path = Path(args.work_dir) / COMMAND_RESULT_FILE
    _write_json(path, out)
    print(summary_line(result, out["end_to_end"]) + f" -> {path}")
    return 0


def summary_line(result: TuningResult, end_to_end: dict | None = None) -> str:
    """One line: network, cost model, trials, tuning time, scoring share, estimated and measured latency."""
    parts = [f"{result.network} [{result.cost_model}] {result.trials_measured}/{result.trials} trials "
             f"({result.valid_trials} valid) in {result.tuning_seconds:.1f} s"]
    if result.scoring_share is not None:
        parts.append(f"scoring {100 * result.scoring_share:.1f}%")
    estimate = result.estimated_latency_s
    parts.append("estimated " + (f"{estimate * 1e3:.3f} ms" if estimate is not None else
                                 f"n/a ({len(result.untuned_tasks)} task(s) untuned)"))
    if end_to_end:
        parts.append(f"measured {end_to_end['mean_s'] * 1e3:.3f} ms +- {end_to_end['std_s'] * 1e3:.3f} "
                     f"({len(end_to_end['repeats_s'])} repeats)")
    return ", ".join(parts)


__all__ = ["CompiledNetwork", "DEFAULT_SETTINGS", "TimedCostModel", "TuningResult", "compile_with_database",
           "export_compiled", "extract_tuning_tasks", "make_cost_model", "platform_row_from_dataset", "random_inputs",
           "read_database", "run_tune_command", "summary_line", "time_in_fresh_process", "time_network",
           "tune_network", "tuning_curve"]
