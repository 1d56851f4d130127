"""Whether the devices of one host (its GPUs, say) are one platform: each device measures the same fixed sample
as a platform of its own (``scripts/rpc_collect.sh --per-device-check`` names them ``<platform>-dev<i>``), and a
device whose per-task rankings agree with the other devices' less than theirs agree with each other is flagged.
Only devices that agree should share a platform id in a collection across all of them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .agreement import cross_platform_agreement

#: The per-device table's columns (index: platform).
COLUMNS = ["tasks", "spearman_median", "others_median", "latency_ratio", "disagrees"]


def device_agreement(frame: pd.DataFrame, platforms: list[str], margin: float = 0.1,
                     min_spearman: float | None = None, min_programs: int = 2) -> pd.DataFrame:
    """Per device platform: how alike it ranks the programs of each task with the other devices.

    ``frame``: measurements as :func:`~.measurements.measurement_frame` gives them (program, platform, task,
    op, latency_s, ok). Columns (index: the platforms, in the given order): tasks (tasks compared with every
    other device), spearman_median (the median over the other devices of the median per-task Spearman
    correlation with that device), others_median (the same median over the pairs of the other devices, NaN
    with two devices), latency_ratio (median over programs of its latency / the other devices' median
    latency: a slower card shows above 1 even when it ranks alike) and disagrees: spearman_median below
    others_median minus ``margin``, or below ``min_spearman`` when given (with two devices, the only test).
    """
    chosen = _checked_devices(frame, platforms)
    pairs = cross_platform_agreement(chosen.assign(kind="devices"), min_programs)
    medians = pairs.groupby(["platform_a", "platform_b"])["spearman"].median()
    rows = []
    for device in platforms:
        mine = [value for (a, b), value in medians.items() if device in (a, b)]
        others = [value for (a, b), value in medians.items() if device not in (a, b)]
        involved = pairs[(pairs["platform_a"] == device) | (pairs["platform_b"] == device)]
        rows.append({"platform": device, "tasks": int(involved["task"].nunique()),
                     "spearman_median": float(np.median(mine)) if mine else np.nan,
                     "others_median": float(np.median(others)) if others else np.nan})
    table = pd.DataFrame(rows).set_index("platform")
    table["latency_ratio"] = _latency_ratios(chosen, platforms)
    low = table["spearman_median"] < table["others_median"] - margin
    if min_spearman is not None:
        low |= table["spearman_median"] < min_spearman
    table["disagrees"] = low | table["spearman_median"].isna()
    return table[COLUMNS]


def _checked_devices(frame: pd.DataFrame, platforms: list[str]) -> pd.DataFrame:
    """The ok measurements of the named platforms; a ValueError naming ``--platforms`` when fewer than two are
    named or one has no ok measurement."""
    if len(set(platforms)) < 2:
        raise ValueError(f"--platforms: name two or more device platforms, got {platforms}")
    chosen = frame[frame["platform"].isin(platforms) & frame["ok"]]
    empty = [p for p in platforms if p not in set(chosen["platform"])]
    if empty:
        raise ValueError(f"--platforms: no successful measurement of {empty}")
    return chosen


def _latency_ratios(chosen: pd.DataFrame, platforms: list[str]) -> pd.Series:
    """Per device: median over programs of its latency / the median latency of the other devices."""
    latency = chosen.pivot_table(index="program", columns="platform", values="latency_s", aggfunc="mean")
    ratios = {}
    for device in platforms:
        others = latency.drop(columns=device).median(axis=1)
        ratios[device] = (latency[device] / others).median()
    return pd.Series(ratios)


def describe_device_agreement(table: pd.DataFrame) -> str:
    """One sentence on :func:`device_agreement`'s table: the devices agree, or which disagree and by how much."""
    bad = table[table["disagrees"]]
    if bad.empty and table["others_median"].isna().all():
        return (f"the {len(table)} devices: median per-task Spearman {table['spearman_median'].min():.2f} between "
                "them; with two devices only --min-spearman can flag one")
    if bad.empty:
        low, high = table["spearman_median"].min(), table["spearman_median"].max()
        return (f"the {len(table)} devices agree: median per-task Spearman {low:.2f}-{high:.2f} against the "
                "others; they can be measured as one platform")
    each = "; ".join(f"{platform}: {row.spearman_median:.2f}" + _others(row.others_median)
                     for platform, row in bad.iterrows())
    return (f"{len(bad)} of {len(table)} devices disagree with the others (median per-task Spearman) - {each}; "
            "measure them as platforms of their own or leave them out")


def _others(median: float) -> str:
    return "" if np.isnan(median) else f" (the others among themselves {median:.2f})"
