"""One end-to-end timing round in a process of its own (:func:`tenset_study.tuning.timing.time_in_fresh_process`).

A network's end-to-end time moves between processes by more than its repeats within one process spread:
where the runtime places its buffers, which core runs the host side, the state of the GPU's clocks. So the
transfer-tuning study times each arm in several rounds, each in a fresh Python process that loads the
compiled library, and reports the spread over rounds. This module is that process: it reads a JSON spec on
stdin (``library``, ``target``, ``inputs`` as ``[[shape, dtype], ...]``, ``repeat``, ``number``,
``min_repeat_ms``, ``seed``), times the library's ``main`` with :func:`tenset_study.tuning.timing.time_network`
and writes the timing as one JSON line on stdout.

    python -m tenset_study.tuning.timing_worker < spec.json
"""

from __future__ import annotations

import json
import sys


def run(spec: dict) -> dict:
    """Load ``spec['library']`` and time it as :func:`tenset_study.tuning.timing.time_network` does."""
    import tvm

    from .timing import random_inputs, time_network

    shapes = [(tuple(int(d) for d in shape), str(dtype)) for shape, dtype in spec["inputs"]]
    library = tvm.runtime.load_module(spec["library"])
    return time_network(library, spec["target"], inputs=random_inputs(shapes, int(spec.get("seed", 0))),
                        repeat=int(spec["repeat"]), number=int(spec.get("number", 1)),
                        min_repeat_ms=int(spec.get("min_repeat_ms", 100)))


def main() -> int:
    """Read the spec on stdin, print the timing as one JSON line; exit status 0."""
    spec = json.loads(sys.stdin.read())
    print(json.dumps(run(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
