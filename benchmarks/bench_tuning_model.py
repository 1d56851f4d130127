"""Scoring throughput of :class:`tenset_study.tuning.cost_model.ProjectCostModel` inside MetaSchedule: candidates
scored per second by ``predict`` (features from the candidates plus one batched forward pass), per model.

Candidates are ``--candidates`` random programs of a conv2d task (NHWC 1x56x56x64 -> 64, 3x3, pad 1: the
notes' conv2d), sampled from MetaSchedule's design space for this CPU and postprocessed, as evolutionary
search hands them over. Models are fitted on ``--fit-records`` records of the dataset with a preset's
sizes and ``--epochs`` epochs (throughput does not depend on how well they are trained), or read with
``--model-path name=path``.
The first ``predict`` call (reading the platform, describing the workload, warming caches) is reported
on its own and left out of the throughput; the best of ``--repeats`` later calls is kept. Run on a quiet
machine::

    .venv/bin/python benchmarks/bench_tuning_model.py --dataset data/default --preset book

Prints one JSON line per model: candidates, first-call seconds, best seconds per call, candidates/s, and
the share of a call spent on features (the rest is the forward pass).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def conv2d_candidates(count: int, target, seed: int = 0):
    """``count`` postprocessed random MetaSchedule candidates of the conv2d task, and the task's IRModule."""
    import tvm
    from tvm import te
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.testing import te_workload

    from tenset_study.collect.sampling import DesignSpace

    mod = tvm.IRModule({"main": te.create_prim_func(te_workload.conv2d_nhwc(1, 56, 56, 64, 64, 3, 1, 1))})
    space = DesignSpace.of(mod, target, seed=1)
    candidates = []
    while len(candidates) < count:
        sch = space.sample(seed)
        seed += 1
        if sch is not None:
            candidates.append(ms.MeasureCandidate(sch, ArgInfo.from_entry_func(sch.mod, remove_preproc=True)))
    return mod, candidates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="data/default")
    parser.add_argument("--models", nargs="+", default=["xgb", "mlp", "tlp", "ours"])
    parser.add_argument("--model-path", nargs="*", default=[], help="NAME=PATH: use a saved model instead of fitting")
    parser.add_argument("--preset", default="book", help="model sizes of this preset (hidden, heads, rounds, max_len)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs when fitting a neural model here")
    parser.add_argument("--fit-records", type=int, default=800, help="records a model is fitted on here (0: all)")
    parser.add_argument("--candidates", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-cores", type=int, default=None, help="target num-cores and TuneContext threads")
    args = parser.parse_args()

    import torch

    from tenset_study.evaluation import experiments
    from tenset_study import models
    from tenset_study.programs import targets, tvm_setup
    from tenset_study.tuning.cost_model import ProjectCostModel

    tvm_setup.prepare_tvm("cpu")
    from tvm.s_tir import meta_schedule as ms

    preset = experiments.resolve_preset(args.preset)
    saved = dict(item.split("=", 1) for item in args.model_path)
    target_spec = targets.cpu_target(args.num_cores)
    target = targets.make_target(target_spec)
    start = time.perf_counter()
    mod, candidates = conv2d_candidates(args.candidates, target)
    sample_s = time.perf_counter() - start
    context = ms.TuneContext(mod=mod, target=target, num_threads=target_spec["num-cores"], task_name="conv2d_nhwc")
    print(json.dumps({"candidates": len(candidates), "sample_s": round(sample_s, 2), "target": target_spec,
                      "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(), "preset": args.preset}))

    to_fit = [name for name in args.models if name not in saved]
    inputs = positions = None
    if to_fit:
        _, records, inputs, _ = experiments.prepare(args.dataset, to_fit, max_len=preset["max_len"])
        positions = np.arange(len(records))
        if args.fit_records:
            positions = np.random.default_rng(0).permutation(positions)[: args.fit_records]
    for name in args.models:
        if name in saved:
            model = models.CostModel.load(saved[name])
        else:
            params = experiments.model_params(name, preset)
            if name != "xgb":
                params.update(epochs=args.epochs, device="cpu")
            model = models.create(name, seed=0, **params).fit(inputs, positions)
        cost_model = ProjectCostModel(model, max_len=preset["max_len"], online=False)
        start = time.perf_counter()
        scores = cost_model.predict(context, candidates)
        first_s = time.perf_counter() - start
        assert np.isfinite(scores).all() and len(scores) == len(candidates)
        best, feature_share = float("inf"), 0.0
        for _ in range(args.repeats):
            before = cost_model.timing()
            start = time.perf_counter()
            cost_model.predict(context, candidates)
            seconds = time.perf_counter() - start
            after = cost_model.timing()
            if seconds < best:
                best = seconds
                feature_share = (after["feature_seconds"] - before["feature_seconds"]) / seconds
        print(json.dumps({"model": name, "params": model.metadata.get("params", {}), "candidates": len(candidates),
                          "first_call_s": round(first_s, 3), "best_call_s": round(best, 3),
                          "candidates_per_s": round(len(candidates) / best, 1),
                          "feature_share": round(feature_share, 3)}))


if __name__ == "__main__":
    main()
