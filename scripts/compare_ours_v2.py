"""Compare ``ours`` v2 with ``ours-v1`` and the baselines on a dataset under the by-network split, with a preset's
budget and one torch thread: a thin command line over :func:`tenset_study.evaluation.diagnostics.run_diagnostics`.
Writes its tables as CSV under ``--out`` (results, summary, the diagnostics table with the noise ceiling, the
cross-platform oracles and random scores, paired differences, timing) and prints PCA and top-5 per platform
with their intervals, and every model minus ``--base`` paired over seeds and tasks.

    PYTHONPATH=src python scripts/compare_ours_v2.py --dataset data/v1 \
        --platforms amd-epyc-znver5-2c intel-xeon-emeraldrapids-16c h100-80gb-hbm3 --seeds 0 1 2 --out results/ours-v2
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch

from tenset_study.evaluation.diagnostics import run_diagnostics, write_diagnostics


def parse_overrides(items: list[str]) -> dict[str, dict]:
    """``["ours:hidden=128", "ours:use_tokens=true"]`` -> ``{"ours": {"hidden": 128, "use_tokens": True}}``."""
    out: dict[str, dict] = {}
    for item in items:
        model, _, assignment = item.partition(":")
        key, _, value = assignment.partition("=")
        out.setdefault(model, {})[key] = json.loads(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="data/v1")
    parser.add_argument("--platforms", nargs="*", default=None)
    parser.add_argument("--models", nargs="+", default=["ours", "ours-v1", "mlp"])
    parser.add_argument("--preset", default="book")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--base", default=None, help="the model the others are paired against (default mlp)")
    parser.add_argument("--swap-model", default=None, help="also run the hardware-swap test of this model")
    parser.add_argument("--param", action="append", default=[], help="MODEL:KEY=VALUE (JSON value) overrides")
    parser.add_argument("--out", default="results/ours-v2")
    args = parser.parse_args()
    torch.set_num_threads(1)

    start = time.perf_counter()
    overrides = parse_overrides(args.param)
    result = run_diagnostics(args.dataset, models=[m for m in args.models if m not in overrides],
                             platforms=args.platforms, preset=args.preset, seeds=args.seeds,
                             variants=overrides, base=args.base, swap_model=args.swap_model)
    write_diagnostics(result, args.out)
    pd.set_option("display.width", 200)
    print(result.table.to_string(float_format="%.3f"))
    print(f"\npaired differences (interval over seeds and tasks):\n{result.paired.to_string(float_format='%.3f')}")
    if not result.swap.empty:
        print(f"\nhardware-swap test:\n{result.swap.to_string(float_format='%.4f')}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s; tables in {args.out}")


if __name__ == "__main__":
    main()
