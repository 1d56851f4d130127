"""Collection throughput: programs measured per minute, and where the time goes, by batch size and workers.

The same random programs (from the first tasks of a zoo network) are built and measured with each
setting, so the settings differ only in how the work is batched. Run on a quiet machine::

    .venv/bin/python benchmarks/bench_collect.py --network resnet_18-b1-224 --tasks 4 --programs 16 \
        --batch-sizes 8 32 64 --workers 2

Prints one row per setting: programs, batches, seconds, programs/min, build and run seconds per program,
and the rest (trace replay, writing). The builder pool starts once per batch; its start-up is in build.
"""

from __future__ import annotations

import argparse
import time

from tenset_study.programs import targets, tvm_setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="resnet_18-b1-224")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--programs", type=int, default=16, help="programs per task")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--workers", type=int, nargs="+", default=[None])
    parser.add_argument("--export-formats", nargs="+", default=["tar"], choices=["tar", "so"])
    parser.add_argument("--gpu", default=None, metavar="ARCH")
    args = parser.parse_args()

    target_spec = targets.gpu_target(args.gpu) if args.gpu else targets.cpu_target()
    tvm_setup.prepare_tvm(targets.target_kind(target_spec))
    from tenset_study.collect.measure import Measurer, MeasureSettings
    from tenset_study.collect.sampling import DesignSpace, sample_programs
    from tenset_study.programs.traces import schedule_from_trace
    from tenset_study.collect.tasks import extract_network_tasks

    target = targets.make_target(target_spec)
    extracted = extract_network_tasks(args.network, target_spec)
    heavy = sorted(extracted.tasks, key=lambda t: -(t.row["flops"] or 0))[: args.tasks]
    programs = []
    t0 = time.perf_counter()
    for task in heavy:
        space = DesignSpace.of(task.mod, target)
        programs += [(task.mod, trace) for trace in sample_programs(space, args.programs, seed=0)]
    sample_s = time.perf_counter() - t0
    print(f"{args.network}: {len(programs)} programs of {len(heavy)} tasks sampled in {sample_s:.1f} s "
          f"({1e3 * sample_s / len(programs):.1f} ms/program); target {target_spec}")
    print("| export | workers | batch | programs | batches | seconds | programs/min | build s/prog | run s/prog | other s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for export in args.export_formats:
        for workers in args.workers:
            for batch_size in args.batch_sizes:
                settings = MeasureSettings(builder_workers=workers, export_format=export)
                t0 = time.perf_counter()
                measurer = Measurer(target, settings)
                startup = time.perf_counter() - t0
                build = run = 0.0
                batches = 0
                start = time.perf_counter()
                for i in range(0, len(programs), batch_size):
                    schedules = [schedule_from_trace(mod, trace) for mod, trace in programs[i : i + batch_size]]
                    _, timing = measurer.measure(schedules)
                    build += timing.build_s
                    run += timing.run_s
                    batches += 1
                total = time.perf_counter() - start
                n = len(programs)
                # build s/prog includes the builder pool's start-up, paid once per batch
                print(f"| {export} | {settings.builder_workers or 'all'} | {batch_size} | {n} | {batches} | "
                      f"{total:.1f} | {60 * n / total:.1f} | {build / n:.3f} | {run / n:.3f} | "
                      f"{total - build - run:.1f} |")
                print(f"(measurer start-up, once per collection: {startup:.1f} s)")


if __name__ == "__main__":
    main()
