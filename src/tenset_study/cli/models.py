"""The ``train``, ``evaluate``, ``experiment``, ``features`` and ``transfer`` commands (cost models without the
notebooks)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_split_arguments(p: argparse.ArgumentParser) -> None:
    """Flags that choose a test split (see :mod:`tenset_study.evaluation.splits`)."""
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--split", default="by-network", help="random, within-task, by-task, by-network, by-op, by-platform")
    p.add_argument("--test-networks", nargs="+", default=None, help="held-out networks (by-network, by-platform)")
    p.add_argument("--test-platform", default=None, help="held-out platform (by-platform)")
    p.add_argument("--test-ops", nargs="+", default=None, help="held-out operator classes (by-op)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share held out (random, within-task, by-task)")
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--platforms", nargs="+", default=None, help="only these platforms' records")
    p.add_argument("--max-len", type=int, default=64, help="schedule steps kept per program (crop/pad)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes extracting per-store features (default: one per core for 4,000 programs or more)")


def _split(args: argparse.Namespace, records, links):
    from ..evaluation.splits import make_split

    return make_split(args.split, records, links, seed=args.split_seed, test_fraction=args.test_fraction,
                      test_networks=args.test_networks, test_platform=args.test_platform, test_ops=args.test_ops)


def cmd_train(args: argparse.Namespace) -> int:
    from ..evaluation import experiments
    from ..models import create

    params = experiments.parse_params(args.param)
    if args.stream:
        return _train_streaming(args, params)
    _, records, inputs, links = experiments.prepare(args.dataset, [args.model], args.platforms, args.max_len,
                                                     args.workers, progress=True)
    split = _split(args, records, links)
    model = create(args.model, seed=args.seed, **params)
    model.fit(inputs, split.train)
    model.metadata.update({"dataset": str(args.dataset), "split": split.name, "held_out": split.held_out})
    path = model.save(args.out)
    print(f"trained {args.model} on {len(split.train)} records ({', '.join(model.metadata['platforms'])}) "
          f"in {model.metadata['fit_seconds']:.1f} s -> {path}")
    return 0


def _train_streaming(args: argparse.Namespace, params: dict) -> int:
    """``train --stream``: train from the dataset's feature store shard by shard (several ranks under torchrun)."""
    from ..evaluation.stream_training import train_stream

    model = train_stream(args.dataset, args.model, args.out, params=params, seed=args.seed, store_dir=args.store,
                         max_len=args.max_len, split=args.split, split_seed=args.split_seed,
                         test_fraction=args.test_fraction, test_networks=args.test_networks,
                         test_platform=args.test_platform, test_ops=args.test_ops, loader_workers=args.loader_workers,
                         shuffle_shards=args.shuffle_shards)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun every rank returns here; rank 0 reports
        seen = sum(row["records"] for row in model.history_)
        print(f"trained {args.model} by streaming {model.metadata['train_records']} records "
              f"({model.metadata['stream']['shards']} shards, {model.metadata['stream']['world_size']} rank(s); "
              f"{seen} records seen in {len(model.history_)} epochs on this rank) "
              f"in {model.metadata['fit_seconds']:.1f} s -> {args.out}")
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from ..features.store import build_feature_store

    store = build_feature_store(args.dataset, args.out, max_len=args.max_len, shard_programs=args.shard_programs,
                                bucket_rows=args.bucket_rows, progress=True)
    manifest = store.manifest
    print(f"feature store {store.root}: {manifest['programs']} programs, {manifest['records']} records "
          f"in {len(manifest['shards'])} shards (max_len {store.max_len})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation import experiments, metrics
    from ..models import CostModel

    model = CostModel.load(args.model_path)
    _, records, inputs, links = experiments.prepare(args.dataset, [model.name], args.platforms, args.max_len,
                                                     args.workers, progress=True)
    split = _split(args, records, links)
    scores = model.predict(inputs, split.test)
    table = metrics.evaluate(records.iloc[split.test].reset_index(drop=True), scores, links, n_boot=args.n_boot)
    _print_and_write(table, args.out)
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from ..evaluation import experiments

    _, records, inputs, links = experiments.prepare(args.dataset, args.models, args.platforms, args.max_len,
                                                     args.workers, progress=True)
    split = _split(args, records, links)
    params = experiments.parse_params(args.param)
    specs = [experiments.ModelSpec(name, params=_params_for(name, params)) for name in args.models]
    results = experiments.run_experiment(specs, inputs, split, links, seeds=tuple(args.seeds), n_boot=args.n_boot)
    _print_and_write(experiments.summarize_seeds(results), args.out)
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    """The transfer experiment (:mod:`tenset_study.transfer.experiment`) for one target platform or all of them."""
    import pandas as pd

    from ..evaluation import experiments
    from ..transfer import experiment as transfer
    from ..book import transfer_report

    settings = experiments.resolve_preset(args.preset, "--preset")
    arms = transfer.check_arms(args.arms or list(settings["transfer_arms"]), "--arms")
    fractions = transfer.check_fractions(args.fractions or list(settings["transfer_fractions"]), "--fractions")
    labels = transfer.check_direction_labels(args.directions or list(settings["transfer_directions"]), "--directions")
    _, records, inputs, links = experiments.prepare(args.dataset, transfer.models_of(arms),
                                                     max_len=settings["max_len"], perstore_workers=args.workers,
                                                     progress=True)
    directions = transfer.select_directions(records, labels, [args.target] if args.target else None,
                                            names=("--directions", "--target"))
    split = experiments.default_split(records, links, "by-network")
    runs = transfer.run_transfer(inputs, links, split, directions, settings, arms, fractions,
                                 tuple(args.seeds) if args.seeds else None)
    summary = transfer.summarize_transfer(runs)
    with pd.option_context("display.width", 200, "display.max_rows", 200, "display.max_colwidth", 40):
        print(transfer_report.transfer_table(summary))
    print(transfer_report.findings(summary))
    for path in transfer.write_transfer(runs, summary, str(args.out.resolve())):
        print(f"wrote {path}")
    return 0


def _params_for(name: str, params: dict) -> dict:
    """Neural hyperparameters (epochs, hidden, ...) do not apply to xgb."""
    if name == "xgb":
        return {k: v for k, v in params.items() if k in ("rounds", "max_depth", "eta", "threads")}
    return {k: v for k, v in params.items() if k not in ("rounds", "max_depth", "eta", "threads")}


def _print_and_write(table, out: Path | None) -> None:
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if out:
        from ..data.results import write_results

        print(f"wrote {write_results(table, out)}")


def cmd_export_results(args: argparse.Namespace) -> int:
    """Run one chapter's experiment at a preset and write its export (tenset_study.exports)."""
    from ..exports.runs import export_results

    options = {"models": args.models} if args.models else {}
    if args.directions or args.targets:
        if args.experiment != "transfer":
            raise ValueError("--directions and --targets belong to --experiment transfer")
        options.update({k: v for k, v in (("directions", args.directions), ("targets", args.targets)) if v})
    if args.models and args.experiment == "transfer":
        raise ValueError("--models does not apply to --experiment transfer (its arms come from the preset)")
    for path in export_results(args.experiment, args.dataset, preset=args.preset, out=args.out,
                               keep_units=args.keep_units, **options):
        print(f"wrote {path}")
    return 0


def add_model_commands(sub) -> None:
    """Register ``train``, ``features``, ``evaluate``, ``experiment`` and ``transfer`` on the CLI's subparsers."""
    from ..models import NAMES

    p = sub.add_parser("train", help="train a cost model on a dataset's training split and save it")
    add_split_arguments(p)
    p.add_argument("--model", choices=sorted(NAMES), required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--param", nargs="*", metavar="KEY=VALUE", help="hyperparameters, e.g. epochs=10 hidden=128")
    p.add_argument("--out", type=Path, required=True,
                   help="where to save the model (a .json metadata file is written beside it)")
    p.add_argument("--stream", action="store_true",
                   help="train tlp or ours from an on-disk feature store, shard by shard (bounded memory; "
                        "several GPUs or processes under torchrun --nproc_per_node=N)")
    p.add_argument("--store", type=Path, default=None,
                   help="the feature store (--stream; built or updated first; default: in the dataset's feature cache)")
    p.add_argument("--loader-workers", type=int, default=0, help="DataLoader processes reading shards (--stream)")
    p.add_argument("--shuffle-shards", type=int, default=2, help="shards mixed in the shuffle buffer (--stream)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("features", help="build or update a dataset's feature store for train --stream")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="the store's folder")
    p.add_argument("--max-len", type=int, default=64, help="schedule steps kept per program (crop/pad)")
    p.add_argument("--shard-programs", type=int, default=None,
                   help="programs per feature shard (bounds memory; default: the existing store's, else 4096)")
    p.add_argument("--bucket-rows", type=int, default=500_000, help="rows per bucket of the measurement join")
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("evaluate", help="score a saved model on a split's test records (PCA, top-1, top-5)")
    add_split_arguments(p)
    p.add_argument("--model-path", type=Path, required=True)
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples over tasks")
    p.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("experiment", help="train and evaluate several models and seeds under one split")
    add_split_arguments(p)
    p.add_argument("--models", nargs="+", choices=sorted(NAMES), default=["xgb", "mlp", "tlp", "ours"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--param", nargs="*", metavar="KEY=VALUE", help="hyperparameters for every model")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--out", type=Path, default=None, help="write the summary as CSV (e.g. results/by-network.csv)")
    p.set_defaults(func=cmd_experiment)

    from ..transfer.experiment import ARMS

    p = sub.add_parser("transfer", help="transfer to unseen hardware: pretrain on other platforms, then zero-shot, "
                       "fine-tuned, multi-head and from-scratch models on shares of the target's data")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--target", default=None, help="the platform left out (default: every platform a direction allows)")
    p.add_argument("--directions", nargs="+", default=None, help="e.g. cpu->cpu cpu->gpu (default: the preset's)")
    p.add_argument("--fractions", nargs="+", type=float, default=None,
                   help="shares of the target's training records, e.g. 0.01 0.05 0.1 (default: the preset's)")
    p.add_argument("--arms", nargs="+", choices=list(ARMS), default=None, help="default: the preset's")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the preset's transfer_seeds")
    p.add_argument("--preset", default="book", help="smoke, book or full: epochs, widths and the defaults above")
    p.add_argument("--workers", type=int, default=None,
                   help="processes extracting per-store features (default: one per core for 4,000 programs or more)")
    p.add_argument("--out", type=Path, default=Path("results"), help="folder for transfer.csv and transfer_runs.csv")
    p.set_defaults(func=cmd_transfer)

    from ..exports.runs import RUNNERS

    p = sub.add_parser("export-results", help="run a chapter's experiment at a preset (default full) and write it "
                       "as an export the book reads (data/exports/<experiment>: Parquet tables and provenance)")
    p.add_argument("--experiment", required=True, choices=list(RUNNERS),
                   help="splits (ch. 02), pruning (03), cost-models (04) or transfer (05)")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--preset", default="full", help="smoke, book or full (default full)")
    p.add_argument("--models", nargs="+", choices=sorted(NAMES), default=None, help="default: the chapter's")
    p.add_argument("--directions", nargs="+", default=None, help="transfer only (default: the preset's)")
    p.add_argument("--targets", nargs="+", default=None, help="transfer only (default: every allowed platform)")
    p.add_argument("--out", type=Path, default=None, help="export folder (default data/exports/<experiment>)")
    p.add_argument("--keep-units", action="store_true",
                   help="keep the finished units (a hidden folder beside the export) after writing it; they are "
                        "kept anyway when the run is interrupted, and the same command resumes from them")
    p.set_defaults(func=cmd_export_results)
