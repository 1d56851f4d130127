"""The ``clean`` pruning strategy: drop programs that failed everywhere and duplicates, then random programs
down to the budget; :func:`clean_report` counts what cleaning removes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .pool import CandidatePool, Selection, candidate_pool

#: Absolute tolerance (seconds) under which two latencies count as identical for ``clean``.
DUPLICATE_LATENCY_TOLERANCE = 1e-12


def duplicate_flags(pool: CandidatePool) -> np.ndarray:
    """Programs that duplicate an earlier one (by id) of their task: identical feature rows when the pool
    has features, else latencies equal within :data:`DUPLICATE_LATENCY_TOLERANCE` on every platform
    (failed on the same platforms). Programs that failed everywhere, or whose features are NaN, are never
    counted as duplicates."""
    programs = pool.programs
    duplicate = np.zeros(len(programs), bool)
    if pool.features is not None:
        values = pool.features
        usable = np.isfinite(values).all(axis=1)
    else:
        values = pool.latency
        usable = ~programs["failed_everywhere"].to_numpy()
    for positions in programs.groupby("task", sort=True).indices.values():
        positions = positions[usable[positions]]
        if len(positions) < 2:
            continue
        rows = values[positions]
        if pool.features is not None:
            _, first = np.unique(rows, axis=0, return_index=True)
            duplicate[np.setdiff1d(positions, positions[first])] = True
            continue
        filled = np.where(np.isnan(rows), -1.0, rows)
        order = np.lexsort(filled.T[::-1])
        same = (np.abs(np.diff(filled[order], axis=0)) <= DUPLICATE_LATENCY_TOLERANCE).all(axis=1)
        duplicate[positions[order[1:][same]]] = True
    return duplicate


def select_clean(pool: CandidatePool, target: int, rng: np.random.Generator) -> Selection:
    """Drop failed-everywhere programs and duplicates, then random programs down to ``target``."""
    clean = ~pool.programs["failed_everywhere"].to_numpy() & ~duplicate_flags(pool)
    positions = np.flatnonzero(clean)
    if len(positions) > target:
        return Selection(np.sort(rng.choice(positions, size=target, replace=False)))
    note = None
    if len(positions) < target:
        note = (f"only {len(positions)} of {pool.size} programs are clean ({pool.size - len(positions)} failed "
                f"everywhere or duplicates), fewer than the requested {target}: all clean programs kept")
    return Selection(positions, note)


def clean_report(records: pd.DataFrame, features=None) -> pd.DataFrame:
    """What ``clean`` removes, per operator class and in total (row ``all``).

    Columns: ``programs``, ``failed_everywhere``, ``duplicates`` (as :func:`duplicate_flags` defines them;
    by feature rows when ``features`` is given), ``kept`` (programs left before any random reduction).
    """
    pool = candidate_pool(records, features=features)
    failed = pool.programs["failed_everywhere"].to_numpy()
    frame = pd.DataFrame({"op": pool.programs["op"], "programs": 1, "failed_everywhere": failed.astype(int),
                          "duplicates": duplicate_flags(pool).astype(int)})
    frame["kept"] = frame["programs"] - frame["failed_everywhere"] - frame["duplicates"]
    report = frame.groupby("op", sort=True).sum()
    report.loc["all"] = report.sum()
    return report
