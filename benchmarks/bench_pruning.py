"""Programs per second of the pruning strategies, on a real dataset and on a synthetic records table.

Usage::

    python benchmarks/bench_pruning.py                              # data/default and ~1M synthetic rows
    python benchmarks/bench_pruning.py --dataset data/v1 --tasks 4000 --programs-per-task 250

Real: every strategy of :mod:`tenset_study.pruning.strategies` on the dataset's records (failed ones kept), with its
cached per-store features and its workload features, then :func:`~tenset_study.pruning.strategies.prune_dataset`
end to end (reading, selecting, writing) with ``random``. Synthetic: ``--tasks`` tasks of
``--programs-per-task`` programs on two platforms (about 1M rows by default), random latencies, random
``--width``-wide program features (TenSet-sized tasks have 4,000 programs; diversity's greedy k-center
costs ``quota x programs x width`` per task). Times are the best of ``--repeats`` calls (wall clock);
selection only: building the records table and the features is not timed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tenset_study.pruning import strategies as pruning


def best_time(fn, repeats: int) -> tuple[float, object]:
    """(best wall seconds, last result) of ``repeats`` calls."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_strategies(label: str, records: pd.DataFrame, features, workload, fraction: float, repeats: int) -> None:
    n = records["program"].nunique()
    print(f"{label}: {len(records):,} records, {n:,} programs, {records['task'].nunique():,} tasks, "
          f"fraction {fraction}")
    for strategy in pruning.STRATEGIES:
        seconds, result = best_time(lambda: pruning.select_programs(records, strategy, fraction, 0, features=features,
                                                                    workload=workload), repeats)
        print(f"  {strategy:15s} {seconds:8.3f} s  {n / seconds:12,.0f} programs/s  kept {len(result.kept):,} "
              f"({result.kept_fraction:.1%})")


def synthetic(tasks: int, per_task: int, width: int, seed: int = 0):
    """Records (two platforms), program features and workload features of random tasks."""
    rng = np.random.default_rng(seed)
    ops = np.array(["conv2d", "dense", "depthwise_conv2d", "batch_matmul", "pool", "softmax", "elementwise"])
    task_ids = np.array([f"task{t:05d}" for t in range(tasks)])
    task_of = np.repeat(task_ids, per_task)
    programs = np.char.add(np.char.add(task_of, "-"), np.tile(np.arange(per_task).astype(str), tasks))
    op_of_task = rng.choice(ops, size=tasks)
    base = np.exp(rng.normal(-7, 1.5, size=tasks * per_task))
    base[rng.random(len(base)) < 0.01] = np.nan  # failed programs
    frames = []
    for index, platform in enumerate(("cpu-a", "cpu-b")):
        frames.append(pd.DataFrame({"program": programs, "task": task_of, "platform": platform, "kind": "cpu",
                                    "op": np.repeat(op_of_task, per_task),
                                    "latency_s": base * rng.uniform(0.8, 1.2, len(base)) * (1 + index)}))
    records = pd.concat(frames, ignore_index=True)
    features = (programs, rng.normal(size=(len(programs), width)).astype(np.float32))
    workload = pd.DataFrame(rng.normal(size=(tasks, 6)), index=task_ids,
                            columns=["log_flops", "log_bytes", "log_arithmetic_intensity", "log_args",
                                     "log_output_elements", "max_rank"])
    return records, features, workload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="data/default", help="a dataset ('' to skip)")
    parser.add_argument("--fraction", type=float, default=0.45)
    parser.add_argument("--tasks", type=int, default=2000, help="synthetic tasks (0 to skip)")
    parser.add_argument("--programs-per-task", type=int, default=250)
    parser.add_argument("--width", type=int, default=32, help="synthetic program features per program")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    if args.dataset:
        from tenset_study.features import context
        from tenset_study.data import records
        from tenset_study.data.dataset import Dataset

        ds = Dataset.open(args.dataset)
        real = records.load_records(ds, keep_failed=True)
        features, name = pruning.program_features_for(ds, np.sort(real["program"].unique()), progress=True)
        workload = context.workload_features(ds.to_pandas("tasks"))
        bench_strategies(f"{args.dataset} ({name})", real, features, workload, args.fraction, args.repeats)
        with tempfile.TemporaryDirectory() as tmp:
            seconds, result = best_time(lambda: pruning.prune_dataset(
                args.dataset, Path(tmp) / "pruned", "random", args.fraction, overwrite=True), args.repeats)
        print(f"  prune_dataset (random, read + select + write) {seconds:.3f} s  "
              f"{result.candidates / seconds:,.0f} programs/s")
    if args.tasks:
        bench_strategies(f"synthetic ({args.width} features)",
                         *synthetic(args.tasks, args.programs_per_task, args.width), args.fraction, args.repeats)


if __name__ == "__main__":
    main()
