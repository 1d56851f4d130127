"""The cost model a tuning run scores candidates with, and its time counters.

:func:`make_cost_model` turns what :func:`~tenset_study.tuning.tune.tune_network` is given (one of
MetaSchedule's named models, the path of a model saved by ``tenset-study train``, or a cost-model object) into
the object to tune with and its label. MetaSchedule's named models are wrapped in :class:`TimedCostModel`,
which keeps the same time counters as :class:`~tenset_study.tuning.cost_model.ProjectCostModel`, so both sides
of a comparison report the share of tuning time spent scoring (:func:`cost_model_timing`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.cost_model import PyCostModel

#: MetaSchedule's named cost models that :func:`~tenset_study.tuning.tune.tune_network` accepts.
NAMED_COST_MODELS = ("xgb", "random", "mlp")


@derived_object
class TimedCostModel(PyCostModel):
    """A MetaSchedule cost model (e.g. ``ms.CostModel.create("xgb")``) with time counters.

    Every call is passed on unchanged; :meth:`timing` gives the same counters as ``ProjectCostModel``'s
    (``predict_calls``, ``predict_seconds``, ``candidates_scored``, ``update_calls``, ``update_seconds``,
    ``candidates_per_s``), so the share of tuning time spent scoring compares across cost models.
    """

    def __init__(self, inner) -> None:
        super().__init__()
        self.inner = inner
        self._counters = {"predict_calls": 0, "predict_seconds": 0.0, "candidates_scored": 0,
                          "update_calls": 0, "update_seconds": 0.0}

    def load(self, path: str) -> None:
        """Load the wrapped model's state from ``path``."""
        self.inner.load(path)

    def save(self, path: str) -> None:
        """Save the wrapped model's state to ``path``."""
        self.inner.save(path)

    def update(self, context, candidates, results) -> None:
        """Pass the measured candidates on to the wrapped model, timed."""
        start = time.perf_counter()
        self.inner.update(context, candidates, results)
        self._counters["update_calls"] += 1
        self._counters["update_seconds"] += time.perf_counter() - start

    def predict(self, context, candidates) -> np.ndarray:
        """The wrapped model's scores of the candidates (float64), timed."""
        start = time.perf_counter()
        scores = np.asarray(self.inner.predict(context, candidates), dtype=np.float64)
        self._counters["predict_calls"] += 1
        self._counters["candidates_scored"] += len(candidates)
        self._counters["predict_seconds"] += time.perf_counter() - start
        return scores

    def timing(self) -> dict:
        """The counters, with the scoring throughput ``candidates_per_s``."""
        out = dict(self._counters)
        out["candidates_per_s"] = (out["candidates_scored"] / out["predict_seconds"]) if out["predict_seconds"] else 0.0
        return out


def make_cost_model(cost_model, num_cores: int, seed: int = 0):
    """The cost model object to tune with, and its label.

    ``cost_model``: a MetaSchedule name (``xgb``, ``random``, ``mlp``), wrapped in :class:`TimedCostModel`;
    a path to a model saved by ``tenset-study train`` (``CostModel.save``), wrapped in ``ProjectCostModel``;
    or a cost-model object (``ProjectCostModel``, any ``PyCostModel`` or ``ms.CostModel``), used as is.
    """
    from tvm.s_tir import meta_schedule as ms

    if isinstance(cost_model, str) and cost_model in NAMED_COST_MODELS:
        if cost_model == "xgb":
            inner = ms.CostModel.create("xgb", num_tuning_cores=num_cores, tree_method="auto",
                                        config=ms.cost_model.xgb_model.XGBConfig(seed=43 + seed))
        elif cost_model == "random":
            inner = ms.CostModel.create("random", seed=seed)
        else:
            inner = ms.CostModel.create(cost_model)
        return TimedCostModel(inner), cost_model
    if isinstance(cost_model, (str, os.PathLike)):
        path = Path(cost_model)
        if not path.is_file():
            raise FileNotFoundError(
                f"cost model {str(cost_model)!r} is neither one of MetaSchedule's ({', '.join(NAMED_COST_MODELS)}) "
                f"nor a saved model file (tenset-study train --out PATH)"
            )
        from .cost_model import ProjectCostModel

        wrapped = ProjectCostModel(str(path), seed=seed)
        return wrapped, f"{wrapped.model.name}:{path.name}"
    model = getattr(cost_model, "model", None)
    if model is not None and getattr(model, "name", None):
        return cost_model, f"{model.name}:project"
    inst = getattr(cost_model, "_inst", cost_model)
    return cost_model, type(inst).__name__


def cost_model_timing(cost_model) -> dict | None:
    """The cost model's time counters (its ``timing()``), or None when it keeps none or they cannot be read."""
    timing = getattr(cost_model, "timing", None)
    if timing is None:
        return None
    try:
        return dict(timing())
    except Exception:  # noqa: BLE001 - a cost model whose counters cannot be read
        return None


__all__ = ["NAMED_COST_MODELS", "TimedCostModel", "cost_model_timing", "make_cost_model"]
