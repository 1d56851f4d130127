"""The hardware-swap test: does a trained model use the hardware it is told about?

A platform's test records are scored twice by the same trained model: with the platform's own hardware features,
and with another platform's in their place (everything else unchanged). A model that reads the hardware ranks
the programs differently and its PCA on the platform moves; a model that ignores it gives the same ranking
(rank correlation 1, PCA unchanged). Reported per (platform, hardware used): the PCA with the true and the
swapped hardware, their paired difference with a bootstrap interval over tasks, the Spearman correlation of
the two scorings over the platform's records and its mean within tasks (rankings are made within tasks).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..models.inputs import ModelInputs
from .paired import paired_bootstrap, task_parts

#: Columns of :func:`hardware_swap`'s table.
SWAP_COLUMNS = ("platform", "hardware_of", "pca", "pca_swapped", "delta", "delta_low", "delta_high", "spearman",
                "task_spearman", "records", "tasks")


def with_hardware(inputs: ModelInputs, platform: str, vector: np.ndarray) -> ModelInputs:
    """A copy of ``inputs`` whose ``platform`` has the hardware features ``vector`` (the arrays of features are
    shared, not copied; ``inputs`` is unchanged)."""
    hardware = inputs.hardware.copy()
    hardware[inputs.platform_ids.index(platform)] = vector
    return dataclasses.replace(inputs, hardware=hardware)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two scorings (ties share their mean rank); NaN if either is constant."""
    ra = pd.Series(np.asarray(a, dtype=np.float64)).rank().to_numpy()
    rb = pd.Series(np.asarray(b, dtype=np.float64)).rank().to_numpy()
    if len(ra) < 2 or ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def task_spearman(records: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> float:
    """Mean over the (task, platform) groups of ``records`` of the Spearman correlation of ``a`` and ``b`` within
    the group; groups where either scoring is constant are left out (NaN when none is left)."""
    frame = pd.DataFrame({"task": records["task"].to_numpy(), "platform": records["platform"].to_numpy(),
                          "a": np.asarray(a, dtype=np.float64), "b": np.asarray(b, dtype=np.float64)})
    values = [spearman(group["a"], group["b"]) for _, group in frame.groupby(["task", "platform"], sort=False)]
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def hardware_swap(model, inputs: ModelInputs, positions: np.ndarray, platforms: Sequence[str] | None = None,
                  sources: Sequence[str] | None = None, extra_hardware: Mapping[str, np.ndarray] | None = None,
                  n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Score each platform's records at ``positions`` with every other platform's hardware features.

    Parameters
    ----------
    model : a fitted cost model (anything with ``predict(inputs, positions)``).
    inputs : the model inputs; ``positions`` the records scored (typically a split's test positions).
    platforms : the platforms whose records are scored (default: every platform among ``positions``).
    sources : the platforms whose hardware is put in (default: every platform of ``inputs`` but the scored
        one; name the scored platform itself to check that an unchanged vector changes nothing).
    extra_hardware : further hardware vectors by name (e.g. a platform the inputs do not hold).
    n_boot, seed : the bootstrap of the PCA difference over tasks.

    Returns
    -------
    :data:`SWAP_COLUMNS`, one row per (platform, hardware_of); ``delta`` = swapped PCA - true PCA.
    """
    positions = np.asarray(positions)
    platform_of = inputs.records["platform"].to_numpy()[positions]
    vectors = {p: inputs.hardware[i] for i, p in enumerate(inputs.platform_ids)}
    vectors.update(extra_hardware or {})
    rows = []
    for platform in platforms or sorted(set(platform_of)):
        mine = positions[platform_of == platform]
        records = inputs.records.iloc[mine].reset_index(drop=True)
        true = np.asarray(model.predict(inputs, mine), dtype=np.float64)
        true_parts = task_parts(records, true, "pca")
        for source in (sources if sources is not None else [p for p in vectors if p != platform]):
            swapped = np.asarray(model.predict(with_hardware(inputs, platform, vectors[source]), mine),
                                 dtype=np.float64)
            parts = task_parts(records, swapped, "pca")
            delta, low, high = paired_bootstrap(
                parts["num"].to_numpy(), parts["den"].to_numpy(), true_parts["num"].to_numpy(),
                true_parts["den"].to_numpy(), n_boot, [seed, zlib.crc32(f"{platform}|{source}".encode())])
            rows.append({"platform": platform, "hardware_of": source,
                         "pca": true_parts["num"].sum() / true_parts["den"].sum(),
                         "pca_swapped": parts["num"].sum() / parts["den"].sum(), "delta": delta,
                         "delta_low": low, "delta_high": high,
                         "spearman": spearman(true, swapped),
                         "task_spearman": task_spearman(records, true, swapped), "records": len(mine),
                         "tasks": len(true_parts)})
    return pd.DataFrame(rows, columns=list(SWAP_COLUMNS))
