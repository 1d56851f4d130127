"""CPU configurations: one processor measured as several platforms, each a thread count on its own cores and
an instruction set, all timed at once.

A configuration (``avx512@0-3``: AVX-512 code, four threads pinned to cores 0-3) is a platform in its own
right when it ranks programs differently from the others (chapter 01's correlation matrix says which do).
:class:`ConfigurationsMeasurer` builds each batch once per instruction set, in one pool of build workers on
cores that no configuration times on, and times the built programs on every configuration, each
configuration's runner pinned to its own cores, with the next batch built meanwhile.

The configurations are timed one after another by default. Side by side (``side_by_side=True``,
``collect --side-by-side``) is about twice as fast but they share the processor's last-level cache, memory
bandwidth and, in a virtual machine, possibly physical cores: on the GPU host's 16-vCPU Xeon
(``scripts/device_configurations.sh``, 12 tasks x 16 programs) a 1-thread configuration beside five others
ran its programs at a median 2.0x its latency alone, a 3-thread one 3.7x (up to 18x), and ranked them
like its measurement alone at Spearman 0.88 where two measurements alone agree at 0.93-0.96
(``book.exploration.neighbour_effect`` on ``data/pilots/cpu-configurations``). Time side by
side only where that pilot shows no such effect.

Instruction sets: ``avx512`` is the host's own CPU name for LLVM (which must have AVX-512); ``avx2`` is the
same CPU name with AVX-512 switched off (``mattr=-avx512f``, which also disables every AVX-512 extension),
so the two differ only in the vector instructions the code may use; ``sse4`` switches AVX off as well
(``mattr=-avx``, and with it AVX2, FMA and AVX-512): 128-bit vectors, a stand-in for a narrow-vector CPU on
the same cores, caches and memory, not a processor of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

from .measure import (BatchTiming, MeasureResult, MeasureSettings, close_runner, make_runner, parse_cores,
                      quiet_machine)

T = TypeVar("T")

#: Instruction sets a configuration may name, and the LLVM attributes that give them on the host's CPU.
ISA_ATTRIBUTES: dict[str, list[str]] = {"avx512": [], "avx2": ["-avx512f"], "sse4": ["-avx"]}


@dataclass(frozen=True)
class CpuConfiguration:
    """An instruction set and the cores the timed programs run on (one thread per core)."""

    isa: str
    cores: str

    @classmethod
    def parse(cls, text: str, parameter: str = "--configurations") -> CpuConfiguration:
        """``avx2@0-3`` as a configuration; a ValueError naming ``parameter`` otherwise."""
        isa, at, cores = text.partition("@")
        if not at or isa not in ISA_ATTRIBUTES:
            raise ValueError(f"{parameter}: {text!r} is not ISA@CORES with ISA one of {', '.join(ISA_ATTRIBUTES)} "
                             f"(e.g. avx2@0-3)")
        parse_cores(cores, parameter)
        return cls(isa, cores)

    @property
    def threads(self) -> int:
        return len(parse_cores(self.cores))

    @property
    def label(self) -> str:
        """``4c-avx2``: what the platform id adds to the processor's name."""
        return f"{self.threads}c-{self.isa}"

    def target(self, mcpu: str) -> dict:
        """The TVM target of this configuration on a CPU that LLVM calls ``mcpu``."""
        target = {"kind": "llvm", "mcpu": mcpu, "num-cores": self.threads}
        return target | ({"mattr": ISA_ATTRIBUTES[self.isa]} if ISA_ATTRIBUTES[self.isa] else {})

    def settings(self, base: MeasureSettings) -> MeasureSettings:
        """``base`` with the runner pinned to this configuration's cores."""
        return replace(base, measure_cores=self.cores)


def parse_configurations(texts: Iterable[str], build_cores: str | None,
                         parameter: str = "--configurations") -> list[CpuConfiguration]:
    """Parse and check configurations: each names its cores once, no two share a core, and none times on the
    build cores (which must be given: compilers never run on cores being timed)."""
    configurations = [CpuConfiguration.parse(text, parameter) for text in texts]
    if not configurations:
        raise ValueError(f"{parameter}: name at least one configuration (e.g. avx512@0-3)")
    if not build_cores:
        raise ValueError(f"{parameter} needs --build-cores: cores that no configuration times on")
    taken: dict[int, str] = {core: "--build-cores" for core in parse_cores(build_cores, "--build-cores")}
    for config in configurations:
        for core in parse_cores(config.cores, parameter):
            if core in taken:
                raise ValueError(f"{parameter}: core {core} of {config.isa}@{config.cores} is also in {taken[core]}")
            taken[core] = f"{config.isa}@{config.cores}"
    return configurations


def check_isas(configurations: list[CpuConfiguration], mcpu: str, llvm_features: set[str]) -> None:
    """Refuse an instruction set this CPU lacks (``avx512`` without AVX-512F among LLVM's features)."""
    if "avx512f" not in llvm_features and any(c.isa == "avx512" for c in configurations):
        raise ValueError(f"--configurations: this CPU ({mcpu}) has no AVX-512; use avx2@CORES")


@dataclass
class _Ahead:
    """A batch whose builds were handed to the pools, one submission per instruction set."""

    batch: list
    submitted: dict


class ConfigurationsMeasurer:
    """Builds batches once per instruction set and times them on every configuration at once.

    ``settings``: the runner settings every configuration shares, with ``build_cores`` (the configurations'
    cores replace ``measure_cores``). Close it (or use it as a context manager) to stop the workers.
    """

    def __init__(self, configurations: list[CpuConfiguration], mcpu: str, settings: MeasureSettings,
                 side_by_side: bool = False) -> None:
        from .pipeline import PipelinedMeasurer

        self.configurations = configurations
        self.side_by_side = side_by_side
        isas = sorted({c.isa for c in configurations})
        build = replace(settings, measure_cores=None, builder_workers=settings.build_workers())
        first = {isa: next(c for c in configurations if c.isa == isa) for isa in isas}
        self.builders = {isa: PipelinedMeasurer(first[isa].target(mcpu), build) for isa in isas}
        self.runners = [make_runner(c.settings(settings)) for c in configurations]

    def __enter__(self) -> ConfigurationsMeasurer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for builder in self.builders.values():
            builder.close()
        for runner in self.runners:
            close_runner(runner)

    def measure_batches(self, batches: Iterable[list[T]], program_of: Callable
                        ) -> Iterator[tuple[list[T], list[list[MeasureResult]], BatchTiming]]:
        """Measure every batch on every configuration: ``(batch, results, timing)`` per batch, ``results[i]``
        the batch's results on configuration ``i``. The next batch is built while this one is timed."""
        source = iter(batches)
        ahead = self._submit(next(source, None), program_of)
        while ahead is not None:
            current = ahead
            ahead = self._submit(next(source, None), program_of)
            yield current.batch, *self._measure(current)

    def _submit(self, batch: list | None, program_of: Callable) -> _Ahead | None:
        if batch is None:
            return None
        programs = [program_of(item) for item in batch]
        return _Ahead(batch, {isa: builder.submit(programs) for isa, builder in self.builders.items()})

    def _measure(self, ahead: _Ahead) -> tuple[list[list[MeasureResult]], BatchTiming]:
        built = {isa: self.builders[isa].wait_built(sub) for isa, sub in ahead.submitted.items()}
        timing = BatchTiming(programs=len(ahead.batch))
        timing.build_s = sum(b.timing.build_s for b in built.values())
        timing.build_errors = sum(b.timing.build_errors for b in built.values())
        start = time.perf_counter()
        with quiet_machine():
            outcomes = self._run_all(built)
        results = [built[c.isa].results_of(run) for c, (run, _) in zip(self.configurations, outcomes)]
        timing.extra["run_s_by_configuration"] = {f"{c.isa}@{c.cores}": round(seconds, 3)
                                                  for c, (_, seconds) in zip(self.configurations, outcomes)}
        for one in built.values():
            one.remove_artifacts()
        timing.run_s = time.perf_counter() - start
        timing.run_errors = sum(b.timing.run_errors for b in built.values())
        timing.extra["configurations"] = len(self.configurations)
        return results, timing

    def _run_all(self, built: dict) -> list[tuple[list, float]]:
        """Every configuration's runner outcomes and seconds: one configuration after another, or side by side
        (MetaSchedule's runner returns only when all its inputs are timed, so each then runs in a thread)."""
        jobs = [(runner, built[c.isa].inputs) for c, runner in zip(self.configurations, self.runners)]
        if not self.side_by_side:
            return [_timed_run(runner, inputs) for runner, inputs in jobs]
        with ThreadPoolExecutor(len(jobs)) as threads:
            return [future.result() for future in [threads.submit(_timed_run, *job) for job in jobs]]


def _timed_run(runner, inputs: list) -> tuple[list, float]:
    """A runner's outcomes for ``inputs`` (none when there are none) and the seconds they took."""
    start = time.perf_counter()
    outcomes = [future.result() for future in runner.run(inputs)] if inputs else []
    return outcomes, time.perf_counter() - start


def host_mcpu() -> str:
    """LLVM's name for this machine's CPU."""
    import tvm

    return str(tvm.target.codegen.llvm_get_system_cpu())
