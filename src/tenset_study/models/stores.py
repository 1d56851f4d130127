"""``ours`` (v2): a program as a set of per-store feature vectors, attention across the stores, every token
conditioned on the hardware and the workload (FiLM), LambdaRank within (task, platform), trained jointly.

Our design (the study's own architecture is not public):

- **Stores as tokens.** MetaSchedule's 164 per-store features (TenSet's program features) are one token per
  buffer store, as TenSet's MLP scores each store and sums. Inputs are standardized with the mean and standard
  deviation of the training stores (features constant in training are only centred). The features are
  already log-scaled by the extractor (``slog``), and the package's MLP does not transform them further, so
  neither do we.
- **Optional schedule tokens** (``use_tokens``): TLP's instruction tokens, standardized over the training
  steps, encoded by their own MLP and appended to the store tokens; a learned type vector tells the kinds
  apart. The sequence has no positions: scores do not depend on the order of the stores.
- **FiLM conditioning.** The hardware and workload features (signed-log, standardized over the training
  platforms and tasks) go through an MLP that gives a per-channel scale and shift, ``x * (1 + gamma) + beta``,
  applied to every token after the encoder and again before the decoder; the last layer starts at zero, so
  an untrained model is unconditioned. Unlike v1's list-constant context tokens (which a ranking loss can
  ignore), the scale changes how every store's features map to the score, so hardware can reorder programs.
- **Body and score** as TLP's: self-attention with a residual, two residual linear blocks, a per-token
  decoder summed over the real tokens (padding masked).

Per-store features cannot be computed for Ansor programs (TenSet imports; TVM 0.27 has no Ansor extractor):
then the model falls back to schedule tokens only, logs it (``fallback_``; ``build_inputs`` has printed why;
inputs simply built without the ``stores`` family get a warning instead), and fails with one line when the
inputs hold no tokens either; a model trained on stores refuses inputs without them. v1 (attention over schedule tokens
with one hardware and one workload token) stays available as ``ours-v1``
(:class:`~tenset_study.models.neural.OursModel`).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from torch import nn

from .inputs import ModelInputs
from .neural import NeuralRanker, OursModel, _SelfAttention

log = logging.getLogger(__name__)


def _encoder(width: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())


def _buffer(module: nn.Module, name: str, value: np.ndarray | None, width: int) -> None:
    module.register_buffer(name, torch.as_tensor(np.zeros(width) if value is None else value, dtype=torch.float32))


class _FiLM(nn.Module):
    """Per-channel scales and shifts for ``layers`` places in the network from a context vector."""

    def __init__(self, context_width: int, hidden: int, layers: int = 2) -> None:
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.net = nn.Sequential(nn.Linear(context_width, hidden), nn.ReLU(), nn.Linear(hidden, 2 * layers * hidden))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, context: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        out = self.net(context).view(len(context), self.layers, 2, 1, self.hidden)
        return [(out[:, i, 0], out[:, i, 1]) for i in range(self.layers)]


class _StoreSetNetwork(nn.Module):
    """Store tokens (and schedule tokens) -> FiLM -> attention -> residual blocks -> FiLM -> summed decoder."""

    def __init__(self, store_width: int, token_width: int, context_width: int, hidden: int, heads: int,
                 norms: dict | None = None) -> None:
        super().__init__()
        if not store_width and not token_width:
            raise ValueError("the network needs per-store features, schedule tokens, or both")
        norms = norms or {}
        for name, width in (("store", store_width), ("token", token_width), ("context", context_width)):
            _buffer(self, f"{name}_mean", norms.get(f"{name}_mean"), width)
            _buffer(self, f"{name}_std", norms.get(f"{name}_std", np.ones(width)), width)
        self.stores = _encoder(store_width, hidden) if store_width else None
        self.tokens = _encoder(token_width, hidden) if token_width else None
        self.kinds = nn.Parameter(torch.zeros(2, hidden))
        self.film = _FiLM(context_width, hidden) if context_width else None
        self.attention = _SelfAttention(hidden, heads)
        self.blocks = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(2)])
        self.decoder = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def _stream(self, encoder: nn.Module, values: torch.Tensor, counts: torch.Tensor, mean, std, kind: int):
        valid = torch.arange(values.shape[1], device=values.device)[None, :] < counts.clamp_min(1)[:, None]
        return encoder((values - mean) / std) + self.kinds[kind], valid

    def forward(self, stores: torch.Tensor | None, counts: torch.Tensor | None, context: torch.Tensor | None = None,
                tokens: torch.Tensor | None = None, lengths: torch.Tensor | None = None) -> torch.Tensor:
        parts = []
        if self.stores is not None:
            parts.append(self._stream(self.stores, stores, counts, self.store_mean, self.store_std, 0))
        if self.tokens is not None:
            parts.append(self._stream(self.tokens, tokens, lengths, self.token_mean, self.token_std, 1))
        x = torch.cat([p[0] for p in parts], dim=1)
        valid = torch.cat([p[1] for p in parts], dim=1)
        film = self.film((context - self.context_mean) / self.context_std) if self.film is not None else None
        if film:
            x = x * (1 + film[0][0]) + film[0][1]
        x = x + self.attention(x, valid)
        for block in self.blocks:
            x = x + torch.relu(block(x))
        if film:
            x = x * (1 + film[1][0]) + film[1][1]
        return (self.decoder(x).squeeze(-1) * valid).sum(dim=1)


def _signed_log(values: np.ndarray) -> np.ndarray:
    return (np.sign(values) * np.log1p(np.abs(values))).astype(np.float32)


def _moments(values: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over rows; a standard deviation below ``floor`` becomes 1 (centre only)."""
    mean, std = values.mean(axis=0), values.std(axis=0)
    return mean.astype(np.float32), np.where(std < floor, 1.0, std).astype(np.float32)


class OursV2Model(NeuralRanker):
    """``ours`` v2 (see the module docstring): per-store sets, FiLM by hardware and workload, LambdaRank."""

    name = "ours"
    families = ("stores", "tokens", "context")

    def __init__(self, heads: int = 4, use_tokens: bool = False, use_hardware: bool = True, use_workload: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.heads, self.use_tokens = heads, use_tokens
        self.use_hardware, self.use_workload = use_hardware, use_workload

    @classmethod
    def saved_class(cls, state: dict) -> type:
        """Models saved as ``ours`` before v2 are v1 models (their network has no per-store input)."""
        dims = state.get("dims_", {})
        return cls if "store_width" in dims or not dims else OursModel

    def _context(self, inputs: ModelInputs, positions: np.ndarray) -> np.ndarray | None:
        parts = ([inputs.hardware_of(positions)] if self.use_hardware else []) + \
                ([inputs.workload_of(positions)] if self.use_workload else [])
        return _signed_log(np.hstack(parts)) if parts else None

    def _make_network(self, inputs: ModelInputs, train: np.ndarray) -> nn.Module:
        use_stores = inputs.stores is not None
        if not use_stores:
            why = inputs.versions.get("stores", "the inputs were built without the 'stores' family")
            if inputs.tokens is None:
                raise ValueError(f"{self.name}: no per-store features ({why}) and no schedule tokens to fall back to")
            self.fallback_ = (f"{self.name}: per-store features are unavailable ({why}); "
                              "falling back to schedule tokens only")
            log.info(self.fallback_)
            if not str(why).startswith("unavailable"):  # not announced by build_inputs: a caller's choice to check
                warnings.warn(self.fallback_, stacklevel=4)
        norms: dict = {}
        if use_stores:
            stores, counts = inputs.stores_of(train, crop=False)
            real = stores[np.arange(stores.shape[1])[None, :] < counts[:, None]]
            norms["store_mean"], norms["store_std"] = _moments(real if len(real) else stores[:, 0], 1e-6)
        if self.use_tokens or not use_stores:
            tokens, lengths = inputs.tokens_of(train)
            steps = tokens[np.arange(tokens.shape[1])[None, :] < lengths[:, None]]
            norms["token_mean"], norms["token_std"] = _moments(steps if len(steps) else tokens[:, 0], 1e-6)
        context = self._context(inputs, train)
        if context is not None:  # over the distinct platforms and tasks, not weighted by their records
            _, first = np.unique(np.stack([inputs.platform_row[train], inputs.task_row[train]], 1), axis=0,
                                 return_index=True)
            norms["context_mean"], norms["context_std"] = _moments(context[first], 0.05)
        self.dims_ = {"store_width": stores.shape[2] if use_stores else 0,
                      "token_width": int(inputs.tokens.shape[2]) if "token_mean" in norms else 0,
                      "context_width": 0 if context is None else context.shape[1], "norms": norms}
        return self._build_network(**self.dims_)

    def _build_network(self, store_width: int, token_width: int, context_width: int, norms: dict) -> nn.Module:
        return _StoreSetNetwork(store_width, token_width, context_width, self.hidden, self.heads, norms)

    def _require_stores(self, inputs: ModelInputs) -> None:
        if self.dims_["store_width"] and inputs.stores is None:
            raise ValueError(f"{self.name}: this model reads per-store features, which these inputs lack "
                             f"({inputs.versions.get('stores', 'no stores family')})")

    def _inference_order(self, inputs: ModelInputs, positions: np.ndarray) -> np.ndarray:
        """Records sorted by length (tokens) or store count, so each batch is cropped to its own longest."""
        self._require_stores(inputs)
        if self.dims_["token_width"]:
            return np.argsort(inputs.lengths_of(positions), kind="stable")
        return np.argsort(inputs.stores_of(positions, crop=False)[1], kind="stable")

    def _tensors(self, inputs: ModelInputs, positions: np.ndarray, device: torch.device) -> tuple:
        def tensor(value):
            return None if value is None else torch.as_tensor(value, device=device)

        stores = counts = tokens = lengths = None
        if self.dims_["store_width"]:
            self._require_stores(inputs)
            stores, counts = inputs.stores_of(positions)
        if self.dims_["token_width"]:
            tokens, lengths = inputs.tokens_of(positions, crop=True)
        context = self._context(inputs, positions) if self.dims_["context_width"] else None
        return (tensor(stores), tensor(counts), tensor(context), tensor(tokens),
                tensor(None if lengths is None else lengths.astype(np.int64)))


def architecture_table(inputs: ModelInputs, hidden: int = 64, heads: int = 4, use_tokens: bool = False):
    """``ours`` v2's layers as a table (stage, layers, shape, parameters) for ``inputs``' feature widths."""
    import pandas as pd

    stores = inputs.stores.shape[2] if inputs.stores is not None else 164
    token_width = inputs.tokens.shape[2] if use_tokens and inputs.tokens is not None else 0
    context = inputs.hardware.shape[1] + inputs.workload.shape[1]
    net = _StoreSetNetwork(stores, token_width, context, hidden, heads)
    stages = [
        ("store encoder", "2 x (linear + ReLU), per store (inputs standardized)",
         f"[stores, {stores}] -> [stores, {hidden}]", [net.stores]),
        ("instruction encoder" + ("" if token_width else " (off)"), "2 x (linear + ReLU), per step",
         f"[steps, {token_width}] -> [steps, {hidden}]", [net.tokens] if net.tokens is not None else []),
        ("FiLM", "hardware + workload -> linear + ReLU + linear -> 2 x (scale, shift) per channel",
         f"[{context}] -> 2 x 2 x [{hidden}]", [net.film]),
        ("self-attention", f"{heads} heads, residual, padding masked", f"[tokens, {hidden}] -> same", [net.attention]),
        ("residual blocks", "2 x (x + ReLU(linear x)), then FiLM", f"[tokens, {hidden}] -> same", [net.blocks]),
        ("decoder", "linear + ReLU + linear per token, summed over real tokens", f"[tokens, {hidden}] -> score",
         [net.decoder]),
    ]
    rows = [{"stage": s, "layers": layers, "shape": shape,
             "parameters": sum(p.numel() for m in modules for p in m.parameters())}
            for s, layers, shape, modules in stages]
    return pd.DataFrame(rows).set_index("stage")
