"""Ranking within (task, platform) groups: list batches and the LambdaRank loss.

A cost model is only ever asked to order the candidates of one task on one platform, so it is trained on
lists of programs from one group at a time. Each epoch shuffles every group's programs and cuts them into
lists of at most ``list_size``; a batch stacks ``lists_per_batch`` lists, padded and masked.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


def group_lists(groups: np.ndarray, positions: np.ndarray, list_size: int,
                rng: np.random.Generator) -> list[np.ndarray]:
    """Cut the records at ``positions`` into shuffled lists of one group each (lists of 1 are dropped)."""
    order = rng.permutation(positions)
    order = order[np.argsort(groups[order], kind="stable")]
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    lists = []
    for members in np.split(order, bounds):
        for start in range(0, len(members), list_size):
            chunk = members[start:start + list_size]
            if len(chunk) > 1:
                lists.append(chunk)
    rng.shuffle(lists)
    return lists


def list_batches(lists: list[np.ndarray], lists_per_batch: int,
                 list_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of lists as ``(positions [B, list_size], mask [B, list_size])``; padding repeats position 0."""
    for start in range(0, len(lists), lists_per_batch):
        chunk = lists[start:start + lists_per_batch]
        positions = np.zeros((len(chunk), list_size), dtype=np.int64)
        mask = np.zeros((len(chunk), list_size), dtype=bool)
        for i, members in enumerate(chunk):
            positions[i, : len(members)] = members
            positions[i, len(members):] = members[0]
            mask[i, : len(members)] = True
        yield positions, mask


def lambdarank_loss(scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """LambdaRank: RankNet's pairwise logistic loss weighted by each pair's |change in NDCG| if swapped.

    ``scores``, ``labels``, ``mask``: ``[B, N]``; gains are ``2**label - 1`` (labels are normalized
    throughputs in (0, 1]). Returns the mean loss over lists.
    """
    neg = torch.finfo(scores.dtype).min / 4
    scores = torch.where(mask, scores, torch.full_like(scores, neg))
    labels = torch.where(mask, labels, torch.zeros_like(labels))
    gains = torch.pow(2.0, labels) - 1.0
    # current rank of every item by score (0 = best); padding sorts last
    rank = torch.argsort(torch.argsort(scores.detach(), dim=1, descending=True), dim=1).to(scores.dtype)
    discount = 1.0 / torch.log2(rank + 2.0)
    ideal = torch.sort(gains, dim=1, descending=True).values
    positions = torch.arange(scores.shape[1], device=scores.device, dtype=scores.dtype)
    idcg = (ideal / torch.log2(positions + 2.0)).sum(dim=1, keepdim=True).clamp_min(1e-12)
    delta = (torch.abs((gains[:, :, None] - gains[:, None, :]) * (discount[:, :, None] - discount[:, None, :]))
             / idcg[:, :, None])
    better = (labels[:, :, None] > labels[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    diff = scores[:, :, None] - scores[:, None, :]
    pair_loss = torch.nn.functional.softplus(-sigma * diff) * delta.detach()
    per_list = torch.where(better, pair_loss, torch.zeros_like(pair_loss)).sum(dim=(1, 2))
    return per_list.mean()
