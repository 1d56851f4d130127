"""The transfer experiment: directions, what each arm may train on (leakage), target shares per task, the
multi-head model, fine-tuning a copy, and the smoke experiment end to end on tiny real inputs (two CPUs and
a GPU of data/mini)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tenset_study.evaluation import experiments
from tenset_study import models
from tenset_study.transfer import experiment as transfer
from tenset_study.book import transfer_report
from tenset_study.book.explore import ParameterError
from tenset_study.models.base import CostModel
from tenset_study.models.neural import NeuralRanker

MINI_DATA = Path(__file__).resolve().parents[1] / "data" / "mini"
FRACTIONS = [0.2, 0.5]


def tiny_transfer_inputs(train_tasks: int = 3, test_tasks: int = 2, max_len: int = 32):
    """``(records, inputs, network_tasks, split)`` of a few training tasks and a few tasks of held-out
    networks per platform kind of data/mini (all three platforms), with every feature family."""
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    from tenset_study.data import records as records_module
    from tenset_study.programs import tvm_setup
    from tenset_study.data.dataset import Dataset
    from tenset_study.models.inputs import build_inputs

    tvm_setup.prepare_tvm("cpu")
    ds = Dataset.open(MINI_DATA)
    recs, links = records_module.load_records(ds), records_module.network_tasks(ds)
    held = set(experiments.default_split(recs, links).held_out["tasks"])
    chosen = []
    for kind in ("cpu", "gpu"):
        sizes = recs[recs["kind"] == kind].groupby("task").size()
        busy = sorted(sizes[sizes >= 8].index)  # enough programs per task for shares to differ
        chosen += [t for t in busy if t not in held][:train_tasks] + [t for t in busy if t in held][:test_tasks]
    sub = recs[recs["task"].isin(chosen)].reset_index(drop=True)
    inputs = build_inputs(ds, sub, families=("tokens", "perstore", "stores", "context"), max_len=max_len)
    return sub, inputs, links, experiments.default_split(sub, links)


@pytest.fixture(scope="module")
def tiny():
    return tiny_transfer_inputs()


@pytest.fixture(scope="module")
def settings():
    return {**experiments.resolve_preset("smoke"), "transfer_fractions": tuple(FRACTIONS), "transfer_seeds": (0, 1),
            "n_boot": 20, "transfer_epochs": 2, "transfer_finetune_epochs": 2}


# --- directions and target data -------------------------------------------------------------------------


def test_directions_pair_every_target_with_other_platforms_of_one_kind(default_records) -> None:
    records, _ = default_records
    kinds = records.groupby("platform")["kind"].first()
    found = transfer.transfer_directions(records)
    labels = {(d.label, d.target) for d in found}
    cpus, gpus = sorted(kinds.index[kinds == "cpu"]), sorted(kinds.index[kinds == "gpu"])
    assert len(cpus) >= 2 and gpus, "data/mini has two CPUs and a GPU"
    assert {("cpu->cpu", c) for c in cpus} | {("cpu->gpu", g) for g in gpus} <= labels
    assert ("gpu->cpu", cpus[0]) in labels
    for d in found:
        assert d.target not in d.sources and len({kinds[s] for s in d.sources}) == 1
        assert d.label == f"{kinds[d.sources[0]]}->{kinds[d.target]}"
    only = transfer.transfer_directions(records, labels=["cpu->gpu"], targets=gpus)
    assert [(d.label, d.target, d.sources) for d in only] == [("cpu->gpu", gpus[0], tuple(cpus))]
    with pytest.raises(ValueError, match="not in the records"):
        transfer.transfer_directions(records, targets=["no-such-platform"])
    with pytest.raises(ParameterError, match="available"):
        transfer.select_directions(records, ["gpu->gpu"])


def test_transfer_data_keeps_held_out_tasks_and_the_target_apart(default_records) -> None:
    records, links = default_records
    split = experiments.default_split(records, links, "by-network")
    held = set(split.held_out["tasks"])
    platform, task = records["platform"].to_numpy(), records["task"].to_numpy()
    for direction in transfer.transfer_directions(records):
        data = transfer.transfer_data(records, split, direction)
        assert set(platform[data.source_train]) == set(direction.sources)
        assert set(platform[data.target_pool]) == set(platform[data.target_test]) == {direction.target}
        assert not held & set(task[data.source_train]) and not held & set(task[data.target_pool])
        expected_test = np.flatnonzero((platform == direction.target) & np.isin(task, list(held)))
        assert np.array_equal(data.target_test, expected_test), "every target record of a held-out task is tested"


def test_per_task_quota_rounds_half_up_with_a_minimum() -> None:
    sizes = np.array([1, 10, 32, 100, 3])
    assert transfer.per_task_quota(sizes, 0.05).tolist() == [1, 1, 2, 5, 1]
    assert transfer.per_task_quota(sizes, 0.05, min_per_task=2).tolist() == [1, 2, 2, 5, 2]
    assert transfer.per_task_quota(sizes, 1.0).tolist() == sizes.tolist()
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            transfer.per_task_quota(sizes, bad)


def test_target_subsample_keeps_the_quota_of_every_task(default_records) -> None:
    records, links = default_records
    split = experiments.default_split(records, links, "by-network")
    direction = transfer.transfer_directions(records, labels=["cpu->cpu"])[0]
    pool = transfer.transfer_data(records, split, direction).target_pool
    sizes = records.iloc[pool].groupby("task").size()
    previous = np.zeros(0, dtype=np.int64)
    for fraction in (0.01, 0.05, 0.1, 0.5):
        kept = transfer.target_subsample(records, pool, fraction, seed=3)
        counts = records.iloc[kept].groupby("task").size().reindex(sizes.index, fill_value=0)
        assert counts.tolist() == transfer.per_task_quota(sizes.to_numpy(), fraction).tolist()
        assert (counts >= 1).all() and set(kept) <= set(pool)
        assert set(previous) <= set(kept), "shares of one seed are nested"
        assert np.array_equal(kept, transfer.target_subsample(records, pool, fraction, seed=3)), "deterministic"
        previous = kept
    assert not np.array_equal(transfer.target_subsample(records, pool, 0.1, seed=3),
                              transfer.target_subsample(records, pool, 0.1, seed=4)), "another seed, other records"


def test_parameters_are_checked() -> None:
    assert transfer.check_fractions([0.1, 0.01, 0.1]) == [0.01, 0.1]
    for bad in ([], [0.0], [1.2], ["x"]):
        with pytest.raises(ParameterError, match="'fractions'"):
            transfer.check_fractions(bad)
    with pytest.raises(ParameterError, match="valid"):
        transfer.check_arms(["zero-shot", "finetune"])
    with pytest.raises(ParameterError, match="'directions'"):
        transfer.check_direction_labels(["cpu to gpu"])
    assert transfer.models_of(list(transfer.ARMS)) == ["mlp", "mtl", "ours", "tlp", "xgb"]  # random trains nothing


# --- the multi-head model ----------------------------------------------------------------------------------


def test_multihead_model_trains_saves_loads_and_predicts_identically(tiny, tmp_path: Path) -> None:
    records, inputs, _, split = tiny
    cpu_train = split.train[records["kind"].to_numpy()[split.train] == "cpu"]
    cpu_test = split.test[records["kind"].to_numpy()[split.test] == "cpu"]
    model = models.create("mtl", seed=2, epochs=3, hidden=16, heads=2).fit(inputs, cpu_train)
    cpu_platforms = sorted(records["platform"].iloc[cpu_train].unique())
    assert model.platforms_ == cpu_platforms and model.metadata["platforms"] == cpu_platforms
    # training moved every platform's head away from its initial weights (same seed, no epochs)
    untrained = models.create("mtl", seed=2, epochs=0, hidden=16, heads=2).fit(inputs, cpu_train)
    for trained_head, initial_head in zip(model.network_.decoder.heads, untrained.network_.decoder.heads):
        assert not torch.allclose(trained_head[-1].weight, initial_head[-1].weight)
    scores = model.predict(inputs, cpu_test)
    assert np.isfinite(scores).all()
    again = CostModel.load(model.save(tmp_path / "mtl.model"))
    assert isinstance(again, models.MultiHeadModel) and again.platforms_ == cpu_platforms
    np.testing.assert_array_equal(again.predict(inputs, cpu_test), scores)
    # one program on two platforms differs only in its head: the heads must score it differently
    programs = records["program"].to_numpy()
    first, second = (cpu_test[records["platform"].to_numpy()[cpu_test] == p] for p in cpu_platforms)
    shared = np.intersect1d(programs[first], programs[second])
    a = model.predict(inputs, first[np.isin(programs[first], shared)])
    b = model.predict(inputs, second[np.isin(programs[second], shared)])
    assert len(shared) and not np.allclose(a, b)
    with pytest.raises(ValueError, match="no head for platform"):
        model.predict(inputs, split.test)  # the GPU has no head


# --- the experiment --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spied_run(tiny, settings):
    """The smoke experiment (every arm, a cpu->cpu and the cpu->gpu direction, two seeds, two shares) with
    every training call's positions recorded: ``CostModel.fit`` and ``NeuralRanker.fine_tune`` still run
    as they are."""
    records, inputs, links, split = tiny
    calls: list[tuple[str, np.ndarray]] = []
    real_fit, real_fine_tune = CostModel.fit, NeuralRanker.fine_tune

    def fit(self, inputs, train, valid=None):
        calls.append((self.name, np.asarray(train).copy()))
        if valid is not None:
            calls.append((self.name + " valid", np.asarray(valid).copy()))
        return real_fit(self, inputs, train, valid)

    def fine_tune(self, inputs, positions, *args, **kwargs):
        calls.append((self.name + " fine-tune", np.asarray(positions).copy()))
        return real_fine_tune(self, inputs, positions, *args, **kwargs)

    cpu_to_cpu, cpu_to_gpu = (transfer.transfer_directions(records, labels=[label]) for label in ("cpu->cpu", "cpu->gpu"))
    directions = [cpu_to_cpu[0], *cpu_to_gpu]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CostModel, "fit", fit)
        patch.setattr(NeuralRanker, "fine_tune", fine_tune)
        runs = transfer.run_transfer(inputs, links, split, directions, settings, arms=list(transfer.ARMS),
                                     progress=False)
    return runs, calls, directions


def test_no_evaluation_record_or_unchosen_target_record_reaches_training(tiny, settings, spied_run) -> None:
    """Every training call (fit, fine-tune) of every arm trains on the records of one direction: some of its
    sources' training records plus nothing of the target or exactly one drawn share of it; never a record of
    a held-out task."""
    records, _, _, split = tiny
    runs, calls, directions = spied_run
    platform = records["platform"].to_numpy()
    held = set(split.held_out["tasks"])
    assert held and calls
    plans = []
    for d in directions:
        data = transfer.transfer_data(records, split, d)
        shares = [set(transfer.target_subsample(records, data.target_pool, f, s, settings["transfer_min_per_task"]))
                  for f in FRACTIONS for s in settings["transfer_seeds"]]
        plans.append((d, set(data.source_train.tolist()), shares))

    def within_one_direction(positions: np.ndarray) -> bool:
        for d, sources, shares in plans:
            target_part = set(positions[platform[positions] == d.target].tolist())
            rest = set(positions[platform[positions] != d.target].tolist())
            if rest <= sources and (not target_part or target_part in shares):
                return True
        return False

    for name, positions in calls:
        assert not name.endswith("valid"), "no validation records are handed to a model"
        assert len(positions) and not set(records["task"].iloc[positions]) & held, f"{name}: a held-out task"
        assert within_one_direction(positions), f"{name} trained on records outside its direction's allowance"
    assert sum(1 for n, _ in calls if n == "ours fine-tune") == len(directions) * 2 * len(FRACTIONS)


def test_smoke_transfer_produces_every_arm(tiny, settings, spied_run, tmp_path: Path) -> None:
    records, _, _, split = tiny
    runs, _, directions = spied_run
    assert list(runs.columns) == transfer.TRANSFER_COLUMNS
    assert set(runs["direction"]) == {"cpu->cpu", "cpu->gpu"}
    assert set(runs["platform"]) == {d.target for d in directions}
    assert set(runs["arm"]) == set(transfer.ARMS) and set(runs["metric"]) == {"pca", "top1", "top5"}
    references = runs[runs["arm"].isin(transfer.REFERENCE_ARMS)]
    assert (references["fraction"] == 0).all() and (references["target_records"] == 0).all()
    rest = runs[~runs["arm"].isin(transfer.REFERENCE_ARMS)]
    assert set(rest["fraction"]) == set(FRACTIONS) and (rest["target_records"] > 0).all()
    assert set(runs["seed"]) == {0, 1}
    per_run = runs.groupby(["direction", "platform", "arm", "fraction", "seed"]).size()
    trained_arms = len(transfer.ARMS) - len(transfer.REFERENCE_ARMS)
    assert len(per_run) == len(directions) * 2 * (len(transfer.REFERENCE_ARMS) + trained_arms * len(FRACTIONS))
    chance = runs[(runs["arm"] == "random") & (runs["metric"] == "pca") & (runs["network"] == "all")]
    assert chance["value"].between(0.35, 0.65).all(), "random scores rank like a coin"
    # the share of a run is the drawn share of its seed
    row = rest[(rest["platform"] == directions[0].target) & (rest["seed"] == 1)].iloc[0]
    pool = transfer.transfer_data(records, split, directions[0]).target_pool
    drawn = transfer.target_subsample(records, pool, row["fraction"], 1, settings["transfer_min_per_task"])
    assert row["target_records"] == len(drawn) and row["target_share"] == pytest.approx(len(drawn) / len(pool))
    with_interval = runs.dropna(subset=["low"])
    assert len(with_interval) and ((with_interval["low"] <= with_interval["value"] + 1e-9)
                                   & (with_interval["value"] <= with_interval["high"] + 1e-9)).all()
    summary = transfer.summarize_transfer(runs)
    assert (summary["seeds"] == 2).all() and {"target_share", "fit_s", "arm"} <= set(summary.columns)
    summary_path, runs_path = transfer.write_transfer(runs, summary, str(tmp_path / "results"))
    assert pd.read_csv(summary_path).shape[0] == len(summary) and pd.read_csv(runs_path).shape[0] == len(runs)
    assert transfer_report.transfer_table(summary).shape[0] == summary[summary["network"] == "all"].groupby(
        ["direction", "platform", "fraction", "variant"]).ngroups
    assert len(transfer_report.plot_transfer_curves(summary, "top5").axes) >= len(directions)
    text = transfer_report.findings(summary)
    assert all(f"to {d.target}" in text for d in directions)


def test_zero_shot_predictions_do_not_change_when_a_copy_is_fine_tuned(tiny, settings) -> None:
    records, inputs, _, split = tiny
    direction = transfer.transfer_directions(records, labels=["cpu->gpu"])[0]
    data = transfer.transfer_data(records, split, direction)
    pretrained = transfer.pretrain(inputs, data, settings, seed=0)
    before = pretrained.predict(inputs, data.target_test)
    share = transfer.target_subsample(records, data.target_pool, 0.5, seed=0, min_per_task=2)
    tuned = transfer.fine_tuned_copy(pretrained, inputs, share, epochs=3, lr=1e-3, seed=0)
    np.testing.assert_array_equal(pretrained.predict(inputs, data.target_test), before)
    assert not np.allclose(tuned.predict(inputs, data.target_test), before), "fine-tuning changed nothing"
    assert tuned.metadata["fine_tuned"]["records"] == len(share)
    assert direction.target in tuned.metadata["platforms"] and direction.target not in pretrained.metadata["platforms"]


def test_transfer_command_writes_the_tables(default_records, tmp_path: Path, capsys) -> None:
    from tenset_study.cli import main as cli_main

    records, _ = default_records
    gpu = sorted(records.loc[records["kind"] == "gpu", "platform"].unique())[0]
    common = ["transfer", "--dataset", str(MINI_DATA), "--preset", "smoke", "--out", str(tmp_path)]
    assert cli_main([*common, "--target", gpu, "--arms", "zero-shot", "xgb", "random", "--fractions", "0.3"]) == 0
    runs = pd.read_csv(tmp_path / "transfer_runs.csv")
    assert set(runs["platform"]) == {gpu} and set(runs["arm"]) == {"zero-shot", "xgb", "random"}
    assert set(runs["direction"]) == {"cpu->gpu"} and set(runs.loc[runs["arm"] == "xgb", "fraction"]) == {0.3}
    assert (tmp_path / "transfer.csv").exists() and f"to {gpu}" in capsys.readouterr().out
    assert cli_main([*common, "--target", "no-such-platform", "--arms", "xgb"]) == 2
    assert "'--target'" in capsys.readouterr().err


def test_tuning_views_say_why_there_is_nothing_to_draw() -> None:
    from matplotlib.figure import Figure

    curves = pd.DataFrame({"target_platform": "p", "network": "n", "arm": ["baseline-xgb", "ours@25%"], "seed": 0,
                           "seconds": [1.0, 2.0], "trial": [1, 2], "estimated_latency_s": [np.nan, np.nan]})
    assert transfer_report.tuning_curves_figure(None) is None
    assert "no network estimate" in transfer_report.tuning_curves_figure(curves)
    assert isinstance(transfer_report.tuning_curves_figure(curves.assign(estimated_latency_s=0.01)), Figure)
    rounds = pd.DataFrame({"study": "s", "network": "n", "arm": "a", "round": [0, 1], "of_mean": [0.98765, 1.01235]})
    table = transfer_report.timing_rounds_table(rounds)
    assert table.loc[("s", "n", "a")].tolist() == [0.988, 1.012]
    assert transfer_report.timing_rounds_table(None) is None
    arms = transfer.arm_table(["random", "fine-tune"])
    assert list(arms.index) == ["random", "fine-tune"] and arms.loc["fine-tune", "model"] == "ours"
