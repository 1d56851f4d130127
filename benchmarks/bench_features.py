"""Programs per second of the program featurizers: schedule tokens and per-store features.

Usage::

    python benchmarks/bench_features.py                        # data/default, 120 programs for per-store
    python benchmarks/bench_features.py --dataset data/v1 --sample 300 --workers 2

Tokens: every program of the dataset, one core, with a fresh token table (``cold``: every distinct token
computed) and with a warm one (what later calls in the same process see); best of ``--repeats``. Wall
time and CPU time are both printed, since the machine may be busy with measurements.
Per-store: a sample of programs spread over the tasks, in this process (start-up excluded by a warm-up
on other programs) and, with ``--workers`` > 1, in worker processes (start-up included).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from tenset_study.features import perstore, tokens
from tenset_study.data.dataset import Dataset


def timed(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def bench_tokens(programs: pd.DataFrame, max_len: int, repeats: int) -> None:
    n = len(programs)
    for label, fresh in (("cold", True), ("warm", False)):
        best = None
        for _ in range(repeats):
            if fresh:
                tokens._table = tokens.TokenTable()  # noqa: SLF001 - a benchmark may reset the cache
            wall, cpu, _ = timed(lambda: tokens.encode_programs(programs, max_len))
            best = (wall, cpu) if best is None or wall < best[0] else best
        print(f"tokens {label}: {n} programs in {best[0]:.3f} s wall ({n / best[0]:,.0f} prog/s), "
              f"{best[1]:.3f} s CPU ({n / best[1]:,.0f} prog/s)")
    print(f"  distinct tokens: {tokens._table.size:,}; width {tokens.FEATURE_WIDTH}")  # noqa: SLF001
    lengths = tokens.length_distribution(programs)
    summary = lengths.groupby("encoding")[["length", "length_before_postproc"]].describe(
        percentiles=[0.5, 0.9, 0.99]).T
    print("sequence lengths:")
    print(summary.round(1).to_string())


def bench_perstore(ds: Dataset, programs: pd.DataFrame, sample: int, workers: int) -> None:
    tasks = ds.to_pandas("tasks", columns=["task", "kind"]).set_index("task")["kind"]
    rng = np.random.default_rng(0)
    shuffled = programs.iloc[rng.permutation(len(programs))]
    per_task = max(1, sample // programs["task"].nunique() + 1)
    chosen = shuffled.groupby("task").head(per_task).head(sample).reset_index(drop=True)
    warmup = shuffled[~shuffled["program"].isin(chosen["program"])].groupby("task").head(1).head(4)
    timed(lambda: perstore.perstore_features(ds, warmup, progress=False))  # TVM import, first contexts
    for kind in ("cpu", "gpu"):
        part = chosen[chosen["task"].map(tasks) == kind]
        if len(part):
            wall, cpu, pooled = timed(lambda: perstore.perstore_features(ds, part, progress=False))
            print(f"per-store {kind}, this process: {len(part)} programs of {part['task'].nunique()} tasks in "
                  f"{wall:.2f} s ({len(part) / wall:.1f} prog/s, {1000 * wall / len(part):.1f} ms/prog; "
                  f"CPU {1000 * cpu / len(part):.1f} ms/prog); NaN rows {int(np.isnan(pooled).any(1).sum())}")
    if workers > 1:
        wall, _, _ = timed(lambda: perstore.perstore_features(ds, chosen, workers=workers, progress=False))
        print(f"per-store, {workers} worker processes (start-up included): {len(chosen)} programs in {wall:.1f} s "
              f"({len(chosen) / wall:.1f} prog/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="data/default")
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, default=120, help="programs for the per-store benchmark")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    ds = Dataset.open(args.dataset)
    programs = ds.to_pandas("programs")
    encodings = programs["encoding"].value_counts().to_dict()
    print(f"dataset {args.dataset}: {len(programs)} programs, encodings {encodings}")
    bench_tokens(programs, args.max_len, args.repeats)
    ms_programs = programs[programs["encoding"] == "metaschedule"]
    if len(ms_programs):
        bench_perstore(ds, ms_programs, args.sample, args.workers)


if __name__ == "__main__":
    main()
