"""Tuning wall time with MetaSchedule's ``LocalBuilder`` (new build workers every search round) against the
persistent pool of :class:`tenset_study.collect.builder.PersistentBuilder`, on the same network, budget,
search, runner settings and seed, one after the other in one run.

MetaSchedule's random cost model is used so that nothing but the builder differs between the two runs (a
learned model's training would add its own time). Run on a quiet machine::

    .venv/bin/python benchmarks/bench_tuning_builder.py --network dcgan-b1-16 --trials 12 --per-round 2

Prints one JSON line per builder (tuning seconds, seconds per search round, trials, valid trials, estimated
latency) and one with the ratio local / persistent of tuning seconds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="dcgan-b1-16")
    parser.add_argument("--trials", type=int, default=12, help="global budget of measured programs")
    parser.add_argument("--per-round", type=int, default=2, help="trials per search round")
    parser.add_argument("--gpu", default=None, metavar="ARCH", help="tune for this CUDA GPU (default: this CPU)")
    parser.add_argument("--builder-workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from tenset_study.programs import targets
    from tenset_study.tuning.tune import BUILDERS, tune_network

    target = targets.gpu_target(args.gpu) if args.gpu else targets.cpu_target()
    search = {"population_size": 32, "init_min_unmeasured": 8, "genetic_num_iters": 1}
    seconds = {}
    for builder in reversed(BUILDERS):  # local first: the previous way
        with tempfile.TemporaryDirectory() as work_dir:
            start = time.perf_counter()
            result = tune_network(args.network, target, work_dir, args.trials, "random", seed=args.seed,
                                  num_trials_per_iter=args.per_round, builder_workers=args.builder_workers,
                                  repeat=2, min_repeat_ms=5, search=search, builder=builder, progress=False)
            rounds = len(json.loads(open(f"{work_dir}/tuning_timeline.json").read())["batches"])
        seconds[builder] = result.tuning_seconds
        print(json.dumps({"builder": builder, "network": args.network, "tuning_s": round(result.tuning_seconds, 2),
                          "wall_s": round(time.perf_counter() - start, 2), "rounds": rounds,
                          "s_per_round": round(result.tuning_seconds / max(rounds, 1), 2),
                          "trials": result.trials_measured, "valid": result.valid_trials,
                          "estimated_latency_s": result.estimated_latency_s}), flush=True)
    print(json.dumps({"ratio_local_over_persistent": round(seconds["local"] / seconds["persistent-pool"], 2)}))


if __name__ == "__main__":
    main()
