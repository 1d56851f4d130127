"""Cost models behind one interface (:class:`~tenset_study.models.base.CostModel`): ``fit``, ``predict``, ``save``.

``create("xgb" | "mlp" | "tlp" | "ours" | "ours-v1" | "mtl", **params)`` builds one by name, as MetaSchedule's
``CostModel.create`` does; ``CostModel.load(path)`` reads any saved model back.

Modules: :mod:`.base` (the interface, saving and loading), :mod:`.inputs` (:class:`ModelInputs`, what a model
reads, and :func:`build_inputs`), :mod:`.xgb` (XGBoost), :mod:`.neural` (MLP, TLP and ours-v1: attention over
schedule tokens), :mod:`.stores` (ours v2: attention over per-store feature sets, FiLM by hardware and workload),
:mod:`.multihead` (MTL-TLP), :mod:`.ranking` (ranking lists and the LambdaRank loss), :mod:`.early_stopping`
(validation tasks and patience),
:mod:`.streaming` (training from a feature store), :mod:`.device` (CPU or GPU). The neural models import
torch, so their classes (and :data:`MODELS`) load on first use: ``import tenset_study.models`` stays light.
"""

from __future__ import annotations

from .base import CostModel
from .inputs import FAMILIES, ModelInputs, build_inputs
from .xgb import XGBModel

#: The model names :func:`create` knows, in the order tables list them (:data:`MODELS` maps them to classes).
NAMES: tuple[str, ...] = ("xgb", "mlp", "tlp", "ours", "ours-v1", "mtl")

DESCRIPTIONS = {
    "xgb": "XGBoost regression on MetaSchedule's per-store features (TenSet's and MetaSchedule's default)",
    "mlp": "TenSet's MLP on the same per-store features, LambdaRank loss",
    "tlp": "TLP: attention over schedule tokens only, LambdaRank loss",
    "ours": "ours v2: attention across a program's per-store feature vectors, every token conditioned on hardware "
            "and workload features (FiLM), LambdaRank loss, trained on every platform",
    "ours-v1": "ours v1: attention over schedule tokens joined with a hardware and a workload token, LambdaRank loss",
    "mtl": "MTL-TLP: TLP's attention trunk shared by all platforms, one output head per platform, LambdaRank loss",
}

# Names of the torch modules, imported on first access (PEP 562).
_NEURAL = {"AttentionModel": "neural", "MLPModel": "neural", "OursModel": "neural", "architecture_table": "stores",
           "MultiHeadModel": "multihead", "OursV2Model": "stores"}


def _models() -> dict[str, type[CostModel]]:
    """:data:`MODELS`, importing the neural models (torch) the first time."""
    found = globals().get("MODELS")
    if found is None:
        from .multihead import MultiHeadModel
        from .neural import AttentionModel, MLPModel, OursModel
        from .stores import OursV2Model

        found = globals()["MODELS"] = {"xgb": XGBModel, "mlp": MLPModel, "tlp": AttentionModel, "ours": OursV2Model,
                                       "ours-v1": OursModel, "mtl": MultiHeadModel}
    return found


def __getattr__(name: str):
    if name == "MODELS":
        return _models()
    if name in _NEURAL:
        from . import multihead, neural, stores

        return getattr({"neural": neural, "multihead": multihead, "stores": stores}[_NEURAL[name]], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def create(name: str, **params) -> CostModel:
    """A new, unfitted model by name (see :data:`MODELS`) with its hyperparameters."""
    if name not in NAMES:
        raise ValueError(f"unknown model {name!r}; valid: {sorted(NAMES)}")
    return _models()[name](**params)


def families_of(names: list[str]) -> tuple[str, ...]:
    """The feature families (see :data:`~tenset_study.models.inputs.FAMILIES`) the named models need."""
    models = _models()
    needed = {family for name in names for family in models[name].families}
    return tuple(f for f in FAMILIES if f in needed)


# A saved model names its class; CostModel.load asks here for a class not registered yet (torch ones load late).
CostModel.find_class = staticmethod(lambda name: _models().get(name) if name in NAMES else None)

__all__ = ["DESCRIPTIONS", "FAMILIES", "MODELS", "NAMES", "AttentionModel", "CostModel", "MLPModel", "ModelInputs",
           "MultiHeadModel", "OursModel", "OursV2Model", "XGBModel", "architecture_table", "build_inputs", "create",
           "families_of"]
