"""Time export + task extraction of zoo networks and print a table.

Usage::

    python benchmarks/bench_extract.py                       # six networks, CPU target of this machine
    python benchmarks/bench_extract.py --target gpu          # CUDA sm_90 target (no GPU needed)
    python benchmarks/bench_extract.py resnet_50-b1-224 densenet_121-b1-224
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import time

from tenset_study.collect import tasks
from tenset_study.programs import targets

DEFAULT_NETWORKS = ("resnet_18-b1-224", "resnet_50-b1-224", "mobilenet_v2-b1-224", "resnext_50-b1-224",
                    "bert_tiny-b1-128", "bert_base-b1-128")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="*", default=list(DEFAULT_NETWORKS))
    parser.add_argument("--target", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--arch", default="sm_90", help="CUDA arch for --target gpu")
    parser.add_argument("--layout", choices=tasks.LAYOUTS, default="NCHW")
    args = parser.parse_args()

    target = targets.cpu_target() if args.target == "cpu" else targets.gpu_target(args.arch)
    start = time.perf_counter()
    tasks.extract_network_tasks("bert_tiny-b1-8", target)  # warm-up: first-use costs of torch.export and TVM
    print(f"target {json.dumps(target)}; warm-up {time.perf_counter() - start:.1f} s")
    header = f"{'network':24s} {'tasks':>5s} {'weights':>7s} {'seconds':>7s} {'json KB (median)':>16s}  op classes"
    print(header)
    print("-" * len(header))
    for name in args.networks:
        result = tasks.extract_network_tasks(name, target, args.layout)
        ops = collections.Counter(t.op for t in result.tasks)
        mix = ", ".join(f"{op} {n}" for op, n in ops.most_common())
        kb = statistics.median(len(t.row["workload"]) for t in result.tasks) / 1000
        print(f"{name:24s} {len(result.tasks):5d} {result.total_weight:7d} {result.seconds:7.1f} {kb:16.1f}  {mix}",
              flush=True)


if __name__ == "__main__":
    main()
