"""Differences between two models as paired differences over seeds and tasks, with a bootstrap interval.

Two models scored on the same test records with the same seeds are paired twice: seed s of one against seed s
of the other (the same split, the same shuffles where the models share them), and task t against task t. The
difference of a metric on a platform is the mean over seeds of (metric of model - metric of ``base``) over
all its tasks; its interval comes from a two-level bootstrap that draws the tasks, and the seeds, with
replacement (both metrics are ratios of sums over tasks, so each draw recomputes the two ratios). A
difference, or an ablation, *counts* only where its interval excludes zero (``excludes_zero``).

A model trained once (deterministic, e.g. XGBoost without subsampling) is paired with every seed of the other.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .metrics import pairwise_accuracy_per_group, top_k_per_task

#: Columns of :func:`paired_differences`' table.
PAIRED_COLUMNS = ("platform", "metric", "model", "minus", "diff", "low", "high", "excludes_zero", "seeds", "tasks")


def task_parts(records: pd.DataFrame, scores: np.ndarray, metric: str) -> pd.DataFrame:
    """Per (task, platform): the numerator and denominator a metric's ratio of sums takes from the task
    (``pca``: programs x PCA over programs; ``topK``: best latency over best latency of the model's top K)."""
    if metric == "pca":
        per = pairwise_accuracy_per_group(records, scores)
        return per.assign(num=per["programs"] * per["pca"], den=per["programs"].astype(np.float64))
    match = re.fullmatch(r"top(\d+)", metric)
    if not match:
        raise ValueError(f"metric must be 'pca' or 'top<k>', got {metric!r}")
    per = top_k_per_task(records, scores, int(match.group(1)))
    return per.assign(num=per["best_latency_s"], den=per["top_k_latency_s"])


def _parts(records: pd.DataFrame, runs: Sequence[np.ndarray], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``(num, den)`` arrays ``[seeds, groups]`` of a model's runs (groups in sorted (task, platform) order)."""
    parts = [task_parts(records, np.asarray(s), metric) for s in runs]
    return np.stack([p["num"].to_numpy() for p in parts]), np.stack([p["den"].to_numpy() for p in parts])


def paired_bootstrap(num_a: np.ndarray, den_a: np.ndarray, num_b: np.ndarray, den_b: np.ndarray,
                     n_boot: int = 2000, seed: int | Sequence[int] = 0,
                     confidence: float = 0.95) -> tuple[float, float, float]:
    """``(difference, low, high)`` of ``mean over seeds of (sum num_a / sum den_a - sum num_b / sum den_b)``.

    Arrays are ``[seeds, tasks]`` (a single row is paired with every seed of the other side); tasks and seeds
    are drawn with replacement ``n_boot`` times, the same tasks for both models; the interval is the percentile
    interval (NaN, NaN when ``n_boot`` is 0).
    """
    num_a, den_a, num_b, den_b = (np.atleast_2d(np.asarray(x, dtype=np.float64)) for x in (num_a, den_a, num_b, den_b))
    seeds = max(len(num_a), len(num_b))
    num_a, den_a, num_b, den_b = (np.broadcast_to(x, (seeds, x.shape[1])) for x in (num_a, den_a, num_b, den_b))
    diff = float(np.mean(num_a.sum(1) / den_a.sum(1) - num_b.sum(1) / den_b.sum(1)))
    if n_boot == 0:
        return diff, np.nan, np.nan
    rng = np.random.default_rng(seed)
    tasks = rng.integers(0, num_a.shape[1], size=(n_boot, num_a.shape[1]))
    drawn = rng.integers(0, seeds, size=(n_boot, seeds))
    ratio_a = num_a[:, tasks].sum(-1) / den_a[:, tasks].sum(-1)  # [seeds, n_boot]
    ratio_b = num_b[:, tasks].sum(-1) / den_b[:, tasks].sum(-1)
    per_seed = ratio_a - ratio_b
    boot = np.take_along_axis(per_seed, drawn.T, axis=0).mean(axis=0)
    low, high = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    return diff, float(low), float(high)


def paired_differences(records: pd.DataFrame, scores: Mapping[str, Sequence[np.ndarray]], base: str,
                       metrics: Sequence[str] = ("pca", "top5"), n_boot: int = 2000, seed: int = 0,
                       confidence: float = 0.95) -> pd.DataFrame:
    """Every model of ``scores`` minus ``base``, per platform and metric, paired over seeds and tasks.

    Parameters
    ----------
    records : the test records the scores are aligned with.
    scores : model label -> one score array per seed, in the same seed order for every model (what
        ``run_experiment(..., scores=...)`` collects).
    base : the label every other model is compared with.
    metrics : ``pca`` and / or ``top<k>`` (over all tasks of the platform, weight 1).
    n_boot, seed, confidence : the bootstrap (see :func:`paired_bootstrap`).

    Returns
    -------
    :data:`PAIRED_COLUMNS`: ``diff`` (model - base, mean over seeds), ``low`` / ``high`` (its interval),
    ``excludes_zero`` (the difference counts), ``seeds`` and ``tasks`` (of the platform).
    """
    if base not in scores:
        raise ValueError(f"base {base!r} is not among the scored models {sorted(scores)}")
    rows = []
    for metric in metrics:
        parts = {label: _parts(records, runs, metric) for label, runs in scores.items()}
        groups = task_parts(records, np.asarray(scores[base][0]), metric)
        keep = np.isfinite(groups["num"].to_numpy())  # top-k: tasks with a successful measurement
        for platform, index in groups.groupby("platform", sort=True).indices.items():
            index = index[keep[index]]
            for label, (num, den) in parts.items():
                if label == base:
                    continue
                num_b, den_b = parts[base]
                draw_seed = [seed, zlib.crc32(f"{metric}|{platform}|{label}|{base}".encode())]
                diff, low, high = paired_bootstrap(num[:, index], den[:, index], num_b[:, index], den_b[:, index],
                                                   n_boot, draw_seed, confidence)
                rows.append({"platform": platform, "metric": metric, "model": label, "minus": base, "diff": diff,
                             "low": low, "high": high, "excludes_zero": bool(low > 0 or high < 0),
                             "seeds": max(len(num), len(num_b)), "tasks": len(index)})
    return pd.DataFrame(rows, columns=list(PAIRED_COLUMNS))
