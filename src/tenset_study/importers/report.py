"""What an import did: counts, malformed lines, time. Shared by the TenSet and MetaSchedule importers."""

from __future__ import annotations

from dataclasses import dataclass, field

# Malformed lines kept in memory with their reason; all of them are counted.
MAX_MALFORMED_KEPT = 1000


@dataclass
class ImportReport:
    """Counts of one import run.

    ``records`` are measurement rows written, ``failures`` the part of them that are failed
    measurements (kept with their error), ``duplicates`` the records whose (program, platform) key
    occurred earlier in the same input, ``already_present`` those whose key was in the dataset before
    the run (a re-import writes nothing), ``not_measured`` the lines of programs without a measurement
    (all costs zero: the program is kept, no measurement row is written). ``malformed`` holds
    ``(file, line, reason)`` of the first :data:`MAX_MALFORMED_KEPT` bad lines, ``malformed_count`` counts
    them all. ``workload_lines`` are the lines of a MetaSchedule workload file (not records).

    Every line read is counted once: ``lines == accounted_lines`` (see :attr:`accounted_lines`).
    """

    source: str = ""
    dest: str = ""
    files: int = 0
    lines: int = 0
    comment_lines: int = 0
    records: int = 0
    failures: int = 0
    duplicates: int = 0
    already_present: int = 0
    not_measured: int = 0
    workload_lines: int = 0
    programs: int = 0
    tasks: int = 0
    platforms: list[str] = field(default_factory=list)
    networks: int = 0
    network_tasks: int = 0
    malformed: list[tuple[str, int, str]] = field(default_factory=list)
    malformed_count: int = 0
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    cpu_s: float = 0.0  # CPU seconds of the import, worker processes included
    jobs: int = 1

    def add_malformed(self, file: str, line: int, reason: str) -> None:
        """Count a bad line; keep its reason while fewer than the cap are kept."""
        self.malformed_count += 1
        if len(self.malformed) < MAX_MALFORMED_KEPT:
            self.malformed.append((file, line, reason))

    def merge(self, other: "ImportReport") -> None:
        """Add another report's counts (a worker's) to this one."""
        for name in ("files", "lines", "comment_lines", "records", "failures", "duplicates",
                     "already_present", "not_measured", "workload_lines", "programs", "cpu_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for item in other.malformed:
            if len(self.malformed) < MAX_MALFORMED_KEPT:
                self.malformed.append(item)
        self.malformed_count += other.malformed_count
        self.notes.extend(n for n in other.notes if n not in self.notes)

    @property
    def accounted_lines(self) -> int:
        """The lines the counts account for: written, duplicate, already present, not measured, comment or
        blank, malformed, workload lines. Equals :attr:`lines` after an import."""
        return (self.records + self.duplicates + self.already_present + self.not_measured + self.comment_lines
                + self.malformed_count + self.workload_lines)

    @property
    def records_per_cpu_s(self) -> float:
        """Record lines read per CPU second (all processes): the throughput of one core."""
        return (self.lines - self.comment_lines) / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def records_per_s(self) -> float:
        """Record lines read per second of wall time."""
        return (self.lines - self.comment_lines) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self, max_malformed: int = 20) -> str:
        """A few human-readable lines: what was imported, what was skipped and why."""
        out = [
            f"imported {self.records:,} measurement(s) ({self.failures:,} failed, kept with their error) and "
            f"{self.programs:,} new program(s) from {self.files:,} file(s), {self.lines:,} line(s), "
            f"into {self.dest} in {self.elapsed_s:.1f} s "
            f"({self.records_per_s:,.0f} records/s with {self.jobs} job(s), "
            f"{self.records_per_cpu_s:,.0f} per CPU second)",
            f"tasks: {self.tasks:,}; platforms: {', '.join(self.platforms) or '-'}; "
            f"networks: {self.networks:,} ({self.network_tasks:,} network-task links)",
            f"skipped: {self.duplicates:,} duplicate(s) inside the input, {self.already_present:,} already in "
            f"the dataset, {self.not_measured:,} program(s) not measured (all costs zero: program kept, no "
            f"measurement), {self.comment_lines:,} comment/blank line(s), {self.malformed_count:,} malformed line(s)",
        ]
        for file, line, reason in self.malformed[:max_malformed]:
            out.append(f"  malformed: {file}:{line}: {reason}")
        if self.malformed_count > max_malformed:
            out.append(f"  ... and {self.malformed_count - max_malformed:,} more malformed line(s)")
        out.extend(f"note: {note}" for note in self.notes)
        return "\n".join(out)
