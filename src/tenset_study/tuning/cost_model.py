"""The project's cost models inside MetaSchedule: :class:`ProjectCostModel`.

:class:`ProjectCostModel` wraps one trained :class:`~tenset_study.models.base.CostModel` (``xgb``, ``mlp``,
``tlp`` or ``ours``) as a MetaSchedule ``PyCostModel``, so it can be passed as ``cost_model=`` to
``ms.tune_tir``, ``ms.tune_tasks`` or Relax tuning::

    from tvm.s_tir import meta_schedule as ms
    from tenset_study import models
    from tenset_study.programs import tvm_setup
    from tenset_study.tuning.cost_model import ProjectCostModel

    tvm_setup.prepare_tvm("cpu")
    cost_model = ProjectCostModel(models.CostModel.load("models/ours.model"))
    db = ms.tune_tir(mod, target, work_dir, max_trials_global=64, cost_model=cost_model)
    print(cost_model.timing())        # seconds in predict / update, candidates scored

It needs no dataset on disk: every feature is computed from what MetaSchedule hands over.

* **Schedule tokens** (``tlp``, ``ours``): each candidate's ``sch.trace`` (postprocessing included, as
  the dataset stores traces) -> :func:`tenset_study.programs.traces.trace_json` ->
  :func:`tenset_study.features.tokens.encode_programs`, cropped or padded to ``max_len`` (default: the model's
  ``metadata["max_len"]`` if present, else 64, the default of ``build_inputs``).
* **Per-store features** (``xgb``, ``mlp``): MetaSchedule's ``PerStoreFeature`` on the candidates with the
  tuning context, pooled with :func:`tenset_study.features.perstore.pool_stores`. A model trained on a dataset
  without per-store features (TenSet imports: ``feature_versions["perstore"]`` ``pooled-tokens-*``)
  gets the pooled tokens instead (:func:`tenset_study.models.inputs.pooled_tokens`).
* **Per-store sets** (``ours`` v2): the same extraction, unpooled and zero-padded (one token per store).
  Per-store arrays are remembered by the candidate's module (:class:`~tenset_study.tuning.feature_cache.
  StoreFeatureCache`, ``feature_cache`` entries, 0 = off): evolutionary search scores the database's best
  programs every round and many programs again within one, and a structurally equal module has the same
  features, so only new modules are extracted.
* **Workload features** (``ours``): :func:`tenset_study.programs.workload.describe_workload` of ``context.mod``
  with ``context.task_name``, through :func:`tenset_study.features.context.workload_features`; once per task.
* **Hardware features** (``ours``): the platforms-table row given as ``platform``, or the row read off this
  machine for the context's target (:func:`tenset_study.tuning.platforms.platform_row_for`), through
  :func:`tenset_study.features.context.hardware_features`.

All candidates of a call are featurized together and scored by one ``CostModel.predict`` call: one
forward pass for MetaSchedule's default population of 512 (the neural models split larger calls into
batches of 1,024, which are faster on a CPU than bigger ones).

**Scores.** MetaSchedule clamps scores below 0 to 0 and uses them as the masses with which evolutionary
search draws parents, and it keeps the best candidates of all genetic iterations of a search round in one
heap, so scores of different ``predict`` calls of one round must be comparable. ``score_transform``:

* ``"raw"``: the model's output (clamped by MetaSchedule at 0). Right for ``xgb``, which regresses the
  normalized throughput (in (0, 1], what MetaSchedule's own XGBoost model returns).
* ``"sigmoid-z"``: ``sigmoid((s - mean) / std)`` with the mean and standard deviation of the first
  ``predict`` call of the task after the model last changed (the first call of a search round scores the
  initial population: measured bests plus random samples), frozen until the model changes again. Order
  is kept, scores fall in (0, 1) with a useful spread, and are comparable within a round. Right for the
  LambdaRank models, whose outputs have no fixed scale (sums over steps, task-dependent offsets).
* ``"auto"`` (default): ``raw`` for ``xgb``, ``sigmoid-z`` otherwise.

**Online learning** (``update``). Measured candidates are kept per task with their latency (mean of the
runner's repeats; failed runs, i.e. ``run_secs`` missing, an error message, or MetaSchedule's 1e10
sentinel, count as the worst: label 0). Labels are the normalized throughput within the task's
measurements so far (``best latency / latency``), as in the dataset (:mod:`tenset_study.data.records`).

* Neural models (``mlp``, ``tlp``, ``ours``): after every update with at least ``min_online`` records,
  ``online_epochs`` epochs of their LambdaRank loss on all online groups (one group per task), starting
  from the current weights (:meth:`~tenset_study.models.neural.NeuralRanker.fine_tune`).
* ``xgb``: the pretraining data is not at hand, so the pretrained booster (the one wrapped or loaded) is
  kept and, once at least ``min_online`` online records exist, rebuilt at every update as *pretrained
  booster +* ``online_rounds`` *trees fitted on all online records* (boosting continues from the pretrained trees,
  so the new trees fit what the pretrained model gets wrong on this task). Rebuilding from the
  pretrained booster, not from the previous update's, keeps the model size bounded and stops old
  residual trees from piling up.
* ``online=False`` keeps the data (for :meth:`ProjectCostModel.online_inputs`) but never changes the model:
  the pretrained model alone.

The features and inputs are built in :mod:`tenset_study.tuning.model_inputs`; fine-tuning outside tuning is
:func:`tenset_study.tuning.fine_tuning.fine_tune`.

``save``/``load`` delegate to the wrapped model (its metadata travels with it); ``save`` adds
``online_updates`` (the number of updates that changed the model) and ``online`` (records, tasks,
platforms) to the metadata. Online data are not saved.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.cost_model import PyCostModel

from ..models.base import CostModel
from ..models.inputs import ModelInputs, pooled_tokens
from .feature_cache import DEFAULT_MAX_ENTRIES, StoreFeatureCache
from .fine_tuning import boost_more, is_neural, is_xgb
from .model_inputs import (OnlineTask, TaskContext, as_platform_row, build_inputs, hardware_vector, pad_concat,
                           pool_arrays, result_latency, store_arrays, store_sets, workload_row, workload_vector)
from .platforms import platform_row_for

#: ``max_len`` when neither the caller nor the model's metadata gives one (``build_inputs``' default).
DEFAULT_MAX_LEN = 64
SCORE_TRANSFORMS = ("auto", "raw", "sigmoid-z")


def _uses_context(model: CostModel) -> tuple[bool, bool]:
    """(hardware, workload): whether the model reads these context features."""
    return bool(getattr(model, "use_hardware", False)), bool(getattr(model, "use_workload", False))


@derived_object
class ProjectCostModel(PyCostModel):
    """A trained project cost model as a MetaSchedule cost model (see the module docstring).

    Parameters
    ----------
    model: a fitted :class:`~tenset_study.models.base.CostModel`, or a path to one saved with ``save``.
    platform: the platforms-table row (dict, Series or one-row DataFrame) whose hardware features the model
        gets; default: read off this machine for each context's target.
    max_len: token sequence length (default: ``model.metadata["max_len"]`` or 64).
    score_transform: ``auto``, ``raw`` or ``sigmoid-z`` (module docstring).
    online: learn from measurements in ``update`` (False: keep the pretrained model).
    online_epochs: epochs of fine-tuning per update (neural models).
    online_lr: learning rate of fine-tuning (default: the model's).
    online_rounds: boosting rounds added to the pretrained booster (xgb).
    min_online: online records needed before the model is changed.
    seed: seeds the fine-tuning list shuffles (plus the update number).
    feature_cache: per-store arrays remembered (entries, least recently used dropped; 0: extract every time).
    """

    def __init__(self, model: CostModel | str | os.PathLike, platform=None, max_len: int | None = None,
                 score_transform: str = "auto", online: bool = True, online_epochs: int = 2,
                 online_lr: float | None = None, online_rounds: int = 20, min_online: int = 8,
                 seed: int = 0, feature_cache: int = DEFAULT_MAX_ENTRIES) -> None:
        super().__init__()
        if score_transform not in SCORE_TRANSFORMS:
            raise ValueError(f"score_transform must be one of {SCORE_TRANSFORMS}, got {score_transform!r}")
        self.platform_row = None if platform is None else as_platform_row(platform)
        self.requested_max_len = max_len
        self.requested_transform = score_transform
        self.online = online
        self.online_epochs = online_epochs
        self.online_lr = online_lr
        self.online_rounds = online_rounds
        self.min_online = min_online
        self.seed = seed
        self._store_cache = StoreFeatureCache(feature_cache)
        self._tasks: dict[str, TaskContext] = {}  # structural hash + target -> task context
        self._hardware: dict[str, tuple[str, np.ndarray]] = {}  # target JSON -> (platform id, features)
        self._online: dict[str, OnlineTask] = {}
        self._calibration: dict[str, tuple[int, float, float]] = {}  # task -> (model version, mean, std)
        self._counters: dict = {"predict_calls": 0, "predict_seconds": 0.0, "candidates_scored": 0,
                                "feature_seconds": 0.0, "update_calls": 0, "update_seconds": 0.0,
                                "train_seconds": 0.0, "online_updates": 0}
        self._set_model(CostModel.load(model) if isinstance(model, (str, os.PathLike)) else model)

    # --- the wrapped model ------------------------------------------------------------------------------
    def _set_model(self, model: CostModel) -> None:
        if not getattr(model, "metadata", None):
            raise ValueError(f"{model.name}: the wrapped model must be fitted (or loaded)")
        self.model = model
        self.version = 0  # bumped whenever the model's scores change
        self._calibration = {}
        self.max_len = int(self.requested_max_len or model.metadata.get("max_len") or DEFAULT_MAX_LEN)
        self.transform = self.requested_transform
        if self.transform == "auto":
            self.transform = "raw" if is_xgb(model) else "sigmoid-z"
        self.use_hardware, self.use_workload = _uses_context(model)
        dims = getattr(model, "dims_", None) or {}  # ours v2 reads tokens and stores only when it was fit with them
        self.needs_tokens = "tokens" in model.families and dims.get("token_width", 1) > 0
        self.needs_stores = "stores" in model.families and dims.get("store_width", 0) > 0
        self.needs_perstore = "perstore" in model.families
        perstore_version = str(model.metadata.get("feature_versions", {}).get("perstore", ""))
        self.perstore_from_tokens = self.needs_perstore and perstore_version.startswith("pooled-tokens")
        self._base_booster = bytes(model.booster_.save_raw("ubj")) if is_xgb(model) else None
        self._prior_updates = int(model.metadata.get("online_updates", 0))  # from earlier sessions
        self._counters["online_updates"] = 0

    # --- MetaSchedule's interface -----------------------------------------------------------------------
    def load(self, path: str) -> None:
        """Replace the wrapped model by the one saved at ``path`` (online data are kept; the count of online
        updates continues from its metadata)."""
        self._set_model(CostModel.load(path))

    def save(self, path: str) -> None:
        """Save the wrapped model (``CostModel.save``) with the online counters in its metadata."""
        self.model.metadata["online_updates"] = self._prior_updates + int(self._counters["online_updates"])
        self.model.metadata["online"] = self._online_summary()
        self.model.save(path)

    def predict(self, context, candidates) -> np.ndarray:
        """Scores of the candidates, higher = predicted faster (float64, one per candidate)."""
        start = time.perf_counter()
        n = len(candidates)
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        task = self._task_context(context)
        features = self._candidate_features(context, candidates)
        inputs = self._inputs([(task, features, [None] * n)])
        raw = np.asarray(self.model.predict(inputs, np.arange(n)), dtype=np.float64)
        scores = self._transform(task.task, raw)
        self._counters["predict_calls"] += 1
        self._counters["candidates_scored"] += n
        self._counters["predict_seconds"] += time.perf_counter() - start
        return scores

    def update(self, context, candidates, results) -> None:
        """Keep the measured candidates of the context's task and fine-tune / refit the model on them."""
        start = time.perf_counter()
        self._counters["update_calls"] += 1
        if len(candidates):
            task = self._task_context(context)
            features = self._candidate_features(context, candidates)
            online = self._online.setdefault(task.task, OnlineTask(task))
            if features.get("tokens") is not None:
                online.tokens.append(features["tokens"])
                online.lengths.append(features["lengths"])
            if features.get("perstore") is not None:
                online.perstore.append(features["perstore"])
            if features.get("stores") is not None:
                online.stores.append(features["stores"])
                online.store_counts.append(features["store_counts"])
            online.latencies.extend(result_latency(r) for r in results)
            if self.online and self.online_records() >= self.min_online:
                train_start = time.perf_counter()
                self._learn()
                self._counters["train_seconds"] += time.perf_counter() - train_start
        self._counters["update_seconds"] += time.perf_counter() - start

    # --- reporting --------------------------------------------------------------------------------------
    def timing(self) -> dict:
        """Counters: ``predict_calls``, ``predict_seconds``, ``candidates_scored``, ``feature_seconds``
        (part of predict and update; ``feature_cache_hits``, ``feature_cache_misses`` and
        ``feature_cache_hash_seconds`` say how much of it the cache saved), ``update_calls``, ``update_seconds``, ``train_seconds`` (part of
        update), ``online_updates`` (updates that changed the model), ``online_records``,
        ``candidates_per_s`` (scoring throughput). Counts are this object's since the wrapped model was set
        (``metadata["online_updates"]`` keeps the total over saves and loads)."""
        out = dict(self._counters)
        out.update(self._store_cache.stats())
        out["online_records"] = self.online_records()
        out["candidates_per_s"] = (out["candidates_scored"] / out["predict_seconds"]) if out["predict_seconds"] else 0.0
        return out

    def online_records(self) -> int:
        """Measured candidates kept for online learning (all tasks)."""
        return sum(len(t.latencies) for t in self._online.values())

    def online_inputs(self) -> ModelInputs | None:
        """The online records (all tasks) as model inputs with labels; None before any update."""
        if not self._online:
            return None
        parts = []
        for online in self._online.values():
            features = {
                "tokens": np.concatenate(online.tokens) if online.tokens else None,
                "lengths": np.concatenate(online.lengths) if online.lengths else None,
                "perstore": np.concatenate(online.perstore) if online.perstore else None,
                "stores": pad_concat(online.stores) if online.stores else None,
                "store_counts": np.concatenate(online.store_counts) if online.store_counts else None,
            }
            parts.append((online.context, features, online.latencies))
        return self._inputs(parts)

    def inputs_for(self, context, candidates) -> ModelInputs:
        """The model inputs of candidates as ``predict`` builds them (for analysis and tests)."""
        task = self._task_context(context)
        return self._inputs([(task, self._candidate_features(context, candidates), [None] * len(candidates))])

    # --- features ---------------------------------------------------------------------------------------
    def _platform(self, target) -> tuple[str, np.ndarray]:
        key = str(target)
        if key not in self._hardware:
            row = self.platform_row
            if row is None:
                try:
                    row = platform_row_for(target)
                except Exception as err:  # noqa: BLE001 - a machine we cannot read: no hardware features
                    if self.use_hardware:
                        raise RuntimeError(f"cannot read the platform of target {target}; pass platform=") from err
                    row = {"platform": f"unknown-{target.kind.name}", "kind": None}
            self._hardware[key] = (str(row["platform"]), hardware_vector(row))
        return self._hardware[key]

    @staticmethod
    def _task_key(context) -> str:
        from ..programs.workload import workload_hash

        return f"{workload_hash(context.mod)}|{context.target}"

    def _task_context(self, context) -> TaskContext:
        from ..programs.targets import target_kind

        key = self._task_key(context)
        if key not in self._tasks:
            kind = target_kind(context.target)
            row = workload_row(context.mod, str(context.task_name or ""), kind)
            platform, hardware = self._platform(context.target)
            self._tasks[key] = TaskContext(task=row["task"], kind=kind, op=str(row["op"]), platform=platform,
                                            hardware=hardware, workload=workload_vector(row))
        return self._tasks[key]

    def _candidate_features(self, context, candidates) -> dict:
        """Tokens (``[n, max_len, F]``, lengths), pooled per-store features and / or per-store sets of candidates."""
        start = time.perf_counter()
        out: dict = {}
        if self.needs_tokens or self.perstore_from_tokens:
            from ..features import tokens
            from ..programs.traces import trace_json

            texts = [trace_json(c.sch.trace) for c in candidates]
            frame = pd.DataFrame({"encoding": "metaschedule", "trace": texts})
            out["tokens"], out["lengths"] = tokens.encode_programs(frame, self.max_len)
        arrays = None
        if self.needs_stores or (self.needs_perstore and not self.perstore_from_tokens):
            arrays = self._store_cache.arrays(self._task_key(context), context, candidates, store_arrays)
        if self.needs_perstore:
            if self.perstore_from_tokens:
                out["perstore"] = np.nan_to_num(pooled_tokens(out["tokens"], out["lengths"]))
            else:
                out["perstore"] = pool_arrays(arrays)
        if self.needs_stores:
            out["stores"], out["store_counts"] = store_sets(arrays)
        self._counters["feature_seconds"] += time.perf_counter() - start
        return out

    def _inputs(self, parts: list[tuple[TaskContext, dict, list]]) -> ModelInputs:
        """Model inputs for groups of candidates: ``(task context, features, latencies)`` per task."""
        return build_inputs(parts, self.model.metadata.get("feature_versions", {}))

    # --- scores -----------------------------------------------------------------------------------------
    def _transform(self, task: str, raw: np.ndarray) -> np.ndarray:
        raw = np.where(np.isfinite(raw), raw, np.nan)
        if np.isnan(raw).all():
            return np.zeros(len(raw), dtype=np.float64)
        raw = np.nan_to_num(raw, nan=float(np.nanmin(raw)))
        if self.transform == "raw":
            return raw.astype(np.float64)
        calibration = self._calibration.get(task)
        if calibration is None or calibration[0] != self.version:
            std = float(raw.std())
            calibration = (self.version, float(raw.mean()), std if std > 1e-12 else 1.0)
            self._calibration[task] = calibration
        z = np.clip((raw - calibration[1]) / calibration[2], -30.0, 30.0)
        return 1.0 / (1.0 + np.exp(-z))

    # --- online learning --------------------------------------------------------------------------------
    def _learn(self) -> None:
        inputs = self.online_inputs()
        positions = np.arange(inputs.size)
        updates = self._counters["online_updates"]
        if is_neural(self.model):
            self.model.fine_tune(inputs, positions, epochs=self.online_epochs, lr=self.online_lr,
                                 seed=self.seed + updates)
        elif is_xgb(self.model):
            import xgboost as xgb

            base = xgb.Booster()
            base.load_model(bytearray(self._base_booster))
            boost_more(self.model, inputs, positions, self.online_rounds, base)
        else:
            return
        self.version += 1
        self._counters["online_updates"] += 1
        self.model.metadata["online_updates"] = self._prior_updates + int(self._counters["online_updates"])
        self.model.metadata["online"] = self._online_summary()

    def _online_summary(self) -> dict:
        return {
            "updates": int(self._counters["online_updates"]), "records": self.online_records(),
            "tasks": len(self._online), "platforms": sorted({t.context.platform for t in self._online.values()}),
            "rule": ("fine-tune" if is_neural(self.model) else "pretrained+residual-trees") if self.online else "off",
        }


__all__ = ["DEFAULT_MAX_LEN", "ProjectCostModel", "SCORE_TRANSFORMS"]
