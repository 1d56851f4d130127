"""Throughput of the TenSet importer on a large synthetic-but-realistic TenSet folder.

The input is built from the real TenSet-format lines in ``../shared/tenset-format/`` (26 CPU and 24
GPU tasks of ResNet-50/18): each real task is cloned into several tasks (new workload-key hashes), each
task gets many programs (the real step list with re-drawn split factors and unroll pragmas), and every
program is "measured" on every platform of its kind with re-drawn costs, some of them failures, in
TenSet's layout ``measure_records/<platform>/<task>.json`` (the same programs on every platform, as
TenSet measured them). Lines are written as Ansor writes them (v0.6, ``", "`` separators).

Usage::

    python benchmarks/bench_import.py                     # 500k records, jobs 1 and 2
    python benchmarks/bench_import.py --records 1000000 --jobs 1 2
    python benchmarks/bench_import.py --profile           # cProfile of a jobs=1 run (top 25)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tenset_study.data.dataset import Dataset
from tenset_study.importers.tenset.importer import import_tenset

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "tenset-format"
CPU_PLATFORMS = ["e5-2673", "platinum-8272", "epyc-7452", "graviton2"]
GPU_PLATFORMS = ["t4", "k80"]
ERROR_CODES = [1, 2, 4, 6, 7]


def _real_records() -> list[dict]:
    records = []
    for name in ("resnet-50-NHWC-B1-llvm.json", "resnet-18-NHWC-B1-cuda.json"):
        for line in open(SHARED / name):
            if line.startswith("{"):
                records.append(json.loads(line))
    if not records:
        sys.exit(f"no real TenSet-format logs in {SHARED}")
    return records


def _vary_steps(steps: list, rng: random.Random) -> list:
    out = []
    for step in steps:
        step = list(step)
        if step[0] == "SP" and isinstance(step[4], list):
            step[4] = [rng.choice((1, 2, 3, 4, 7, 8, 14, 16, 28, 32, 64)) for _ in step[4]]
        elif step[0] == "PR" and isinstance(step[3], str) and step[3].startswith("auto_unroll_max_step$"):
            step[3] = f"auto_unroll_max_step${rng.choice((0, 16, 64, 512))}"
        out.append(step)
    return out


def _programs(steps: list, count: int, rng: random.Random) -> list[list]:
    """Up to ``count`` distinct variants of a step list (fewer when the steps leave little to vary)."""
    seen, out = set(), []
    for _ in range(count * 3):
        variant = _vary_steps(steps, rng)
        key = json.dumps(variant)
        if key not in seen:
            seen.add(key)
            out.append(variant)
            if len(out) == count:
                break
    return out


def _g6(x: float) -> float:
    return float(f"{x:.6g}")  # Ansor writes 6 significant digits


def generate(folder: Path, records: int, programs_per_task: int = 4000, seed: int = 0) -> int:
    """Write about ``records`` lines (``programs_per_task`` programs per task, like TenSet's ~4000)."""
    rng = random.Random(seed)
    real = _real_records()
    real = [r for r in real if sum(s[0] == "SP" for s in r["i"][1][1]) >= 2]  # tasks with room to vary
    written, k = 0, 0
    while written < records:
        template = real[k % len(real)]
        task = template["i"][0]
        key = json.loads(task[0])
        key[0] = f"{k:04x}" + key[0][4:]
        k += 1
        workload_key = json.dumps(key)
        platforms = CPU_PLATFORMS if task[1].startswith("llvm") else GPU_PLATFORMS
        programs = _programs(template["i"][1][1], programs_per_task, rng)
        base = sum(template["r"][0]) / len(template["r"][0])
        file_name = f"({workload_key.replace(' ', '').replace(chr(34), '')},{task[1].split()[0]}).json"
        for p_i, platform in enumerate(platforms):
            target = f"{task[1]} -model={platform}"
            out_dir = folder / "measure_records" / platform
            out_dir.mkdir(parents=True, exist_ok=True)
            with open(out_dir / file_name, "w") as f:
                for steps in programs:
                    error = rng.choice(ERROR_CODES) if rng.random() < 0.05 else 0
                    n_rep = len(template["r"][0])
                    costs = [1e10] if error else [_g6(base * rng.lognormvariate(0, 0.5) * (1 + p_i))
                                                  for _ in range(n_rep)]
                    rec = {"i": [[workload_key, target, task[2], "", task[4] if len(task) > 4 else 0, []],
                                 [[], steps]],
                           "r": [costs, error, _g6(rng.uniform(0.1, 2.0)), 1606960872 + written], "v": "v0.6"}
                    f.write(json.dumps(rec) + "\n")
                    written += 1
    return written


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (workers of a fork server are not its
    children; the report's ``cpu_s`` counts them)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(src: Path, jobs: int, profile: bool = False) -> dict:
    dest = Path(tempfile.mkdtemp(prefix="bench-import-dest-"))
    try:
        profiler = cProfile.Profile() if profile else None
        cpu0 = _cpu_seconds()
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        report = import_tenset(src, dest, jobs=jobs, progress=False)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - start
        cpu = max(_cpu_seconds() - cpu0, report.cpu_s)
        ds = Dataset.open(dest)
        rows = ds.summary()
        assert not ds.validate(), ds.validate()
        assert report.lines == report.accounted_lines, report.summary()
        result = {
            "jobs": jobs, "records": report.records, "failures": report.failures, "programs": rows["programs"],
            "not_measured": report.not_measured, "malformed": report.malformed_count,
            "measurement_parts": len(ds.parts("measurements")), "seconds": round(elapsed, 2),
            "records_per_s": round(report.records / elapsed),
            "records_per_s_per_core": round(report.records / elapsed / jobs),
            "cpu_seconds": round(cpu, 2), "records_per_cpu_s": round(report.records / cpu),
            "bytes_in": sum(p.stat().st_size for p in src.rglob("*.json")), "bytes_out": ds.size_bytes(),
        }
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        return result
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--profile", action="store_true", help="cProfile a jobs=1 run instead")
    parser.add_argument("--keep", type=Path, default=None, help="generate into this folder and keep it")
    args = parser.parse_args()
    src = args.keep or Path(tempfile.mkdtemp(prefix="bench-import-src-"))
    try:
        if not (src / "measure_records").exists():
            start = time.perf_counter()
            n = generate(src, args.records)
            print(f"generated {n:,} records in {time.perf_counter() - start:.1f} s under {src}", flush=True)
        print(f"cpu cores available: {len(os.sched_getaffinity(0))}", flush=True)
        for jobs in [1] if args.profile else args.jobs:
            print(json.dumps(run(src, jobs, profile=args.profile)), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(src, ignore_errors=True)


if __name__ == "__main__":
    main()
