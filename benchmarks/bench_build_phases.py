"""Where one program's build goes, in one process: trace replay, lowering and code generation
(``tvm.compile``), export (linking the shared library), for a dataset's stored programs of the target's kind.

    python benchmarks/bench_build_phases.py --dataset data/v1 --gpu sm_90 --network resnet_50-b1-224 --programs 32
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from tenset_study.programs import targets, tvm_setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--network", default=None)
    parser.add_argument("--gpu", default=None)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--programs", type=int, default=4, help="per task")
    args = parser.parse_args()
    spec = targets.gpu_target(args.gpu) if args.gpu else targets.cpu_target()
    tvm_setup.prepare_tvm(targets.target_kind(spec))
    import bench_collect
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build

    from tenset_study.collect.measure import export_shared_library, export_tar
    from tenset_study.programs.traces import schedule_from_trace

    args.batch_size = 1
    programs, _ = bench_collect.stored_programs(args, spec)
    target = targets.make_target(spec)
    phases = {"replay": [], "compile": [], "export so": [], "export tar": []}
    for _, mod, trace in programs:
        t0 = time.perf_counter()
        sch = schedule_from_trace(mod, trace)
        t1 = time.perf_counter()
        try:
            rt = default_build(sch.mod, target, None)
        except Exception:  # noqa: BLE001
            continue
        t2 = time.perf_counter()
        path = export_shared_library(rt)
        t3 = time.perf_counter()
        path2 = export_tar(rt)
        t4 = time.perf_counter()
        for p in (path, path2):
            os.remove(p)
        for name, sec in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            phases[name].append(sec)
    print(f"{len(phases['replay'])} programs, target {spec}")
    for name, values in phases.items():
        print(f"{name:11s} mean {1e3 * statistics.mean(values):7.1f} ms  median {1e3 * statistics.median(values):7.1f} ms")


if __name__ == "__main__":
    main()
