"""``ours`` v2 inference throughput, features included, beside the models it replaces, in the same run.

Inside MetaSchedule a cost model scores the candidates of a search round: schedules it has never seen, so every
call computes their features first. For ``ours`` v2 that is MetaSchedule's per-store feature extraction (one
164-wide row per buffer store) on top of the forward pass; ``ours-v1`` reads schedule tokens instead and the
MLP the pooled per-store features. This benchmark times the whole ``predict`` call of
:class:`tenset_study.tuning.cost_model.ProjectCostModel` (features, then one batched forward pass) on
``--candidates`` postprocessed random candidates of a conv2d task (``bench_tuning_model.py``'s
``conv2d_candidates``), per model, and the forward pass alone on the same candidates' inputs. Models are fitted
for ``--epochs`` on ``--fit-records`` CPU records of ``--dataset`` with a preset's sizes (throughput does not
depend on how well they are trained) and given that dataset's first CPU platform's hardware features.

Candidates/s is over ``--repeats`` calls after a first one (platform, workload and caches warmed; reported on
its own): the median, with the best and worst call. The models take turns within each repeat, so a machine busy
with other work slows them alike (the provenance line records the load average). Ratios divide ``ours``' median by each other model's, in
the same process on the same candidates. ``--device cuda`` (``auto``: CUDA when present) runs the forward pass
on the GPU; features are always computed by TVM on the CPU. Run on a quiet machine::

    .venv/bin/python benchmarks/bench_ours_v2_inference.py --out benchmarks/results/ours-v2-inference-cpu2.jsonl
    python benchmarks/bench_ours_v2_inference.py --device cuda --preset full --out ...   # on the GPU host

Prints (and with ``--out`` appends) one JSON line of provenance, one per model, and one of ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import statistics
import time
from datetime import datetime, timezone

import numpy as np

from bench_tuning_model import conv2d_candidates

#: label -> (registry name, hyperparameters over the preset's).
VARIANTS = {"ours": ("ours", {"use_tokens": False}), "ours+tokens": ("ours", {"use_tokens": True}),
            "ours-v1": ("ours-v1", {}), "mlp": ("mlp", {})}


def rates(count: int, seconds: list[float]) -> dict:
    """Candidates/s of the median, best and worst of the calls that took ``seconds``."""
    per_s = sorted(count / s for s in seconds)
    return {"median": round(statistics.median(per_s), 1), "best": round(per_s[-1], 1), "worst": round(per_s[0], 1)}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_variants(fitted: dict, context, candidates, platform_row: dict, max_len: int, repeats: int) -> list[dict]:
    """Every model's first call, then ``repeats`` rounds in which each model in turn scores the candidates
    (features included) and runs its forward pass alone: interleaved, so that a busy machine slows every model
    alike and the ratios stay fair."""
    from tenset_study.tuning.cost_model import ProjectCostModel

    n = len(candidates)
    state = {}
    for label, model in fitted.items():
        cost_model = ProjectCostModel(model, platform=platform_row, max_len=max_len, online=False)
        first_s = timed(lambda: cost_model.predict(context, candidates))
        scores = cost_model.predict(context, candidates)
        assert len(scores) == n and np.isfinite(scores).all(), f"{label}: bad scores"
        state[label] = {"cost_model": cost_model, "inputs": cost_model.inputs_for(context, candidates),
                        "first_s": first_s, "calls": [], "forward": [], "features": 0.0}
    for _ in range(repeats):
        for label, model in fitted.items():
            entry = state[label]
            before = entry["cost_model"].timing()["feature_seconds"]
            entry["calls"].append(timed(lambda: entry["cost_model"].predict(context, candidates)))
            entry["features"] += entry["cost_model"].timing()["feature_seconds"] - before
            entry["forward"].append(timed(lambda: model.predict(entry["inputs"], np.arange(n))))
    out = []
    for label, model in fitted.items():
        entry = state[label]
        stores = entry["inputs"].store_counts
        out.append({"variant": label, "model": model.name, "params": model.metadata.get("params", {}),
                    "candidates": n, "first_call_s": round(entry["first_s"], 3),
                    "call_s_median": round(statistics.median(entry["calls"]), 4),
                    "candidates_per_s": rates(n, entry["calls"]),
                    "feature_share": round(entry["features"] / sum(entry["calls"]), 3),
                    "forward_candidates_per_s": rates(n, entry["forward"]),
                    "stores_per_candidate": None if stores is None else round(float(np.mean(stores)), 2)})
    return out


def fitted_models(dataset: str, labels: list[str], preset: dict, device: str, epochs: int, fit_records: int):
    """The models of ``labels`` fitted on a sample of the dataset's CPU records, and the first CPU platform's row."""
    from tenset_study import models
    from tenset_study.evaluation import experiments

    names = sorted({VARIANTS[label][0] for label in labels})
    ds, records, inputs, _ = experiments.prepare(dataset, names, max_len=preset["max_len"])
    cpu = np.flatnonzero(records["kind"].to_numpy() == "cpu")
    positions = np.random.default_rng(0).permutation(cpu)[: fit_records or len(cpu)]
    out = {}
    for label in labels:
        name, extra = VARIANTS[label]
        params = {**experiments.model_params(name, preset), **extra}
        if name != "xgb":
            params.update(epochs=epochs, device=device)
        out[label] = models.create(name, seed=0, **params).fit(inputs, positions)
    platforms = ds.to_pandas("platforms")
    platform_row = platforms[platforms["kind"] == "cpu"].sort_values("platform").iloc[0].to_dict()
    return out, platform_row


def provenance(args, device: str, candidates: int, target_spec: dict) -> dict:
    import torch
    import tvm

    cuda = device.startswith("cuda")
    return {"benchmark": "bench_ours_v2_inference.py", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host": host.node(), "cpu": _cpu_model(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": device, "gpu": torch.cuda.get_device_name(0) if cuda else None, "torch": torch.__version__,
            "tvm": tvm.__version__, "dataset": args.dataset, "preset": args.preset, "candidates": candidates,
            "target": target_spec, "repeats": args.repeats,
            "load_average_1min": round(os.getloadavg()[0], 2)}


def _cpu_model() -> str | None:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="data/mini", help="the records the models are fitted on")
    parser.add_argument("--variants", nargs="+", default=["ours", "ours+tokens", "ours-v1", "mlp"],
                        choices=list(VARIANTS))
    parser.add_argument("--preset", default="book", help="model sizes of this preset (hidden, heads, max_len)")
    parser.add_argument("--device", default="auto", help="where the forward pass runs: auto, cpu, cuda")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--fit-records", type=int, default=800)
    parser.add_argument("--candidates", type=int, default=512, help="MetaSchedule's default population")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--num-cores", type=int, default=None, help="target num-cores and TuneContext threads")
    parser.add_argument("--out", default=None, help="append the JSON lines to this file")
    args = parser.parse_args()

    from tenset_study.evaluation import experiments
    from tenset_study.models.device import pick_device
    from tenset_study.programs import targets, tvm_setup

    tvm_setup.prepare_tvm("cpu")
    from tvm.s_tir import meta_schedule as ms

    device = str(pick_device(args.device))
    preset = experiments.resolve_preset(args.preset)
    fitted, platform_row = fitted_models(args.dataset, args.variants, preset, device, args.epochs, args.fit_records)
    target_spec = targets.cpu_target(args.num_cores)
    target = targets.make_target(target_spec)
    mod, candidates = conv2d_candidates(args.candidates, target)
    context = ms.TuneContext(mod=mod, target=target, num_threads=target_spec["num-cores"], task_name="conv2d_nhwc")
    lines = [provenance(args, device, len(candidates), target_spec)]
    print(json.dumps(lines[0]), flush=True)
    for line in bench_variants(fitted, context, candidates, platform_row, preset["max_len"], args.repeats):
        lines.append(line)
        print(json.dumps(line), flush=True)
    medians = {line["variant"]: line["candidates_per_s"]["median"] for line in lines[1:]}
    if "ours" in medians:
        lines.append({"ratios": {f"ours / {other}": round(medians["ours"] / rate, 3)
                                 for other, rate in medians.items() if other != "ours"}})
        print(json.dumps(lines[-1]))
    if args.out:
        with open(args.out, "a") as out:
            out.writelines(json.dumps(line) + "\n" for line in lines)


if __name__ == "__main__":
    main()
