"""What a tuning run leaves in its work dir: :class:`TuningResult` (``tuning_result.json``), the file names, and
the JSON reading and writing every module of :mod:`tenset_study.tuning` uses (atomic writes through
:func:`tenset_study.data.files.write_json_atomic`, NumPy scalars and paths written as plain JSON)."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.files import write_json_atomic

RESULT_FILE = "tuning_result.json"
TIMELINE_FILE = "tuning_timeline.json"


def json_default(value):
    """JSON for the values ``json`` cannot write itself: NumPy integers and floats, paths."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def write_json(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically, keys in their order (:func:`json_default`)."""
    return write_json_atomic(data, path, sort_keys=False, default=json_default)


def read_json(path: str | os.PathLike) -> dict | None:
    """The JSON file at ``path``, or None when there is no such file."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def utc_now() -> str:
    """The time now in UTC, ISO 8601 to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class TuningResult:
    """What one :func:`~tenset_study.tuning.tune.tune_network` run did (written to ``work_dir/tuning_result.json``).

    ``tasks`` has one entry per tuned task: ``task`` (the dataset's task id), ``task_name``, ``weight``,
    ``workload_shash`` (the database's key), ``flops``, ``trials``, ``valid_trials`` and
    ``best_latency_s`` (None when no measurement succeeded). ``load_average``: the machine's 1-, 5- and
    15-minute load averages at the ``start`` and ``end`` of tuning (other work on a shared machine inflates
    ``tuning_seconds``; the end's 15-minute figure covers most of a long run).
    """

    network: str
    target: str
    cost_model: str
    trials: int
    trials_measured: int
    valid_trials: int
    tuning_seconds: float
    scoring_seconds: float | None
    update_seconds: float | None
    work_dir: str
    tasks: list[dict]
    started_at: str
    finished_at: str
    tvm_version: str
    extract_seconds: float = 0.0
    top_up_trials_measured: int = 0
    settings: dict = field(default_factory=dict)
    cost_model_timing: dict | None = None
    load_average: dict | None = None
    profile: dict = field(default_factory=dict)

    @property
    def estimated_latency_s(self) -> float | None:
        """Sum over tasks of weight x best latency (None while a task has no valid measurement)."""
        best = [t["best_latency_s"] for t in self.tasks]
        if not best or any(b is None for b in best):
            return None
        return float(sum(t["weight"] * t["best_latency_s"] for t in self.tasks))

    @property
    def scoring_share(self) -> float | None:
        """Share of the tuning wall time spent scoring candidates."""
        if self.scoring_seconds is None or not self.tuning_seconds:
            return None
        return self.scoring_seconds / self.tuning_seconds

    @property
    def untuned_tasks(self) -> list[str]:
        """Names of tasks without any valid measurement."""
        return [t["task_name"] for t in self.tasks if t["best_latency_s"] is None]

    def as_dict(self) -> dict:
        """The fields and the derived values (estimated latency, scoring share, untuned tasks) as a dict."""
        out = asdict(self)
        out.update(estimated_latency_s=self.estimated_latency_s, scoring_share=self.scoring_share,
                   untuned_tasks=self.untuned_tasks)
        return out

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write :meth:`as_dict` to ``path`` (default: ``work_dir/tuning_result.json``); returns the path."""
        path = Path(path) if path is not None else Path(self.work_dir) / RESULT_FILE
        write_json(path, self.as_dict())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TuningResult":
        """Read a result written by :meth:`save` (a work dir or the JSON file)."""
        path = Path(path)
        if path.is_dir():
            path = path / RESULT_FILE
        data = json.loads(path.read_text())
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


def summary_line(result: TuningResult, end_to_end: dict | None = None) -> str:
    """One line: network, cost model, trials, tuning time, scoring share, estimated and measured latency."""
    parts = [f"{result.network} [{result.cost_model}] {result.trials_measured}/{result.trials} trials "
             f"({result.valid_trials} valid) in {result.tuning_seconds:.1f} s"]
    if result.scoring_share is not None:
        parts.append(f"scoring {100 * result.scoring_share:.1f}%")
    estimate = result.estimated_latency_s
    parts.append("estimated " + (f"{estimate * 1e3:.3f} ms" if estimate is not None else
                                 f"n/a ({len(result.untuned_tasks)} task(s) untuned)"))
    if end_to_end:
        parts.append(f"measured {end_to_end['mean_s'] * 1e3:.3f} ms +- {end_to_end['std_s'] * 1e3:.3f} "
                     f"({len(end_to_end['repeats_s'])} repeats)")
    return ", ".join(parts)


__all__ = ["RESULT_FILE", "TIMELINE_FILE", "TuningResult", "json_default", "read_json", "summary_line",
           "utc_now", "write_json"]
