"""Streaming training (``train --stream``) against in-memory training: records/s and peak memory.

For every scale N it makes a stress dataset by replicating the source dataset's tasks, programs and
measurements N times under new ids (replica k of task T is task ``T-rk``, in T's networks; its programs
have the same traces and latencies), builds its feature store, and trains one epoch, each step in a fresh
process whose peak resident memory (``ru_maxrss``, DataLoader workers included) is reported:

* ``build``: ``build_feature_store`` (tokens of every program, the measurement join, labels);
* ``stream``: ``fit_stream`` over the store (``--max-batches`` caps the batches of the epoch, so large
  scales are timed over the same number of records as small ones);
* ``memory``: ``load_records`` + ``build_inputs`` + ``fit`` on everything, the in-memory path, only where
  its token array fits in ``--memory-limit-gib`` (the estimate is printed otherwise).

Scale 1 is the source dataset itself (replicated datasets say ``replicated: N`` in their output). Run::

    .venv/bin/python benchmarks/bench_stream.py --dataset data/v1 --scales 1 10 40 --max-batches 100
    python3 benchmarks/bench_stream.py --dataset data/v1 --scales 1 10 40 --device cuda --hidden 256 --heads 8

Prints one JSON line per (scale, step) and a table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    """Peak resident memory of this process and of its waited-for children (DataLoader workers), MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def replicate(source: Path, dest: Path, times: int) -> Path:
    """``source`` with its tasks, programs and measurements ``times`` times under new ids (part by part:
    memory holds one part file)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from tenset_study.data.dataset import Dataset

    src = Dataset.open(source)
    ds = Dataset.create(dest, description=f"stress input: {source} replicated {times} times (bench_stream.py)")
    for table in ("platforms", "networks"):
        ds.append(table, src.read(table))
    # every network holds every replica of its tasks, so that splits by network still find them
    renamed = {"tasks": ("task",), "network_tasks": ("task",), "programs": ("program", "task"),
               "measurements": ("program",)}
    for k in range(times):
        for table, columns in renamed.items():
            for part in src.parts(table):
                data = pq.read_table(part)
                for column in columns:
                    position = data.schema.get_field_index(column)
                    data = data.set_column(position, column, pc.binary_join_element_wise(
                        data.column(column), pa.scalar(f"r{k}"), "-"))
                ds.append(table, data)
    return dest


def child(args: argparse.Namespace) -> dict:
    """One measured step, run in its own process."""
    import numpy as np
    import torch

    from tenset_study import models

    params = {"epochs": 1, "hidden": args.hidden, "heads": args.heads, "device": args.device}
    start = time.perf_counter()
    if args.child == "build":
        from tenset_study.features.store import build_feature_store

        store = build_feature_store(args.dataset, args.store, max_len=args.max_len, shard_programs=args.shard_programs)
        out = {"programs": store.manifest["programs"], "records": store.manifest["records"],
               "shards": len(store.shards), "seconds": time.perf_counter() - start}
    elif args.child == "stream":
        from tenset_study.models.streaming import RankingStream, fit_stream

        model = models.create(args.model, seed=0, **params)
        stream = RankingStream(args.store, list_size=model.list_size, lists_per_batch=model.lists_per_batch,
                               shuffle_shards=args.shuffle_shards)
        fit_stream(model, stream, num_workers=args.loader_workers, max_batches=args.max_batches)
        seen, seconds = model.history_[0]["records"], model.history_[0]["seconds"]
        out = {"records": stream.records, "trained_records": seen, "seconds": seconds,
               "records_per_s": round(seen / seconds), "shards": len(stream.shard_sizes)}
    else:
        from tenset_study.evaluation import experiments

        _, records, inputs, _ = experiments.prepare(args.dataset, [args.model], max_len=args.max_len)
        loaded = time.perf_counter() - start
        model = models.create(args.model, seed=0, **params)
        model.fit(inputs, np.arange(len(records)))
        seen, seconds = model.history_[0]["records"], model.history_[0]["seconds"]
        out = {"records": len(records), "trained_records": seen, "seconds": seconds, "load_seconds": round(loaded, 1),
               "records_per_s": round(seen / seconds), "token_array_mib": round(inputs.tokens.nbytes / 2**20, 1)}
    out.update(peak_rss_mib=peak_rss_mib(), torch_threads=torch.get_num_threads(),
               device=str(models.neural.pick_device(args.device)))
    return out


def run_child(step: str, args: argparse.Namespace, dataset: Path, store: Path) -> dict:
    command = [sys.executable, __file__, "--child", step, "--dataset", str(dataset), "--store", str(store),
               "--model", args.model, "--max-len", str(args.max_len), "--hidden", str(args.hidden),
               "--heads", str(args.heads), "--device", args.device, "--shard-programs", str(args.shard_programs),
               "--shuffle-shards", str(args.shuffle_shards), "--loader-workers", str(args.loader_workers)]
    if args.max_batches:
        command += ["--max-batches", str(args.max_batches)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        raise RuntimeError(f"{step} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=ROOT / "data" / "v1")
    parser.add_argument("--scales", nargs="+", type=int, default=[1, 10, 40])
    parser.add_argument("--model", default="tlp", choices=["tlp", "ours-v1"])
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--shard-programs", type=int, default=4096)
    parser.add_argument("--shuffle-shards", type=int, default=2)
    parser.add_argument("--loader-workers", type=int, default=0)
    parser.add_argument("--max-batches", type=int, default=None, help="cap on the streamed epoch's batches")
    parser.add_argument("--memory-limit-gib", type=float, default=4.0,
                        help="run the in-memory path only where its token array stays below this")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where stress datasets and stores go (default: a temp dir)")
    parser.add_argument("--child", choices=["build", "stream", "memory"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    from tenset_study.features import tokens
    from tenset_study.data.dataset import Dataset

    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        work = Path(work)
        programs = Dataset.open(args.dataset).count("programs")
        measured_gib_per_scale = None
        for scale in args.scales:
            start = time.perf_counter()
            dataset = args.dataset if scale == 1 else replicate(args.dataset, work / f"x{scale}", scale)
            made = time.perf_counter() - start
            store = work / f"x{scale}-store"
            # the in-memory token array: measured at a smaller scale when there is one, else every program
            token_gib = (measured_gib_per_scale * scale if measured_gib_per_scale
                         else programs * scale * args.max_len * tokens.FEATURE_WIDTH * 4 / 2**30)
            steps = ["build", "stream"] + (["memory"] if token_gib <= args.memory_limit_gib else [])
            for step in steps:
                row = {"scale": scale, "replicated": scale > 1, "step": step, **run_child(step, args, dataset, store)}
                if step == "build" and scale > 1:
                    row["replicate_seconds"] = round(made, 1)
                row["seconds"] = round(row["seconds"], 1)
                print(json.dumps(row), flush=True)
                rows.append(row)
                if step == "memory":
                    measured_gib_per_scale = row["token_array_mib"] / 1024 / scale
            if "memory" not in steps:
                note = {"scale": scale, "step": "memory", "skipped": f"the in-memory token array alone would need "
                        f"{token_gib:.1f} GiB (> --memory-limit-gib {args.memory_limit_gib})"}
                print(json.dumps(note), flush=True)
                rows.append(note)
    import pandas as pd

    table = pd.DataFrame(rows)
    columns = [c for c in ("scale", "step", "records", "trained_records", "seconds", "records_per_s", "peak_rss_mib",
                           "token_array_mib", "skipped") if c in table]
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(table[columns].to_string(index=False))


if __name__ == "__main__":
    main()
