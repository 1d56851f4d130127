"""Where a tuning run's time goes: MetaSchedule's profiler scopes (recorded in every
:class:`~tenset_study.tuning.result.TuningResult` as ``profile``) grouped into the phases of a search round.

The scopes are those TVM 0.27's task scheduler, evolutionary search and measure callbacks time; a scope nested in
another (``EvoSearch/Evolve/Misc/CopyMeasuredWorkloads`` in ``EvoSearch/Evolve/Misc``) is not counted twice.
``other`` is the run's wall time less every phase: task initialization, removing build artifacts, Python-side
callbacks such as the tuning timeline, and what the profiler does not see. Scoring is the cost model's
``predict`` as MetaSchedule calls it, feature extraction included.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

#: Phase -> the profiler scopes it sums, in the order of a search round.
PHASES: dict[str, tuple[str, ...]] = {
    "sampling": ("EvoSearch/SampleInitPopulation", "EvoSearch/PickBestFromDatabase"),
    "evolution": ("EvoSearch/Evolve/Mutation", "EvoSearch/Evolve/Misc", "EvoSearch/PickWithEpsGreedy"),
    "scoring": ("EvoSearch/Evolve/PredictNormalizedScore",),
    "building": ("SendToBuilder",),
    "measuring": ("SendToRunner", "JoinRunnerFutures"),
    "database": ("MeasureCallback/AddToDatabase",),
    "model update": ("MeasureCallback/UpdateCostModel",),
}
#: The phases :func:`phase_seconds` returns, ``other`` last.
PHASE_NAMES = (*PHASES, "other")


def phase_seconds(profile: dict, wall_s: float | None = None) -> dict[str, float]:
    """Seconds per phase of a profile (scope -> seconds); ``other`` is ``wall_s`` (default: the profile's
    ``Total``) less the phases, never below zero. An empty profile (a run before profiles were recorded) gives
    NaN for every phase."""
    if not profile:
        return {name: float("nan") for name in PHASE_NAMES}
    out = {phase: float(sum(profile.get(scope, 0.0) for scope in scopes)) for phase, scopes in PHASES.items()}
    total = float(wall_s if wall_s is not None else profile.get("Total", sum(out.values())))
    out["other"] = max(0.0, total - sum(out.values()))
    return out


def phase_table(results: Iterable, labels: Iterable[dict] | None = None) -> pd.DataFrame:
    """One row per tuning result: its ``labels`` (e.g. network, arm, seed; default the result's network and cost
    model), the tuning wall time, and per phase its seconds and share of that time (``<phase>_share``)."""
    rows = []
    results = list(results)
    for result, label in zip(results, labels if labels is not None else [None] * len(results)):
        seconds = phase_seconds(result.profile, result.tuning_seconds)
        row = dict(label) if label is not None else {"network": result.network, "cost_model": result.cost_model}
        row["tuning_s"] = result.tuning_seconds
        for phase, value in seconds.items():
            row[f"{phase}_s"] = value
            row[f"{phase}_share"] = value / result.tuning_seconds if result.tuning_seconds else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def _phase_columns() -> list[str]:
    """The columns :func:`phase_table` writes after the labels."""
    return ["tuning_s", *(f"{phase}_{unit}" for phase in PHASE_NAMES for unit in ("s", "share"))]


def study_phase_table(study_dir) -> pd.DataFrame:
    """:func:`phase_table` of every tuned arm of a transfer-tuning study dir, labelled by network, arm and seed
    (no row, but the same columns, while no arm is tuned)."""
    from .result import TuningResult, read_json
    from .study.layout import ARM_FILE, tuned_arm_dirs

    dirs = list(tuned_arm_dirs(study_dir))
    plans = [read_json(d / ARM_FILE) for d in dirs]
    labels = [{"network": p["network"], "arm": p["arm"], "seed": p["seed"]} for p in plans]
    table = phase_table([TuningResult.load(d) for d in dirs], labels)
    return table if dirs else pd.DataFrame(columns=["network", "arm", "seed", *_phase_columns()])
