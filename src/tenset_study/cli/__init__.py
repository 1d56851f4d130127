"""The ``tenset-study`` command line: :func:`build_parser` and :func:`main` (the ``tenset-study`` entry point).

Each module adds one group of commands: :mod:`.datasets` (import, networks, prune, summary, compact),
:mod:`.collect` (collect), :mod:`.models` (train, features, evaluate, experiment, transfer, export-results) and
:mod:`.tuning` (tune, pretrain, transfer-tune, export-study); ``python -m tenset_study.cli`` runs :func:`main`.
"""

from __future__ import annotations

import argparse
import sys

from .collect import add_collect_command
from .datasets import add_dataset_commands, add_import_commands, add_networks_command, add_prune_command
from .models import add_model_commands
from .tuning import add_tuning_commands

#: What ``tenset-study --help`` says first.
DESCRIPTION = "The ``tenset-study`` command line."


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, in the order ``--help`` lists them (each group adds its own)."""
    parser = argparse.ArgumentParser(prog="tenset-study", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    add_import_commands(sub)
    add_networks_command(sub)
    add_collect_command(sub)
    add_model_commands(sub)
    add_prune_command(sub)
    add_tuning_commands(sub)
    add_dataset_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code (2, with one line on stderr, for a ValueError or a missing or existing file)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"tenset-study {args.command}: error: {err}", file=sys.stderr)
        return 2


__all__ = ["build_parser", "main"]


if __name__ == "__main__":
    sys.exit(main())
