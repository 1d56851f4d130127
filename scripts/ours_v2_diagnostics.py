"""Diagnostics of ``ours`` v2 on a dataset under the by-network split (book preset budget, one torch thread):
PCA differences between models paired over test tasks (per-task PCA averaged over seeds, task bootstrap with
program-count weights), and the hardware-swap test (a platform's test records scored with another platform's
hardware features: change in PCA, Spearman of the two scorings).

    PYTHONPATH=src python scripts/ours_v2_diagnostics.py --dataset data/v1 \
        --platforms amd-epyc-znver5-2c intel-xeon-emeraldrapids-16c h100-80gb-hbm3 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch


def paired_pca(records: pd.DataFrame, scores: dict[str, list[np.ndarray]], base: str, n_boot: int = 2000,
               seed: int = 0) -> pd.DataFrame:
    """Per platform: PCA of each model minus ``base``'s, per-task PCA averaged over seeds, 95% task bootstrap."""
    from tenset_study.evaluation.metrics import pairwise_accuracy_per_group

    per_task = {name: np.mean([pairwise_accuracy_per_group(records, s)["pca"].to_numpy() for s in runs], axis=0)
                for name, runs in scores.items()}
    groups = pairwise_accuracy_per_group(records, scores[base][0])
    rng = np.random.default_rng(seed)
    rows = []
    for platform, idx in groups.groupby("platform").indices.items():
        w = groups["programs"].to_numpy()[idx].astype(float)
        draws = rng.integers(0, len(idx), size=(n_boot, len(idx)))
        for name in scores:
            if name == base:
                continue
            diff = per_task[name][idx] - per_task[base][idx]
            boot = (diff[draws] * w[draws]).sum(1) / w[draws].sum(1)
            rows.append({"platform": platform, "model": name, "minus": base, "diff": (diff * w).sum() / w.sum(),
                         "low": np.quantile(boot, 0.025), "high": np.quantile(boot, 0.975), "tasks": len(idx)})
    return pd.DataFrame(rows)


def swap_test(model, inputs, records: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """Every test platform scored with every other platform's hardware features."""
    from scipy.stats import spearmanr

    from tenset_study.evaluation.metrics import pairwise_accuracy

    rows = []
    platform = records["platform"].to_numpy()
    for own in sorted(set(platform)):
        mine = positions[platform == own]
        sub = inputs.records.iloc[mine].reset_index(drop=True)
        true = model.predict(inputs, mine)
        own_row = inputs.platform_ids.index(own)
        for other in inputs.platform_ids:
            if other == own:
                continue
            original = inputs.hardware.copy()
            inputs.hardware[own_row] = original[inputs.platform_ids.index(other)]
            try:
                swapped = model.predict(inputs, mine)
            finally:
                inputs.hardware = original
            rows.append({"platform": own, "hardware_of": other, "pca_true": pairwise_accuracy(sub, true),
                         "pca_swapped": pairwise_accuracy(sub, swapped),
                         "spearman": spearmanr(true, swapped).statistic})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="data/v1")
    parser.add_argument("--platforms", nargs="*", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--variants", default='{"ours": {}, "mlp": {}}',
                        help='JSON {label: {"model": name, params...}}; label = model name when "model" is absent')
    args = parser.parse_args()
    torch.set_num_threads(1)
    from tenset_study.evaluation import experiments
    from tenset_study.evaluation.runner import ModelSpec

    preset = experiments.resolve_preset("book")
    variants = json.loads(args.variants)
    names = sorted({v.get("model", k) for k, v in variants.items()})
    ds, records, inputs, links = experiments.prepare(args.dataset, names, platforms=args.platforms,
                                                     max_len=preset["max_len"])
    split = experiments.default_split(records, links, "by-network")
    test = records.iloc[split.test].reset_index(drop=True)
    scores = {}
    for label, extra in variants.items():
        extra = dict(extra)
        name = extra.pop("model", label)
        spec = ModelSpec(name, params={**experiments.model_params(name, preset), **extra}, variant=label)
        for seed in args.seeds:
            start = time.perf_counter()
            scores.setdefault(label, []).append(experiments.train_and_score(spec, inputs, split, seed))
            print(f"{label} seed {seed}: {time.perf_counter() - start:.0f} s {spec.params}", flush=True)
    from tenset_study.evaluation.metrics import pairwise_accuracy

    pd.set_option("display.width", 200)
    means = {label: [pairwise_accuracy(test, s) for s in runs] for label, runs in scores.items()}
    for label, values in means.items():
        print(f"{label}: PCA over all test records per seed {np.round(values, 3).tolist()}")
    base = "mlp" if "mlp" in scores else next(iter(scores))
    print(paired_pca(test, scores, base).to_string(index=False, float_format="%.3f"))
    if "ours" in variants:
        from tenset_study.models import create

        model = create("ours", seed=args.seeds[0], **{**experiments.model_params("ours", preset),
                                                      **variants["ours"]}).fit(inputs, split.train)
        print(swap_test(model, inputs, test, split.test).to_string(index=False, float_format="%.4f"))


if __name__ == "__main__":
    main()
