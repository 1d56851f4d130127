"""The committed ``ours`` v2 inference runs (benchmarks/bench_ours_v2_inference.py) read back as a table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenset_study.evaluation.experiments import read_inference_benchmarks

ROOT = Path(__file__).resolve().parents[1]


def _model(variant: str, median: float) -> dict:
    return {"variant": variant, "model": variant, "params": {"hidden": 64}, "candidates": 512,
            "candidates_per_s": {"median": median, "best": median + 10, "worst": median - 10},
            "feature_share": 0.9, "forward_candidates_per_s": {"median": 5000.0, "best": 6000.0, "worst": 4000.0}}


def test_a_run_gives_one_row_per_model_with_its_ratio_to_ours(tmp_path: Path) -> None:
    lines = [{"benchmark": "bench_ours_v2_inference.py", "date": "d", "cpu": "cpu", "cpus": 2, "device": "cpu"},
             _model("ours", 100.0), _model("mlp", 80.0), {"ratios": {"ours / mlp": 1.25}}]
    (tmp_path / "ours-v2-inference-x.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    table = read_inference_benchmarks(tmp_path).set_index("variant")
    assert table.loc["ours", "vs_ours"] == 1.0 and table.loc["mlp", "vs_ours"] == 1.25
    assert (table.loc["mlp", "low"], table.loc["mlp", "candidates_per_s"], table.loc["mlp", "high"]) == (70, 80, 90)
    (tmp_path / "ours-v2-inference-bad.jsonl").write_text(json.dumps(_model("ours", 1.0)) + "\n")
    with pytest.raises(ValueError, match="ours-v2-inference-bad.jsonl:1: a model line before any provenance"):
        read_inference_benchmarks(tmp_path)


def test_the_committed_cpu_run_compares_ours_with_the_models_it_replaces() -> None:
    table = read_inference_benchmarks(ROOT / "benchmarks" / "results")
    if table.empty:
        pytest.skip("no inference run is committed")
    assert {"ours", "ours-v1", "mlp"} <= set(table["variant"])
    assert (table["low"] <= table["candidates_per_s"]).all() and (table["candidates_per_s"] <= table["high"]).all()
    assert table["vs_ours"].notna().all() and (table["feature_share"].between(0, 1)).all()
