"""Diagnostics beside a results table: per platform, the models' PCA and top-5 with their intervals, and the
rows that say how good that is (the noise ceiling, the cross-platform oracles, random scores,
:mod:`.references`); and, in one call, everything chapters 04 and 05 show beside a comparison of models:
the table, the paired differences between models (:mod:`.paired`) and the hardware-swap test
(:mod:`.hardware_swap`).

:func:`diagnostics_table` works from tables the chapters already have (``summarize_seeds``' summary and
:func:`~.references.reference_rows`); :func:`run_diagnostics` runs the whole comparison on a dataset
(``scripts/ours_v2_diagnostics.py`` and ``scripts/compare_ours_v2.py`` are its command line).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .references import NOISE_CEILING, ORACLE_PREFIX, RANDOM

#: Row kinds of :func:`diagnostics_table`, in the order the rows of a platform are listed.
ROW_KINDS = ("model", "ceiling", "oracle", "random")


def _kind(name: str) -> str:
    if name == NOISE_CEILING:
        return "ceiling"
    if name.startswith(ORACLE_PREFIX):
        return "oracle"
    return "random" if name == RANDOM else "model"


def diagnostics_table(summary: pd.DataFrame, references: pd.DataFrame, metrics: Sequence[str] = ("pca", "top5"),
                      network: str = "all") -> pd.DataFrame:
    """Per platform, one row per model and per reference, one group of columns per metric.

    Parameters
    ----------
    summary : ``summarize_seeds``' table (``variant``, ``platform``, ``network``, ``metric``, ``value``, ``low``,
        ``high``, ``seed_std``).
    references : :func:`~.references.reference_rows`' table.
    metrics : the metrics shown; ``network`` the network rows taken (``all``: every test task of a platform).

    Returns
    -------
    Index (``platform``, ``row``: the model variant or the reference's name); columns ``kind`` (model, ceiling,
    oracle, random), then per metric ``<m>``, ``<m>_low``, ``<m>_high`` (bootstrap interval over tasks) and
    ``<m>_std`` (over seeds or random draws), and for models ``pca_below_ceiling`` (the noise ceiling's PCA
    minus the model's) where both are present.
    """
    models = summary.rename(columns={"variant": "row"})
    refs = references.rename(columns={"reference": "row"})
    tidy = pd.concat([models[["platform", "row", "network", "metric", "value", "low", "high", "seed_std"]],
                      refs[["platform", "row", "network", "metric", "value", "low", "high", "seed_std"]]],
                     ignore_index=True)
    tidy = tidy[(tidy["network"] == network) & tidy["metric"].isin(metrics)]
    wide = tidy.pivot_table(index=["platform", "row"], columns="metric", values=["value", "low", "high", "seed_std"],
                            aggfunc="first")
    out = pd.DataFrame(index=wide.index)
    out["kind"] = [_kind(row) for _, row in wide.index]
    for metric in metrics:
        for stat, suffix in (("value", ""), ("low", "_low"), ("high", "_high"), ("seed_std", "_std")):
            out[f"{metric}{suffix}"] = wide[(stat, metric)] if (stat, metric) in wide.columns else np.nan
    if "pca" in metrics:
        ceiling = out[out["kind"] == "ceiling"].reset_index().set_index("platform")["pca"]
        platform = out.index.get_level_values("platform")
        out["pca_below_ceiling"] = np.where(out["kind"] == "model", platform.map(ceiling) - out["pca"], np.nan)
    order = out["kind"].map({k: i for i, k in enumerate(ROW_KINDS)})
    out = out.assign(_order=order.to_numpy()).sort_values(["platform", "_order"], kind="stable")
    return out.drop(columns="_order")


@dataclass
class Diagnostics:
    """What :func:`run_diagnostics` computes (every table also written by :func:`write_diagnostics`)."""

    results: pd.DataFrame
    summary: pd.DataFrame
    references: pd.DataFrame
    table: pd.DataFrame
    paired: pd.DataFrame
    swap: pd.DataFrame
    timing: pd.DataFrame
    scores: dict = field(default_factory=dict, repr=False)


def variant_specs(variants: Mapping[str, Mapping], settings: dict) -> list:
    """Model specs from ``{label: {"model": name, **hyperparameters}}`` (``model`` defaults to the label; the
    hyperparameters override the preset's), e.g. ``{"ours-no-hw": {"model": "ours", "use_hardware": False}}``."""
    from .presets import model_params
    from .runner import ModelSpec

    specs = []
    for label, extra in variants.items():
        extra = dict(extra)
        name = extra.pop("model", label)
        specs.append(ModelSpec(name, params={**model_params(name, settings), **extra}, variant=label))
    return specs


def run_diagnostics(dataset, models: Sequence[str] = ("ours", "mlp"), platforms: Sequence[str] | None = None,
                    preset: str | dict = "book", seeds: Sequence[int] | None = None, split: str = "by-network",
                    variants: Mapping[str, Mapping] | None = None, base: str | None = None,
                    swap_model: str | None = "ours", log=print) -> Diagnostics:
    """Train the models under a preset and split, and compute the diagnostics.

    Parameters
    ----------
    dataset : a dataset folder or :class:`~tenset_study.data.dataset.Dataset`.
    models : registry names, with the preset's hyperparameters; ``variants`` adds labelled variants
        (:func:`variant_specs`).
    platforms : the platforms used (default: all).
    preset : a preset name or settings dict; ``seeds`` default to its seeds.
    split : the test split (``by-network`` falls back to ``by-task`` on a dataset without networks).
    base : the variant every other is paired against (default ``mlp`` when present, else the first).
    swap_model : the variant whose hardware-swap test is run (trained again with the first seed; None: none).
    log : where progress lines go.

    Returns
    -------
    :class:`Diagnostics`: results and summary, the references, :func:`diagnostics_table`, the paired
    differences, the swap test, training and scoring throughput, and the test scores.
    """
    from ..models import create
    from . import experiments
    from .hardware_swap import hardware_swap
    from .paired import paired_differences
    from .references import reference_rows

    settings = experiments.resolve_preset(preset) if isinstance(preset, str) else dict(preset)
    seeds = tuple(seeds if seeds is not None else settings["seeds"])
    n_boot = settings["n_boot"]
    specs = experiments.model_specs(list(models), settings) + variant_specs(variants or {}, settings)
    start = time.perf_counter()
    ds, records, inputs, links = experiments.prepare(dataset, sorted({s.name for s in specs}),
                                                     platforms=list(platforms) if platforms else None,
                                                     max_len=settings["max_len"])
    the_split = experiments.default_split(records, links, split)
    log(f"prepared in {time.perf_counter() - start:.0f} s: {len(the_split.train)} train, {len(the_split.test)} "
        "test records")
    scores: dict[str, list[np.ndarray]] = {}
    timings: list = []
    results = experiments.run_experiment(specs, inputs, the_split, links, seeds=seeds, n_boot=n_boot,
                                         timings=timings, scores=scores)
    log(f"{len(specs)} model(s) x {len(seeds)} seed(s) trained and scored: {time.perf_counter() - start:.0f} s")
    summary = experiments.summarize_seeds(results)
    test = records.iloc[the_split.test].reset_index(drop=True)
    references = reference_rows(ds, test, links, latencies=records, n_boot=n_boot)
    base = base or ("mlp" if "mlp" in scores else next(iter(scores)))
    paired = paired_differences(test, scores, base, n_boot=n_boot)
    swap = pd.DataFrame()
    spec = next((s for s in specs if s.variant == swap_model), None)
    if spec is not None:
        model = create(spec.name, seed=seeds[0], **spec.params).fit(inputs, the_split.train)
        swap = hardware_swap(model, inputs, the_split.test, n_boot=n_boot)
    return Diagnostics(results, summary, references, diagnostics_table(summary, references), paired, swap,
                       experiments.timing_table(timings), scores)


def write_diagnostics(diagnostics: Diagnostics, folder) -> list:
    """Write every table of ``diagnostics`` as CSV under ``folder`` (created); the paths written."""
    from pathlib import Path

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ("results", "summary", "references", "table", "paired", "swap", "timing"):
        frame = getattr(diagnostics, name)
        path = out / f"{name}.csv"
        frame.to_csv(path, index=name in ("table", "timing"))
        paths.append(path)
    return paths
