"""Platforms: hardware features and provenance read off the machine that measures.

A platform row says what the machine is (model, cores, vector width, caches, clocks, GPU limits), where
each feature came from (``features_source``), the raw readings (lscpu, nvidia-smi), the software that
measured (TVM, TVM-FFI, torch, driver) and the runner settings. Nothing is typed in by hand: features
that no reading gives stay null, except a few public specifications of known GPUs, marked as such.
"""

from __future__ import annotations

import datetime as dt
import json
import platform as pyplatform
import re
import shutil
import subprocess
from importlib import metadata

from ..programs.targets import target_json

# Public specifications (vendor data sheets) for GPUs whose bandwidth no reading gives.
# name substring -> (memory bandwidth GB/s, fp32 lanes per SM)
GPU_PUBLIC_SPECS: dict[str, tuple[float, int]] = {
    "H100 80GB HBM3": (3350.0, 128),
    "H100 PCIe": (2000.0, 128),
    "H200": (4800.0, 128),
    "A100-SXM4-80GB": (2039.0, 64),
    "A100-SXM4-40GB": (1555.0, 64),
    "Tesla T4": (320.0, 64),
    "Tesla K80": (240.0, 192),
}


def read_lscpu() -> dict[str, str]:
    """lscpu's fields as a dict (field name without the colon -> value); empty if lscpu is missing."""
    if shutil.which("lscpu") is None:
        return {}
    out = subprocess.run(["lscpu", "-J"], capture_output=True, text=True, check=False).stdout
    try:
        rows = json.loads(out)["lscpu"]
    except (json.JSONDecodeError, KeyError):
        return {}
    fields: dict[str, str] = {}

    def walk(items):
        for item in items:
            fields[item["field"].rstrip(":")] = item.get("data") or ""
            walk(item.get("children", []))

    walk(rows)
    return fields


NVIDIA_SMI_FIELDS = (
    "name", "memory.total", "clocks.max.sm", "clocks.sm", "clocks.max.memory", "driver_version",
    "compute_cap", "pci.bus_id", "power.limit",
)


def read_nvidia_smi() -> list[dict[str, str]]:
    """One dict per GPU from nvidia-smi's query interface; empty without nvidia-smi."""
    if shutil.which("nvidia-smi") is None:
        return []
    proc = subprocess.run(
        ["nvidia-smi", f"--query-gpu={','.join(NVIDIA_SMI_FIELDS)}", "--format=csv,noheader,nounits"],
        capture_output=True, text=True, check=False,
    )
    gpus = []
    for line in proc.stdout.strip().splitlines():
        values = [v.strip() for v in line.split(",")]
        if len(values) == len(NVIDIA_SMI_FIELDS):
            gpus.append(dict(zip(NVIDIA_SMI_FIELDS, values)))
    return gpus


def software_versions() -> dict[str, str | None]:
    """Versions of the software that builds and measures programs."""
    versions: dict[str, str | None] = {"python": pyplatform.python_version()}
    for dist in ("apache-tvm", "apache-tvm-ffi", "torch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    from .. import __version__

    versions["tenset-study"] = __version__
    try:
        import tvm

        versions["llvm"] = str(tvm.target.codegen.llvm_version_major())
    except Exception:  # noqa: BLE001 - provenance must never stop a measurement
        versions["llvm"] = None
    versions["kernel"] = pyplatform.release()
    return versions


def _size_kib(text: str | None) -> tuple[float | None, int]:
    """Parse lscpu cache sizes like '64 KiB (2 instances)' -> (total KiB, instances)."""
    if not text:
        return None, 1
    match = re.match(r"([\d.]+)\s*([KMG]i?B)", text)
    if not match:
        return None, 1
    scale = {"KiB": 1, "KB": 1, "MiB": 1024, "MB": 1024, "GiB": 1024 * 1024, "GB": 1024 * 1024}[match.group(2)]
    inst = re.search(r"\((\d+) instance", text)
    return float(match.group(1)) * scale, int(inst.group(1)) if inst else 1


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "[N/A]", "N/A") else None
    except ValueError:
        return None


def _slug(text: str) -> str:
    text = re.sub(r"\(R\)|\(TM\)|CPU|Processor|@.*|NVIDIA|\d+-Core", " ", text, flags=re.I)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def cpu_platform_id(lscpu: dict[str, str], mcpu: str, cores: int) -> str:
    """Platform id of a CPU from its readings: model slug, LLVM CPU name and cores, e.g. ``amd-epyc-znver3-2c``."""
    model = _slug(lscpu.get("Model name", "") or "cpu")
    parts = [model] if model else []
    if mcpu and mcpu not in model:
        parts.append(mcpu)
    return "-".join(parts + [f"{cores}c"])


def gpu_platform_id(gpu: dict[str, str]) -> str:
    """Platform id of a GPU from nvidia-smi, e.g. ``h100-80gb-hbm3``."""
    return _slug(gpu.get("name", "gpu"))


def _memory_gib() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 2)
    except Exception:  # noqa: BLE001
        return None


def cpu_platform(target: dict, runner: dict, platform: str | None = None) -> dict:
    """A ``platforms`` row for this machine's CPU measured with ``target`` (dict) and runner settings."""
    import tvm

    lscpu = read_lscpu()
    cores = int(target.get("num-cores") or 1)
    mcpu = target.get("mcpu") or tvm.target.codegen.llvm_get_system_cpu()
    tvm_target = tvm.target.Target(target)
    features = llvm_features(tvm_target)
    vector_bits = _vector_bits(features)
    l1d, l1n = _size_kib(lscpu.get("L1d cache") or lscpu.get("L1d"))
    l2, l2n = _size_kib(lscpu.get("L2 cache") or lscpu.get("L2"))
    l3, _ = _size_kib(lscpu.get("L3 cache") or lscpu.get("L3"))
    sources = {
        "model": "lscpu", "arch": "llvm_get_system_cpu / target mcpu", "cores": "target num-cores",
        "threads_per_core": "lscpu", "vector_bits": "widest SIMD extension among LLVM's CPU features for the target",
        "l1d_kib_per_core": "lscpu", "l2_kib_per_core": "lscpu", "l3_mib": "lscpu",
        "clock_mhz": "lscpu (CPU MHz, absent under many hypervisors)", "clock_max_mhz": "lscpu",
        "memory_gib": "psutil", "cache_line_bytes": "/sys cpu0 cache index0",
        "memory_bandwidth_gbs": "not read (null)", "peak_gflops_fp32": "not read (null)",
    }
    return {
        "platform": platform or cpu_platform_id(lscpu, mcpu, cores),
        "kind": "cpu",
        "target": target_json(target),
        "model": lscpu.get("Model name"),
        "arch": mcpu,
        "cores": cores,
        "threads_per_core": int(_float(lscpu.get("Thread(s) per core")) or 1),
        "vector_bits": vector_bits,
        "cache_line_bytes": _cache_line_bytes(),
        "l1d_kib_per_core": l1d / l1n if l1d else None,
        "l2_kib_per_core": l2 / l2n if l2 else None,
        "l3_mib": l3 / 1024 if l3 else None,
        "clock_mhz": _float(lscpu.get("CPU MHz")),
        "clock_max_mhz": _float(lscpu.get("CPU max MHz")),
        "memory_gib": _memory_gib(),
        "features_source": json.dumps(sources, sort_keys=True),
        "readings": json.dumps({"lscpu": lscpu, "llvm_cpu_features": features}, sort_keys=True),
        "software": json.dumps(software_versions(), sort_keys=True),
        "runner": json.dumps(runner, sort_keys=True),
        "recorded_at": dt.datetime.now(dt.timezone.utc),
    }


def gpu_platform(target: dict, runner: dict, gpu_index: int = 0, platform: str | None = None) -> dict:
    """A ``platforms`` row for a GPU read with nvidia-smi (and the device attributes TVM reports)."""
    gpus = read_nvidia_smi()
    gpu = gpus[gpu_index] if len(gpus) > gpu_index else {}
    sm_count = _cuda_sm_count(gpu_index)
    clock_max = _float(gpu.get("clocks.max.sm"))
    spec = next((v for k, v in GPU_PUBLIC_SPECS.items() if k in gpu.get("name", "")), None)
    peak = sm_count * spec[1] * 2 * clock_max / 1e3 if (spec and sm_count and clock_max) else None
    memory_mib = _float(gpu.get("memory.total"))
    sources = {
        "model": "nvidia-smi", "cores": "TVM device attribute multi_processor_count", "sm_count": "same",
        "clock_max_mhz": "nvidia-smi clocks.max.sm", "memory_gib": "nvidia-smi memory.total",
        "compute_capability": "nvidia-smi compute_cap",
        "max_threads_per_block": "TVM target", "max_shared_memory_per_block": "TVM target", "warp_size": "TVM target",
        "memory_bandwidth_gbs": "public spec (vendor data sheet)" if spec else "not read (null)",
        "peak_gflops_fp32": ("derived: sm_count x fp32 lanes per SM (public spec) x 2 x clock_max" if peak
                             else "not read (null)"),
    }
    return {
        "platform": platform or gpu_platform_id(gpu),
        "kind": "gpu",
        "target": target_json(target),
        "model": gpu.get("name"),
        "arch": target.get("arch"),
        "cores": sm_count,
        "sm_count": sm_count,
        "clock_max_mhz": clock_max,
        "memory_gib": memory_mib / 1024 if memory_mib else None,
        "memory_bandwidth_gbs": spec[0] if spec else None,
        "peak_gflops_fp32": peak,
        "max_threads_per_block": target.get("max_threads_per_block"),
        "max_shared_memory_per_block": target.get("max_shared_memory_per_block"),
        "warp_size": target.get("thread_warp_size"),
        "compute_capability": gpu.get("compute_cap"),
        "features_source": json.dumps(sources, sort_keys=True),
        "readings": json.dumps({"nvidia-smi": gpus, "lscpu_host": read_lscpu()}, sort_keys=True),
        "software": json.dumps({**software_versions(), "driver": gpu.get("driver_version")}, sort_keys=True),
        "runner": json.dumps(runner, sort_keys=True),
        "recorded_at": dt.datetime.now(dt.timezone.utc),
    }


def remote_platform(target: dict, runner: dict, platform: str, kind: str) -> dict:
    """A platform measured over RPC: only what the target says is known; readings stay empty."""
    return {
        "platform": platform,
        "kind": kind,
        "target": target_json(target),
        "arch": target.get("mcpu") or target.get("arch"),
        "cores": target.get("num-cores"),
        "features_source": json.dumps({"all": "TVM target only (remote machine, not read)"}),
        "readings": json.dumps({}),
        "software": json.dumps(software_versions(), sort_keys=True),
        "runner": json.dumps(runner, sort_keys=True),
        "recorded_at": dt.datetime.now(dt.timezone.utc),
    }


def _cache_line_bytes() -> int | None:
    from pathlib import Path

    path = Path("/sys/devices/system/cpu/cpu0/cache/index0/coherency_line_size")
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _vector_bits(llvm_features: list[str]) -> int | None:
    """Widest SIMD width the code generator may use, from LLVM's feature names."""
    features = set(llvm_features)
    for feature, bits in (("avx512f", 512), ("sve", 128), ("avx", 256), ("neon", 128), ("sse2", 128)):
        if feature in features:
            return bits
    return None


def llvm_features(target) -> list[str]:
    """LLVM's CPU feature names for a target (``avx512f``, ``fma``, ...); empty when TVM cannot say."""
    try:
        import tvm

        feats = tvm.target.codegen.llvm_get_cpu_features(target)
        return sorted(str(f) for f in feats)
    except Exception:  # noqa: BLE001
        return []


def _cuda_sm_count(index: int) -> int | None:
    try:
        import tvm

        dev = tvm.cuda(index)
        return int(dev.multi_processor_count) if dev.exist else None
    except Exception:  # noqa: BLE001
        return None
