"""Collection pace: programs measured per minute, v1's way against the pipelined measurer, on the same batch.

The same random programs (from the heaviest tasks of a zoo network) are measured, with the same runner
settings, in the ways asked for, one after the other in this process:

- ``v1``: what the v1 collector did: replay a batch's traces here, build the batch in a new worker pool
  (:class:`~tenset_study.collect.measure.Measurer`, tar export linked by the runner), then measure it;
- ``pipelined``: :class:`~tenset_study.collect.pipeline.PipelinedMeasurer`: one build pool for the run,
  traces replayed and shared libraries linked in the workers, the next batch built while this one is
  measured (on a GPU, or on a CPU with ``--build-cores`` and ``--measure-cores`` disjoint).

On a GPU, ``--compile-modes nvrtc nvcc`` repeats the pipelined way with each CUDA compiler
(``TVM_CUDA_COMPILE_MODE``). Prints one row per way (programs/min, exposed build seconds, run seconds,
failures), the ratio of each way's pace to v1's, and the within-task Spearman correlation of each way's
latencies with v1's (the ways must measure the same thing). Run on a quiet machine, e.g. on the GPU host::

    python benchmarks/bench_collect.py --gpu sm_90 --network resnet_50-b1-224 --tasks 8 --programs 64 \\
        --batch-size 256 --min-repeat-ms 5 --compile-modes nvrtc nvcc
"""

from __future__ import annotations

import argparse
import os
import time

from tenset_study.programs import targets, tvm_setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=None,
                        help="take the programs from this dataset (of the target's kind) instead of sampling them")
    parser.add_argument("--network", default="resnet_18-b1-224")
    parser.add_argument("--tasks", type=int, default=4, help="the heaviest tasks (by FLOPs) of the network")
    parser.add_argument("--programs", type=int, default=16, help="programs per task")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--ways", nargs="+", default=["v1", "pipelined"], choices=["v1", "pipelined"])
    parser.add_argument("--gpu", default=None, metavar="ARCH")
    parser.add_argument("--compile-modes", nargs="+", default=[None], help="CUDA compilers (nvrtc, nvcc) to try")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-repeat-ms", type=int, default=20)
    parser.add_argument("--builder-workers", type=int, default=None)
    parser.add_argument("--build-cores", default=None)
    parser.add_argument("--measure-cores", default=None)
    args = parser.parse_args()

    target_spec = targets.gpu_target(args.gpu) if args.gpu else targets.cpu_target()
    tvm_setup.prepare_tvm(targets.target_kind(target_spec))
    programs, sample_s = sample(args, target_spec)
    print(f"{args.network}: {len(programs)} programs of {args.tasks} tasks sampled in {sample_s:.1f} s; "
          f"target {target_spec}; {os.cpu_count()} cores; batches of {args.batch_size}")
    print("| way | compiler | programs | seconds | programs/min | ratio to v1 | exposed build s | run s | failed | "
          "Spearman with v1 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    baseline = None
    for way in args.ways:
        for mode in (args.compile_modes if (way == "pipelined" and args.gpu) else [None]):
            if mode:
                os.environ["TVM_CUDA_COMPILE_MODE"] = mode
            row = run_way(way, programs, target_spec, args)
            baseline = baseline or (row if way == "v1" else None)
            ratio = f"{row['per_min'] / baseline['per_min']:.2f}" if baseline else ""
            rho = f"{spearman_within_tasks(row, baseline):.3f}" if baseline and row is not baseline else ""
            print(f"| {way} | {mode or 'default'} | {len(programs)} | {row['seconds']:.1f} | {row['per_min']:.0f} | "
                  f"{ratio} | {row['build_s']:.1f} | {row['run_s']:.1f} | {row['failed']} | {rho} |", flush=True)


def sample(args, target_spec: dict):
    """The benchmark's programs: ``(task, mod, trace)``: a dataset's stored programs of its first tasks of
    the target's kind (``--dataset``), or random programs of the network's heaviest tasks."""
    if args.dataset:
        return stored_programs(args, target_spec)
    from tenset_study.collect.sampling import DesignSpace, sample_programs
    from tenset_study.collect.tasks import extract_network_tasks

    target = targets.make_target(target_spec)
    extracted = extract_network_tasks(args.network, target_spec)
    heavy = sorted(extracted.tasks, key=lambda t: -(t.row["flops"] or 0))[: args.tasks]
    t0 = time.perf_counter()
    programs = []
    for i, task in enumerate(heavy):
        space = DesignSpace.of(task.mod, target)
        for trace in sample_programs(space, args.programs, seed=0):
            programs.append((str(i), task.mod, trace))
    return programs, time.perf_counter() - t0


def stored_programs(args, target_spec: dict):
    from tenset_study.collect.config import CollectConfig
    from tenset_study.collect.prepare import replay_tasks
    from tenset_study.data.dataset import Dataset

    t0 = time.perf_counter()
    ds = Dataset.open(args.dataset)
    config = CollectConfig(dataset=ds.root, replay=True, networks=[args.network] if args.network else [])
    tasks = replay_tasks(ds, config, targets.target_kind(target_spec))[: args.tasks]
    rows = ds.to_pandas("programs", columns=["task", "trace"])
    programs = []
    for task in tasks:
        traces = rows[rows["task"] == task.task]["trace"].head(args.programs)
        programs += [(task.task, task.mod, trace) for trace in traces]
    return programs, time.perf_counter() - t0


def settings_of(way: str, args):
    from tenset_study.collect.measure import MeasureSettings

    pinned = {"build_cores": args.build_cores, "measure_cores": args.measure_cores} if way == "pipelined" else {}
    return MeasureSettings(repeat=args.repeat, min_repeat_ms=args.min_repeat_ms, builder_workers=args.builder_workers,
                           export_format="tar" if way == "v1" else "so", **pinned)


def run_way(way: str, programs: list, target_spec: dict, args) -> dict:
    """Measure every program the given way; pace, time split and latencies."""
    batches = [programs[i : i + args.batch_size] for i in range(0, len(programs), args.batch_size)]
    settings = settings_of(way, args)
    start = time.perf_counter()
    results, build_s, run_s = [], 0.0, 0.0
    if way == "v1":
        from tenset_study.collect.measure import Measurer
        from tenset_study.programs.traces import schedule_from_trace

        measurer = Measurer(targets.make_target(target_spec), settings)
        try:
            for batch in batches:
                t0 = time.perf_counter()
                schedules = [schedule_from_trace(mod, trace) for _, mod, trace in batch]
                replay_s = time.perf_counter() - t0
                measured, timing = measurer.measure(schedules)
                results += measured
                build_s += timing.build_s + replay_s
                run_s += timing.run_s
        finally:
            measurer.close()
    else:
        from tenset_study.collect.pipeline import PipelinedMeasurer, Program

        with PipelinedMeasurer(target_spec, settings) as measurer:
            for _, measured, timing in measurer.measure_batches(batches, lambda p: Program(*p)):
                results += measured
                build_s += timing.build_s
                run_s += timing.run_s
    seconds = time.perf_counter() - start
    latencies = [sum(r.repeats_s) / len(r.repeats_s) if r.repeats_s else None for r in results]
    return {"seconds": seconds, "per_min": 60 * len(programs) / seconds, "build_s": build_s, "run_s": run_s,
                "failed": sum(r.error is not None for r in results), "tasks": [p[0] for p in programs],
                "latencies": latencies}


def spearman_within_tasks(row: dict, baseline: dict) -> float:
    """Median over tasks of the Spearman correlation of two ways' latencies of the same programs."""
    import pandas as pd

    frame = pd.DataFrame({"task": row["tasks"], "a": row["latencies"], "b": baseline["latencies"]}).dropna()
    per_task = frame.groupby("task").apply(lambda g: g["a"].corr(g["b"], method="spearman"), include_groups=False)
    return float(per_task.median())


if __name__ == "__main__":
    main()
