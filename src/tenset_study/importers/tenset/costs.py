"""The results of a chunk's records as arrays: costs, error codes, timestamps, checked and averaged.

:func:`tenset_study.importers.tenset.chunk.split_lines` cuts every record's results into three texts (costs,
error code, timestamp); :func:`convert` turns them into arrays with one orjson call each and applies, to all
records at once, the rules of :func:`tenset_study.importers.tenset.log.check_results`: costs finite and not
negative; a successful record has costs, all positive with a finite mean (its latency), or all zero (a
program not measured: :attr:`Numbers.measured` is False); timestamps within 1970 to the year 9999. A record
that breaks a rule is reported through ``bad`` with the slow path's reason and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
import orjson

from ..checks import short_repr
from .chunk import BadLine, Chunk
from .log import ERROR_NAMES, MAX_TIMESTAMP_S

_NUMBER_CHARS = b"0123456789.eE+-"


@dataclass
class Numbers:
    """Converted result columns of the records of a chunk that survived the checks."""

    keep: np.ndarray  # indices into the chunk's records
    lengths: np.ndarray
    values: np.ndarray  # all costs, concatenated
    errors: np.ndarray
    stamps: np.ndarray
    latency: np.ndarray  # mean of the costs (meaningless for failures and programs not measured)
    measured: np.ndarray  # False: all costs zero, a program without a measurement


def _parse_lists(texts: tuple[bytes, ...] | list[bytes]) -> list[list] | None:
    """The cost lists of the records; None when some text is not a list of numbers."""
    joined = b"[[" + b"],[".join(texts) + b"]]"
    # only number characters, and no brackets inside a text (they would change how many lists there are)
    if joined.translate(None, _NUMBER_CHARS + b", []") or joined.count(b"[") != len(texts) + 1:
        return None
    try:
        return orjson.loads(joined)
    except orjson.JSONDecodeError:
        return None


def _parse_numbers(texts: tuple[bytes, ...], dtype: type, check: bool = True) -> np.ndarray | None:
    joined = b"[" + b",".join(texts) + b"]"
    if check and joined.translate(None, _NUMBER_CHARS + b",[]"):
        return None
    try:
        numbers = np.array(orjson.loads(joined), dtype=dtype)
    except (orjson.JSONDecodeError, ValueError, TypeError, OverflowError):
        return None
    return numbers if numbers.shape == (len(texts),) else None


def _json_number(text: bytes) -> float:
    """A JSON number's value; NaN for anything else (what the slow path rejects)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return float("nan")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")


def _cost_lists(chunk: Chunk, costs: tuple[bytes, ...], ok: np.ndarray, bad: BadLine) -> list[list]:
    lists = _parse_lists(costs)
    if lists is not None and len(lists) == len(costs):
        return lists
    lists = []
    for j, text in enumerate(costs):
        parsed = _parse_lists((text,))
        if parsed is None or len(parsed) != 1:
            bad(chunk.lineno(j), "costs must be a list of numbers (seconds)")
            ok[j] = False
            parsed = [[]]
        lists.append(parsed[0])
    return lists


def _reason(errors: int, stamp: float, negative: bool, length: int, zeros: int, latency: float) -> str | None:
    """Why a record's results are not valid (the slow path's words), or None."""
    if errors >= len(ERROR_NAMES):
        return f"error_no must be an integer 0-{len(ERROR_NAMES) - 1}, got {errors}"
    if negative:
        return "costs must be finite and not negative (seconds)"
    if np.isnan(stamp):
        return "timestamp must be a number (seconds since the epoch)"
    if not 0 <= stamp < MAX_TIMESTAMP_S:
        return f"timestamp {short_repr(float(stamp))} is not seconds since the epoch (up to the year 9999)"
    if errors != 0:
        return None
    if length == 0:
        return "a successful measurement without costs"
    if 0 < zeros < length:
        return "a cost of 0 s among measured costs (all zero means not measured)"
    if zeros == 0 and not np.isfinite(latency):
        return "costs too large: their mean is not a finite number"
    return None


def convert(chunk: Chunk, bad: BadLine) -> Numbers:
    """Costs, error codes and timestamps as arrays, with each record's mean cost; records whose results
    break a rule (see the module docstring) are reported and dropped."""
    n = len(chunk.results)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Numbers(empty, empty, np.zeros(0), empty, np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))
    costs, errors_text, stamps_text = zip(*chunk.results)
    ok = np.ones(n, dtype=bool)
    lists = _cost_lists(chunk, costs, ok, bad)
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=n)
    values = np.fromiter(chain.from_iterable(lists), dtype=np.float64, count=int(lengths.sum()))
    errors = _parse_numbers(errors_text, np.int64, check=False)  # digits: the regex or the slow path says so
    if errors is None:  # defensive: a number too large for int64
        errors = np.array([int(t) if t.isdigit() and len(t) < 10 else len(ERROR_NAMES) for t in errors_text],
                          dtype=np.int64)
    stamps = _parse_numbers(stamps_text, np.float64)
    if stamps is None:
        stamps = np.array([_json_number(t) for t in stamps_text], dtype=np.float64)
    owner = np.repeat(np.arange(n), lengths)
    negative = np.bincount(owner, weights=~(values >= 0) | ~np.isfinite(values), minlength=n) > 0
    zeros = np.bincount(owner, weights=values == 0, minlength=n).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        latency = np.bincount(owner, weights=values, minlength=n) / lengths
    success = errors == 0
    suspect = ok & ((errors >= len(ERROR_NAMES)) | negative | ~(stamps >= 0) | ~(stamps < MAX_TIMESTAMP_S)
                    | (success & ((lengths == 0) | ((zeros > 0) & (zeros < lengths))
                                  | ((zeros == 0) & ~np.isfinite(latency)))))
    for j in np.flatnonzero(suspect):
        reason = _reason(int(errors[j]), stamps[j], bool(negative[j]), int(lengths[j]), int(zeros[j]), latency[j])
        if reason is not None:
            bad(chunk.lineno(j), reason)
            ok[j] = False
    measured = ~(success & (zeros == lengths))
    keep = np.flatnonzero(ok)
    if len(keep) < n:
        values = values[ok[owner]]
        lengths, errors, stamps, latency, measured = (a[keep] for a in (lengths, errors, stamps, latency, measured))
    return Numbers(keep, lengths, values, errors, stamps, latency, measured)
