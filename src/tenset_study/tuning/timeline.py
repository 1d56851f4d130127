"""When each measured batch of a tuning run was committed: :class:`TuningTimeline`, a MetaSchedule measure callback.

MetaSchedule's JSON database stores no timestamps. The callback, added after MetaSchedule's own (which commit
the batch to the database and update the cost model), records for every measured batch the seconds since
tuning started, the task and the number of records and valid ones; :func:`~tenset_study.tuning.tune.tune_network`
writes them to ``work_dir/tuning_timeline.json`` and :func:`~tenset_study.tuning.curve.tuning_curve` reads them
back. It also moves the progress bar and shows the network's estimated latency so far.
"""

from __future__ import annotations

import math
import time

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

from .model_inputs import result_latency


@derived_object
class TuningTimeline(PyMeasureCallback):
    """Records when each measured batch was committed (MetaSchedule's callbacks run first) and shows progress.

    ``start``: the ``time.perf_counter()`` value tuning started at; ``bar``: a tqdm bar or None.
    ``batches``: one dict per batch (``seconds``, ``task_name``, ``records``, ``valid``); ``best``: the best
    latency so far per task name.
    """

    def __init__(self, start: float, bar=None) -> None:
        super().__init__()
        self.start = start
        self.bar = bar
        self.batches: list[dict] = []
        self.names: list[str] = []
        self.weights: list[float] = []
        self.best: dict[str, float] = {}
        self.all_weights: dict[str, float] = {}

    def use_tasks(self, names: list[str], weights: list[float]) -> None:
        """The tasks of the next ``ms.tune_tasks`` call, in its task order (task ids index them)."""
        self.names, self.weights = list(names), list(weights)
        for name, weight in zip(names, weights):
            self.all_weights.setdefault(name, weight)

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results) -> None:
        """MetaSchedule's callback: record the batch, update the best latencies and the progress bar."""
        name = self.names[int(task_id)]
        latencies = [result_latency(r) for r in runner_results]
        valid = [v for v in latencies if v is not None]
        if valid:
            self.best[name] = min(self.best.get(name, math.inf), min(valid))
        self.batches.append({"seconds": time.perf_counter() - self.start, "task_name": name,
                             "records": len(runner_results), "valid": len(valid)})
        if self.bar is not None:
            self.bar.update(len(runner_results))
            covered = sum(1 for n in self.all_weights if n in self.best)
            estimate = sum(w * self.best[n] for n, w in self.all_weights.items() if n in self.best)
            self.bar.set_postfix_str(f"{covered}/{len(self.all_weights)} tasks, est. {estimate * 1e3:.3f} ms"
                                     + ("" if covered == len(self.all_weights) else " (partial)"))


__all__ = ["TuningTimeline"]
