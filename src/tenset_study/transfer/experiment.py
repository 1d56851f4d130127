"""Transfer to unseen hardware: how well cost models rank programs on a platform they were (almost) never
trained on.

One *direction* is a target platform left out of pretraining and the source platforms of one kind that a
model is pretrained on instead, labelled by kinds (``cpu->cpu``, ``cpu->gpu``, ``gpu->cpu``). Networks are
held out as well, as in :func:`tenset_study.evaluation.experiments.default_split` (TenSet's evaluation networks, by
``by-network``): no record of a held-out task, on any platform, is trained on, and the models are scored
on the target platform's records of those tasks only. The target's records of the *training* tasks form
the target pool, from which a task-stratified share (1%, 5%, 10%, ...) is drawn per seed
(:func:`target_subsample`; the presets keep at least 2 records per task, since a ranking loss learns from
pairs); nothing else of the target is ever trained on.

The arms (:data:`ARMS`) compared at each share of the target data:

* ``zero-shot``: ``ours`` pretrained on the source platforms, its hardware features telling it the target;
* ``fine-tune``: a copy of that pretrained model, fine-tuned on the target share;
* ``mtl``: the MTL-TLP-style multi-head model (:mod:`tenset_study.models.multihead`) trained jointly on the
  source records and the target share, the target with its own head;
* ``scratch``: ``ours`` trained on the target share alone;
* ``xgb``, ``mlp`` (and optionally ``tlp``): the classical baselines trained on the target share alone;
* ``random``: random scores, the reference (top-k of a random pick depends on how many programs a task has).

The pretrained model is trained once per (direction, seed) and reused at every share. Results are the tidy
rows of :mod:`tenset_study.evaluation.experiments` plus ``direction``, ``sources``, ``fraction`` (requested share),
``target_records``, ``target_share`` (realized share) and ``fit_s``; :func:`summarize_transfer` folds seeds.
"""

from __future__ import annotations

import copy
import functools
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..evaluation import metrics, resume
from ..evaluation.presets import model_params
from ..evaluation.runner import RESULT_COLUMNS, summarize_seeds
from ..evaluation.splits import Split
from ..models import CostModel, create
from ..models.inputs import ModelInputs
from ..params import ParameterError, check_choices, check_each, check_positive_int, check_share, check_shares

#: Arm -> (model, what it is trained on); the model is a registry name, or ``random`` (random scores).
ARMS: dict[str, tuple[str, str]] = {
    "zero-shot": ("ours", "source"),
    "fine-tune": ("ours", "source, then target"),
    "mtl": ("mtl", "source + target"),
    "scratch": ("ours", "target"),
    "xgb": ("xgb", "target"),
    "mlp": ("mlp", "target"),
    "tlp": ("tlp", "target"),
    "random": ("random", "nothing"),
}

#: Arms that use no target data: scored once per direction and seed, at ``fraction`` 0.
REFERENCE_ARMS = ("zero-shot", "random")

ARM_DESCRIPTIONS = {
    "zero-shot": "ours pretrained on the source platforms, scored on the target with its hardware features",
    "fine-tune": "a copy of the pretrained ours, fine-tuned on the target share",
    "mtl": "MTL-TLP-style: shared attention trunk, one head per platform, trained on source records + target share",
    "scratch": "ours trained on the target share only",
    "xgb": "XGBoost on per-store features, trained on the target share only",
    "mlp": "TenSet's MLP on per-store features, trained on the target share only",
    "tlp": "TLP (tokens only), trained on the target share only",
    "random": "random scores: the reference every ranking must beat (PCA 0.5; top-k by the luck of the draw)",
}

#: Columns of a transfer run table: the experiment columns and what says which data each model saw.
TRANSFER_COLUMNS = ["direction", "sources", "arm", "fraction", "target_records", "target_share", "fit_s",
                    *RESULT_COLUMNS]


# --- directions and data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Direction:
    """A target platform and the source platforms (all of one kind, target excluded) pretrained on."""

    label: str
    sources: tuple[str, ...]
    target: str


def transfer_directions(records: pd.DataFrame, labels: list[str] | None = None,
                        targets: list[str] | None = None) -> list[Direction]:
    """Every (source kind -> target platform) pair the records allow, sorted by label and target: for each
    target platform and each platform kind, the other platforms of that kind are the sources. ``labels``
    (``"cpu->gpu"``, ...) and ``targets`` keep only those; a target not in the records is a ValueError."""
    kinds = records.groupby("platform")["kind"].first().astype(str)
    if targets is not None:
        unknown = sorted(set(targets) - set(kinds.index))
        if unknown:
            raise ValueError(f"target platform(s) {unknown} are not in the records; present: {sorted(kinds.index)}")
    out = []
    for target in sorted(kinds.index):
        if targets is not None and target not in targets:
            continue
        for kind in sorted(set(kinds)):
            sources = tuple(p for p in kinds.index[kinds == kind] if p != target)
            label = f"{kind}->{kinds[target]}"
            if sources and (labels is None or label in labels):
                out.append(Direction(label, tuple(sorted(sources)), target))
    return sorted(out, key=lambda d: (d.label, d.target))


@dataclass(frozen=True)
class TransferData:
    """Row positions of one direction: what pretraining reads, the target pool shares are drawn from, and
    the evaluation records (the target's records of the held-out tasks)."""

    direction: Direction
    source_train: np.ndarray
    target_pool: np.ndarray
    target_test: np.ndarray
    held_out: dict


def transfer_data(records: pd.DataFrame, split: Split, direction: Direction) -> TransferData:
    """Positions of ``direction`` under ``split`` (a split holding out whole tasks, such as ``by-network``):
    the sources' and the target's training records, and the target's test records. ValueError when a
    side is empty."""
    platform = records["platform"].to_numpy()
    train_platform, test_platform = platform[split.train], platform[split.test]
    source_train = split.train[np.isin(train_platform, direction.sources)]
    target_pool = split.train[train_platform == direction.target]
    target_test = split.test[test_platform == direction.target]
    for name, rows in (("source training records", source_train), ("target training records", target_pool),
                       ("target test records", target_test)):
        if len(rows) == 0:
            raise ValueError(f"{direction.label} to {direction.target}: no {name} under split {split.name!r}")
    return TransferData(direction, source_train, target_pool, target_test, split.held_out)


def per_task_quota(sizes: np.ndarray, fraction: float, min_per_task: int = 1) -> np.ndarray:
    """Records kept per task of ``sizes`` records: ``fraction * size`` rounded half up, at least
    ``min_per_task``, at most the task's size."""
    fraction = check_share(fraction, "fraction")
    min_per_task = check_positive_int(min_per_task, "min_per_task")
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.minimum(sizes, np.maximum(min_per_task, np.floor(fraction * sizes + 0.5).astype(np.int64)))


def target_subsample(records: pd.DataFrame, pool: np.ndarray, fraction: float, seed: int,
                     min_per_task: int = 1) -> np.ndarray:
    """A task-stratified share of the ``pool`` positions: :func:`per_task_quota` records of every task,
    picked in a random order fixed by ``seed`` (so shares of one seed are nested: 1% within 5% within 10%).
    Returns sorted positions."""
    pool = np.sort(np.asarray(pool, dtype=np.int64))
    tasks = records["task"].to_numpy()[pool]
    draw = np.random.default_rng(seed).random(len(pool))
    frame = pd.DataFrame({"task": tasks, "draw": draw})
    place = frame.groupby("task")["draw"].rank(method="first").to_numpy() - 1
    size = frame.groupby("task")["draw"].transform("size").to_numpy()
    return pool[place < per_task_quota(size, fraction, min_per_task)]


def plan_table(records: pd.DataFrame, data: list[TransferData], fractions: list[float], seed: int = 0,
               min_per_task: int = 1) -> pd.DataFrame:
    """Per direction: the records and tasks pretrained on, in the target pool and tested, and the target
    records each share keeps (with ``seed``)."""
    rows = []
    for d in data:
        row = {"direction": d.direction.label, "target": d.direction.target, "sources": ", ".join(d.direction.sources)}
        for name, rows_ in (("source train", d.source_train), ("target pool", d.target_pool),
                            ("target test", d.target_test)):
            row[f"{name} records"] = len(rows_)
            row[f"{name} tasks"] = records["task"].iloc[rows_].nunique()
        for fraction in fractions:
            row[f"{fraction:.0%} share"] = len(target_subsample(records, d.target_pool, fraction, seed, min_per_task))
        rows.append(row)
    return pd.DataFrame(rows)


# --- arms ------------------------------------------------------------------------------------------------


def check_arms(arms: list[str], parameter: str = "arms") -> list[str]:
    """``arms`` (repeats dropped) if each is one of :data:`ARMS`, else a ParameterError naming the valid ones."""
    return check_choices(arms, ARMS, parameter, "arm", unique=True)


def check_fractions(fractions: list[float], parameter: str = "fractions") -> list[float]:
    """Shares of the target data in (0, 1], sorted ascending; a ParameterError otherwise."""
    return check_shares(fractions, parameter, hint="shares of the target data, e.g. [0.01, 0.05, 0.1]")


def check_direction_labels(labels: list[str], parameter: str = "directions") -> list[str]:
    """Labels of the form ``kind->kind`` (``cpu->gpu``), repeats dropped; a ParameterError otherwise."""
    return check_each(labels, lambda label: isinstance(label, str) and re.fullmatch(r"\w+->\w+", label), parameter,
                      "labels like 'cpu->cpu', 'cpu->gpu'", unique=True)


def arm_table(arms: list[str]) -> pd.DataFrame:
    """Per arm (index): the model it trains, what it is trained on, and what it is."""
    arms = check_arms(arms)
    return pd.DataFrame({"model": {a: ARMS[a][0] for a in arms}, "trained on": {a: ARMS[a][1] for a in arms},
                         "what": {a: ARM_DESCRIPTIONS[a] for a in arms}})


def models_of(arms: list[str]) -> list[str]:
    """The registry models the arms train (what :func:`tenset_study.evaluation.experiments.prepare` builds
    inputs for)."""
    return sorted({ARMS[a][0] for a in arms if a != "random"})


def arm_params(arm: str, settings: dict) -> dict:
    """Hyperparameters of an arm's model under a preset, with the preset's ``transfer_epochs``."""
    params = model_params(ARMS[arm][0], settings)
    if "epochs" in params:
        params["epochs"] = settings["transfer_epochs"]
    return params


def pretrain(inputs: ModelInputs, data: TransferData, settings: dict, seed: int) -> CostModel:
    """``ours`` trained on the source platforms' training records."""
    return create("ours", seed=seed, **arm_params("zero-shot", settings)).fit(inputs, data.source_train)


def fine_tuned_copy(model: CostModel, inputs: ModelInputs, positions: np.ndarray, epochs: int,
                    lr: float | None = None, seed: int | None = None) -> CostModel:
    """A copy of ``model`` fine-tuned on ``positions`` (the original is left as it was); its metadata
    records the fine-tuning data."""
    tuned = copy.deepcopy(model)
    tuned.fine_tune(inputs, positions, epochs=epochs, lr=lr, seed=seed)
    records = inputs.records.iloc[positions]
    tuned.metadata = {**tuned.metadata,
                      "platforms": sorted(set(tuned.metadata.get("platforms", [])) | set(records["platform"])),
                      "fine_tuned": {"platforms": sorted(records["platform"].unique()), "records": int(len(positions)),
                                     "tasks": int(records["task"].nunique()), "epochs": int(epochs), "lr": lr}}
    return tuned


def train_arm(arm: str, inputs: ModelInputs, data: TransferData, target: np.ndarray, settings: dict, seed: int,
              pretrained: CostModel | None = None) -> CostModel:
    """The model of ``arm`` trained on what the arm may see: the ``target`` positions (a share of the target
    pool), plus the source training records for ``mtl``, or starting from ``pretrained`` for ``fine-tune``."""
    if arm in REFERENCE_ARMS:
        raise ValueError(f"the {arm} arm trains on no target data (zero-shot: the pretrained model itself)")
    if arm == "fine-tune":
        if pretrained is None:
            raise ValueError("fine-tune needs the pretrained model")
        return fine_tuned_copy(pretrained, inputs, target, settings["transfer_finetune_epochs"],
                               settings.get("transfer_finetune_lr"), seed)
    train = np.union1d(data.source_train, target) if arm == "mtl" else target
    return create(ARMS[arm][0], seed=seed, **arm_params(arm, settings)).fit(inputs, train)


# --- the experiment --------------------------------------------------------------------------------------


class RandomRanker:
    """Random scores (seeded): the ranking every cost model must beat."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def predict(self, inputs: ModelInputs, positions: np.ndarray) -> np.ndarray:
        return np.random.default_rng(self.seed).random(len(positions)).astype(np.float32)


def score_rows(model: CostModel | RandomRanker, inputs: ModelInputs, data: TransferData, network_tasks: pd.DataFrame,
               n_boot: int, seed: int) -> pd.DataFrame:
    """PCA, top-1 and top-5 of ``model`` on the target's test records, with bootstrap intervals over tasks."""
    scores = model.predict(inputs, data.target_test)
    test = inputs.records.iloc[data.target_test].reset_index(drop=True)
    return metrics.evaluate(test, scores, network_tasks, ks=(1, 5), n_boot=n_boot, seed=seed)


def seed_runs(inputs: ModelInputs, network_tasks: pd.DataFrame, split: Split, d: TransferData, settings: dict,
              arms: list[str], fractions: list[float], seed: int, min_per_task: int = 1, bar=None) -> list[pd.DataFrame]:
    """Every arm of one direction and seed (:func:`run_transfer`'s unit, resumable under
    :func:`~tenset_study.evaluation.resume.resuming`): the references once (zero-shot, random), then every
    later arm at every share of the target data. One table of :func:`score_rows` per run, labelled."""
    records = inputs.records
    later = [a for a in arms if a not in REFERENCE_ARMS]
    tables = []

    def add(model: CostModel | RandomRanker, arm: str, fraction: float, target: np.ndarray, fit_s: float) -> None:
        table = score_rows(model, inputs, d, network_tasks, settings["n_boot"], seed)
        tables.append(table.assign(
            direction=d.direction.label, sources=", ".join(d.direction.sources), arm=arm, fraction=fraction,
            target_records=len(target), target_share=len(target) / len(d.target_pool), fit_s=fit_s,
            model=ARMS[arm][0], variant=arm, scope=ARMS[arm][1], split=split.name, seed=seed))
        if bar is not None:
            bar.update(1)

    pretrained, pretrain_s = None, 0.0
    if {"zero-shot", "fine-tune"} & set(arms):
        start = time.perf_counter()
        pretrained = pretrain(inputs, d, settings, seed)
        pretrain_s = time.perf_counter() - start
    nothing = np.zeros(0, dtype=np.int64)
    if "zero-shot" in arms:
        add(pretrained, "zero-shot", 0.0, nothing, pretrain_s)
    if "random" in arms:
        add(RandomRanker(seed), "random", 0.0, nothing, 0.0)
    for fraction in fractions:
        target = target_subsample(records, d.target_pool, fraction, seed, min_per_task)
        for arm in later:
            start = time.perf_counter()
            model = train_arm(arm, inputs, d, target, settings, seed, pretrained)
            add(model, arm, fraction, target, time.perf_counter() - start)
    return tables


def run_transfer(inputs: ModelInputs, network_tasks: pd.DataFrame, split: Split, directions: list[Direction],
                 settings: dict, arms: list[str] | None = None, fractions: list[float] | None = None,
                 seeds: tuple[int, ...] | None = None, progress: bool = True) -> pd.DataFrame:
    """Every arm at every share of the target data, for every direction and seed (see the module docstring):
    one row per (direction, arm, fraction, seed, network, metric) with the columns :data:`TRANSFER_COLUMNS`.

    ``settings``: a preset (:data:`tenset_study.evaluation.experiments.PRESETS`); ``arms``, ``fractions`` and ``seeds``
    default to its ``transfer_arms``, ``transfer_fractions`` and ``transfer_seeds``; its
    ``transfer_min_per_task`` is the least number of records a share keeps of a task (default 1)."""
    from tqdm import tqdm

    arms = check_arms(list(arms or settings["transfer_arms"]))
    fractions = check_fractions(list(fractions or settings["transfer_fractions"]))
    seeds = tuple(seeds or settings["transfer_seeds"])
    min_per_task = settings.get("transfer_min_per_task", 1)
    records = inputs.records
    data = [transfer_data(records, split, d) for d in directions]
    later = [a for a in arms if a not in REFERENCE_ARMS]
    references = [a for a in arms if a in REFERENCE_ARMS]
    bar = tqdm(total=len(data) * len(seeds) * (len(references) + len(later) * len(fractions)),
               desc="transfer runs", disable=not progress)
    rows = []
    for d in data:
        for seed in seeds:
            tables = resume.unit(("transfer_seed", d.direction.label, d.direction.target, list(d.direction.sources),
                                  seed, arms, fractions, settings, split.name,
                                  resume.array_digest(split.train), resume.array_digest(split.test)),
                                 functools.partial(seed_runs, inputs, network_tasks, split, d, settings, arms,
                                                   fractions, seed, min_per_task, bar))
            rows.extend(tables)
            bar.n = len(rows)
            bar.refresh()
    bar.close()
    return pd.concat(rows, ignore_index=True)[TRANSFER_COLUMNS]


def summarize_transfer(runs: pd.DataFrame) -> pd.DataFrame:
    """Fold seeds per (direction, sources, fraction, model, arm, platform, network, metric): mean value, its
    standard deviation over seeds, the mean bootstrap interval, and the mean target records, share and
    training seconds. ``variant`` is the arm."""
    summary = summarize_seeds(runs, by=("direction", "sources", "fraction"),
                              means=("target_records", "target_share", "fit_s"))
    return summary.assign(arm=summary["variant"])


def write_transfer(runs: pd.DataFrame, summary: pd.DataFrame, results_dir: str,
                   name: str = "transfer") -> tuple[Path, Path]:
    """``<results_dir>/<name>.csv`` (summary over seeds) and ``<name>_runs.csv`` (every run), atomically."""
    from ..evaluation.experiments import write_summary

    return write_summary(summary, results_dir, f"{name}.csv"), write_summary(runs, results_dir, f"{name}_runs.csv")


def select_directions(records: pd.DataFrame, labels: list[str] | None = None, targets: list[str] | None = None,
                      names: tuple[str, str] = ("directions", "targets")) -> list[Direction]:
    """:func:`transfer_directions` for notebook or command-line parameters (``names``: those of ``labels``
    and ``targets``): a ParameterError naming the parameter when nothing matches, with the directions this
    dataset offers."""
    try:
        found = transfer_directions(records, labels, targets)
    except ValueError as err:
        raise ParameterError(f"parameter {names[1]!r} = {targets!r}: {err}") from err
    if not found:
        available = [f"{d.label} to {d.target}" for d in transfer_directions(records)]
        raise ParameterError(f"parameter {names[0]!r} = {labels!r} with {names[1]} {targets!r}: no such direction "
                             "in this dataset (a direction needs a target platform and another platform to "
                             f"pretrain on); available: {available or 'none'}")
    return found
