"""The measurements of a dataset: one frame joining each measurement with its task, operator class and FLOPs
(:func:`measurement_frame`), and the tables computed from it: latencies, programs per task, the gap between
the median and the best program of a task, and failures by platform and error kind.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ...data.dataset import Dataset
from .contents import UNKNOWN_OP


def error_kind(error: str | None) -> str | None:
    """What failed, from an error message: the text before its first colon (``build``, ``run`` ...),
    lower case, with `` timeout`` appended when the message says it timed out; the first word when there
    is no short prefix; None when there is no error."""
    if error is None or (isinstance(error, float) and np.isnan(error)) or error == "":
        return None
    text = str(error)
    head = text.split(":", 1)[0].strip().lower()
    if not head or len(head) > 32 or len(head.split()) > 3:
        head = text.strip().split()[0].lower().rstrip(":")
    if "timeout" not in head and re.search(r"time(d)?[ -]?out", text, flags=re.I):
        head += " timeout"
    return head


def measurement_frame(ds: Dataset) -> pd.DataFrame:
    """Measurements joined with their program's task and the task's operator class and FLOPs.

    Columns: program, platform, kind (the platform's), task, op, flops, latency_s, error, error_kind,
    ok (latency present and no error), gflops_per_s (NaN when FLOPs are unknown or the run failed).
    """
    meas = ds.to_pandas("measurements", columns=["program", "platform", "latency_s", "error"])
    programs = ds.to_pandas("programs", columns=["program", "task"])
    tasks = ds.to_pandas("tasks", columns=["task", "op", "flops"])
    platforms = ds.to_pandas("platforms", columns=["platform", "kind"])
    frame = meas.merge(programs, on="program", how="left").merge(tasks, on="task", how="left")
    frame = frame.merge(platforms, on="platform", how="left")
    frame["op"] = frame["op"].fillna(UNKNOWN_OP)
    frame["ok"] = frame["latency_s"].notna() & frame["error"].isna() & (frame["latency_s"] > 0)
    frame["error_kind"] = frame["error"].map(error_kind)
    frame.loc[~frame["ok"] & frame["error_kind"].isna(), "error_kind"] = "no latency"
    frame["gflops_per_s"] = np.where(frame["ok"], frame["flops"] / frame["latency_s"] / 1e9, np.nan)
    columns = ["program", "platform", "kind", "task", "op", "flops", "latency_s", "error", "error_kind", "ok",
               "gflops_per_s"]
    return frame[columns]


def latency_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per platform: measurements, ok ones, tasks with an ok program, and the minimum, median and maximum
    latency of the ok measurements in seconds (index: platform)."""
    ok = frame[frame["ok"]]
    out = ok.groupby("platform", observed=True).agg(
        ok=("latency_s", "size"), tasks=("task", "nunique"), min_s=("latency_s", "min"),
        median_s=("latency_s", "median"), max_s=("latency_s", "max"))
    measured = frame.groupby("platform", observed=True).size().rename("measurements")
    return pd.concat([measured, out], axis=1).fillna({"ok": 0, "tasks": 0})


def programs_per_task(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (platform, task): programs measured, of which ok, and the task's op."""
    grouped = frame.groupby(["platform", "task"], observed=True)
    out = grouped.agg(op=("op", "first"), measured=("program", "size"), ok=("ok", "sum"))
    return out.reset_index()


def best_median_gap(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (platform, task): ok programs, best and median latency, and ``ratio = median / best`` (>= 1).

    The ratio says how much a random program of the task loses against the best one found: the room a
    cost model has to win. Tasks with no ok program are left out.
    """
    ok = frame[frame["ok"]]
    grouped = ok.groupby(["platform", "task"], observed=True)
    gap = grouped.agg(op=("op", "first"), programs=("latency_s", "size"), best_s=("latency_s", "min"),
                      median_s=("latency_s", "median"))
    gap["ratio"] = gap["median_s"] / gap["best_s"]
    return gap.reset_index()


def gap_by_op(gap: pd.DataFrame) -> pd.DataFrame:
    """Per (platform, op) (the index): tasks with 2+ ok programs, and the quartiles of their median/best
    ratio."""
    multi = gap[gap["programs"] >= 2]
    grouped = multi.groupby(["platform", "op"], observed=True)["ratio"]
    return grouped.agg(tasks="size", q25=lambda s: s.quantile(0.25), median="median",
                       q75=lambda s: s.quantile(0.75), max="max")


def failure_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Per platform: measurements, failed ones and the failure rate (index: platform)."""
    grouped = frame.groupby("platform", observed=True)
    out = grouped.agg(measurements=("ok", "size"), failed=("ok", lambda s: int((~s).sum())))
    out["failure_rate"] = out["failed"] / out["measurements"]
    return out


def error_kinds(frame: pd.DataFrame) -> pd.DataFrame:
    """Failed measurements per platform (rows) and error kind (columns)."""
    failed = frame[~frame["ok"]]
    if failed.empty:
        return pd.DataFrame(index=pd.Index(sorted(frame["platform"].unique()), name="platform"))
    table = failed.groupby(["platform", "error_kind"], observed=True).size().unstack(fill_value=0)
    return table.reindex(sorted(frame["platform"].unique()), fill_value=0)
