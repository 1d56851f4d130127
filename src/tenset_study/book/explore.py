"""Exploring a dataset: sizes, platforms, networks, operators, latencies, noise and cross-platform agreement.

Small, pure functions that take a :class:`~tenset_study.data.dataset.Dataset` (or a frame made from one) and
return pandas DataFrames, and plotting functions that take those frames and return matplotlib Figures.
The exploration notebook calls them cell by cell; readers can call them on their own datasets.

Conventions: latencies are seconds; a measurement is *ok* when it has a latency and no error; tasks
without an operator class (TenSet imports may lack it) are grouped under ``unknown``; tasks without
FLOPs keep NaN and are left out of FLOP sums (never counted as zero).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import textwrap
import warnings
from pathlib import Path

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import seaborn as sns
from matplotlib.figure import Figure

from ..data.dataset import TABLES, Dataset, DatasetError
from ..params import ParameterError, check_shares, repo_root, resolve_path  # noqa: F401 - notebooks use them from here

UNKNOWN_OP = "unknown"


# --- locating and opening a dataset ------------------------------------------------------------------


def open_dataset(path: str | os.PathLike, parameter: str = "dataset") -> Dataset:
    """Open the dataset a notebook parameter names, or raise :class:`ParameterError` saying what is wrong.

    Parameters
    ----------
    path: the parameter's value, absolute or relative to the repository root.
    parameter: the parameter's name, used in the error message.
    """
    resolved = resolve_path(path)
    where = f"parameter {parameter!r} = {str(path)!r} (resolved to {resolved})"
    if not resolved.exists():
        raise ParameterError(f"{where}: the folder does not exist")
    if not resolved.is_dir():
        raise ParameterError(f"{where}: not a folder")
    try:
        ds = Dataset.open(resolved)
    except DatasetError as err:
        raise ParameterError(f"{where}: not a tenset-study dataset ({err})") from err
    if ds.count("measurements") == 0:
        raise ParameterError(f"{where}: the dataset has no measurements; collect or import some first")
    return ds


# --- sizes, platforms, networks, tasks -----------------------------------------------------------------


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


# --- measurements ------------------------------------------------------------------------------------------


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


def repeat_cv(ds: Dataset, ddof: int = 1) -> pd.DataFrame:
    """Coefficient of variation of every successful measurement's repeats: ``std / mean`` of ``repeats_s``.

    Streams the measurements table batch by batch. ``ddof=1`` is the sample standard deviation.
    Returns columns program, platform, repeats (count), mean_s, cv; measurements with fewer than
    ``ddof + 1`` repeats get cv NaN.
    """
    pieces = []
    for batch in ds.iter_batches("measurements", columns=["program", "platform", "repeats_s", "error"]):
        repeats = batch.column("repeats_s")
        lengths = pc.fill_null(pc.list_value_length(repeats), 0).to_numpy(zero_copy_only=False)
        flat = pc.list_flatten(repeats).to_numpy(zero_copy_only=False).astype(float)
        parent = pc.list_parent_indices(repeats).to_numpy(zero_copy_only=False)
        n = len(lengths)
        sums = np.bincount(parent, weights=flat, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / lengths
            sq = np.bincount(parent, weights=(flat - mean[parent]) ** 2, minlength=n)
            std = np.sqrt(sq / (lengths - ddof))
            cv = np.where(lengths > ddof, std / mean, np.nan)
        errors = batch.column("error").is_null().to_numpy(zero_copy_only=False)
        pieces.append(pd.DataFrame({
            "program": batch.column("program").to_pandas(),
            "platform": batch.column("platform").to_pandas(),
            "repeats": lengths.astype(int),
            "mean_s": np.where(lengths > 0, mean, np.nan),
            "cv": cv,
        })[errors])
    if not pieces:
        return pd.DataFrame(columns=["program", "platform", "repeats", "mean_s", "cv"])
    return pd.concat(pieces, ignore_index=True)


def cv_summary(cv: pd.DataFrame) -> pd.DataFrame:
    """Per platform: measurements with a CV, repeats per measurement (median) and the CV's median,
    90th percentile and mean (index: platform)."""
    valid = cv.dropna(subset=["cv"])
    grouped = valid.groupby("platform", observed=True)
    return grouped.agg(
        measurements=("cv", "size"),
        repeats=("repeats", "median"),
        cv_median=("cv", "median"),
        cv_p90=("cv", lambda s: s.quantile(0.9)),
        cv_mean=("cv", "mean"),
    )


# --- agreement between platforms ----------------------------------------------------------------------------


def program_set_coverage(ds: Dataset) -> pd.DataFrame:
    """Per platform: the programs of its kind in the dataset, how many it measured (successfully or not)
    and how many it lacks. Every platform of a kind should measure the same set: a platform with missing
    programs is either still being collected or a defect (index: platform)."""
    programs = ds.to_pandas("programs", columns=["program", "task"])
    kinds = ds.to_pandas("tasks", columns=["task", "kind"]).drop_duplicates("task", keep="last")
    programs = programs.merge(kinds, on="task", how="left")
    per_kind = programs.groupby("kind")["program"].nunique()
    platforms = ds.to_pandas("platforms", columns=["platform", "kind"]).drop_duplicates("platform", keep="last")
    measured = ds.to_pandas("measurements", columns=["program", "platform"]).groupby("platform")["program"].nunique()
    out = platforms.set_index("platform").sort_index()
    out["programs_of_kind"] = out["kind"].map(per_kind).fillna(0).astype(int)
    out["measured"] = measured.reindex(out.index).fillna(0).astype(int)
    out["missing"] = out["programs_of_kind"] - out["measured"]
    out["complete"] = out["missing"] == 0
    return out


def comparable_platforms(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Platform kinds (``cpu``/``gpu``) with two or more platforms in ``frame``: kind -> sorted platforms."""
    kinds = frame[["platform", "kind"]].drop_duplicates().dropna()
    groups = kinds.groupby("kind")["platform"].apply(lambda s: sorted(s))
    return {kind: platforms for kind, platforms in groups.items() if len(platforms) >= 2}


def _ranks_pearson(group_keys: pd.Series, a: pd.Series, b: pd.Series) -> pd.Series:
    """Pearson correlation of ``a`` and ``b`` within each group, vectorized (NaN for constant groups)."""
    df = pd.DataFrame({"g": group_keys.to_numpy(), "a": a.to_numpy(), "b": b.to_numpy()})
    df["ab"], df["aa"], df["bb"] = df["a"] * df["b"], df["a"] ** 2, df["b"] ** 2
    m = df.groupby("g").mean()
    cov = m["ab"] - m["a"] * m["b"]
    var_a, var_b = m["aa"] - m["a"] ** 2, m["bb"] - m["b"] ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.sqrt(var_a * var_b)
        r = cov / denom
    r[~(denom > 1e-12 * (m["aa"] + m["bb"]))] = np.nan
    return r


def cross_platform_agreement(frame: pd.DataFrame, min_programs: int = 2) -> pd.DataFrame:
    """Per pair of platforms of one kind and per task: how alike the two platforms rank the same programs.

    Only programs measured ok on both platforms count; tasks with fewer than ``min_programs`` of them are
    left out. Columns: kind, platform_a, platform_b, task, op, programs, spearman (rank correlation of the
    latencies, ties averaged), same_best (the fastest program on a is the fastest on b), regret_b (latency
    on b of a's fastest program / b's best latency, >= 1).
    """
    ok = frame[frame["ok"]]
    rows = []
    for kind, platforms in comparable_platforms(frame).items():
        for a, b in itertools.combinations(platforms, 2):
            left = ok[ok["platform"] == a][["program", "task", "op", "latency_s"]]
            right = ok[ok["platform"] == b][["program", "latency_s"]]
            both = left.merge(right, on="program", suffixes=("_a", "_b"))
            both = both[both.groupby("task")["program"].transform("size") >= min_programs]
            if both.empty:
                continue
            both = both.sort_values(["task", "program"])
            rank_a = both.groupby("task")["latency_s_a"].rank()
            rank_b = both.groupby("task")["latency_s_b"].rank()
            spearman = _ranks_pearson(both["task"], rank_a, rank_b)
            grouped = both.groupby("task")
            best_a = both.loc[grouped["latency_s_a"].idxmin(), ["task", "program", "latency_s_b"]].set_index("task")
            best_b = both.loc[grouped["latency_s_b"].idxmin(), ["task", "program", "latency_s_b"]].set_index("task")
            per_task = pd.DataFrame({
                "op": grouped["op"].first(),
                "programs": grouped.size(),
                "spearman": spearman,
                "same_best": best_a["program"] == best_b["program"],
                "regret_b": best_a["latency_s_b"] / best_b["latency_s_b"],
            })
            per_task.index.name = "task"
            per_task.insert(0, "platform_b", b)
            per_task.insert(0, "platform_a", a)
            per_task.insert(0, "kind", kind)
            rows.append(per_task.reset_index())
    columns = ["kind", "platform_a", "platform_b", "task", "op", "programs", "spearman", "same_best", "regret_b"]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


def agreement_summary(agreement: pd.DataFrame) -> pd.DataFrame:
    """Per platform pair: tasks compared, median and quartiles of the per-task Spearman correlation, the share
    of tasks whose fastest program is the same, and the median regret."""
    grouped = agreement.groupby(["kind", "platform_a", "platform_b"])
    return grouped.agg(
        tasks=("task", "size"),
        programs=("programs", "sum"),
        spearman_q25=("spearman", lambda s: s.quantile(0.25)),
        spearman_median=("spearman", "median"),
        spearman_q75=("spearman", lambda s: s.quantile(0.75)),
        same_best=("same_best", "mean"),
        regret_median=("regret_b", "median"),
    )


# --- sentences computed from the data ------------------------------------------------------------------------

TEXT_WIDTH = 76


def _wrap(text: str) -> str:
    """Wrap each line of ``text`` for a notebook's output (continuation lines indented)."""
    return "\n".join(textwrap.fill(line, TEXT_WIDTH, subsequent_indent="  ") for line in text.splitlines())


def describe_dataset(ds: Dataset) -> str:
    """Where the dataset is, its description, and one sentence: how many platforms, networks, tasks,
    programs and measurements it holds in how many bytes."""
    rows = ds.summary()
    description = ds.meta.get("description") or "no description"
    return _wrap(f"dataset: {display_path(ds.root)} ({description})\n"
                 f"{rows['platforms']} platform(s), {rows['networks']} network(s), {rows['tasks']} task(s), "
            f"{rows['programs']:,} program(s) and {rows['measurements']:,} measurement(s) "
            f"in {format_bytes(ds.size_bytes())} on disk.")


def display_path(path: str | os.PathLike) -> str:
    """A path as the book shows it: relative to the repository root when inside it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(repo_root()))
    except ValueError:
        return str(path)


def describe_coverage(ds: Dataset, frame: pd.DataFrame) -> str:
    """Per platform: how many of the dataset's tasks and programs have a measurement there."""
    tasks, programs = ds.count("tasks"), ds.count("programs")
    lines = []
    for platform, g in frame.groupby("platform"):
        lines.append(f"{platform}: {g['task'].nunique()} of {tasks} task(s) and {g['program'].nunique():,} of "
                     f"{programs:,} program(s) measured.")
    return _wrap("\n".join(lines)) if lines else "No measurement."


def describe_gap(gap: pd.DataFrame) -> str:
    """One sentence per platform: the median and quartiles of the median/best ratio over tasks with 2+ programs."""
    multi = gap[gap["programs"] >= 2]
    if multi.empty:
        return _wrap("No task has two or more successful programs on any platform, so there is no gap to "
                     "measure.")
    lines = []
    for platform, g in multi.groupby("platform"):
        q = g["ratio"].quantile([0.25, 0.5, 0.75])
        lines.append(f"{platform}: over {len(g)} task(s), the median program is {q[0.5]:.2f}x slower than the "
                     f"best (quartiles {q[0.25]:.2f}x-{q[0.75]:.2f}x).")
    return _wrap("\n".join(lines))


def describe_agreement(frame: pd.DataFrame, agreement: pd.DataFrame) -> str:
    """Which platforms could be compared, or why none could."""
    comparable = comparable_platforms(frame)
    if not comparable:
        kinds = frame[["platform", "kind"]].drop_duplicates()
        listed = ", ".join(f"{p} ({k})" for p, k in zip(kinds["platform"], kinds["kind"]))
        return _wrap(f"No comparison across platforms: this dataset has at most one platform of each kind ({listed}). "
                "Measure the same programs on a second platform of the same kind (collect with --replay) "
                "to see it.")
    if agreement.empty:
        return _wrap("Platforms of one kind exist (" + "; ".join(", ".join(v) for v in comparable.values()) + "), "
                "but no task has two or more programs measured successfully on both platforms of a pair.")
    pairs = agreement.groupby(["platform_a", "platform_b"]).size()
    return _wrap("Compared: " + "; ".join(f"{a} vs {b} over {n} task(s)" for (a, b), n in pairs.items()) + ".")


def describe_noise_vs_gap(cv: pd.DataFrame, gap: pd.DataFrame) -> str:
    """Per platform: the median noise of one measurement against the median spread between programs."""
    noise = cv.dropna(subset=["cv"]).groupby("platform")["cv"].median()
    spread = gap[gap["programs"] >= 2].groupby("platform")["ratio"].median()
    lines = []
    for platform in sorted(set(cv["platform"]) | set(gap["platform"])):
        n, g = noise.get(platform, np.nan), spread.get(platform, np.nan)
        n_text = f"median repeat noise {100 * n:.2f}%" if pd.notna(n) else "no repeats to measure noise"
        g_text = (f"the median program is {g:.2f}x slower than the best" if pd.notna(g)
                  else "no task with 2+ successful programs")
        lines.append(f"{platform}: {n_text}; {g_text}.")
    return _wrap("\n".join(lines)) if lines else "No measurement to compare."


# --- figures ----------------------------------------------------------------------------------------------------


def setup_notebook() -> None:
    """Display settings for the book's notebooks: the seaborn theme of every figure, compact float display
    in pandas tables, and, in a Jupyter kernel, returned Figures shown as PNG (they are not managed by
    pyplot, so the inline backend would not register itself)."""
    sns.set_theme(style="whitegrid", context="notebook")
    pd.set_option("display.max_colwidth", 120)
    pd.set_option("display.float_format", "{:.4g}".format)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")


def styled(frame: pd.DataFrame, percent: tuple[str, ...] | list[str] = (), na_rep: str = "-"):
    """A table for display: floats with 4 significant digits, the ``percent`` columns as percentages,
    missing values as ``na_rep``. Returns a pandas Styler."""
    floats = {c: "{:.4g}" for c in frame.columns if pd.api.types.is_float_dtype(frame[c])}
    floats.update({c: "{:.2%}" for c in percent if c in frame.columns})
    return frame.style.format(floats, na_rep=na_rep)


def _figure(width: float = 7.0, height: float = 4.0, ncols: int = 1) -> tuple[Figure, list]:
    # Figures not managed by pyplot: a notebook shows the returned Figure once, and nothing leaks.
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _percent_axis(axis) -> None:
    # percentages on major and minor ticks (a log axis spanning less than a decade labels minor ticks)
    formatter = mticker.FuncFormatter(lambda x, _: f"{100 * x:.3g}%")
    axis.set_major_formatter(formatter)
    if axis.get_scale() == "log":
        axis.set_minor_formatter(mticker.FuncFormatter(
            lambda x, _: f"{100 * x:.3g}%" if str(f"{x:.1e}")[0] in "25" else ""))


def _ratio_axis(axis) -> None:
    # plain ratios ("2x", "10x") on a log axis instead of powers of ten
    axis.set_major_formatter(mticker.FuncFormatter(lambda x, _: f"{x:g}x"))
    axis.set_minor_formatter(mticker.FuncFormatter(
        lambda x, _: f"{x:g}x" if str(f"{x:.1e}")[0] in "25" else ""))


def _no_data(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no data: {what}", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _boxplot(*args, **kwargs):
    # seaborn 0.13 passes matplotlib's deprecated ``vert`` to boxplots (matplotlib >= 3.11): silence that only.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*vert: bool was deprecated", category=DeprecationWarning)
        return sns.boxplot(*args, **kwargs)


def _order(values: pd.Series) -> list:
    return list(values.value_counts().index)


def plot_op_mix(mix: pd.DataFrame) -> Figure:
    """Bars: share of tasks and share of FLOPs per operator class."""
    fig, (ax,) = _figure(7, max(2.5, 0.45 * len(mix) + 1.2))
    long = mix.reset_index().melt(id_vars="op", value_vars=["task_share", "flop_share"], var_name="share of",
                                  value_name="share")
    long["share of"] = long["share of"].map({"task_share": "tasks", "flop_share": "FLOPs"})
    sns.barplot(long.dropna(), y="op", x="share", hue="share of", ax=ax, orient="h")
    _percent_axis(ax.xaxis)
    title = "Operator mix: tasks and FLOPs per operator class"
    if mix["flop_share"].isna().all():
        title = "Operator mix: tasks per operator class (FLOPs unknown)"
    ax.set(title=title, xlabel="share (%)", ylabel="operator class")
    return fig


def plot_flops_by_op(tasks: pd.DataFrame) -> Figure:
    """Strip and box plot of the FLOPs of one run of every task, per operator class (log scale)."""
    known = tasks.dropna(subset=["flops"])
    known = known[known["flops"] > 0]
    fig, (ax,) = _figure(7, max(2.5, 0.45 * known["op"].nunique() + 1.2))
    if known.empty:
        _no_data(ax, "no task has known FLOPs")
    else:
        order = _order(known["op"])
        _boxplot(known, x="flops", y="op", order=order, log_scale=True, ax=ax, color="0.9", showfliers=False)
        sns.stripplot(known, x="flops", y="op", order=order, ax=ax, size=3, alpha=0.6, jitter=0.2)
    ax.set(title="FLOPs per task, by operator class", xlabel="FLOPs of one run (FLOP, log scale)",
           ylabel="operator class")
    return fig


def plot_latency_by_platform(frame: pd.DataFrame) -> Figure:
    """Histogram of the latencies of all ok measurements, one step line per platform (log scale)."""
    ok = frame[frame["ok"]]
    fig, (ax,) = _figure()
    if ok.empty:
        _no_data(ax, "no successful measurement")
    else:
        sns.histplot(ok, x="latency_s", hue="platform", log_scale=True, element="step", fill=False,
                     stat="density", common_norm=False, ax=ax)
        ax.set_ylim(bottom=0)
    ax.set(title="Latency of every measured program, per platform", xlabel="latency (s, log scale)",
           ylabel="density (per platform)")
    return fig


def plot_programs_per_task(counts: pd.DataFrame) -> Figure:
    """Histogram of the number of programs measured per task, per platform."""
    fig, (ax,) = _figure()
    if counts.empty:
        _no_data(ax, "no measurement")
    else:
        discrete = counts["measured"].max() - counts["measured"].min() <= 40
        sns.histplot(counts, x="measured", hue="platform", discrete=discrete, multiple="dodge",
                     shrink=0.8, bins="auto" if discrete else 30, ax=ax)
        ax.yaxis.set_major_locator(mticker.MaxNLocator(integer=True))
        if discrete:
            ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    ax.set(title="Programs measured per task", xlabel="programs per task (count)", ylabel="tasks (count)")
    return fig


def plot_best_median_gap(gap: pd.DataFrame) -> Figure:
    """Left: distribution of the median/best ratio over tasks; right: the ratio per operator class."""
    multi = gap[gap["programs"] >= 2]
    fig = Figure(figsize=(7, 4 + max(2.5, 0.45 * multi["op"].nunique() + 1.2)), layout="constrained")
    left, right = fig.subplots(2, 1, height_ratios=[4, max(2.5, 0.45 * multi["op"].nunique() + 1.2)])
    if multi.empty:
        _no_data(left, "no task with 2+ successful programs")
        _no_data(right, "no task with 2+ successful programs")
    else:
        sns.histplot(multi, x="ratio", hue="platform", log_scale=True, element="step", fill=False, ax=left)
        left.set_ylim(bottom=0)
        _boxplot(multi, x="ratio", y="op", hue="platform", order=_order(multi["op"]), log_scale=True,
                 ax=right, showfliers=False)
        sns.move_legend(right, "lower right", fontsize="small")
        _ratio_axis(left.xaxis)
        _ratio_axis(right.xaxis)
    left.set(title="Median program vs best program, per task", xlabel="median / best latency (ratio, log scale)",
             ylabel="tasks (count)")
    right.set(title="Median / best per operator class", xlabel="median / best latency (ratio, log scale)",
              ylabel="operator class")
    return fig


def plot_failures(kinds: pd.DataFrame, rates: pd.DataFrame) -> Figure:
    """Stacked bars: the share of failed measurements per platform, split by error kind."""
    fig, (ax,) = _figure(7, max(2.5, 0.5 * len(rates) + 1.2))
    if kinds.empty or kinds.shape[1] == 0 or rates["failed"].sum() == 0:
        _no_data(ax, "no failed measurement")
    else:
        shares = kinds.div(rates["measurements"], axis=0).fillna(0)
        left = np.zeros(len(shares))
        palette = sns.color_palette(n_colors=shares.shape[1])
        for color, column in zip(palette, shares.columns):
            ax.barh(shares.index, shares[column], left=left, label=column, color=color)
            left += shares[column].to_numpy()
        ax.legend(title="error kind", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
        ax.xaxis.set_major_locator(mticker.MaxNLocator(5))
        _percent_axis(ax.xaxis)
    ax.set(title="Failed measurements per platform", xlabel="share of measurements (%)", ylabel="platform")
    return fig


def plot_repeat_cv(cv: pd.DataFrame) -> Figure:
    """Empirical CDF of the coefficient of variation of the repeats, per platform (log scale)."""
    valid = cv.dropna(subset=["cv"])
    valid = valid[valid["cv"] > 0]
    fig, (ax,) = _figure()
    if valid.empty:
        _no_data(ax, "no measurement with 2+ repeats")
    else:
        sns.ecdfplot(valid, x="cv", hue="platform", log_scale=True, ax=ax)
        _percent_axis(ax.xaxis)
    ax.set(title="Measurement noise: spread of the repeats of one program",
           xlabel="coefficient of variation of the repeats (std / mean, %, log scale)",
           ylabel="share of measurements (cumulative)")
    return fig


def plot_cross_platform(agreement: pd.DataFrame) -> Figure:
    """Histogram of the per-task Spearman correlation of latencies, one line per platform pair."""
    fig, (ax,) = _figure()
    data = agreement.dropna(subset=["spearman"]).assign(
        pair=lambda d: d["platform_a"] + " vs " + d["platform_b"])
    if data.empty:
        _no_data(ax, "no task measured on two platforms of one kind")
    else:
        sns.histplot(data, x="spearman", hue="pair", binrange=(-1, 1), bins=20, element="step", fill=False, ax=ax)
        ax.set_ylim(bottom=0)
    ax.set(title="Do two platforms rank the same programs alike?",
           xlabel="Spearman rank correlation of latencies within a task (1 = same order)", ylabel="tasks (count)")
    return fig

