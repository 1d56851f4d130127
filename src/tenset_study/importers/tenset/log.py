"""Ansor/TenSet measurement logs: one JSON record per line, read and checked.

A record (log version v0.6; older versions carry fewer task fields)::

    {"i": [[workload_key, target, hardware_params, target_host, layout_rewrite, input_names],
           [[], steps]],
     "r": [costs_in_seconds, error_no, all_cost, timestamp],
     "v": "v0.6"}

Versions: v0.6 and v0.5 are what TenSet ships. The older v0.2 (task = workload key and target),
v0.3 (adds hardware params) and v0.4 (adds the target host) are read as well: their records have the
same shape, only fewer task fields, and their workload keys usually *name* a registered function
(``["matmul_add", 1024, 1024, 1024, "float32"]``) instead of hashing a compute DAG. Such tasks are
imported with the function name as ``task_name`` (and an operator class guessed from it); their
arguments are function arguments, not tensor shapes, so no byte count is derived. Any other version
string is rejected line by line with a message naming the supported versions.

:func:`read_tenset_log` is the small, strict-or-forgiving public reader; the bulk importer uses a
faster path (:mod:`tenset_study.importers.tenset.chunk`) and falls back to :func:`parse_record` here for every
line the fast path cannot read, so both agree on what is valid and on the reasons given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson

SUPPORTED_VERSIONS = ("v0.2", "v0.3", "v0.4", "v0.5", "v0.6")

# Ansor's MeasureErrorNO, in order (tvm/auto_scheduler/measure.py).
ERROR_NAMES = (
    "NO_ERROR",
    "INSTANTIATION_ERROR",
    "COMPILE_HOST",
    "COMPILE_DEVICE",
    "RUNTIME_DEVICE",
    "WRONG_ANSWER",
    "BUILD_TIMEOUT",
    "RUN_TIMEOUT",
    "UNKNOWN_ERROR",
)

# Names of Ansor's transform steps (the code that leads every step list).
STEP_NAMES = {
    "AN": "annotation", "FU": "fuse", "PR": "pragma", "RE": "reorder", "SP": "split",
    "FSP": "follow split", "FFSP": "follow fused split", "SA": "storage align", "CA": "compute at",
    "CI": "compute inline", "CR": "compute root", "CHR": "cache read", "CHW": "cache write", "RF": "rfactor",
}


class MalformedRecord(ValueError):
    """A log line that is not a valid record; the message says why."""


@dataclass(frozen=True)
class LogTask:
    """The task part of a record: what was tuned, for which target."""

    workload_key: str
    target: str
    hardware_params: tuple | None = None
    target_host: str | None = None
    layout_rewrite: int | None = None
    input_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LogRecord:
    """One parsed measurement record."""

    task: LogTask
    steps: list
    costs: list[float]
    error_no: int
    all_cost: float
    timestamp: float
    version: str

    @property
    def error(self) -> str | None:
        """TenSet's error name, or None for a successful measurement."""
        return None if self.error_no == 0 else ERROR_NAMES[self.error_no]

    @property
    def latency_s(self) -> float | None:
        """Mean of the costs, or None when the measurement failed."""
        return None if self.error_no != 0 or not self.costs else sum(self.costs) / len(self.costs)

    def trace(self) -> str:
        """The steps as compact JSON: the ``trace`` stored for the program."""
        return orjson.dumps(self.steps).decode()


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def parse_task(task: object) -> LogTask:
    """Check and convert the task list of a record (``i[0]``)."""
    if not isinstance(task, list) or not 2 <= len(task) <= 6:
        raise MalformedRecord("task must be a list [workload_key, target, ...] of 2 to 6 fields")
    key, target = task[0], task[1]
    if not isinstance(key, str) or not key:
        raise MalformedRecord("workload key must be a non-empty string")
    if not isinstance(target, str) or not target.strip():
        raise MalformedRecord("target must be a non-empty string")
    hw = task[2] if len(task) > 2 else None
    if hw is not None and (not isinstance(hw, list) or not all(isinstance(v, int) for v in hw)):
        raise MalformedRecord("hardware params must be a list of integers")
    host = task[3] if len(task) > 3 else None
    if host is not None and not isinstance(host, str):
        raise MalformedRecord("target host must be a string")
    layout = task[4] if len(task) > 4 else None
    if layout is not None and (not isinstance(layout, int) or isinstance(layout, bool)):
        raise MalformedRecord("layout rewrite option must be an integer")
    names = task[5] if len(task) > 5 else None
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise MalformedRecord("task input names must be a list of strings")
    return LogTask(key, target, tuple(hw) if hw is not None else None, host, layout,
                   tuple(names) if names is not None else None)


def check_steps(steps: object) -> list:
    """Check that ``steps`` is a list of steps, each a list led by a step code string."""
    if not isinstance(steps, list):
        raise MalformedRecord("steps must be a list")
    for i, step in enumerate(steps):
        if not isinstance(step, list) or not step or not isinstance(step[0], str):
            raise MalformedRecord(f"step {i} must be a list led by its code (e.g. \"SP\")")
    return steps


def parse_record(obj: object) -> LogRecord:
    """Check a decoded JSON line and return the record; raise :class:`MalformedRecord` with the reason."""
    if not isinstance(obj, dict):
        raise MalformedRecord("a record must be a JSON object with keys i, r, v")
    missing = [k for k in ("i", "r", "v") if k not in obj]
    if missing:
        raise MalformedRecord(f"missing field(s) {', '.join(missing)}")
    version = obj["v"]
    if version not in SUPPORTED_VERSIONS:
        raise MalformedRecord(
            f"unsupported log version {version!r} (this reader reads {', '.join(SUPPORTED_VERSIONS)})"
        )
    inp = obj["i"]
    if not isinstance(inp, list) or len(inp) != 2:
        raise MalformedRecord("i must be [task, state]")
    task = parse_task(inp[0])
    state = inp[1]
    if not isinstance(state, list) or len(state) != 2 or not isinstance(state[0], list):
        raise MalformedRecord("state must be [stages, steps]")
    steps = check_steps(state[1])
    res = obj["r"]
    if not isinstance(res, list) or len(res) != 4:
        raise MalformedRecord("r must be [costs, error_no, all_cost, timestamp]")
    costs, error_no, all_cost, timestamp = res
    if not isinstance(costs, list) or not all(_is_number(c) for c in costs):
        raise MalformedRecord("costs must be a list of numbers (seconds)")
    if not isinstance(error_no, int) or isinstance(error_no, bool) or not 0 <= error_no < len(ERROR_NAMES):
        raise MalformedRecord(f"error_no must be an integer 0-{len(ERROR_NAMES) - 1}, got {error_no!r}")
    if error_no == 0 and not costs:
        raise MalformedRecord("a successful measurement without costs")
    if not _is_number(all_cost):
        raise MalformedRecord("all_cost must be a number")
    if not _is_number(timestamp):
        raise MalformedRecord("timestamp must be a number (seconds since the epoch)")
    return LogRecord(task, steps, [float(c) for c in costs], error_no, float(all_cost), float(timestamp), version)


def parse_line(line: bytes | str) -> LogRecord | None:
    """Parse one log line: None for a blank or ``#`` comment line, else the record (or raise)."""
    text = line.strip()
    if not text or text[:1] in (b"#", "#"):
        return None
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise MalformedRecord(f"invalid JSON ({err})") from None
    return parse_record(obj)


def read_tenset_log(
    path: str | os.PathLike,
    on_error: Callable[[str, int, str], None] | None = None,
) -> Iterator[LogRecord]:
    """Yield the records of an Ansor/TenSet log file, skipping blank and ``#`` comment lines.

    A malformed line raises :class:`MalformedRecord` naming the file and line, unless ``on_error``
    is given: then ``on_error(file, line_number, reason)`` is called and reading goes on.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            try:
                record = parse_line(line)
            except MalformedRecord as err:
                if on_error is None:
                    raise MalformedRecord(f"{path}:{lineno}: {err}") from None
                on_error(path, lineno, str(err))
                continue
            if record is not None:
                yield record
