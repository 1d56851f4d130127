"""TVM targets: this machine's CPU and a CUDA GPU as TVM 0.27's dict form, their kinds and canonical text.

TVM 0.27 accepts only dict targets (``{"kind": "llvm", "mcpu": "znver3", "num-cores": 2}``); the dataset
stores them as sorted-key JSON (:func:`target_json`). TenSet's logs name targets as Ansor strings
(``"llvm -mcpu=skylake-avx512"``): :func:`target_kind` reads both.
"""

from __future__ import annotations

import json
import os

#: Target kinds that run on a GPU.
GPU_KINDS = frozenset({"cuda", "rocm", "vulkan", "opencl", "metal", "webgpu", "nvptx"})


def physical_cores() -> int:
    """Physical cores available to this process (falls back to logical CPUs)."""
    import psutil

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    physical = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    return min(physical, affinity) if affinity else physical


def cpu_target(num_cores: int | None = None, mcpu: str | None = None) -> dict:
    """The TVM target (dict form) for this machine's CPU: LLVM with the host's ``mcpu`` and core count."""
    import tvm

    return {
        "kind": "llvm",
        "mcpu": mcpu or tvm.target.codegen.llvm_get_system_cpu(),
        "num-cores": int(num_cores or physical_cores()),
    }


def gpu_target(arch: str, max_threads_per_block: int = 1024, max_shared_memory_per_block: int = 49152,
               warp_size: int = 32, host_mcpu: str | None = None) -> dict:
    """A CUDA target (dict form) with its limits and an LLVM host."""
    host = {"kind": "llvm"}
    if host_mcpu:
        host["mcpu"] = host_mcpu
    return {
        "kind": "cuda",
        "arch": arch,
        "max_threads_per_block": int(max_threads_per_block),
        "max_shared_memory_per_block": int(max_shared_memory_per_block),
        "thread_warp_size": int(warp_size),
        "host": host,
    }


def make_target(spec: dict | str):
    """A ``tvm.target.Target`` from a dict or its JSON text."""
    import tvm

    return tvm.target.Target(_parse_json(spec) if isinstance(spec, str) else spec)


def _parse_json(text: str) -> object:
    """A target's JSON text parsed; a ValueError that shows the dict form TVM 0.27 wants when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"target must be JSON in TVM 0.27's dict form, e.g. "
                         f'{{"kind": "llvm", "num-cores": 2}}; got {text!r} ({err})') from err


def target_kind(target) -> str:
    """``gpu`` for a GPU target kind (:data:`GPU_KINDS`), ``cpu`` otherwise. ``target``: a dict, a
    ``tvm.target.Target``, or a TenSet/Ansor target string (``"cuda -model=t4"``: its first word)."""
    return "gpu" if target_kind_name(target) in GPU_KINDS else "cpu"


def target_kind_name(target) -> str:
    """The kind's name (``llvm``, ``cuda``...) of a target dict, ``tvm.target.Target`` or TenSet target string."""
    if isinstance(target, dict):
        return str(target.get("kind", ""))
    if isinstance(target, str):
        return target.split(None, 1)[0] if target.strip() else ""
    return str(target.kind.name)


def target_dict(target) -> dict:
    """A target as the plain dict TVM 0.27 accepts: a dict as it is, its JSON text parsed, or a
    ``tvm.target.Target`` exported (without ``keys`` and an empty ``tag``). A ValueError names what is wrong."""
    if isinstance(target, str):
        target = _parse_json(target)
    elif not isinstance(target, dict) and hasattr(target, "export"):
        from .traces import plain_json

        target = plain_json(target.export())
        target.pop("keys", None)
        if not target.get("tag"):
            target.pop("tag", None)
    if not isinstance(target, dict):
        raise TypeError(f"target must be a TVM 0.27 target dict (or its JSON), got {type(target).__name__}")
    if "kind" not in target:
        raise ValueError(f"target must be a TVM 0.27 target dict with a 'kind', got {target!r}")
    return target


def checked_target(target) -> dict:
    """:func:`target_dict`, then built by TVM once, so that a bad option fails here with a one-line ValueError."""
    target = target_dict(target)
    try:
        make_target(target)
    except Exception as err:  # noqa: BLE001 - TVM raises its own error types for a bad target
        raise ValueError(f"bad target {json.dumps(target)}: {str(err).strip().splitlines()[-1]}") from err
    return target


def target_json(target: dict) -> str:
    """Canonical JSON text of a target dict (sorted keys), as stored in the dataset."""
    return json.dumps(target, sort_keys=True)
