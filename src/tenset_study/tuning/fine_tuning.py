"""Training a fitted cost model further on new records: :func:`fine_tune` (e.g. on a small share of a target
platform's data, for transfer experiments), and the two ways of doing it that
:class:`~tenset_study.tuning.cost_model.ProjectCostModel`'s online updates use too: LambdaRank epochs from the
current weights (neural models) and more boosting rounds on top of a booster (:func:`boost_more`, ``xgb``)."""

from __future__ import annotations

import json
import time

import numpy as np

from ..models.base import CostModel
from ..models.inputs import ModelInputs


def is_neural(model: CostModel) -> bool:
    """Whether the model is one of the neural rankers (``mlp``, ``tlp``, ``ours``)."""
    from ..models.neural import NeuralRanker

    return isinstance(model, NeuralRanker)


def is_xgb(model: CostModel) -> bool:
    """Whether the model is the ``xgb`` model."""
    from ..models.xgb import XGBModel

    return isinstance(model, XGBModel)


def boost_more(model: CostModel, inputs: ModelInputs, rows: np.ndarray, rounds: int, base) -> None:
    """Set an ``xgb`` model's booster to ``base`` (an ``xgboost.Booster``) plus ``rounds`` trees fitted on the
    records at ``rows`` of ``inputs`` (their per-store features and labels)."""
    import xgboost as xgb

    labels = inputs.records["label"].to_numpy(np.float32)[rows]
    dtrain = xgb.DMatrix(inputs.perstore_of(rows), label=labels)
    model.booster_ = xgb.train(model._booster_params(), dtrain, num_boost_round=rounds, xgb_model=base)


def fine_tune(model: CostModel, inputs: ModelInputs, rows: np.ndarray, epochs: int = 2, lr: float | None = None,
              rounds: int = 20, seed: int | None = None) -> CostModel:
    """Fine-tune a trained model on the records at ``rows`` of ``inputs`` (e.g. a small share of a target
    platform's data, for transfer experiments), in place; returns the model.

    Neural models: ``epochs`` epochs of LambdaRank from the current weights (learning rate ``lr`` or the
    model's). ``xgb``: ``rounds`` more boosting rounds on these records, continuing from the current trees.
    The metadata is kept, with an entry appended to ``metadata["fine_tuning"]`` (records, tasks, platforms,
    epochs or rounds, seconds); the ``max_len`` of token inputs is recorded as ``metadata["max_len"]``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        raise ValueError(f"{model.name}: no records to fine-tune on")
    if not model.metadata:
        raise ValueError(f"{model.name}: fine_tune before fit (or load)")
    start = time.perf_counter()
    entry: dict = {}
    if is_neural(model):
        model.fine_tune(inputs, rows, epochs=epochs, lr=lr, seed=seed)
        entry.update(epochs=int(epochs), lr=float(model.lr if lr is None else lr))
    elif is_xgb(model):
        boost_more(model, inputs, rows, rounds, model.booster_)
        entry["rounds"] = int(rounds)
    else:
        raise TypeError(f"fine_tune: no fine-tuning for model {model.name!r}")
    records = inputs.records.iloc[rows]
    entry.update(records=int(len(rows)), tasks=int(records["task"].nunique()),
                 platforms=sorted(map(str, records["platform"].unique())),
                 seconds=time.perf_counter() - start,
                 at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    model.metadata.setdefault("fine_tuning", []).append(entry)
    if inputs.tokens is not None and "max_len" not in model.metadata:
        model.metadata["max_len"] = int(inputs.tokens.shape[1])
    json.dumps(model.metadata)  # metadata must stay JSON (it is written beside the model)
    return model


__all__ = ["boost_more", "fine_tune", "is_neural", "is_xgb"]
