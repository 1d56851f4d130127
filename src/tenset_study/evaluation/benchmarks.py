"""Reading the committed speed runs: ``benchmarks/bench_models.py``, ``benchmarks/bench_ddp.py`` and
``benchmarks/bench_ours_v2_inference.py`` write one JSON object a line under ``benchmarks/results/``;
:func:`read_benchmarks`, :func:`read_ddp_benchmarks` and :func:`read_inference_benchmarks` turn them into the
tables chapter 04 shows."""

from __future__ import annotations

import os

import pandas as pd

def _jsonl_items(path: os.PathLike):
    """``(line number, object)`` for every non-blank line of a JSONL file; a ValueError names a bad line."""
    import json

    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: not a JSON line ({err.msg})") from None


def read_benchmarks(folder: str | os.PathLike, pattern: str = "models-*.jsonl") -> pd.DataFrame:
    """The model-speed runs committed under ``folder`` (``benchmarks/bench_models.py`` output, one JSON object
    a line: a provenance line with ``benchmark``, then each run's header line with ``records``, then one line
    per model). One row per model line, with the file, the machine and date of its provenance line and the
    model's hidden size; a line that is not JSON raises a ValueError naming the file and line. A relative
    ``folder`` is taken from the repository root."""
    from ..params import resolve_path

    rows = []
    for path in sorted(resolve_path(folder).glob(pattern)):
        provenance: dict = {}
        for _, item in _jsonl_items(path):
            if "benchmark" in item:
                provenance = item
            elif "model" in item:
                params = item.get("params", {})
                rows.append({"file": path.name, "machine": provenance.get("machine"), "date": provenance.get("date"),
                             "model": item["model"], "hidden": params.get("hidden"), "device": params.get("device"),
                             "train_records": item.get("train_records"), "fit_s": item.get("fit_s"),
                             "train_records_per_s": item.get("train_records_per_s"),
                             "predict_per_s": item.get("predict_per_s")})
    return pd.DataFrame(rows)


def read_ddp_benchmarks(folder: str | os.PathLike, pattern: str = "ddp-*.jsonl") -> pd.DataFrame:
    """The data-parallel streaming runs committed under ``folder`` (``benchmarks/bench_ddp.py`` output: a
    provenance line per run, its store line, then a ``train`` line per rank count). One row per rank count
    (a rank per GPU on a GPU host): the GPU model and how many the host had, the NCCL version and model of
    its run, the steady records/s over all ranks (median of the epochs after the first, with their range),
    records/s per rank, and the scaling efficiency (per-rank rate over the same run's one-rank rate;
    missing when the run has no one-rank line). A relative ``folder`` is taken
    from the repository root; a bad line raises a ValueError naming the file and line."""
    from ..params import resolve_path

    rows, run = [], 0
    for path in sorted(resolve_path(folder).glob(pattern)):
        provenance: dict = {}
        for number, item in _jsonl_items(path):
            if "benchmark" in item:
                provenance, run = item, run + 1
            elif item.get("step") == "train":
                if not provenance:
                    raise ValueError(f"{path}:{number}: a train line before any provenance line")
                params = provenance.get("params", {})
                low, high = item["records_per_s_range"]
                rows.append({"file": path.name, "date": provenance.get("date"),
                             "device": ", ".join(sorted(set(provenance.get("gpus", [])))) or "cpu",
                             "host_gpus": len(provenance.get("gpus", [])), "nccl": provenance.get("nccl"),
                             "model": provenance.get("model"), "hidden": params.get("hidden"),
                             "scale": provenance.get("scale"), "ranks": item["world_size"],
                             "train_records": item["train_records"], "records_per_s": item["records_per_s"],
                             "records_per_s_low": low, "records_per_s_high": high,
                             "per_rank": round(item["records_per_s"] / item["world_size"]), "run": run})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    single = table[table["ranks"] == 1].set_index("run")["per_rank"]
    table["scaling_efficiency"] = (table["per_rank"] / table["run"].map(single)).round(2)
    return table.drop(columns="run")


def read_inference_benchmarks(folder: str | os.PathLike, pattern: str = "ours-v2-inference-*.jsonl") -> pd.DataFrame:
    """The inference runs committed under ``folder`` (``benchmarks/bench_ours_v2_inference.py`` output: a provenance
    line per run, a line per model, then a ``ratios`` line). One row per model: the machine (CPU model, cores,
    device and GPU) and date of its run, the candidates scored per call, candidates/s with features included (the
    median call, and the best and worst), the share of a call spent on features, the forward pass alone
    (candidates/s, median), and ``vs_ours``: ``ours``' median over this model's in the same run. A relative
    ``folder`` is taken from the repository root; a bad line raises a ValueError naming the file and line."""
    from ..params import resolve_path

    rows, ratios = [], {}
    for path in sorted(resolve_path(folder).glob(pattern)):
        provenance: dict = {}
        for number, item in _jsonl_items(path):
            if "benchmark" in item:
                provenance = item
            elif "ratios" in item:
                ratios.update({(path.name, provenance.get("date"), key.split(" / ", 1)[1]): value
                               for key, value in item["ratios"].items()})
            elif "variant" in item:
                if not provenance:
                    raise ValueError(f"{path}:{number}: a model line before any provenance line")
                rate, forward = item["candidates_per_s"], item["forward_candidates_per_s"]
                rows.append({"file": path.name, "date": provenance.get("date"), "cpu": provenance.get("cpu"),
                             "cpus": provenance.get("cpus"), "device": provenance.get("device"),
                             "gpu": provenance.get("gpu"), "variant": item["variant"],
                             "hidden": item.get("params", {}).get("hidden"), "candidates": item["candidates"],
                             "candidates_per_s": rate["median"], "low": rate["worst"], "high": rate["best"],
                             "feature_share": item["feature_share"],
                             "forward_candidates_per_s": forward["median"]})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    keys = zip(table["file"], table["date"], table["variant"])
    table["vs_ours"] = [1.0 if key[2] == "ours" else ratios.get(key) for key in keys]
    return table
