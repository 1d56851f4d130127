"""Test splits: which records a cost model trains on and which it is tested on.

One interface for every strategy: :func:`make_split` takes a strategy name and the records table of
:mod:`tenset_study.data.records` and returns a :class:`Split` of row positions. The strategies differ in what the
test side holds that training never saw:

* ``random``: nothing in particular (records at random; a program may be in train on one platform and in
  test on another);
* ``within-task``: programs (TenSet's default: every task keeps part of its programs for test);
* ``by-task``: whole tasks; ``by-network``: the tasks of whole networks; ``by-op``: operator classes;
* ``by-platform``: a whole platform (optionally together with whole networks).

Every split is deterministic in ``seed``; bad parameters raise ``ValueError`` with what was expected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..params import check_choice, check_choices

#: TenSet's evaluation networks, held out by ``by-network`` unless ``test_networks`` is given.
TENSET_TEST_NETWORKS = (
    "resnet_50-b1-224",
    "mobilenet_v2-b1-224",
    "resnext_50-b1-224",
    "bert_base-b1-128",
    "bert_tiny-b1-128",
)

#: Strategy name -> what it holds out.
STRATEGIES: dict[str, str] = {
    "random": "Records at random; a program may be in train on one platform and in test on another.",
    "within-task": "TenSet's default: a fraction of every task's programs is tested, on every platform.",
    "by-task": "Whole tasks are tested: all their programs on all platforms.",
    "by-network": "Every task occurring in a held-out network is tested (TenSet's evaluation networks by default).",
    "by-op": "Whole operator classes (conv2d, dense, ...) are tested.",
    "by-platform": "One platform is tested, optionally restricted to held-out networks whose tasks leave train.",
}


@dataclass(frozen=True)
class Split:
    """A train/test split of a records table.

    Attributes
    ----------
    name : the strategy (a key of :data:`STRATEGIES`).
    train, test : sorted, disjoint int64 row positions into the records table.
    held_out : what the test side holds that train does not, e.g. ``{"networks": [...], "tasks": [...]}``.
    description : one sentence saying what this split tests.
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    held_out: dict[str, object] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class _Request:
    """The parameters of :func:`make_split`, handed to a strategy."""

    records: pd.DataFrame
    network_tasks: pd.DataFrame | None
    seed: int
    test_fraction: float
    test_networks: Sequence[str] | None
    test_platform: str | None
    test_ops: Sequence[str] | None


# --- helpers -----------------------------------------------------------------------------------------


def _shuffled(values: pd.Series | pd.Index, rng: np.random.Generator) -> np.ndarray:
    """The distinct values, sorted (independent of row order) and then shuffled by ``rng``."""
    distinct = np.unique(np.asarray(pd.unique(values), dtype=object).astype(str))
    return distinct[rng.permutation(len(distinct))]


def _count(total: int, fraction: float) -> int:
    """``round(fraction * total)`` kept within 1 .. total - 1 (so that both sides get something)."""
    return int(min(max(round(fraction * total), 1), total - 1))


def _check_known(kind: str, asked: Sequence[str], present: Sequence[str]) -> list[str]:
    """``asked`` as a sorted list, after checking every entry is among ``present``."""
    asked = [asked] if isinstance(asked, str) else list(asked)
    if not asked:
        raise ValueError(f"no {kind} given to hold out")
    unknown = sorted(set(asked) - set(present))
    if unknown:
        raise ValueError(f"unknown {kind} {unknown}; present in the data: {sorted(set(present))}")
    return sorted(set(asked))


def _split_rows(name: str, test_mask: np.ndarray, train_mask: np.ndarray, held_out: dict, description: str) -> Split:
    """A :class:`Split` from boolean masks over the records, refusing an empty side."""
    train, test = np.flatnonzero(train_mask), np.flatnonzero(test_mask)
    if len(test) == 0:
        raise ValueError(f"split {name!r} leaves the test side empty ({held_out})")
    if len(train) == 0:
        raise ValueError(f"split {name!r} leaves nothing to train on ({held_out})")
    return Split(name, train.astype(np.int64), test.astype(np.int64), held_out, description)


def _present_networks(request: _Request) -> list[str]:
    """Networks with at least one task in the records."""
    links = _links(request)
    return sorted(set(links.loc[links["task"].isin(request.records["task"].unique()), "network"]))


def _links(request: _Request) -> pd.DataFrame:
    """``network_tasks``, required by the network strategies."""
    if request.network_tasks is None:
        raise ValueError("this split needs network_tasks (records.network_tasks(ds)) to know each network's tasks")
    return request.network_tasks


def _network_task_set(request: _Request, networks: Sequence[str]) -> set[str]:
    """Tasks occurring in any of ``networks``."""
    links = _links(request)
    return set(links.loc[links["network"].isin(networks), "task"].astype(str))


def _fraction(request: _Request) -> float:
    """``test_fraction``, checked to be strictly between 0 and 1."""
    if not 0 < request.test_fraction < 1:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {request.test_fraction}")
    return request.test_fraction


# --- strategies --------------------------------------------------------------------------------------


def _random(request: _Request) -> Split:
    records, fraction = request.records, _fraction(request)
    rng = np.random.default_rng(request.seed)
    test_mask = np.zeros(len(records), dtype=bool)
    test_mask[rng.permutation(len(records))[: _count(len(records), fraction)]] = True
    description = (
        f"{test_mask.sum()} of {len(records)} records at random; a program may be in train on one platform "
        "and in test on another."
    )
    return _split_rows("random", test_mask, ~test_mask, {"fraction": fraction}, description)


def _within_task(request: _Request) -> Split:
    records, fraction = request.records, _fraction(request)
    rng = np.random.default_rng(request.seed)
    code, names = pd.factorize(records["program"], sort=True)
    _, first_row = np.unique(code, return_index=True)
    programs = pd.DataFrame({"task": records["task"].to_numpy()[first_row], "draw": rng.random(len(names))})
    place = programs.groupby("task")["draw"].rank(method="first") - 1
    size = programs.groupby("task")["draw"].transform("size")
    is_test = (place < np.round(fraction * size)).to_numpy()
    test_mask = is_test[code]
    description = (
        f"{is_test.sum()} of {len(names)} programs ({fraction:.0%} of each task's, rounded) are tested on "
        "every platform; every task is seen in training."
    )
    return _split_rows("within-task", test_mask, ~test_mask, {"fraction": fraction}, description)


def _by_task(request: _Request) -> Split:
    records, fraction = request.records, _fraction(request)
    tasks = _shuffled(records["task"], np.random.default_rng(request.seed))
    if len(tasks) < 2:
        raise ValueError(f"by-task needs at least 2 tasks, the records have {len(tasks)}")
    test_tasks = sorted(tasks[: _count(len(tasks), fraction)])
    test_mask = records["task"].isin(test_tasks).to_numpy()
    description = f"{len(test_tasks)} of {len(tasks)} tasks are tested whole (all programs, all platforms)."
    return _split_rows("by-task", test_mask, ~test_mask, {"tasks": test_tasks}, description)


def _held_out_networks(request: _Request) -> list[str]:
    """``test_networks`` checked against the networks present, or TenSet's evaluation networks present."""
    present = _present_networks(request)
    if request.test_networks is not None:
        return _check_known("network(s)", request.test_networks, present)
    chosen = [network for network in TENSET_TEST_NETWORKS if network in present]
    if not chosen:
        raise ValueError(
            f"none of TenSet's evaluation networks {list(TENSET_TEST_NETWORKS)} is in the data; "
            f"present: {present}; pass test_networks"
        )
    return chosen


def _by_network(request: _Request) -> Split:
    records = request.records
    networks = _held_out_networks(request)
    test_tasks = _network_task_set(request, networks) & set(records["task"].unique())
    test_mask = records["task"].isin(test_tasks).to_numpy()
    description = (
        f"The {len(test_tasks)} tasks of {', '.join(networks)} are tested whole, including tasks they share "
        "with other networks."
    )
    held_out = {"networks": networks, "tasks": sorted(test_tasks)}
    return _split_rows("by-network", test_mask, ~test_mask, held_out, description)


def _default_ops(records: pd.DataFrame, fraction: float, rng: np.random.Generator) -> list[str]:
    """Operator classes in seeded random order, taken while their share of records stays within ``fraction``.

    If every class alone exceeds it, the smallest class.
    """
    share = records["op"].astype(str).value_counts(normalize=True)
    if len(share) < 2:
        raise ValueError(f"by-op needs at least 2 operator classes, the records have {list(share.index)}")
    chosen, total = [], 0.0
    for op in _shuffled(share.index, rng):
        if total + share[op] <= fraction:
            chosen.append(op)
            total += share[op]
    return sorted(chosen) if chosen else [str(share.idxmin())]


def _by_op(request: _Request) -> Split:
    records, fraction = request.records, _fraction(request)
    ops = records["op"].astype(str)
    if request.test_ops is not None:
        held = _check_known("op(s)", request.test_ops, ops.unique())
    else:
        held = _default_ops(records, fraction, np.random.default_rng(request.seed))
    test_mask = ops.isin(held).to_numpy()
    description = f"Operator class(es) {', '.join(held)} are tested; training never sees them."
    return _split_rows("by-op", test_mask, ~test_mask, {"ops": held}, description)


def _by_platform(request: _Request) -> Split:
    records = request.records
    platforms = records["platform"].astype(str)
    if request.test_platform is not None:
        platform = _check_known("platform", [request.test_platform], platforms.unique())[0]
    else:
        platform = str(_shuffled(platforms, np.random.default_rng(request.seed))[0])
    on_platform = (platforms == platform).to_numpy()
    held_out: dict[str, object] = {"platform": platform}
    if request.test_networks is None:
        description = f"Platform {platform} is tested; training sees only the other platforms (same programs)."
        return _split_rows("by-platform", on_platform, ~on_platform, held_out, description)
    networks = _check_known("network(s)", request.test_networks, _present_networks(request))
    in_networks = records["task"].isin(_network_task_set(request, networks)).to_numpy()
    held_out.update(networks=networks, tasks=sorted(records.loc[in_networks, "task"].unique()))
    description = (
        f"The tasks of {', '.join(networks)} on platform {platform} are tested; training sees neither "
        "that platform nor those tasks."
    )
    return _split_rows("by-platform", on_platform & in_networks, ~on_platform & ~in_networks, held_out, description)


_SPLITTERS: dict[str, Callable[[_Request], Split]] = {
    "random": _random,
    "within-task": _within_task,
    "by-task": _by_task,
    "by-network": _by_network,
    "by-op": _by_op,
    "by-platform": _by_platform,
}

#: Which optional parameters each strategy reads (others given to it are an error, not silently ignored).
_USES = {
    "test_networks": ("by-network", "by-platform"),
    "test_platform": ("by-platform",),
    "test_ops": ("by-op",),
}


def make_split(
    strategy: str,
    records: pd.DataFrame,
    network_tasks: pd.DataFrame | None = None,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    test_networks: Sequence[str] | None = None,
    test_platform: str | None = None,
    test_ops: Sequence[str] | None = None,
) -> Split:
    """Split ``records`` into train and test rows with one of :data:`STRATEGIES`.

    Parameters
    ----------
    strategy : ``random``, ``within-task``, ``by-task``, ``by-network``, ``by-op`` or ``by-platform``.
    records : the records table (columns ``program``, ``task``, ``platform``, ``op``, ...).
    network_tasks : ``network``, ``task``, ``weight``; needed by ``by-network`` and by ``by-platform`` with
        ``test_networks``.
    seed : seed of every random choice; the same seed and records give the same split.
    test_fraction : share tested by ``random`` (of records), ``within-task`` (of each task's programs),
        ``by-task`` (of tasks) and default ``by-op`` (of records, an upper bound).
    test_networks : networks held out by ``by-network`` (default: TenSet's evaluation networks present in
        the data) or, with ``by-platform``, held out together with the platform.
    test_platform : the platform ``by-platform`` holds out (default: one chosen by ``seed``).
    test_ops : operator classes ``by-op`` holds out (default: chosen by ``seed`` up to ``test_fraction``).

    Returns
    -------
    A :class:`Split` with row positions into ``records``.
    """
    check_choice(strategy, STRATEGIES, "strategy", "split strategy", "split strategies")
    given = {"test_networks": test_networks, "test_platform": test_platform, "test_ops": test_ops}
    for parameter, value in given.items():
        if value is not None and strategy not in _USES[parameter]:
            applies = ", ".join(_USES[parameter])
            raise ValueError(f"{parameter} does not apply to strategy {strategy!r} (only to {applies})")
    if len(records) == 0:
        raise ValueError("records are empty: nothing to split")
    request = _Request(records, network_tasks, seed, test_fraction, test_networks, test_platform, test_ops)
    return _SPLITTERS[strategy](request)


def check_split_names(names: list[str], parameter: str = "splits") -> list[str]:
    """``names`` if every one is a split strategy, else a ParameterError listing the valid ones."""
    return check_choices(names, STRATEGIES, parameter, "split")
