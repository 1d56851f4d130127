"""The dataset commands: ``import-tenset``, ``import-metaschedule``, ``networks``, ``prune``, ``summary`` and
``compact``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_import_tenset(args: argparse.Namespace) -> int:
    """``tenset-study import-tenset``."""
    from ..importers.tenset.importer import import_tenset

    report = import_tenset(args.src, args.dest, jobs=args.jobs, platform=args.platform, progress=not args.quiet)
    print(report.summary())
    return 0


def cmd_import_metaschedule(args: argparse.Namespace) -> int:
    """``tenset-study import-metaschedule``."""
    from ..importers.metaschedule import import_metaschedule

    report = import_metaschedule(args.workdir, args.dest, platform=args.platform, progress=not args.quiet)
    print(report.summary())
    return 0


def cmd_networks(args: argparse.Namespace) -> int:
    """``tenset-study networks``: the zoo's variants, one a line."""
    from .. import zoo

    try:
        for name in zoo.list_networks(family=args.family):
            print(name)
    except BrokenPipeError:  # e.g. `tenset-study networks | head`
        sys.stderr.close()
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    """``tenset-study summary``: row counts, notes on unfinished collections, and problems (exit code 1)."""
    from ..data.dataset import Dataset

    ds = Dataset.open(args.dataset)
    print(json.dumps({"root": str(ds.root), "rows": ds.summary(), "bytes": ds.size_bytes()}, indent=2))
    from ..book.explore import program_set_coverage

    coverage = program_set_coverage(ds)
    for platform, row in coverage[~coverage["complete"]].iterrows():
        print(f"note: platform {platform} lacks {row['missing']} of the {row['programs_of_kind']} "
              f"{row['kind']} programs (collection unfinished?)", file=sys.stderr)
    problems = ds.validate()
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def cmd_compact(args: argparse.Namespace) -> int:
    """``tenset-study compact``."""
    from ..data.dataset import Dataset

    copy = Dataset.open(args.src).copy_compacted(args.dest, overwrite=args.overwrite)
    print(json.dumps({"root": str(copy.root), "rows": copy.summary(), "bytes": copy.size_bytes()}, indent=2))
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    """``tenset-study prune``."""
    from ..pruning.strategies import prune_dataset

    result = prune_dataset(args.src, args.dest, args.strategy, args.fraction, seed=args.seed,
                           platforms=args.platforms, overwrite=args.overwrite, workers=args.workers,
                           progress=not args.quiet)
    print(f"{result.summary()} -> {args.dest}")
    return 0


def add_import_commands(sub) -> None:
    """Register ``import-tenset`` and ``import-metaschedule`` on the CLI's subparsers."""
    p = sub.add_parser("import-tenset", help="import an Ansor/TenSet log file or a TenSet dataset folder")
    p.add_argument("src", type=Path, help="a .json log file, or a folder with measure_records/ (and network_info/)")
    p.add_argument("dest", type=Path, help="dataset folder to create or append to")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--platform", default=None, help="platform id for a loose log file (default: from its target)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import_tenset)

    p = sub.add_parser("import-metaschedule", help="import a MetaSchedule JSON database (work dir)")
    p.add_argument("workdir", type=Path, help="folder with database_workload.json and database_tuning_record.json")
    p.add_argument("dest", type=Path, help="dataset folder to create or append to")
    p.add_argument("--platform", default=None, help="platform id (default: derived from the records' target)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import_metaschedule)


def add_networks_command(sub) -> None:
    """Register ``networks`` on the CLI's subparsers."""
    p = sub.add_parser("networks", help="list the network zoo's variants")
    p.add_argument("--family", default=None, help="only this family, e.g. resnet_50")
    p.set_defaults(func=cmd_networks)


def add_prune_command(sub) -> None:
    """Register ``prune`` on the CLI's subparsers."""
    p = sub.add_parser("prune", help="write a pruned copy of a dataset (a share of its programs, by a strategy)")
    p.add_argument("src", type=Path, help="the dataset to prune")
    p.add_argument("dest", type=Path, help="folder for the pruned dataset (new or empty)")
    p.add_argument("--strategy", required=True, help="random, per-task-cap, task-cluster, diversity, "
                   "latency-spread or clean (tenset_study.pruning.strategies.DESCRIPTIONS says what each keeps)")
    p.add_argument("--fraction", type=float, required=True, help="share of the programs kept, in (0, 1]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--platforms", nargs="+", default=None, help="platforms whose measurements the strategy reads")
    p.add_argument("--overwrite", action="store_true", help="replace dest when it holds a dataset")
    p.add_argument("--workers", type=int, default=None,
                   help="processes extracting per-store features (default: one per core for 4,000 programs or more)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prune)


def add_dataset_commands(sub) -> None:
    """Register ``summary`` and ``compact`` on the CLI's subparsers."""
    p = sub.add_parser("summary", help="row counts of a dataset and a consistency check")
    p.add_argument("dataset", type=Path)
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("compact", help="copy a dataset with every table as one de-duplicated part file "
                       "(e.g. a finished collection into data/default)")
    p.add_argument("src", type=Path)
    p.add_argument("dest", type=Path)
    p.add_argument("--overwrite", action="store_true", help="replace a dataset already at DEST")
    p.set_defaults(func=cmd_compact)
