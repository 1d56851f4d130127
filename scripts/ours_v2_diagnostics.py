"""Diagnostics of ``ours`` v2 on a dataset under the by-network split (a preset's budget, one torch thread): a thin
command line over :func:`tenset_study.evaluation.diagnostics.run_diagnostics`. Prints the diagnostics table (each
model's PCA and top-5 with intervals beside the noise ceiling, the cross-platform oracles and random scores),
the differences between models paired over seeds and tasks, and the hardware-swap test (a platform's test
records scored with another platform's hardware features: change in PCA, Spearman of the two scorings).

    PYTHONPATH=src python scripts/ours_v2_diagnostics.py --dataset data/v1 \
        --platforms amd-epyc-znver5-2c intel-xeon-emeraldrapids-16c h100-80gb-hbm3 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json

import pandas as pd
import torch

from tenset_study.evaluation.diagnostics import run_diagnostics, write_diagnostics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="data/v1")
    parser.add_argument("--platforms", nargs="*", default=None)
    parser.add_argument("--preset", default="book")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--variants", default='{"ours": {}, "mlp": {}}',
                        help='JSON {label: {"model": name, params...}}; label = model name when "model" is absent')
    parser.add_argument("--base", default=None, help="the variant the others are paired against (default mlp)")
    parser.add_argument("--swap-model", default="ours", help="the variant whose hardware-swap test is run")
    parser.add_argument("--out", default=None, help="also write the tables as CSV under this folder")
    args = parser.parse_args()
    torch.set_num_threads(1)

    result = run_diagnostics(args.dataset, models=(), platforms=args.platforms, preset=args.preset, seeds=args.seeds,
                             variants=json.loads(args.variants), base=args.base, swap_model=args.swap_model)
    pd.set_option("display.width", 200)
    print(result.table.to_string(float_format="%.3f"))
    print(f"\npaired differences (interval over seeds and tasks):\n{result.paired.to_string(float_format='%.3f')}")
    print(f"\nhardware-swap test:\n{result.swap.to_string(float_format='%.4f')}")
    if args.out:
        write_diagnostics(result, args.out)


if __name__ == "__main__":
    main()
