"""Cost models on real data: the LambdaRank loss against a brute-force version, fit / predict / save / load
for every model on data/mini's records, learning beats chance, metadata, the experiment runner
and the ``train`` / ``evaluate`` commands."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tenset_study.evaluation import experiments
from tenset_study import models
from tenset_study.cli import main as cli_main
from tenset_study.data.dataset import Dataset
from tenset_study.evaluation.metrics import pairwise_accuracy
from tenset_study.models.ranking import group_lists, lambdarank_loss, list_batches

ROOT = Path(__file__).resolve().parents[1]
MINI_DATASET = ROOT / "data" / "mini"
SMALL = {"xgb": {"rounds": 20}, "mlp": {"epochs": 3, "hidden": 32}, "tlp": {"epochs": 3, "hidden": 32, "heads": 4},
         "ours": {"epochs": 3, "hidden": 32, "heads": 4}, "ours-v1": {"epochs": 3, "hidden": 32, "heads": 4},
         "mtl": {"epochs": 3, "hidden": 32, "heads": 4}}


# --- ranking loss and list batching (fast) ---------------------------------------------------------------


def _brute_lambdarank(scores: list[float], labels: list[float]) -> float:
    gains = [2.0 ** y - 1.0 for y in labels]
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    rank = {i: r for r, i in enumerate(order)}
    ideal = sorted(gains, reverse=True)
    idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    total = 0.0
    for i, j in itertools.permutations(range(len(scores)), 2):
        if labels[i] > labels[j]:
            delta = abs((gains[i] - gains[j]) * (1 / math.log2(rank[i] + 2) - 1 / math.log2(rank[j] + 2))) / idcg
            total += delta * math.log1p(math.exp(-(scores[i] - scores[j])))
    return total


def test_lambdarank_matches_brute_force_with_padding() -> None:
    rng = np.random.default_rng(0)
    lists = [(rng.normal(size=5).tolist(), rng.uniform(0.1, 1, size=5).tolist()),
             (rng.normal(size=3).tolist(), [1.0, 0.5, 0.25])]
    scores = torch.zeros(2, 5)
    labels = torch.zeros(2, 5)
    mask = torch.zeros(2, 5, dtype=torch.bool)
    for i, (s, y) in enumerate(lists):
        scores[i, : len(s)] = torch.tensor(s)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(s)] = True
    expected = np.mean([_brute_lambdarank(s, y) for s, y in lists])
    assert float(lambdarank_loss(scores, labels, mask)) == pytest.approx(expected, rel=1e-5)


def test_lambdarank_prefers_the_right_order() -> None:
    labels = torch.tensor([[1.0, 0.5, 0.1]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    right = lambdarank_loss(torch.tensor([[3.0, 2.0, 1.0]]), labels, mask)
    wrong = lambdarank_loss(torch.tensor([[1.0, 2.0, 3.0]]), labels, mask)
    assert float(right) < float(wrong)


def test_group_lists_stay_within_one_group() -> None:
    groups = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 3])
    lists = group_lists(groups, np.arange(len(groups)), list_size=2, rng=np.random.default_rng(0))
    assert all(len(set(groups[chunk])) == 1 and 1 < len(chunk) <= 2 for chunk in lists)
    covered = np.concatenate(lists)
    assert 5 not in covered, "a group of one program cannot be ranked"
    assert len(covered) == len(set(covered.tolist()))
    positions, mask = next(list_batches(lists, 3, 2))
    assert positions.shape == mask.shape == (3, 2)


# --- models on data/mini (slower: features and training) -------------------------------------


@pytest.fixture(scope="module")
def prepared():
    return experiments.prepare(Dataset.open(MINI_DATASET), list(models.MODELS), max_len=32)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(models.MODELS))
def test_fit_predict_save_load(name: str, prepared, tmp_path: Path) -> None:
    _, records, inputs, links = prepared
    split = experiments.default_split(records, links, "by-network")
    model = models.create(name, seed=1, **SMALL[name]).fit(inputs, split.train)
    scores = model.predict(inputs, split.test)
    assert scores.shape == (len(split.test),) and np.isfinite(scores).all()
    assert model.metadata["model"] == name and model.metadata["train_records"] == len(split.train)
    assert set(model.metadata["platforms"]) == set(records.iloc[split.train]["platform"])
    assert model.metadata["max_len"] == inputs.tokens.shape[1] == 32, "the token length a model needs travels with it"
    path = model.save(tmp_path / f"{name}.model")
    assert json.loads(path.with_suffix(".model.json").read_text())["model"] == name
    again = models.CostModel.load(path)
    np.testing.assert_allclose(again.predict(inputs, split.test), scores, rtol=1e-5, atol=1e-5)
    # the same seed gives the same model
    twice = models.create(name, seed=1, **SMALL[name]).fit(inputs, split.train).predict(inputs, split.test)
    np.testing.assert_allclose(twice, scores, rtol=1e-4, atol=1e-4)


LEGACY_MODELS = ROOT / "tests" / "data" / "legacy-models"


def test_models_saved_before_the_package_move_load_and_predict_as_before(prepared) -> None:
    """Every file in tests/data/legacy-models was written by the code before the package move (commit 0bec504),
    with its predictions on the by-network split's test positions (positions.npy) of these same inputs. The
    ``ours`` saved then is v1: it loads as ``ours-v1`` (class OursModel) although ``ours`` now names v2."""
    _, _, inputs, _ = prepared
    positions = np.load(LEGACY_MODELS / "positions.npy")
    expected = json.loads((LEGACY_MODELS / "predictions.json").read_text())
    paths = sorted(LEGACY_MODELS.glob("*.model"))
    assert {path.stem for path in paths} == set(expected) == set(models.MODELS) - {"ours-v1"}, "one per kind"
    for path in paths:
        model = models.CostModel.load(path)
        assert model.metadata["model"] == path.stem
        assert model.name == {"ours": "ours-v1"}.get(path.stem, path.stem)
        assert path.stem != "ours" or type(model) is models.OursModel
        scores = model.predict(inputs, positions)
        assert scores.shape == (len(positions),) == (len(expected[path.stem]),)
        np.testing.assert_allclose(scores, expected[path.stem], rtol=1e-5, atol=1e-5, err_msg=path.name)


def test_load_finds_a_model_class_not_imported_yet() -> None:
    """``import tenset_study.models`` leaves the torch models unimported; ``CostModel.load`` imports the saved one's."""
    import subprocess
    import sys

    code = ("import sys\nfrom tenset_study.models.base import CostModel\nassert 'torch' not in sys.modules\n"
            f"print(type(CostModel.load({str(LEGACY_MODELS / 'mtl.model')!r})).__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "MultiHeadModel"


@pytest.mark.slow
def test_trained_model_ranks_better_than_chance(prepared) -> None:
    _, records, inputs, links = prepared
    split = experiments.default_split(records, links, "within-task")
    model = models.create("ours", seed=0, epochs=6, hidden=32, heads=4).fit(inputs, split.train)
    test = records.iloc[split.test].reset_index(drop=True)
    assert pairwise_accuracy(test, model.predict(inputs, split.test)) > 0.6
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]


def test_attention_scores_do_not_depend_on_batching_or_cropping(prepared) -> None:
    _, records, inputs, _ = prepared
    rng = np.random.default_rng(0)
    positions = rng.choice(len(records), size=300, replace=False)
    model = models.create("ours-v1", seed=0, epochs=1, hidden=16, heads=2)
    model.fit(inputs, np.arange(len(records)))
    scores = model.predict(inputs, positions)
    shuffled = rng.permutation(len(positions))
    assert np.allclose(model.predict(inputs, positions[shuffled]), scores[shuffled], atol=1e-4)
    tokens, lengths = inputs.tokens_of(positions)  # full max_len, no sorting: the plain forward pass
    assert lengths.min() < tokens.shape[1], "some programs must be shorter than max_len for this test"
    with torch.inference_mode():
        plain = model.network_(torch.as_tensor(tokens), torch.as_tensor(lengths.astype(np.int64)),
                               torch.as_tensor(inputs.hardware_of(positions)),
                               torch.as_tensor(inputs.workload_of(positions))).numpy()
    assert np.allclose(scores, plain, rtol=1e-4, atol=1e-4)


def test_max_records_seen_bounds_the_epochs_of_a_fit(prepared) -> None:
    _, records, inputs, _ = prepared
    train = np.arange(400)
    capped = models.create("mlp", seed=0, epochs=5, hidden=16, max_records_seen=900)
    assert [capped.epochs_for(n) for n in (100, 400, 900, 5000)] == [5, 3, 1, 1]
    capped.fit(inputs, train)
    assert len(capped.history_) == 3 and capped.params()["max_records_seen"] == 900
    full = models.create("mlp", seed=0, epochs=5, hidden=16).fit(inputs, train)
    assert len(full.history_) == 5
    with pytest.raises(ValueError, match="max_records_seen"):
        models.create("ours", max_records_seen=0)
    preset = experiments.resolve_preset("book")
    assert experiments.model_params("ours", preset)["max_records_seen"] == preset["max_records_seen"]
    assert "max_records_seen" not in experiments.model_params("xgb", preset)


def test_predict_before_fit_and_unknown_model() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        models.create("nope")
    with pytest.raises(ValueError, match="before fit"):
        models.create("xgb").predict(None, np.arange(3))


@pytest.mark.slow
def test_experiment_rows_have_intervals_and_seeds(prepared) -> None:
    _, records, inputs, links = prepared
    split = experiments.default_split(records, links, "by-network")
    specs = experiments.model_specs(["xgb", "ours"], experiments.resolve_preset("smoke"))
    timings, scores, fitted = [], {}, {}
    results = experiments.run_experiment(specs, inputs, split, links, seeds=(0, 1), n_boot=50, timings=timings,
                                         scores=scores, models=fitted)
    assert set(results["seed"]) == {0, 1} and set(results["model"]) == {"xgb", "ours"}
    test_platforms = sorted(records.iloc[split.test]["platform"].unique())
    assert [sorted(m) for m in fitted["ours"]] == [["all"]], "ours: one joint model, the first seed's"
    assert [sorted(m) for m in fitted["xgb"]] == [test_platforms], "xgb: one model per platform, once"
    again = fitted["ours"][0]["all"].predict(inputs, split.test)
    np.testing.assert_allclose(again, scores["ours"][0], rtol=1e-5, atol=1e-6,
                               err_msg="the kept model is the one that made the first seed's scores")
    assert not np.allclose(scores["ours"][0], scores["ours"][1]), "the second seed trained a model of its own"
    histories = experiments.fitted_histories(fitted)
    assert list(histories) == ["ours"], "xgb has no per-epoch loss"
    assert len(histories["ours"]) == experiments.epochs_run(fitted["ours"][0]["all"]) and "loss" in histories["ours"][0]
    assert set(results[results["model"] == "xgb"]["seed"]) == {0}, "xgb is deterministic: trained once"
    assert (results["low"] <= results["value"] + 1e-9).all() and (results["value"] <= results["high"] + 1e-9).all()
    summary = experiments.summarize_seeds(results)
    assert (summary[summary["model"] == "ours"]["seeds"] == 2).all()
    # xgb is trained per platform, ours once
    assert len([t for t in timings if t.variant == "xgb"]) == records.iloc[split.test]["platform"].nunique()
    assert len([t for t in timings if t.variant == "ours"]) == 2


@pytest.mark.slow
def test_train_and_evaluate_commands(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ours.model"
    common = ["--dataset", str(MINI_DATASET), "--split", "by-network", "--max-len", "32"]
    assert cli_main(["train", *common, "--model", "ours", "--param", "epochs=1", "hidden=16", "heads=2",
                     "--out", str(out)]) == 0
    assert out.exists()
    csv = tmp_path / "eval.csv"
    assert cli_main(["evaluate", *common, "--model-path", str(out), "--n-boot", "20", "--out", str(csv)]) == 0
    text = csv.read_text()
    assert "pca" in text and "top5" in text
    assert cli_main(["train", *common, "--model", "ours", "--param", "epochs", "--out", str(out)]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_read_benchmarks_reads_the_committed_gpu_runs_and_names_a_bad_line(tmp_path: Path) -> None:
    from tenset_study.evaluation.experiments import read_benchmarks

    root = Path(__file__).resolve().parents[1]
    table = read_benchmarks(root / "benchmarks" / "results")
    gpu = table[table["file"] == "models-h200-2026-11-22.jsonl"]
    assert set(gpu["model"]) == {"ours", "tlp", "mlp"} and set(gpu["device"]) == {"cuda"}
    assert gpu["machine"].str.contains("H200").all() and (gpu["predict_per_s"] > 0).all()
    assert sorted(gpu.loc[gpu["model"] == "ours", "hidden"]) == [64, 256]
    (tmp_path / "models-x.jsonl").write_text('{"benchmark": "bench_models.py", "machine": "m"}\nnot json\n')
    with pytest.raises(ValueError, match=r"models-x.jsonl:2: not a JSON line"):
        read_benchmarks(tmp_path)


def test_read_ddp_benchmarks_reads_the_committed_nccl_run_and_names_bad_lines(tmp_path: Path) -> None:
    from tenset_study.evaluation.experiments import read_ddp_benchmarks

    root = Path(__file__).resolve().parents[1]
    table = read_ddp_benchmarks(root / "benchmarks" / "results")
    nccl = table[table["file"] == "ddp-h200x2-2026-11-22.jsonl"]
    assert sorted(nccl["ranks"]) == [1, 1, 2, 2] and (nccl["device"] == "NVIDIA H200").all()
    assert (nccl["host_gpus"] == 2).all() and nccl["nccl"].notna().all() and set(nccl["hidden"]) == {64, 256}
    single, double = nccl[nccl["ranks"] == 1], nccl[nccl["ranks"] == 2]
    assert (single["scaling_efficiency"] == 1.0).all()
    assert ((double["per_rank"] * 2 - double["records_per_s"]).abs() <= 1).all()
    assert (nccl["records_per_s_low"] <= nccl["records_per_s"]).all()
    assert (nccl["records_per_s"] <= nccl["records_per_s_high"]).all()
    (tmp_path / "ddp-x.jsonl").write_text('{"benchmark": "bench_ddp.py"}\n{"step": "store"}\n{oops\n')
    with pytest.raises(ValueError, match=r"ddp-x.jsonl:3: not a JSON line"):
        read_ddp_benchmarks(tmp_path)
    (tmp_path / "ddp-x.jsonl").write_text('{"step": "train", "world_size": 1}\n')
    with pytest.raises(ValueError, match=r"ddp-x.jsonl:1: a train line before any provenance line"):
        read_ddp_benchmarks(tmp_path)
