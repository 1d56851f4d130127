"""Resumable experiments (evaluation/resume.py): a rerun reuses the units a previous run finished, computes only
the rest, refuses a folder of another experiment, and recomputes a unit whose file was cut off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenset_study.evaluation import experiments, resume
from tenset_study.evaluation.runner import ModelSpec, run_experiment
from tenset_study.transfer import experiment as transfer

from test_transfer import tiny_transfer_inputs

CONTEXT = {"experiment": "test", "dataset": "mini"}


@pytest.fixture(scope="module")
def tiny():
    return tiny_transfer_inputs()


def mlp() -> ModelSpec:
    return ModelSpec("mlp", params={"epochs": 1, "hidden": 16})


def test_a_rerun_with_more_seeds_trains_only_the_new_seed(tiny, tmp_path: Path) -> None:
    records, inputs, links, split = tiny
    with resume.resuming(tmp_path, CONTEXT) as store:
        first_scores: dict = {}
        first = run_experiment([mlp()], inputs, split, links, seeds=(0,), n_boot=20, scores=first_scores)
    assert (store.computed, store.reused, store.units()) == (1, 0, 1)
    with resume.resuming(tmp_path, CONTEXT) as store:
        scores, timings = {}, []
        both = run_experiment([mlp()], inputs, split, links, seeds=(0, 1), n_boot=20, scores=scores,
                              timings=timings)
    assert (store.computed, store.reused) == (1, 1)  # seed 1 trained, seed 0 read back
    pd.testing.assert_frame_equal(both[both["seed"] == 0].reset_index(drop=True), first)
    np.testing.assert_array_equal(scores["mlp"][0], first_scores["mlp"][0])
    assert len(scores["mlp"]) == 2 and sorted({t.seed for t in timings}) == [0, 1]  # timings read back too
    summary = store.summary()
    assert summary["units_reused"] == 1 and summary["unit_seconds"] > 0 and len(summary["unit_commits"]) == 1
    # a call that needs the fitted models cannot use a run that did not keep them, then can
    for computed in (1, 0):
        with resume.resuming(tmp_path, CONTEXT) as store:
            fitted = {}
            run_experiment([mlp()], inputs, split, links, seeds=(0, 1), n_boot=20, models=fitted)
        assert (store.computed, store.reused) == (computed, 2 - computed)
        assert len(fitted["mlp"]) == 1 and len(fitted["mlp"][0]) == 3  # the first seed's models (3 platforms)


def test_outside_resuming_nothing_is_written(tiny, tmp_path: Path) -> None:
    records, inputs, links, split = tiny
    run_experiment([mlp()], inputs, split, links, seeds=(0,), n_boot=20)
    assert resume.active() is None and not list(tmp_path.iterdir())


def test_a_folder_of_another_experiment_is_refused(tmp_path: Path) -> None:
    with resume.resuming(tmp_path, CONTEXT):
        pass
    with pytest.raises(resume.ResumeError, match=rf"{tmp_path}: holds units of another experiment \(differs in "
                                                  r"dataset\)"):
        with resume.resuming(tmp_path, {**CONTEXT, "dataset": "v2"}):
            pass
    (tmp_path / resume.CONTEXT_FILE).write_text("{cut")
    with pytest.raises(resume.ResumeError, match="context.json: not a resume context"):
        resume.UnitStore(tmp_path, CONTEXT)


def test_a_unit_cut_off_mid_write_is_computed_again(tmp_path: Path) -> None:
    calls = []

    def compute():
        calls.append(1)
        return {"value": len(calls)}

    with resume.resuming(tmp_path, CONTEXT):
        assert resume.unit(("a", 1), compute) == {"value": 1}
        assert resume.unit(("a", 1), compute) == {"value": 1}  # reused
        assert resume.unit(("a", 2), compute) == {"value": 2}  # other parts, other unit
    (path,) = [p for p in tmp_path.glob("*.pkl") if resume.UnitStore(tmp_path, CONTEXT).load(p.stem)["value"]
               == {"value": 1}]
    path.write_bytes(path.read_bytes()[:10])
    with resume.resuming(tmp_path, CONTEXT) as store:
        assert resume.unit(("a", 1), compute) == {"value": 3}
    assert (store.computed, store.reused, len(calls)) == (1, 0, 3)


def test_a_resumed_transfer_run_reuses_its_finished_seeds(tiny, tmp_path: Path) -> None:
    records, inputs, links, split = tiny
    settings = {**experiments.resolve_preset("smoke"), "n_boot": 20}
    directions = transfer.transfer_directions(records, labels=["cpu->cpu"])[:1]
    arms = ["zero-shot", "random", "xgb"]
    with resume.resuming(tmp_path, CONTEXT):
        first = transfer.run_transfer(inputs, links, split, directions, settings, arms=arms, fractions=[0.5],
                                      seeds=(0,), progress=False)
    with resume.resuming(tmp_path, CONTEXT) as store:
        both = transfer.run_transfer(inputs, links, split, directions, settings, arms=arms, fractions=[0.5],
                                     seeds=(0, 1), progress=False)
    assert (store.computed, store.reused) == (1, 1)
    pd.testing.assert_frame_equal(both[both["seed"] == 0].reset_index(drop=True), first)
    assert set(both["seed"]) == {0, 1} and set(both["arm"]) == set(arms)
