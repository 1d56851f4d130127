"""Presets: the named experiment sizes (``smoke``, ``book``, ``full``) every chapter and command runs under,
and the models' hyperparameters under a preset.

:data:`PRESETS` holds each size's seeds, epochs, model widths, bootstrap resamples, pruning grid, transfer
arms and shares, and transfer-tuning settings; :func:`resolve_preset` and :func:`check_model_names` check the
parameters that name them; :func:`model_params`, :func:`model_specs` and :func:`ablation_specs` turn a
preset into the :class:`~tenset_study.evaluation.runner.ModelSpec` list an experiment runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..params import check_choice, check_choices

if TYPE_CHECKING:  # the runner imports the models (torch); presets stay light
    from .runner import ModelSpec

#: The pruning strategies of :mod:`tenset_study.pruning.strategies`, in the book's order.
PRUNE_STRATEGIES = ("random", "per-task-cap", "task-cluster", "diversity", "latency-spread", "clean")

#: The arms of the transfer experiment (:mod:`tenset_study.transfer.experiment`) that the presets run.
TRANSFER_ARMS = ("zero-shot", "fine-tune", "mtl", "scratch", "xgb", "mlp", "random")

#: Named experiment sizes. ``smoke`` is for tests, ``book`` fits ``make book``'s time budget on a 2-core machine,
#: ``full`` is the experiment as it should be run (a GPU helps). ``max_records_seen`` is the budget of records seen
#: per training platform when ``budget_per_platform`` is set (a joint model on three platforms sees three times one
#: platform's budget, as three per-platform models do); ``valid_tasks`` and ``patience`` (unset: off) turn on early
#: stopping on held-out training tasks for every neural model alike (models/early_stopping.py; on in ``full``, whose
#: 40 epochs are a cap: every neural model stops after 4 epochs without a better loss on a tenth of the training
#: tasks held out); ``curve_tasks`` and ``curve_seeds`` are the learning curve's training tasks per kind (None: all)
#: and subset draws (evaluation/learning_curves.py); ``xgb_max_depth`` (``smoke`` only: a tree of depth 10 on
#: ~500 pooled per-store columns costs ~0.1 s a round even on a few thousand records) caps XGBoost's trees;
#: ``ours_tokens`` joins the schedule tokens to ``ours`` v2's stores (on data/v1: +0.002 to +0.014 PCA for about
#: 20 times the training time on a CPU).
PRESETS: dict[str, dict] = {
    "smoke": {"seeds": (0,), "epochs": 1, "hidden": 32, "heads": 4, "rounds": 10, "xgb_max_depth": 4, "n_boot": 100,
              "max_len": 48, "curve_tasks": (2, None), "curve_seeds": (0,),
              "prune_fractions": (0.5,), "prune_seeds": (0,), "prune_epochs": 1,
              "prune_strategies": ("random", "task-cluster"), "prune_splits": ("by-network",),
              "transfer_fractions": (0.5,), "transfer_seeds": (0,), "transfer_epochs": 1,
              "transfer_finetune_epochs": 1, "transfer_finetune_lr": 5e-4, "transfer_min_per_task": 2,
              "transfer_arms": TRANSFER_ARMS, "transfer_directions": ("cpu->cpu", "cpu->gpu")},
    "book": {"seeds": (0, 1, 2), "epochs": 12, "max_records_seen": 60_000, "budget_per_platform": True, "hidden": 64,
             "heads": 4, "rounds": 150,
             "n_boot": 1000,
             "max_len": 64, "curve_tasks": (8, 24, None), "curve_seeds": (0,),
             "prune_fractions": (0.45, 0.2), "prune_seeds": (0, 1), "prune_epochs": 3,
             "prune_strategies": PRUNE_STRATEGIES, "prune_splits": ("by-network",),
             "transfer_fractions": (0.05, 0.25), "transfer_seeds": (0, 1), "transfer_epochs": 4,
             "transfer_finetune_epochs": 3, "transfer_finetune_lr": 5e-4, "transfer_min_per_task": 2,
             "transfer_arms": TRANSFER_ARMS, "transfer_directions": ("cpu->cpu", "cpu->gpu")},
    "full": {"seeds": (0, 1, 2, 3, 4), "epochs": 40, "valid_tasks": 0.1, "patience": 4, "hidden": 256, "heads": 8,
             "ours_tokens": True, "rounds": 1000,
             "n_boot": 2000,
             "max_len": 80,
             "curve_tasks": (8, 16, 32, 64, 128, 256, None), "curve_seeds": (0, 1, 2),
             "prune_fractions": (0.8, 0.6, 0.45, 0.3, 0.2, 0.1), "prune_seeds": (0, 1, 2), "prune_epochs": 40,
             "prune_strategies": PRUNE_STRATEGIES, "prune_splits": ("by-network", "by-platform"),
             "transfer_fractions": (0.01, 0.05, 0.1), "transfer_seeds": (0, 1, 2), "transfer_epochs": 40,
             "transfer_finetune_epochs": 20, "transfer_finetune_lr": 5e-4, "transfer_min_per_task": 2,
             "transfer_arms": (*TRANSFER_ARMS, "tlp"), "transfer_directions": ("cpu->cpu", "cpu->gpu", "gpu->cpu")},
}

# Transfer tuning (:mod:`tenset_study.tuning.study`): B per network, the arms' fractions of it, the search,
# runner and timing settings every arm shares, and the size of the pretrained model. ``smoke`` is for the
# tests (dcgan-b1-16, 6 tasks, 12 trials); ``book`` is a small stand-in that fits ``make book`` (one small
# network, 8 trials per task, arms with 25% and 40% of B); ``full`` is the experiment measured as search-time
# speedup (tuning.speedup): 64 trials per task, so that the baseline's curve can flatten (the committed studies
# of 32 per task had not), three tuning seeds, and ``ours`` with the whole budget: its curve says when it
# reaches the baseline's final latency, and what it had reached at 25% or 40% of the baseline's time, so
# reduced-budget arms would only repeat a prefix of it. MetaSchedule's default search; each arm timed in 5
# rounds of 20 repeats, every round in a fresh process (tuning_study.time_tuned_networks says why).
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
    "budgets": {"bert_tiny-b1-128": 1152, "mobilenet_v2-b1-224": 2112, "resnet_50-b1-224": 1792},
    "trials_per_task": 64, "fractions": (1.0,), "random_arms": False, "seeds": (0, 1, 2), "num_trials_per_iter": 16,
    "search": None, "runner": {}, "timing": {"repeat": 20, "min_repeat_ms": 100, "rounds": 5, "n_boot": 2000},
    "model": "ours", "model_params": {"epochs": 10, "hidden": 64, "heads": 4}, "max_len": 64,
    "online": {},
}


def resolve_preset(name: str, parameter: str = "preset") -> dict:
    """The settings of a named preset, or a :class:`~tenset_study.params.ParameterError` naming the valid ones."""
    return dict(PRESETS[check_choice(name, PRESETS, parameter, "preset")])


def check_model_names(names: list[str], parameter: str = "models") -> list[str]:
    """``names`` if every one is a known model, else a ParameterError listing the valid names."""
    from ..models import MODELS

    return check_choices(names, sorted(MODELS), parameter, "model")


def model_params(name: str, preset: dict) -> dict:
    """Hyperparameters of a model under a preset."""
    if name == "xgb":  # trees of the model's default depth (MetaSchedule's 10) unless the preset says otherwise
        depth = {"max_depth": preset["xgb_max_depth"]} if "xgb_max_depth" in preset else {}
        return {"rounds": preset["rounds"], **depth}
    params = {"epochs": preset["epochs"], "hidden": preset["hidden"]}
    if preset.get("max_records_seen"):
        params["max_records_seen"] = preset["max_records_seen"]
    for key in ("budget_per_platform", "valid_tasks", "patience"):  # the one training rule of every neural model
        if preset.get(key):
            params[key] = preset[key]
    if name in ("tlp", "ours", "ours-v1", "mtl"):
        params["heads"] = preset["heads"]
    if name == "ours" and preset.get("ours_tokens"):  # schedule tokens beside the stores: ~20x the training time
        params["use_tokens"] = True
    return params


def model_specs(names: list[str], preset: dict) -> list[ModelSpec]:
    """The models to compare, each with its preset hyperparameters and default scope."""
    from .runner import ModelSpec

    return [ModelSpec(name, params=model_params(name, preset)) for name in names]


def ablation_specs(preset: dict) -> list[ModelSpec]:
    """The ablations of ``ours``: without hardware features, without workload features, and without either (the
    same architecture on the program's stores alone); ``ours`` itself is the one of :func:`model_specs`, so its
    results can be reused."""
    from .runner import ModelSpec

    base = model_params("ours", preset)
    return [
        ModelSpec("ours", params={**base, "use_hardware": False}, variant="ours - hardware"),
        ModelSpec("ours", params={**base, "use_workload": False}, variant="ours - workload"),
        ModelSpec("ours", params={**base, "use_hardware": False, "use_workload": False}, variant="ours - context"),
    ]
