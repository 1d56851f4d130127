"""What a collection did and where its time went: :class:`CollectReport`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CollectReport:
    """What a collection did and where its time went."""

    platform: str = ""
    tasks: int = 0
    measured: int = 0
    failed: int = 0
    skipped_already_measured: int = 0
    #: Programs of the fixed sample measured again (noise across sessions; :mod:`.remeasure`).
    remeasured: int = 0
    sampled: int = 0
    stopped_at_time_limit: bool = False
    batches: int = 0
    elapsed_s: float = 0.0
    extract_s: float = 0.0
    sample_s: float = 0.0
    build_s: float = 0.0
    run_s: float = 0.0
    guided_s: float = 0.0
    write_s: float = 0.0
    #: CPU configurations timed side by side: each one's own timing seconds (``run_s`` is the slowest's).
    run_s_by_configuration: dict[str, float] = field(default_factory=dict)

    @property
    def programs_per_minute(self) -> float:
        return 60.0 * self.measured / self.elapsed_s if self.elapsed_s else 0.0

    def summary(self) -> str:
        other = self.elapsed_s - (self.extract_s + self.sample_s + self.build_s + self.run_s + self.guided_s
                                  + self.write_s)
        parts = [("extract", self.extract_s), ("sample", self.sample_s), ("guided search", self.guided_s),
                 ("build", self.build_s), ("run", self.run_s), ("write", self.write_s), ("other", other)]
        share = ", ".join(f"{name} {sec:.1f} s ({100 * sec / max(self.elapsed_s, 1e-9):.0f}%)" for name, sec in parts)
        stopped = "; stopped at the time limit (re-run to continue)" if self.stopped_at_time_limit else ""
        sampled = f"{self.sampled} new programs sampled; " if self.sampled else ""
        configurations = ", ".join(f"{name} {sec:.1f} s" for name, sec in self.run_s_by_configuration.items())
        configurations = f"\nrun, per configuration: {configurations}" if configurations else ""
        return (
            f"platform {self.platform}: {sampled}{self.measured} programs measured ({self.failed} failed) on "
            f"{self.tasks} tasks in {self.batches} batches, {self.skipped_already_measured} already measured"
            f"{f', {self.remeasured} measured again (noise across sessions)' if self.remeasured else ''}; "
            f"{self.elapsed_s:.1f} s, {self.programs_per_minute:.1f} programs/min{stopped}\ntime: {share}"
            f"{configurations}"
        )
