"""Hardware and workload features: the context a cost model gets beside a program's schedule.

Both are fixed transforms of the ``platforms`` and ``tasks`` columns (log scales with constants written
here, never statistics of the dataset at hand), so a platform or task gets the same vector whatever
dataset it appears in, and a model trained on one dataset can score another. A feature no reading gave
is 0 with a companion ``*_known`` flag of 0, so the model can tell "unknown" from "small".
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..programs.workload import OP_PATTERNS

CONTEXT_VERSION = 1

# (column, scale): feature = log2(1 + value) / scale, roughly in [0, 1] for today's hardware.
HARDWARE_LOG_COLUMNS: tuple[tuple[str, float], ...] = (
    ("cores", 8.0),                        # up to 256 cores / SMs
    ("threads_per_core", 2.0),
    ("vector_bits", 10.0),                 # 512-bit SIMD -> 0.9
    ("cache_line_bytes", 8.0),
    ("l1d_kib_per_core", 9.0),
    ("l2_kib_per_core", 12.0),
    ("l3_mib", 10.0),
    ("clock_max_mhz", 13.0),
    ("memory_gib", 11.0),
    ("memory_bandwidth_gbs", 14.0),
    ("peak_gflops_fp32", 18.0),
    ("max_threads_per_block", 11.0),
    ("max_shared_memory_per_block", 18.0),
    ("warp_size", 6.0),
)

OP_CLASSES: tuple[str, ...] = tuple(op for op, _ in OP_PATTERNS) + ("unknown",)

WORKLOAD_LOG_COLUMNS: tuple[tuple[str, float], ...] = (
    ("flops", 40.0),
    ("bytes", 36.0),
    ("arithmetic_intensity", 12.0),
)


def hardware_feature_names() -> list[str]:
    """Names of the hardware feature columns, in order."""
    names = ["is_cpu", "is_gpu"]
    for column, _ in HARDWARE_LOG_COLUMNS:
        names += [f"log_{column}", f"{column}_known"]
    return names


def hardware_features(platforms: pd.DataFrame) -> pd.DataFrame:
    """One row of hardware features per platform (index: platform), from the ``platforms`` table."""
    frame = platforms.drop_duplicates("platform", keep="last").set_index("platform")
    out = pd.DataFrame(index=frame.index)
    out["is_cpu"] = (frame["kind"] == "cpu").astype(float)
    out["is_gpu"] = (frame["kind"] == "gpu").astype(float)
    for column, scale in HARDWARE_LOG_COLUMNS:
        values = pd.to_numeric(frame[column], errors="coerce") if column in frame else pd.Series(np.nan, frame.index)
        known = values.notna() & (values > 0)
        out[f"log_{column}"] = np.where(known, np.log2(1.0 + values.where(known, 0.0)) / scale, 0.0)
        out[f"{column}_known"] = known.astype(float)
    return out.astype(np.float32)


def workload_feature_names() -> list[str]:
    """Names of the workload feature columns, in order."""
    names = ["is_cpu_task"] + [f"op_{op}" for op in OP_CLASSES]
    for column, _ in WORKLOAD_LOG_COLUMNS:
        names += [f"log_{column}", f"{column}_known"]
    return names + ["log_args", "log_output_elements", "max_rank"]


def workload_features(tasks: pd.DataFrame) -> pd.DataFrame:
    """One row of workload features per task (index: task): operator class, FLOPs, bytes, intensity, shapes."""
    frame = tasks.drop_duplicates("task", keep="last").set_index("task")
    out = pd.DataFrame(index=frame.index)
    out["is_cpu_task"] = (frame["kind"] == "cpu").astype(float)
    ops = frame["op"].fillna("unknown").where(frame["op"].isin(OP_CLASSES), "unknown")
    for op in OP_CLASSES:
        out[f"op_{op}"] = (ops == op).astype(float)
    for column, scale in WORKLOAD_LOG_COLUMNS:
        values = pd.to_numeric(frame[column], errors="coerce") if column in frame else pd.Series(np.nan, frame.index)
        known = values.notna() & (values >= 0)
        out[f"log_{column}"] = np.where(known, np.log2(1.0 + values.where(known, 0.0)) / scale, 0.0)
        out[f"{column}_known"] = known.astype(float)
    shapes = frame["arg_shapes"].map(_shapes) if "arg_shapes" in frame else pd.Series([[]] * len(frame), frame.index)
    out["log_args"] = shapes.map(lambda s: np.log2(1 + len(s)) / 5.0)
    out["log_output_elements"] = shapes.map(lambda s: np.log2(1 + float(np.prod(s[-1]))) / 30.0 if s else 0.0)
    out["max_rank"] = shapes.map(lambda s: max((len(x) for x in s), default=0) / 6.0)
    return out.astype(np.float32)


def _shapes(text: object) -> list[list[int]]:
    if not isinstance(text, str) or not text:
        return []
    try:
        shapes = json.loads(text)
    except ValueError:
        return []
    return [list(s) for s in shapes if isinstance(s, list)]
