"""Measurement noise as a ranking ceiling (:mod:`tenset_study.evaluation.noise`), on hand-made repeats whose
PCA is known, and on data/mini's real measurements."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import MINI_DATA
from tenset_study.evaluation.noise import (REPEAT_BUDGET_COLUMNS, measurements_with_repeats, repeat_budget,
                                           repeats_vs_repeats)


def _frame() -> pd.DataFrame:
    # task a: repeat 0 ranks p1 < p2 < p3, repeat 1 ranks p2 < p1 < p3: 2 of 3 pairs agree.
    # task b: both repeats agree on both programs.
    rows = [("p1", "a", [1.0, 2.0, 1.0, 2.0]), ("p2", "a", [2.0, 1.0, 2.0, 1.0]), ("p3", "a", [3.0, 3.0, 3.0, 3.0]),
            ("q1", "b", [1.0, 1.0, 1.0, 1.0]), ("q2", "b", [5.0, 5.0, 5.0, 5.0])]
    return pd.DataFrame([{"program": p, "task": t, "platform": "x", "repeats_s": r} for p, t, r in rows])


def test_one_repeat_against_another_counts_agreeing_pairs() -> None:
    per_group = repeats_vs_repeats(_frame(), [0], [1]).set_index("task")
    assert per_group.loc["a", "pca"] == pytest.approx(2 / 3) and per_group.loc["b", "pca"] == 1.0
    assert list(per_group["programs"]) == [3, 2]
    # repeats 0+2 against 1+3: the same disagreement; 0 against 2: identical repeats agree everywhere
    assert repeats_vs_repeats(_frame(), [0, 2], [1, 3]).set_index("task").loc["a", "pca"] == pytest.approx(2 / 3)
    assert (repeats_vs_repeats(_frame(), [0], [2])["pca"] == 1.0).all()
    with pytest.raises(ValueError, match="overlap"):
        repeats_vs_repeats(_frame(), [0, 1], [1])


def test_repeat_budget_weights_tasks_by_programs_and_bounds_its_estimate() -> None:
    table = repeat_budget(_frame(), n_boot=200)
    assert list(table.columns) == list(REPEAT_BUDGET_COLUMNS) and list(table["repeats"]) == [1, 2]
    first = table.iloc[0]
    assert first["pca"] == pytest.approx((3 * 2 / 3 + 2 * 1.0) / 5) and (first["programs"], first["tasks"]) == (5, 2)
    assert first["low"] <= first["pca"] <= first["high"] and first["low"] >= 2 / 3 and first["high"] <= 1.0


def test_real_measurements_rank_close_to_themselves() -> None:
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    from tenset_study.data.dataset import Dataset

    m = measurements_with_repeats(Dataset.open(MINI_DATA))
    assert {"program", "task", "platform", "repeats_s"} <= set(m.columns) and len(m) > 100
    table = repeat_budget(m, n_boot=100)
    assert set(table["platform"]) == set(m["platform"])
    assert (table["pca"] > 0.75).all(), "repeats of one session rank programs far better than chance"
