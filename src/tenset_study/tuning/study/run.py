"""Tuning a study's arms: :func:`run_transfer_tuning` tunes every network with every arm in its own work dir,
skipping arms already done with the same plan (``arm.json``, :func:`arm_status`), tuning interrupted ones again
from scratch and refusing a finished arm with other settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ...params import display_path
from ...programs import targets
from ..result import RESULT_FILE, TuningResult, read_json, summary_line, write_json
from .layout import ARM_FILE, arm_dir
from .settings import Arm, arm_trials, check_search, check_variant, log as _log, make_arms, past


def arm_status(work_dir: Path, plan: dict) -> str:
    """``done`` (tuned with these settings), ``pending`` (never started or interrupted) or ``conflict``
    (tuned with other settings)."""
    if not (work_dir / RESULT_FILE).is_file():
        return "pending"
    return "done" if read_json(work_dir / ARM_FILE) == plan else "conflict"


def _plan_differences(old: dict | None, new: dict) -> list[str]:
    old = old or {}
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def run_transfer_tuning(networks: list[str], target: dict | str, budget_per_network: int | dict,
                        study_dir: str | os.PathLike, *, fractions: tuple[float, ...] = (0.25, 0.40),
                        model_path: str | os.PathLike | None = None, platform_row: dict | None = None,
                        random_arms: bool = True, seeds: tuple[int, ...] = (0,), num_trials_per_iter: int = 64,
                        search: dict | None = None, search_variants: dict | None = None, runner: dict | None = None,
                        online: dict | None = None, layout: str = "NCHW", arms: list[Arm] | None = None,
                        deadline: float | None = None,
                        progress: bool = True, log=_log) -> pd.DataFrame:
    """Tune every network with every arm of :func:`~tenset_study.tuning.study.settings.make_arms` (or ``arms``);
    skip arms already done. One row per arm and seed: network, arm, seed, status (``tuned``, ``skipped``,
    ``failed``: an arm that raised is logged and left for the next run, the others go on; ``deferred``: not
    started because ``deadline``, a ``time.monotonic()`` value, had passed), trials, tuning_s, scoring_share,
    work_dir.

    ``budget_per_network``: B, one int for every network or a dict network -> B. ``model_path``: the
    pretrained model (:func:`~tenset_study.tuning.study.pretrain.pretrain_for_target`), needed for the
    ``pretrained`` arms; ``platform_row``: the target's platforms row whose hardware features it gets
    (:func:`~tenset_study.tuning.study.pretrain.target_platform_row`). ``num_trials_per_iter``, ``search``
    (``EvolutionarySearch`` keyword arguments), ``runner`` (``MeasureSettings`` fields: number, repeat,
    min_repeat_ms, builder_workers) and ``layout`` are the same for every arm, except that a pretrained arm of a
    search variant (:class:`~tenset_study.tuning.study.settings.Arm`'s ``search``) searches with
    ``search_variants[name]`` instead of ``search`` (and measures the variant's ``num_trials_per_iter`` per round,
    where it sets one); ``online``: keyword arguments of ``ProjectCostModel``
    (online_epochs, min_online, ...).
    """
    target = targets.checked_target(target)
    if arms is None:
        arms = make_arms(tuple(fractions), random_arms, _model_name(model_path), tuple(search_variants or {}))
    unknown = sorted({a.search for a in arms if a.search} - set(search_variants or {}))
    if unknown:
        raise ValueError(f"arms name search variants the settings do not define: {', '.join(unknown)}")
    search = check_search(search)
    search_variants = {name: check_variant(v, f"search variant {name!r}") for name, v in (search_variants or {}).items()}
    if any(a.cost_model == "pretrained" for a in arms) and model_path is None:
        raise ValueError("the pretrained arms need model_path (pretrain_for_target)")
    shared = {"target": target, "target_platform": (platform_row or {}).get("platform"),
              "num_trials_per_iter": int(num_trials_per_iter), "search": dict(search or {}),
              "runner": dict(runner or {}), "layout": layout, "pretrained": _pretrained_reference(model_path),
              "online": dict(online or {}), "search_variants": dict(search_variants or {})}
    rows = []
    for network in networks:
        budget = int(budget_per_network[network] if isinstance(budget_per_network, dict) else budget_per_network)
        for seed in seeds:
            for arm in arms:
                plan = _arm_plan(network, arm, budget, seed, shared)
                rows.append(_run_arm(plan, arm, arm_dir(study_dir, network, arm, seed), model_path, platform_row,
                                     deadline, progress, log))
    return pd.DataFrame(rows)


def _arm_plan(network: str, arm: Arm, budget: int, seed: int, shared: dict) -> dict:
    """The arm's plan as ``arm.json`` holds it (JSON types only): what it is, its trials and the study's
    settings (``shared``); the pretrained model and the online settings only for the pretrained arms."""
    pretrained = arm.cost_model == "pretrained"
    variant = dict(shared["search_variants"][arm.search]) if arm.search else None
    per_round = variant.pop("num_trials_per_iter", None) if variant is not None else None
    plan = {"network": network, "arm": arm.name, "cost_model": arm.cost_model,
            "budget_fraction": arm.fraction, "budget": budget, "trials": arm_trials(budget, arm.fraction),
            "seed": int(seed), "target": shared["target"], "target_platform": shared["target_platform"],
            "num_trials_per_iter": int(per_round or shared["num_trials_per_iter"]),
            "search": variant if variant is not None else shared["search"],
            "runner": shared["runner"], "layout": shared["layout"],
            "pretrained": shared["pretrained"] if pretrained else None,
            "online": shared["online"] if pretrained else None}
    return json.loads(json.dumps(plan))  # as it reads back from arm.json


def _run_arm(plan: dict, arm: Arm, work_dir: Path, model_path, platform_row, deadline: float | None,
             progress: bool, log) -> dict:
    """Tune one arm unless it is done or the deadline passed; its row of :func:`run_transfer_tuning`."""
    network, seed = plan["network"], plan["seed"]
    status = arm_status(work_dir, plan)
    if status == "conflict":
        differ = ", ".join(_plan_differences(read_json(work_dir / ARM_FILE), plan))
        raise ValueError(f"{work_dir} was tuned with other settings ({differ} differ): use another "
                         f"study dir, or delete that arm's folder to tune it again")
    if status == "done":
        result = TuningResult.load(work_dir)
        log(f"{network} {arm.name} seed {seed}: done before ({result.trials_measured} trials), skipped")
        return _run_row(network, arm, seed, "skipped", result)
    if past(deadline):
        log(f"{network} {arm.name} seed {seed}: time limit reached, not started (re-run to continue)")
        return {"network": network, "arm": arm.name, "seed": seed, "status": "deferred", "work_dir": str(work_dir)}
    log(f"{network} {arm.name} seed {seed}: tuning {plan['trials']} trials (B = {plan['budget']}) in "
        f"{display_path(work_dir)}")
    try:
        result = _tune_arm(network, arm, plan, work_dir, model_path, platform_row, progress)
    except Exception as err:  # noqa: BLE001 - one failed arm must not stop a run of hours
        log(f"{network} {arm.name} seed {seed}: FAILED ({type(err).__name__}: {err}); "
            f"the next run tunes it again")
        return {"network": network, "arm": arm.name, "seed": seed, "status": "failed", "work_dir": str(work_dir)}
    log(summary_line(result))
    return _run_row(network, arm, seed, "tuned", result)


def _model_name(model_path) -> str:
    if model_path is None:
        return "ours"
    metadata = read_json(Path(str(model_path) + ".json")) or {}
    return str(metadata.get("model", "ours"))


def _pretrained_reference(model_path) -> dict | None:
    """What an arm records of its pretrained model: the file name and the pretraining settings."""
    if model_path is None:
        return None
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained model {path} not found (pretrain_for_target writes it)")
    metadata = read_json(Path(str(path) + ".json")) or {}
    return {"file": path.name, "settings": metadata.get("pretrain", {}).get("settings"),
            "platforms": metadata.get("platforms")}


def _tune_arm(network: str, arm: Arm, plan: dict, work_dir: Path, model_path, platform_row,
              progress: bool) -> TuningResult:
    from ..tune import tune_network

    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / RESULT_FILE).unlink(missing_ok=True)
    write_json(work_dir / ARM_FILE, plan)
    label = None
    if arm.cost_model == "pretrained":
        from ..cost_model import ProjectCostModel

        cost_model = ProjectCostModel(str(model_path), platform=platform_row, seed=plan["seed"],
                                      **(plan["online"] or {}))
        label = f"{cost_model.model.name}:{Path(model_path).name}"
    else:
        cost_model = arm.cost_model
    runner = plan["runner"]
    return tune_network(
        network, plan["target"], work_dir, plan["trials"], cost_model,
        num_trials_per_iter=plan["num_trials_per_iter"], search=plan["search"] or None, layout=plan["layout"],
        builder_workers=runner.get("builder_workers"), number=runner.get("number"), repeat=runner.get("repeat"),
        min_repeat_ms=runner.get("min_repeat_ms"), seed=plan["seed"], overwrite=True, cost_model_label=label,
        progress=progress,
    )


def _run_row(network: str, arm: Arm, seed: int, status: str, result: TuningResult) -> dict:
    return {"network": network, "arm": arm.name, "seed": seed, "status": status, "trials": result.trials_measured,
            "tuning_s": result.tuning_seconds, "scoring_share": result.scoring_share, "work_dir": result.work_dir}


__all__ = ["arm_status", "run_transfer_tuning"]
