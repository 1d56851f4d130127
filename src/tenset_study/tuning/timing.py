"""Timing a compiled network end to end: in this process (:func:`time_network`) or in a fresh one
(:func:`export_compiled`, then :func:`time_in_fresh_process`, which runs :mod:`tenset_study.tuning.timing_worker`).

:func:`time_network` runs ``main`` in the Relax VM on random inputs (:func:`random_inputs`) with
``time_evaluator``: one run to warm up, then ``repeat`` repeats, every one returned.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..programs import targets
from .compile import CompiledNetwork


def _device(target: dict, device):
    import tvm

    if device is None:
        device = "cuda" if targets.target_kind(target) == "gpu" else "cpu"
    if isinstance(device, str):
        return tvm.device(device, 0)
    return device


def random_inputs(shapes: list[tuple[tuple[int, ...], str]], seed: int = 0, high: int = 1000) -> list[np.ndarray]:
    """Random arrays: standard normal floats, integers in ``[0, high)`` (token ids of any vocabulary here)."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, dtype in shapes:
        if np.dtype(dtype).kind in "iu":
            out.append(rng.integers(0, high, size=shape).astype(dtype))
        else:
            out.append(rng.standard_normal(shape).astype(dtype))
    return out


def _executable_and_shapes(compiled, target: dict):
    """The executable to run and its input shapes (None when only an executable was given)."""
    import tvm

    if isinstance(compiled, CompiledNetwork):
        return compiled.executable, compiled.inputs
    if isinstance(compiled, tvm.IRModule):
        func = compiled["main"]
        shapes = [(tuple(int(d) for d in p.struct_info.shape), str(p.struct_info.dtype)) for p in func.params]
        return tvm.compile(compiled, target=targets.make_target(target)), shapes
    return compiled, None


def time_network(compiled, target: dict | str, device=None, *, inputs: list[np.ndarray] | None = None,
                 repeat: int = 30, number: int = 1, min_repeat_ms: int = 100, seed: int = 0) -> dict:
    """Run a compiled network in the Relax VM and time ``main`` with ``time_evaluator``.

    ``compiled``: a :class:`~tenset_study.tuning.compile.CompiledNetwork`, a ``tvm.runtime.Executable`` (then
    ``inputs`` are needed) or a Relax ``IRModule`` (built with ``tvm.compile`` for ``target``; inputs drawn from
    its signature). ``device``: ``"cpu"``, ``"cuda"`` or a ``tvm.runtime.Device`` (default: from the target's
    kind). The evaluator runs ``main`` once to warm up, then ``repeat`` times (each at least ``min_repeat_ms``
    long, ``number`` runs or more); every repeat is returned.
    """
    import tvm
    from tvm import relax

    target = targets.checked_target(target)
    if repeat < 1 or number < 1 or min_repeat_ms < 0:
        raise ValueError(f"repeat and number must be >= 1 and min_repeat_ms >= 0, "
                         f"got {repeat}, {number}, {min_repeat_ms}")
    dev = _device(target, device)
    executable, shapes = _executable_and_shapes(compiled, target)
    if inputs is None:
        if shapes is None:
            raise ValueError("time_network: pass inputs= for an executable (or give a CompiledNetwork)")
        inputs = random_inputs(shapes, seed)
    vm = relax.VirtualMachine(executable, dev)
    args = [tvm.runtime.tensor(np.asarray(a), dev) for a in inputs]
    vm["main"](*args)  # a first run (any lazy initialization) outside the evaluator too
    dev.sync()
    start = time.perf_counter()
    result = vm.time_evaluator("main", dev, number=number, repeat=repeat, min_repeat_ms=min_repeat_ms)(*args)
    wall = time.perf_counter() - start
    repeats = [float(r) for r in result.results]
    return {
        "mean_s": float(np.mean(repeats)), "std_s": float(np.std(repeats)), "median_s": float(np.median(repeats)),
        "min_s": float(np.min(repeats)), "max_s": float(np.max(repeats)), "repeats_s": repeats,
        "settings": {"repeat": int(repeat), "number": int(number), "min_repeat_ms": int(min_repeat_ms)},
        "device": str(dev), "inputs": [[list(np.shape(a)), str(np.asarray(a).dtype)] for a in inputs],
        "timing_wall_s": wall,
    }


def export_compiled(compiled: CompiledNetwork, path: str | os.PathLike) -> Path:
    """Write a compiled network's executable as a shared library (``load_module`` reads it back)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiled.executable.export_library(str(path))
    return path


def time_in_fresh_process(library: str | os.PathLike, target: dict | str,
                          inputs: list[tuple[tuple[int, ...], str]], *, repeat: int = 30, number: int = 1,
                          min_repeat_ms: int = 100, seed: int = 0, timeout_s: float = 1800.0) -> dict:
    """Time an exported network (:func:`export_compiled`) in a new Python process
    (:mod:`tenset_study.tuning.timing_worker`): the same measurement as :func:`time_network`, from a fresh runtime.
    ``inputs``: the input shapes and dtypes (``CompiledNetwork.inputs``). Raises ``RuntimeError`` with the
    worker's stderr when it fails."""
    import subprocess

    spec = {"library": str(Path(library).resolve()), "target": targets.checked_target(target),
            "inputs": [[list(shape), dtype] for shape, dtype in inputs], "repeat": int(repeat),
            "number": int(number), "min_repeat_ms": int(min_repeat_ms), "seed": int(seed)}
    done = subprocess.run([sys.executable, "-m", "tenset_study.tuning.timing_worker"], input=json.dumps(spec),
                          capture_output=True, text=True, timeout=timeout_s, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"timing {library} in a fresh process failed (exit {done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


__all__ = ["export_compiled", "random_inputs", "time_in_fresh_process", "time_network"]
