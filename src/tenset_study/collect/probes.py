"""Hardware measured on the platform itself, for the platform row's features that no file states.

- Memory bandwidth: a STREAM-style triad (``a[i] = b[i] + 3 * c[i]`` over float64 arrays, 24 bytes moved per
  element, write-allocate not counted, as STREAM counts) compiled by TVM for the platform's target and run with
  its threads on its cores, in a fresh process pinned to them (TVM's thread pool reads ``TVM_NUM_THREADS`` when it
  starts). Each array is at least four times the last-level cache, as STREAM asks. Each process reports the
  best of its repeats, as STREAM does; the figure is the median over three processes (:func:`fill_cpu_probes`).
- Clock: ``lscpu``'s current MHz where it says, otherwise ``/proc/cpuinfo``'s ``cpu MHz`` (under a hypervisor
  the nominal rate, not the turbo clock); the source is stated in the row.
- Peak FP32 FLOP/s: clock x cores x vector lanes (vector bits / 32) x 2 (a fused multiply-add is two
  operations; without FMA, one add and one multiply per cycle) x 2 vector units per core (the server cores of
  this study's hosts, Zen 5 and Sapphire/Emerald Rapids, have two). A formula, not a measurement, and the row
  says so.

:func:`triad_process` is the pinned process; it prints one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

#: Bytes a triad moves per element: two float64 reads and one write.
TRIAD_BYTES_PER_ELEMENT = 24
#: Vector FMA units per core assumed by :func:`peak_gflops_fp32`.
VECTOR_UNITS_PER_CORE = 2


def triad_array_mib(l3_mib: float | None) -> float:
    """Size of each triad array: four times the last-level cache (at least 64 MiB)."""
    return max(64.0, 4.0 * (l3_mib or 0.0))


def triad_bandwidth(mcpu: str, cores: list[int], array_mib: float, repeat: int = 5, timeout_s: float = 300) -> dict:
    """Run the triad in a fresh process pinned to ``cores`` with one TVM thread per core; returns
    ``{"gbs": best GB/s, "runs_gbs": [...], "array_mib": ..., "threads": ...}``."""
    env = os.environ | {"TVM_NUM_THREADS": str(len(cores))}
    command = [sys.executable, "-c", "import sys; from tenset_study.collect.probes import triad_process; "
               "triad_process(*sys.argv[1:])", mcpu, ",".join(map(str, cores)), str(array_mib), str(repeat)]
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s)
    if done.returncode:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"triad probe on cores {cores} failed: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_triad(mcpu: str, threads: int, array_mib: float, repeat: int) -> dict:
    import numpy as np
    import tvm
    from tvm import s_tir, te

    n = int(array_mib * 2**20 // 8)
    b = te.placeholder((n,), "float64", name="b")
    c = te.placeholder((n,), "float64", name="c")
    a = te.compute((n,), lambda i: b[i] + tvm.tirx.const(3.0, "float64") * c[i], name="a")
    sch = s_tir.Schedule(tvm.IRModule({"main": te.create_prim_func([b, c, a])}))
    (loop,) = sch.get_loops(sch.get_sblock("a"))
    outer, inner = sch.split(loop, factors=[None, 8192])
    sch.parallel(outer)
    sch.vectorize(sch.split(inner, factors=[None, 8])[1])
    lib = tvm.compile(sch.mod, target=tvm.target.Target({"kind": "llvm", "mcpu": mcpu, "num-cores": threads}))
    dev = tvm.cpu()
    arrays = [tvm.runtime.tensor(np.full(n, value), dev) for value in (1.0, 2.0)] + [tvm.runtime.empty((n,), "float64", dev)]
    seconds = lib.mod.time_evaluator("main", dev, number=1, repeat=repeat)(*arrays).results
    if not np.allclose(arrays[2].numpy()[:: max(1, n // 1024)], 7.0):
        raise RuntimeError("the triad computed wrong values")
    runs = [TRIAD_BYTES_PER_ELEMENT * n / s / 1e9 for s in seconds]
    return {"gbs": round(max(runs), 2), "runs_gbs": [round(r, 2) for r in runs], "array_mib": array_mib,
            "threads": threads}


def clock_mhz(lscpu: dict[str, str]) -> tuple[float | None, str]:
    """The CPU clock in MHz and where it was read."""
    for key in ("CPU MHz", "CPU max MHz"):
        if lscpu.get(key):
            try:
                return float(lscpu[key]), f"lscpu ({key})"
            except ValueError:
                pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]), "/proc/cpuinfo cpu MHz (under a hypervisor the nominal rate)"
    except (OSError, ValueError, IndexError):
        pass
    return None, "not readable: lscpu and /proc/cpuinfo give no clock"


def peak_gflops_fp32(clock: float | None, cores: int, vector_bits: int | None, fma: bool) -> float | None:
    """Clock x cores x FP32 lanes x 2 operations per lane and cycle x :data:`VECTOR_UNITS_PER_CORE`."""
    if not clock or not vector_bits:
        return None
    lanes = vector_bits // 32
    return round(clock / 1e3 * cores * lanes * 2 * VECTOR_UNITS_PER_CORE * (1 if fma else 0.5), 1)


def fill_cpu_probes(row: dict, cores: list[int], processes: int = 3) -> dict:
    """A CPU platform row (:func:`~.platforms.cpu_platform`) with its clock, triad bandwidth on ``cores`` and
    peak FP32 FLOP/s filled in, their sources stated in ``features_source`` and the triad's runs in
    ``readings``. The bandwidth is the median over ``processes`` fresh processes: on a shared virtual machine
    two consecutive processes measured 94.6 and 54.5 GB/s. A probe that fails leaves its feature null and
    says why."""
    readings = json.loads(row["readings"])
    sources = json.loads(row["features_source"])
    row = dict(row)
    if row.get("clock_mhz") is None:
        row["clock_mhz"], sources["clock_mhz"] = clock_mhz(readings.get("lscpu", {}))
    try:
        runs = [triad_bandwidth(row["arch"], cores, triad_array_mib(row.get("l3_mib"))) for _ in range(processes)]
        triad = runs[0] | {"gbs": float(np.median([r["gbs"] for r in runs])), "processes_gbs": [r["gbs"] for r in runs]}
        row["memory_bandwidth_gbs"] = triad["gbs"]
        readings["triad"] = triad
        sources["memory_bandwidth_gbs"] = (
            f"measured: STREAM-style float64 triad, median over {processes} fresh processes of the best of "
            f"{len(triad['runs_gbs'])} runs, {triad['threads']} threads pinned to the platform's cores, "
            f"{triad['array_mib']:.0f} MiB arrays")
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as err:
        row["memory_bandwidth_gbs"] = None
        sources["memory_bandwidth_gbs"] = f"not measured: {err}"
    fma = "fma" in readings.get("llvm_cpu_features", [])
    row["peak_gflops_fp32"] = peak_gflops_fp32(row["clock_mhz"], int(row["cores"]), row.get("vector_bits"), fma)
    sources["peak_gflops_fp32"] = (f"formula: clock x cores x vector_bits/32 x {'2 (FMA)' if fma else '1 (no FMA)'}"
                                   f" x {VECTOR_UNITS_PER_CORE} vector units per core (assumed)")
    row["readings"] = json.dumps(readings, sort_keys=True)
    row["features_source"] = json.dumps(sources, sort_keys=True)
    return row


def probe_platform(ds, platform: str, cores: list[int] | None = None) -> dict:
    """Fill an existing CPU platform row's probed features on this machine, which must be the same processor
    (lscpu model, LLVM CPU name) with enough cores: the row is appended again with them filled (the table keeps
    the last row of a platform). ``cores``: where to run its threads (default: the first ``cores`` of this
    process's). Returns the new row."""
    import datetime as dt

    import tvm

    from .platforms import read_lscpu

    rows = ds.to_pandas("platforms")
    found = rows[rows["platform"] == platform]
    if found.empty:
        raise ValueError(f"--platform: {ds.root} has no platform {platform!r}")
    row = {key: (None if _missing(value) else value) for key, value in found.iloc[-1].to_dict().items()}
    if row["kind"] != "cpu":
        raise ValueError(f"--platform: {platform} is a {row['kind']} platform; only CPU platforms are probed")
    here = (read_lscpu().get("Model name"), str(tvm.target.codegen.llvm_get_system_cpu()))
    if here != (row["model"], row["arch"]):
        raise ValueError(f"--platform: {platform} is {row['model']} ({row['arch']}), this machine {here[0]} ({here[1]})")
    cores = cores or sorted(os.sched_getaffinity(0))[: int(row["cores"])]
    if len(cores) != int(row["cores"]):
        raise ValueError(f"--cores: {platform} runs {row['cores']} threads; got cores {cores}")
    probed = fill_cpu_probes(row, cores)
    readings = json.loads(probed["readings"])
    readings["probed_later"] = {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                "note": "probed on a machine of the same model after the platform was measured"}
    probed["readings"] = json.dumps(readings, sort_keys=True)
    ds.append("platforms", [probed])
    return probed


def _missing(value) -> bool:
    """A null cell read back through pandas (NaN, NaT, None)."""
    import pandas as pd

    return not isinstance(value, (list, tuple, dict)) and bool(pd.isna(value))


def triad_process(mcpu: str, cores: str, array_mib: str, repeat: str) -> None:
    """The pinned process of :func:`triad_bandwidth`: pin to ``cores`` (``0,1,2``), run, print one JSON line."""
    chosen = [int(c) for c in cores.split(",")]
    os.sched_setaffinity(0, chosen)
    print(json.dumps(_run_triad(mcpu, len(chosen), float(array_mib), int(repeat))))
