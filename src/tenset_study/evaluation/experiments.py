"""Experiments: train models under a split, score the held-out records, and tidy the metrics.

One experiment = models x seeds under one split. A model is trained either once per platform on that
platform's training records (``per-platform``: how TenSet and TLP train their models) or once on every
platform's training records together (``joint``: how ``ours`` is meant to be trained). Results are tidy
rows (model, scope, split, platform, network, metric, seed, value, low, high) that notebooks plot and
``results/*.csv`` keep; :func:`summarize_seeds` folds the seeds into a mean, its spread and the bootstrap
interval.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import metrics
from ..models import create
from ..models.inputs import ModelInputs
from .splits import Split

#: How each model is trained by default.
DEFAULT_SCOPES = {"xgb": "per-platform", "mlp": "per-platform", "tlp": "per-platform", "ours": "joint"}

RESULT_COLUMNS = ["model", "variant", "scope", "split", "platform", "network", "metric", "seed", "value",
                  "low", "high", "tasks"]


@dataclass
class ModelSpec:
    """A model to run: registry name, a label for tables (``variant``), hyperparameters and scope."""

    name: str
    params: dict = field(default_factory=dict)
    variant: str | None = None
    scope: str | None = None

    def __post_init__(self) -> None:
        self.variant = self.variant or self.name
        self.scope = self.scope or DEFAULT_SCOPES.get(self.name, "joint")
        if self.scope not in ("per-platform", "joint"):
            raise ValueError(f"scope must be 'per-platform' or 'joint', got {self.scope!r}")


@dataclass
class RunTiming:
    """Seconds spent training and scoring, and how many records each saw."""

    variant: str
    seed: int
    platform: str
    train_records: int
    epochs: int
    fit_s: float
    predict_records: int
    predict_s: float


def train_and_score(spec: ModelSpec, inputs: ModelInputs, split: Split, seed: int,
                    timings: list[RunTiming] | None = None) -> np.ndarray:
    """Fit ``spec`` on the split's training records and score its test records (aligned with ``split.test``)."""
    records = inputs.records
    scores = np.full(len(split.test), np.nan, dtype=np.float32)
    if spec.scope == "joint":
        scopes = [("all", split.train, np.arange(len(split.test)))]
    else:
        train_platform = records["platform"].to_numpy()[split.train]
        test_platform = records["platform"].to_numpy()[split.test]
        scopes = [(p, split.train[train_platform == p], np.flatnonzero(test_platform == p))
                  for p in sorted(set(test_platform))]
    for platform, train, test_rows in scopes:
        if len(train) == 0:
            raise ValueError(
                f"{spec.variant}: no training records on platform {platform!r} under split {split.name!r}; "
                "a per-platform model cannot be trained for an unseen platform (use scope 'joint')")
        model = create(spec.name, seed=seed, **spec.params)
        start = time.perf_counter()
        model.fit(inputs, train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        scores[test_rows] = model.predict(inputs, split.test[test_rows])
        predict_s = time.perf_counter() - start
        if timings is not None:
            timings.append(RunTiming(spec.variant, seed, platform, len(train), epochs_run(model), fit_s,
                                     len(test_rows), predict_s))
    return scores


def epochs_run(model) -> int:
    """The epochs a fitted model actually ran (a neural model's ``history_``, bounded by ``max_records_seen``),
    else its ``epochs`` parameter (1 for XGBoost)."""
    return len(getattr(model, "history_", ())) or int(model.params().get("epochs", 1))


def run_experiment(specs: list[ModelSpec], inputs: ModelInputs, split: Split, network_tasks: pd.DataFrame,
                   seeds: tuple[int, ...] = (0,), ks: tuple[int, ...] = (1, 5), n_boot: int = 1000,
                   timings: list[RunTiming] | None = None) -> pd.DataFrame:
    """Every model of ``specs`` for every seed under ``split``: tidy metric rows (see :data:`RESULT_COLUMNS`)."""
    test_records = inputs.records.iloc[split.test].reset_index(drop=True)
    rows = []
    for spec in specs:
        # a model whose training uses no randomness (xgb without subsampling) is trained once
        for seed in (seeds[:1] if create(spec.name, **spec.params).deterministic else seeds):
            scores = train_and_score(spec, inputs, split, seed, timings)
            table = metrics.evaluate(test_records, scores, network_tasks, ks=ks, n_boot=n_boot, seed=seed)
            rows.append(table.assign(model=spec.name, variant=spec.variant, scope=spec.scope, split=split.name,
                                     seed=seed))
    return pd.concat(rows, ignore_index=True)[RESULT_COLUMNS]


def summarize_seeds(*results: pd.DataFrame, by: tuple[str, ...] = (), means: tuple[str, ...] = ()) -> pd.DataFrame:
    """Fold seeds: mean value, its standard deviation over seeds, and the mean bootstrap interval over tasks
    (several result tables are concatenated first). ``by``: further key columns in front of the usual ones;
    ``means``: further columns averaged over the seeds."""
    results = pd.concat(results, ignore_index=True) if len(results) > 1 else results[0]
    keys = [*by, "model", "variant", "scope", "split", "platform", "network", "metric"]
    summary = results.groupby(keys, sort=False).agg(
        value=("value", "mean"), seed_std=("value", "std"), low=("low", "mean"), high=("high", "mean"),
        **{column: (column, "mean") for column in means},
        seeds=("seed", "nunique"), tasks=("tasks", "max"),
    ).reset_index()
    summary["seed_std"] = summary["seed_std"].fillna(0.0)
    return summary


def timing_table(timings: list[RunTiming]) -> pd.DataFrame:
    """Training throughput (records seen per second, epochs counted) and inference throughput
    (candidates scored per second) per model variant."""
    frame = pd.DataFrame([vars(t) for t in timings])
    if frame.empty:
        return frame
    frame["records_seen"] = frame["train_records"] * frame["epochs"]
    per = frame.groupby("variant").agg(train_records=("train_records", "sum"), records_seen=("records_seen", "sum"),
                                       fit_s=("fit_s", "sum"), predict_records=("predict_records", "sum"),
                                       predict_s=("predict_s", "sum"))
    per["train_records_per_s"] = per["records_seen"] / per["fit_s"]
    per["predict_per_s"] = per["predict_records"] / per["predict_s"]
    return per


def _jsonl_items(path: os.PathLike):
    """``(line number, object)`` for every non-blank line of a JSONL file; a ValueError names a bad line."""
    import json

    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: not a JSON line ({err.msg})") from None


def read_benchmarks(folder: str | os.PathLike, pattern: str = "models-*.jsonl") -> pd.DataFrame:
    """The model-speed runs committed under ``folder`` (``benchmarks/bench_models.py`` output, one JSON object
    a line: a provenance line with ``benchmark``, then each run's header line with ``records``, then one line
    per model). One row per model line, with the file, the machine and date of its provenance line and the
    model's hidden size; a line that is not JSON raises a ValueError naming the file and line. A relative
    ``folder`` is taken from the repository root."""
    from ..params import resolve_path

    rows = []
    for path in sorted(resolve_path(folder).glob(pattern)):
        provenance: dict = {}
        for _, item in _jsonl_items(path):
            if "benchmark" in item:
                provenance = item
            elif "model" in item:
                params = item.get("params", {})
                rows.append({"file": path.name, "machine": provenance.get("machine"), "date": provenance.get("date"),
                             "model": item["model"], "hidden": params.get("hidden"), "device": params.get("device"),
                             "train_records": item.get("train_records"), "fit_s": item.get("fit_s"),
                             "train_records_per_s": item.get("train_records_per_s"),
                             "predict_per_s": item.get("predict_per_s")})
    return pd.DataFrame(rows)


def read_ddp_benchmarks(folder: str | os.PathLike, pattern: str = "ddp-*.jsonl") -> pd.DataFrame:
    """The data-parallel streaming runs committed under ``folder`` (``benchmarks/bench_ddp.py`` output: a
    provenance line per run, its store line, then a ``train`` line per rank count). One row per rank count
    (a rank per GPU on a GPU host): the GPU model and how many the host had, the NCCL version and model of
    its run, the steady records/s over all ranks (median of the epochs after the first, with their range),
    records/s per rank, and the scaling efficiency (per-rank rate over the same run's one-rank rate;
    missing when the run has no one-rank line). A relative ``folder`` is taken
    from the repository root; a bad line raises a ValueError naming the file and line."""
    from ..params import resolve_path

    rows, run = [], 0
    for path in sorted(resolve_path(folder).glob(pattern)):
        provenance: dict = {}
        for number, item in _jsonl_items(path):
            if "benchmark" in item:
                provenance, run = item, run + 1
            elif item.get("step") == "train":
                if not provenance:
                    raise ValueError(f"{path}:{number}: a train line before any provenance line")
                params = provenance.get("params", {})
                low, high = item["records_per_s_range"]
                rows.append({"file": path.name, "date": provenance.get("date"),
                             "device": ", ".join(sorted(set(provenance.get("gpus", [])))) or "cpu",
                             "host_gpus": len(provenance.get("gpus", [])), "nccl": provenance.get("nccl"),
                             "model": provenance.get("model"), "hidden": params.get("hidden"),
                             "scale": provenance.get("scale"), "ranks": item["world_size"],
                             "train_records": item["train_records"], "records_per_s": item["records_per_s"],
                             "records_per_s_low": low, "records_per_s_high": high,
                             "per_rank": round(item["records_per_s"] / item["world_size"]), "run": run})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    single = table[table["ranks"] == 1].set_index("run")["per_rank"]
    table["scaling_efficiency"] = (table["per_rank"] / table["run"].map(single)).round(2)
    return table.drop(columns="run")


def prepare(dataset, model_names: list[str], platforms: list[str] | None = None, max_len: int = 64,
            perstore_workers: int | None = None, progress: bool = False):
    """Open a dataset and build what the named models need: ``(ds, records, inputs, network_tasks)``."""
    from ..data.dataset import Dataset
    from ..models import families_of
    from ..models.inputs import build_inputs
    from ..data.records import load_records, network_tasks

    ds = dataset if hasattr(dataset, "to_pandas") else Dataset.open(dataset)
    records = load_records(ds, platforms=platforms)
    if records.empty:
        raise ValueError(f"{ds.root}: no successful measurements to train on")
    families = families_of(model_names) + ("context",)
    inputs = build_inputs(ds, records, families=tuple(dict.fromkeys(families)), max_len=max_len,
                          perstore_workers=perstore_workers, progress=progress)
    return ds, records, inputs, network_tasks(ds)


def parse_params(items: list[str] | None) -> dict:
    """``["epochs=5", "hidden=64", "device=cpu"]`` -> ``{"epochs": 5, "hidden": 64, "device": "cpu"}``."""
    import json

    params = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {item!r}: expected KEY=VALUE")
        try:
            params[key.replace("-", "_")] = json.loads(text)
        except ValueError:
            params[key.replace("-", "_")] = text
    return params


# --- presets and notebook helpers ------------------------------------------------------------------------

#: The pruning strategies of :mod:`tenset_study.pruning.strategies`, in the book's order.
PRUNE_STRATEGIES = ("random", "per-task-cap", "task-cluster", "diversity", "latency-spread", "clean")

#: The arms of the transfer experiment (:mod:`tenset_study.transfer.experiment`) that the presets run.
TRANSFER_ARMS = ("zero-shot", "fine-tune", "mtl", "scratch", "xgb", "mlp", "random")

#: Named experiment sizes. ``smoke`` is for tests, ``book`` fits ``make book``'s time budget on a 2-core
#: machine, ``full`` is the experiment as it should be run (a GPU helps).
PRESETS: dict[str, dict] = {
    "smoke": {"seeds": (0,), "epochs": 1, "hidden": 32, "heads": 4, "rounds": 10, "n_boot": 100,
              "max_len": 48, "fractions": (0.5, 1.0),
              "prune_fractions": (0.5,), "prune_seeds": (0,), "prune_epochs": 1,
              "prune_strategies": ("random", "task-cluster"), "prune_splits": ("by-network",),
              "transfer_fractions": (0.5,), "transfer_seeds": (0,), "transfer_epochs": 1,
              "transfer_finetune_epochs": 1, "transfer_finetune_lr": 5e-4, "transfer_min_per_task": 2,
              "transfer_arms": TRANSFER_ARMS, "transfer_directions": ("cpu->cpu", "cpu->gpu")},
    "book": {"seeds": (0, 1, 2), "epochs": 12, "max_records_seen": 60_000, "hidden": 64, "heads": 4, "rounds": 150, "n_boot": 1000,
             "max_len": 64, "fractions": (0.1, 0.3, 1.0),
             "prune_fractions": (0.45, 0.2), "prune_seeds": (0, 1), "prune_epochs": 3,
             "prune_strategies": PRUNE_STRATEGIES, "prune_splits": ("by-network", "by-platform"),
             "transfer_fractions": (0.05, 0.25), "transfer_seeds": (0, 1), "transfer_epochs": 4,
             "transfer_finetune_epochs": 3, "transfer_finetune_lr": 5e-4, "transfer_min_per_task": 2,
             "transfer_arms": TRANSFER_ARMS, "transfer_directions": ("cpu->cpu", "cpu->gpu")},
    "full": {"seeds": (0, 1, 2, 3, 4), "epochs": 40, "hidden": 256, "heads": 8, "rounds": 1000, "n_boot": 2000,
             "max_len": 80, "fractions": (0.05, 0.1, 0.2, 0.4, 0.7, 1.0),
             "prune_fractions": (0.8, 0.6, 0.45, 0.3, 0.2, 0.1), "prune_seeds": (0, 1, 2), "prune_epochs": 40,
             "prune_strategies": PRUNE_STRATEGIES, "prune_splits": ("by-network", "by-platform"),
             "transfer_fractions": (0.01, 0.05, 0.1), "transfer_seeds": (0, 1, 2), "transfer_epochs": 40,
             "transfer_finetune_epochs": 20, "transfer_finetune_lr": 5e-4, "transfer_min_per_task": 2,
             "transfer_arms": (*TRANSFER_ARMS, "tlp"), "transfer_directions": ("cpu->cpu", "cpu->gpu", "gpu->cpu")},
}

# Transfer tuning (:mod:`tenset_study.tuning.study`): B per network, the arms' fractions of it, the search,
# runner and timing settings every arm shares, and the size of the pretrained model. ``smoke`` is for the
# tests (dcgan-b1-16, 6 tasks, 12 trials); ``book`` is a small stand-in that fits ``make book`` (one small
# network, 8 trials per task); ``full`` is the experiment (about 32 trials per task, MetaSchedule's default
# search; see tuning_study's docstring and book/reproduce.md for how B was chosen), each arm timed in 5 rounds
# of 20 repeats, every round in a fresh process (tuning_study.time_tuned_networks says why).
PRESETS["smoke"]["tuning"] = {
    "networks": ("dcgan-b1-16",), "budgets": {"dcgan-b1-16": 12}, "trials_per_task": 2, "fractions": (0.5,),
    "random_arms": False, "seeds": (0,), "num_trials_per_iter": 64,
    "search": {"population_size": 16, "init_min_unmeasured": 8, "genetic_num_iters": 1},
    "runner": {"repeat": 1, "min_repeat_ms": 5, "builder_workers": 2},
    "timing": {"repeat": 5, "min_repeat_ms": 5, "n_boot": 200},
    "model": "ours", "model_params": {"epochs": 1, "hidden": 16, "heads": 2, "device": "cpu"}, "max_len": 32,
    "max_pretrain_records": 400, "online": {"min_online": 4},
}
PRESETS["book"]["tuning"] = {
    "networks": ("dcgan-b1-16",), "budgets": {"dcgan-b1-16": 48}, "trials_per_task": 8, "fractions": (0.25, 0.40),
    "random_arms": False, "seeds": (0,), "num_trials_per_iter": 8,
    "search": {"population_size": 64, "init_min_unmeasured": 16, "genetic_num_iters": 2},
    "runner": {"repeat": 3, "min_repeat_ms": 10},
    "timing": {"repeat": 30, "min_repeat_ms": 20, "n_boot": 1000},
    "model": "ours", "model_params": {"epochs": 3, "hidden": 32, "heads": 4}, "max_len": 64,
    "max_pretrain_records": 1500, "online": {},
}
PRESETS["full"]["tuning"] = {
    "networks": ("bert_tiny-b1-128", "mobilenet_v2-b1-224", "resnet_50-b1-224"),
    "budgets": {"bert_tiny-b1-128": 576, "mobilenet_v2-b1-224": 1056, "resnet_50-b1-224": 896},
    "trials_per_task": 32, "fractions": (0.25, 0.40), "random_arms": True, "seeds": (0,), "num_trials_per_iter": 16,
    "search": None, "runner": {}, "timing": {"repeat": 20, "min_repeat_ms": 100, "rounds": 5, "n_boot": 2000},
    "model": "ours", "model_params": {"epochs": 10, "hidden": 64, "heads": 4}, "max_len": 64,
    "online": {},
}


def resolve_preset(name: str, parameter: str = "preset") -> dict:
    """The settings of a named preset, or a :class:`~tenset_study.book.explore.ParameterError` naming the valid ones."""
    from ..params import ParameterError

    if name not in PRESETS:
        raise ParameterError(f"parameter {parameter!r} = {name!r}: unknown preset; valid: {', '.join(PRESETS)}")
    return dict(PRESETS[name])


def check_model_names(names: list[str], parameter: str = "models") -> list[str]:
    """``names`` if every one is a known model, else a ParameterError listing the valid names."""
    from ..params import ParameterError
    from ..models import MODELS

    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise ParameterError(f"parameter {parameter!r} = {names!r}: unknown model(s) {unknown}; valid: {sorted(MODELS)}")
    return list(names)


def model_params(name: str, preset: dict) -> dict:
    """Hyperparameters of a model under a preset."""
    if name == "xgb":
        return {"rounds": preset["rounds"]}
    params = {"epochs": preset["epochs"], "hidden": preset["hidden"]}
    if preset.get("max_records_seen"):
        params["max_records_seen"] = preset["max_records_seen"]
    if name in ("tlp", "ours", "mtl"):
        params["heads"] = preset["heads"]
    return params


def model_specs(names: list[str], preset: dict) -> list[ModelSpec]:
    """The models to compare, each with its preset hyperparameters and default scope."""
    return [ModelSpec(name, params=model_params(name, preset)) for name in names]


def ablation_specs(preset: dict) -> list[ModelSpec]:
    """The ablations of ``ours`` (no hardware features, no workload features, neither: TLP trained jointly);
    ``ours`` itself is the one of :func:`model_specs`, so its results can be reused."""
    base = model_params("ours", preset)
    return [
        ModelSpec("ours", params={**base, "use_hardware": False}, variant="ours - hardware"),
        ModelSpec("ours", params={**base, "use_workload": False}, variant="ours - workload"),
        ModelSpec("tlp", params=model_params("tlp", preset), variant="tlp (joint)", scope="joint"),
    ]


def default_split(records: pd.DataFrame, network_tasks: pd.DataFrame, strategy: str = "by-network",
                  seed: int = 0, **kwargs) -> Split:
    """``strategy``; a dataset with no network information (loose TenSet logs) falls back from
    ``by-network`` to ``by-task``, and says so in the split's description."""
    from .splits import make_split

    if strategy == "by-network" and network_tasks.empty:
        split = make_split("by-task", records, network_tasks, seed=seed)
        note = " (the dataset names no networks, so whole tasks are held out instead of whole networks)"
        return Split(split.name, split.train, split.test, split.held_out, split.description + note)
    return make_split(strategy, records, network_tasks, seed=seed, **kwargs)


def data_fraction_curve(specs: list[ModelSpec], inputs: ModelInputs, split: Split, network_tasks: pd.DataFrame,
                        fractions: tuple[float, ...], seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Each model trained on a random share of the training tasks' programs (the same subsets for every
    model): metrics on the unchanged test records, one row per (variant, fraction, metric, platform, network)."""
    rng = np.random.default_rng(seed)
    programs = np.unique(inputs.records["program"].to_numpy()[split.train])
    order = rng.permutation(programs)
    rows = []
    for fraction in fractions:
        keep = set(order[: max(1, int(round(fraction * len(order))))])
        train = split.train[np.isin(inputs.records["program"].to_numpy()[split.train], list(keep))]
        sub = Split(split.name, train, split.test, split.held_out, split.description)
        table = run_experiment(specs, inputs, sub, network_tasks, seeds=(seed,), n_boot=n_boot)
        rows.append(table.assign(fraction=fraction, train_records=len(train)))
    return pd.concat(rows, ignore_index=True)


def histories(specs: list[ModelSpec], inputs: ModelInputs, split: Split, seed: int = 0) -> dict[str, list[dict]]:
    """Per-epoch training loss of each neural model trained jointly on the split's training records."""
    from ..models import create

    out = {}
    for spec in specs:
        model = create(spec.name, seed=seed, **spec.params)
        if not hasattr(model, "epochs"):
            continue
        model.fit(inputs, split.train)
        out[spec.variant] = model.history_
    return out


def write_summary(summary: pd.DataFrame, results_dir: str, name: str) -> "Path":
    """Write a summary under ``results_dir`` (relative paths: to the repository root) with the columns
    model, variant, scope, split, platform, network, metric, value, low, high, seed_std, seeds, tasks."""
    from ..params import resolve_path
    from ..data.results import write_results

    return write_results(summary, resolve_path(results_dir) / name)


def check_split_names(names: list[str], parameter: str = "splits") -> list[str]:
    """``names`` if every one is a split strategy, else a ParameterError listing the valid ones."""
    from ..params import ParameterError
    from .splits import STRATEGIES

    unknown = [n for n in names if n not in STRATEGIES]
    if unknown or not names:
        raise ParameterError(f"parameter {parameter!r} = {names!r}: unknown split(s) {unknown}; "
                             f"valid: {', '.join(STRATEGIES)}")
    return list(names)


def applicable_splits(names: list[str], records: pd.DataFrame, network_tasks: pd.DataFrame,
                      seed: int = 0) -> list[Split]:
    """The named splits this dataset supports (each printed with the reason when it is skipped)."""
    from .splits import make_split

    out = []
    for name in names:
        try:
            out.append(make_split(name, records, network_tasks, seed=seed))
        except ValueError as err:
            print(f"skipped {name}: {err}")
    return out


def split_table(splits: list[Split], records: pd.DataFrame) -> pd.DataFrame:
    """Per split: what is held out, and the records, tasks and platforms on each side."""
    rows = []
    for split in splits:
        train, test = records.iloc[split.train], records.iloc[split.test]
        held = {k: (v if not isinstance(v, (list, tuple)) or len(v) <= 5 else f"{len(v)} {k}")
                for k, v in split.held_out.items()}
        rows.append({"split": split.name, "held out": held, "train records": len(train),
                     "test records": len(test), "train tasks": train["task"].nunique(),
                     "test tasks": test["task"].nunique(), "test platforms": test["platform"].nunique()})
    return pd.DataFrame(rows).set_index("split")


def compare_splits(models: list[str], preset: dict, inputs: ModelInputs, splits: list[Split],
                   network_tasks: pd.DataFrame) -> pd.DataFrame:
    """Every model under every split (per-platform models are trained jointly under ``by-platform``, where
    the test platform has no training records)."""
    frames = []
    for split in splits:
        specs = model_specs(models, preset)
        if split.name == "by-platform":
            specs = [ModelSpec(s.name, s.params, s.variant, "joint") for s in specs]
        frames.append(run_experiment(specs, inputs, split, network_tasks, seeds=preset["seeds"],
                                     n_boot=preset["n_boot"]))
    return pd.concat(frames, ignore_index=True)
