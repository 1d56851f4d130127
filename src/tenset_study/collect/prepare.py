"""Preparing a collection: the platform row of this machine, and the tasks to collect (extracted from the zoo's
networks, or, to replay, read back from the dataset)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..data.dataset import KEYS, Dataset
from .config import CollectConfig
from .measure import parse_cores


@dataclass
class CollectTask:
    """A task to collect programs of: its id, IRModule, name and stored workload (TVM JSON)."""

    task: str
    mod: object
    name: str
    workload: str


def register_platform(ds: Dataset, config: CollectConfig, target_spec: dict, kind: str) -> str:
    """Read the machine, add its platform row unless present; refuse to mix targets under one id."""
    from . import platforms

    runner = config.measure.as_dict() | program_subset(config)
    if config.measure.rpc_tracker:
        row = platforms.remote_platform(target_spec, runner, config.platform, kind)
    elif kind == "gpu":
        row = platforms.gpu_platform(target_spec, runner, platform=config.platform)
    else:
        row = platforms.cpu_platform(target_spec, runner, platform=config.platform)
        cores = parse_cores(config.measure.measure_cores) or sorted(os.sched_getaffinity(0))[: row["cores"]]
        row = _with_probes(ds, config, row, cores)
    return add_platform(ds, row)


def configuration_platforms(ds: Dataset, config: CollectConfig, mcpu: str) -> list[str]:
    """Add a platform row for each of ``config.configurations`` (on a CPU that LLVM calls ``mcpu``), named
    ``--platform`` (default: the processor's id) plus the configuration's label, e.g.
    ``...-4c-avx2``; returns their ids in the configurations' order. A configuration asking for an
    instruction set this CPU lacks is refused first."""
    import tvm

    from . import platforms
    from .configurations import check_isas

    host = tvm.target.Target({"kind": "llvm", "mcpu": mcpu})
    check_isas(config.configurations, mcpu, set(platforms.llvm_features(host)))
    ids = []
    for configuration in config.configurations:
        target = configuration.target(mcpu)
        others = [f"{c.isa}@{c.cores}" for c in config.configurations]
        timed = "configurations_side_by_side" if config.side_by_side else "configurations_one_at_a_time"
        runner = configuration.settings(config.measure).as_dict() | program_subset(config) | {timed: others}
        prefix = config.platform or platforms.cpu_platform_id(platforms.read_lscpu(), mcpu, 0).removesuffix("-0c")
        row = platforms.cpu_platform(target, runner, platform=f"{prefix}-{configuration.label}")
        row = _with_probes(ds, config, row, parse_cores(configuration.cores))
        ids.append(add_platform(ds, row))
    return ids


def program_subset(config: CollectConfig) -> dict:
    """The program set a replay measures, for the platform's ``runner`` provenance: every program of the
    kind's tasks, or the first ``replay_subset`` program ids of each task in sorted order."""
    if not config.replay:
        return {}
    listed = {} if config.task_list is None else {"task_list": Path(config.task_list).name}
    if config.replay_subset is None:
        return {"program_set": "all"} | listed
    return {"program_set": f"first {config.replay_subset} program ids of each task, sorted"} | listed


def _with_probes(ds: Dataset, config: CollectConfig, row: dict, cores: list[int]) -> dict:
    """A new CPU platform's row with its measured hardware features (:mod:`.probes`), when asked for."""
    if not config.probe_hardware or has_platform(ds, row["platform"]):
        return row
    from .probes import fill_cpu_probes

    return fill_cpu_probes(row, cores)


def has_platform(ds: Dataset, platform: str) -> bool:
    """Whether the dataset has a row for ``platform``."""
    return platform in set(ds.to_pandas("platforms", columns=["platform"])["platform"])


def add_platform(ds: Dataset, row: dict) -> str:
    """Add a platform row unless its id is present; refuse an id that the dataset holds with another target."""
    existing = ds.to_pandas("platforms")
    same = existing[existing["platform"] == row["platform"]]
    if len(same):
        if json.loads(same["target"].iloc[0]) != json.loads(row["target"]):
            raise ValueError(
                f"platform {row['platform']!r} exists in {ds.root} with target {same['target'].iloc[0]}, "
                f"not {row['target']}; pass --platform to name this configuration"
            )
        return row["platform"]
    ds.append("platforms", [row])
    return row["platform"]


def extract_tasks(ds: Dataset, config: CollectConfig, target_spec: dict) -> list[CollectTask]:
    """Extract the networks' tasks and record the networks, tasks and weights that the dataset lacks."""
    from .tasks import extract_network_tasks

    tasks: dict[str, CollectTask] = {}
    rows: dict[str, list[dict]] = {"networks": [], "tasks": [], "network_tasks": []}
    for name in config.networks:
        extracted = extract_network_tasks(name, target_spec)
        rows["networks"].append(extracted.network)
        rows["tasks"].extend(extracted.task_rows())
        rows["network_tasks"].extend(extracted.network_task_rows())
        for task in extracted.tasks:
            tasks.setdefault(task.task, CollectTask(task.task, task.mod, task.task_name, task.row["workload"]))
    for table, new_rows in rows.items():
        _append_missing(ds, table, new_rows)
    return list(tasks.values())


def _append_missing(ds: Dataset, table: str, rows: list[dict]) -> None:
    """Append the rows whose key the table does not hold yet (each key once)."""
    key = KEYS[table]
    have = {k if isinstance(k, tuple) else (k,) for k in ds.existing_keys(table)}
    fresh: dict[tuple, dict] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in have:
            fresh.setdefault(k, row)
    ds.append(table, list(fresh.values()))


def replay_tasks(ds: Dataset, config: CollectConfig, kind: str) -> list[CollectTask]:
    """The dataset's tasks of this kind (of the chosen networks, when given), with their stored workloads."""
    from ..programs.workload import WORKLOAD_FORMAT, load_workload

    frame = ds.to_pandas("tasks", columns=["task", "kind", "task_name", "workload_format", "workload"])
    frame = frame[(frame["kind"] == kind) & (frame["workload_format"] == WORKLOAD_FORMAT)]
    if config.networks:
        links = ds.to_pandas("network_tasks")
        unknown = set(config.networks) - set(links["network"])
        if unknown:
            raise ValueError(f"--replay: network(s) {sorted(unknown)} not in {ds.root}")
        frame = frame[frame["task"].isin(set(links[links["network"].isin(config.networks)]["task"]))]
    if frame.empty:
        raise ValueError(f"--replay: {ds.root} has no replayable {kind} tasks")
    return [CollectTask(r.task, load_workload(r.workload), r.task_name, r.workload) for r in frame.itertuples()]

