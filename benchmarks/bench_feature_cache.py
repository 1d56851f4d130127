"""Feature extraction with and without :class:`tenset_study.tuning.feature_cache.StoreFeatureCache`, on the
candidates a real search hands the cost model.

One task of a network outside the tuning study's reported set (default: the largest conv2d of resnet_18) is
tuned with MetaSchedule's evolutionary search and the shipped CPU model (or ``--model``), and every
``predict`` / ``update`` call's candidates are recorded. The recorded stream is then featurized twice, in the
same process, by two fresh :class:`~tenset_study.tuning.cost_model.ProjectCostModel` objects: the previous way
(``feature_cache=0``: every candidate extracted) and the cached way (default), best of ``--repeats``; the ratio
of their feature seconds is the speed-up on exactly the same work. The tuning run's own counters give the
scoring share of its wall time with the cache on. Run on a quiet machine::

    .venv/bin/python benchmarks/bench_feature_cache.py --out benchmarks/results/feature-cache-<host>-<date>.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time


def largest_task(network: str, target: dict, op: str):
    """The IRModule and name of the network's task with the most FLOPs among those whose name holds ``op``."""
    from tenset_study.tuning.extraction import extract_tuning_tasks

    _, extracted, rows = extract_tuning_tasks(network, target)
    pairs = [(row, task) for row, task in zip(rows, extracted) if op in row["task_name"]] or list(zip(rows, extracted))
    row, task = max(pairs, key=lambda pair: pair[0]["flops"])
    return task.dispatched[0], row["task_name"]


def recorded_tuning(mod, target: dict, model, trials: int, per_round: int, seed: int, work_dir: str):
    """Tune ``mod``; returns the recorded ``(call, context, candidates)`` stream, the cost model's timing and the
    tuning wall seconds."""
    from tvm.s_tir import meta_schedule as ms

    from tenset_study.collect.builder import PersistentBuilder
    from tenset_study.collect.measure import export_shared_library
    from tenset_study.programs import targets, tvm_setup
    from tenset_study.tuning.cost_model import ProjectCostModel

    cost_model = ProjectCostModel(model, seed=seed)
    stream = []
    inner = cost_model._inst
    predict, update = inner.predict, inner.update
    inner.predict = lambda context, candidates: (stream.append(("predict", context, list(candidates))),
                                                 predict(context, candidates))[1]
    inner.update = lambda context, candidates, results: (stream.append(("update", context, list(candidates))),
                                                         update(context, candidates, results))[1]
    builder = PersistentBuilder(max(1, (os.cpu_count() or 2) - 1), 60.0, export_shared_library)
    evaluator = ms.runner.EvaluatorConfig(number=1, repeat=3, min_repeat_ms=50)
    start = time.perf_counter()
    with tvm_setup.metaschedule_logging():
        ms.tune_tir(mod=mod, target=targets.make_target(target), work_dir=work_dir, max_trials_global=trials,
                    num_trials_per_iter=per_round, builder=builder, cost_model=cost_model, seed=seed,
                    runner=ms.runner.LocalRunner(evaluator_config=evaluator,
                                                 initializer=tvm_setup.builder_initializer))
    seconds = time.perf_counter() - start
    builder.close()
    return stream, cost_model.timing(), seconds


def featurize(stream, model, cache_entries: int) -> dict:
    """Feature seconds, hits and misses of a fresh cost model over the recorded stream."""
    from tenset_study.tuning.cost_model import ProjectCostModel

    cost_model = ProjectCostModel(model, feature_cache=cache_entries, online=False)
    inner = cost_model._inst
    for _, context, candidates in stream:
        inner._candidate_features(context, candidates)
    timing = cost_model.timing()
    return {"feature_seconds": timing["feature_seconds"], "hits": timing["feature_cache_hits"],
            "extracted": timing["feature_cache_misses"], "hash_seconds": timing["feature_cache_hash_seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="resnet_18-b1-224", help="a zoo network outside the reported set")
    parser.add_argument("--op", default="conv2d", help="the task: the largest whose name holds this")
    parser.add_argument("--model", default=None, help="a saved cost model (default: the shipped CPU model)")
    parser.add_argument("--trials", type=int, default=128)
    parser.add_argument("--per-round", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="append the JSON line to this file")
    args = parser.parse_args()

    from tenset_study.models.base import CostModel
    from tenset_study.programs import targets
    from tenset_study.tuning.pretrained import load_pretrained

    model = CostModel.load(args.model) if args.model else load_pretrained("cpu")
    target = targets.cpu_target(os.cpu_count() or 1)
    mod, task_name = largest_task(args.network, target, args.op)
    with tempfile.TemporaryDirectory() as work_dir:
        stream, tuning, tuning_seconds = recorded_tuning(mod, target, model, args.trials, args.per_round,
                                                         args.seed, work_dir)
    before = min((featurize(stream, model, 0) for _ in range(args.repeats)), key=lambda r: r["feature_seconds"])
    after = min((featurize(stream, model, 16384) for _ in range(args.repeats)), key=lambda r: r["feature_seconds"])
    candidates = sum(len(c) for _, _, c in stream)
    line = {
        "benchmark": "feature_cache", "host": platform.node(), "cpus": os.cpu_count(), "network": args.network,
        "task": task_name, "trials": args.trials, "per_round": args.per_round, "seed": args.seed,
        "calls": len(stream), "candidates": candidates, "model": model.metadata.get("model", model.name),
        "previous_feature_s": round(before["feature_seconds"], 3), "cached_feature_s": round(after["feature_seconds"], 3),
        "speedup": round(before["feature_seconds"] / after["feature_seconds"], 2),
        "hit_rate": round(after["hits"] / candidates, 4), "extracted": after["extracted"],
        "hash_s": round(after["hash_seconds"], 3),
        "tuning_s": round(tuning_seconds, 1), "tuning_predict_s": round(tuning["predict_seconds"], 2),
        "tuning_scoring_share": round(tuning["predict_seconds"] / tuning_seconds, 4),
    }
    print(json.dumps(line))
    if args.out:
        with open(args.out, "a") as handle:
            handle.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
