"""What a dataset holds: table sizes, platforms (hardware and provenance), networks and their tasks, and the
operator mix, each as a pandas DataFrame.

Conventions: latencies are seconds; a measurement is *ok* when it has a latency and no error; tasks
without an operator class (TenSet imports may lack it) are grouped under ``unknown``; tasks without
FLOPs keep NaN and are left out of FLOP sums (never counted as zero).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ...data.dataset import TABLES, Dataset

#: The operator class of tasks that have none.
UNKNOWN_OP = "unknown"


def format_bytes(n: float) -> str:
    """Bytes as a short human-readable string with binary units (``1.5 MiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def table_sizes(ds: Dataset) -> pd.DataFrame:
    """Rows, part files and bytes on disk of every table, with a ``total`` row (index: table)."""
    rows = []
    for table in TABLES:
        parts = ds.parts(table)
        size = sum(p.stat().st_size for p in parts)
        rows.append({"table": table, "rows": ds.count(table), "parts": len(parts), "bytes": size})
    frame = pd.DataFrame(rows).set_index("table")
    frame.loc["total"] = frame.sum()
    frame["size"] = frame["bytes"].map(format_bytes)
    return frame


def _json(text: str | None) -> object:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return text


def target_summary(target: str | None) -> str | None:
    """A one-line target: TVM 0.27's JSON dict as ``kind -key=value ...``; TenSet's target string as is."""
    value = _json(target)
    if isinstance(value, dict):
        kind = value.get("kind", "?")
        keep = ("mcpu", "arch", "mattr", "num-cores", "max_threads_per_block", "max_shared_memory_per_block")
        opts = [f"-{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in value.items() if k in keep]
        return " ".join([str(kind), *opts])
    return None if value is None else str(value)


def software_summary(software: str | None) -> str | None:
    """The versions that matter for a measurement (TVM, TVM-FFI, torch, LLVM, driver) as one line."""
    value = _json(software)
    if not isinstance(value, dict):
        return None if value is None else str(value)
    names = {"apache-tvm": "TVM", "apache-tvm-ffi": "TVM-FFI", "torch": "torch", "llvm": "LLVM", "driver": "driver"}
    parts = [f"{label} {value[key]}" for key, label in names.items() if value.get(key) not in (None, "None")]
    return ", ".join(parts) if parts else ", ".join(f"{k} {v}" for k, v in value.items())


def runner_summary(runner: str | None) -> str | None:
    """The measurement settings (repeats x runs per repeat, minimum repeat time, cache flush) as one line."""
    value = _json(runner)
    if not isinstance(value, dict):
        return None if value is None else str(value)
    parts = []
    if "repeat" in value:
        parts.append(f"{value['repeat']} repeats x {value.get('number', 1)} runs")
    if value.get("min_repeat_ms") is not None:
        parts.append(f"min {value['min_repeat_ms']} ms per repeat")
    if "enable_cpu_cache_flush" in value:
        parts.append("cache flushed" if value["enable_cpu_cache_flush"] else "no cache flush")
    if value.get("rpc_key"):
        parts.append(f"RPC key {value['rpc_key']}")
    return ", ".join(parts) if parts else ", ".join(f"{k}={v}" for k, v in value.items())


PLATFORM_COLUMNS = {
    "kind": "kind",
    "model": "model",
    "arch": "arch",
    "cores": "cores / SMs",
    "threads_per_core": "threads per core",
    "vector_bits": "vector width (bit)",
    "l1d_kib_per_core": "L1d per core (KiB)",
    "l2_kib_per_core": "L2 per core (KiB)",
    "l3_mib": "last-level cache (MiB)",
    "clock_max_mhz": "max clock (MHz)",
    "memory_gib": "memory (GiB)",
    "memory_bandwidth_gbs": "memory bandwidth (GB/s)",
    "peak_gflops_fp32": "fp32 peak (GFLOP/s)",
    "compute_capability": "compute capability",
    "target": "TVM target",
    "software": "software",
    "runner": "runner",
    "recorded_at": "recorded (UTC date)",
}


def platform_table(ds: Dataset) -> pd.DataFrame:
    """One row per platform (index: platform) with readable hardware features and provenance.

    Target, software and runner settings are condensed from their JSON to one line each; columns that are
    null for every platform are dropped.
    """
    frame = ds.to_pandas("platforms").set_index("platform").sort_index()
    frame["target"] = frame["target"].map(target_summary)
    frame["software"] = frame["software"].map(software_summary)
    frame["runner"] = frame["runner"].map(runner_summary)
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True).dt.strftime("%Y-%m-%d")
    for column in ("cores", "threads_per_core", "vector_bits"):
        frame[column] = frame[column].astype("Int64")
    frame = frame[list(PLATFORM_COLUMNS)].rename(columns=PLATFORM_COLUMNS)
    return frame.dropna(axis=1, how="all")


def task_frame(ds: Dataset) -> pd.DataFrame:
    """The tasks table with ``op`` filled (``unknown`` when null) and the programs per task (index: task)."""
    tasks = ds.to_pandas("tasks", columns=["task", "kind", "op", "task_name", "flops", "bytes"])
    tasks["op"] = tasks["op"].fillna(UNKNOWN_OP)
    programs = ds.to_pandas("programs", columns=["task"])
    counts = programs.groupby("task").size().rename("programs")
    tasks = tasks.set_index("task").join(counts)
    tasks["programs"] = tasks["programs"].fillna(0).astype(int)
    return tasks


def tasks_per_network(ds: Dataset) -> pd.DataFrame:
    """Per network and target kind (cpu / gpu): family, batch size, distinct tasks, sum of weights (task
    occurrences) and the FLOPs of one inference (sum of weight x task FLOPs; NaN when a task's FLOPs are
    unknown). Index: (network, kind)."""
    networks = ds.to_pandas("networks", columns=["network", "family", "batch_size"]).set_index("network")
    links = ds.to_pandas("network_tasks")
    tasks = ds.to_pandas("tasks", columns=["task", "kind", "flops"]).set_index("task")
    links["kind"] = links["task"].map(tasks["kind"])
    links["weighted_flops"] = links["weight"] * links["task"].map(tasks["flops"])
    per_network = links.groupby(["network", "kind"]).agg(
        tasks=("task", "nunique"),
        weight_sum=("weight", "sum"),
        gflops=("weighted_flops", lambda s: s.sum(min_count=len(s)) / 1e9),
    )
    columns = ["family", "batch_size", "tasks", "weight_sum", "gflops"]
    if per_network.empty:  # loose logs carry no network information (pandas cannot join empty Arrow keys)
        return pd.DataFrame(columns=columns, index=pd.MultiIndex.from_tuples([], names=["network", "kind"]))
    return per_network.join(networks, on="network")[columns]


def main_kind(ds: Dataset) -> str:
    """The target kind (``cpu`` or ``gpu``) with the most tasks."""
    kinds = ds.to_pandas("tasks", columns=["kind"])["kind"]
    return str(kinds.value_counts().idxmax()) if len(kinds) else "cpu"


def op_mix(ds: Dataset, kind: str | None = None) -> pd.DataFrame:
    """Per operator class of one target kind (default: :func:`main_kind`): tasks, share of tasks, GFLOPs
    in all networks (each task's FLOPs times its weight summed over networks; tasks in no network count
    once) and share of those FLOPs (index: op). CPU and GPU tasks of a network are the same workloads, so
    one kind at a time avoids counting them twice."""
    tasks = task_frame(ds)
    tasks = tasks[tasks["kind"] == (kind or main_kind(ds))]
    links = ds.to_pandas("network_tasks")
    occurrences = links.groupby("task")["weight"].sum()
    weight = occurrences.reindex(tasks.index).fillna(1)
    tasks = tasks.assign(weighted_flops=tasks["flops"] * weight)
    mix = tasks.groupby("op").agg(
        tasks=("flops", "size"),
        gflops=("weighted_flops", lambda s: s.sum(min_count=1) / 1e9),
    )
    mix["task_share"] = mix["tasks"] / mix["tasks"].sum()
    total = mix["gflops"].sum(min_count=1)
    mix["flop_share"] = mix["gflops"] / total if pd.notna(total) and total > 0 else np.nan
    return mix.sort_values("tasks", ascending=False)[["tasks", "task_share", "gflops", "flop_share"]]


#: The hardware features each platform kind should have (the columns of the ``platforms`` table).
HARDWARE_FEATURES = {
    "cpu": ("cores", "threads_per_core", "vector_bits", "cache_line_bytes", "l1d_kib_per_core", "l2_kib_per_core",
            "l3_mib", "clock_mhz", "clock_max_mhz", "memory_gib", "memory_bandwidth_gbs", "peak_gflops_fp32"),
    "gpu": ("cores", "sm_count", "clock_max_mhz", "memory_gib", "memory_bandwidth_gbs", "peak_gflops_fp32",
            "max_threads_per_block", "max_shared_memory_per_block", "warp_size", "compute_capability"),
}
#: Why a feature may be empty when the collector recorded no reason of its own.
GAP_REASONS = {
    "clock_mhz": "lscpu shows no current clock (absent under many hypervisors); tenset-study probe-platform fills "
                 "it on a machine of the same processor",
    "memory_bandwidth_gbs": "not measured yet: tenset-study probe-platform (a STREAM-style triad) on a machine of "
                            "the same processor",
    "peak_gflops_fp32": "derived from clock, cores and vector width once the clock is known (probe-platform)",
    "clock_max_mhz": "lscpu shows no maximum clock on this machine (common in virtual machines)",
}


def hardware_gaps(ds: Dataset) -> pd.DataFrame:
    """Every hardware feature a platform of its kind should have (:data:`HARDWARE_FEATURES`) that is empty, and
    why: the collector's own note in ``features_source`` where it says why (``absent ...``), else
    :data:`GAP_REASONS`, else "not read". Columns: platform, kind, feature, reason (no rows: nothing missing)."""
    frame = ds.to_pandas("platforms").drop_duplicates("platform", keep="last").set_index("platform").sort_index()
    rows = []
    for platform, row in frame.iterrows():
        sources = json.loads(row["features_source"]) if isinstance(row.get("features_source"), str) else {}
        for feature in HARDWARE_FEATURES.get(row["kind"], ()):
            if feature in frame.columns and pd.notna(row[feature]):
                continue
            recorded = sources.get(feature, "")
            reason = (recorded if "absent" in recorded
                      else GAP_REASONS.get(feature, "not read by the collector for this kind of platform"))
            rows.append({"platform": platform, "kind": row["kind"], "feature": feature, "reason": reason})
    return pd.DataFrame(rows, columns=["platform", "kind", "feature", "reason"])
