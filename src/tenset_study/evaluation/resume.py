"""Resumable experiments: a folder of finished units that a rerun of the same experiment reuses.

A long experiment (an export of the ``full`` preset on the GPU host, whose machine can go back mid-run) is many
independent units: one model fitted and scored for one seed on one split (:func:`~.runner.run_experiment`, which
the learning curve and the pruning grid call), or one (direction, seed) of the transfer experiment. Inside
``with resuming(folder, context):`` every unit is first looked up in ``folder`` by a digest of everything its
result depends on, and a unit computed afresh is written there (atomically) before the run goes on. Interrupted,
the same command finds the finished units and computes only the rest; its results equal an uninterrupted run's.

``context`` names the experiment as a whole (experiment, preset settings, dataset content, options): a folder
made for another context is refused with a one-line error rather than mixed in. Outside ``resuming`` every unit
is computed as usual and nothing is written.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import pickle
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

CONTEXT_FILE = "context.json"

_ACTIVE: contextvars.ContextVar[UnitStore | None] = contextvars.ContextVar("tenset_study_resume", default=None)


class ResumeError(ValueError):
    """A resume folder that belongs to another experiment or cannot be read."""


def _plain(value: Any) -> Any:
    """A JSON-able stand-in for ``value`` (numpy scalars and arrays, paths, tuples, sets)."""
    if isinstance(value, np.ndarray):
        return array_digest(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(map(str, value))
    return str(value)


def digest(*parts: Any) -> str:
    """A short stable digest of JSON-able ``parts`` (dict keys sorted; arrays by their content)."""
    text = json.dumps(parts, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def array_digest(values: np.ndarray) -> str:
    """A digest of an array's dtype, shape and bytes."""
    values = np.ascontiguousarray(values)
    h = hashlib.sha256(f"{values.dtype}{values.shape}".encode())
    h.update(values.tobytes())
    return h.hexdigest()[:24]


class UnitStore:
    """The finished units of one experiment in ``folder`` (one pickle per unit, named by its digest)."""

    def __init__(self, folder: str | os.PathLike, context: dict) -> None:
        self.folder = Path(folder)
        self.context = json.loads(json.dumps(context, sort_keys=True, default=_plain))
        marker = self.folder / CONTEXT_FILE
        if marker.exists():
            try:
                found = json.loads(marker.read_text())
            except (OSError, json.JSONDecodeError) as err:
                raise ResumeError(f"{marker}: not a resume context ({err})") from None
            if found != self.context:
                differ = sorted(k for k in set(found) | set(self.context) if found.get(k) != self.context.get(k))
                raise ResumeError(f"{self.folder}: holds units of another experiment (differs in "
                                  f"{', '.join(differ)}); pass another folder or delete it")
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps(self.context, indent=1, sort_keys=True) + "\n")
        self.reused = 0
        self.computed = 0
        self.unit_seconds = 0.0  # compute time of every unit this run used, whichever run computed it
        self.commits: set[str] = set()
        self._commit: str | None = None

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.pkl"

    def load(self, key: str) -> dict | None:
        """The record of a finished unit (``value``, ``seconds`` it took, the ``commit`` that computed it), or
        None. A unit file that cannot be read (a write cut off by the machine going away) counts as unfinished."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with path.open("rb") as f:
                record = pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
            return None
        return record if isinstance(record, dict) and "value" in record else None

    def save(self, key: str, value: Any, seconds: float) -> None:
        """Write a unit atomically (a temporary file renamed into place), with its compute time and commit."""
        if self._commit is None:
            from ..data.provenance import code_version

            self._commit = code_version().get("commit") or "unknown"
        path = self.path(key)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump({"value": value, "seconds": seconds, "commit": self._commit}, f,
                        protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    def use(self, record: dict, reused: bool) -> Any:
        """Count a unit this run used and return its value."""
        self.reused += reused
        self.computed += not reused
        self.unit_seconds += float(record.get("seconds", 0.0))
        self.commits.add(str(record.get("commit")))
        return record["value"]

    def summary(self) -> dict:
        """What this run reused and computed: for an export's provenance."""
        return {"units_reused": self.reused, "units_computed": self.computed,
                "unit_seconds": round(self.unit_seconds, 1), "unit_commits": sorted(self.commits)}

    def units(self) -> int:
        """How many finished units the folder holds."""
        return sum(1 for _ in self.folder.glob("*.pkl"))


@contextlib.contextmanager
def resuming(folder: str | os.PathLike, context: dict) -> Iterator[UnitStore]:
    """Within the block, :func:`unit` reuses and records finished units in ``folder`` (see the module doc)."""
    store = UnitStore(folder, context)
    token = _ACTIVE.set(store)
    try:
        yield store
    finally:
        _ACTIVE.reset(token)


def active() -> UnitStore | None:
    """The store of the enclosing :func:`resuming` block, if any."""
    return _ACTIVE.get()


def unit(parts: tuple, compute: Callable[[], T], accept: Callable[[T], bool] | None = None) -> T:
    """``compute()``, or its result from a finished run when inside :func:`resuming`; ``parts`` must name
    everything the result depends on beyond the block's context (model, its parameters, split, seed...).
    ``accept``: whether a finished result serves this call (e.g. it kept the fitted models this call needs);
    one it refuses is computed again and replaced."""
    store = _ACTIVE.get()
    if store is None:
        return compute()
    key = digest(*parts)
    record = store.load(key)
    if record is not None and (accept is None or accept(record["value"])):
        return store.use(record, reused=True)
    start = time.perf_counter()
    value = compute()
    seconds = time.perf_counter() - start
    store.save(key, value, seconds)
    return store.use({"value": value, "seconds": seconds, "commit": store._commit}, reused=False)
