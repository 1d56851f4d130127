"""TenSet's six measurement machines (public specs), and platforms derived from a record's target.

TenSet names a platform by the folder of its records (``measure_records/<platform>/``), which is the
``-model=`` of the target it measured with. The rows below carry the machines' *public* specifications
(vendor data sheets and cloud-provider pages), not readings: TenSet did not record lscpu/nvidia-smi.
Where the cloud VM used only part of a chip, ``cores`` is what TenSet's paper reports as used, while
caches, memory bandwidth and clocks are the chip's. Peak fp32 GFLOP/s is derived as
cores x base clock x FLOP/cycle (CPU: 2 FMA units x SIMD lanes x 2) or taken from the GPU data sheet
(boost clock, one GK210 for the K80 instance). The ``features_source`` column says this per column.

For a loose log file the platform is derived from what the record says: the target string
(``-mcpu``, ``-mtriple``, ``-model``, ``-arch``) and Ansor's hardware params
``[num_cores, vector_unit_bytes, cache_line_bytes, max_shared_memory_per_block,
max_local_memory_per_block, max_threads_per_block, max_vthread_extent, warp_size]``. Note that Ansor
fills ``vector_unit_bytes`` with a default (64 on x86) rather than the ISA's width.
"""

from __future__ import annotations

import json
import re

from ...programs.targets import target_kind, target_kind_name
from .workload import target_options

_PUBLIC = "public spec"

TENSET_PLATFORMS: dict[str, dict] = {
    "platinum-8272": {
        "kind": "cpu",
        "target": "llvm -mcpu=skylake-avx512 -model=platinum-8272",
        "model": "Intel Xeon Platinum 8272CL @ 2.60GHz (Cascade Lake, Azure)",
        "arch": "skylake-avx512",
        "cores": 16,
        "vector_bits": 512,
        "cache_line_bytes": 64,
        "l1d_kib_per_core": 32.0,
        "l2_kib_per_core": 1024.0,
        "l3_mib": 35.75,
        "clock_mhz": 2600.0,
        "clock_max_mhz": 3400.0,
        "memory_bandwidth_gbs": 140.8,
        "peak_gflops_fp32": 2662.4,
        "_notes": {
            "cores": "TenSet paper: 16 cores used (chip has 26)",
            "clock_max_mhz": "Azure Fsv2 page: all-core turbo 3.4 GHz",
            "memory_bandwidth_gbs": "6 channels DDR4-2933 per socket",
            "peak_gflops_fp32": "derived: 16 cores x 2.6 GHz x 64 FLOP/cycle (2 AVX-512 FMA units)",
            "l3_mib": "whole chip (1.375 MiB per core x 26)",
        },
    },
    "e5-2673": {
        "kind": "cpu",
        "target": "llvm -mcpu=core-avx2 -model=e5-2673",
        "model": "Intel Xeon E5-2673 v4 @ 2.30GHz (Broadwell, Azure)",
        "arch": "core-avx2",
        "cores": 8,
        "vector_bits": 256,
        "cache_line_bytes": 64,
        "l1d_kib_per_core": 32.0,
        "l2_kib_per_core": 256.0,
        "l3_mib": 50.0,
        "clock_mhz": 2300.0,
        "clock_max_mhz": 3500.0,
        "memory_bandwidth_gbs": 76.8,
        "peak_gflops_fp32": 588.8,
        "_notes": {
            "cores": "TenSet paper: 8 cores used (chip has 20)",
            "memory_bandwidth_gbs": "4 channels DDR4-2400 per socket",
            "peak_gflops_fp32": "derived: 8 cores x 2.3 GHz x 32 FLOP/cycle (2 AVX2 FMA units)",
            "l3_mib": "whole chip (2.5 MiB per core x 20)",
        },
    },
    "epyc-7452": {
        "kind": "cpu",
        "target": "llvm -mcpu=core-avx2 -model=epyc-7452",
        "model": "AMD EPYC 7452 @ 2.35GHz (Zen 2, Azure)",
        "arch": "core-avx2",
        "cores": 4,
        "vector_bits": 256,
        "cache_line_bytes": 64,
        "l1d_kib_per_core": 32.0,
        "l2_kib_per_core": 512.0,
        "l3_mib": 16.0,
        "clock_mhz": 2350.0,
        "clock_max_mhz": 3350.0,
        "memory_bandwidth_gbs": 204.8,
        "peak_gflops_fp32": 300.8,
        "_notes": {
            "cores": "TenSet paper: 4 cores used (chip has 32)",
            "l3_mib": "one CCX (4 cores share 16 MiB; the chip has 128 MiB)",
            "memory_bandwidth_gbs": "8 channels DDR4-3200 per socket",
            "peak_gflops_fp32": "derived: 4 cores x 2.35 GHz x 32 FLOP/cycle (2 x 256-bit FMA)",
        },
    },
    "graviton2": {
        "kind": "cpu",
        "target": "llvm -mtriple=aarch64-linux-gnu -mattr=+neon,+v8.2a,+dotprod -model=graviton2",
        "model": "AWS Graviton2 (Arm Neoverse N1) @ 2.5GHz (c6g)",
        "arch": "neoverse-n1",
        "cores": 16,
        "threads_per_core": 1,
        "vector_bits": 128,
        "cache_line_bytes": 64,
        "l1d_kib_per_core": 64.0,
        "l2_kib_per_core": 1024.0,
        "l3_mib": 32.0,
        "clock_mhz": 2500.0,
        "clock_max_mhz": 2500.0,
        "memory_bandwidth_gbs": 204.8,
        "peak_gflops_fp32": 640.0,
        "_notes": {
            "cores": "TenSet paper: 16 cores (a vCPU is a core, no SMT)",
            "arch": "Neoverse N1; TenSet's target gives -mtriple/-mattr, no -mcpu",
            "memory_bandwidth_gbs": "8 channels DDR4-3200",
            "peak_gflops_fp32": "derived: 16 cores x 2.5 GHz x 16 FLOP/cycle (2 x 128-bit NEON FMA)",
        },
    },
    "k80": {
        "kind": "gpu",
        "target": "cuda -model=k80",
        "model": "NVIDIA Tesla K80 (one GK210, AWS p2.xlarge)",
        "arch": "sm_37",
        "cores": 13,
        "sm_count": 13,
        "l3_mib": 1.5,
        "clock_mhz": 562.0,
        "clock_max_mhz": 875.0,
        "memory_gib": 12.0,
        "memory_bandwidth_gbs": 240.0,
        "peak_gflops_fp32": 4368.0,
        "max_threads_per_block": 1024,
        "max_shared_memory_per_block": 49152,
        "warp_size": 32,
        "compute_capability": "3.7",
        "_notes": {
            "cores": "streaming multiprocessors of one GK210 (a K80 board has two)",
            "peak_gflops_fp32": "one GK210: 2496 CUDA cores x 2 x 875 MHz boost",
            "l3_mib": "L2 cache of one GK210",
        },
    },
    "t4": {
        "kind": "gpu",
        "target": "cuda -model=t4",
        "model": "NVIDIA Tesla T4 (TU104, AWS g4dn)",
        "arch": "sm_75",
        "cores": 40,
        "sm_count": 40,
        "l3_mib": 4.0,
        "clock_mhz": 585.0,
        "clock_max_mhz": 1590.0,
        "memory_gib": 16.0,
        "memory_bandwidth_gbs": 320.0,
        "peak_gflops_fp32": 8100.0,
        "max_threads_per_block": 1024,
        "max_shared_memory_per_block": 49152,
        "warp_size": 32,
        "compute_capability": "7.5",
        "_notes": {
            "peak_gflops_fp32": "NVIDIA data sheet (2560 CUDA cores at 1590 MHz boost)",
            "l3_mib": "L2 cache",
        },
    },
}


def tenset_platform_row(platform: str, readings: dict | None = None) -> dict:
    """The ``platforms`` row of one of TenSet's machines, with its public specs."""
    spec = dict(TENSET_PLATFORMS[platform])
    notes = spec.pop("_notes", {})
    sources = {col: notes.get(col, _PUBLIC) for col in spec if col not in ("kind", "target", "model")}
    sources["*"] = f"{_PUBLIC} of TenSet's {platform} machine; target is TenSet's target string"
    return {
        "platform": platform,
        **spec,
        "features_source": json.dumps(sources, sort_keys=True),
        "readings": json.dumps(readings, sort_keys=True) if readings else None,
        "software": json.dumps({"collector": "TenSet (tlc-pack/tenset, Ansor)"}),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", text).strip("-") or "unknown"


def derived_platform_id(target: str, hardware_params: tuple | list | None) -> str:
    """Platform id of a record: its ``-model``, else e.g. ``llvm-core-avx2-8c`` or ``cuda-sm_75``."""
    options = target_options(target)
    if options.get("model"):
        return _slug(options["model"])
    kind_name = target_kind_name(target) or "unknown"
    if target_kind(target) == "gpu":
        return f"{kind_name}-{_slug(options.get('arch') or 'generic')}"
    arch = options.get("mcpu") or (options.get("mtriple") or "").split("-", 1)[0] or "generic"
    cores = hardware_params[0] if hardware_params and hardware_params[0] > 0 else None
    return f"{kind_name}-{_slug(arch)}" + (f"-{cores}c" if cores else "")


def derived_platform_row(platform: str, target: str, hardware_params: tuple | list | None) -> dict:
    """A ``platforms`` row from a record's target string and hardware params.

    When ``platform`` is one of TenSet's machines its public specs are used and the record's values
    are kept in ``readings``.
    """
    hw = list(hardware_params) if hardware_params else []
    readings = {"target": target, "hardware_params": hw or None}
    if platform in TENSET_PLATFORMS:
        return tenset_platform_row(platform, readings)
    options = target_options(target)
    kind = target_kind(target)
    row: dict = {"platform": platform, "kind": kind, "target": target}
    sources: dict[str, str] = {}

    def put(column: str, value, source: str) -> None:
        if value is not None:
            row[column] = value
            sources[column] = source

    names = ["num_cores", "vector_unit_bytes", "cache_line_bytes", "max_shared_memory_per_block",
             "max_local_memory_per_block", "max_threads_per_block", "max_vthread_extent", "warp_size"]
    params = dict(zip(names, hw))
    positive = {k: v for k, v in params.items() if isinstance(v, int) and v > 0}
    if kind == "cpu":
        put("arch", options.get("mcpu") or options.get("mtriple"), "target string")
        put("cores", positive.get("num_cores"), "record hardware_params num_cores")
        if positive.get("vector_unit_bytes", 2**28) < 2**28:  # vector_bits is a 32-bit column
            put("vector_bits", positive["vector_unit_bytes"] * 8,
                "record hardware_params vector_unit_bytes x 8 (Ansor's setting, not the ISA)")
        put("cache_line_bytes", positive.get("cache_line_bytes"), "record hardware_params cache_line_bytes")
    else:
        put("arch", options.get("arch"), "target string")
        put("max_threads_per_block", positive.get("max_threads_per_block")
            or _int(options.get("max_num_threads")), "record hardware_params / target string")
        put("max_shared_memory_per_block", positive.get("max_shared_memory_per_block"),
            "record hardware_params")
        put("warp_size", positive.get("warp_size") or _int(options.get("thread_warp_size")),
            "record hardware_params / target string")
    sources["*"] = "derived from the record's target string and Ansor hardware params"
    row["features_source"] = json.dumps(sources, sort_keys=True)
    row["readings"] = json.dumps(readings, sort_keys=True)
    row["software"] = json.dumps({"collector": "Ansor/TenSet log"})
    return row


def _int(text: str | None) -> int | None:
    """A target option's integer value, None when absent, not an integer or beyond 32 bits."""
    try:
        value = int(text) if text else None
    except ValueError:
        return None
    return value if value is not None and -(2**31) <= value < 2**31 else None
