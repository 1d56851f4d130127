"""The settings of a transfer-tuning study: the preset's (:func:`transfer_settings`), the arms
(:class:`Arm`, :func:`make_arms`), the budget B per network (:func:`network_budget`) and an arm's share of it
(:func:`arm_trials`), the networks (:func:`check_networks`), the study's log line (:func:`log`) and its deadline
(:func:`past`)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

BASELINE = "baseline-xgb"


def log(message: str) -> None:
    """Print a study's progress line, ``[transfer-tune HH:MM:SS] message``."""
    print(f"[transfer-tune {time.strftime('%H:%M:%S')}] {message}", flush=True)


def past(deadline: float | None) -> bool:
    """Whether a ``time.monotonic()`` deadline (None: none) has passed."""
    return deadline is not None and time.monotonic() >= deadline


@dataclass(frozen=True)
class Arm:
    """One way of tuning: a cost model (``xgb``, ``random`` or ``pretrained``), a share of the budget B and, for a
    pretrained arm, the search variant it uses (a name of the settings' ``search_variants``; None: the study's
    ``search``, the one every other arm uses)."""

    name: str
    cost_model: str
    fraction: float
    search: str | None = None

    @property
    def slug(self) -> str:
        """The arm's name as a folder name (``ours@25%`` -> ``ours-25``)."""
        return self.name.replace("@", "-").replace("%", "")


#: The settings of MetaSchedule's ``EvolutionarySearch`` (TVM 0.27) a study's ``search`` and its search variants
#: may set.
SEARCH_KEYS = ("population_size", "init_measured_ratio", "init_min_unmeasured", "max_fail_count",
               "genetic_num_iters", "genetic_mutate_prob", "genetic_max_fail_count", "eps_greedy")


def check_variant(variant: dict | None, what: str) -> dict:
    """A search variant as a dict: :func:`check_search`'s settings and, optionally, the trials measured per search
    round (``num_trials_per_iter``, a positive integer); else a ValueError naming ``what`` and the key."""
    variant = dict(variant or {})
    rounds = variant.get("num_trials_per_iter")
    if rounds is not None and (isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1):
        raise ValueError(f"{what}: num_trials_per_iter must be a positive integer, got {rounds!r}")
    check_search({k: v for k, v in variant.items() if k != "num_trials_per_iter"}, what)
    return variant


def check_search(search: dict | None, what: str = "search") -> dict:
    """``search`` as a dict if it names only :data:`SEARCH_KEYS`, else a ValueError naming ``what`` and the key."""
    search = dict(search or {})
    unknown = sorted(set(search) - set(SEARCH_KEYS))
    if unknown:
        raise ValueError(f"{what}: {', '.join(unknown)} is not a setting of EvolutionarySearch "
                         f"({', '.join(SEARCH_KEYS)})")
    return search


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"


def make_arms(fractions: tuple[float, ...] = (0.25, 0.40), random_arms: bool = True, model: str = "ours",
              search_variants: tuple[str, ...] = ()) -> list[Arm]:
    """``baseline-xgb`` at the full budget, ``<model>@<f>`` for each fraction, ``<model>-<variant>@<f>`` for each
    search variant and fraction (the pretrained model searching with that variant's settings) and, with
    ``random_arms``, ``random@<f>`` for each fraction."""
    for fraction in fractions:
        if not 0 < float(fraction) <= 1:
            raise ValueError(f"fractions must be in (0, 1], got {fraction}")
    for variant in search_variants:
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", variant):
            raise ValueError(f"search variant names are lower-case letters, digits and '-', got {variant!r}")
    arms = [Arm(BASELINE, "xgb", 1.0)]
    arms += [Arm(f"{model}@{_percent(f)}", "pretrained", float(f)) for f in fractions]
    arms += [Arm(f"{model}-{v}@{_percent(f)}", "pretrained", float(f), v) for v in search_variants for f in fractions]
    if random_arms:
        arms += [Arm(f"random@{_percent(f)}", "random", float(f)) for f in fractions]
    return arms


def transfer_settings(preset: str | dict) -> dict:
    """The transfer-tuning settings of a preset: ``experiments.PRESETS[name]["tuning"]`` (or a dict of
    them, or a preset dict holding them). Keys: networks, budgets, trials_per_task, fractions, random_arms,
    seeds, num_trials_per_iter, search, search_variants (name -> ``EvolutionarySearch`` settings of extra
    pretrained arms), runner, timing, model, model_params, max_len, max_pretrain_records, online."""
    if isinstance(preset, dict):
        return dict(preset.get("tuning", preset))
    from ...evaluation.experiments import resolve_preset

    settings = resolve_preset(preset).get("tuning")
    if settings is None:
        from ...params import ParameterError

        raise ParameterError(f"parameter 'preset' = {preset!r}: the preset has no transfer-tuning settings")
    return dict(settings)


def network_budget(network: str, settings: dict, n_tasks: int | None = None) -> int:
    """B of a network: the preset's ``budgets[network]``, else ``trials_per_task`` x its tasks (``n_tasks``;
    counted by extracting the tasks when not given, which needs the target: see
    :func:`~tenset_study.tuning.extraction.count_tasks`)."""
    budgets = settings.get("budgets") or {}
    if network in budgets:
        return int(budgets[network])
    per_task = settings.get("trials_per_task")
    if not per_task:
        raise ValueError(f"no budget for {network}: the settings name none (budgets) and give no trials_per_task")
    if n_tasks is None:
        raise ValueError(f"budget of {network}: pass n_tasks (count_tasks) to use trials_per_task")
    return int(per_task) * int(n_tasks)


def network_budgets(networks: list[str], budgets, settings: dict, target: dict, log=log) -> dict:
    """B per network: ``budgets`` (one int for all, or a dict naming some), else :func:`network_budget`
    (counting the network's tasks for ``target`` when the settings give ``trials_per_task``)."""
    from ..extraction import count_tasks

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


def check_networks(names: list[str], parameter: str = "networks") -> list[str]:
    """``names`` if every one is a zoo network variant (``<family>-b<batch>-<size>``), else a ParameterError
    naming the parameter and the bad name."""
    from ... import zoo
    from ...params import ParameterError

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


__all__ = ["Arm", "BASELINE", "SEARCH_KEYS", "arm_trials", "check_networks", "check_search",
           "check_variant", "log", "make_arms", "network_budget",
           "network_budgets", "past", "transfer_settings"]
