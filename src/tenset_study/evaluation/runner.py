"""Running an experiment: models x seeds trained under one split, the held-out records scored, and the
metrics tidied.

A model is trained either once per platform on that platform's training records (``per-platform``: how
TenSet and TLP train their models) or once on every platform's training records together (``joint``: how
``ours`` is meant to be trained). Results are tidy rows (:data:`RESULT_COLUMNS`: model, scope, split,
platform, network, metric, seed, value, low, high) that notebooks plot and ``results/*.csv`` keep;
:func:`summarize_seeds` folds the seeds into a mean, its spread and the bootstrap interval, and
:func:`timing_table` turns the :class:`RunTiming` of each fit into throughputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import metrics, resume
from ..models import create
from ..models.inputs import ModelInputs
from ..params import check_choice
from .splits import Split

#: How each model is trained by default.
DEFAULT_SCOPES = {"xgb": "per-platform", "mlp": "per-platform", "tlp": "per-platform", "ours": "joint",
                  "ours-v1": "joint"}

#: How a model can be trained: once per platform, or once on every platform's records.
SCOPES = ("per-platform", "joint")

#: Columns of an experiment's tidy result rows.
RESULT_COLUMNS = ["model", "variant", "scope", "split", "platform", "network", "metric", "seed", "value",
                  "low", "high", "tasks"]


@dataclass
class ModelSpec:
    """A model to run: registry name, a label for tables (``variant``), hyperparameters and scope."""

    name: str
    params: dict = field(default_factory=dict)
    variant: str | None = None
    scope: str | None = None

    def __post_init__(self) -> None:
        self.variant = self.variant or self.name
        self.scope = self.scope or DEFAULT_SCOPES.get(self.name, "joint")
        check_choice(self.scope, SCOPES, "scope", "scope")


@dataclass
class RunTiming:
    """Seconds spent training and scoring, and how many records each saw."""

    variant: str
    seed: int
    platform: str
    train_records: int
    epochs: int
    fit_s: float
    predict_records: int
    predict_s: float


def train_and_score(spec: ModelSpec, inputs: ModelInputs, split: Split, seed: int,
                    timings: list[RunTiming] | None = None, fitted: dict | None = None) -> np.ndarray:
    """Fit ``spec`` on the split's training records and score its test records (aligned with ``split.test``).

    ``fitted``, when given, receives each fitted model by its scope: ``all`` for a joint model, else the
    platform it was trained on."""
    records = inputs.records
    scores = np.full(len(split.test), np.nan, dtype=np.float32)
    if spec.scope == "joint":
        scopes = [("all", split.train, np.arange(len(split.test)))]
    else:
        train_platform = records["platform"].to_numpy()[split.train]
        test_platform = records["platform"].to_numpy()[split.test]
        scopes = [(p, split.train[train_platform == p], np.flatnonzero(test_platform == p))
                  for p in sorted(set(test_platform))]
    for platform, train, test_rows in scopes:
        if len(train) == 0:
            raise ValueError(
                f"{spec.variant}: no training records on platform {platform!r} under split {split.name!r}; "
                "a per-platform model cannot be trained for an unseen platform (use scope 'joint')")
        model = create(spec.name, seed=seed, **spec.params)
        start = time.perf_counter()
        model.fit(inputs, train)
        fit_s = time.perf_counter() - start
        if fitted is not None:
            fitted[platform] = model
        start = time.perf_counter()
        scores[test_rows] = model.predict(inputs, split.test[test_rows])
        predict_s = time.perf_counter() - start
        if timings is not None:
            timings.append(RunTiming(spec.variant, seed, platform, len(train), epochs_run(model), fit_s,
                                     len(test_rows), predict_s))
    return scores


def epochs_run(model) -> int:
    """The epochs a fitted model actually ran (a neural model's ``history_``, bounded by ``max_records_seen``),
    else its ``epochs`` parameter (1 for XGBoost)."""
    return len(getattr(model, "history_", ())) or int(model.params().get("epochs", 1))


def run_experiment(specs: list[ModelSpec], inputs: ModelInputs, split: Split, network_tasks: pd.DataFrame,
                   seeds: tuple[int, ...] = (0,), ks: tuple[int, ...] = (1, 5), n_boot: int = 1000,
                   timings: list[RunTiming] | None = None,
                   scores: dict[str, list[np.ndarray]] | None = None,
                   models: dict[str, list[dict]] | None = None) -> pd.DataFrame:
    """Every model of ``specs`` for every seed under ``split``: tidy metric rows (see :data:`RESULT_COLUMNS`).

    ``scores``, when given, collects each variant's test scores (aligned with ``split.test``), one array per
    seed in ``seeds`` order: what :func:`~.paired.paired_differences` pairs. ``models``, when given, collects
    the first seed's fitted models, a list of one ``{scope: model}`` per variant (scope ``all`` for a joint model,
    else the platform): e.g. ``models["ours"][0]["all"]`` for :func:`~.hardware_swap.hardware_swap`.

    Inside :func:`~.resume.resuming`, each (model, seed) run that a previous, interrupted run finished is read
    back instead of trained again (:func:`fitted_run`)."""
    rows = []
    for spec in specs:
        # a model whose training uses no randomness (xgb without subsampling) is trained once
        spec_seeds = seeds[:1] if create(spec.name, **spec.params).deterministic else seeds
        for seed in spec_seeds:
            keep = models is not None and seed == spec_seeds[0]
            run = fitted_run(spec, inputs, split, network_tasks, seed, ks, n_boot, keep)
            if timings is not None:
                timings.extend(run["timings"])
            if keep:
                models.setdefault(spec.variant, []).append(run["fitted"])
            if scores is not None:
                scores.setdefault(spec.variant, []).append(run["scores"])
            rows.append(run["table"])
    return pd.concat(rows, ignore_index=True)[RESULT_COLUMNS]


def fitted_run(spec: ModelSpec, inputs: ModelInputs, split: Split, network_tasks: pd.DataFrame, seed: int,
               ks: tuple[int, ...], n_boot: int, keep_fitted: bool = False) -> dict:
    """One model fitted for one seed, scored and evaluated: ``{"table", "scores", "timings", "fitted"}``
    (``fitted`` the models by scope when ``keep_fitted``, else None). A unit of :mod:`.resume`: reused from a
    finished run inside :func:`~.resume.resuming`."""
    def compute() -> dict:
        timings: list[RunTiming] = []
        fitted: dict | None = {} if keep_fitted else None
        scores = train_and_score(spec, inputs, split, seed, timings, fitted)
        table = metrics.evaluate(inputs.records.iloc[split.test].reset_index(drop=True), scores, network_tasks,
                                 ks=ks, n_boot=n_boot, seed=seed)
        table = table.assign(model=spec.name, variant=spec.variant, scope=spec.scope, split=split.name, seed=seed)
        return {"table": table, "scores": scores, "timings": timings, "fitted": fitted}

    parts = ("fitted_run", spec.name, spec.variant, spec.scope, spec.params, split.name,
             resume.array_digest(split.train), resume.array_digest(split.test), seed, list(ks), n_boot)
    # a run that kept its models serves any call; one that did not, only a call that needs none
    return resume.unit(parts, compute, accept=lambda run: run["fitted"] is not None or not keep_fitted)


def summarize_seeds(*results: pd.DataFrame, by: tuple[str, ...] = (), means: tuple[str, ...] = ()) -> pd.DataFrame:
    """Fold seeds: mean value, its standard deviation over seeds, and the mean bootstrap interval over tasks
    (several result tables are concatenated first). ``by``: further key columns in front of the usual ones (a
    missing value is a key of its own, e.g. a learning curve's ``programs_per_task`` NaN for all);
    ``means``: further columns averaged over the seeds."""
    results = pd.concat(results, ignore_index=True) if len(results) > 1 else results[0]
    keys = [*by, "model", "variant", "scope", "split", "platform", "network", "metric"]
    summary = results.groupby(keys, sort=False, dropna=False).agg(
        value=("value", "mean"), seed_std=("value", "std"), low=("low", "mean"), high=("high", "mean"),
        **{column: (column, "mean") for column in means},
        seeds=("seed", "nunique"), tasks=("tasks", "max"),
    ).reset_index()
    summary["seed_std"] = summary["seed_std"].fillna(0.0)
    return summary


def timing_table(timings: list[RunTiming]) -> pd.DataFrame:
    """Training throughput (records seen per second, epochs counted) and inference throughput
    (candidates scored per second) per model variant."""
    frame = pd.DataFrame([vars(t) for t in timings])
    if frame.empty:
        return frame
    frame["records_seen"] = frame["train_records"] * frame["epochs"]
    per = frame.groupby("variant").agg(train_records=("train_records", "sum"), records_seen=("records_seen", "sum"),
                                       fit_s=("fit_s", "sum"), predict_records=("predict_records", "sum"),
                                       predict_s=("predict_s", "sum"))
    per["train_records_per_s"] = per["records_seen"] / per["fit_s"]
    per["predict_per_s"] = per["predict_records"] / per["predict_s"]
    return per


def fitted_histories(models: dict[str, list[dict]], seed_index: int = 0) -> dict[str, list[dict]]:
    """Per-epoch training loss of the neural models :func:`run_experiment` kept (``models=``), for the seed at
    ``seed_index``: one curve per joint model (named by its variant) or per platform of a per-platform model
    (``variant (platform)``); models without a history (XGBoost) are left out. No model is trained again."""
    out = {}
    for variant, per_seed in models.items():
        if seed_index >= len(per_seed):
            continue
        for scope, model in per_seed[seed_index].items():
            history = getattr(model, "history_", None)
            if history:
                out[variant if scope == "all" else f"{variant} ({scope})"] = list(history)
    return out
