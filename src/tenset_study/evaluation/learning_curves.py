"""Learning curves: accuracy on the unchanged test records against how many training tasks (and programs per
task) a model saw, so the book can say how much data the next gain needs.

Subsets are nested and drawn per seed: the training tasks of each kind in a seeded random order, the first ``n``
of them (the same task ids on every platform of the kind, since platforms of a kind share their tasks), and,
where asked, the first ``k`` programs of each task in a seeded order. Every model of a run sees the same subsets,
so their curves differ only by the model. Several seeds give the spread of the subset draw and of training
together.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..models.inputs import ModelInputs
from .runner import ModelSpec, run_experiment, summarize_seeds
from .splits import Split


def training_tasks(records: pd.DataFrame, train: np.ndarray) -> dict[str, list[str]]:
    """The training records' tasks per kind (``cpu``/``gpu``), sorted."""
    part = records.iloc[train]
    return {kind: sorted(group.unique()) for kind, group in part.groupby("kind", sort=True)["task"]}


def subset_positions(records: pd.DataFrame, train: np.ndarray, tasks: int | None, programs_per_task: int | None,
                     seed: int) -> np.ndarray:
    """The positions of ``train`` that a learning curve's point keeps: the first ``tasks`` training tasks of each
    kind in the seed's order (None: all) and, of each, the first ``programs_per_task`` programs in the seed's
    order (None: all). Subsets of one seed are nested: more tasks or programs only add positions."""
    rng = np.random.default_rng(seed)
    keep_tasks = set()
    for kind_tasks in training_tasks(records, train).values():
        order = rng.permutation(len(kind_tasks))
        keep_tasks.update(kind_tasks[i] for i in order[: len(order) if tasks is None else tasks])
    train = np.asarray(train)
    part = records.iloc[train]
    chosen = part["task"].isin(keep_tasks).to_numpy()
    if programs_per_task is not None:
        programs = np.sort(part["program"].unique())
        rank = pd.Series(rng.permutation(len(programs)), index=programs)
        order = part.assign(rank=part["program"].map(rank).to_numpy())
        # rank of each program within its task, the same on every platform (programs are shared)
        within = order.groupby("task")["rank"].rank(method="dense").to_numpy()
        chosen = chosen & (within <= programs_per_task)
    return train[chosen]


def learning_curve(specs: list[ModelSpec], inputs: ModelInputs, split: Split, network_tasks: pd.DataFrame,
                   task_counts: Sequence[int | None], programs_per_task: Sequence[int | None] = (None,),
                   seeds: Sequence[int] = (0,), n_boot: int = 1000) -> pd.DataFrame:
    """Every model of ``specs`` trained on nested subsets of the split's training tasks and programs.

    Parameters
    ----------
    task_counts : training tasks per kind at each point (None: all; counts above the available tasks are
        capped, and a point whose subset equals a smaller count's is run once).
    programs_per_task : programs kept per task at each point (None: all); crossed with ``task_counts``.
    seeds : one subset draw and one training seed each.

    Returns
    -------
    The runner's metric rows (:data:`~.runner.RESULT_COLUMNS`; ``seed`` is the subset draw's and training's,
    ``tasks`` the test tasks) with the point's ``train_tasks`` (per kind, as run), ``programs_per_task`` (NaN:
    all) and ``train_records``.
    """
    records = inputs.records
    available = min(len(t) for t in training_tasks(records, split.train).values())
    rows = []
    for seed in seeds:
        done = set()
        for count in task_counts:
            tasks = available if count is None else min(int(count), available)
            for per_task in programs_per_task:
                if (tasks, per_task) in done:
                    continue
                done.add((tasks, per_task))
                train = subset_positions(records, split.train, tasks, per_task, seed)
                sub = Split(split.name, train, split.test, split.held_out, split.description)
                table = run_experiment(specs, inputs, sub, network_tasks, seeds=(seed,), n_boot=n_boot)
                rows.append(table.assign(train_tasks=tasks,
                                         programs_per_task=np.nan if per_task is None else per_task,
                                         train_records=len(train)))
    return pd.concat(rows, ignore_index=True)


def summarize_curve(curve: pd.DataFrame) -> pd.DataFrame:
    """Fold the seeds of :func:`learning_curve` (:func:`~.runner.summarize_seeds`, keyed also by ``train_tasks``
    and ``programs_per_task``): the mean value, its standard deviation over seeds, the mean bootstrap interval
    over test tasks and the mean training records."""
    return summarize_seeds(curve, by=("train_tasks", "programs_per_task"), means=("train_records",))


def gain_per_doubling(summary: pd.DataFrame, metric: str = "pca", network: str = "all") -> pd.DataFrame:
    """Per (variant, platform, programs_per_task): the least-squares slope of the metric against log2 of the
    training tasks, i.e. what each doubling of the training tasks added over the curve's range, with the
    range of task counts it was fitted on."""
    part = summary[(summary["metric"] == metric) & (summary["network"] == network)]
    rows = []
    for (variant, platform, per_task), group in part.groupby(["variant", "platform", "programs_per_task"],
                                                             dropna=False, sort=True):
        if group["train_tasks"].nunique() < 2:
            continue
        slope = np.polyfit(np.log2(group["train_tasks"].to_numpy(dtype=float)), group["value"].to_numpy(), 1)[0]
        rows.append({"variant": variant, "platform": platform, "programs_per_task": per_task,
                     "per_doubling": float(slope), "from_tasks": int(group["train_tasks"].min()),
                     "to_tasks": int(group["train_tasks"].max())})
    return pd.DataFrame(rows, columns=["variant", "platform", "programs_per_task", "per_doubling", "from_tasks",
                                       "to_tasks"])


def best_baseline(summary: pd.DataFrame, ours: str = "ours", metric: str = "pca") -> str | None:
    """The variant other than ``ours`` with the highest mean ``metric`` over platforms on all test networks of
    a summary (:func:`~.runner.summarize_seeds`), or None when there is none."""
    part = summary[(summary["metric"] == metric) & (summary["network"] == "all") & (summary["variant"] != ours)]
    means = part.groupby("variant")["value"].mean()
    return str(means.idxmax()) if len(means) else None
