"""A multi-head attention cost model in the manner of MTL-TLP (Zhai et al., 2023).

MTL-TLP transfers TLP to a new platform by multi-task learning: one shared body reads the schedule tokens,
and every platform gets its own output head; the target platform's head is trained jointly with the source
platforms' heads, on the little target data there is. Here the shared body is the trunk of
:class:`~tenset_study.models.neural.AttentionModel` (per-step encoder, self-attention, residual blocks:
the same layers, reused) and each head is a TLP decoder (linear + ReLU + linear per step, summed over the
steps). Heads are created for the platforms of the training records; scoring a platform without a head is
an error that names the platforms the model has heads for.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .inputs import ModelInputs
from .neural import AttentionModel, _AttentionNetwork


class _PlatformHeads(nn.Module):
    """One TLP decoder per platform, used as the trunk's decoder: each record's steps go through the head
    of its platform. The trunk calls a decoder with the steps only, so :class:`_MultiHeadNetwork` sets
    ``select_`` (the head index of every record) for the duration of one forward pass."""

    def __init__(self, hidden: int, count: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList([nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
                                    for _ in range(count)])
        self.select_: torch.Tensor | None = None

    def forward(self, steps: torch.Tensor) -> torch.Tensor:
        if self.select_ is None:
            raise RuntimeError("platform heads called without head indices (use _MultiHeadNetwork)")
        out = steps.new_zeros((*steps.shape[:2], 1))
        for index, head in enumerate(self.heads):
            rows = self.select_ == index
            if bool(rows.any()):
                out[rows] = head(steps[rows])
        return out


class _MultiHeadNetwork(_AttentionNetwork):
    """The attention network with its decoder replaced by per-platform heads."""

    def __init__(self, token_width: int, hidden: int, heads: int, platforms: int, hardware_width: int = 0,
                 workload_width: int = 0) -> None:
        super().__init__(token_width, hidden, heads, hardware_width, workload_width)
        self.decoder = _PlatformHeads(hidden, platforms)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, head: torch.Tensor,
                hardware: torch.Tensor | None = None, workload: torch.Tensor | None = None) -> torch.Tensor:
        self.decoder.select_ = head
        try:
            return super().forward(tokens, lengths, hardware, workload)
        finally:
            self.decoder.select_ = None


class MultiHeadModel(AttentionModel):
    """MTL-TLP-style model: shared attention trunk over schedule tokens, one output head per platform.

    ``platforms_`` (learned by ``fit``): the platforms with a head, in head order. Context features are off
    by default, as in MTL-TLP (the head, not a hardware token, carries the platform).
    """

    name = "mtl"
    families = ("tokens",)

    def _make_network(self, inputs: ModelInputs, train: np.ndarray) -> nn.Module:
        self.platforms_ = sorted(inputs.records["platform"].iloc[train].unique())
        network = super()._make_network(inputs, train)  # the trunk's dims_, one head per platform
        self.dims_["platforms"] = len(self.platforms_)
        return network

    def _build_network(self, token_width: int, hardware_width: int, workload_width: int,
                       platforms: int | None = None) -> nn.Module:
        count = len(self.platforms_) if platforms is None else platforms
        return _MultiHeadNetwork(token_width, self.hidden, self.heads, count, hardware_width, workload_width)

    def head_index(self, inputs: ModelInputs, positions: np.ndarray) -> np.ndarray:
        """The head of every record at ``positions``; ValueError naming any platform without a head."""
        names = np.asarray(inputs.platform_ids, dtype=object)[inputs.platform_row[positions]]
        lookup = {platform: i for i, platform in enumerate(self.platforms_)}
        missing = sorted(set(names) - set(lookup))
        if missing:
            raise ValueError(f"{self.name}: no head for platform(s) {missing}; the model has heads for "
                             f"{self.platforms_} (train it with records of the platform to add a head)")
        return np.fromiter((lookup[n] for n in names), dtype=np.int64, count=len(names))

    def _predict(self, inputs: ModelInputs, positions: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        self.head_index(inputs, positions)  # fail before any work when a platform has no head
        return super()._predict(inputs, positions, batch_size)

    def _tensors(self, inputs: ModelInputs, positions: np.ndarray, device: torch.device) -> tuple:
        tokens, lengths, hardware, workload = super()._tensors(inputs, positions, device)
        head = torch.as_tensor(self.head_index(inputs, positions), device=device)
        return tokens, lengths, head, hardware, workload
