"""Which tasks a collection measures: a fixed choice, written to a task list, that every machine and both
target kinds make alike.

A task list is a text file with one id per line (``#`` starts a comment). An id is either a task id or a
*workload id*: a hash of the task's operator class, argument shapes and dtypes, which a CPU task and a GPU
task of the same workload share (their task ids differ, since the target is part of a task). So a list chosen
on the CPU tasks also picks the same workloads among the GPU tasks, once those are extracted.

:func:`choose_tasks` makes the choice: tasks whose programs can be ranked (at least ``min_programs`` distinct
programs), every operator class whole except those capped (conv2d, which outnumbers the rest), a capped class
drawn evenly across networks by a seeded hash, so that a re-run picks the same tasks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd


def workload_ids(tasks: pd.DataFrame) -> pd.Series:
    """The workload id of each row of a ``tasks`` frame (columns ``op``, ``arg_shapes``, ``arg_dtypes``):
    the same for a CPU task and a GPU task of one workload."""
    keys = tasks["op"].astype(str) + "|" + tasks["arg_shapes"].astype(str) + "|" + tasks["arg_dtypes"].astype(str)
    return keys.map(lambda key: "w" + hashlib.sha1(key.encode()).hexdigest()[:15])


def choose_tasks(tasks: pd.DataFrame, programs: pd.Series, network_tasks: pd.DataFrame, *,
                 min_programs: int = 32, caps: Mapping[str, int] | None = None, seed: int = 0) -> pd.DataFrame:
    """Choose tasks to measure.

    Parameters
    ----------
    tasks : ``tasks`` rows (``task``, ``op``, ``arg_shapes``, ``arg_dtypes``) of one kind, the candidates.
    programs : distinct programs per task id (tasks absent from it have none).
    network_tasks : the dataset's ``network_tasks`` (``network``, ``task``), to spread a capped class over
        networks.
    min_programs : a task with fewer programs ranks too little to keep.
    caps : operator class -> most tasks kept of it (e.g. ``{"conv2d": 110}``); other classes are kept whole.
    seed : the hash seed of the draw within a capped class.

    Returns
    -------
    The chosen rows, with a ``workload_id`` column, in task order.
    """
    caps = dict(caps or {})
    frame = tasks.assign(programs=tasks["task"].map(programs).fillna(0).astype(int))
    frame = frame[frame["programs"] >= min_programs].assign(workload_id=lambda f: workload_ids(f))
    kept = [frame[~frame["op"].isin(caps)]]
    for op, cap in caps.items():
        kept.append(_spread_over_networks(frame[frame["op"] == op], network_tasks, cap, seed))
    return pd.concat(kept).sort_values("task").reset_index(drop=True)


def _spread_over_networks(frame: pd.DataFrame, network_tasks: pd.DataFrame, cap: int, seed: int) -> pd.DataFrame:
    """At most ``cap`` rows of ``frame``, taken round-robin over networks, each network's tasks in the order of
    a seeded hash of their workload ids (a task of several networks counts for the first to draw it)."""
    if len(frame) <= cap:
        return frame
    order = frame.assign(rank=frame["workload_id"].map(lambda w: hashlib.sha1(f"{seed}:{w}".encode()).hexdigest()))
    links = network_tasks[network_tasks["task"].isin(order["task"])]
    queues = {net: list(order.set_index("task").loc[group["task"]].sort_values("rank").index)
              for net, group in links.groupby("network", sort=True)}
    chosen: list[str] = []
    seen: set[str] = set()
    while len(chosen) < cap and any(queues.values()):
        for queue in queues.values():
            while queue and queue[0] in seen:
                queue.pop(0)
            if queue and len(chosen) < cap:
                seen.add(queue[0])
                chosen.append(queue.pop(0))
    return frame[frame["task"].isin(chosen)]


def write_task_list(path: str | Path, ids: Iterable[str], header: str) -> None:
    """Write a task list: ``header`` as comment lines, then one id per line, sorted."""
    lines = [f"# {line}" for line in header.strip().splitlines()] + sorted(set(ids))
    Path(path).write_text("\n".join(lines) + "\n")


def read_task_list(path: str | Path) -> set[str]:
    """The ids of a task list; a line that is neither a task id (16 hex digits) nor a workload id (``w`` and 15
    hex digits) is refused with its line number."""
    ids = set()
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not _is_id(text):
            raise ValueError(f"{path}:{number}: {text!r} is neither a task id nor a workload id")
        ids.add(text)
    if not ids:
        raise ValueError(f"{path}: the task list names no task")
    return ids


def _is_id(text: str) -> bool:
    digits = text[1:] if text.startswith("w") else text
    return len(text) == 16 and all(c in "0123456789abcdef" for c in digits)


def keep_listed(tasks: list, task_rows: pd.DataFrame, listed: set[str]) -> list:
    """The collection tasks (objects with a ``task`` id) whose task id or workload id is ``listed``;
    ``task_rows`` are their ``tasks`` rows."""
    rows = task_rows[task_rows["task"].isin({t.task for t in tasks})]
    wanted = set(rows.loc[rows["task"].isin(listed) | workload_ids(rows).isin(listed), "task"])
    return [t for t in tasks if t.task in wanted]
