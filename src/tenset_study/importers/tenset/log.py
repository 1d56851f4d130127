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

What a valid record is, beyond its shape: costs are finite numbers, none negative; a successful
measurement (``error_no`` 0) has costs, all positive, whose mean is finite, or all zero: the program was
not measured (yet), e.g. a file of programs still to be measured. Such a record keeps its program and
gives no measurement (:attr:`LogRecord.measured` is False). The timestamp lies between 1970 and the year
9999, hardware params are 32-bit integers, and neither the workload key nor the steps nest lists more than
:data:`MAX_NESTING` deep (Ansor's nest 2 and 3 deep).

:func:`read_tenset_log` is the small, strict-or-forgiving public reader; the bulk importer uses a
faster path (:mod:`tenset_study.importers.tenset.chunk`) and falls back to :func:`parse_record` here for every
line the fast path cannot read, so both agree on what is valid and on the reasons given.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson

from ..checks import MAX_NESTING, nesting_exceeds, short_repr

SUPPORTED_VERSIONS = ("v0.2", "v0.3", "v0.4", "v0.5", "v0.6")
#: Timestamps accepted: seconds from the epoch up to the end of the year 9999 (what a datetime holds).
MAX_TIMESTAMP_S = 253402300800
_INT32 = (-(2**31), 2**31)

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
    measured: bool = True  # False: all costs zero, a program without a measurement

    @property
    def error(self) -> str | None:
        """TenSet's error name, or None for a successful measurement."""
        return None if self.error_no == 0 else ERROR_NAMES[self.error_no]

    @property
    def latency_s(self) -> float | None:
        """Mean of the costs, or None when the measurement failed or the program was not measured."""
        if self.error_no != 0 or not self.costs or not self.measured:
            return None
        return sum(self.costs) / len(self.costs)

    def trace(self) -> str:
        """The steps as compact JSON: the ``trace`` stored for the program."""
        return orjson.dumps(self.steps).decode()


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def nesting_depth(text: str) -> int:
    """How deep ``[`` brackets nest in a text (strings not taken apart: a bound, cheap for short texts)."""
    if text.count("[") <= MAX_NESTING:
        return text.count("[")
    depth = deepest = 0
    for char in text:
        if char == "[":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "]":
            depth -= 1
    return deepest


def check_results(costs: list, error_no: int, timestamp: float) -> bool:
    """Check the costs and timestamp of a record; True when it is a measurement, False when all costs are zero
    (a successful record of a program that was not measured). Raises :class:`MalformedRecord`."""
    if any(not math.isfinite(c) or c < 0 for c in costs):
        raise MalformedRecord("costs must be finite and not negative (seconds)")
    if not 0 <= timestamp < MAX_TIMESTAMP_S:
        raise MalformedRecord(f"timestamp {short_repr(timestamp)} is not seconds since the epoch (up to the year 9999)")
    if error_no != 0:
        return True
    if not costs:
        raise MalformedRecord("a successful measurement without costs")
    zeros = sum(c == 0 for c in costs)
    if zeros == len(costs):
        return False
    if zeros:
        raise MalformedRecord("a cost of 0 s among measured costs (all zero means not measured)")
    if not math.isfinite(sum(costs) / len(costs)):
        raise MalformedRecord("costs too large: their mean is not a finite number")
    return True


def parse_task(task: object) -> LogTask:
    """Check and convert the task list of a record (``i[0]``)."""
    if not isinstance(task, list) or not 2 <= len(task) <= 6:
        raise MalformedRecord("task must be a list [workload_key, target, ...] of 2 to 6 fields")
    key, target = task[0], task[1]
    if not isinstance(key, str) or not key:
        raise MalformedRecord("workload key must be a non-empty string")
    if nesting_depth(key) > MAX_NESTING:
        raise MalformedRecord(f"workload key nests lists more than {MAX_NESTING} deep")
    if not isinstance(target, str) or not target.strip():
        raise MalformedRecord("target must be a non-empty string")
    hw = task[2] if len(task) > 2 else None
    if hw is not None and (not isinstance(hw, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and _INT32[0] <= v < _INT32[1] for v in hw)):
        raise MalformedRecord("hardware params must be a list of 32-bit integers")
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
    """Check that ``steps`` is a list of steps, each a list led by a step code string, nesting at most
    :data:`MAX_NESTING` deep."""
    if not isinstance(steps, list):
        raise MalformedRecord("steps must be a list")
    for i, step in enumerate(steps):
        if not isinstance(step, list) or not step or not isinstance(step[0], str):
            raise MalformedRecord(f"step {i} must be a list led by its code (e.g. \"SP\")")
    if nesting_exceeds(steps, MAX_NESTING):
        raise MalformedRecord(f"steps nest lists more than {MAX_NESTING} deep")
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
            f"unsupported log version {short_repr(version)} (this reader reads {', '.join(SUPPORTED_VERSIONS)})"
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
        raise MalformedRecord(f"error_no must be an integer 0-{len(ERROR_NAMES) - 1}, got {short_repr(error_no)}")
    if not _is_number(all_cost):
        raise MalformedRecord("all_cost must be a number")
    if not _is_number(timestamp):
        raise MalformedRecord("timestamp must be a number (seconds since the epoch)")
    try:
        floats, all_cost, timestamp = [float(c) for c in costs], float(all_cost), float(timestamp)
    except OverflowError:
        raise MalformedRecord("a number of the results is too large for a float") from None
    measured = check_results(floats, error_no, timestamp)
    return LogRecord(task, steps, floats, error_no, all_cost, timestamp, version, measured)


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
