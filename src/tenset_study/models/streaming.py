"""Training from a feature store, shard by shard, on one process or several (torch.distributed).

:class:`RankingStream` is a ``torch.utils.data.IterableDataset`` over a
:class:`~tenset_study.features.store.FeatureStore`. Every epoch it shuffles the shards (seeded by the seed
and the epoch), deals them to the distributed ranks and, within a rank, to the DataLoader workers, each
getting about the same number of records (so every shard is read by exactly one worker of one rank). A
worker reads its shards a window of ``shuffle_shards`` at a time (the shuffle buffer: memory holds one
window), shuffles the records of every (task, platform) group of the window and cuts them into lists of
at most ``list_size`` records of that group, shuffles the window's lists and yields them
``lists_per_batch`` at a time, in the format the in-memory training loop uses (padded lists and their
mask). Lists never mix groups. A group with a single record in a shard has nothing to be ranked against
there and is skipped; every other training record is yielded exactly once per epoch.

:func:`fit_stream` trains a :class:`~tenset_study.models.neural.NeuralRanker` from a stream through the
same loop and step as the in-memory ``fit`` (``NeuralRanker._run_epochs``). Under ``torchrun`` (``WORLD_SIZE``
greater than 1) :func:`init_distributed` joins the process group (NCCL on GPUs, Gloo on CPUs), the
network is wrapped in ``DistributedDataParallel`` and each rank reads its own shards. Ranks step in lock
step: when a rank has run out of batches while others have not, it takes steps on an empty batch (no
real records, zero loss) so that every rank takes the same optimizer steps and all records are used;
parameters stay identical on every rank. :func:`tenset_study.evaluation.stream_training.train_stream` is the
``train --stream`` command.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..features.store import FeatureStore

#: Models that can be trained from a stream (schedule tokens and context features).
STREAM_MODELS = ("tlp", "ours-v1")  # ours v2 reads per-store sets, which the feature store does not hold


# --- lists and shard assignment ----------------------------------------------------------------------


def window_lists(codes: np.ndarray, list_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Rows cut into lists of one group each: every group of 2 or more records is shuffled and cut into
    ``ceil(n / list_size)`` lists of near-equal size; groups of one record are left out."""
    if list_size < 2:
        raise ValueError(f"list_size must be at least 2, got {list_size}")
    order = rng.permutation(len(codes))
    order = order[np.argsort(codes[order], kind="stable")]
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    lists = []
    for members in np.split(order, bounds) if len(order) else []:
        if len(members) > 1:
            lists.extend(np.array_split(members, -(-len(members) // list_size)))
    return lists


def deal_shards(names: list[str], sizes: dict[str, int], slots: int) -> list[list[str]]:
    """Deal shards to ``slots`` (largest first, each to the least loaded slot) so that every slot gets
    about the same number of records; each slot keeps the shards in the order of ``names``."""
    position = {name: i for i, name in enumerate(names)}
    loads, out = [0] * slots, [[] for _ in range(slots)]
    for name in sorted(names, key=lambda n: -sizes[n]):  # stable: equal sizes keep the order of names
        slot = int(np.argmin(loads))
        out[slot].append(name)
        loads[slot] += sizes[name]
    return [sorted(slot, key=position.__getitem__) for slot in out]


# --- the stream --------------------------------------------------------------------------------------


class RankingStream(IterableDataset):
    """Batches of ranking lists read from a feature store (see the module docstring).

    Parameters
    ----------
    store: the store (or its folder).
    train_groups: a frame with ``task`` and ``platform``: the groups to train on (default: all).
    list_size, lists_per_batch: as the models' hyperparameters of the same names.
    shuffle_shards: shards read and mixed together (the shuffle buffer; memory holds that many shards).
    seed: seeds the shard order and the lists (with the epoch, the rank and the worker).
    rank, world_size: this process's place among distributed ranks.

    A batch is a dict of arrays: ``tokens`` float32 ``[B * N, L, width]`` (``L`` the longest program of the
    batch), ``lengths`` int64 ``[B * N]``, ``hardware`` and ``workload`` float32 ``[B * N, ...]``,
    ``labels`` float32 ``[B, N]``, ``mask`` bool ``[B, N]`` (padding repeats a list's first record and is
    masked) and ``record_ids`` int64 ``[B, N]`` (``shard index << 32 | row in the record shard``, -1 for
    padding; :meth:`FeatureStore.record_keys` turns them into program and platform).
    """

    def __init__(self, store: FeatureStore | str | Path, train_groups: pd.DataFrame | None = None, *,
                 list_size: int = 32, lists_per_batch: int = 8, shuffle_shards: int = 2, seed: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        super().__init__()
        self.store = store if isinstance(store, FeatureStore) else FeatureStore.open(store)
        if shuffle_shards < 1 or lists_per_batch < 1:
            raise ValueError(f"shuffle_shards and lists_per_batch must be positive, got {shuffle_shards}, "
                             f"{lists_per_batch}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not within world_size {world_size}")
        self.list_size, self.lists_per_batch, self.shuffle_shards = list_size, lists_per_batch, shuffle_shards
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        groups = self.store.groups()
        if train_groups is not None:
            wanted = pd.MultiIndex.from_frame(train_groups[["task", "platform"]].astype(str))
            groups = groups[pd.MultiIndex.from_frame(groups[["task", "platform"]]).isin(wanted)]
            self.train_keys: set[str] | None = set(_keys(train_groups["task"], train_groups["platform"]))
        else:
            self.train_keys = None
        self.train_groups = groups.reset_index(drop=True)
        sizes = groups.groupby("shard")["records"].sum()
        self.shard_sizes = {name: int(sizes.get(name, 0)) for name in self.store.shards if sizes.get(name, 0) > 0}
        # context features, with a last row of zeros for a platform or task the small tables lack (as
        # build_inputs gives them)
        self._hardware, self._hardware_row = _context_table(self.store.hardware())
        self._workload, self._workload_row = _context_table(self.store.workload())

    @property
    def records(self) -> int:
        """Training records in the store (groups of one record in a shard included)."""
        return int(sum(self.shard_sizes.values()))

    @property
    def widths(self) -> dict[str, int]:
        """Widths of the model inputs: ``tokens``, ``hardware``, ``workload``."""
        return {"tokens": self.store.width, "hardware": self._hardware.shape[1], "workload": self._workload.shape[1]}

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch (the shard order and the lists depend on it); call before iterating."""
        self.epoch = int(epoch)

    def plan(self, epoch: int, workers: int = 1) -> list[list[list[str]]]:
        """The shards every rank's every worker reads in ``epoch``: ``plan[rank][worker]`` (disjoint)."""
        names = list(self.shard_sizes)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(names))
        shuffled = [names[i] for i in order]
        return [deal_shards(shards, self.shard_sizes, workers)
                for shards in deal_shards(shuffled, self.shard_sizes, self.world_size)]

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        shards = self.plan(self.epoch, workers)[self.rank][worker]
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker])
        for start in range(0, len(shards), self.shuffle_shards):
            yield from self._window_batches(shards[start:start + self.shuffle_shards], rng)

    def _load(self, shard: str) -> tuple[pd.DataFrame, object]:
        """A shard's training records (with their row in the shard and their group) and its tokens."""
        records = self.store.records(shard, columns=["task", "platform", "label", "feature_row"])
        records["row"] = np.arange(len(records), dtype=np.int64)
        if self.train_keys is not None:
            records = records[_keys(records["task"], records["platform"]).isin(self.train_keys).to_numpy()]
        return records, self.store.features(shard)

    def _window_batches(self, shards: list[str], rng: np.random.Generator) -> Iterator[dict]:
        loaded = [self._load(shard) for shard in shards]
        frames = [records.assign(window=i, shard=self.store.shard_index(shards[i]))
                  for i, (records, _) in enumerate(loaded)]
        records = pd.concat(frames, ignore_index=True)
        codes = records.groupby(["window", "task", "platform"], sort=False).ngroup().to_numpy()
        lists = window_lists(codes, self.list_size, rng)
        rng.shuffle(lists)
        columns = {
            "window": records["window"].to_numpy(), "feature_row": records["feature_row"].to_numpy(),
            "label": records["label"].to_numpy(np.float32),
            "record_id": (records["shard"].to_numpy(np.int64) << 32) | records["row"].to_numpy(np.int64),
            "hardware_row": _rows(records["platform"], self._hardware_row),
            "workload_row": _rows(records["task"], self._workload_row),
        }
        features = [tokens for _, tokens in loaded]
        for start in range(0, len(lists), self.lists_per_batch):
            yield self._batch(lists[start:start + self.lists_per_batch], columns, features)

    def _batch(self, lists: list[np.ndarray], columns: dict, features: list) -> dict:
        positions = np.zeros((len(lists), self.list_size), dtype=np.int64)
        mask = np.zeros((len(lists), self.list_size), dtype=bool)
        for i, members in enumerate(lists):
            positions[i, : len(members)] = members
            positions[i, len(members):] = members[0]
            mask[i, : len(members)] = True
        flat = positions.reshape(-1)
        window = columns["window"][flat]
        steps = max(1, max(int(features[w].lengths[columns["feature_row"][flat[window == w]]].max(initial=0))
                           for w in np.unique(window)))
        tokens = np.zeros((len(flat), steps, self.store.width), dtype=np.float32)
        lengths = np.zeros(len(flat), dtype=np.int64)
        for w in np.unique(window):
            rows = np.flatnonzero(window == w)
            tokens[rows], lengths[rows] = features[w].gather(columns["feature_row"][flat[rows]], max_len=steps)
        record_ids = np.where(mask, columns["record_id"][flat].reshape(mask.shape), -1)
        return {"tokens": tokens, "lengths": lengths,
                "hardware": self._hardware[columns["hardware_row"][flat]],
                "workload": self._workload[columns["workload_row"][flat]],
                "labels": columns["label"][flat].reshape(mask.shape), "mask": mask, "record_ids": record_ids}

    def empty_batch(self) -> dict:
        """A batch of one list of two padding records, all masked: zero loss, zero gradients."""
        return {"tokens": np.zeros((2, 1, self.store.width), np.float32), "lengths": np.ones(2, np.int64),
                "hardware": np.zeros((2, self._hardware.shape[1]), np.float32),
                "workload": np.zeros((2, self._workload.shape[1]), np.float32),
                "labels": np.zeros((1, 2), np.float32), "mask": np.zeros((1, 2), bool),
                "record_ids": np.full((1, 2), -1, np.int64)}


def _context_table(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    """A context table's rows (NaN as 0) with a row of zeros appended, and the row of every index value."""
    values = np.nan_to_num(frame.to_numpy(np.float32))
    table = np.vstack([values, np.zeros((1, values.shape[1]), np.float32)])
    return table, {key: i for i, key in enumerate(frame.index.astype(str))}


def _rows(values: pd.Series, lookup: dict[str, int]) -> np.ndarray:
    """Rows of a context table for ``values``; the last row (zeros) for values it lacks."""
    return values.map(lookup).fillna(len(lookup)).to_numpy(np.int64)


def _keys(tasks: Iterable, platforms: Iterable) -> pd.Series:
    """One string per (task, platform) pair, for set membership."""
    tasks = pd.Series(tasks).astype(str).reset_index(drop=True)
    return tasks + "\x00" + pd.Series(platforms).astype(str).reset_index(drop=True)


# --- distributed -------------------------------------------------------------------------------------


@dataclass
class Distributed:
    """This process's place in a torch.distributed job (see :func:`init_distributed`)."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str

    def wrap(self, network: torch.nn.Module) -> torch.nn.Module:
        """``DistributedDataParallel`` around ``network`` (already on :attr:`device`)."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(network, device_ids=ids)

    def barrier(self) -> None:
        import torch.distributed as dist

        if self.device.type == "cuda":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()


def init_distributed(device: str = "auto") -> Distributed | None:
    """Join the process group when launched by ``torchrun`` with ``WORLD_SIZE`` > 1 (NCCL when CUDA is
    there and ``device`` is not ``cpu``, else Gloo); None for a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return None
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    target = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    return Distributed(rank, world_size, local_rank, target, backend)


def lockstep(batches: Iterable[dict], distributed: Distributed, filler: dict) -> Iterator[dict]:
    """``batches`` until every rank has run out; a rank out of batches meanwhile yields ``filler``."""
    import torch.distributed as dist

    source = iter(batches)
    while True:
        batch = next(source, None)
        flag = torch.tensor([0 if batch is None else 1], device=distributed.device)
        dist.all_reduce(flag)
        if int(flag.item()) == 0:
            return
        yield filler if batch is None else batch


# --- training ----------------------------------------------------------------------------------------


def fit_stream(model, stream: RankingStream, *, num_workers: int = 0, distributed: Distributed | None = None,
               on_batch: Callable[[dict], None] | None = None, max_batches: int | None = None):
    """Train ``model`` (a new :class:`~tenset_study.models.neural.NeuralRanker` of :data:`STREAM_MODELS`)
    for ``model.epochs`` epochs over ``stream``, with ``num_workers`` DataLoader processes reading shards.

    ``distributed`` (from :func:`init_distributed`): train with DistributedDataParallel, in lock step (see
    the module docstring). ``on_batch`` is called with every real batch this process trains on;
    ``max_batches`` ends every epoch after that many steps (benchmarks, smoke runs). The
    model's ``metadata`` describes the training groups and the store; ``history_`` has a row per epoch.
    """
    from .device import pick_device

    if model.name not in STREAM_MODELS:
        raise ValueError(f"model {model.name!r} cannot be trained from a stream; stream models: {STREAM_MODELS}")
    if stream.records == 0:
        raise ValueError(f"{stream.store.root}: no training records in the stream")
    start = time.perf_counter()
    torch.manual_seed(model.seed)
    widths = stream.widths
    model.network_ = model._network_for_widths(widths["tokens"], widths["hardware"], widths["workload"])
    model.history_ = []
    device = distributed.device if distributed else pick_device(model.device)
    filler = stream.empty_batch()

    def batches(epoch: int, device: torch.device):
        stream.set_epoch(epoch)
        loader = DataLoader(stream, batch_size=None, num_workers=num_workers)
        source = _observed(loader, on_batch)
        if distributed:
            source = lockstep(source, distributed, filler)
        for batch in itertools.islice(source, max_batches):
            yield model._stream_args(batch, device), batch["labels"], batch["mask"]

    wrap = distributed.wrap if distributed else None
    model._run_epochs(batches, model.epochs, model.lr, f"stream {model.name}", device=device, wrap=wrap)
    model.metadata = model._training_metadata(stream.train_groups, stream.store.versions, stream.store.max_len,
                                              time.perf_counter() - start)
    model.metadata["stream"] = {"store": str(stream.store.root), "shards": len(stream.shard_sizes),
                                "world_size": distributed.world_size if distributed else 1,
                                "loader_workers": num_workers, "shuffle_shards": stream.shuffle_shards}
    return model


def _observed(batches: Iterable[dict], on_batch: Callable[[dict], None] | None) -> Iterator[dict]:
    for batch in batches:
        if on_batch is not None:
            on_batch(batch)
        yield batch
