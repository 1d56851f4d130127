"""Tuning whole networks with MetaSchedule, with its cost models and with ours, and the transfer-tuning study.

Modules (one idea each):

* :mod:`.tune` -- :func:`tune_network`: tune every task of a zoo network under a global trial budget;
  :mod:`.extraction` (its tasks), :mod:`.timed_model` (the cost model it tunes with, :class:`TimedCostModel`),
  :mod:`.timeline` (when each measured batch was committed), :mod:`.result` (:class:`TuningResult`, the work
  dir's JSON files).
* :mod:`.curve` -- :func:`tuning_curve`: the estimated latency against trials and seconds.
* :mod:`.compile` -- :func:`compile_with_database`; :mod:`.timing` -- :func:`time_network`,
  :func:`time_in_fresh_process` (run by :mod:`.timing_worker`); :mod:`.end_to_end` -- :func:`tune_compile_and_time`
  (what ``tenset-study tune`` does).
* :mod:`.cost_model` -- :class:`ProjectCostModel`, our trained models inside MetaSchedule; :mod:`.model_inputs`
  (its features), :mod:`.platforms` (the platforms row it gets), :mod:`.fine_tuning` (:func:`fine_tune`).
* :mod:`.pretrained` -- :func:`pretrained_cost_model`: the cost model the package ships for a target kind
  (``cpu``, ``gpu``), in one line as MetaSchedule's ``cost_model=``; :mod:`.pretraining` (:func:`train_pretrained`,
  ``tenset-study pretrain``) trains it and writes its provenance into the manifest.
* :mod:`.study` -- the transfer-tuning experiment (:func:`run_study`, :func:`run_transfer_tuning`,
  :func:`compare_to_baseline`, ...); :mod:`.archive` -- study exports (:func:`export_study`, ...).

``import tenset_study.tuning`` does not import TVM: the names below are loaded from their modules on first use
(PEP 562), and several of those import TVM.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "tune": ["DEFAULT_SETTINGS", "tune_network"],
    "extraction": ["count_tasks", "extract_tuning_tasks"],
    "timed_model": ["NAMED_COST_MODELS", "TimedCostModel", "make_cost_model"],
    "result": ["RESULT_FILE", "TIMELINE_FILE", "TuningResult", "summary_line"],
    "curve": ["tuning_curve"],
    "compile": ["CompiledNetwork", "compile_with_database"],
    "timing": ["export_compiled", "random_inputs", "time_in_fresh_process", "time_network"],
    "end_to_end": ["saved_cost_model", "tune_compile_and_time"],
    "cost_model": ["ProjectCostModel"],
    "fine_tuning": ["fine_tune"],
    "pretrained": ["PretrainedModelError", "load_pretrained", "pretrained_cost_model", "pretrained_info"],
    "pretraining": ["train_pretrained"],
    "platforms": ["platform_row_for", "platform_row_from_dataset"],
    "study": ["StudyOutcome", "collect_curves", "collect_results", "compare_to_baseline", "pretrain_for_target",
              "run_study", "run_transfer_tuning", "time_tuned_networks"],
    "archive": ["export_study", "measured_results", "restore_study"],
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_HOME)


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
