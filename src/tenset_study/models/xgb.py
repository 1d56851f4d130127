"""XGBoost on MetaSchedule's per-store features: TenSet's and MetaSchedule's default cost model.

As in MetaSchedule's ``XGBModel``, the booster regresses the normalized throughput (the label) with a
squared error; here on per-store features pooled per program (see :mod:`tenset_study.features.perstore`).
"""

from __future__ import annotations

import numpy as np

from .base import CostModel
from .inputs import ModelInputs


class XGBModel(CostModel):
    """Gradient-boosted trees; ``rounds`` boosting rounds, early stopping on ``valid`` when given."""

    name = "xgb"
    families = ("perstore",)
    deterministic = True  # exact greedy-histogram trees without row or column subsampling

    def __init__(self, rounds: int = 300, max_depth: int = 10, eta: float = 0.2, min_child_weight: float = 0.0,
                 gamma: float = 0.001, early_stopping: int = 30, threads: int | None = None, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.rounds = rounds
        self.max_depth = max_depth
        self.eta = eta
        self.min_child_weight = min_child_weight
        self.gamma = gamma
        self.early_stopping = early_stopping
        self.threads = threads

    def _booster_params(self) -> dict:
        params = {"objective": "reg:squarederror", "max_depth": self.max_depth, "eta": self.eta,
                  "min_child_weight": self.min_child_weight, "gamma": self.gamma, "seed": self.seed,
                  "verbosity": 0, "tree_method": "hist"}
        if self.threads:
            params["nthread"] = self.threads
        return params

    def _fit(self, inputs: ModelInputs, train: np.ndarray, valid: np.ndarray | None) -> None:
        import xgboost as xgb

        labels = inputs.records["label"].to_numpy(np.float32)
        dtrain = xgb.DMatrix(inputs.perstore_of(train), label=labels[train])
        evals = [(dtrain, "train")]
        kwargs = {}
        if valid is not None and len(valid):
            evals.append((xgb.DMatrix(inputs.perstore_of(valid), label=labels[valid]), "valid"))
            kwargs["early_stopping_rounds"] = self.early_stopping
        self.booster_ = xgb.train(self._booster_params(), dtrain, num_boost_round=self.rounds, evals=evals,
                                  verbose_eval=False, **kwargs)

    def _predict(self, inputs: ModelInputs, positions: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        return self.booster_.predict(xgb.DMatrix(inputs.perstore_of(positions)))

    def __getstate__(self) -> dict:
        state = dict(vars(self))
        booster = state.pop("booster_", None)
        if booster is not None:
            state["booster_raw_"] = bytes(booster.save_raw("ubj"))
        return state

    def __setstate__(self, state: dict) -> None:
        import xgboost as xgb

        raw = state.pop("booster_raw_", None)
        vars(self).update(state)
        if raw is not None:
            self.booster_ = xgb.Booster()
            self.booster_.load_model(bytearray(raw))
