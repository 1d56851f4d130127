"""Compare ``ours`` v2 with ``ours-v1`` and the baselines on a dataset under the by-network split, with a preset's
budget (chapter 04's calls: ``experiments.prepare``, ``default_split``, ``model_specs``, ``run_experiment``,
``summarize_seeds``), one torch thread. Writes the tidy rows and the summary as CSV and prints PCA and top-5 per
platform with the bootstrap interval over tasks, the spread over seeds and the per-seed paired differences.

    PYTHONPATH=src python scripts/compare_ours_v2.py --dataset data/v1 \
        --platforms amd-epyc-znver5-2c intel-xeon-emeraldrapids-16c h100-80gb-hbm3 --seeds 0 1 2 --out results/ours-v2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="data/v1")
    parser.add_argument("--platforms", nargs="*", default=None)
    parser.add_argument("--models", nargs="+", default=["ours", "ours-v1", "mlp"])
    parser.add_argument("--preset", default="book")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--param", action="append", default=[], help="MODEL:KEY=VALUE (JSON value) overrides")
    parser.add_argument("--out", default="results/ours-v2")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from tenset_study.evaluation import experiments

    preset = experiments.resolve_preset(args.preset)
    start = time.perf_counter()
    ds, records, inputs, links = experiments.prepare(args.dataset, args.models, platforms=args.platforms,
                                                     max_len=preset["max_len"])
    split = experiments.default_split(records, links, "by-network")
    print(f"prepared in {time.perf_counter() - start:.0f} s: {len(split.train)} train, {len(split.test)} test records")
    specs = experiments.model_specs(args.models, preset)
    for item in args.param:
        model, _, assignment = item.partition(":")
        key, _, value = assignment.partition("=")
        for spec in specs:
            if spec.name == model:
                spec.params[key] = json.loads(value)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames, timings = [], []
    for spec in specs:
        for seed in args.seeds:
            began = time.perf_counter()
            frames.append(experiments.run_experiment([spec], inputs, split, links, seeds=(seed,),
                                                     n_boot=preset["n_boot"], timings=timings))
            print(f"{spec.variant} seed {seed}: {time.perf_counter() - began:.0f} s {spec.params}", flush=True)
            pd.concat(frames).to_csv(out / "rows.csv", index=False)
    results = pd.concat(frames, ignore_index=True)
    summary = experiments.summarize_seeds(results)
    summary.to_csv(out / "summary.csv", index=False)
    experiments.timing_table(timings).to_csv(out / "timing.csv")
    overall = summary[(summary["network"] == "all") & summary["metric"].isin(["pca", "top5"])]
    pd.set_option("display.width", 200)
    print(overall[["metric", "platform", "variant", "value", "low", "high", "seed_std", "seeds"]]
          .sort_values(["metric", "platform", "variant"]).to_string(index=False, float_format="%.3f"))
    rows = results[(results["network"] == "all") & results["metric"].isin(["pca", "top5"])]
    wide = rows.pivot_table(index=["metric", "platform", "seed"], columns="variant", values="value")
    for other in [v for v in wide.columns if v != "ours"]:
        diff = (wide["ours"] - wide[other]).groupby(level=[0, 1]).agg(["mean", "min", "max", "count"])
        print(f"\nours - {other}, per seed (mean, min, max over seeds):\n{diff.to_string(float_format='%.3f')}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
