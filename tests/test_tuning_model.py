"""The project's cost models inside MetaSchedule (:mod:`tenset_study.tuning.cost_model`): features built from
candidates equal the dataset's, every model scores every candidate, online updates, save / load, fine-tuning,
and real ``ms.tune_tir`` runs with ``cost_model=ProjectCostModel(...)`` (tiny models, 16 trials)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import replayed_candidates, small_cpu_inputs
from tenset_study import models
from tenset_study.programs import targets, tvm_setup
from tenset_study.models.base import CostModel

MAX_LEN = 32
TINY = {"xgb": {"rounds": 10, "threads": 1}, "mlp": {"epochs": 1, "hidden": 16, "device": "cpu"},
        "tlp": {"epochs": 1, "hidden": 16, "heads": 2, "device": "cpu"},
        "ours-v1": {"epochs": 1, "hidden": 16, "heads": 2, "device": "cpu"},
        "ours": {"epochs": 1, "hidden": 16, "heads": 2, "device": "cpu"}}


@pytest.fixture(scope="module")
def trained():
    """Six CPU tasks of data/mini, their inputs, one tiny fitted model per kind."""
    ds, sub, inputs = small_cpu_inputs(("tokens", "perstore", "stores", "context"), max_len=MAX_LEN)
    positions = np.arange(len(sub))
    fitted = {name: models.create(name, seed=0, **TINY[name]).fit(inputs, positions) for name in TINY}
    return {"ds": ds, "records": sub, "inputs": inputs, "models": fitted}


def _copy(model: CostModel, tmp_path: Path) -> CostModel:
    return CostModel.load(model.save(tmp_path / f"copy-{model.name}.model"))


@pytest.fixture(scope="module")
def dataset_candidates(trained):
    """MetaSchedule candidates replayed from 12 stored programs of one task, with a TuneContext, the
    platform row and the positions of the matching records."""
    ds, recs = trained["ds"], trained["records"]
    task = recs["task"].value_counts().index[0]
    platform = sorted(recs["platform"].unique())[0]
    rows = recs[(recs["task"] == task) & (recs["platform"] == platform)].head(12)
    target = ds.to_pandas("tasks").set_index("task").loc[task, "target"]
    context, candidates = replayed_candidates(ds, task, rows["program"], target)
    platforms = ds.to_pandas("platforms").drop_duplicates("platform", keep="last").set_index("platform")
    platform_row = {"platform": platform, **platforms.loc[platform].to_dict()}
    return {"task": task, "context": context, "candidates": candidates, "positions": rows.index.to_numpy(),
            "platform": platform_row}


# --- features and scores (no tuning) ---------------------------------------------------------------------


def test_candidate_features_equal_the_dataset_features(trained, dataset_candidates) -> None:
    from tenset_study.tuning.cost_model import ProjectCostModel

    inputs, dc = trained["inputs"], dataset_candidates
    for name in ("ours-v1", "ours", "xgb"):
        cost_model = ProjectCostModel(trained["models"][name], platform=dc["platform"], max_len=MAX_LEN)
        built = cost_model.inputs_for(dc["context"], dc["candidates"])
        n = len(dc["candidates"])
        assert built.task_ids == [dc["task"]], "task id from the structural hash, as in the dataset"
        assert built.platform_ids == [dc["platform"]["platform"]]
        np.testing.assert_allclose(built.workload_of(np.arange(n)), inputs.workload_of(dc["positions"]), atol=1e-6)
        np.testing.assert_allclose(built.hardware_of(np.arange(n)), inputs.hardware_of(dc["positions"]), atol=1e-6)
        if name == "ours-v1":
            tokens, lengths = built.tokens_of(np.arange(n))
            want_tokens, want_lengths = inputs.tokens_of(dc["positions"])
            np.testing.assert_array_equal(lengths, want_lengths)
            np.testing.assert_allclose(tokens, want_tokens, atol=1e-6)
            assert built.perstore is None
        elif name == "ours":  # v2: per-store sets, no tokens (it was fit without them)
            stores, counts = built.stores_of(np.arange(n))
            want_stores, want_counts = inputs.stores_of(dc["positions"])
            np.testing.assert_array_equal(counts, want_counts)
            np.testing.assert_allclose(stores, want_stores, rtol=1e-5, atol=1e-4)
            assert built.tokens is None and built.perstore is None
        else:
            np.testing.assert_allclose(built.perstore_of(np.arange(n)), inputs.perstore_of(dc["positions"]),
                                       rtol=1e-5, atol=1e-4)
            assert built.tokens is None


@pytest.mark.parametrize("name", ["ours", "xgb"])
def test_remembered_store_features_equal_a_fresh_extraction(trained, dataset_candidates, name: str) -> None:
    from tenset_study.tuning.cost_model import ProjectCostModel

    dc = dataset_candidates
    candidates = dc["candidates"] + dc["candidates"][:3]  # three modules twice in one call
    fresh = ProjectCostModel(trained["models"][name], platform=dc["platform"], feature_cache=0)
    cached = ProjectCostModel(trained["models"][name], platform=dc["platform"])
    want = fresh.inputs_for(dc["context"], candidates)
    first = cached.inputs_for(dc["context"], candidates)
    assert cached.timing()["feature_cache_misses"] == len(dc["candidates"]), "each module extracted once"
    assert cached.timing()["feature_cache_hits"] == 3
    again = cached.inputs_for(dc["context"], candidates)
    assert cached.timing()["feature_cache_misses"] == len(dc["candidates"]), "nothing extracted the second time"
    assert cached.timing()["feature_cache_hits"] == 3 + len(candidates)
    assert fresh.timing()["feature_cache_hits"] == 0 and fresh.timing()["feature_cache_misses"] == len(candidates)
    family = "stores" if name == "ours" else "perstore"
    for built in (first, again):
        np.testing.assert_array_equal(getattr(built, family), getattr(want, family))
    np.testing.assert_array_equal(cached.predict(dc["context"], candidates), fresh.predict(dc["context"], candidates))


def test_feature_cache_drops_the_least_recently_used_modules(dataset_candidates) -> None:
    from tenset_study.tuning.feature_cache import StoreFeatureCache
    from tenset_study.tuning.model_inputs import store_arrays

    dc = dataset_candidates
    cache = StoreFeatureCache(max_entries=4)
    cache.arrays("task", dc["context"], dc["candidates"], store_arrays)
    assert len(cache) == 4 and cache.misses == len(dc["candidates"])
    cache.arrays("task", dc["context"], dc["candidates"][-4:], store_arrays)
    assert cache.hits == 4, "the last four modules are the ones kept"
    cache.arrays("task", dc["context"], dc["candidates"][:1], store_arrays)
    assert cache.misses == len(dc["candidates"]) + 1, "the first module was dropped"
    cache.arrays("another-task", dc["context"], dc["candidates"][:1], store_arrays)
    assert cache.misses == len(dc["candidates"]) + 2, "entries belong to their task"
    with pytest.raises(ValueError, match="max_entries"):
        StoreFeatureCache(max_entries=-1)


@pytest.mark.parametrize("name", list(TINY))
def test_predict_scores_every_candidate_in_model_order(trained, dataset_candidates, name: str) -> None:
    from tenset_study.tuning.cost_model import ProjectCostModel

    dc = dataset_candidates
    cost_model = ProjectCostModel(trained["models"][name], max_len=MAX_LEN)  # platform read off this machine
    scores = cost_model.predict(dc["context"], dc["candidates"])
    assert scores.dtype == np.float64 and scores.shape == (len(dc["candidates"]),) and np.isfinite(scores).all()
    raw = trained["models"][name].predict(cost_model.inputs_for(dc["context"], dc["candidates"]),
                                          np.arange(len(dc["candidates"])))
    if name == "xgb":
        np.testing.assert_allclose(scores, raw, rtol=1e-6, err_msg="xgb: raw normalized-throughput predictions")
    else:
        assert ((scores > 0) & (scores < 1)).all(), "rankers: sigmoid of z-scores, what MetaSchedule can sample with"
        assert (np.diff(scores[np.argsort(raw, kind="stable")]) >= 0).all(), "the transform keeps the model's order"
    # a second call (same round) keeps the calibration: the same candidates get the same scores
    np.testing.assert_allclose(cost_model.predict(dc["context"], dc["candidates"]), scores)
    timing = cost_model.timing()
    assert timing["predict_calls"] == 2 and timing["candidates_scored"] == 2 * len(dc["candidates"])
    assert timing["predict_seconds"] > 0 and timing["candidates_per_s"] > 0
    # no candidates: an empty array (TVM's own FFI wrapper cannot pass an empty array, so ask the Python object)
    assert len(cost_model._inst.predict(dc["context"], [])) == 0


def test_labels_count_failed_runs_as_worst() -> None:
    from types import SimpleNamespace

    from tenset_study.tuning.model_inputs import normalized_labels, result_latency

    ok = SimpleNamespace(run_secs=[2e-3, 4e-3], error_msg=None)
    assert result_latency(ok) == pytest.approx(3e-3)
    assert result_latency(SimpleNamespace(run_secs=None, error_msg="build failed")) is None
    assert result_latency(SimpleNamespace(run_secs=[1e10], error_msg=None)) is None, "MetaSchedule's failure sentinel"
    assert result_latency(SimpleNamespace(run_secs=[], error_msg=None)) is None
    np.testing.assert_allclose(normalized_labels([2.0, None, 1.0, 4.0]), [0.5, 0.0, 1.0, 0.25])
    np.testing.assert_array_equal(normalized_labels([None, None]), [0.0, 0.0])


@pytest.mark.parametrize("name", ["ours-v1", "ours", "xgb"])
def test_update_learns_online_once_there_are_enough_records(trained, dataset_candidates, name: str,
                                                             tmp_path: Path) -> None:
    from tvm.s_tir.meta_schedule.runner import RunnerResult

    from tenset_study.tuning.cost_model import ProjectCostModel

    dc = dataset_candidates
    inputs, positions = trained["inputs"], np.arange(trained["inputs"].size)
    model = _copy(trained["models"][name], tmp_path)
    before = model.predict(inputs, positions)
    cands = dc["candidates"]
    results = [RunnerResult(run_secs=[1e-4 * (i + 1)], error_msg=None) for i in range(len(cands) - 1)]
    results.append(RunnerResult(run_secs=None, error_msg="run failed"))

    frozen = ProjectCostModel(model, online=False, max_len=MAX_LEN, min_online=4)
    frozen.update(dc["context"], cands, results)
    assert frozen.online_records() == len(cands) and frozen.timing()["online_updates"] == 0
    np.testing.assert_allclose(model.predict(inputs, positions), before, err_msg="online=False keeps the model")
    online = frozen.online_inputs()
    assert online.records["label"].iloc[0] == 1.0 and online.records["label"].iloc[-1] == 0.0

    cost_model = ProjectCostModel(model, max_len=MAX_LEN, min_online=2 * len(cands))
    cost_model.update(dc["context"], cands, results)
    assert cost_model.timing()["online_updates"] == 0, "fewer than min_online records: pretrained model only"
    np.testing.assert_allclose(model.predict(inputs, positions), before)
    first = cost_model.predict(dc["context"], cands)
    cost_model.update(dc["context"], cands, results)
    timing = cost_model.timing()
    assert timing["online_updates"] == 1 and timing["online_records"] == 2 * len(cands)
    assert timing["update_calls"] == 2 and timing["train_seconds"] > 0
    assert np.abs(model.predict(inputs, positions) - before).max() > 1e-6, "the update changed the model"
    assert model.metadata["online_updates"] == 1
    assert np.isfinite(cost_model.predict(dc["context"], cands)).all() and np.isfinite(first).all()


@pytest.mark.parametrize("name", ["ours-v1", "ours", "xgb"])
def test_fine_tune_keeps_metadata_and_changes_the_model(trained, name: str, tmp_path: Path) -> None:
    from tenset_study.tuning import fine_tune

    inputs = trained["inputs"]
    positions = np.arange(inputs.size)
    model = _copy(trained["models"][name], tmp_path)
    metadata = json.loads(json.dumps(model.metadata))
    before = model.predict(inputs, positions)
    share = positions[trained["records"]["platform"].to_numpy() == trained["records"]["platform"].iloc[0]][:60]
    assert fine_tune(model, inputs, share, epochs=2, rounds=5) is model
    assert np.abs(model.predict(inputs, positions) - before).max() > 1e-6
    for key in ("model", "train_records", "platforms", "feature_versions", "params"):
        assert model.metadata[key] == metadata[key]
    entry = model.metadata["fine_tuning"][-1]
    assert entry["records"] == len(share) and entry["platforms"] == [trained["records"]["platform"].iloc[0]]
    again = CostModel.load(model.save(tmp_path / "tuned.model"))
    assert again.metadata["fine_tuning"] == model.metadata["fine_tuning"]
    np.testing.assert_allclose(again.predict(inputs, positions), model.predict(inputs, positions), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="no records"):
        fine_tune(model, inputs, positions[:0])


def test_neural_fine_tune_needs_a_fitted_model(trained) -> None:
    with pytest.raises(ValueError, match="before fit"):
        models.create("tlp").fine_tune(trained["inputs"], np.arange(4))


# --- real tuning -----------------------------------------------------------------------------------------


def _matmul():
    import tvm
    from tvm import te

    a = te.placeholder((64, 64), "float32", name="A")
    b = te.placeholder((64, 64), "float32", name="B")
    k = te.reduce_axis((0, 64), name="k")
    c = te.compute((64, 64), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="matmul")
    return tvm.IRModule({"main": te.create_prim_func([a, b, c])})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ours-v1", "ours", "xgb"])
def test_tune_tir_with_project_cost_model(trained, name: str, tmp_path: Path) -> None:
    from tvm.s_tir import meta_schedule as ms

    from tenset_study.collect.builder import PersistentBuilder
    from tenset_study.collect.measure import export_shared_library
    from tenset_study.tuning.cost_model import ProjectCostModel

    inputs, positions = trained["inputs"], np.arange(trained["inputs"].size)
    model = _copy(trained["models"][name], tmp_path)
    before = model.predict(inputs, positions)
    cost_model = ProjectCostModel(model, max_len=MAX_LEN, min_online=4)
    evaluator = ms.runner.EvaluatorConfig(number=1, repeat=1, min_repeat_ms=0)
    builder = PersistentBuilder(2, 60.0, export_shared_library)  # any MetaSchedule builder would do
    with tvm_setup.metaschedule_logging():
        database = ms.tune_tir(
            mod=_matmul(), target=targets.make_target(targets.cpu_target(2)), work_dir=str(tmp_path / "work"),
            max_trials_global=16, num_trials_per_iter=8, builder=builder,
            runner=ms.runner.LocalRunner(evaluator_config=evaluator, initializer=tvm_setup.builder_initializer),
            strategy=ms.search_strategy.EvolutionarySearch(population_size=64, init_min_unmeasured=16,
                                                           genetic_num_iters=2),
            cost_model=cost_model, seed=0,
        )
    builder.close()
    tuning_records = database.get_all_tuning_records()
    secs = [float(r.run_secs[0]) for r in tuning_records if r.run_secs]
    assert len(secs) >= 8 and all(0 < s < 1e-1 for s in secs), "valid measured records in the database"

    timing = cost_model.timing()
    assert timing["predict_calls"] > 0 and timing["candidates_scored"] >= timing["predict_calls"]
    assert timing["update_calls"] == 2 and timing["online_records"] == len(tuning_records)
    assert timing["online_updates"] >= 1
    assert np.abs(model.predict(inputs, positions) - before).max() > 1e-6, "online updates changed the model"

    path = tmp_path / "tuned.model"
    cost_model.save(str(path))
    saved = json.loads(path.with_suffix(".model.json").read_text())
    assert saved["model"] == name and saved["online_updates"] == timing["online_updates"]
    assert saved["train_records"] == len(positions) and saved["online"]["records"] == len(tuning_records)
    reloaded = ProjectCostModel(str(path), max_len=MAX_LEN)
    assert reloaded.timing()["online_updates"] == 0  # counters start afresh; the metadata keeps the count
    assert reloaded.model.metadata["online_updates"] == timing["online_updates"]
    np.testing.assert_allclose(reloaded.model.predict(inputs, positions), model.predict(inputs, positions),
                               rtol=1e-5, atol=1e-5)
    cost_model.load(str(path))  # MetaSchedule's load: the saved model replaces the wrapped one
    assert cost_model.model.metadata["online_updates"] == timing["online_updates"]
