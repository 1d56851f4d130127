"""The importer's fast path: a chunk of log lines to columns, with few Python operations per line.

Lines written by Ansor's C++ log writer all look alike::

    {"i": [[TASK...], [[], STEPS]], "r": [[COSTS], ERROR_NO, ALL_COST, TIMESTAMP], "v": "v0.6"}

so a line is cut at ``], [[], [`` (end of the task) and at ``, "r": `` (start of the results), the
results are matched by one regular expression, and the task part, which is the same for every line of
a TenSet file, is decoded once per distinct text. The steps are *not* decoded: their canonical compact
JSON is the raw text with the writer's ``", "`` separators replaced by ``","`` (Ansor step lists hold
only integers, lists of integers and short identifier strings such as ``"auto_unroll_max_step$16"``,
so no string contains ``", "``). A line the fast path cannot cut (other spacing or key order, bad
JSON, a bad field, an unknown version) goes to the slow path, :func:`tenset_log.parse_record`, which
either accepts it (its steps re-serialized with orjson, giving the same canonical text) or says why
it is malformed. Numbers (costs, error codes, timestamps) are converted per chunk with orjson/numpy.
New step texts are checked cheaply (allowed characters, balanced brackets and quotes, no empty list
elements) rather than decoded; see :func:`trace_problem`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import orjson

from .tenset_log import ERROR_NAMES, SUPPORTED_VERSIONS, LogTask, MalformedRecord, parse_record

HEAD = b'{"i": [['
SEP = b"], [[], ["
RKEY = b', "r": '
_NUM = rb"-?[0-9.][0-9.eE+-]*"
TAIL = re.compile(
    rb', "r": \[\[((?:' + _NUM + rb"(?:, " + _NUM + rb")*)?)\], ([0-9]+), (" + _NUM + rb"), (" + _NUM
    + rb')\], "v": "(v[0-9.]+)"\}[ \t\r]*\Z'
)
FAST_VERSIONS = frozenset(v.encode() for v in SUPPORTED_VERSIONS)
_TRACE_CHARS = b'[]",-.$_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
_BAD_PAIRS = (b",,", b"[,", b",]", b"][", b"]\"", b"\"[", b"\n,", b",\n")

# resolve(raw task text, parsed task or None) -> task index; raises MalformedRecord for a bad task.
Resolver = Callable[[bytes, "LogTask | None"], int]
# bad(line number, reason)
BadLine = Callable[[int, str], None]


@dataclass
class Chunk:
    """Per-record columns of a chunk, as raw text (numbers are converted by :func:`convert`)."""

    task_idx: list[int] = field(default_factory=list)
    traces: list[bytes] = field(default_factory=list)
    costs: list[bytes] = field(default_factory=list)
    errors: list[bytes] = field(default_factory=list)
    stamps: list[bytes] = field(default_factory=list)
    linenos: list[int] = field(default_factory=list)
    comment_lines: int = 0


def split_lines(lines: list[bytes], lineno: int, resolve: Resolver, bad: BadLine) -> Chunk:
    """Cut every line into task index, trace and result texts; report malformed lines through ``bad``.

    ``lineno`` is the number of the line before ``lines[0]``.
    """
    out = Chunk()
    a_task, a_trace, a_cost = out.task_idx.append, out.traces.append, out.costs.append
    a_err, a_ts, a_line = out.errors.append, out.stamps.append, out.linenos.append
    tail_match = TAIL.match
    prev_task, prev_p, prev_t = b"", -1, -1
    comments = 0
    for line in lines:
        lineno += 1
        if line.startswith(HEAD):
            e = line.rfind(RKEY)
            m = tail_match(line, e) if e > 0 else None
            if m is not None:
                p = line.find(SEP, 7, e)
                costs, err, _, ts, version = m.groups()
                if p > 0 and version in FAST_VERSIONS and line.startswith(b"]]", e - 2):
                    if p != prev_p or not line.startswith(prev_task, 7):
                        prev_task, prev_p = line[7 : p + 1], p
                        try:
                            prev_t = resolve(prev_task, None)
                        except MalformedRecord:
                            prev_t = -1
                    if prev_t >= 0:
                        a_task(prev_t)
                        a_trace(line[p + 8 : e - 2].replace(b", ", b","))
                        a_cost(costs)
                        a_err(err)
                        a_ts(ts)
                        a_line(lineno)
                        continue
        else:
            stripped = line.strip()
            if not stripped or stripped.startswith(b"#"):
                comments += 1
                continue
        try:  # the slow path
            obj = orjson.loads(line)
            record = parse_record(obj)
            t = resolve(orjson.dumps(obj["i"][0]), record.task)
        except orjson.JSONDecodeError as err:
            bad(lineno, f"invalid JSON ({err})")
            continue
        except MalformedRecord as err:
            bad(lineno, str(err))
            continue
        a_task(t)
        a_trace(orjson.dumps(record.steps))
        a_cost(orjson.dumps(record.costs)[1:-1])
        a_err(str(record.error_no).encode())
        a_ts(orjson.dumps(record.timestamp))
        a_line(lineno)
    out.comment_lines = comments
    return out


def trace_problem(trace: bytes) -> str | None:
    """Why a canonical step text is not a plausible step list, or None when it is."""
    if not (trace.startswith(b"[[") and trace.endswith(b"]]")) and trace != b"[]":
        return "steps must be a list of steps"
    if trace.translate(None, _TRACE_CHARS):
        return "steps hold characters a step list cannot hold"
    if any(pair in trace for pair in _BAD_PAIRS) or trace.count(b'"') % 2:
        return "steps are not valid JSON"
    brackets = trace.translate(None, _TRACE_CHARS[2:])
    depth = 0
    for i, ch in enumerate(brackets):
        depth += 1 if ch == 91 else -1
        if depth < 0 or (depth == 0 and i != len(brackets) - 1):
            return "steps have unbalanced brackets"
    return None if depth == 0 else "steps have unbalanced brackets"


def quick_trace_ok(traces: list[bytes]) -> bool:
    """A cheap check of many new traces at once; False means look at them one by one."""
    for t in traces:
        if t.count(b"[") != t.count(b"]"):
            return False
    joined = b"\n".join(traces)
    if joined.translate(None, _TRACE_CHARS + b"\n") or joined.count(b'"') % 2:
        return False
    return not any(pair in joined for pair in _BAD_PAIRS)


@dataclass
class Numbers:
    """Converted result columns of the records of a chunk that survived the checks."""

    keep: np.ndarray  # indices into the chunk's records
    lengths: np.ndarray
    values: np.ndarray  # all costs, concatenated
    errors: np.ndarray
    stamps: np.ndarray


def convert(chunk: Chunk, bad: BadLine) -> Numbers:
    """Costs, error codes and timestamps as arrays; records with a bad number are reported and dropped."""
    n = len(chunk.costs)
    ok = np.ones(n, dtype=bool)
    try:
        lol = orjson.loads(b"[[" + b"],[".join(chunk.costs) + b"]]") if n else []
    except orjson.JSONDecodeError:
        lol = []
        for i, text in enumerate(chunk.costs):
            try:
                lol.append(orjson.loads(b"[" + text + b"]"))
            except orjson.JSONDecodeError:
                bad(chunk.linenos[i], "costs must be a list of numbers (seconds)")
                ok[i] = False
                lol.append([])
    try:
        errors = np.array(chunk.errors, dtype=np.bytes_).astype(np.int64) if n else np.zeros(0, np.int64)
        stamps = np.array(chunk.stamps, dtype=np.bytes_).astype(np.float64) if n else np.zeros(0)
    except ValueError:
        errors, stamps = np.zeros(n, np.int64), np.zeros(n)
        for i in range(n):
            try:
                errors[i], stamps[i] = int(chunk.errors[i]), float(chunk.stamps[i])
            except ValueError:
                bad(chunk.linenos[i], "timestamp must be a number (seconds since the epoch)")
                ok[i] = False
    lengths = np.fromiter(map(len, lol), dtype=np.int64, count=n)
    for i in np.flatnonzero(ok & ((errors >= len(ERROR_NAMES)) | ((errors == 0) & (lengths == 0)))):
        reason = (f"error_no must be an integer 0-{len(ERROR_NAMES) - 1}, got {errors[i]}"
                  if errors[i] >= len(ERROR_NAMES) else "a successful measurement without costs")
        bad(chunk.linenos[i], reason)
        ok[i] = False
    keep = np.flatnonzero(ok)
    if len(keep) < n:
        lol = [lol[i] for i in keep]
        lengths, errors, stamps = lengths[keep], errors[keep], stamps[keep]
    values = np.fromiter(chain.from_iterable(lol), dtype=np.float64, count=int(lengths.sum()))
    return Numbers(keep, lengths, values, errors, stamps)
