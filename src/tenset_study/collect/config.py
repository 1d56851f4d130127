"""What a collection measures, where, and how: :class:`CollectConfig` (checked on creation).

``tenset-study collect`` builds one from its flags (:mod:`tenset_study.cli.collect`);
:func:`tenset_study.collect.collector.collect` runs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .measure import MeasureSettings


@dataclass
class CollectConfig:
    """What to collect, where, and how to measure it."""

    dataset: Path
    networks: list[str] = field(default_factory=list)
    target: dict | None = None
    platform: str | None = None
    programs_per_task: int = 100
    guided_share: float = 0.0
    seed: int = 0
    batch_size: int = 256
    sample_attempts: int = 8
    replay: bool = False
    sample_only: bool = False
    sample_workers: int = 1
    time_limit_s: float | None = None
    max_tasks: int | None = None
    #: Only the tasks a task list names, by task id or workload id (:mod:`.selection`); ``None``: every task.
    task_list: Path | None = None
    measure: MeasureSettings = field(default_factory=MeasureSettings)
    #: Measure with :class:`~.pipeline.PipelinedMeasurer` (one build pool for the whole run, the next batch
    #: built while this one is measured where timings allow); ``False``: v1's way, one batch at a time.
    pipeline: bool = True
    #: With ``replay``: measure only the first N program ids of each task (sorted), a fixed subset that every
    #: machine picks the same way; ``None``: every program.
    replay_subset: int | None = None
    #: CPU configurations (:class:`~.configurations.CpuConfiguration` or their ``ISA@CORES`` text) measured
    #: as platforms of their own from one build per instruction set; needs ``replay`` and ``measure.build_cores``.
    configurations: list = field(default_factory=list)
    #: Time the configurations side by side rather than one after another (faster; only where a pilot shows
    #: that neighbours do not disturb each other's timings: :mod:`.configurations`).
    side_by_side: bool = False
    #: Share of the platform's programs (whole tasks, a fixed sample) that every later session measures again,
    #: into ``remeasurements`` (:mod:`.remeasure`); 0 turns it off.
    remeasure_share: float = 0.01
    #: Measure a new CPU platform's memory bandwidth (a triad on its cores) and fill its clock and peak FLOP/s
    #: (:mod:`.probes`) when its row is added. Default: on, unless ``TENSET_STUDY_PROBE_HARDWARE=0`` (the test
    #: suite's setting: a probe costs a few seconds).
    probe_hardware: bool = field(default_factory=lambda: os.environ.get("TENSET_STUDY_PROBE_HARDWARE", "1") != "0")
    progress: bool = True

    def __post_init__(self) -> None:
        self.dataset = Path(self.dataset)
        if not self.replay and not self.networks:
            raise ValueError("collect needs --networks (or --replay to measure an existing program set)")
        if self.programs_per_task < 1:
            raise ValueError(f"programs_per_task must be >= 1, got {self.programs_per_task}")
        if not 0.0 <= self.guided_share < 1.0:
            raise ValueError(f"guided_share must be in [0, 1), got {self.guided_share}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.sample_attempts < 1:
            raise ValueError(f"sample_attempts must be >= 1, got {self.sample_attempts}")
        if self.measure.rpc_tracker and not self.platform:
            raise ValueError("measuring through RPC needs --platform (the remote machine cannot be read from here)")
        if self.replay and self.guided_share:
            raise ValueError("--replay measures an existing program set; it cannot add guided programs")
        if self.sample_only and (self.replay or self.guided_share):
            raise ValueError("--sample-only stores random programs; it cannot be combined with --replay or "
                             "--guided-share")
        if self.sample_workers < 1:
            raise ValueError(f"sample_workers must be >= 1, got {self.sample_workers}")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")
        if self.task_list is not None:
            from .selection import read_task_list

            read_task_list(self.task_list)  # a bad list is refused before any work
        if self.replay_subset is not None and (not self.replay or self.replay_subset < 1):
            raise ValueError(f"--replay-subset needs --replay and a count >= 1, got {self.replay_subset}")
        if not 0.0 <= self.remeasure_share <= 1.0:
            raise ValueError(f"--remeasure-share must be in [0, 1], got {self.remeasure_share}")
        if self.configurations:
            self._check_configurations()

    def _check_configurations(self) -> None:
        from .configurations import CpuConfiguration, parse_configurations

        if not self.replay:
            raise ValueError("--configurations measures an existing program set: it needs --replay")
        if (self.target or {}).get("kind", "llvm") != "llvm" or self.measure.rpc_tracker:
            raise ValueError("--configurations are configurations of this machine's CPU (no --gpu, no RPC)")
        texts = [f"{c.isa}@{c.cores}" if isinstance(c, CpuConfiguration) else str(c) for c in self.configurations]
        self.configurations = parse_configurations(texts, self.measure.build_cores)
