"""Data-parallel streaming training (``torchrun ... train --stream``): records/s on 1, 2, ... ranks.

Builds the feature store of the dataset (replicated ``--scale`` times under new ids, as
``bench_stream.py`` does, so that an epoch is long enough to time), then for every rank count N in
``--nprocs`` launches ``python -m torch.distributed.run --nproc_per_node=N`` on this script's ``--child``
step, which calls :func:`tenset_study.evaluation.stream_training.train_stream` exactly as ``tenset-study train --stream``
does (NCCL on GPUs, one GPU per rank; Gloo on CPUs). Every rank writes the records it trained on and the
seconds of each epoch; an epoch's throughput is the records of all ranks over the slowest rank's seconds.
The first epoch (CUDA and NCCL start-up, cold caches) is reported but left out of ``records_per_s``,
the median of the later epochs. Run::

    python3 benchmarks/bench_ddp.py --dataset data/default --scale 8 --nprocs 1 2 --model ours-v1 \\
        --hidden 256 --heads 8 --epochs 3 --out results.jsonl
    .venv/bin/python benchmarks/bench_ddp.py --dataset data/mini --nprocs 1 2 --device cpu --epochs 2

Prints one JSON line per rank count (also appended to ``--out``) and a table at the end; the first line
says where it ran (GPUs, driver, torch and NCCL versions, date).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def provenance(args: argparse.Namespace) -> dict:
    """Where and with what this benchmark ran."""
    import torch

    info = {"benchmark": "bench_ddp.py", "date": datetime.date.today().isoformat(), "host": platform.node(),
            "cpus": os.cpu_count(), "torch": torch.__version__, "dataset": str(args.dataset), "scale": args.scale,
            "model": args.model, "params": model_params(args), "split": args.split,
            "loader_workers": args.loader_workers, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}
    if torch.cuda.is_available() and args.device != "cpu":
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["nccl"] = ".".join(str(v) for v in torch.cuda.nccl.version())
        smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True)
        info["driver"] = smi.stdout.strip().splitlines()[0] if smi.returncode == 0 and smi.stdout.strip() else None
    return info


def model_params(args: argparse.Namespace) -> dict:
    return {"epochs": args.epochs, "hidden": args.hidden, "heads": args.heads, "device": args.device}


def child(args: argparse.Namespace) -> None:
    """One rank of a torchrun job: train by streaming and write this rank's epochs to ``--report``."""
    from tenset_study.evaluation.stream_training import train_stream

    model = train_stream(args.dataset, args.model, Path(args.report) / "model", params=model_params(args),
                         store_dir=args.store, split=args.split, loader_workers=args.loader_workers,
                         progress=False)
    rank = int(os.environ.get("RANK", "0"))
    row = {"rank": rank, "world_size": model.metadata["stream"]["world_size"], "epochs": model.history_,
           "train_records": model.metadata["train_records"], "fit_seconds": model.metadata["fit_seconds"]}
    (Path(args.report) / f"rank-{rank}.json").write_text(json.dumps(row))


def run_ranks(args: argparse.Namespace, nprocs: int, dataset: Path, store: Path, report: Path) -> dict:
    """Launch ``nprocs`` ranks under torchrun; the per-epoch throughput over all of them."""
    report.mkdir(parents=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nprocs}",
               __file__, "--child", "--dataset", str(dataset), "--store", str(store), "--report", str(report),
               "--model", args.model, "--epochs", str(args.epochs), "--hidden", str(args.hidden),
               "--heads", str(args.heads), "--device", args.device, "--split", args.split,
               "--loader-workers", str(args.loader_workers)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nprocs)))}
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(f"{nprocs} rank(s) failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    ranks = [json.loads((report / f"rank-{r}.json").read_text()) for r in range(nprocs)]
    epochs = []
    for e in range(args.epochs):
        records = sum(rank["epochs"][e]["records"] for rank in ranks)
        seconds = max(rank["epochs"][e]["seconds"] for rank in ranks)
        epochs.append({"records": records, "seconds": round(seconds, 2), "records_per_s": round(records / seconds)})
    steady = [row["records_per_s"] for row in epochs[1:]] or [epochs[0]["records_per_s"]]
    return {"world_size": nprocs, "train_records": ranks[0]["train_records"], "epochs": epochs,
            "records_per_s": round(statistics.median(steady)), "records_per_s_range": [min(steady), max(steady)],
            "wall_seconds": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=ROOT / "data" / "default")
    parser.add_argument("--scale", type=int, default=1, help="replicate the dataset this many times (1: as it is)")
    parser.add_argument("--nprocs", nargs="+", type=int, default=[1, 2], help="rank counts to time")
    parser.add_argument("--model", default="ours-v1", choices=["tlp", "ours-v1"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--device", default="auto", help="auto (a GPU per rank when there are GPUs) or cpu")
    parser.add_argument("--split", default="by-network")
    parser.add_argument("--loader-workers", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where the replicated dataset and store go")
    parser.add_argument("--out", type=Path, default=None, help="JSONL file the result lines are appended to")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.epochs < 1 or args.scale < 1 or min(args.nprocs) < 1:
        parser.error("--epochs, --scale and every --nprocs must be at least 1")
    import torch

    if args.device != "cpu" and torch.cuda.is_available() and max(args.nprocs) > torch.cuda.device_count():
        parser.error(f"--nprocs {max(args.nprocs)} needs that many GPUs; {torch.cuda.device_count()} visible")

    from bench_stream import replicate
    from tenset_study.features.store import build_feature_store

    lines = [provenance(args)]
    print(json.dumps(lines[0]), flush=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        work = Path(work)
        start = time.perf_counter()
        dataset = args.dataset if args.scale == 1 else replicate(args.dataset, work / f"x{args.scale}", args.scale)
        store = build_feature_store(dataset, work / "store", progress=False)
        lines.append({"step": "store", "programs": store.manifest["programs"], "records": store.manifest["records"],
                      "shards": len(store.shards), "seconds": round(time.perf_counter() - start, 1)})
        print(json.dumps(lines[-1]), flush=True)
        for n in args.nprocs:
            lines.append({"step": "train", **run_ranks(args, n, dataset, work / "store", work / f"ranks-{n}")})
            print(json.dumps(lines[-1]), flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.writelines(json.dumps(line) + "\n" for line in lines)
    trains = [line for line in lines if line.get("step") == "train"]
    base = trains[0]["records_per_s"] / trains[0]["world_size"]
    print(f"{'ranks':>5} {'records/s':>10} {'per rank':>9} {'scaling efficiency':>19}")
    for line in trains:
        per_rank = line["records_per_s"] / line["world_size"]
        print(f"{line['world_size']:>5} {line['records_per_s']:>10} {per_rank:>9.0f} {per_rank / base:>19.2f}")


if __name__ == "__main__":
    main()
