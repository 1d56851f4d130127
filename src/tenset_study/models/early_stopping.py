"""Early stopping for the neural models: a validation set of held-out training tasks, and patience.

Every neural model (:class:`~tenset_study.models.neural.NeuralRanker`) follows the same rule when its
``valid_tasks`` is above 0: that share of the training tasks (all their records, on every platform) is set
aside before the network is built, the LambdaRank loss on their (task, platform) lists is computed after
every epoch, training stops after ``patience`` epochs without improvement, and the weights of the best
epoch are kept. The validation lists are cut once (seeded), so epochs are compared on the same lists.
``valid_tasks=0`` (the default) trains every epoch on every training record, as before the option existed.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from .inputs import ModelInputs
from .ranking import group_lists, lambdarank_loss, list_batches


def held_out_tasks(inputs: ModelInputs, train: np.ndarray, share: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(fit positions, validation positions)``: ``share`` of the tasks of ``train`` (at least one, and at least
    one task left to fit on) held out whole; no validation set (empty) when ``share`` is 0 or there is one task."""
    if not share:
        return train, train[:0]
    if not 0 < share < 1:
        raise ValueError(f"valid_tasks must be a share of the training tasks in [0, 1), got {share!r}")
    tasks = inputs.records["task"].to_numpy()[train]
    names = np.unique(tasks)
    if len(names) < 2:
        return train, train[:0]
    count = min(len(names) - 1, max(1, math.floor(share * len(names) + 0.5)))
    held = rng.choice(names, size=count, replace=False)
    out = np.isin(tasks, held)
    return train[~out], train[out]


class EarlyStopping:
    """Called after every epoch with the epoch's ``history_`` row: adds ``valid_loss`` to it, remembers the best
    weights, and returns True when ``patience`` epochs in a row did not improve on the best loss."""

    def __init__(self, model, inputs: ModelInputs, positions: np.ndarray, patience: int, seed: int) -> None:
        if patience < 1:
            raise ValueError(f"patience must be at least 1 epoch, got {patience!r}")
        self.model, self.inputs, self.patience = model, inputs, patience
        self.lists = group_lists(inputs.groups, positions, model.list_size, np.random.default_rng(seed))
        self.labels = inputs.records["label"].to_numpy(np.float32)
        self.best, self.best_epoch, self.best_state, self.bad = math.inf, -1, None, 0

    def loss(self) -> float:
        """Mean LambdaRank loss over the validation lists with the current weights."""
        network = self.model.network_
        device = next(network.parameters()).device
        was_training = network.training
        network.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for positions, mask in list_batches(self.lists, self.model.lists_per_batch, self.model.list_size):
                flat = positions.reshape(-1)
                scores = network(*self.model._tensors(self.inputs, flat, device)).reshape(mask.shape)
                labels = torch.as_tensor(self.labels[flat].reshape(mask.shape), device=device)
                total += float(lambdarank_loss(scores, labels, torch.as_tensor(mask, device=device))) * len(mask)
                count += len(mask)
        network.train(was_training)
        return total / max(1, count)

    def __call__(self, row: dict) -> bool:
        row["valid_loss"] = loss = self.loss()
        if loss < self.best - 1e-7:
            self.best, self.best_epoch, self.bad = loss, row["epoch"], 0
            self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.network_.state_dict().items()})
        else:
            self.bad += 1
        return self.bad >= self.patience

    def restore(self) -> None:
        """Put the best epoch's weights back (nothing to do when no epoch ran)."""
        if self.best_state is not None:
            self.model.network_.load_state_dict(self.best_state)
