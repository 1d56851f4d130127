"""The cost-model interface: hyperparameters in the constructor, ``fit``, ``predict``, ``save``, ``load``.

Like scikit-learn's estimators, a model does no work in its constructor, ``fit`` returns the fitted
model, learned state lives in attributes, and ``predict`` is pure. Every model ranks: it returns a score
per record, higher meaning faster, and is only compared within one (task, platform) group. ``metadata``
says what the model was trained on (platforms, records, feature versions, seed, time), and travels with
``save``/``load``.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..data.files import write_bytes_atomic
from .inputs import ModelInputs

MODEL_FORMAT = 1


class CostModel:
    """Base class; subclasses set ``name`` and ``families`` and implement ``_fit`` and ``_predict``."""

    name = "base"
    families: tuple[str, ...] = ()
    #: Every concrete model class by its ``name`` (filled as subclasses are defined), for :meth:`load`.
    registry: dict[str, type["CostModel"]] = {}
    #: True when training uses no randomness, so other seeds would give the same model.
    deterministic = False
    #: The class of a model name not in :attr:`registry` yet, or None: :meth:`load` asks it after importing the
    #: model's module. :mod:`tenset_study.models`, which knows the module of every model, sets it.
    find_class: Callable[[str], type["CostModel"] | None] = staticmethod(lambda name: None)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in vars(cls):
            CostModel.registry[cls.name] = cls

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.metadata: dict = {}

    def params(self) -> dict:
        """The constructor's hyperparameters."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and k != "metadata"}

    def fit(self, inputs: ModelInputs, train: np.ndarray, valid: np.ndarray | None = None) -> "CostModel":
        """Train on the records at positions ``train`` (``valid``: positions for monitoring only)."""
        train = np.asarray(train, dtype=np.int64)
        if len(train) == 0:
            raise ValueError(f"{self.name}: no training records")
        start = time.perf_counter()
        self._fit(inputs, train, valid)
        records = inputs.records.iloc[train]
        self.metadata = self._training_metadata(
            records, inputs.versions, int(inputs.tokens.shape[1]) if inputs.tokens is not None else None,
            time.perf_counter() - start)
        return self

    def _training_metadata(self, records, versions: dict, max_len: int | None, seconds: float) -> dict:
        """``metadata`` after training on ``records`` (a frame with ``platform``, ``kind``, ``task`` and, when
        rows stand for several records, ``records``)."""
        count = int(records["records"].sum()) if "records" in records else int(len(records))
        return {
            "model": self.name, "format": MODEL_FORMAT, "params": self.params(),
            "platforms": sorted(records["platform"].unique()), "kinds": sorted(records["kind"].unique()),
            "train_records": count, "train_tasks": int(records["task"].nunique()),
            "feature_versions": dict(versions), "max_len": max_len, "fit_seconds": seconds,
            "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def predict(self, inputs: ModelInputs, positions: np.ndarray) -> np.ndarray:
        """Scores (higher = predicted faster) of the records at ``positions``."""
        if not self.metadata:
            raise ValueError(f"{self.name}: predict before fit (or load)")
        positions = np.asarray(positions, dtype=np.int64)
        if len(positions) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self._predict(inputs, positions), dtype=np.float32)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model (pickle) and its metadata (``<path>.json``) atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, pickle.dumps(self.__getstate__()))
        write_bytes_atomic(path.with_suffix(path.suffix + ".json"), json.dumps(self.metadata, indent=2).encode())
        return path

    @staticmethod
    def load(path: str | os.PathLike) -> "CostModel":
        """Read a model written by :meth:`save` (any subclass)."""
        state = pickle.loads(Path(path).read_bytes())
        name = state["metadata"].get("model")
        cls = CostModel.registry.get(name) or CostModel.find_class(name)
        if cls is None:
            raise ValueError(f"{path}: unknown model {name!r}")
        cls = cls.saved_class(state)
        model = cls.__new__(cls)
        model.__setstate__(state)
        return model

    @classmethod
    def saved_class(cls, state: dict) -> type["CostModel"]:
        """The class that reads a saved ``state`` of this model name (a name whose model was redesigned keeps
        loading what the old design saved: ``ours`` v1 models load as ``ours-v1``)."""
        return cls

    def __getstate__(self) -> dict:
        return dict(vars(self))

    def __setstate__(self, state: dict) -> None:
        vars(self).update(state)

    def _fit(self, inputs: ModelInputs, train: np.ndarray, valid: np.ndarray | None) -> None:
        raise NotImplementedError

    def _predict(self, inputs: ModelInputs, positions: np.ndarray) -> np.ndarray:
        raise NotImplementedError
