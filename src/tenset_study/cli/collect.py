"""The ``collect`` command: its flags, and the :class:`~tenset_study.collect.config.CollectConfig` they make."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..collect.config import CollectConfig


def add_collect_command(sub) -> None:
    """Register ``collect`` on the CLI's subparsers."""
    p = sub.add_parser("collect", help="measure programs of the chosen networks' tasks on this machine")
    add_collect_arguments(p)
    p.set_defaults(func=cmd_collect)
    probe = sub.add_parser("probe-platform", help="measure a CPU platform's memory bandwidth (a triad) and fill "
                           "its clock and peak FLOP/s, on a machine of the same processor")
    probe.add_argument("--dataset", type=Path, required=True)
    probe.add_argument("--platform", required=True, help="the CPU platform whose row to fill")
    probe.add_argument("--cores", default=None, help="cores to run its threads on, e.g. 0-3 (default: the first ones)")
    probe.set_defaults(func=cmd_probe_platform)
    add_your_machine_command(sub)
    add_device_agreement_command(sub)


def add_device_agreement_command(sub) -> None:
    """Register ``device-agreement``: whether a host's devices rank programs alike (:mod:`..book.exploration`)."""
    p = sub.add_parser("device-agreement", help="per device platform (one GPU of a host each, e.g. measured by "
                       "scripts/rpc_collect.sh --per-device-check): median per-task rank correlation with the other "
                       "devices, and the devices that disagree")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--platforms", nargs="+", required=True, metavar="PLATFORM", help="the devices' platforms")
    p.add_argument("--margin", type=float, default=0.1,
                   help="flag a device whose median Spearman is this far below the other devices' (default 0.1)")
    p.add_argument("--min-spearman", type=float, default=None, metavar="R",
                   help="also flag a device whose median Spearman is below R (the only test with two devices)")
    p.set_defaults(func=cmd_device_agreement)


def cmd_device_agreement(args: argparse.Namespace) -> int:
    """``tenset-study device-agreement``: print the per-device table; exit status 1 when a device disagrees."""
    from ..book.exploration.devices import describe_device_agreement, device_agreement
    from ..book.exploration.measurements import measurement_frame
    from ..data.dataset import Dataset

    table = device_agreement(measurement_frame(Dataset.open(args.dataset)), args.platforms, margin=args.margin,
                             min_spearman=args.min_spearman)
    print(table.to_string(float_format=lambda x: f"{x:.3f}"))
    print(describe_device_agreement(table))
    return 1 if table["disagrees"].any() else 0


def add_your_machine_command(sub) -> None:
    """Register ``your-machine``: the book's programs measured on the reader's machine (:mod:`..collect.your_machine`)."""
    p = sub.add_parser("your-machine", help="measure a fixed small subset of a dataset's programs on this machine, "
                       "as a new platform of a copy of the dataset (then: make your-machine-book)")
    p.add_argument("--dataset", type=Path, default=Path("data/default"), help="the dataset whose programs to measure")
    p.add_argument("--out", type=Path, default=Path("data/yours"), help="the copy that gets this machine's platform")
    p.add_argument("--programs-per-task", type=int, default=16, help="the first N program ids of each task")
    p.add_argument("--gpu", default=None, metavar="ARCH", help="measure this machine's GPU (e.g. sm_86), not its CPU")
    p.add_argument("--max-tasks", type=int, default=None, help="only the first N tasks (for a quick try)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_your_machine)


def cmd_your_machine(args: argparse.Namespace) -> int:
    """``tenset-study your-machine``: measure, then say how to put the platform in the transfer chapter."""
    from ..collect.your_machine import measure_your_machine

    result = measure_your_machine(args.dataset, args.out, programs_per_task=args.programs_per_task, gpu=args.gpu,
                                  max_tasks=args.max_tasks, progress=not args.quiet)
    print(result.report.summary())
    print(f"platform {result.platform} in {result.dataset}; the transfer chapter with it as the unseen platform:\n"
          f"  make your-machine-book YOUR_DATASET={result.dataset}")
    return 0


def add_collect_arguments(p: argparse.ArgumentParser) -> None:
    """The ``collect`` command's flags: what to collect, then how to build and time it."""
    p.add_argument("--dataset", type=Path, required=True, help="dataset folder to create or append to")
    p.add_argument("--networks", nargs="+", help="zoo network names, e.g. resnet_18-b1-224 bert_tiny-b1-128")
    p.add_argument("--target", default=None, help="TVM target as JSON (default: this CPU, e.g. "
                   '{"kind": "llvm", "mcpu": "znver3", "num-cores": 2})')
    p.add_argument("--gpu", default=None, metavar="ARCH", help="measure on the CUDA GPU with this arch, e.g. sm_90")
    p.add_argument("--platform", default=None, help="platform id (default: read off the machine)")
    p.add_argument("--programs-per-task", type=int, default=100)
    p.add_argument("--guided-share", type=float, default=0.0,
                   help="share of programs per task from evolutionary search")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=256, help="programs built and measured per batch")
    p.add_argument("--sample-attempts", type=int, default=8,
                   help="random samples drawn per wanted program before a task gives up (GPU spaces reject many)")
    p.add_argument("--replay", action="store_true", help="measure the dataset's existing programs of this kind")
    p.add_argument("--sample-only", action="store_true",
                   help="sample and store the programs without measuring them (measure later with --replay)")
    p.add_argument("--sample-workers", type=int, default=1, help="processes that sample programs (with --sample-only)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="start no batch that would end after this many seconds, judged by the longest batch so far "
                        "(re-run the command to continue)")
    p.add_argument("--max-tasks", type=int, default=None, help="only the first N tasks (for quick runs)")
    p.add_argument("--tasks-file", type=Path, default=None, metavar="FILE",
                   help="only the tasks this list names, one task id or workload id per line (e.g. "
                        "scripts/v2_new_tasks.txt; tenset_study.collect.selection)")
    p.add_argument("--remeasure-share", type=float, default=0.01, metavar="F",
                   help="share of the platform's programs (a fixed sample of whole tasks) measured again once in "
                        "every later session, for the noise across sessions (default 0.01; 0: off)")
    p.add_argument("--replay-subset", type=int, default=None, metavar="N",
                   help="with --replay: only the first N program ids of each task, sorted (a fixed subset)")
    p.add_argument("--configurations", nargs="+", default=[], metavar="ISA@CORES",
                   help="with --replay and --build-cores: measure this CPU as several platforms at once, each an "
                        "instruction set (avx512, avx2, sse4) and the cores its threads run on, e.g. avx512@0-3 avx2@4-7")
    p.add_argument("--no-probe-hardware", action="store_true",
                   help="do not measure a new CPU platform's memory bandwidth (a triad on its cores, a few seconds)")
    p.add_argument("--side-by-side", action="store_true",
                   help="with --configurations: time them at the same time, not one after another (faster, but "
                        "neighbours may disturb each other's timings: run scripts/device_configurations.sh first)")
    _add_measure_arguments(p)
    p.add_argument("--no-pipeline", action="store_true",
                   help="v1's way: build each batch in a new worker pool, then measure it (for comparisons)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_measure_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of :class:`~tenset_study.collect.measure.MeasureSettings`."""
    p.add_argument("--number", type=int, default=1, help="runs per repeat (raised to reach --min-repeat-ms)")
    p.add_argument("--repeat", type=int, default=5, help="repeats kept per program")
    p.add_argument("--min-repeat-ms", type=int, default=20)
    p.add_argument("--cache-flush", action="store_true", help="flush CPU caches before each repeat")
    p.add_argument("--run-timeout", type=float, default=30.0)
    p.add_argument("--build-timeout", type=float, default=60.0)
    p.add_argument("--builder-workers", type=int, default=None)
    p.add_argument("--export-format", choices=["tar", "so"], default=None,
                   help="how built programs travel to the runner: 'so' (linked by the build workers; the default "
                        "here) or 'tar' (linked by the runner; the default through --rpc-tracker)")
    p.add_argument("--build-cores", default=None, metavar="CORES",
                   help="CPU cores of the build workers, e.g. 4-15 (default: every core)")
    p.add_argument("--measure-cores", default=None, metavar="CORES",
                   help="CPU cores the timed programs run on, one thread each, e.g. 0-3; disjoint from "
                        "--build-cores, building overlaps measuring on a CPU too")
    p.add_argument("--rpc-tracker", default=None, metavar="HOST:PORT", help="measure through a TVM RPC tracker")
    p.add_argument("--rpc-key", default=None, help="device key registered at the tracker")
    p.add_argument("--rpc-workers", type=int, default=1, metavar="N",
                   help="measurements sent through the tracker at once: the number of servers under --rpc-key "
                        "spreads every batch over all of them (scripts/rpc_collect.sh; default 1)")


def collect_config(args: argparse.Namespace) -> CollectConfig:
    """The :class:`~tenset_study.collect.config.CollectConfig` of parsed ``collect`` flags (a ValueError when
    they do not fit together, or when ``--target`` is not JSON)."""
    from ..collect.config import CollectConfig
    from ..collect.measure import MeasureSettings

    target = json.loads(args.target) if args.target else None
    if target is None and args.gpu:
        from ..programs.targets import gpu_target

        target = gpu_target(args.gpu)
    measure = MeasureSettings(
        number=args.number, repeat=args.repeat, min_repeat_ms=args.min_repeat_ms,
        enable_cpu_cache_flush=args.cache_flush, run_timeout_s=args.run_timeout,
        build_timeout_s=args.build_timeout, builder_workers=args.builder_workers,
        export_format=args.export_format or ("tar" if args.rpc_tracker else "so"),
        rpc_tracker=args.rpc_tracker, rpc_key=args.rpc_key, rpc_workers=args.rpc_workers,
        build_cores=args.build_cores, measure_cores=args.measure_cores,
    )
    return CollectConfig(
        dataset=args.dataset, networks=args.networks or [], target=target, platform=args.platform,
        programs_per_task=args.programs_per_task, guided_share=args.guided_share, seed=args.seed,
        batch_size=args.batch_size, sample_attempts=args.sample_attempts, replay=args.replay,
        sample_only=args.sample_only, sample_workers=args.sample_workers, time_limit_s=args.time_limit,
        max_tasks=args.max_tasks, task_list=args.tasks_file, measure=measure, pipeline=not args.no_pipeline, progress=not args.quiet,
        replay_subset=args.replay_subset, configurations=args.configurations, side_by_side=args.side_by_side,
        **({"probe_hardware": False} if args.no_probe_hardware else {}),
        remeasure_share=args.remeasure_share,
    )


def cmd_collect(args: argparse.Namespace) -> int:
    """``tenset-study collect``: run the collection and print its report."""
    from ..collect.collector import collect

    report = collect(collect_config(args))
    print(report.summary())
    return 0


def cmd_probe_platform(args: argparse.Namespace) -> int:
    """``tenset-study probe-platform``: fill an existing CPU platform's probed features."""
    from ..collect.measure import parse_cores
    from ..collect.probes import probe_platform
    from ..data.dataset import Dataset

    row = probe_platform(Dataset.open(args.dataset), args.platform, parse_cores(args.cores, "--cores") or None)
    print(f"{args.platform}: memory bandwidth {row['memory_bandwidth_gbs']} GB/s, clock {row['clock_mhz']} MHz, "
          f"peak {row['peak_gflops_fp32']} GFLOP/s fp32")
    return 0
