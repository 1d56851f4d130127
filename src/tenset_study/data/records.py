"""Measured records as the cost models see them: one row per (program, platform) with its label.

This is the table every split, metric and model works on. It joins ``measurements`` with ``programs``
and ``tasks`` and adds the label TenSet and TLP use: the normalized throughput
``min latency in the (task, platform) group / latency``, in (0, 1], 1 for the group's fastest program.

Failed measurements (``latency_s`` null) are left out by default, as TenSet's and TLP's loaders leave
them out; :func:`load_records` with ``keep_failed=True`` keeps them with label 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from .dataset import Dataset

#: Columns of the records table, in order.
RECORD_COLUMNS = ("program", "task", "platform", "kind", "op", "latency_s", "label")


def load_records(ds: Dataset, platforms: list[str] | None = None, keep_failed: bool = False) -> pd.DataFrame:
    """The dataset's measurements as records (see the module docstring), sorted by task, platform, program.

    ``platforms`` keeps only those platforms (all by default). The index is a plain ``RangeIndex``, so
    positions (``train_index`` of a split) and index labels agree.
    """
    filt = pc.field("platform").isin(platforms) if platforms else None
    meas = ds.to_pandas("measurements", columns=["program", "platform", "latency_s"], filter=filt)
    if platforms:
        unknown = set(platforms) - set(meas["platform"])
        if unknown:
            raise ValueError(f"platform(s) {sorted(unknown)} have no measurements in {ds.root}")
    if not keep_failed:
        meas = meas[meas["latency_s"].notna() & (meas["latency_s"] > 0)]
    programs = ds.to_pandas("programs", columns=["program", "task"])
    tasks = ds.to_pandas("tasks", columns=["task", "kind", "op"])
    tasks["op"] = tasks["op"].fillna("unknown")
    records = meas.merge(programs, on="program", how="inner").merge(tasks, on="task", how="inner")
    records["label"] = normalized_throughput(records)
    records = records.sort_values(["task", "platform", "program"], kind="stable").reset_index(drop=True)
    for column in ("program", "task", "platform", "kind", "op"):
        records[column] = records[column].astype(str)
    return records[list(RECORD_COLUMNS)]


def normalized_throughput(records: pd.DataFrame) -> np.ndarray:
    """``min latency of the (task, platform) group / latency``; 0 for failed (null) latencies."""
    latency = records["latency_s"].astype(float)
    best = latency.groupby([records["task"], records["platform"]]).transform("min")
    label = (best / latency).to_numpy(dtype=np.float64)
    return np.nan_to_num(label, nan=0.0)


def group_ids(records: pd.DataFrame) -> np.ndarray:
    """An integer per (task, platform) group: the unit within which programs are ranked."""
    return records.groupby(["task", "platform"], sort=False).ngroup().to_numpy()


def network_tasks(ds: Dataset) -> pd.DataFrame:
    """``network``, ``task``, ``weight``: which task occurs how often in which network."""
    links = ds.to_pandas("network_tasks")
    return links.astype({"network": str, "task": str}).reset_index(drop=True)
