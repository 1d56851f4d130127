"""Agreement between platforms: whether every platform of a kind measured the same programs, and, per task,
how alike two platforms of one kind rank the same programs (Spearman correlation, same fastest program,
regret)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ...data.dataset import Dataset


def program_set_coverage(ds: Dataset) -> pd.DataFrame:
    """Per platform: the programs of its kind in the dataset, how many it measured (successfully or not)
    and how many it lacks, the tasks it measured and the median programs it measured per task (a platform
    that measured a fixed subset, ``collect --replay-subset 32``, shows 32). Every platform of a kind should
    measure the same set, or a stated subset of it: a platform with missing programs is either still being
    collected, a subset, or a defect (index: platform)."""
    programs = ds.to_pandas("programs", columns=["program", "task"])
    kinds = ds.to_pandas("tasks", columns=["task", "kind"]).drop_duplicates("task", keep="last")
    programs = programs.merge(kinds, on="task", how="left")
    per_kind = programs.groupby("kind")["program"].nunique()
    platforms = ds.to_pandas("platforms", columns=["platform", "kind"]).drop_duplicates("platform", keep="last")
    pairs = ds.to_pandas("measurements", columns=["program", "platform"]).drop_duplicates()
    measured = pairs.groupby("platform")["program"].nunique()
    per_task = pairs.merge(programs[["program", "task"]], on="program").groupby(["platform", "task"]).size()
    out = platforms.set_index("platform").sort_index()
    out["programs_of_kind"] = out["kind"].map(per_kind).fillna(0).astype(int)
    out["measured"] = measured.reindex(out.index).fillna(0).astype(int)
    out["missing"] = out["programs_of_kind"] - out["measured"]
    out["tasks_measured"] = per_task.groupby("platform").size().reindex(out.index).fillna(0).astype(int)
    out["median_programs_per_task"] = per_task.groupby("platform").median().reindex(out.index)
    out["complete"] = out["missing"] == 0
    return out


def comparable_platforms(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Platform kinds (``cpu``/``gpu``) with two or more platforms in ``frame``: kind -> sorted platforms."""
    kinds = frame[["platform", "kind"]].drop_duplicates().dropna()
    groups = kinds.groupby("kind")["platform"].apply(lambda s: sorted(s))
    return {kind: platforms for kind, platforms in groups.items() if len(platforms) >= 2}


def _ranks_pearson(group_keys: pd.Series, a: pd.Series, b: pd.Series) -> pd.Series:
    """Pearson correlation of ``a`` and ``b`` within each group, vectorized (NaN for constant groups)."""
    df = pd.DataFrame({"g": group_keys.to_numpy(), "a": a.to_numpy(), "b": b.to_numpy()})
    df["ab"], df["aa"], df["bb"] = df["a"] * df["b"], df["a"] ** 2, df["b"] ** 2
    m = df.groupby("g").mean()
    cov = m["ab"] - m["a"] * m["b"]
    var_a, var_b = m["aa"] - m["a"] ** 2, m["bb"] - m["b"] ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.sqrt(var_a * var_b)
        r = cov / denom
    r[~(denom > 1e-12 * (m["aa"] + m["bb"]))] = np.nan
    return r


def cross_platform_agreement(frame: pd.DataFrame, min_programs: int = 2) -> pd.DataFrame:
    """Per pair of platforms of one kind and per task: how alike the two platforms rank the same programs.

    Only programs measured ok on both platforms count; tasks with fewer than ``min_programs`` of them are
    left out. Columns: kind, platform_a, platform_b, task, op, programs, spearman (rank correlation of the
    latencies, ties averaged), same_best (the fastest program on a is the fastest on b), regret_b (latency
    on b of a's fastest program / b's best latency, >= 1).
    """
    ok = frame[frame["ok"]]
    rows = []
    for kind, platforms in comparable_platforms(frame).items():
        for a, b in itertools.combinations(platforms, 2):
            left = ok[ok["platform"] == a][["program", "task", "op", "latency_s"]]
            right = ok[ok["platform"] == b][["program", "latency_s"]]
            both = left.merge(right, on="program", suffixes=("_a", "_b"))
            both = both[both.groupby("task")["program"].transform("size") >= min_programs]
            if both.empty:
                continue
            both = both.sort_values(["task", "program"])
            rank_a = both.groupby("task")["latency_s_a"].rank()
            rank_b = both.groupby("task")["latency_s_b"].rank()
            spearman = _ranks_pearson(both["task"], rank_a, rank_b)
            grouped = both.groupby("task")
            best_a = both.loc[grouped["latency_s_a"].idxmin(), ["task", "program", "latency_s_b"]].set_index("task")
            best_b = both.loc[grouped["latency_s_b"].idxmin(), ["task", "program", "latency_s_b"]].set_index("task")
            per_task = pd.DataFrame({
                "op": grouped["op"].first(),
                "programs": grouped.size(),
                "spearman": spearman,
                "same_best": best_a["program"] == best_b["program"],
                "regret_b": best_a["latency_s_b"] / best_b["latency_s_b"],
            })
            per_task.index.name = "task"
            per_task.insert(0, "platform_b", b)
            per_task.insert(0, "platform_a", a)
            per_task.insert(0, "kind", kind)
            rows.append(per_task.reset_index())
    columns = ["kind", "platform_a", "platform_b", "task", "op", "programs", "spearman", "same_best", "regret_b"]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


def agreement_summary(agreement: pd.DataFrame) -> pd.DataFrame:
    """Per platform pair: tasks compared, median and quartiles of the per-task Spearman correlation, the share
    of tasks whose fastest program is the same, and the median regret."""
    grouped = agreement.groupby(["kind", "platform_a", "platform_b"])
    return grouped.agg(
        tasks=("task", "size"),
        programs=("programs", "sum"),
        spearman_q25=("spearman", lambda s: s.quantile(0.25)),
        spearman_median=("spearman", "median"),
        spearman_q75=("spearman", lambda s: s.quantile(0.75)),
        same_best=("same_best", "mean"),
        regret_median=("regret_b", "median"),
    )


def self_agreement(ds: Dataset, min_programs: int = 2) -> pd.DataFrame:
    """Per platform and task: how alike one measured repeat ranks the programs against another repeat of the
    same measurement (repeat 0 against repeat 1, Spearman over the programs with two or more repeats), the
    most a second platform's ranking could agree with this one. Same columns as
    :func:`cross_platform_agreement`, with ``platform_a`` = ``platform_b`` and ``same_best``/``regret_b`` of
    repeat 0's fastest program judged by repeat 1. Tasks with fewer than ``min_programs`` such programs are
    left out; a dataset without repeats (TenSet's logs as read here) gives an empty table."""
    import pyarrow.compute as pc

    columns = ["kind", "platform_a", "platform_b", "task", "op", "programs", "spearman", "same_best", "regret_b"]
    meas = ds.to_pandas("measurements", columns=["program", "platform", "repeats_s", "error"],
                        filter=pc.field("error").is_null())
    meas = meas[meas["repeats_s"].map(lambda r: r is not None and len(r) >= 2)]
    if meas.empty:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({"program": meas["program"].to_numpy(), "platform": meas["platform"].to_numpy(),
                          "latency_s": meas["repeats_s"].map(lambda r: float(r[0])).to_numpy(), "ok": True})
    twin = frame.assign(platform=frame["platform"] + "\0repeat 1",
                        latency_s=meas["repeats_s"].map(lambda r: float(r[1])).to_numpy())
    programs = ds.to_pandas("programs", columns=["program", "task"])
    tasks = ds.to_pandas("tasks", columns=["task", "op"]).drop_duplicates("task", keep="last")
    rows = []
    for platform, mine in pd.concat([frame, twin]).groupby(frame["platform"].tolist() * 2, sort=True):
        both = mine.merge(programs, on="program").merge(tasks, on="task", how="left").assign(kind="repeat")
        per_task = cross_platform_agreement(both, min_programs)
        rows.append(per_task.assign(platform_a=platform, platform_b=platform))
    out = pd.concat(rows, ignore_index=True)
    kinds = ds.to_pandas("platforms", columns=["platform", "kind"]).drop_duplicates("platform", keep="last")
    out["kind"] = out["platform_a"].map(kinds.set_index("platform")["kind"])
    return out[columns]


def agreement_matrix(agreement: pd.DataFrame, statistic: str = "spearman") -> pd.DataFrame:
    """The median over tasks of a per-task statistic of :func:`cross_platform_agreement`, as a symmetric
    platform x platform table: chapter 01's platform correlation figure. The diagonal holds the rows whose two
    platforms are the same (:func:`self_agreement`, concatenated to ``agreement``), else it is empty."""
    medians = agreement.groupby(["platform_a", "platform_b"])[statistic].median()
    platforms = sorted(set(agreement["platform_a"]) | set(agreement["platform_b"]))
    matrix = pd.DataFrame(np.nan, index=platforms, columns=platforms)
    for (a, b), value in medians.items():
        matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix


def redundant_configurations(agreement: pd.DataFrame, remeasured: dict[str, str], n_boot: int = 1000,
                             seed: int = 0) -> pd.DataFrame:
    """Which configurations rank like a re-measurement of another, and so add nothing as platforms.

    ``remeasured`` maps each configuration to its re-measurement (the same configuration measured again).
    For every pair of configurations (x, y), per task: ``gap`` = the lower of the two re-measurement
    correlations (x with x', y with y') minus the correlation of x with y. The pair is ``distinct`` when the
    bootstrap interval (over tasks) of the mean gap lies above zero: x and y rank the programs of a task less
    alike than either ranks them against itself. Otherwise one of them is redundant.
    Columns: platform_a, platform_b, tasks, spearman (median), ceiling (median), gap, gap_low, gap_high,
    distinct.
    """
    per_pair = {key: group.set_index("task")["spearman"]
                for key, group in agreement.groupby(["platform_a", "platform_b"])}

    def pair(a: str, b: str) -> pd.Series:
        return per_pair.get((a, b), per_pair.get((b, a), pd.Series(dtype=float)))

    rng = np.random.default_rng(seed)
    rows = []
    for a, b in itertools.combinations(sorted(remeasured), 2):
        both = pd.DataFrame({"xy": pair(a, b), "xx": pair(a, remeasured[a]), "yy": pair(b, remeasured[b])}).dropna()
        if both.empty:
            continue
        ceiling = np.minimum(both["xx"], both["yy"])
        gap = (ceiling - both["xy"]).to_numpy()
        means = gap[rng.integers(0, len(gap), size=(n_boot, len(gap)))].mean(axis=1)
        low, high = np.quantile(means, [0.025, 0.975])
        rows.append({"platform_a": a, "platform_b": b, "tasks": len(gap), "spearman": both["xy"].median(),
                     "ceiling": ceiling.median(), "gap": gap.mean(), "gap_low": low, "gap_high": high,
                     "distinct": bool(low > 0)})
    columns = ["platform_a", "platform_b", "tasks", "spearman", "ceiling", "gap", "gap_low", "gap_high", "distinct"]
    return pd.DataFrame(rows, columns=columns)


def neighbour_effect(frame: pd.DataFrame, side: str, alone: str) -> pd.DataFrame:
    """How configurations timed side by side differ from themselves timed alone (the pilot of
    ``scripts/device_configurations.sh``): for each configuration measured both as ``{side}-{label}`` and
    ``{alone}-{label}``, the median and 10th/90th percentiles over programs of latency side by side / alone,
    and the median over tasks of the Spearman correlation between the two rankings.
    Columns: configuration, programs, ratio_median, ratio_q10, ratio_q90, spearman."""
    ok = frame[frame["ok"]]
    rows = []
    for platform in sorted(ok["platform"].unique()):
        if not platform.startswith(f"{side}-"):
            continue
        label = platform.removeprefix(f"{side}-")
        twin = f"{alone}-{label}"
        pair = ok[ok["platform"].isin([platform, twin])]
        latency = pair.pivot_table(index="program", columns="platform", values="latency_s")
        if twin not in latency:
            continue
        ratio = (latency[platform] / latency[twin]).dropna()
        spearman = cross_platform_agreement(pair)["spearman"].median()
        rows.append({"configuration": label, "programs": len(ratio), "ratio_median": ratio.median(),
                     "ratio_q10": ratio.quantile(0.1), "ratio_q90": ratio.quantile(0.9), "spearman": spearman})
    columns = ["configuration", "programs", "ratio_median", "ratio_q10", "ratio_q90", "spearman"]
    return pd.DataFrame(rows, columns=columns)
