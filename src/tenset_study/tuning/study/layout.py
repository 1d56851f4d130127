"""The files of a study dir: per arm ``study_dir/<network>/<arm slug>-s<seed>`` (:func:`arm_dir`) holds the
MetaSchedule database and logs, ``arm.json`` (the arm's plan), ``tuning_result.json`` and ``end_to_end.json``;
the study dir holds the pretrained model (``pretrained/``), the target's platforms row and the result tables.
:func:`tuned_arm_dirs` finds the tuned arms."""

from __future__ import annotations

import os
from pathlib import Path

from ..result import RESULT_FILE, read_json
from .settings import Arm

ARM_FILE = "arm.json"
END_TO_END_FILE = "end_to_end.json"
RESULTS_FILE = "transfer_tuning.csv"
CURVES_FILE = "transfer_tuning_curves.csv"
PRETRAINED_DIR = "pretrained"
#: The target's ``platforms`` row (from the dataset, or read off the machine), written by ``run_study``.
TARGET_PLATFORM_FILE = "target_platform.json"


def arm_dir(study_dir: str | os.PathLike, network: str, arm: Arm, seed: int = 0) -> Path:
    """``study_dir/<network>/<arm slug>-s<seed>``: the arm's MetaSchedule work dir."""
    return Path(study_dir) / network / f"{arm.slug}-s{seed}"


def tuned_arm_dirs(study_dir: str | os.PathLike, networks: list[str] | None = None,
                   arms: list[str] | None = None) -> list[Path]:
    """Work dirs of the study's tuned arms (``arm.json`` and ``tuning_result.json`` present), sorted; only
    those of ``networks`` and of the arms named ``arms`` when given."""
    found = sorted(p.parent for p in Path(study_dir).glob(f"*/*/{ARM_FILE}")
                   if (p.parent / RESULT_FILE).is_file())
    return [p for p in found if (networks is None or p.parent.name in networks)
            and (arms is None or read_json(p / ARM_FILE)["arm"] in arms)]


__all__ = ["ARM_FILE", "CURVES_FILE", "END_TO_END_FILE", "PRETRAINED_DIR", "RESULTS_FILE", "TARGET_PLATFORM_FILE",
           "arm_dir", "tuned_arm_dirs"]
