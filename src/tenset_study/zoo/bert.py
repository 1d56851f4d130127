"""BERT encoders (Devlin et al. 2019) as in HuggingFace's ``BertModel``, without the pooler.

Inputs are int64 token ids ``(batch, seq_len)``; token types are all zero and there is no attention mask
(every position attends to every position). Attention is written out (matmul, scale, softmax, matmul)
rather than through ``scaled_dot_product_attention`` so that TVM sees batched matrix products as TenSet did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class BertConfig:
    """Encoder sizes. ``intermediate`` defaults to four times ``hidden``."""

    layers: int
    hidden: int
    heads: int
    intermediate: int = 0
    vocab: int = 30522
    max_positions: int = 512
    type_vocab: int = 2
    eps: float = 1e-12

    def __post_init__(self) -> None:
        if not self.intermediate:
            object.__setattr__(self, "intermediate", 4 * self.hidden)
        if self.hidden % self.heads:
            raise ValueError(f"hidden size {self.hidden} is not a multiple of {self.heads} heads")


CONFIGS: dict[str, BertConfig] = {
    "bert_tiny": BertConfig(layers=2, hidden=128, heads=2),
    "bert_medium": BertConfig(layers=8, hidden=512, heads=8),
    "bert_base": BertConfig(layers=12, hidden=768, heads=12),
    "bert_large": BertConfig(layers=24, hidden=1024, heads=16),
}


class Embeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(cfg.vocab, cfg.hidden)
        self.position = nn.Embedding(cfg.max_positions, cfg.hidden)
        self.token_type = nn.Embedding(cfg.type_vocab, cfg.hidden)
        self.norm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.dropout = nn.Dropout(0.1)
        self.register_buffer("position_ids", torch.arange(cfg.max_positions).unsqueeze(0), persistent=False)

    def forward(self, ids: Tensor) -> Tensor:
        positions = self.position_ids[:, : ids.shape[1]]
        x = self.word(ids) + self.position(positions) + self.token_type(torch.zeros_like(ids))
        return self.dropout(self.norm(x))


class SelfAttention(nn.Module):
    """Multi-head self-attention with output projection, residual and LayerNorm (post-norm)."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.head_dim = cfg.hidden // cfg.heads
        self.query = nn.Linear(cfg.hidden, cfg.hidden)
        self.key = nn.Linear(cfg.hidden, cfg.hidden)
        self.value = nn.Linear(cfg.hidden, cfg.hidden)
        self.out = nn.Linear(cfg.hidden, cfg.hidden)
        self.norm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.dropout = nn.Dropout(0.1)

    def _split(self, x: Tensor) -> Tensor:
        b, s, _ = x.shape
        return x.reshape(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x: Tensor) -> Tensor:
        b, s, h = x.shape
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        probs = self.dropout(torch.softmax(scores, dim=-1))
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, s, h)
        return self.norm(x + self.dropout(self.out(context)))


class EncoderLayer(nn.Module):
    """Self-attention, then the GELU feed-forward block with residual and LayerNorm."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attention = SelfAttention(cfg)
        self.up = nn.Linear(cfg.hidden, cfg.intermediate)
        self.act = nn.GELU()
        self.down = nn.Linear(cfg.intermediate, cfg.hidden)
        self.norm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.attention(x)
        return self.norm(x + self.dropout(self.down(self.act(self.up(x)))))


class Bert(nn.Module):
    """BERT encoder: returns the last hidden states ``(batch, seq_len, hidden)``."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = Embeddings(cfg)
        self.layers = nn.Sequential(*(EncoderLayer(cfg) for _ in range(cfg.layers)))

    def forward(self, ids: Tensor) -> Tensor:
        return self.layers(self.embeddings(ids))


def bert(family: str) -> Bert:
    """The BERT encoder of a family in :data:`CONFIGS`, e.g. ``bert_base``."""
    return Bert(CONFIGS[family])
