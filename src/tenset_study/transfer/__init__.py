"""Transfer to unseen hardware: how well cost models rank programs on a platform they were (almost) never
trained on, pretrained on other platforms and given a small share of the target's data.

Module: :mod:`.experiment` (directions, the target data and its shares, the arms ``zero-shot``, ``fine-tune``,
``mtl``, ``scratch``, the baselines and ``random``, the run and its summary; the parameter checks). Its
names are imported on first use (it trains models: torch). Tuning with a transferred model is
:mod:`tenset_study.tuning`'s; the tables and figures are :mod:`tenset_study.book.transfer_report`'s.
"""

from __future__ import annotations

import importlib

__all__ = ["ARMS", "ARM_DESCRIPTIONS", "Direction", "arm_table", "check_arms", "check_direction_labels",
           "check_fractions", "models_of", "run_transfer", "select_directions", "summarize_transfer", "transfer_data",
           "transfer_directions", "write_transfer"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module(".experiment", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
