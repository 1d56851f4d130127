"""Reference rankings every cost model is read against, on the same test records and with the same metrics: the
noise ceiling, the cross-platform oracle and random scores.

* **Noise ceiling** (:func:`noise_ceiling`): a platform's programs ranked by one repeat of their measurement and
  judged against another repeat (:func:`~.noise.repeat_records`): what a perfect model could reach against
  labels that carry the same measurement noise.
* **Cross-platform oracle** (:func:`cross_platform_oracle`): a platform's programs ranked by another platform's
  measured latencies of the same programs (platforms of one kind share their programs). What a model that knew
  the other machine perfectly, and nothing of this one, would reach: the bar for transfer.
* **Random scores** (:func:`random_reference`): the ranking every model must beat. Its PCA is 0.5 in
  expectation; its top-k depends on how many programs a task has (:func:`expected_random_top_k` gives the
  analytic value).

Each returns rows of :func:`~.metrics.evaluate` (``platform``, ``network``, ``metric``, ``value``, ``low``,
``high``, ``tasks``) plus ``reference`` (its name), ``records`` (test records it covers) and ``seed_std``
(spread over random draws; 0 for the others), so that :mod:`.diagnostics` sets them beside a results table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .metrics import evaluate
from .noise import measurements_with_repeats, repeat_records

#: Columns of every reference table.
REFERENCE_COLUMNS = ("platform", "reference", "network", "metric", "value", "low", "high", "seed_std", "tasks",
                     "records")
NOISE_CEILING = "noise ceiling"
RANDOM = "random"
ORACLE_PREFIX = "oracle: "


def _rows(records: pd.DataFrame, scores: np.ndarray, reference: str, network_tasks: pd.DataFrame | None,
          ks: Sequence[int], n_boot: int, seed: int) -> pd.DataFrame:
    """:func:`evaluate`'s rows of ``scores`` on ``records``, named ``reference``, with the records per platform."""
    table = evaluate(records, scores, network_tasks, ks=ks, n_boot=n_boot, seed=seed)
    counts = records.groupby("platform").size()
    table = table.assign(reference=reference, seed_std=0.0, records=table["platform"].map(counts).astype(int))
    return table[list(REFERENCE_COLUMNS)]


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=list(REFERENCE_COLUMNS))


def noise_ceiling(measurements: pd.DataFrame, records: pd.DataFrame | None = None,
                  network_tasks: pd.DataFrame | None = None, score_repeats: Sequence[int] = (0,),
                  label_repeats: Sequence[int] = (1,), ks: Sequence[int] = (1, 5), n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """PCA and top-k of one repeat ranking the programs against another, per platform.

    Parameters
    ----------
    measurements : ``program``, ``task``, ``platform``, ``repeats_s`` (:func:`~.noise.measurements_with_repeats`).
    records : the test records; only their (program, platform) pairs count (None: every measurement).
    network_tasks : for per-network rows (None: the ``all`` rows only).
    score_repeats, label_repeats : the repeats (indices into ``repeats_s``) that rank and that label.
    ks, n_boot, seed : as :func:`~.metrics.evaluate`.

    Measurements with fewer repeats than the two sets need are left out; with none left the table is empty.
    """
    if records is not None:
        keys = records[["program", "platform"]].drop_duplicates()
        measurements = measurements.merge(keys, on=["program", "platform"], how="inner")
    needed = max([*score_repeats, *label_repeats]) + 1
    measurements = measurements[measurements["repeats_s"].map(lambda r: r is not None and len(r) >= needed)]
    if measurements.empty:  # e.g. TenSet's logs as read here: one latency per program, no repeats to compare
        return _empty()
    ranked, scores = repeat_records(measurements, score_repeats, label_repeats)
    ranked = ranked.sort_values(["task", "platform", "program"], kind="stable")
    return _rows(ranked.reset_index(drop=True), scores[ranked.index.to_numpy()], NOISE_CEILING, network_tasks, ks,
                 n_boot, seed)


def oracle_scores(records: pd.DataFrame, target: str, source: str,
                  latencies: pd.DataFrame | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The ``target`` platform's records that ``source`` measured too, and their scores: minus the latency
    ``source`` measured (``latencies``: the records table to read it from; default ``records``)."""
    latencies = records if latencies is None else latencies
    mine = records[records["platform"] == target]
    theirs = latencies.loc[latencies["platform"] == source, ["program", "latency_s"]]
    theirs = theirs.drop_duplicates("program").set_index("program")["latency_s"]
    shared = mine[mine["program"].isin(theirs.index)].reset_index(drop=True)
    return shared, -shared["program"].map(theirs).to_numpy(dtype=np.float64)


def cross_platform_oracle(records: pd.DataFrame, network_tasks: pd.DataFrame | None = None,
                          latencies: pd.DataFrame | None = None, ks: Sequence[int] = (1, 5), n_boot: int = 1000,
                          seed: int = 0, min_share: float = 0.5) -> pd.DataFrame:
    """Per platform of ``records``, every other platform of its kind as an oracle: the target's records ranked
    by the other platform's measured latencies (:func:`oracle_scores`).

    ``latencies``: where the other platforms' latencies are read (default ``records``; pass the whole records
    table when ``records`` holds one platform's test records only). A source that measured less than
    ``min_share`` of the target's records is left out. Rows are named ``oracle: <source>``.
    """
    latencies = records if latencies is None else latencies
    kinds = latencies.drop_duplicates("platform").set_index("platform")["kind"]
    frames = []
    for target in sorted(records["platform"].unique()):
        size = int((records["platform"] == target).sum())
        for source in sorted(kinds.index):
            if source == target or kinds.get(source) != kinds.get(target):
                continue
            shared, scores = oracle_scores(records, target, source, latencies)
            if len(shared) == 0 or len(shared) < min_share * size:
                continue
            frames.append(_rows(shared, scores, f"{ORACLE_PREFIX}{source}", network_tasks, ks, n_boot, seed))
    return pd.concat(frames, ignore_index=True) if frames else _empty()


def random_reference(records: pd.DataFrame, network_tasks: pd.DataFrame | None = None, draws: int = 5,
                     ks: Sequence[int] = (1, 5), n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Random scores (``draws`` seeded draws): the mean of each metric over the draws, its standard deviation
    (``seed_std``) and the mean bootstrap interval over tasks."""
    frames = []
    for draw in range(draws):
        scores = np.random.default_rng([seed, draw]).random(len(records))
        frames.append(_rows(records, scores, RANDOM, network_tasks, ks, n_boot, seed + draw))
    runs = pd.concat(frames, ignore_index=True)
    keys = ["platform", "reference", "network", "metric"]
    folded = runs.groupby(keys, sort=False).agg(
        value=("value", "mean"), low=("low", "mean"), high=("high", "mean"), seed_std=("value", "std"),
        tasks=("tasks", "max"), records=("records", "max")).reset_index()
    folded["seed_std"] = folded["seed_std"].fillna(0.0)
    return folded[list(REFERENCE_COLUMNS)]


def expected_random_top_k(records: pd.DataFrame, k: int) -> pd.Series:
    """The top-k a random ranking gets in expectation, per platform (all tasks, weight 1): ``sum best /
    sum E[best of k programs drawn at random]``, with ``E[best of k] = sum_i l_(i) C(n - i, k - 1) / C(n, k)``
    over the group's latencies sorted fastest first (``l_(1)`` the best)."""
    out = {}
    for platform, part in records.groupby("platform", sort=True):
        best_sum = expected_sum = 0.0
        for latency in part.groupby("task")["latency_s"]:
            values = np.sort(latency[1].to_numpy(dtype=np.float64))
            n = len(values)
            if k >= n:
                chance = np.eye(1, n).ravel()
            else:
                chance = np.array([math.comb(n - i, k - 1) for i in range(1, n + 1)], dtype=np.float64)
                chance /= math.comb(n, k)
            best_sum += values[0]
            expected_sum += float(chance @ values)
        out[platform] = best_sum / expected_sum
    return pd.Series(out, name=f"top{k}", dtype=np.float64)


def reference_rows(ds, records: pd.DataFrame, network_tasks: pd.DataFrame | None = None,
                   latencies: pd.DataFrame | None = None, ks: Sequence[int] = (1, 5), n_boot: int = 1000,
                   seed: int = 0, random_draws: int = 5) -> pd.DataFrame:
    """The noise ceiling, every cross-platform oracle and random scores on the test ``records`` of dataset ``ds``
    (its measurements' repeats give the ceiling), in one table (:data:`REFERENCE_COLUMNS`)."""
    measurements = measurements_with_repeats(ds, platforms=sorted(records["platform"].unique()))
    return pd.concat([
        noise_ceiling(measurements, records, network_tasks, ks=ks, n_boot=n_boot, seed=seed),
        cross_platform_oracle(records, network_tasks, latencies, ks=ks, n_boot=n_boot, seed=seed),
        random_reference(records, network_tasks, draws=random_draws, ks=ks, n_boot=n_boot, seed=seed),
    ], ignore_index=True)
