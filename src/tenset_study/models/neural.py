"""Neural cost models trained with LambdaRank: an MLP on per-store features, and attention over schedule
tokens (``tlp``) optionally joined with hardware and workload features (``ours``).

The attention network follows TLP (Zhai et al., ASPLOS 2023): each schedule instruction's vector is
encoded by a per-step MLP, a multi-head self-attention layer with a residual connection mixes the steps,
two residual linear blocks follow, and a per-step decoder's outputs are summed over the steps. ``ours``
adds two context tokens, the platform's hardware features and the task's workload features, each
embedded to the same width and placed before the instruction tokens, so attention can condition every
step on the machine and the operator; the decoder still sums over instruction steps only.
"""

from __future__ import annotations

import io
import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .base import CostModel
from .device import pick_device
from .inputs import ModelInputs
from .ranking import group_lists, lambdarank_loss, list_batches

if TYPE_CHECKING:
    import pandas as pd


class NeuralRanker(CostModel):
    """Shared training loop: epochs of shuffled group lists, Adam, LambdaRank.

    ``max_records_seen`` (optional) bounds the cost of a fit on a large training set: the fit runs
    ``min(epochs, ceil(max_records_seen / training records))`` epochs, at least one; ``history_`` has a
    row per epoch run. ``None`` always runs ``epochs``. With ``budget_per_platform`` the budget is per
    training platform (a joint model on three platforms sees three times the records of one platform's).
    ``valid_tasks`` > 0 holds out that share of the training tasks and stops early after ``patience``
    epochs without a better validation loss (:mod:`~tenset_study.models.early_stopping`)."""

    # models saved before the options existed
    max_records_seen: int | None = None
    budget_per_platform, valid_tasks, patience = False, 0.0, 3

    def __init__(self, epochs: int = 30, lr: float = 1e-3, list_size: int = 32, lists_per_batch: int = 8,
                 hidden: int = 256, weight_decay: float = 0.0, device: str = "auto", progress: bool = False,
                 seed: int = 0, max_records_seen: int | None = None, budget_per_platform: bool = False,
                 valid_tasks: float = 0.0, patience: int = 3) -> None:
        super().__init__(seed=seed)
        if max_records_seen is not None and max_records_seen < 1:
            raise ValueError(f"max_records_seen must be a positive number of records, got {max_records_seen!r}")
        self.epochs = epochs
        self.max_records_seen = max_records_seen
        self.budget_per_platform, self.valid_tasks, self.patience = budget_per_platform, valid_tasks, patience
        self.lr = lr
        self.list_size = list_size
        self.lists_per_batch = lists_per_batch
        self.hidden = hidden
        self.weight_decay = weight_decay
        self.device = device
        self.progress = progress

    # subclasses -------------------------------------------------------------------------------------------
    def _make_network(self, inputs: ModelInputs, train: np.ndarray) -> nn.Module:
        raise NotImplementedError

    def _tensors(self, inputs: ModelInputs, positions: np.ndarray, device: torch.device) -> tuple:
        raise NotImplementedError

    # training ---------------------------------------------------------------------------------------------
    def _fit(self, inputs: ModelInputs, train: np.ndarray, valid: np.ndarray | None) -> None:
        from .early_stopping import EarlyStopping, held_out_tasks

        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        train, valid_tasks = held_out_tasks(inputs, train, self.valid_tasks, rng)
        self.network_ = self._make_network(inputs, train)
        self.history_ = []
        stop = EarlyStopping(self, inputs, valid_tasks, self.patience, self.seed) if len(valid_tasks) else None
        platforms = inputs.records["platform"].iloc[train].nunique() if self.budget_per_platform else 1
        self._train_epochs(inputs, train, self.epochs_for(len(train), platforms), self.lr, rng, f"train {self.name}",
                           stop)
        if stop is not None:
            stop.restore()
            self.best_epoch_ = stop.best_epoch

    def epochs_for(self, train_records: int, platforms: int = 1) -> int:
        """The epochs a fit on ``train_records`` records of ``platforms`` platforms runs (``epochs``, bounded by
        ``max_records_seen``, per platform when ``budget_per_platform``)."""
        if self.max_records_seen is None:
            return self.epochs
        budget = self.max_records_seen * (platforms if self.budget_per_platform else 1)
        return max(1, min(self.epochs, math.ceil(budget / max(1, train_records))))

    def fine_tune(self, inputs: ModelInputs, positions: np.ndarray, epochs: int = 2, lr: float | None = None,
                  seed: int | None = None) -> "NeuralRanker":
        """Continue training from the current weights: ``epochs`` epochs of LambdaRank on the records at
        ``positions`` (fresh Adam state, learning rate ``lr`` or the model's). The network's shape and
        normalization stay those of the original fit; ``metadata`` is left to the caller; the epochs are
        appended to ``history_``. ``seed`` (default: the model's) shuffles the lists."""
        if getattr(self, "network_", None) is None:
            raise ValueError(f"{self.name}: fine_tune before fit (or load)")
        positions = np.asarray(positions, dtype=np.int64)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        if not hasattr(self, "history_"):
            self.history_ = []
        self._train_epochs(inputs, positions, epochs, self.lr if lr is None else lr, rng, f"fine-tune {self.name}")
        return self

    def _train_epochs(self, inputs: ModelInputs, train: np.ndarray, epochs: int, lr: float,
                      rng: np.random.Generator, desc: str, stop=None) -> None:
        """Epochs of shuffled group lists of the in-memory records at ``train`` (see :meth:`_run_epochs`)."""
        labels = inputs.records["label"].to_numpy(np.float32)

        def batches(epoch: int, device: torch.device):
            lists = group_lists(inputs.groups, train, self.list_size, rng)
            for positions, mask in list_batches(lists, self.lists_per_batch, self.list_size):
                flat = positions.reshape(-1)
                yield self._tensors(inputs, flat, device), labels[flat].reshape(positions.shape), mask

        self._run_epochs(batches, epochs, lr, desc, stop=stop)

    def _run_epochs(self, batches, epochs: int, lr: float, desc: str, device: torch.device | None = None,
                    wrap=None, stop=None) -> None:
        """The training loop both the in-memory and the streaming path use: Adam over ``self.network_``,
        one :meth:`_train_step` per batch, a ``history_`` row per epoch; ends on the CPU, in eval mode.

        ``batches(epoch, device)`` yields ``(network arguments, labels [B, N], mask [B, N])``; ``device``
        defaults to :func:`pick_device` of the model's ``device``; ``wrap`` (e.g. DistributedDataParallel)
        wraps the network for training, its parameters being the network's own; ``stop(history row)`` (e.g.
        :class:`~tenset_study.models.early_stopping.EarlyStopping`), called after every epoch, ends training early.
        """
        from tqdm import tqdm

        device = device or pick_device(self.device)
        self.network_ = self.network_.to(device)
        network = wrap(self.network_) if wrap else self.network_
        optimizer = torch.optim.Adam(network.parameters(), lr=lr, weight_decay=self.weight_decay)
        bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not self.progress)
        for epoch in bar:
            start, losses, seen = time.perf_counter(), [], 0
            network.train()
            for args, labels, mask in batches(epoch, device):
                loss, count = self._train_step(network, optimizer, args, labels, mask, device)
                losses.append(loss)
                seen += count
            seconds = time.perf_counter() - start
            self.history_.append({"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
                                  "records": seen, "seconds": seconds})
            bar.set_postfix(loss=self.history_[-1]["loss"])
            if stop is not None and stop(self.history_[-1]):
                break
        self.network_.to("cpu").eval()

    @staticmethod
    def _train_step(network: nn.Module, optimizer: torch.optim.Optimizer, args: tuple, labels, mask,
                    device: torch.device) -> tuple[float, int]:
        """One LambdaRank step on a batch of lists; returns the loss and the number of real records."""
        mask = torch.as_tensor(mask, device=device)
        scores = network(*args).reshape(mask.shape)
        loss = lambdarank_loss(scores, torch.as_tensor(labels, device=device), mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach()), int(mask.sum())

    def fit_stream(self, stream, **kwargs) -> "NeuralRanker":
        """Train from a :class:`~tenset_study.models.streaming.RankingStream` (records read shard by shard from a
        feature store) instead of in-memory inputs; see :func:`tenset_study.models.streaming.fit_stream`."""
        from .streaming import fit_stream

        return fit_stream(self, stream, **kwargs)

    def _stream_args(self, batch: dict, device: torch.device) -> tuple:
        """The network's arguments from a stream batch (models that can stream override this)."""
        raise NotImplementedError(f"{self.name}: cannot be trained from a stream")

    def _predict(self, inputs: ModelInputs, positions: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        device = pick_device(self.device)
        network = self.network_.to(device).eval()
        order = self._inference_order(inputs, positions)
        out = []
        with torch.inference_mode():
            for start in range(0, len(positions), batch_size):
                chunk = positions[order[start:start + batch_size]]
                out.append(network(*self._tensors(inputs, chunk, device)).float().cpu().numpy())
        self.network_.to("cpu")
        scores = np.empty(len(positions), dtype=np.float32)
        scores[order] = np.concatenate(out)
        return scores

    def _inference_order(self, inputs: ModelInputs, positions: np.ndarray) -> np.ndarray:
        """The order in which records are scored (batches of similar records can be cheaper)."""
        return np.arange(len(positions))

    # persistence: the network as a state dict plus what is needed to rebuild it ---------------------------
    def __getstate__(self) -> dict:
        state = dict(vars(self))
        network = state.pop("network_", None)
        if network is not None:
            buffer = io.BytesIO()
            torch.save(network.state_dict(), buffer)
            state["network_state_"] = buffer.getvalue()
        return state

    def __setstate__(self, state: dict) -> None:
        blob = state.pop("network_state_", None)
        vars(self).update(state)
        if blob is not None:
            self.network_ = self._build_network(**self.dims_)
            self.network_.load_state_dict(torch.load(io.BytesIO(blob), map_location="cpu"))
            self.network_.eval()

    def _build_network(self, **dims) -> nn.Module:
        raise NotImplementedError


class _MLP(nn.Module):
    def __init__(self, width: int, hidden: int, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.layers = nn.Sequential(
            nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers((features - self.mean) / self.std).squeeze(-1)


class MLPModel(NeuralRanker):
    """TenSet's MLP baseline: MetaSchedule's per-store features (pooled per program), LambdaRank loss."""

    name = "mlp"
    families = ("perstore",)

    def _make_network(self, inputs: ModelInputs, train: np.ndarray) -> nn.Module:
        features = inputs.perstore_of(train)
        mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
        self.dims_ = {"width": features.shape[1], "mean": mean, "std": std}
        return self._build_network(**self.dims_)

    def _build_network(self, width: int, mean: np.ndarray, std: np.ndarray) -> nn.Module:
        return _MLP(width, self.hidden, mean, std)

    def _tensors(self, inputs: ModelInputs, positions: np.ndarray, device: torch.device) -> tuple:
        return (torch.as_tensor(inputs.perstore_of(positions), device=device),)


class _SelfAttention(nn.Module):
    """Multi-head self-attention with a key padding mask, through PyTorch's fused scaled-dot-product
    kernel (2-3x faster on a CPU than ``nn.MultiheadAttention`` at these sizes)."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        batch, steps, hidden = x.shape
        q, k, v = self.qkv(x).view(batch, steps, 3, self.heads, hidden // self.heads).permute(2, 0, 3, 1, 4)
        attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=valid[:, None, None, :])
        return self.out(attended.transpose(1, 2).reshape(batch, steps, hidden))


class _AttentionNetwork(nn.Module):
    def __init__(self, token_width: int, hidden: int, heads: int, hardware_width: int = 0,
                 workload_width: int = 0) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(token_width, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        )
        self.hardware = _embedding(hardware_width, hidden)
        self.workload = _embedding(workload_width, hidden)
        self.attention = _SelfAttention(hidden, heads)
        self.blocks = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(2)])
        self.decoder = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, hardware: torch.Tensor | None = None,
                workload: torch.Tensor | None = None) -> torch.Tensor:
        steps = tokens.shape[1]
        valid = torch.arange(steps, device=tokens.device)[None, :] < lengths.clamp_min(1)[:, None]
        x = self.encoder(tokens)
        context = [net(v)[:, None, :] for net, v in ((self.hardware, hardware), (self.workload, workload))
                   if net is not None and v is not None]
        if context:
            x = torch.cat([*context, x], dim=1)
            valid_all = torch.cat([torch.ones(len(x), len(context), dtype=torch.bool, device=x.device), valid], dim=1)
        else:
            valid_all = valid
        x = x + self.attention(x, valid_all)
        for block in self.blocks:
            x = x + torch.relu(block(x))
        per_step = self.decoder(x[:, len(context):, :]).squeeze(-1)
        return (per_step * valid).sum(dim=1)


def _embedding(width: int, hidden: int) -> nn.Module | None:
    if not width:
        return None
    return nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, hidden))


class AttentionModel(NeuralRanker):
    """Attention over schedule tokens; with ``use_hardware``/``use_workload`` it is ``ours``."""

    name = "tlp"
    families = ("tokens",)

    def __init__(self, heads: int = 8, use_hardware: bool = False, use_workload: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.heads = heads
        self.use_hardware = use_hardware
        self.use_workload = use_workload

    def _make_network(self, inputs: ModelInputs, train: np.ndarray) -> nn.Module:
        tokens, _ = inputs.tokens_of(train[:1])
        return self._network_for_widths(tokens.shape[2], inputs.hardware.shape[1], inputs.workload.shape[1])

    def _network_for_widths(self, token_width: int, hardware_width: int, workload_width: int) -> nn.Module:
        """A new network (and ``dims_``) for inputs of these widths; context widths count only when used."""
        self.dims_ = {
            "token_width": token_width,
            "hardware_width": hardware_width if self.use_hardware else 0,
            "workload_width": workload_width if self.use_workload else 0,
        }
        return self._build_network(**self.dims_)

    def _stream_args(self, batch: dict, device: torch.device) -> tuple:
        """``_tensors``' arguments from a stream batch (keys ``tokens``, ``lengths``, ``hardware``, ``workload``)."""
        return (torch.as_tensor(batch["tokens"], device=device), torch.as_tensor(batch["lengths"], device=device),
                torch.as_tensor(batch["hardware"], device=device) if self.use_hardware else None,
                torch.as_tensor(batch["workload"], device=device) if self.use_workload else None)

    def _build_network(self, token_width: int, hardware_width: int, workload_width: int) -> nn.Module:
        return _AttentionNetwork(token_width, self.hidden, self.heads, hardware_width, workload_width)

    def _inference_order(self, inputs: ModelInputs, positions: np.ndarray) -> np.ndarray:
        """Records sorted by token count, so that each batch is cropped to its own longest program."""
        return np.argsort(inputs.lengths_of(positions), kind="stable")

    def _tensors(self, inputs: ModelInputs, positions: np.ndarray, device: torch.device) -> tuple:
        tokens, lengths = inputs.tokens_of(positions, crop=True)  # padding beyond the longest is masked anyway
        tensors = [torch.as_tensor(tokens, device=device), torch.as_tensor(lengths.astype(np.int64), device=device)]
        tensors.append(torch.as_tensor(inputs.hardware_of(positions), device=device) if self.use_hardware else None)
        tensors.append(torch.as_tensor(inputs.workload_of(positions), device=device) if self.use_workload else None)
        return tuple(tensors)


class OursModel(AttentionModel):
    """``ours-v1``, the study's first model: attention over schedule tokens joined with one hardware and one
    workload token (models saved under the name ``ours`` before v2 load as this class)."""

    name = "ours-v1"
    families = ("tokens", "context")

    def __init__(self, use_hardware: bool = True, use_workload: bool = True, **kwargs) -> None:
        super().__init__(use_hardware=use_hardware, use_workload=use_workload, **kwargs)


def architecture_table(inputs: ModelInputs, hidden: int = 256, heads: int = 8) -> pd.DataFrame:
    """The attention model's layers as a table (stage, layer, output shape, parameters) for ``ours``
    built on ``inputs`` (token width, hardware and workload feature widths) at the given width."""
    import pandas as pd

    token_width = inputs.tokens.shape[2] if inputs.tokens is not None else 0
    steps = inputs.tokens.shape[1] if inputs.tokens is not None else 0
    network = _AttentionNetwork(token_width, hidden, heads, inputs.hardware.shape[1], inputs.workload.shape[1])
    stages = [
        ("instruction encoder", "2 x (linear + ReLU), per step", f"[steps={steps}, {token_width}] -> [steps, {hidden}]",
         network.encoder),
        ("hardware token", "2 linear layers (ReLU between)", f"[{inputs.hardware.shape[1]}] -> [1, {hidden}]",
         network.hardware),
        ("workload token", "2 linear layers (ReLU between)", f"[{inputs.workload.shape[1]}] -> [1, {hidden}]",
         network.workload),
        ("self-attention", f"{heads} heads, residual", f"[2 + steps, {hidden}] -> same", network.attention),
        ("residual blocks", "2 x (x + ReLU(linear x))", f"[2 + steps, {hidden}] -> same", network.blocks),
        ("decoder", "linear + ReLU + linear per step, summed over instruction steps", f"[steps, {hidden}] -> score",
         network.decoder),
    ]
    rows = [{"stage": s, "layers": layer, "shape": shape, "parameters": sum(p.numel() for p in m.parameters())}
            for s, layer, shape, m in stages]
    return pd.DataFrame(rows).set_index("stage")
