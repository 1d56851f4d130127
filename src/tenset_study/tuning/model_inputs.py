"""What :class:`~tenset_study.tuning.cost_model.ProjectCostModel` computes from MetaSchedule's objects: the
context features of a task (hardware and workload vectors), per-store features of candidates, the latency and
labels of runner results, and the :class:`~tenset_study.models.inputs.ModelInputs` of groups of candidates
(:func:`build_inputs`). No TVM at import (per-store extraction imports it when called)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..models.inputs import ModelInputs
from ..programs.database import run_latency


@dataclass
class TaskContext:
    """What is computed once per task: its id, platform and context feature vectors."""

    task: str
    kind: str
    op: str
    platform: str
    hardware: np.ndarray
    workload: np.ndarray


@dataclass
class OnlineTask:
    """Measured candidates of one task: features and latencies (None = failed)."""

    context: TaskContext
    tokens: list = field(default_factory=list)
    lengths: list = field(default_factory=list)
    perstore: list = field(default_factory=list)
    stores: list = field(default_factory=list)  # per batch: padded per-store rows [n, S, 164]
    store_counts: list = field(default_factory=list)
    latencies: list = field(default_factory=list)


def as_platform_row(platform) -> dict:
    """A platforms-table row from a dict, a Series or a one-row DataFrame."""
    if isinstance(platform, pd.DataFrame):
        if len(platform) != 1:
            raise ValueError(f"platform: expected one platforms row, got {len(platform)}")
        return platform.iloc[0].to_dict()
    if isinstance(platform, pd.Series):
        return platform.to_dict()
    if isinstance(platform, dict):
        return dict(platform)
    raise TypeError(f"platform must be a platforms-table row (dict, Series, one-row DataFrame), got {type(platform)}")


def hardware_vector(row: dict) -> np.ndarray:
    """Hardware features (``context.hardware_features``) of one platforms row, float32."""
    from ..features import context

    frame = context.hardware_features(pd.DataFrame([row]))
    return np.nan_to_num(frame.to_numpy(np.float32)[0])


def workload_row(mod, task_name: str, kind: str) -> dict:
    """A ``tasks``-like row (id, kind, op, FLOPs, bytes, shapes) of a task's IRModule."""
    from ..data.dataset import task_id
    from ..programs.workload import describe_workload, workload_hash

    return {"task": task_id(workload_hash(mod), kind), "kind": kind, **describe_workload(mod, task_name or "")}


def workload_vector(row: dict) -> np.ndarray:
    """Workload features (``context.workload_features``) of one tasks row, float32."""
    from ..features import context

    frame = context.workload_features(pd.DataFrame([row]))
    return np.nan_to_num(frame.to_numpy(np.float32)[0])


def result_latency(result) -> float | None:
    """Mean of a ``RunnerResult``'s repeats in seconds; None for a failed run."""
    if result is None or getattr(result, "error_msg", None):
        return None
    return run_latency(getattr(result, "run_secs", None))


def normalized_labels(latencies: list[float | None]) -> np.ndarray:
    """``best / latency`` within one task's measurements; 0 for failed (None) ones and when none succeeded."""
    values = np.array([np.nan if v is None else v for v in latencies], dtype=np.float64)
    if np.isnan(values).all():
        return np.zeros(len(values), dtype=np.float32)
    return np.nan_to_num(np.nanmin(values) / values, nan=0.0).astype(np.float32)


def perstore_features(context, candidates) -> np.ndarray:
    """Pooled per-store features of candidates (a candidate whose extraction fails gets zeros)."""
    return pool_arrays(store_arrays(context, candidates))


def pool_arrays(arrays: list[np.ndarray | None]) -> np.ndarray:
    """Pooled per-store features of :func:`store_arrays`' result (a failed extraction: zeros)."""
    from ..features.perstore import pool_stores

    return np.nan_to_num(pool_stores(arrays))


def store_sets(arrays: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Per-store rows ``[n, S, 164]`` (zero padding) and store counts of :func:`store_arrays`' result, as the
    dataset's ``stores`` family holds them (a failed extraction: no stores)."""
    from ..features.perstore import pad_stores, split_sets

    stores, counts, _ = split_sets(pad_stores(arrays))
    return stores, counts


def pad_concat(arrays: list[np.ndarray]) -> np.ndarray:
    """Padded per-store arrays of several batches, zero-padded to the most stores and stacked."""
    most = max(a.shape[1] for a in arrays)
    return np.concatenate([np.pad(a, [(0, 0), (0, most - a.shape[1]), (0, 0)]) for a in arrays])


def store_arrays(context, candidates) -> list[np.ndarray | None]:
    """MetaSchedule's per-store features of candidates, ``(stores, 164)`` each (None where extraction fails)."""
    from tvm.s_tir.meta_schedule.feature_extractor import PerStoreFeature

    from ..features.perstore import PERSTORE_WIDTH

    extractor = PerStoreFeature()
    try:
        arrays = [a.numpy() for a in extractor.extract_from(context, candidates)]
    except Exception:  # noqa: BLE001 - find the failing candidate(s) one by one
        arrays = []
        for candidate in candidates:
            try:
                arrays.append(extractor.extract_from(context, [candidate])[0].numpy())
            except Exception:  # noqa: BLE001
                arrays.append(None)
    return [None if a is None else np.asarray(a, dtype=np.float32).reshape(-1, PERSTORE_WIDTH) for a in arrays]


def build_inputs(parts: list[tuple[TaskContext, dict, list]], versions: dict) -> ModelInputs:
    """Model inputs for groups of candidates: ``(task context, features, latencies)`` per task, one group per
    task, labels from :func:`normalized_labels`; ``versions``: the model's ``feature_versions``."""
    platforms = sorted({task.platform for task, _, _ in parts})
    rows, groups, task_rows, platform_rows = [], [], [], []
    for g, (task, _, latencies) in enumerate(parts):
        labels = normalized_labels(latencies)
        for i, latency in enumerate(latencies):
            rows.append({"program": f"{task.task}:{i}", "task": task.task, "platform": task.platform,
                         "kind": task.kind, "op": task.op, "latency_s": latency, "label": float(labels[i])})
        groups.append(np.full(len(latencies), g))
        task_rows.append(np.full(len(latencies), g))
        platform_rows.append(np.full(len(latencies), platforms.index(task.platform)))
    n = len(rows)
    hardware_by_platform = {task.platform: task.hardware for task, _, _ in parts}

    def stack(name: str, join=np.concatenate):
        arrays = [features.get(name) for _, features, _ in parts]
        return None if any(a is None for a in arrays) else join(arrays)

    return ModelInputs(
        records=pd.DataFrame(rows), groups=np.concatenate(groups), program_ids=np.arange(n),
        program_row=np.arange(n), platform_ids=platforms, platform_row=np.concatenate(platform_rows),
        task_ids=[task.task for task, _, _ in parts], task_row=np.concatenate(task_rows),
        hardware=np.stack([hardware_by_platform[p] for p in platforms]),
        workload=np.stack([task.workload for task, _, _ in parts]),
        tokens=stack("tokens"), lengths=stack("lengths"), perstore=stack("perstore"),
        stores=stack("stores", pad_concat), store_counts=stack("store_counts"), versions=dict(versions),
    )


__all__ = ["OnlineTask", "TaskContext", "as_platform_row", "build_inputs", "hardware_vector", "normalized_labels",
           "pad_concat", "perstore_features", "pool_arrays", "result_latency", "store_arrays", "store_sets",
           "workload_row", "workload_vector"]
