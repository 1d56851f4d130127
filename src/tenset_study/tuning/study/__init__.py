"""The transfer-tuning experiment: MetaSchedule's XGBoost with a full budget against our transferred model
with a quarter and two fifths of it, on whole networks, timed end to end.

The question is the paper's tuning claim (brief, section 1): does a cost model pretrained on *other*
hardware give the same end-to-end inference time with 25-40% of the tuning budget that MetaSchedule's
default cost model, which learns from scratch on the target, needs?

For one target (a platform and its TVM target) and a list of zoo networks:

1. :func:`pretrain_for_target` (:mod:`.pretrain`) trains the transferred model (``ours`` by default) on every
   platform of a dataset except the target and saves it under ``study_dir/pretrained/`` with metadata saying
   which platforms, records, dataset and seed it saw; a later call with the same settings reuses the file.
2. :func:`run_transfer_tuning` (:mod:`.run`) tunes every network with every arm (:func:`make_arms`,
   :mod:`.settings`): ``baseline-xgb`` (MetaSchedule's XGBoost, budget B), ``ours@25%`` and ``ours@40%`` (the
   pretrained model inside :class:`~tenset_study.tuning.cost_model.ProjectCostModel`, which keeps learning from
   the measurements, with 25% and 40% of B) and, optionally, ``random@25%`` / ``random@40%`` (MetaSchedule's
   random model with the same reduced budgets: what "fewer trials" alone gives, so that a good result of
   ``ours`` is not just the search doing well with fewer trials). Each arm tunes in its own work dir
   ``study_dir/<network>/<arm>-s<seed>`` (:mod:`.layout`: the MetaSchedule database and logs are kept, with
   ``tuning_result.json`` and ``arm.json``, the arm's settings). An arm whose ``tuning_result.json``
   exists and whose ``arm.json`` matches is skipped; an interrupted arm (a database without a result) is
   tuned again from scratch, because MetaSchedule cannot continue a run; a finished arm with other
   settings is an error (pick another study dir) so that one study never mixes settings.
3. :func:`time_tuned_networks` (:mod:`.timing`, :mod:`.arm_timing`, :mod:`.rounds`) compiles every tuned arm
   with its database and times it in the Relax VM (``end_to_end.json``: every repeat, mean, standard deviation,
   interval of the mean). With ``rounds`` > 1 (the ``full`` preset) a network's arms are timed in rounds, each
   arm in a fresh process every round, because a network's time moves more between processes than between
   repeats in one. It is a separate, resumable step, so the timing can be redone on a quiet machine
   (``overwrite=True``) without tuning again.
4. :func:`collect_results` and :func:`collect_curves` (:mod:`.results`) read the study dir back into the results
   table and the tuning curves; :func:`write_study_results` writes them atomically (``transfer_tuning.csv``,
   ``transfer_tuning_curves.csv``) into the study dir and, merged by (platform, network, arm, seed), into
   a shared results folder. :func:`compare_to_baseline` (:mod:`.compare`) turns the results into the
   comparison table. :func:`run_study` (:mod:`.experiment`) does all of it, resumably.

**Same everything but the cost model.** Every arm of a study uses the same search
(``EvolutionarySearch`` settings), runner settings, ``num_trials_per_iter``, gradient task scheduler and
seed; only the cost model and the trial budget differ. ``tune_network`` lowers ``num_trials_per_iter`` to
``budget // tasks`` when the budget is small, so that every task is tuned; the value used is recorded in
``tuning_result.json``.

**Budgets.** B is per network (:func:`network_budget`): the preset names it for its networks, or gives
``trials_per_task`` (B = that x the network's tasks). An arm with fraction f gets ``round(f * B)`` trials,
which must still be at least one per task. MetaSchedule's XGBoost model scores candidates at random until
it holds 100 measurements (``num_warmup_samples``), and its gradient task scheduler only moves trials to
the tasks that improve most after every task had its first round, so B must be well above both for the
baseline to learn (see the ``full`` preset in :data:`tenset_study.evaluation.experiments.PRESETS`).

**Scoring share.** ``scoring_s`` is the time the cost model spent in ``predict`` (candidate features
included; ``TimedCostModel`` counts it for MetaSchedule's own models) and ``scoring_share`` its share of
the tuning wall time: our model must not be the tuning bottleneck.

**Intervals and verdicts.** The end-to-end latency of an arm carries a 95% interval of its mean (:mod:`.compare`
says how seeds fold into it); :func:`compare_to_baseline` calls an arm "faster" than the baseline when its
interval lies entirely below the baseline's, "on par" when they overlap, "slower" when it lies entirely above.

Importing this package does not import TVM (tuning and compiling import it when they run).
"""

from __future__ import annotations

from ..extraction import count_tasks
from .arm_timing import bootstrap_mean_interval, time_arm
from .compare import COMPARISON_COLUMNS, compare_to_baseline, fold_seeds, verdict
from .experiment import StudyOutcome, run_study
from .layout import (ARM_FILE, CURVES_FILE, END_TO_END_FILE, PRETRAINED_DIR, RESULTS_FILE, TARGET_PLATFORM_FILE,
                     arm_dir, tuned_arm_dirs)
from .pretrain import pretrain_for_target, target_platform_row
from .results import (CURVE_COLUMNS, RESULT_COLUMNS, RESULT_KEYS, collect_curves, collect_results, estimate_tasks,
                      merge_results, write_study_results)
from .rounds import summarize_rounds, time_arms_in_rounds, timing_rounds
from .run import arm_status, run_transfer_tuning
from .settings import (BASELINE, Arm, arm_trials, check_networks, check_search, check_variant, make_arms,
                       network_budget, transfer_settings)
from .timing import time_tuned_networks

__all__ = ["ARM_FILE", "Arm", "BASELINE", "COMPARISON_COLUMNS", "CURVES_FILE", "CURVE_COLUMNS", "END_TO_END_FILE",
           "PRETRAINED_DIR", "RESULTS_FILE", "RESULT_COLUMNS", "RESULT_KEYS", "StudyOutcome", "TARGET_PLATFORM_FILE",
           "arm_dir", "arm_status", "arm_trials", "bootstrap_mean_interval", "check_networks", "check_search",
           "check_variant", "collect_curves",
           "collect_results", "compare_to_baseline", "count_tasks", "estimate_tasks", "fold_seeds", "make_arms",
           "merge_results", "network_budget", "pretrain_for_target", "run_study", "run_transfer_tuning",
           "summarize_rounds", "target_platform_row", "time_arm", "time_arms_in_rounds", "time_tuned_networks",
           "timing_rounds", "transfer_settings", "tuned_arm_dirs", "verdict", "write_study_results"]
