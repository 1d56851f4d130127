"""Tune, compile and time one network, as ``tenset-study tune`` does: :func:`tune_compile_and_time` writes
``work_dir/tune_result.json`` (the tuning result, the compile summary and the end-to-end timing);
:func:`saved_cost_model` wraps a model saved by ``tenset-study train`` for it."""

from __future__ import annotations

import os
from pathlib import Path

from .compile import compile_with_database
from .result import TuningResult, write_json
from .timing import time_network

COMMAND_RESULT_FILE = "tune_result.json"


def saved_cost_model(path: str | os.PathLike, *, platform: str | None = None,
                     platform_dataset: str | os.PathLike | None = None, online: bool = True, seed: int = 0):
    """``(ProjectCostModel, label)`` of a saved model; ``platform``: the id of the ``platforms`` row of
    ``platform_dataset`` whose hardware features it gets (default: read off this machine); ``online=False``
    keeps the pretrained model (the label then ends in ``:frozen``)."""
    from .cost_model import ProjectCostModel
    from .platforms import platform_row_from_dataset

    path = Path(path)
    row = platform_row_from_dataset(platform_dataset, platform) if platform else None
    cost_model = ProjectCostModel(str(path), platform=row, online=online, seed=seed)
    return cost_model, f"{cost_model.model.name}:{path.name}" + ("" if online else ":frozen")


def tune_compile_and_time(network: str, target: dict, work_dir: str | os.PathLike, trials: int, cost_model="xgb", *,
                          cost_model_label: str | None = None, trials_per_task: int | None = None,
                          num_trials_per_iter: int = 64, builder_workers: int | None = None,
                          number: int | None = None, repeat: int | None = None, min_repeat_ms: int | None = None,
                          search: dict | None = None, layout: str = "NCHW", seed: int = 0, overwrite: bool = False,
                          progress: bool = True, time_end_to_end: bool = True, time_repeat: int = 30,
                          time_min_repeat_ms: int = 100) -> tuple[TuningResult, dict, Path]:
    """:func:`~tenset_study.tuning.tune.tune_network` (same parameters), then, with ``time_end_to_end``,
    :func:`~tenset_study.tuning.compile.compile_with_database` and
    :func:`~tenset_study.tuning.timing.time_network` (``time_repeat`` repeats of at least ``time_min_repeat_ms``).

    Returns the tuning result, the report written to ``work_dir/tune_result.json`` (``tuning``, ``compile``,
    ``end_to_end``; the last two None without timing) and that file's path.
    """
    from .tune import tune_network

    result = tune_network(
        network, target, work_dir, trials, cost_model, trials_per_task=trials_per_task,
        num_trials_per_iter=num_trials_per_iter, builder_workers=builder_workers, number=number,
        repeat=repeat, min_repeat_ms=min_repeat_ms, search=search, layout=layout, seed=seed,
        overwrite=overwrite, cost_model_label=cost_model_label, progress=progress,
    )
    report: dict = {"tuning": result.as_dict(), "compile": None, "end_to_end": None}
    if time_end_to_end:
        compiled = compile_with_database(network, target, work_dir, layout=layout)
        report["compile"] = compiled.summary()
        report["end_to_end"] = time_network(compiled, target, repeat=time_repeat, min_repeat_ms=time_min_repeat_ms)
    path = Path(work_dir) / COMMAND_RESULT_FILE
    write_json(path, report)
    return result, report, path


__all__ = ["COMMAND_RESULT_FILE", "saved_cost_model", "tune_compile_and_time"]
