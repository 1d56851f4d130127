"""Training a neural cost model from a dataset's feature store under a split (``tenset-study train --stream``).

Splits: the records are never in memory together, so a split is computed on the table of (task,
platform) groups (:meth:`FeatureStore.group_table`). Splits that hold out whole tasks, networks,
operator classes or platforms (``by-task``, ``by-network``, ``by-op`` with ``test_ops``, ``by-platform``)
give the same held-out tasks and platforms as on the records in memory; ``random`` and ``within-task``
divide groups and are refused. ``none`` trains on everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..features.store import FeatureStore
from ..models.streaming import STREAM_MODELS, RankingStream, fit_stream, init_distributed
from .splits import make_split

#: Split strategies a stream supports (see the module docstring), plus ``none``.
STREAM_SPLITS = ("by-task", "by-network", "by-op", "by-platform", "none")


@dataclass
class StreamSplit:
    """The training groups of a split computed on a store's group table, and what it holds out."""

    name: str
    train_groups: pd.DataFrame
    held_out: dict


def check_stream_split(strategy: str, test_ops: list[str] | None = None) -> None:
    """A ValueError when ``strategy`` cannot be computed on (task, platform) groups."""
    if strategy not in STREAM_SPLITS:
        raise ValueError(f"split {strategy!r} cannot be streamed (it divides (task, platform) groups); "
                         f"streamed splits: {', '.join(STREAM_SPLITS)}")
    if strategy == "by-op" and not test_ops:
        raise ValueError("split 'by-op' needs test_ops (--test-ops) when streaming: its default choice "
                         "weighs operator classes by records, which are not in memory")


def stream_split(store: FeatureStore, strategy: str = "by-network", *, seed: int = 0, test_fraction: float = 0.2,
                 test_networks: list[str] | None = None, test_platform: str | None = None,
                 test_ops: list[str] | None = None) -> StreamSplit:
    """A split of the store's (task, platform) groups (see the module docstring for what is supported)."""
    groups = store.group_table()
    check_stream_split(strategy, test_ops)
    if strategy == "none":
        return StreamSplit("none", groups, {})
    split = make_split(strategy, groups, store.network_tasks(), seed=seed, test_fraction=test_fraction,
                       test_networks=test_networks, test_platform=test_platform, test_ops=test_ops)
    return StreamSplit(strategy, groups.iloc[split.train].reset_index(drop=True), split.held_out)


def train_stream(dataset: str | Path, model_name: str, out: str | Path, *, params: dict | None = None, seed: int = 0,
                 store_dir: str | Path | None = None, max_len: int = 64, split: str = "by-network",
                 split_seed: int = 0, test_fraction: float = 0.2, test_networks: list[str] | None = None,
                 test_platform: str | None = None, test_ops: list[str] | None = None, loader_workers: int = 0,
                 shuffle_shards: int = 2, shard_programs: int | None = None, progress: bool = True,
                 on_batch: Callable[[dict], None] | None = None):
    """``train --stream``: build or update the store (rank 0), train on a split's groups, save (rank 0).

    Launched by ``torchrun --nproc_per_node=N`` it trains on N ranks (see :func:`init_distributed`).
    Returns the trained model (on every rank).
    """
    from ..data.dataset import Dataset
    from ..features.store import build_feature_store, default_store_path
    from ..models import create

    if model_name not in STREAM_MODELS:
        raise ValueError(f"--model {model_name!r} cannot be trained with --stream; choose one of {STREAM_MODELS}")
    check_stream_split(split, test_ops)
    params = dict(params or {})
    distributed = init_distributed(params.get("device", "auto"))
    try:
        lead = distributed is None or distributed.rank == 0
        ds = Dataset.open(dataset)
        store_dir = Path(store_dir) if store_dir else default_store_path(ds, max_len)
        if lead:
            build_feature_store(ds, store_dir, max_len=max_len, shard_programs=shard_programs, progress=progress)
        if distributed:
            distributed.barrier()
        store = FeatureStore.open(store_dir)
        chosen = stream_split(store, split, seed=split_seed, test_fraction=test_fraction, test_networks=test_networks,
                              test_platform=test_platform, test_ops=test_ops)
        model = create(model_name, seed=seed, progress=progress and lead, **params)
        stream = RankingStream(store, chosen.train_groups, list_size=model.list_size,
                               lists_per_batch=model.lists_per_batch, shuffle_shards=shuffle_shards, seed=seed,
                               rank=distributed.rank if distributed else 0,
                               world_size=distributed.world_size if distributed else 1)
        fit_stream(model, stream, num_workers=loader_workers, distributed=distributed, on_batch=on_batch)
        model.metadata.update({"dataset": str(dataset), "split": chosen.name, "held_out": chosen.held_out})
        if lead:
            model.save(out)
        if distributed:
            distributed.barrier()
        return model
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()
