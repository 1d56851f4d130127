"""Registering TVM's tensor intrinsics (:mod:`tenset_study.programs.tvm_setup`): only the families a target
kind needs, in a fresh process, with ``inspect.getmodule``'s answers remembered during the registration only
and equal to the original's."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

from tenset_study.programs import tvm_setup

_PROBE = """
import inspect, json
original = inspect.getmodule
from tenset_study.programs import tvm_setup
tvm_setup.prepare_tvm("gpu")
import tvm.s_tir.tensor_intrin  # the package import is the stub's no-op now
from tvm.s_tir._tensor_intrin import TensorIntrin
from tvm.s_tir.tensor_intrin import cuda, x86
print(json.dumps({
    "cuda": TensorIntrin.get(cuda.LDMATRIX_f16_A_INTRIN, allow_missing=True) is not None,
    "x86": TensorIntrin.get(x86.VNNI_DOT_16x4_INTRIN, allow_missing=True) is not None,
    "rocm": TensorIntrin.get("sdot4", allow_missing=True) is not None,
    "getmodule_restored": inspect.getmodule is original,
}))
"""


def test_gpu_kind_registers_cuda_and_x86_intrinsics_only() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {"cuda": True, "x86": True, "rocm": False, "getmodule_restored": True}


def _frames_modules() -> list:
    return [(info.filename, inspect.getmodule(info.frame, info.filename)) for info in inspect.stack(0)]


def test_remembered_frame_modules_equal_the_originals_and_are_undone() -> None:
    original = inspect.getmodule
    want = _frames_modules()
    with tvm_setup._frame_modules_remembered():
        assert inspect.getmodule is not original
        assert _frames_modules() == want and _frames_modules() == want  # computed, then remembered
        assert inspect.getmodule(json) is json and inspect.getmodule(json.dumps) is json  # not frames: original
    assert inspect.getmodule is original
    with pytest.raises(KeyError), tvm_setup._frame_modules_remembered():
        raise KeyError("inside")
    assert inspect.getmodule is original, "restored after an error too"
