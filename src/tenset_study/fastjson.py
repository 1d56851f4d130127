"""JSON for the hot paths (schedule traces, token keys): orjson where it is installed, else the standard
library with the same compact output (the GPU host has no orjson wheel for its Python). Both give the same
bytes for what the traces hold (ints, floats, strings, lists, null, booleans)."""

from __future__ import annotations

import json


def _stdlib_dumps(obj) -> bytes:
    """``orjson.dumps`` with the standard library: compact, UTF-8, tuples as lists."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


try:
    import orjson

    dumps, loads, JSONDecodeError = orjson.dumps, orjson.loads, orjson.JSONDecodeError
    BACKEND = "orjson"
except ImportError:  # pragma: no cover - exercised where orjson is missing
    dumps, loads, JSONDecodeError = _stdlib_dumps, json.loads, json.JSONDecodeError
    BACKEND = "json"


def jsonable(value):
    """A copy of ``value`` made of JSON types only (timestamps and other objects as their ``str``), e.g. a
    ``platforms`` row to write into a JSON file."""
    return json.loads(json.dumps(value, default=str))


__all__ = ["BACKEND", "JSONDecodeError", "dumps", "jsonable", "loads"]
