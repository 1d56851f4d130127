"""Your machine in the book: measure a fixed, small subset of a dataset's programs on this machine's CPU (or
GPU) as a new platform of a copy of that dataset, which chapter 05 then takes as the unseen platform.

The subset is the first ``programs_per_task`` program ids of every task of the kind, sorted
(``collect --replay --replay-subset``): every machine measures the same programs, so a reader's platform is
comparable program by program with the book's. The copy keeps the source untouched; measuring again into the
same copy resumes where it stopped.

``make your-machine`` (or ``tenset-study your-machine``) runs it; the reproduce guide says how.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .config import CollectConfig
from .measure import MeasureSettings

#: Programs per task measured by default: about 2,700 programs on the default dataset's 172 CPU tasks, under
#: an hour on a 2-core machine.
PROGRAMS_PER_TASK = 16


@dataclass
class YourMachine:
    """The outcome: the dataset copy, the platform id it measured, and the collector's report."""

    dataset: Path
    platform: str
    report: object


def this_machine_platform(dataset: Path, gpu: str | None = None) -> str:
    """The id this machine's platform gets in ``dataset``: read off the machine (as ``collect`` does), with
    ``-yours`` added where the dataset already holds a platform of that id (the book's own measurement of
    the same processor stays apart from the reader's)."""
    from ..data.dataset import Dataset
    from ..programs.targets import cpu_target
    from . import platforms

    if gpu:
        gpus = platforms.read_nvidia_smi()
        if not gpus:
            raise ValueError(f"--gpu {gpu}: nvidia-smi finds no GPU on this machine")
        platform = platforms.gpu_platform_id(gpus[0])
    else:
        target = cpu_target()
        platform = platforms.cpu_platform_id(platforms.read_lscpu(), target["mcpu"], int(target["num-cores"]))
    have = set(Dataset.open(dataset).to_pandas("platforms", columns=["platform"])["platform"])
    return f"{platform}-yours" if platform in have else platform


def copy_dataset(source: Path, dest: Path) -> Path:
    """``source`` copied to ``dest`` (without its caches), unless ``dest`` is already a dataset (a resumed
    run); a ``dest`` that exists but is no dataset is refused."""
    source, dest = Path(source), Path(dest)
    if (dest / "dataset.json").exists():
        return dest
    if dest.exists():
        raise ValueError(f"--out {dest}: exists and is not a dataset (no dataset.json); choose another folder")
    if not (source / "dataset.json").exists():
        raise ValueError(f"--dataset {source}: not a dataset (no dataset.json)")
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".cache"))
    return dest


def measure_your_machine(source: Path, dest: Path, *, programs_per_task: int = PROGRAMS_PER_TASK,
                         gpu: str | None = None, max_tasks: int | None = None,
                         measure: MeasureSettings | None = None, progress: bool = True) -> YourMachine:
    """Copy ``source`` to ``dest`` (once) and measure the first ``programs_per_task`` programs of every task
    of this machine's kind on it, as a new platform. Returns the dataset, the platform id and the report."""
    from ..programs.targets import gpu_target
    from .collector import collect

    if programs_per_task < 1:
        raise ValueError(f"--programs-per-task must be >= 1, got {programs_per_task}")
    dataset = copy_dataset(source, dest)
    platform = _resumed_platform(dataset) or this_machine_platform(dataset, gpu)
    (dataset / ".your-platform").write_text(platform + "\n")  # before measuring: a resumed run keeps the id
    config = CollectConfig(dataset=dataset, replay=True, replay_subset=programs_per_task, platform=platform,
                           target=gpu_target(gpu) if gpu else None, max_tasks=max_tasks,
                           measure=measure or MeasureSettings(), progress=progress)
    report = collect(config)
    return YourMachine(dataset, platform, report)


def _resumed_platform(dataset: Path) -> str | None:
    """The platform an earlier run into this copy measured (its id is kept in ``.your-platform``)."""
    marker = Path(dataset) / ".your-platform"
    return (marker.read_text().strip() or None) if marker.exists() else None
