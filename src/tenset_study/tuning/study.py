"""The transfer-tuning experiment: MetaSchedule's XGBoost with a full budget against our transferred model
with a quarter and two fifths of it, on whole networks, timed end to end.

The question is the paper's tuning claim (brief, section 1): does a cost model pretrained on *other*
hardware give the same end-to-end inference time with 25-40% of the tuning budget that MetaSchedule's
default cost model, which learns from scratch on the target, needs?

For one target (a platform and its TVM target) and a list of zoo networks:

1. :func:`pretrain_for_target` trains the transferred model (``ours`` by default) on every platform of a
   dataset except the target and saves it under ``study_dir/pretrained/`` with metadata saying which
   platforms, records, dataset and seed it saw; a later call with the same settings reuses the file.
2. :func:`run_transfer_tuning` tunes every network with every arm (:func:`make_arms`):
   ``baseline-xgb`` (MetaSchedule's XGBoost, budget B), ``ours@25%`` and ``ours@40%`` (the pretrained
   model inside :class:`~tenset_study.tuning.cost_model.ProjectCostModel`, which keeps learning from the
   measurements, with 25% and 40% of B) and, optionally, ``random@25%`` / ``random@40%`` (MetaSchedule's
   random model with the same reduced budgets: what "fewer trials" alone gives, so that a good result of
   ``ours`` is not just the search doing well with fewer trials). Each arm tunes in its own work dir
   ``study_dir/<network>/<arm>-s<seed>`` (the MetaSchedule database and logs are kept, with
   ``tuning_result.json`` and ``arm.json``, the arm's settings). An arm whose ``tuning_result.json``
   exists and whose ``arm.json`` matches is skipped; an interrupted arm (a database without a result) is
   tuned again from scratch, because MetaSchedule cannot continue a run; a finished arm with other
   settings is an error (pick another study dir) so that one study never mixes settings.
3. :func:`time_tuned_networks` compiles every tuned arm with its database and times it in the Relax VM
   (``end_to_end.json``: every repeat, mean, standard deviation, interval of the mean). With
   ``rounds`` > 1 (the ``full`` preset) a network's arms are timed in rounds, each arm in a fresh process
   every round, because a network's time moves more between processes than between repeats in one (on
   the H200, bert_tiny's round means spread far wider than the repeats of any one round). It is a
   separate, resumable step, so the timing can be redone on a quiet machine (``overwrite=True``) without
   tuning again.
4. :func:`collect_results` and :func:`collect_curves` read the study dir back into the results table and
   the tuning curves; :func:`write_study_results` writes them atomically (``transfer_tuning.csv``,
   ``transfer_tuning_curves.csv``) into the study dir and, merged by (platform, network, arm, seed), into
   a shared results folder. :func:`compare_to_baseline` turns the results into the comparison table.

**Same everything but the cost model.** Every arm of a study uses the same search
(``EvolutionarySearch`` settings), runner settings, ``num_trials_per_iter``, gradient task scheduler and
seed; only the cost model and the trial budget differ. ``tune_network`` lowers ``num_trials_per_iter`` to
``budget // tasks`` when the budget is small, so that every task is tuned; the value used is recorded in
``tuning_result.json``.

**Budgets.** B is per network (:func:`network_budget`): the preset names it for its networks, or gives
``trials_per_task`` (B = that x the network's tasks). An arm with fraction f gets ``round(f * B)`` trials,
which must still be at least one per task. MetaSchedule's XGBoost model scores candidates at random until
it holds 100 measurements (``num_warmup_samples``), and its gradient task scheduler only moves trials to
the tasks that improve most after every task had its first round, so B must be well above both for the
baseline to learn (see the ``full`` preset in :data:`tenset_study.evaluation.experiments.PRESETS`).

**Scoring share.** ``scoring_s`` is the time the cost model spent in ``predict`` (candidate features
included; ``TimedCostModel`` counts it for MetaSchedule's own models) and ``scoring_share`` its share of
the tuning wall time: our model must not be the tuning bottleneck.

**Intervals and verdicts.** The end-to-end latency of an arm carries a 95% interval of its mean: Student's
t over the timing rounds (each in a fresh process) when there are several, else the percentile bootstrap
over the repeats of one process; with several tuning seeds the rows are folded like
:func:`tenset_study.evaluation.experiments.summarize_seeds` (mean value, standard deviation over seeds, mean
interval) and the interval is widened by one standard deviation over seeds on each side.
:func:`compare_to_baseline` calls an arm "faster" than the baseline when its interval lies entirely below
the baseline's, "on par" when they overlap, "slower" when it lies entirely above.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..fastjson import jsonable
from ..programs import targets
from . import tune as tuning

BASELINE = "baseline-xgb"
ARM_FILE = "arm.json"
END_TO_END_FILE = "end_to_end.json"
RESULTS_FILE = "transfer_tuning.csv"
CURVES_FILE = "transfer_tuning_curves.csv"
PRETRAINED_DIR = "pretrained"
#: The target's ``platforms`` row (from the dataset, or read off the machine), written by :func:`run_study`.
TARGET_PLATFORM_FILE = "target_platform.json"
#: Rows of the shared results files are replaced by key when a study writes them again.
RESULT_KEYS = ["target_platform", "network", "arm", "seed"]
RESULT_COLUMNS = [
    "target_platform", "network", "arm", "cost_model", "budget_fraction", "budget", "trials_budget", "trials",
    "valid_trials", "tasks", "untuned_tasks", "tuning_s", "scoring_s", "scoring_share", "update_s",
    "estimated_latency_s", "estimate_tasks", "e2e_mean_s", "e2e_std_s", "e2e_low_s", "e2e_high_s", "e2e_repeats",
    "seed", "target", "work_dir",
]
CURVE_COLUMNS = ["target_platform", "network", "arm", "budget_fraction", "seed", "trial", "seconds", "time_source",
                 "task_name", "latency_s", "task_best_latency_s", "tasks_covered", "estimated_latency_s"]


def _log(message: str) -> None:
    print(f"[transfer-tune {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- arms and settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arm:
    """One way of tuning: a cost model (``xgb``, ``random`` or ``pretrained``) and a share of the budget B."""

    name: str
    cost_model: str
    fraction: float

    @property
    def slug(self) -> str:
        """The arm's name as a folder name (``ours@25%`` -> ``ours-25``)."""
        return self.name.replace("@", "-").replace("%", "")


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"


def make_arms(fractions: tuple[float, ...] = (0.25, 0.40), random_arms: bool = True, model: str = "ours") -> list[Arm]:
    """``baseline-xgb`` at the full budget, ``<model>@<f>`` for each fraction and, with ``random_arms``,
    ``random@<f>`` for each fraction."""
    for fraction in fractions:
        if not 0 < float(fraction) <= 1:
            raise ValueError(f"fractions must be in (0, 1], got {fraction}")
    arms = [Arm(BASELINE, "xgb", 1.0)]
    arms += [Arm(f"{model}@{_percent(f)}", "pretrained", float(f)) for f in fractions]
    if random_arms:
        arms += [Arm(f"random@{_percent(f)}", "random", float(f)) for f in fractions]
    return arms


def transfer_settings(preset: str | dict) -> dict:
    """The transfer-tuning settings of a preset: ``experiments.PRESETS[name]["tuning"]`` (or a dict of
    them, or a preset dict holding them). Keys: networks, budgets, trials_per_task, fractions, random_arms,
    seeds, num_trials_per_iter, search, runner, timing, model, model_params, max_len, max_pretrain_records,
    online."""
    if isinstance(preset, dict):
        return dict(preset.get("tuning", preset))
    from ..evaluation.experiments import resolve_preset

    settings = resolve_preset(preset).get("tuning")
    if settings is None:
        from ..params import ParameterError

        raise ParameterError(f"parameter 'preset' = {preset!r}: the preset has no transfer-tuning settings")
    return dict(settings)


def network_budget(network: str, settings: dict, n_tasks: int | None = None) -> int:
    """B of a network: the preset's ``budgets[network]``, else ``trials_per_task`` x its tasks (``n_tasks``;
    counted by extracting the tasks when not given, which needs the target: see :func:`count_tasks`)."""
    budgets = settings.get("budgets") or {}
    if network in budgets:
        return int(budgets[network])
    per_task = settings.get("trials_per_task")
    if not per_task:
        raise ValueError(f"no budget for {network}: the settings name none (budgets) and give no trials_per_task")
    if n_tasks is None:
        raise ValueError(f"budget of {network}: pass n_tasks (count_tasks) to use trials_per_task")
    return int(per_task) * int(n_tasks)


def count_tasks(network: str, target: dict | str, layout: str = "NCHW") -> int:
    """Tunable tasks of a network for a target (MetaSchedule's task extraction)."""
    return len(tuning.extract_tuning_tasks(network, target, layout)[1])


def check_networks(names: list[str], parameter: str = "networks") -> list[str]:
    """``names`` if every one is a zoo network variant (``<family>-b<batch>-<size>``), else a ParameterError
    naming the parameter and the bad name."""
    from .. import zoo
    from ..params import ParameterError

    if not names:
        raise ParameterError(f"parameter {parameter!r}: no networks to tune")
    for name in names:
        try:
            zoo.parse_network(name)
        except ValueError as error:
            raise ParameterError(f"parameter {parameter!r}: {error}") from None
    return list(names)


def arm_trials(budget: int, fraction: float) -> int:
    """Trials of an arm with ``fraction`` of ``budget`` (rounded, at least 1)."""
    return max(1, int(round(budget * fraction)))


# --- the target platform and the pretrained model ----------------------------------------------------------


def target_platform_row(dataset: str | os.PathLike | None, target_platform: str | None, target: dict) -> dict:
    """The platforms row whose hardware features our model gets: the dataset's row ``target_platform``, or,
    with ``target_platform=None``, the row read off this machine for ``target`` (lscpu / nvidia-smi).
    The row's kind must match the target's (a CPU row for an LLVM target, a GPU row for CUDA)."""
    from .cost_model import platform_row_for

    if target_platform:
        if dataset is None:
            raise ValueError("target_platform needs the dataset that holds its platforms row")
        row = tuning.platform_row_from_dataset(dataset, target_platform)
    else:
        row = platform_row_for(targets.make_target(target))
    kind = targets.target_kind(target)
    if row.get("kind") and row["kind"] != kind:
        raise ValueError(f"target platform {row['platform']!r} is a {row['kind']} platform but the target "
                         f"{targets.target_json(target)} is a {kind} target")
    return row


def _dataset_platforms(ds) -> list[str]:
    return sorted(ds.to_pandas("measurements", columns=["platform"])["platform"].unique())


def _settings_hash(settings: dict) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:10]


def pretrain_for_target(dataset: str | os.PathLike, target_platform: str, model: str = "ours",
                        preset: str | dict = "full", study_dir: str | os.PathLike = "studies/transfer", *,
                        seed: int = 0, train_platforms: list[str] | None = None, progress: bool = True,
                        log=_log) -> Path:
    """Train ``model`` on every platform of ``dataset`` except ``target_platform`` and save it under
    ``study_dir/pretrained/``; returns the model's path.

    ``train_platforms``: train on these instead (the target must not be among them); needed when the
    target is not in the dataset (a machine measured nowhere: every dataset platform is then "other").
    The preset's ``model_params`` and ``max_len`` size the model; ``max_pretrain_records`` (small presets)
    trains on a seeded random subset of the records. The file name carries a hash of the
    settings (model, hyperparameters, dataset path, target, training platforms, seed); a file with the same
    settings is reused as it is, even when the dataset has grown since (a study keeps one model; delete the
    file to train again). ``metadata["pretrain"]`` records the settings, the records per platform, the
    tasks and the dataset's row counts at training time.
    """
    from ..evaluation import experiments
    from ..data.dataset import Dataset
    from ..params import resolve_path
    from ..models import CostModel, create

    settings = transfer_settings(preset)
    root = resolve_path(dataset)
    ds = Dataset.open(root)
    available = _dataset_platforms(ds)
    if train_platforms is None:
        if target_platform not in available:
            raise ValueError(f"target platform {target_platform!r} has no measurements in {root} (platforms: "
                             f"{', '.join(available)}); pass train_platforms= to pretrain for a machine outside it")
        train_platforms = [p for p in available if p != target_platform]
    train_platforms = sorted(train_platforms)
    unknown = sorted(set(train_platforms) - set(available))
    if unknown:
        raise ValueError(f"train_platforms {unknown} have no measurements in {root} "
                         f"(platforms: {', '.join(available)})")
    if target_platform in train_platforms:
        raise ValueError(f"train_platforms must not include the target platform {target_platform!r}")
    if not train_platforms:
        raise ValueError(f"{root}: no platform other than {target_platform!r} to pretrain on")
    params = dict(settings.get("model_params") or {})
    max_len = int(settings.get("max_len", 64))
    limit = settings.get("max_pretrain_records")
    key = {"model": model, "params": params, "max_len": max_len, "dataset": str(root),
           "target_platform": target_platform, "train_platforms": train_platforms, "seed": int(seed),
           "max_records": None if limit is None else int(limit)}
    path = resolve_path(study_dir) / PRETRAINED_DIR / f"{model}-for-{target_platform}-{_settings_hash(key)}.model"
    if path.is_file():
        existing = CostModel.load(path)
        if existing.metadata.get("pretrain", {}).get("settings") == key:
            log(f"pretrained {model} for {target_platform}: reusing {path}")
            return path
    where = "held out" if target_platform in available else "not in the dataset"
    log(f"pretraining {model} on {', '.join(train_platforms)} of {root} (target {target_platform}: {where})")
    _, records, inputs, _ = experiments.prepare(ds, [model], platforms=train_platforms, max_len=max_len,
                                                progress=progress)
    rows = np.arange(len(records))
    if limit is not None and len(rows) > int(limit):  # a seeded random subset (small presets)
        rows = np.sort(np.random.default_rng(seed).choice(rows, int(limit), replace=False))
    fitted = create(model, seed=seed, **params).fit(inputs, rows)
    used = records.iloc[rows]
    fitted.metadata["pretrain"] = {
        "settings": key, "records": int(len(used)), "tasks": int(used["task"].nunique()),
        "records_per_platform": {str(k): int(v) for k, v in used.groupby("platform").size().items()},
        "dataset_rows": ds.summary(),
    }
    fitted.save(path)
    log(f"pretrained {model} on {len(rows)} records in {fitted.metadata['fit_seconds']:.1f} s -> {path}")
    return path


# --- tuning -------------------------------------------------------------------------------------------------


def arm_dir(study_dir: str | os.PathLike, network: str, arm: Arm, seed: int = 0) -> Path:
    """``study_dir/<network>/<arm slug>-s<seed>``: the arm's MetaSchedule work dir."""
    return Path(study_dir) / network / f"{arm.slug}-s{seed}"


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def arm_status(work_dir: Path, plan: dict) -> str:
    """``done`` (tuned with these settings), ``pending`` (never started or interrupted) or ``conflict``
    (tuned with other settings)."""
    if not (work_dir / tuning.RESULT_FILE).is_file():
        return "pending"
    return "done" if _read_json(work_dir / ARM_FILE) == plan else "conflict"


def _plan_differences(old: dict | None, new: dict) -> list[str]:
    old = old or {}
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def run_transfer_tuning(networks: list[str], target: dict | str, budget_per_network: int | dict,
                        study_dir: str | os.PathLike, *, fractions: tuple[float, ...] = (0.25, 0.40),
                        model_path: str | os.PathLike | None = None, platform_row: dict | None = None,
                        random_arms: bool = True, seeds: tuple[int, ...] = (0,), num_trials_per_iter: int = 64,
                        search: dict | None = None, runner: dict | None = None, online: dict | None = None,
                        layout: str = "NCHW", arms: list[Arm] | None = None, deadline: float | None = None,
                        progress: bool = True, log=_log) -> pd.DataFrame:
    """Tune every network with every arm of :func:`make_arms` (or ``arms``); skip arms already done. One row
    per arm and seed: network, arm, seed, status (``tuned``, ``skipped``, ``failed``: an arm that raised is
    logged and left for the next run, the others go on; ``deferred``: not started because ``deadline``, a
    ``time.monotonic()`` value, had passed), trials, tuning_s, scoring_share, work_dir.

    ``budget_per_network``: B, one int for every network or a dict network -> B. ``model_path``: the
    pretrained model (:func:`pretrain_for_target`), needed for the ``pretrained`` arms; ``platform_row``:
    the target's platforms row whose hardware features it gets (:func:`target_platform_row`).
    ``num_trials_per_iter``, ``search`` (``EvolutionarySearch`` keyword arguments), ``runner``
    (``MeasureSettings`` fields: number, repeat, min_repeat_ms, builder_workers) and ``layout`` are the same
    for every arm; ``online``: keyword arguments of ``ProjectCostModel`` (online_epochs, min_online, ...).
    """
    target = targets.checked_target(target)
    if arms is None:
        arms = make_arms(tuple(fractions), random_arms, _model_name(model_path))
    if any(a.cost_model == "pretrained" for a in arms) and model_path is None:
        raise ValueError("the pretrained arms need model_path (pretrain_for_target)")
    pretrained = _pretrained_reference(model_path)
    platform = (platform_row or {}).get("platform")
    rows = []
    for network in networks:
        budget = int(budget_per_network[network] if isinstance(budget_per_network, dict) else budget_per_network)
        for seed in seeds:
            for arm in arms:
                work_dir = arm_dir(study_dir, network, arm, seed)
                plan = {"network": network, "arm": arm.name, "cost_model": arm.cost_model,
                        "budget_fraction": arm.fraction, "budget": budget, "trials": arm_trials(budget, arm.fraction),
                        "seed": int(seed), "target": targets.checked_target(target), "target_platform": platform,
                        "num_trials_per_iter": int(num_trials_per_iter), "search": dict(search or {}),
                        "runner": dict(runner or {}), "layout": layout,
                        "pretrained": pretrained if arm.cost_model == "pretrained" else None,
                        "online": dict(online or {}) if arm.cost_model == "pretrained" else None}
                plan = json.loads(json.dumps(plan))  # as it reads back from arm.json
                status = arm_status(work_dir, plan)
                if status == "conflict":
                    differ = ", ".join(_plan_differences(_read_json(work_dir / ARM_FILE), plan))
                    raise ValueError(f"{work_dir} was tuned with other settings ({differ} differ): use another "
                                     f"study dir, or delete that arm's folder to tune it again")
                if status == "done":
                    result = tuning.TuningResult.load(work_dir)
                    log(f"{network} {arm.name} seed {seed}: done before ({result.trials_measured} trials), skipped")
                    rows.append(_run_row(network, arm, seed, "skipped", result))
                    continue
                if _past(deadline):
                    log(f"{network} {arm.name} seed {seed}: time limit reached, not started (re-run to continue)")
                    rows.append({"network": network, "arm": arm.name, "seed": seed, "status": "deferred",
                                 "work_dir": str(work_dir)})
                    continue
                log(f"{network} {arm.name} seed {seed}: tuning {plan['trials']} trials (B = {budget}) in {work_dir}")
                try:
                    result = _tune_arm(network, arm, plan, work_dir, model_path, platform_row, progress)
                except Exception as err:  # noqa: BLE001 - one failed arm must not stop a run of hours
                    log(f"{network} {arm.name} seed {seed}: FAILED ({type(err).__name__}: {err}); "
                        f"the next run tunes it again")
                    rows.append({"network": network, "arm": arm.name, "seed": seed, "status": "failed",
                                 "work_dir": str(work_dir)})
                    continue
                log(tuning.summary_line(result))
                rows.append(_run_row(network, arm, seed, "tuned", result))
    return pd.DataFrame(rows)


def _past(deadline: float | None) -> bool:
    """Whether a ``time.monotonic()`` deadline (None: none) has passed."""
    return deadline is not None and time.monotonic() >= deadline


def _model_name(model_path) -> str:
    if model_path is None:
        return "ours"
    metadata = _read_json(Path(str(model_path) + ".json")) or {}
    return str(metadata.get("model", "ours"))


def _pretrained_reference(model_path) -> dict | None:
    """What an arm records of its pretrained model: the file name and the pretraining settings."""
    if model_path is None:
        return None
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained model {path} not found (pretrain_for_target writes it)")
    metadata = _read_json(Path(str(path) + ".json")) or {}
    return {"file": path.name, "settings": metadata.get("pretrain", {}).get("settings"),
            "platforms": metadata.get("platforms")}


def _tune_arm(network: str, arm: Arm, plan: dict, work_dir: Path, model_path, platform_row,
              progress: bool) -> tuning.TuningResult:
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / tuning.RESULT_FILE).unlink(missing_ok=True)
    tuning._write_json(work_dir / ARM_FILE, plan)
    label = None
    if arm.cost_model == "pretrained":
        from .cost_model import ProjectCostModel

        cost_model = ProjectCostModel(str(model_path), platform=platform_row, seed=plan["seed"],
                                      **(plan["online"] or {}))
        label = f"{cost_model.model.name}:{Path(model_path).name}"
    else:
        cost_model = arm.cost_model
    runner = plan["runner"]
    return tuning.tune_network(
        network, plan["target"], work_dir, plan["trials"], cost_model,
        num_trials_per_iter=plan["num_trials_per_iter"], search=plan["search"] or None, layout=plan["layout"],
        builder_workers=runner.get("builder_workers"), number=runner.get("number"), repeat=runner.get("repeat"),
        min_repeat_ms=runner.get("min_repeat_ms"), seed=plan["seed"], overwrite=True, cost_model_label=label,
        progress=progress,
    )


def _run_row(network: str, arm: Arm, seed: int, status: str, result: tuning.TuningResult) -> dict:
    return {"network": network, "arm": arm.name, "seed": seed, "status": status, "trials": result.trials_measured,
            "tuning_s": result.tuning_seconds, "scoring_share": result.scoring_share, "work_dir": result.work_dir}


# --- end-to-end timing --------------------------------------------------------------------------------------


def tuned_arm_dirs(study_dir: str | os.PathLike, networks: list[str] | None = None,
                   arms: list[str] | None = None) -> list[Path]:
    """Work dirs of the study's tuned arms (``arm.json`` and ``tuning_result.json`` present), sorted; only
    those of ``networks`` and of the arms named ``arms`` when given."""
    found = sorted(p.parent for p in Path(study_dir).glob(f"*/*/{ARM_FILE}")
                   if (p.parent / tuning.RESULT_FILE).is_file())
    return [p for p in found if (networks is None or p.parent.name in networks)
            and (arms is None or _read_json(p / ARM_FILE)["arm"] in arms)]


def bootstrap_mean_interval(values, n_boot: int = 2000, confidence: float = 0.95,
                            seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (the timing repeats)."""
    from ..evaluation.metrics import bootstrap_ratio

    values = np.asarray(values, dtype=np.float64)
    return bootstrap_ratio(values, np.ones_like(values), n_boot=n_boot, seed=seed, confidence=confidence)


def time_tuned_networks(study_dir: str | os.PathLike, networks: list[str] | None = None, *,
                        arms: list[str] | None = None, repeat: int = 100,
                        number: int = 1, min_repeat_ms: int = 100, rounds: int = 1, n_boot: int = 2000,
                        confidence: float = 0.95, overwrite: bool = False, deadline: float | None = None,
                        log=_log) -> pd.DataFrame:
    """Compile every tuned arm of the study with its database and time it end to end in the Relax VM.

    ``rounds`` = 1 times each arm in this process: ``repeat`` repeats, and the interval is the
    percentile bootstrap of their mean. ``rounds`` > 1 times a network's arms in that many rounds, each
    arm in a fresh process every round (:func:`time_arms_in_rounds`), the arms' order rotated from round to
    round; the latency is the mean of the round means and the interval Student's t over them, because
    a network's time moves more between processes than between repeats in one.

    Writes ``end_to_end.json`` in each arm's work dir: every repeat, mean, standard deviation, median, the
    interval of the mean (``low_s``, ``high_s``), the rounds (when more than one), the compile summary,
    the timing settings and the machine's load average when it ran. An arm already timed with the same
    settings is skipped unless ``overwrite`` (re-time on a quiet machine without tuning again).
    ``networks``, ``arms``: only these networks and arm names (default: all). Returns one row per arm:
    network, arm, seed, status (``timed``, ``skipped``, ``failed``: logged, the other arms go on;
    ``deferred``: not started because ``deadline``, a ``time.monotonic()`` value, had passed), mean_s,
    work_dir.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    settings = {"repeat": int(repeat), "number": int(number), "min_repeat_ms": int(min_repeat_ms),
                "n_boot": int(n_boot), "confidence": float(confidence)}
    if rounds > 1:  # one round keeps the settings (and so the timings) of studies timed before rounds existed
        settings["rounds"] = int(rounds)
    rows, due_by_network = [], {}
    for work_dir in tuned_arm_dirs(study_dir, networks, arms):
        plan = _read_json(work_dir / ARM_FILE)
        old = _read_json(work_dir / END_TO_END_FILE)
        if not (overwrite or old is None or old.get("timing_settings") != settings):
            rows.append(_timing_row(plan, "skipped", old, work_dir))
        elif _past(deadline):
            log(f"{plan['network']} {plan['arm']} seed {plan['seed']}: time limit reached, not timed (re-run)")
            rows.append(_timing_row(plan, "deferred", None, work_dir))
        else:
            due_by_network.setdefault(plan["network"], []).append(work_dir)
    for work_dirs in due_by_network.values():
        if rounds == 1:
            for work_dir in work_dirs:
                rows.append(_time_one_arm(work_dir, settings, log))
        else:
            rows.extend(time_arms_in_rounds(work_dirs, settings, log=log))
    return pd.DataFrame(rows, columns=["network", "arm", "seed", "status", "mean_s", "work_dir"])


def _timing_row(plan: dict, status: str, e2e: dict | None, work_dir: Path) -> dict:
    return {"network": plan["network"], "arm": plan["arm"], "seed": plan["seed"], "status": status,
            "mean_s": None if e2e is None else e2e["mean_s"], "work_dir": str(work_dir)}


def _log_timed(plan: dict, e2e: dict, log) -> None:
    how = (f"{len(e2e['rounds'])} rounds in fresh processes" if e2e.get("rounds")
           else f"{len(e2e['repeats_s'])} repeats")
    log(f"{plan['network']} {plan['arm']}: {e2e['mean_s'] * 1e3:.3f} ms "
        f"[{e2e['low_s'] * 1e3:.3f}, {e2e['high_s'] * 1e3:.3f}] over {how}")


def _time_one_arm(work_dir: Path, settings: dict, log) -> dict:
    plan = _read_json(work_dir / ARM_FILE)
    log(f"{plan['network']} {plan['arm']} seed {plan['seed']}: compiling and timing end to end")
    try:
        e2e = time_arm(work_dir, settings)
    except Exception as err:  # noqa: BLE001 - time the other arms; the next run tries again
        log(f"{plan['network']} {plan['arm']}: timing FAILED ({type(err).__name__}: {err})")
        return _timing_row(plan, "failed", None, work_dir)
    _log_timed(plan, e2e, log)
    return _timing_row(plan, "timed", e2e, work_dir)


def time_arm(work_dir: str | os.PathLike, settings: dict) -> dict:
    """Compile one tuned arm and time it in this process (``settings``: repeat, number, min_repeat_ms,
    n_boot, confidence); writes and returns ``end_to_end.json``."""
    work_dir = Path(work_dir)
    plan = _read_json(work_dir / ARM_FILE)
    compiled = _compile_arm(work_dir, plan)
    timing = tuning.time_network(compiled, plan["target"], repeat=settings["repeat"], number=settings["number"],
                                 min_repeat_ms=settings["min_repeat_ms"])
    low, high = bootstrap_mean_interval(timing["repeats_s"], settings["n_boot"], settings["confidence"])
    return _write_end_to_end(work_dir, {**timing, "low_s": low, "high_s": high,
                                        "interval": "percentile bootstrap of the mean over repeats"},
                             settings, compiled)


def _compile_arm(work_dir: Path, plan: dict) -> tuning.CompiledNetwork:
    return tuning.compile_with_database(plan["network"], plan["target"], work_dir, layout=plan.get("layout", "NCHW"))


def _write_end_to_end(work_dir: Path, timing: dict, settings: dict, compiled: tuning.CompiledNetwork) -> dict:
    out = {**timing, "timing_settings": settings,
           "compile": {"seconds": compiled.compile_seconds, "functions": compiled.functions,
                       "functions_tuned": compiled.functions_tuned, "untuned_functions": compiled.untuned_functions},
           "load_average": list(os.getloadavg()), "timed_at": tuning._now()}
    tuning._write_json(work_dir / END_TO_END_FILE, out)
    return out


def time_arms_in_rounds(work_dirs: list[Path], settings: dict, *, log=_log) -> list[dict]:
    """Time arms of one network in ``settings['rounds']`` rounds, each arm in a fresh process every round.

    Every arm is compiled once and exported as a shared library (in a temporary folder); round ``r`` then
    times the arms in their order rotated by ``r`` (so no arm always runs first), each with
    :func:`tenset_study.tuning.tune.time_in_fresh_process` (``repeat`` repeats). ``end_to_end.json`` keeps each
    round's repeats and mean; ``mean_s`` is the mean of the round means, ``std_s`` their standard
    deviation, ``low_s``/``high_s`` Student's t interval of the mean over rounds, and ``repeats_s`` every
    repeat of every round. An arm that fails to compile or in a round is logged and reported ``failed``;
    the others go on. Returns one row per arm as :func:`time_tuned_networks` does.
    """
    import tempfile

    rows, built, times = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="tenset-timing-") as tmp:
        for i, work_dir in enumerate(work_dirs):
            plan = _read_json(work_dir / ARM_FILE)
            log(f"{plan['network']} {plan['arm']} seed {plan['seed']}: compiling to time in "
                f"{settings['rounds']} rounds")
            try:
                compiled = _compile_arm(work_dir, plan)
                built[work_dir] = (plan, compiled, tuning.export_compiled(compiled, Path(tmp) / f"arm{i}.so"))
                times[work_dir] = []
            except Exception as err:  # noqa: BLE001 - time the other arms; the next run tries again
                log(f"{plan['network']} {plan['arm']}: compiling FAILED ({type(err).__name__}: {err})")
                rows.append(_timing_row(plan, "failed", None, work_dir))
        for r in range(settings["rounds"]):
            order = [w for w in work_dirs if w in times]
            order = order[r % len(order):] + order[:r % len(order)] if order else []
            for work_dir in order:
                plan, compiled, library = built[work_dir]
                try:
                    times[work_dir].append(tuning.time_in_fresh_process(
                        library, plan["target"], compiled.inputs, repeat=settings["repeat"],
                        number=settings["number"], min_repeat_ms=settings["min_repeat_ms"]))
                except Exception as err:  # noqa: BLE001 - the other arms go on
                    log(f"{plan['network']} {plan['arm']}: round {r + 1} FAILED ({type(err).__name__}: {err})")
                    rows.append(_timing_row(plan, "failed", None, work_dir))
                    del times[work_dir]
    for work_dir, arm_rounds in times.items():
        plan, compiled, _ = built[work_dir]
        e2e = _write_end_to_end(work_dir, summarize_rounds(arm_rounds, settings["confidence"]), settings, compiled)
        _log_timed(plan, e2e, log)
        rows.append(_timing_row(plan, "timed", e2e, work_dir))
    return rows


def timing_rounds(study_dir: str | os.PathLike) -> pd.DataFrame:
    """Every timing round of every timed arm (:func:`time_arms_in_rounds`): one row per (network, arm,
    seed, round) with the round's mean and standard deviation over its repeats (seconds) and its share of
    the arm's mean (``of_mean``). An arm timed in one process gives one row, round 0. Shows how much a
    network's time moves from one process to the next."""
    rows = []
    for work_dir in tuned_arm_dirs(study_dir):
        plan, e2e = _read_json(work_dir / ARM_FILE), _read_json(work_dir / END_TO_END_FILE)
        if not e2e:
            continue
        for i, r in enumerate(e2e.get("rounds") or [e2e]):
            rows.append({"target_platform": plan.get("target_platform"), "network": plan["network"],
                         "arm": plan["arm"], "seed": plan["seed"], "round": i, "mean_s": r["mean_s"],
                         "std_s": r["std_s"], "of_mean": r["mean_s"] / e2e["mean_s"]})
    return pd.DataFrame(rows, columns=["target_platform", "network", "arm", "seed", "round", "mean_s", "std_s",
                                       "of_mean"])


def summarize_rounds(rounds: list[dict], confidence: float = 0.95) -> dict:
    """One arm's timing over rounds (each a :func:`tenset_study.tuning.tune.time_network` result): the mean and
    standard deviation of the round means, Student's t interval of their mean (``low_s``, ``high_s``), the
    median and extremes over all repeats, every repeat (``repeats_s``) and each round's summary."""
    from scipy import stats

    means = np.array([r["mean_s"] for r in rounds], dtype=np.float64)
    repeats = [float(v) for r in rounds for v in r["repeats_s"]]
    mean, n = float(means.mean()), len(means)
    std = float(means.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)) if n > 1 else 0.0
    return {"mean_s": mean, "std_s": std, "median_s": float(np.median(repeats)), "min_s": float(np.min(repeats)),
            "max_s": float(np.max(repeats)), "repeats_s": repeats, "low_s": mean - half, "high_s": mean + half,
            "interval": f"Student's t of the mean over {n} rounds, each in a fresh process",
            "rounds": [{k: r[k] for k in ("mean_s", "std_s", "median_s", "repeats_s", "timing_wall_s")}
                       for r in rounds],
            "settings": rounds[0]["settings"], "device": rounds[0]["device"], "inputs": rounds[0]["inputs"]}


# --- results ------------------------------------------------------------------------------------------------


def estimate_tasks(study_dir: str | os.PathLike) -> dict[str, list[dict]]:
    """Per network, the tasks that every tuned arm measured at least once (``tuning_result.json``'s task
    entries). The estimated latency (sum of weight x best kernel) is taken over these, so that it exists
    and compares across arms when a task can never be measured alone: BERT's ``take`` (the embedding
    lookup) gets random indices from MetaSchedule's runner, reads out of bounds and fails in every arm,
    while the compiled network runs it with valid token ids."""
    results: dict[str, list] = {}
    for work_dir in tuned_arm_dirs(study_dir):
        result = tuning.TuningResult.load(work_dir)
        results.setdefault(result.network, []).append(result)
    out = {}
    for network, arm_results in results.items():
        unmeasured = {t["workload_shash"] for r in arm_results for t in r.tasks if t["best_latency_s"] is None}
        out[network] = [t for t in arm_results[0].tasks if t["workload_shash"] not in unmeasured]
    return out


def _estimate(result: tuning.TuningResult, tasks: list[dict]) -> float | None:
    best = {t["workload_shash"]: t["best_latency_s"] for t in result.tasks}
    if not tasks or any(best.get(t["workload_shash"]) is None for t in tasks):
        return None
    return float(sum(t["weight"] * best[t["workload_shash"]] for t in tasks))


def collect_results(study_dir: str | os.PathLike) -> pd.DataFrame:
    """The results table of a study dir: one row per tuned arm (columns :data:`RESULT_COLUMNS`; the
    end-to-end columns are NaN until :func:`time_tuned_networks` ran). ``estimated_latency_s`` is over
    the ``estimate_tasks`` tasks that every arm of the network measured (:func:`estimate_tasks`)."""
    common = estimate_tasks(study_dir)
    rows = []
    for work_dir in tuned_arm_dirs(study_dir):
        plan = _read_json(work_dir / ARM_FILE)
        result = tuning.TuningResult.load(work_dir)
        e2e = _read_json(work_dir / END_TO_END_FILE) or {}
        tasks = common.get(result.network, [])
        rows.append({
            "target_platform": plan.get("target_platform"), "network": plan["network"], "arm": plan["arm"],
            "cost_model": result.cost_model, "budget_fraction": plan["budget_fraction"], "budget": plan["budget"],
            "trials_budget": plan["trials"], "trials": result.trials_measured, "valid_trials": result.valid_trials,
            "tasks": len(result.tasks), "untuned_tasks": len(result.untuned_tasks),
            "tuning_s": result.tuning_seconds, "scoring_s": result.scoring_seconds,
            "scoring_share": result.scoring_share, "update_s": result.update_seconds,
            "estimated_latency_s": _estimate(result, tasks), "estimate_tasks": len(tasks),
            "e2e_mean_s": e2e.get("mean_s"),
            "e2e_std_s": e2e.get("std_s"), "e2e_low_s": e2e.get("low_s"), "e2e_high_s": e2e.get("high_s"),
            "e2e_repeats": len(e2e.get("repeats_s", [])) or None, "seed": plan["seed"],
            "target": json.dumps(plan["target"], sort_keys=True), "work_dir": str(work_dir),
        })
    return pd.DataFrame(rows, columns=RESULT_COLUMNS).astype({"e2e_mean_s": float, "e2e_std_s": float,
                                                              "e2e_low_s": float, "e2e_high_s": float})


def collect_curves(study_dir: str | os.PathLike) -> pd.DataFrame:
    """Every tuned arm's tuning curve (:func:`tenset_study.tuning.tune.tuning_curve`: the network's estimated
    latency against trials and tuning seconds, over the tasks of :func:`estimate_tasks`), with the arm's
    keys (columns :data:`CURVE_COLUMNS`)."""
    common = estimate_tasks(study_dir)
    frames = []
    for work_dir in tuned_arm_dirs(study_dir):
        plan = _read_json(work_dir / ARM_FILE)
        curve = tuning.tuning_curve(work_dir, tasks=common.get(plan["network"]) or None)
        frames.append(curve.assign(target_platform=plan.get("target_platform"), network=plan["network"],
                                   arm=plan["arm"], budget_fraction=plan["budget_fraction"], seed=plan["seed"]))
    if not frames:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]


def merge_results(new: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``new`` into the CSV at ``path`` (atomic), replacing the rows with the same
    (target_platform, network, arm, seed) and keeping the others (another platform's study, say)."""
    from ..data.results import write_results

    path = Path(path)
    if path.is_file():
        old = pd.read_csv(path)
        if not old.empty:
            key = lambda frame: frame[RESULT_KEYS].astype(str).agg("|".join, axis=1)  # noqa: E731
            old = old[~key(old).isin(set(key(new)))]
            new = pd.concat([old, new], ignore_index=True) if not new.empty else old
    return write_results(new.sort_values(RESULT_KEYS, kind="stable"), path)


def write_study_results(study_dir: str | os.PathLike, results_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write the study's results and curves into ``study_dir`` (``transfer_tuning.csv``,
    ``transfer_tuning_curves.csv``) and, when ``results_dir`` is given, merge them into the files of the same
    names there (:func:`merge_results`). Returns the paths written."""
    from ..data.results import write_results

    results, curves = collect_results(study_dir), collect_curves(study_dir)
    paths = {"results": write_results(results, Path(study_dir) / RESULTS_FILE),
             "curves": write_results(curves, Path(study_dir) / CURVES_FILE)}
    if results_dir is not None:
        from ..params import resolve_path

        shared = resolve_path(results_dir)
        paths["shared_results"] = merge_results(results, shared / RESULTS_FILE)
        paths["shared_curves"] = merge_results(curves, shared / CURVES_FILE)
    return paths


def fold_seeds(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (target_platform, network, arm): means over seeds of the end-to-end latency, its
    interval bounds, the estimated latency, tuning seconds, trials and scoring share, the standard deviation
    of the latency over seeds (``seed_std``, 0 for one seed) and the number of seeds."""
    keys = ["target_platform", "network", "arm"]
    frame = results.copy()
    frame["target_platform"] = frame["target_platform"].fillna("")
    folded = frame.groupby(keys, sort=False).agg(
        budget_fraction=("budget_fraction", "first"), e2e_mean_s=("e2e_mean_s", "mean"),
        e2e_low_s=("e2e_low_s", "mean"), e2e_high_s=("e2e_high_s", "mean"), seed_std=("e2e_mean_s", "std"),
        estimated_latency_s=("estimated_latency_s", "mean"), tuning_s=("tuning_s", "mean"),
        trials=("trials", "mean"), scoring_share=("scoring_share", "mean"), seeds=("seed", "nunique"),
    ).reset_index()
    folded["seed_std"] = folded["seed_std"].fillna(0.0)
    return folded


def compare_to_baseline(results: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Per network and platform, every arm against the baseline arm.

    Columns: target_platform, network, arm, budget_fraction, latency_ratio (arm / baseline end-to-end mean
    latency) with ratio_low / ratio_high (arm's low / baseline's high, arm's high / baseline's low: the
    ratio's range over both intervals), the two latencies and intervals, estimated_ratio (the same for the
    estimated latency), tuning_time_ratio and trials_ratio (arm / baseline), the arm's scoring share, and
    ``verdict``: "faster" when the arm's interval lies entirely below the baseline's, "on par" when they
    overlap, "slower" when it lies above, "n/a" without both timings. Seeds are folded first (:func:`fold_seeds`);
    intervals are widened by one standard deviation over seeds on each side.
    """
    folded = fold_seeds(results)
    columns = ["target_platform", "network", "arm", "budget_fraction", "latency_ratio", "ratio_low", "ratio_high",
               "e2e_mean_s", "e2e_low_s", "e2e_high_s", "baseline_mean_s", "baseline_low_s", "baseline_high_s",
               "estimated_ratio", "tuning_time_ratio", "trials_ratio", "scoring_share", "seeds", "verdict"]
    rows = []
    for (platform, network), group in folded.groupby(["target_platform", "network"], sort=False):
        base = group[group["arm"] == baseline]
        if base.empty:
            continue
        base = base.iloc[0]
        base_low, base_high = base["e2e_low_s"] - base["seed_std"], base["e2e_high_s"] + base["seed_std"]
        for _, arm in group[group["arm"] != baseline].iterrows():
            low, high = arm["e2e_low_s"] - arm["seed_std"], arm["e2e_high_s"] + arm["seed_std"]
            rows.append({
                "target_platform": platform, "network": network, "arm": arm["arm"],
                "budget_fraction": arm["budget_fraction"], "latency_ratio": arm["e2e_mean_s"] / base["e2e_mean_s"],
                "ratio_low": low / base_high, "ratio_high": high / base_low, "e2e_mean_s": arm["e2e_mean_s"],
                "e2e_low_s": low, "e2e_high_s": high, "baseline_mean_s": base["e2e_mean_s"],
                "baseline_low_s": base_low, "baseline_high_s": base_high,
                "estimated_ratio": arm["estimated_latency_s"] / base["estimated_latency_s"],
                "tuning_time_ratio": arm["tuning_s"] / base["tuning_s"], "trials_ratio": arm["trials"] / base["trials"],
                "scoring_share": arm["scoring_share"], "seeds": int(arm["seeds"]),
                "verdict": verdict(low, high, base_low, base_high),
            })
    return pd.DataFrame(rows, columns=columns)


def verdict(low: float, high: float, base_low: float, base_high: float) -> str:
    """``faster`` when [low, high] lies entirely below [base_low, base_high], ``on par`` when they overlap,
    ``slower`` when it lies entirely above, ``n/a`` when a bound is missing."""
    if any(v is None or not math.isfinite(v) for v in (low, high, base_low, base_high)):
        return "n/a"
    if high < base_low:
        return "faster"
    return "on par" if low <= base_high else "slower"


# --- the whole study ----------------------------------------------------------------------------------------


@dataclass
class StudyOutcome:
    """What :func:`run_study` did and found."""

    study_dir: str
    model_path: str | None
    budgets: dict
    tuning: pd.DataFrame
    timing: pd.DataFrame | None
    results: pd.DataFrame
    comparison: pd.DataFrame
    paths: dict


def run_study(dataset: str | os.PathLike | None, target_platform: str | None, networks: list[str] | None = None,
              preset: str | dict = "book", study_dir: str | os.PathLike = "studies/transfer", *,
              target: dict | None = None, budgets: dict | int | None = None, seeds: tuple[int, ...] | None = None,
              random_arms: bool | None = None, train_platforms: list[str] | None = None, tune: bool = True,
              time_networks: bool = True, retime: bool = False, timing_rounds: int | None = None,
              results_dir: str | os.PathLike | None = None, time_limit_s: float | None = None, progress: bool = True,
              log=_log) -> StudyOutcome:
    """The whole experiment for one target: pretrain (or reuse), tune every arm not done yet, time every arm
    not timed yet, write the results and compare. Resumable: run it again after an interruption.

    ``target_platform``: the dataset's platform id of the target (held out of pretraining; its hardware
    features go to our model), or None for this machine read off directly (then a dataset platform with
    the same id is held out, and with none every dataset platform is "other"). ``target``: the TVM target
    (default: this CPU, ``targets.cpu_target()``). ``networks``, ``budgets`` (B per network, or one B),
    ``seeds``, ``random_arms``: override the preset. ``tune=False`` only times and tabulates what is tuned
    (no dataset needed). ``time_networks``: time the tuned arms end to end; ``retime``: time them again even
    when done; ``timing_rounds``: time in that many rounds, each in a fresh process (default: the preset's,
    :func:`time_tuned_networks`). ``results_dir``: also merge the results into the files there (e.g. ``results``).
    ``time_limit_s``: start no arm's tuning or timing after this many seconds (those left are ``deferred``
    and the next run does them); an arm already started runs to its end, so leave room for the longest.
    """
    from ..params import resolve_path

    if time_limit_s is not None and time_limit_s <= 0:
        raise ValueError(f"time_limit_s must be > 0, got {time_limit_s}")
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    settings = transfer_settings(preset)
    target = targets.checked_target(target) if target is not None else targets.cpu_target()
    networks = check_networks(list(networks or settings["networks"]))
    study_dir = resolve_path(study_dir)
    seeds = tuple(seeds or settings.get("seeds", (0,)))
    timing = dict(settings.get("timing") or {})
    if timing_rounds is not None:
        if timing_rounds < 1:
            raise ValueError(f"timing_rounds must be >= 1, got {timing_rounds}")
        timing["rounds"] = int(timing_rounds)
    model_path, per_network, tuned = None, {}, pd.DataFrame()
    if tune:
        if dataset is None:
            raise ValueError("tuning needs the dataset to pretrain on (or tune=False to only time)")
        from ..data.dataset import Dataset

        row = target_platform_row(dataset, target_platform, target)
        platform = str(row["platform"])
        study_dir.mkdir(parents=True, exist_ok=True)
        tuning._write_json(study_dir / TARGET_PLATFORM_FILE, jsonable(row))
        if train_platforms is None and platform not in _dataset_platforms(Dataset.open(resolve_path(dataset))):
            train_platforms = _dataset_platforms(Dataset.open(resolve_path(dataset)))  # all are "other" hardware
        model_path = pretrain_for_target(dataset, platform, settings.get("model", "ours"), settings, study_dir,
                                         seed=seeds[0], train_platforms=train_platforms, progress=progress, log=log)
        per_network = _budgets(networks, budgets, settings, target, log)
        arms = make_arms(tuple(settings.get("fractions", (0.25, 0.40))),
                         settings.get("random_arms", True) if random_arms is None else random_arms,
                         settings.get("model", "ours"))
        # the comparison itself first, every network timed as soon as it is tuned; the random arms last
        frames, timed_frames = [], []
        for group in ([a for a in arms if a.cost_model != "random"], [a for a in arms if a.cost_model == "random"]):
            for network in networks if group else []:
                frames.append(run_transfer_tuning(
                    [network], target, per_network, study_dir, model_path=model_path, platform_row=row, seeds=seeds,
                    num_trials_per_iter=int(settings.get("num_trials_per_iter", 64)), search=settings.get("search"),
                    runner=settings.get("runner"), online=settings.get("online"), arms=group, deadline=deadline,
                    progress=progress, log=log))
                write_study_results(study_dir, results_dir)
                if time_networks:
                    timed_frames.append(time_tuned_networks(study_dir, [network], arms=[a.name for a in group],
                                                            overwrite=retime, deadline=deadline, log=log,
                                                            **timing))
                    write_study_results(study_dir, results_dir)
        tuned = pd.concat(frames, ignore_index=True)
        timed = pd.concat(timed_frames, ignore_index=True) if timed_frames else None
    else:
        timed = (time_tuned_networks(study_dir, networks, overwrite=retime, deadline=deadline, log=log, **timing)
                 if time_networks else None)
    paths = write_study_results(study_dir, results_dir)
    results = collect_results(study_dir)
    results = results[results["network"].isin(networks)].reset_index(drop=True)
    return StudyOutcome(str(study_dir), None if model_path is None else str(model_path), per_network, tuned, timed,
                        results, compare_to_baseline(results), paths)


def _budgets(networks: list[str], budgets, settings: dict, target: dict, log) -> dict:
    if isinstance(budgets, int):
        return {n: int(budgets) for n in networks}
    out = {}
    for network in networks:
        if isinstance(budgets, dict) and network in budgets:
            out[network] = int(budgets[network])
            continue
        n_tasks = None
        if network not in (settings.get("budgets") or {}):
            n_tasks = count_tasks(network, target)
        out[network] = network_budget(network, settings, n_tasks)
        log(f"{network}: B = {out[network]} trials" + (f" ({n_tasks} tasks)" if n_tasks else ""))
    return out


# --- the command line ---------------------------------------------------------------------------------------


def run_transfer_tune_command(args) -> int:
    """``tenset-study transfer-tune``: :func:`run_study` with the command's flags; prints the results and the
    comparison; exits 1 when an arm failed to tune or to time (the others went on)."""
    if args.gpu:
        target = targets.gpu_target(args.gpu)
    elif args.target:
        target = targets.checked_target(args.target)
    else:
        target = None
    if args.dataset is None and not args.time_only:
        raise ValueError("--dataset is needed to pretrain (only --time-only runs without it)")
    outcome = run_study(
        args.dataset, args.target_platform, args.networks, args.preset, args.study_dir, target=target,
        budgets=args.budget, seeds=tuple(args.seeds) if args.seeds else None,
        random_arms=False if args.no_random else None, train_platforms=args.train_platforms,
        tune=not args.time_only, time_networks=not args.no_time, retime=args.retime,
        timing_rounds=args.timing_rounds, results_dir=args.results_dir, time_limit_s=args.time_limit,
        progress=not args.quiet,
    )
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        shown = outcome.results[["network", "arm", "trials", "tuning_s", "scoring_share", "estimated_latency_s",
                                 "e2e_mean_s", "e2e_low_s", "e2e_high_s"]]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if not outcome.comparison.empty:
            print(outcome.comparison[["network", "arm", "latency_ratio", "ratio_low", "ratio_high",
                                      "tuning_time_ratio", "verdict"]].to_string(index=False,
                                                                                 float_format=lambda v: f"{v:.3f}"))
    print(f"results: {', '.join(str(p) for p in outcome.paths.values())}")
    failed, deferred = _arms_with_status(outcome, "failed"), _arms_with_status(outcome, "deferred")
    if deferred:
        print(f"stopped at the time limit (re-run to continue): {', '.join(deferred)} left")
    if failed:
        print(f"failed (see the log; run again to retry): {', '.join(failed)}")
        return 1
    return 0


def _arms_with_status(outcome: StudyOutcome, status: str) -> list[str]:
    """``network arm`` of every row of the outcome's tuning and timing tables with this ``status``."""
    return [f"{r['network']} {r['arm']}" for frame in (outcome.tuning, outcome.timing)
            if frame is not None and "status" in frame for _, r in frame[frame["status"] == status].iterrows()]


__all__ = ["Arm", "arm_dir", "arm_status", "arm_trials", "BASELINE", "bootstrap_mean_interval", "check_networks",
           "collect_curves", "collect_results", "compare_to_baseline", "count_tasks", "estimate_tasks", "fold_seeds",
           "make_arms", "merge_results", "network_budget", "pretrain_for_target", "run_study",
           "run_transfer_tune_command", "run_transfer_tuning", "StudyOutcome", "summarize_rounds",
           "target_platform_row", "time_arm", "time_arms_in_rounds", "timing_rounds", "time_tuned_networks",
           "transfer_settings", "tuned_arm_dirs", "verdict", "write_study_results"]
