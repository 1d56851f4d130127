"""Registering TVM's tensor intrinsics for a target kind, the previous way (importing the families under the
stub of :func:`tenset_study.programs.tvm_setup.register_tensor_intrinsics`, as it did before it remembered
``inspect.getmodule``'s answers) against :func:`~tenset_study.programs.tvm_setup.prepare_tvm` now. Each
measurement runs in a fresh Python process with TVM already imported (what every collector, tuner and builder
pays once), the two ways alternating. Run on a quiet machine::

    .venv/bin/python benchmarks/bench_tensor_intrinsics.py --kind gpu --repeats 3

Prints one JSON line per measurement and one per kind with the median seconds of each way and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

#: The code each fresh process runs: import TVM, then time the registration alone.
_PROBE = """
import importlib, json, sys, time
import tvm.s_tir
from tenset_study.programs import tvm_setup
kind, way = sys.argv[1], sys.argv[2]
modules = len(sys.modules)
start = time.perf_counter()
if way == "previous":
    tvm_setup.register_tensor_intrinsics(())
    for family in tvm_setup.INTRINSIC_FAMILIES[kind]:
        importlib.import_module("tvm.s_tir.tensor_intrin." + family)
else:
    tvm_setup.prepare_tvm(kind)
print(json.dumps({"seconds": time.perf_counter() - start, "modules_loaded": modules}))
"""


def _measure(kind: str, way: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, kind, way], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["cpu", "gpu"], action="append",
                        help="target kind (repeatable; default: both)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per way")
    args = parser.parse_args()
    for kind in args.kind or ["cpu", "gpu"]:
        seconds: dict[str, list[float]] = {"previous": [], "now": []}
        for repeat in range(args.repeats):
            for way in seconds:
                row = _measure(kind, way)
                seconds[way].append(row["seconds"])
                print(json.dumps({"kind": kind, "way": way, "repeat": repeat, "seconds": round(row["seconds"], 2),
                                  "modules_loaded": row["modules_loaded"]}), flush=True)
        median = {way: statistics.median(values) for way, values in seconds.items()}
        print(json.dumps({"kind": kind, "previous_s": round(median["previous"], 2), "now_s": round(median["now"], 2),
                          "ratio_previous_over_now": round(median["previous"] / median["now"], 1)}), flush=True)


if __name__ == "__main__":
    main()
