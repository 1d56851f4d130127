"""Cost-model speed: training throughput (records seen per second) and inference throughput (candidates
scored per second), per model, on this machine's CPU or GPU.

MetaSchedule scores thousands of candidates per search round, so inference must reach at least 10,000
candidates per second on a 2-core CPU with the model the book uses. Run on a quiet machine::

    .venv/bin/python benchmarks/bench_models.py --dataset data/default --preset book
    .venv/bin/python benchmarks/bench_models.py --dataset data/default --hidden 256 --heads 8 --device cuda

Prints one JSON line per model: records, epochs, seconds, records/s, candidates/s (batches of 1,024: activations that fit in cache beat larger batches on a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime, timezone

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="data/default")
    parser.add_argument("--models", nargs="+", default=["xgb", "mlp", "tlp", "ours"])
    parser.add_argument("--preset", default="book", help="hyperparameters of this preset unless overridden")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--heads", type=int, default=None)
    parser.add_argument("--max-len", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5, help="inference passes over the records (best kept)")
    args = parser.parse_args()

    import torch

    from tenset_study.evaluation import experiments
    from tenset_study import models

    preset = experiments.resolve_preset(args.preset)
    for key in ("hidden", "heads", "max_len"):
        if getattr(args, key) is not None:
            preset[key] = getattr(args, key)
    _, records, inputs, _ = experiments.prepare(args.dataset, args.models, max_len=preset["max_len"])
    positions = np.arange(len(records))
    cuda = torch.cuda.is_available()
    print(json.dumps({"records": len(records), "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                      "cuda": cuda, "gpu": torch.cuda.get_device_name(0) if cuda else None,
                      "torch": torch.__version__, "dataset": args.dataset, "max_len": preset["max_len"],
                      "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}))
    for name in args.models:
        params = experiments.model_params(name, preset)
        if name != "xgb":
            params.update(epochs=args.epochs, device=args.device)
        model = models.create(name, seed=0, **params)
        start = time.perf_counter()
        model.fit(inputs, positions)
        fit_s = time.perf_counter() - start
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            model.predict(inputs, positions)
            best = min(best, time.perf_counter() - start)
        epochs = experiments.epochs_run(model)
        print(json.dumps({"model": name, "params": params, "train_records": len(positions), "epochs": epochs,
                          "fit_s": round(fit_s, 2),
                          "train_records_per_s": round(len(positions) * epochs / fit_s),
                          "predict_per_s": round(len(positions) / best)}))


if __name__ == "__main__":
    main()
