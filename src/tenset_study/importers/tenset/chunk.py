"""The importer's fast path: a chunk of log lines to columns, with few Python operations per line.

Lines written by Ansor's C++ log writer all look alike::

    {"i": [[TASK...], [[], STEPS]], "r": [[COSTS], ERROR_NO, ALL_COST, TIMESTAMP], "v": "v0.6"}

and every line of a TenSet file starts with the same text up to its steps (one task per file). So a
line costs one ``startswith`` (the previous line's prefix), one ``rfind`` of ``, "r": `` and one
regular-expression match of the results; the task text is decoded once per distinct text.

The steps are not decoded. Their canonical text (compact JSON, what ``orjson.dumps`` of the decoded
steps gives) is the written text without spaces: the writer puts one after every comma and nowhere
else, and Ansor step lists hold only integers, lists of integers and identifier strings such as
``"auto_unroll_max_step$16"``. When the spaces removed are not one per comma, or a byte a step list
cannot hold shows up, the steps are decoded and re-encoded instead (:func:`canonical_steps`). Every
new step text (a program not seen before) is checked exactly, by :class:`StepChecker`: one orjson decode,
and the structural checks once per skeleton, so that a damaged step list is reported, never stored.

A line the fast path cannot cut (other spacing or key order, bad JSON, a bad field, an unknown
version) goes to the slow path, :func:`tenset_study.importers.tenset.log.parse_record`, which either accepts
it (same canonical text) or says why it is malformed. Costs, error codes and timestamps are
converted and checked per chunk (:func:`tenset_study.importers.tenset.costs.convert`) with one orjson call each.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import orjson

from .log import SUPPORTED_VERSIONS, LogTask, MalformedRecord, check_steps, parse_record

HEAD = b'{"i": [['
SEP = b"], [[], ["
RKEY = b', "r": '
_VERSIONS = b"|".join(re.escape(v.encode()) for v in SUPPORTED_VERSIONS)
# Matched at the position of ', "r": '; the steps and the "i" list end just before it ("]]").
# The error code is a small integer and all_cost (not stored) a JSON number; anything else takes the slow path.
_JSON_NUMBER = rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
TAIL = re.compile(
    rb'(?<=\]\]), "r": \[\[([^\]]*)\], (0|[1-9][0-9]{0,8}), ' + _JSON_NUMBER + rb', ([^\]]*)\], "v": "(?:'
    + _VERSIONS + rb')"\}[ \t\r]*\Z'
)
# Characters an Ansor step list holds; translate() maps every other byte to NUL (and drops spaces).
_TRACE_CHARS = b'[]",-.$_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
STEP_TABLE = bytes(c if c in _TRACE_CHARS else 0 for c in range(256))

# resolve(raw task text, parsed task or None) -> task index; raises MalformedRecord for a bad task.
Resolver = Callable[[bytes, LogTask | None], int]
# bad(line number, reason)
BadLine = Callable[[int, str], None]


@dataclass
class Chunk:
    """The records of a chunk of lines, as raw text (numbers are converted by :func:`convert`).

    ``raws[j]`` is record j's step text as written (canonicalized by :func:`canonical_steps`), or
    already canonical when ``j in canonical``; ``results[j]`` its (costs, error_no, timestamp) texts.
    """

    first_lineno: int
    task_idx: list[int] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)
    results: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)
    canonical: set[int] = field(default_factory=set)
    skips: list[int] = field(default_factory=list)  # record count at every line that is not a record
    comment_lines: int = 0
    lines: int = 0  # lines read (records, comments and malformed ones)
    linenos: list[int] | None = None  # explicit line numbers (after :meth:`take`)

    def lineno(self, j: int) -> int:
        """Line number of record j."""
        if self.linenos is not None:
            return int(self.linenos[j])
        return int(self.first_lineno + j + bisect_right(self.skips, j))

    def take(self, keep: np.ndarray) -> "Chunk":
        """The chunk restricted to the records ``keep`` (line numbers follow)."""
        out = Chunk(self.first_lineno, comment_lines=self.comment_lines, lines=self.lines)
        out.linenos = [self.lineno(j) for j in keep]
        out.task_idx = [self.task_idx[j] for j in keep]
        out.raws = [self.raws[j] for j in keep]
        out.results = [self.results[j] for j in keep]
        out.canonical = {i for i, j in enumerate(keep) if j in self.canonical}
        return out


def split_lines(data: bytes, lineno: int, resolve: Resolver, bad: BadLine) -> Chunk:
    """Cut the lines of ``data`` into task index, step text and result texts; report bad lines via ``bad``.

    ``data`` holds whole lines; ``lineno`` is the number of the line before its first. Lines are not
    copied out of ``data``: the fast path works on offsets and copies only the step text.
    """
    out = Chunk(lineno + 1)
    a_task, a_raw, a_res, a_skip = out.task_idx.append, out.raws.append, out.results.append, out.skips.append
    tail_match, find, rfind, startswith = TAIL.match, data.find, data.rfind, data.startswith
    # The text up to the steps ({"i": [[TASK], [[], ) of the previous line, its task index, its length.
    prefix, prefix_t, start = b"\x00", -1, 0
    comments, i, pos, size = 0, 0, 0, len(data)
    while pos < size:
        end = find(b"\n", pos)
        if end < 0:
            end = size
        line_start, pos, i = pos, end + 1, i + 1
        fast = True
        if not startswith(prefix, line_start):
            p = find(SEP, line_start + 7, end) if startswith(HEAD, line_start) else -1
            if p > 0:
                prefix, start = data[line_start : p + 8], p + 8 - line_start
                try:
                    prefix_t = resolve(data[line_start + 7 : p + 1], None)
                except MalformedRecord:
                    prefix_t = -1
            else:
                stripped = data[line_start:end].strip()
                if not stripped or stripped.startswith(b"#"):
                    comments += 1
                    a_skip(len(out.raws))
                    continue
                fast = False
        if fast and prefix_t >= 0:
            e = rfind(RKEY, line_start, end)
            m = tail_match(data, e, end) if e > line_start + start else None
            if m is not None:
                a_task(prefix_t)
                a_raw(data[line_start + start : e - 2])
                a_res(m.groups())
                continue
        a_skip(len(out.raws))
        try:  # the slow path
            obj = orjson.loads(data[line_start:end].strip())  # as parse_line reads it
            record = parse_record(obj)
            t = resolve(orjson.dumps(obj["i"][0]), record.task)
        except orjson.JSONDecodeError as err:
            bad(lineno + i, f"invalid JSON ({err})")
            continue
        except MalformedRecord as err:
            bad(lineno + i, str(err))
            continue
        out.skips.pop()
        out.canonical.add(len(out.raws))
        a_task(t)
        a_raw(orjson.dumps(record.steps))
        a_res((orjson.dumps(record.costs)[1:-1], str(record.error_no).encode(), orjson.dumps(record.timestamp)))
    out.comment_lines = comments
    out.lines = i
    return out


def canonical_steps(raw: bytes, is_canonical: bool = False) -> bytes:
    """The compact JSON of a step list as written; raises :class:`MalformedRecord` if it is not one.

    Fast: drop the spaces (the writer puts one after each comma). When the spaces removed are not one
    per comma (a space inside a string), or a byte a step list cannot hold shows up, the text is
    decoded, checked and re-encoded instead.
    """
    if not is_canonical:
        trace = raw.translate(STEP_TABLE, b" ")
        removed = len(raw) - len(trace)
        if (not removed or removed == trace.count(b",")) and b"\x00" not in trace:
            return trace
    return parsed_steps(raw)


def parsed_steps(text: bytes) -> bytes:
    """Decode, check and re-encode a step list (the slow, exact way)."""
    try:
        return orjson.dumps(check_steps(orjson.loads(text)))
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        raise MalformedRecord("steps are not valid JSON") from None


class StepChecker:
    """The exact check of new step texts: one orjson decode and encode each.

    A text must be valid JSON and pass :func:`tenset_study.importers.tenset.log.check_steps` (a list of
    steps, each led by its code, nesting at most ``MAX_NESTING`` deep); its canonical text is what
    ``orjson.dumps`` of the decoded steps gives (the slow path's text). The structural check is done once
    per *skeleton* (the text without its digits): a valid JSON text with the skeleton of a checked one has
    the same structure (brackets, strings and commas sit in the same order; only numbers and string
    contents differ), so it passes too. A task's programs share a few skeletons (those of its sketches).
    """

    MAX_SKELETONS = 20_000

    def __init__(self) -> None:
        self.skeletons: set[bytes] = set()

    def canonical(self, trace: bytes) -> bytes:
        """The canonical text of the step list ``trace``; raises :class:`MalformedRecord` if it is not one."""
        try:
            steps = orjson.loads(trace)
        except orjson.JSONDecodeError:
            raise MalformedRecord("steps are not valid JSON") from None
        skeleton = trace.translate(None, b"0123456789")
        if skeleton not in self.skeletons:
            check_steps(steps)
            if len(self.skeletons) < self.MAX_SKELETONS:
                self.skeletons.add(skeleton)
        return orjson.dumps(steps)
