"""The ``tune``, ``pretrain``, ``transfer-tune`` and ``export-study`` commands (tuning with MetaSchedule, the
pretrained models the package ships, the transfer-tuning study and its exports): the parsers, and the runners
that turn their flags into calls of :mod:`tenset_study.tuning`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _command_target(args: argparse.Namespace) -> dict | None:
    """The TVM target of ``--gpu`` or ``--target``, else None."""
    from ..programs import targets

    if args.gpu:
        return targets.gpu_target(args.gpu)
    if args.target:
        return targets.checked_target(args.target)
    return None


def _platform_row(args: argparse.Namespace) -> dict | None:
    """The ``--platform`` row of ``--platform-dataset``, or None (read off this machine)."""
    from ..tuning.platforms import platform_row_from_dataset

    return platform_row_from_dataset(args.platform_dataset, args.platform) if args.platform else None


def run_pretrain_command(args: argparse.Namespace) -> int:
    """``tenset-study pretrain``: train and ship the pretrained model of one target kind (or each)."""
    import shlex
    import sys

    from ..tuning.pretraining import train_pretrained

    # the command line as typed (run through `tenset-study`), recorded in the manifest
    command = "tenset-study " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["pretrain"] else None
    for kind in args.kind:
        entry = train_pretrained(kind, args.dataset, args.platforms, args.preset, seed=args.seed,
                                 held_out=not args.no_held_out, folder=args.out, command=command,
                                 progress=not args.quiet)
        print(f"{kind}: {entry['model']} v{entry['version']} on {entry['records']} records of "
              f"{', '.join(entry['platforms'])} -> {entry['file']} ({entry['bytes'] / 1024:.0f} KiB)")
    return 0


def run_tune_command(args: argparse.Namespace) -> int:
    """``tenset-study tune``: tune, compile, time end to end; write ``work_dir/tune_result.json``."""
    from .. import zoo
    from ..programs import targets
    from ..tuning.end_to_end import saved_cost_model, tune_compile_and_time
    from ..tuning.result import summary_line
    from ..tuning.timed_model import NAMED_COST_MODELS

    zoo.parse_network(args.network)
    target = _command_target(args) or targets.cpu_target()
    if args.platform and not args.platform_dataset:
        raise ValueError("--platform needs --platform-dataset (the dataset holding that platforms row)")
    cost_model, label = args.cost_model, None
    if args.cost_model == "pretrained":  # the package's shipped model of the target's kind
        from ..tuning.pretrained import pretrained_cost_model

        row = _platform_row(args)
        cost_model = pretrained_cost_model(target, platform=row, online=not args.no_online, seed=args.seed)
        info = cost_model.model.metadata["pretrained"]
        label = f"{info['model']}:pretrained-{info['kind']}-v{info['version']}" + (":frozen" if args.no_online else "")
    elif args.cost_model not in NAMED_COST_MODELS:
        if not Path(args.cost_model).is_file():
            raise FileNotFoundError(f"--cost-model {args.cost_model!r}: not one of {', '.join(NAMED_COST_MODELS)} "
                                    f"and no such model file (save one with `tenset-study train --out PATH`)")
        cost_model, label = saved_cost_model(args.cost_model, platform=args.platform,
                                             platform_dataset=args.platform_dataset, online=not args.no_online,
                                             seed=args.seed)
    elif args.platform:
        raise ValueError("--platform applies to our saved models only, not to MetaSchedule's xgb / random")
    search = None
    if args.population:
        search = {"population_size": args.population, "init_min_unmeasured": min(50, args.population)}
    result, report, path = tune_compile_and_time(
        args.network, target, args.work_dir, args.trials, cost_model, cost_model_label=label,
        trials_per_task=args.trials_per_task, num_trials_per_iter=args.num_trials_per_iter,
        builder_workers=args.builder_workers, number=args.number, repeat=args.repeat,
        min_repeat_ms=args.min_repeat_ms, search=search, layout=args.layout, seed=args.seed,
        overwrite=args.overwrite, progress=not args.quiet, time_end_to_end=not args.no_time,
        time_repeat=args.time_repeat, time_min_repeat_ms=args.time_min_repeat_ms,
    )
    print(summary_line(result, report["end_to_end"]) + f" -> {path}")
    return 0


def run_transfer_tune_command(args: argparse.Namespace) -> int:
    """``tenset-study transfer-tune``: :func:`tenset_study.tuning.study.run_study` with the command's flags; prints
    the results and the comparison; exits 1 when an arm failed to tune or to time (the others went on)."""
    from ..tuning.study import run_study

    target = _command_target(args)
    if args.dataset is None and not args.time_only:
        raise ValueError("--dataset is needed to pretrain (only --time-only runs without it)")
    preset = args.preset
    if args.search_variants is not None:
        from ..tuning.study import transfer_settings

        preset = {**transfer_settings(args.preset), "search_variants": _search_variants(args.search_variants)}
    outcome = run_study(
        args.dataset, args.target_platform, args.networks, preset, args.study_dir, target=target,
        budgets=args.budget, seeds=tuple(args.seeds) if args.seeds else None,
        random_arms=False if args.no_random else None, train_platforms=args.train_platforms,
        tune=not args.time_only, time_networks=not args.no_time, retime=args.retime,
        timing_rounds=args.timing_rounds, results_dir=args.results_dir, time_limit_s=args.time_limit,
        progress=not args.quiet,
    )
    _print_study(outcome)
    failed, deferred = _arms_with_status(outcome, "failed"), _arms_with_status(outcome, "deferred")
    if deferred:
        print(f"stopped at the time limit (re-run to continue): {', '.join(deferred)} left")
    if failed:
        print(f"failed (see the log; run again to retry): {', '.join(failed)}")
        return 1
    return 0


def _search_variants(text: str) -> dict:
    """``--search-variants``' JSON object (name -> EvolutionarySearch settings and, optionally,
    num_trials_per_iter), checked; a ValueError naming the flag otherwise."""
    from ..tuning.study.settings import check_variant, make_arms

    try:
        variants = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--search-variants: not JSON ({error})") from None
    if not isinstance(variants, dict) or not all(isinstance(v, dict) for v in variants.values()):
        raise ValueError('--search-variants: expected an object of objects, e.g. {"p256": {"population_size": 256}}')
    try:
        make_arms((1.0,), random_arms=False, search_variants=tuple(variants))  # the names make arm folders
    except ValueError as error:
        raise ValueError(f"--search-variants: {error}") from None
    return {name: check_variant(v, f"--search-variants {name!r}") for name, v in variants.items()}


def _print_study(outcome) -> None:
    """The study's results and its comparison with the baseline as tables, then the files written."""
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 30):
        shown = outcome.results[["network", "arm", "trials", "tuning_s", "scoring_share", "estimated_latency_s",
                                 "e2e_mean_s", "e2e_low_s", "e2e_high_s"]]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if not outcome.comparison.empty:
            print(outcome.comparison[["network", "arm", "latency_ratio", "ratio_low", "ratio_high",
                                      "tuning_time_ratio", "verdict"]].to_string(index=False,
                                                                                 float_format=lambda v: f"{v:.3f}"))
    print(f"results: {', '.join(str(p) for p in outcome.paths.values())}")


def _arms_with_status(outcome, status: str) -> list[str]:
    """``network arm`` of every row of the outcome's tuning and timing tables with this ``status``."""
    return [f"{r['network']} {r['arm']}" for frame in (outcome.tuning, outcome.timing)
            if frame is not None and "status" in frame for _, r in frame[frame["status"] == status].iterrows()]


def _cmd_export_study(args: argparse.Namespace) -> int:
    from ..tuning import archive as study_archive

    if args.restore:
        print(f"restored into {study_archive.restore_study(args.src, args.dest)}")
        return 0
    dest = study_archive.export_study(args.src, args.dest, dataset=args.dataset, networks=args.networks)
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    print(f"exported {len(list(dest.glob('*/*/arm.json')))} arm(s) of {args.src} into {dest} ({size / 2**20:.2f} MiB)")
    return 0


def add_pretrain_command(sub) -> None:
    """Add ``pretrain`` (train the pretrained model shipped for a target kind) to the subcommands ``sub``."""
    p = sub.add_parser("pretrain", help="train the pretrained cost model shipped for a target kind (cpu, gpu) "
                       "and record its provenance in the manifest (tune with --cost-model pretrained)")
    p.add_argument("--kind", nargs="+", choices=["cpu", "gpu"], required=True, help="target kinds to train for")
    p.add_argument("--dataset", type=Path, default=Path("data/v1"), help="dataset to train on (default data/v1)")
    p.add_argument("--platforms", nargs="+", default=None, help="platforms to train on (default: data/v1's "
                   "amd-epyc-znver5-2c and intel-xeon-emeraldrapids-16c for cpu, h100-80gb-hbm3 for gpu)")
    p.add_argument("--preset", default="full", help="preset whose transfer-tuning model settings size the model "
                   "(default full: ours v2, hidden 64, 10 epochs, max_len 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-held-out", action="store_true",
                   help="skip the held-out run (the same settings without TenSet's evaluation networks, scored on them)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder of pretrained models (default: the package's, src/tenset_study/tuning/pretrained)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_pretrain_command)


def add_tuning_commands(sub) -> None:
    """Add ``tune``, ``pretrain``, ``transfer-tune`` and ``export-study`` to the ``tenset-study`` subcommands ``sub``."""
    p = sub.add_parser("tune", help="tune a zoo network with MetaSchedule (all tasks), compile it, time it end to end")
    p.add_argument("network", help="zoo network name, e.g. resnet_18-b1-224 (tenset-study networks)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--target", default=None, help="TVM target as JSON (default: this CPU)")
    where.add_argument("--gpu", default=None, metavar="ARCH", help="tune for the CUDA GPU with this arch, e.g. sm_90")
    p.add_argument("--trials", type=int, required=True, help="global budget of measured programs")
    p.add_argument("--work-dir", type=Path, required=True, help="folder for the MetaSchedule database, logs, results")
    p.add_argument("--cost-model", default="xgb",
                   help="xgb, random (MetaSchedule's), pretrained (the package's shipped model of the target's "
                   "kind) or the path of a model saved by `tenset-study train`")
    p.add_argument("--platform", default=None, help="platforms row (id) whose hardware features our model gets "
                   "(default: read off this machine); needs --platform-dataset")
    p.add_argument("--platform-dataset", type=Path, default=None, help="dataset holding the --platform row")
    p.add_argument("--no-online", action="store_true", help="our model: keep the pretrained model (no online updates)")
    p.add_argument("--trials-per-task", type=int, default=None)
    p.add_argument("--num-trials-per-iter", type=int, default=64)
    p.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW")
    p.add_argument("--number", type=int, default=None, help="runner: runs per repeat (default 1)")
    p.add_argument("--repeat", type=int, default=None, help="runner: repeats per program (default 5)")
    p.add_argument("--min-repeat-ms", type=int, default=None, help="runner: minimum ms per repeat (default 20)")
    p.add_argument("--builder-workers", type=int, default=None)
    p.add_argument("--population", type=int, default=None, help="evolutionary search population (default 512)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-repeat", type=int, default=30, help="end-to-end timing: repeats")
    p.add_argument("--time-min-repeat-ms", type=int, default=100, help="end-to-end timing: minimum ms per repeat")
    p.add_argument("--no-time", action="store_true", help="tune only (no compile, no end-to-end timing)")
    p.add_argument("--overwrite", action="store_true", help="replace a database already in --work-dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_tune_command)

    add_pretrain_command(sub)

    p = sub.add_parser("transfer-tune", help="transfer tuning: MetaSchedule's xgb with budget B against our model "
                       "pretrained on other platforms with 25%% and 40%% of B, every network timed end to end")
    p.add_argument("--dataset", type=Path, default=None, help="dataset to pretrain on (every platform but the target)")
    p.add_argument("--target-platform", default=None, help="the dataset's platform id of the machine tuned for "
                   "(held out of pretraining; default: this machine, read off with lscpu / nvidia-smi)")
    p.add_argument("--networks", nargs="+", default=None, help="zoo networks (default: the preset's)")
    p.add_argument("--preset", default="book", help="smoke, book or full (experiments.PRESETS[...]['tuning'])")
    p.add_argument("--study-dir", type=Path, required=True,
                   help="folder for the pretrained model and every arm's database")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--target", default=None, help="TVM target as JSON (default: this CPU)")
    where.add_argument("--gpu", default=None, metavar="ARCH", help="tune for the CUDA GPU with this arch, e.g. sm_90")
    p.add_argument("--budget", type=int, default=None, help="B for every network (default: the preset's)")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="tuning seeds (default: the preset's)")
    p.add_argument("--no-random", action="store_true", help="leave out the random@fraction arms")
    p.add_argument("--train-platforms", nargs="+", default=None, help="pretrain on these platforms only")
    p.add_argument("--time-only", action="store_true", help="no tuning: time and tabulate the arms already tuned")
    p.add_argument("--no-time", action="store_true", help="tune only (time later with --time-only)")
    p.add_argument("--retime", action="store_true", help="time every arm again (e.g. on a quiet machine)")
    p.add_argument("--timing-rounds", type=int, default=None, metavar="N",
                   help="time every arm in N rounds, each in a fresh process (default: the preset's)")
    p.add_argument("--results-dir", type=Path, default=Path("results"),
                   help="merge the result tables into this folder too (default: results)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="start no arm's tuning or timing after this many seconds; re-run to continue (an arm "
                   "that started runs to its end)")
    p.add_argument("--search-variants", default=None, metavar="JSON",
                   help='extra pretrained arms that search with other EvolutionarySearch settings (and, optionally, '
                   'num_trials_per_iter), e.g. \'{"p256": {"population_size": 256}}\' adds ours-p256@<share> beside '
                   'ours@<share>')
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_transfer_tune_command)

    p = sub.add_parser("export-study", help="copy a transfer-tuning study's results, curves and compressed "
                       "MetaSchedule databases into a small folder to commit (or --restore one into a study dir)")
    p.add_argument("src", type=Path, help="the study dir (with --restore: the export)")
    p.add_argument("dest", type=Path, help="the export folder, e.g. data/transfer-tuning/<target platform> "
                   "(with --restore: an empty study dir)")
    p.add_argument("--dataset", type=Path, default=None, help="dataset with the target platform's platforms row")
    p.add_argument("--networks", nargs="+", default=None, help="only these networks' arms")
    p.add_argument("--restore", action="store_true", help="unpack an export into a study dir (to re-time it)")
    p.set_defaults(func=_cmd_export_study)
