"""The ``platforms`` row whose hardware features our cost model gets while tuning: a dataset's row
(:func:`platform_row_from_dataset`), or the row read off this machine for a TVM target (:func:`platform_row_for`:
lscpu and LLVM for a CPU, nvidia-smi for CUDA, through :mod:`tenset_study.collect.platforms`)."""

from __future__ import annotations

import os


def platform_row_from_dataset(dataset: str | os.PathLike, platform: str) -> dict:
    """The last ``platforms`` row with id ``platform`` of a dataset."""
    from ..data.dataset import Dataset

    table = Dataset.open(dataset).to_pandas("platforms")
    rows = table[table["platform"] == platform]
    if rows.empty:
        raise ValueError(f"platform {platform!r} not in {dataset} (platforms: {', '.join(sorted(table['platform']))})")
    return rows.iloc[-1].to_dict()


def platform_row_for(target) -> dict:
    """The ``platforms`` row of this machine for a TVM target (CPU: lscpu and LLVM; CUDA: nvidia-smi)."""
    from ..collect import platforms
    from ..programs.targets import target_dict, target_kind

    spec = target_dict(target)
    if target_kind(spec) == "gpu":
        return platforms.gpu_platform(spec, {})
    return platforms.cpu_platform(spec, {})


__all__ = ["platform_row_for", "platform_row_from_dataset"]
