"""Timing one tuned arm end to end in this process (:func:`time_arm`), and what every way of timing an arm
shares: compiling it with its database, writing ``end_to_end.json`` and the row and log line it reports."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..compile import CompiledNetwork, compile_with_database
from ..result import read_json, utc_now, write_json
from ..timing import time_network
from .layout import ARM_FILE, END_TO_END_FILE


def bootstrap_mean_interval(values, n_boot: int = 2000, confidence: float = 0.95,
                            seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (the timing repeats)."""
    from ...evaluation.metrics import bootstrap_ratio

    values = np.asarray(values, dtype=np.float64)
    return bootstrap_ratio(values, np.ones_like(values), n_boot=n_boot, seed=seed, confidence=confidence)


def timing_row(plan: dict, status: str, e2e: dict | None, work_dir: Path) -> dict:
    """An arm's row of :func:`~tenset_study.tuning.study.timing.time_tuned_networks`."""
    return {"network": plan["network"], "arm": plan["arm"], "seed": plan["seed"], "status": status,
            "mean_s": None if e2e is None else e2e["mean_s"], "work_dir": str(work_dir)}


def log_timed(plan: dict, e2e: dict, log) -> None:
    """Log an arm's end-to-end latency and interval."""
    how = (f"{len(e2e['rounds'])} rounds in fresh processes" if e2e.get("rounds")
           else f"{len(e2e['repeats_s'])} repeats")
    log(f"{plan['network']} {plan['arm']}: {e2e['mean_s'] * 1e3:.3f} ms "
        f"[{e2e['low_s'] * 1e3:.3f}, {e2e['high_s'] * 1e3:.3f}] over {how}")


def time_one_arm(work_dir: Path, settings: dict, log) -> dict:
    """:func:`time_arm`, logged; a failure is logged and reported ``failed``. Returns the arm's row."""
    plan = read_json(work_dir / ARM_FILE)
    log(f"{plan['network']} {plan['arm']} seed {plan['seed']}: compiling and timing end to end")
    try:
        e2e = time_arm(work_dir, settings)
    except Exception as err:  # noqa: BLE001 - time the other arms; the next run tries again
        log(f"{plan['network']} {plan['arm']}: timing FAILED ({type(err).__name__}: {err})")
        return timing_row(plan, "failed", None, work_dir)
    log_timed(plan, e2e, log)
    return timing_row(plan, "timed", e2e, work_dir)


def time_arm(work_dir: str | os.PathLike, settings: dict) -> dict:
    """Compile one tuned arm and time it in this process (``settings``: repeat, number, min_repeat_ms,
    n_boot, confidence); writes and returns ``end_to_end.json``."""
    work_dir = Path(work_dir)
    plan = read_json(work_dir / ARM_FILE)
    compiled = compile_arm(work_dir, plan)
    timing = time_network(compiled, plan["target"], repeat=settings["repeat"], number=settings["number"],
                          min_repeat_ms=settings["min_repeat_ms"])
    low, high = bootstrap_mean_interval(timing["repeats_s"], settings["n_boot"], settings["confidence"])
    return write_end_to_end(work_dir, {**timing, "low_s": low, "high_s": high,
                                       "interval": "percentile bootstrap of the mean over repeats"},
                            settings, compiled)


def compile_arm(work_dir: Path, plan: dict) -> CompiledNetwork:
    """The arm's network compiled with its database."""
    return compile_with_database(plan["network"], plan["target"], work_dir, layout=plan.get("layout", "NCHW"))


def write_end_to_end(work_dir: Path, timing: dict, settings: dict, compiled: CompiledNetwork) -> dict:
    """Write ``end_to_end.json``: the timing, its settings, the compile summary, the load average and the date."""
    out = {**timing, "timing_settings": settings, "compile": compiled.summary(),
           "load_average": list(os.getloadavg()), "timed_at": utc_now()}
    write_json(work_dir / END_TO_END_FILE, out)
    return out


__all__ = ["bootstrap_mean_interval", "compile_arm", "log_timed", "time_arm", "time_one_arm", "timing_row",
           "write_end_to_end"]
