"""``ours`` v2 (models/stores.py): per-store sets kept unpooled and cached, fit / predict / save / load on
data/mini, FiLM makes the hardware matter, scores invariant to the order of stores and to padding, the
fallback for programs without per-store features, ``ours-v1`` saved and loaded under both names, and the
shared early-stopping rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import small_cpu_inputs
from tenset_study import models
from tenset_study.features import perstore as ps
from tenset_study.features.cache import _stack
from tenset_study.models.early_stopping import held_out_tasks
from tenset_study.models.stores import OursV2Model, _StoreSetNetwork

TINY = {"epochs": 3, "hidden": 32, "heads": 4, "device": "cpu"}


@pytest.fixture(scope="module")
def small():
    """Six CPU tasks of data/mini on its CPU platforms, with per-store sets, tokens and context."""
    torch.set_num_threads(1)
    return small_cpu_inputs(("stores", "perstore", "tokens", "context"), max_len=32)


# --- per-store sets (fast) --------------------------------------------------------------------------------


def test_padded_sets_give_back_the_stores_and_the_same_pooled_features() -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(n, ps.PERSTORE_WIDTH)).astype(np.float32) for n in (1, 3, 2)]
    arrays += [np.zeros((0, ps.PERSTORE_WIDTH), np.float32), None]
    sets = ps.pad_stores(arrays)
    assert sets.shape == (5, 3, 1 + ps.PERSTORE_WIDTH)
    stores, counts, failed = ps.split_sets(sets)
    assert counts.tolist() == [1, 3, 2, 0, 0] and failed.tolist() == [False] * 4 + [True]
    assert np.isfinite(stores).all() and not stores[0, 1:].any(), "padding rows are zeros"
    back = ps.unpad_sets(sets)
    assert back[4] is None and back[3].shape == (0, ps.PERSTORE_WIDTH)
    for a, b in zip(arrays[:4], back[:4]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ps.pool_stores(back), ps.pool_stores(arrays))
    # cached parts with fewer stores are padded (flag 0) to the longest when the parts are joined
    joined = _stack([ps.pad_stores(arrays[:1]), sets])
    assert joined.shape == (6, 3, 1 + ps.PERSTORE_WIDTH) and ps.split_sets(joined)[1].tolist() == [1, 1, 3, 2, 0, 0]


def _network(context_width: int = 5, seed: int = 0) -> _StoreSetNetwork:
    torch.manual_seed(seed)
    network = _StoreSetNetwork(store_width=7, token_width=0, context_width=context_width, hidden=16, heads=2).eval()
    with torch.no_grad():  # FiLM starts as the identity; give it weights as training would
        for p in network.film.net[-1].parameters():
            p.normal_(0.0, 0.5)
    return network


def test_scores_do_not_depend_on_the_order_of_stores_or_the_padding() -> None:
    network = _network()
    rng = np.random.default_rng(1)
    counts = torch.tensor([1, 3, 4, 2])
    stores = torch.as_tensor(rng.normal(size=(4, 4, 7)), dtype=torch.float32)
    context = torch.as_tensor(rng.normal(size=(4, 5)), dtype=torch.float32)
    with torch.no_grad():
        base = network(stores, counts, context)
        permuted = stores.clone()
        for i, n in enumerate(counts.tolist()):
            permuted[i, :n] = stores[i, torch.as_tensor(rng.permutation(n))]
        padded = torch.cat([stores, torch.as_tensor(rng.normal(size=(4, 5, 7)) * 100, dtype=torch.float32)], 1)
        for i, n in enumerate(counts.tolist()):  # garbage beyond the count, not only zeros, must be ignored
            padded[i, n:4] = 1e3
        np.testing.assert_allclose(network(permuted, counts, context), base, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(network(padded, counts, context), base, rtol=1e-5, atol=1e-5)
        # one program scored alone (cropped to its own stores) equals its score in the batch
        np.testing.assert_allclose(network(stores[1:2, :3], counts[1:2], context[1:2]), base[1:2], atol=1e-5)


def test_film_lets_the_context_reorder_programs_not_only_shift_them() -> None:
    network = _network()
    rng = np.random.default_rng(2)
    stores = torch.as_tensor(rng.normal(size=(40, 3, 7)), dtype=torch.float32)
    counts = torch.as_tensor(rng.integers(1, 4, size=40))
    one, other = (torch.as_tensor(rng.normal(size=(1, 5)), dtype=torch.float32).expand(40, 5) for _ in range(2))
    with torch.no_grad():
        a, b = network(stores, counts, one).numpy(), network(stores, counts, other).numpy()
    assert np.ptp(a - b) > 1e-3, "a constant shift would leave every ranking as it is"
    assert (np.argsort(a) != np.argsort(b)).any()


# --- the model on data/mini -------------------------------------------------------------------------------


def test_ours_is_v2_fits_predicts_and_round_trips(small, tmp_path) -> None:
    _, sub, inputs = small
    assert type(models.create("ours")) is OursV2Model and type(models.create("ours-v1")) is models.OursModel
    assert inputs.stores.shape[2] == ps.PERSTORE_WIDTH and inputs.store_counts.min() >= 0
    train = np.arange(len(sub))
    model = models.create("ours", seed=0, **TINY).fit(inputs, train)
    scores = model.predict(inputs, train)
    assert scores.shape == (len(sub),) and np.isfinite(scores).all() and np.ptp(scores) > 0
    assert model.metadata["model"] == "ours" and model.metadata["feature_versions"]["stores"].startswith("perstore")
    again = models.CostModel.load(model.save(tmp_path / "ours.model"))
    assert type(again) is OursV2Model
    np.testing.assert_array_equal(again.predict(inputs, train), scores)
    with_tokens = models.create("ours", seed=0, use_tokens=True, **TINY).fit(inputs, train)
    assert with_tokens.dims_["token_width"] > 0 and np.isfinite(with_tokens.predict(inputs, train)).all()


def test_hardware_features_change_a_trained_models_ranking(small) -> None:
    _, sub, inputs = small
    assert len(inputs.platform_ids) >= 2, "data/mini's CPU tasks are measured on two CPUs"
    model = models.create("ours", seed=0, **{**TINY, "epochs": 6}).fit(inputs, np.arange(len(sub)))
    positions = np.flatnonzero(inputs.platform_row == 0)
    scores = model.predict(inputs, positions)
    swapped = inputs.hardware.copy()
    swapped[0] = inputs.hardware[1]
    inputs.hardware, original = swapped, inputs.hardware
    try:
        other = model.predict(inputs, positions)
    finally:
        inputs.hardware = original
    assert np.ptp(scores - other) > 1e-4, "the other platform's hardware features must change more than an offset"
    blind = models.create("ours", seed=0, use_hardware=False, **TINY).fit(inputs, np.arange(len(sub)))
    assert blind.dims_["context_width"] == inputs.workload.shape[1]


def test_ours_v1_saved_under_either_name_loads_as_v1(small, tmp_path) -> None:
    _, sub, inputs = small
    train = np.arange(len(sub))
    v1 = models.create("ours-v1", seed=0, epochs=1, hidden=16, heads=2).fit(inputs, train)
    scores = v1.predict(inputs, train)
    back = models.CostModel.load(v1.save(tmp_path / "v1.model"))
    assert type(back) is models.OursModel and back.name == "ours-v1"
    np.testing.assert_array_equal(back.predict(inputs, train), scores)
    v1.metadata["model"] = "ours"  # as models were saved before v2 took the name
    old = models.CostModel.load(v1.save(tmp_path / "old-ours.model"))
    assert type(old) is models.OursModel
    np.testing.assert_array_equal(old.predict(inputs, train), scores)


def test_programs_without_per_store_features_fall_back_to_tokens_and_say_so(small, monkeypatch, capsys) -> None:
    import dataclasses

    import pandas as pd

    _, sub, inputs = small
    with pytest.raises(ps.PerStoreError, match="TVM 0.27 has no Ansor feature extractor") as err:
        ps._check_programs(pd.DataFrame({"encoding": ["ansor"], "task": ["t"]}), pd.DataFrame())
    ansor = dataclasses.replace(inputs, stores=None, store_counts=None,
                                versions={**inputs.versions, "stores": f"unavailable: {err.value}"})
    train = np.arange(len(sub))
    model = models.create("ours", seed=0, **TINY).fit(ansor, train)
    assert model.dims_["store_width"] == 0 and np.isfinite(model.predict(ansor, train)).all()
    assert "falling back to schedule tokens only" in model.fallback_ and "Ansor" in model.fallback_
    assert model.metadata["feature_versions"]["stores"].startswith("unavailable")
    no_family = dataclasses.replace(inputs, stores=None, store_counts=None, versions={})
    with pytest.warns(UserWarning, match=r"built without the 'stores' family\); falling back to schedule tokens"):
        models.create("ours", seed=0, **TINY).fit(no_family, train)
    with pytest.raises(ValueError, match="no per-store features .*Ansor.* and no schedule tokens"):
        models.create("ours", seed=0, **TINY).fit(dataclasses.replace(ansor, tokens=None, lengths=None), train)
    on_stores = models.create("ours", seed=0, **TINY).fit(inputs, train)
    with pytest.raises(ValueError, match="reads per-store features, which these inputs lack"):
        on_stores.predict(ansor, train)

    # build_inputs: an Ansor dataset leaves the sets out with a warning saying why
    from tenset_study.data.dataset import Dataset
    from tenset_study.models.inputs import build_inputs
    from conftest import MINI_DATA

    def refuse(*args, **kwargs):
        raise err.value

    monkeypatch.setattr(ps, "program_store_sets", refuse)
    capsys.readouterr()
    built = build_inputs(Dataset.open(MINI_DATA), sub, families=("stores", "context"))
    assert built.stores is None and "Ansor" in built.versions["stores"]
    said = capsys.readouterr().out.strip().splitlines()
    assert len(said) == 1 and said[0].startswith("per-store feature sets unavailable") and "fall back" in said[0]


def test_early_stopping_holds_out_whole_tasks_and_keeps_the_best_epoch(small) -> None:
    _, sub, inputs = small
    train = np.arange(len(sub))
    fit, valid = held_out_tasks(inputs, train, 0.34, np.random.default_rng(0))
    tasks = sub["task"].to_numpy()
    assert len(valid) and not set(tasks[fit]) & set(tasks[valid]) and len(fit) + len(valid) == len(train)
    assert len(held_out_tasks(inputs, train, 0.0, np.random.default_rng(0))[1]) == 0
    for name in ("ours", "mlp"):  # one rule for every neural model
        model = models.create(name, seed=0, epochs=12, hidden=16, valid_tasks=0.34, patience=2).fit(inputs, train)
        losses = [row["valid_loss"] for row in model.history_]
        assert len(losses) <= 12 and model.best_epoch_ == int(np.argmin(losses))
        assert len(losses) == 12 or len(losses) - 1 - model.best_epoch_ == 2
        assert model.metadata["train_records"] == len(train)
    joint = models.create("mlp", epochs=10, max_records_seen=100, budget_per_platform=True)
    assert joint.epochs_for(100, platforms=3) == 3 and models.create("mlp", epochs=10, max_records_seen=100).epochs_for(
        100, platforms=3) == 1


def test_presets_give_every_neural_model_the_same_budget_rule() -> None:
    from tenset_study.evaluation import experiments

    book, full = experiments.resolve_preset("book"), experiments.resolve_preset("full")
    for name in ("mlp", "tlp", "ours", "ours-v1", "mtl"):
        assert experiments.model_params(name, book)["budget_per_platform"] is True
        assert "valid_tasks" not in experiments.model_params(name, book), "early stopping is off unless asked"
    assert "use_tokens" not in experiments.model_params("ours", book)
    assert experiments.model_params("ours", full)["use_tokens"] is True
    for name in ("mlp", "tlp", "ours", "ours-v1", "mtl"):
        params = experiments.model_params(name, full)
        assert (params["valid_tasks"], params["patience"], params["epochs"]) == (0.1, 4, 40), "one rule, on in full"
    assert set(experiments.model_params("xgb", full)) == {"rounds"}, "MetaSchedule's tree depth in book and full"
    shallow = experiments.model_params("xgb", experiments.resolve_preset("smoke"))
    deep = models.create("xgb", **experiments.model_params("xgb", full))
    assert models.create("xgb", **shallow).max_depth == 4 < deep.max_depth, "the smoke preset's shallow trees"
    assert "use_tokens" not in experiments.model_params("ours-v1", full)
