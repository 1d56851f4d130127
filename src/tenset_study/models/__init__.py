"""Cost models behind one interface (:class:`~tenset_study.models.base.CostModel`).

``create("xgb" | "mlp" | "tlp" | "ours" | "mtl", **params)`` builds one by name, as MetaSchedule's
``CostModel.create`` does; ``CostModel.load(path)`` reads any saved model back.
"""

from __future__ import annotations

from .base import CostModel
from .inputs import ModelInputs, build_inputs
from .multihead import MultiHeadModel
from .neural import AttentionModel, MLPModel, OursModel, architecture_table
from .xgb import XGBModel

MODELS: dict[str, type[CostModel]] = {
    "xgb": XGBModel,
    "mlp": MLPModel,
    "tlp": AttentionModel,
    "ours": OursModel,
    "mtl": MultiHeadModel,
}

DESCRIPTIONS = {
    "xgb": "XGBoost regression on MetaSchedule's per-store features (TenSet's and MetaSchedule's default)",
    "mlp": "TenSet's MLP on the same per-store features, LambdaRank loss",
    "tlp": "TLP: attention over schedule tokens only, LambdaRank loss",
    "ours": "attention over schedule tokens joined with hardware and workload features, LambdaRank loss",
    "mtl": "MTL-TLP: TLP's attention trunk shared by all platforms, one output head per platform, LambdaRank loss",
}


def create(name: str, **params) -> CostModel:
    """A new, unfitted model by name (see :data:`MODELS`) with its hyperparameters."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid: {sorted(MODELS)}")
    return MODELS[name](**params)


def families_of(names: list[str]) -> tuple[str, ...]:
    """The feature families (see :data:`~tenset_study.models.inputs.FAMILIES`) the named models need."""
    needed = {family for name in names for family in MODELS[name].families}
    return tuple(f for f in ("tokens", "perstore", "context") if f in needed)


__all__ = ["CostModel", "ModelInputs", "architecture_table", "build_inputs", "create", "families_of", "MODELS", "DESCRIPTIONS"]
