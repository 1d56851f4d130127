# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Transfer to unseen hardware
#
# A cost model trained on one machine ranks programs poorly on another, and measuring a new machine's
# dataset costs what the first one cost. The study we reproduce claims that its model, which reads hardware
# features next to the schedule, reaches a top-5 score above {glue:text}`paper_top5` on hardware it was not
# trained on
# {cite:p}`verma2023transfer,verma2024crossfeature`; MTL-TLP reaches a new platform by multi-task learning
# on a small share of its data {cite:p}`zhai2023tlp`. Their protocols are not public in full, so the one
# below is ours.
#
# One platform, the *target*, is left out of pretraining; the models are pretrained on platforms of one
# kind (the *sources*: `cpu->cpu`, `cpu->gpu`, ...). The tasks of TenSet's evaluation networks are held out
# on every platform, as in {doc}`02_split_comparison`, and every model is scored on the target's records
# of those tasks only. From the target's records of the *training* tasks, each seed draws a share (the same
# share of every task, with a minimum per task, since a ranking loss needs pairs); nothing else of the
# target reaches training. The arms compared at each share:
#
# | arm | model | trained on |
# | --- | --- | --- |
# | `zero-shot` | `ours` | the sources only; the target enters through its hardware features |
# | `fine-tune` | `ours` | the pretrained model, then the target share |
# | `mtl` | shared attention trunk, one head per platform (MTL-TLP) | sources and target share jointly |
# | `scratch` | `ours` | the target share only |
# | `xgb`, `mlp` | TenSet's baselines on per-store features | the target share only |
# | `random` | random scores | nothing: the reference (top-k of a random pick depends on the programs per task) |
#
# Every metric is computed here from the dataset named by `dataset`, with a bootstrap interval over tasks
# and the spread over seeds.

# %% tags=["parameters"]
dataset = "data/default"  # dataset folder: absolute, or relative to the repository root
preset = "book"  # experiment size: "smoke" (tests), "book" (fits `make book`), "full" (the whole experiment)
directions = None  # e.g. ["cpu->cpu", "cpu->gpu"]; None: the preset's
targets = None  # target platforms, e.g. ["h100-80gb-hbm3"]; None: every platform a direction allows
arms = None  # e.g. ["zero-shot", "fine-tune", "mtl", "scratch", "xgb", "mlp", "tlp"]; None: the preset's
fractions = None  # shares of the target's training records, e.g. [0.01, 0.05, 0.1]; None: the preset's
results_dir = "results"  # where the results tables are written (relative to the repository root)
full_results = "data/exports/transfer"  # export of the full preset's run (tenset-study export-results); None: none
tuning_networks = None  # networks to tune, e.g. ["bert_tiny-b1-128"]; None: the preset's
tuning_target_platform = None  # this machine's platform id in the dataset (held out); None: read off this CPU
study_dir = "studies/transfer-book"  # tuning work dirs and MetaSchedule databases (resumable)
measured_tuning = "data/transfer-tuning"  # exports of the full experiment to show (None: none)
search_variants = "data/search-variants"  # exports of the search-variant studies (None: none)
tune_live = True  # tune the preset's networks on this machine now; False: show only what study_dir and the exports hold

# %% [markdown]
# The next cell checks the parameters and opens the dataset; a wrong value stops it here with a message.

# %%
from tenset_study.book import chapters, facts, notebook, report, transfer_report
from tenset_study.book.glue import glue
from tenset_study import exports
from tenset_study.evaluation import experiments
from tenset_study.evaluation.references import reference_rows
from tenset_study.tuning import archive as study_archive, phases, study as tuning_study
from tenset_study.tuning.search_choice import measured_variant_table
from tenset_study.tuning.speedup import latency_at_shares, speedup_table
from tenset_study.transfer import experiment as transfer

chapter = chapters.check_transfer(
    dataset=dataset, preset=preset, directions=directions, targets=targets, arms=arms, fractions=fractions,
    results_dir=results_dir, tuning_networks=tuning_networks, tuning_target_platform=tuning_target_platform,
    study_dir=study_dir, measured_tuning=measured_tuning, tune_live=tune_live, search_variants=search_variants)
settings = chapter.settings
notebook.setup_notebook()
glue(facts.paper_facts(), facts.method_facts(), facts.tuning_preset_facts(),
     facts.measured_tuning_facts(chapter.measured_tuning), facts.search_variant_facts(chapter.search_variants))
chapter.summary

# %%
transfer.arm_table(chapter.arms)

# %% [markdown]
# ## The records and the directions
#
# A record is one program measured on one platform, labelled with its normalized throughput within its task
# on that platform. Each direction below names its target, the sources it is pretrained on, and the records
# on each side; the share columns count the target records each share keeps (first seed).

# %%
ds, records, inputs, links = experiments.prepare(chapter.ds, transfer.models_of(chapter.arms),
                                                 max_len=settings["max_len"])
records.groupby(["platform", "kind"]).agg(records=("program", "size"), tasks=("task", "nunique"))

# %%
the_split = experiments.default_split(records, links, "by-network")
the_directions = transfer.select_directions(records, chapter.directions, chapter.targets)
print(the_split.description)
data = [transfer.transfer_data(records, the_split, d) for d in the_directions]
transfer.plan_table(records, data, chapter.fractions, seed=settings["transfer_seeds"][0],
                    min_per_task=settings["transfer_min_per_task"]).set_index(["direction", "target"])

# %% [markdown]
# ## Part 1: ranking programs on the unseen platform
#
# Every arm at every share, for every direction and seed of the preset. The pretrained model is trained
# once per direction and seed; `fine-tune` starts from a copy of it, so `zero-shot` is scored on the model
# as pretrained. `value` is the mean over seeds, `[low, high]` the bootstrap {glue:text}`interval_level`
# interval over the held-out
# tasks, `±` the standard deviation over seeds; `target records` is how many target records the arm
# trained on.

# %%
runs = transfer.run_transfer(inputs, links, the_split, the_directions, settings, arms=chapter.arms,
                             fractions=chapter.fractions, progress=False)
summary = transfer.summarize_transfer(runs)
glue(facts.transfer_facts(summary))
print(notebook.written(transfer.write_transfer(runs, summary, chapter.results_dir)))
transfer_report.transfer_table(summary)

# %% [markdown]
# Beside the arms, on each target's same test records: the **noise ceiling** (one measured repeat ranking
# the programs against another), the **cross-platform oracle** (the target's programs ranked by another
# platform's own measured latencies, where that platform measured them: a platform of the same kind, since
# CPU and GPU programs differ) and **random** scores. An arm near the oracle ranks the target as well as
# knowing another machine's measurements would; the gap to the ceiling is what target data could still add.

# %%
test_records = records.iloc[the_split.test]
target_test = test_records[test_records["platform"].isin([d.target for d in the_directions])].reset_index(drop=True)
bounds = reference_rows(ds, target_test, links, latencies=records, n_boot=settings["n_boot"])
report.wide_table(bounds, index=["platform", "reference"])

# %% [markdown]
# Pairwise comparison accuracy against the share of the target's data, one panel per direction and
# target. The grey line and band are the zero-shot model (no target data); the dotted line is random
# scores. The x axis is the share actually used, which the per-task minimum can raise above the share asked.

# %% mystnb={"figure": {"caption": "An arm above the grey band ranks the unseen platform's programs better than the model carried over without target data; near the dotted line it does no better than chance."}}
transfer_report.plot_transfer_curves(summary, "pca")

# %% [markdown]
# Top-1 and top-5 (the best measured latency among the model's first one or five programs of a task, against
# the best measured, weighted over tasks):

# %% mystnb={"figure": {"caption": "Top-1: how close the model's first pick of each task comes to the best measured program, against the share of target data used."}}
transfer_report.plot_transfer_curves(summary, "top1")

# %% mystnb={"figure": {"caption": "Top-5 is the paper's transfer metric: read each arm against the dotted random line, which shows how easy top-5 is on these tasks."}}
transfer_report.plot_transfer_curves(summary, "top5")

# %% [markdown]
# Per held-out network (top-1 and top-5 weight each task by its occurrences in the network):

# %%
transfer_report.transfer_table(summary[summary["network"] != "all"], network=None)

# %% [markdown]
# ## What each arm costs
#
# Seconds to train each arm on the machine that ran this chapter (mean over shares and seeds). The zero-shot
# column is the pretraining, paid once per direction and seed and reused by `fine-tune`; `mtl` trains on the
# source records again at every share.

# %%
transfer_report.training_time(runs)

# %% [markdown]
# ## The full experiment, from its export
#
# Everything above ran live, under the preset this chapter was given (`book` in `make book`: sized for a small
# machine). The same experiment under the `full` preset (smaller shares of the target's data, more seeds, more
# directions and arms) runs where it fits, once, with `tenset-study export-results --experiment transfer --dataset
# data/default`, and is committed under `data/exports/transfer` with its provenance. What follows is read from
# that export, not computed here.

# %%
full = exports.read_export(full_results)
print(exports.describe_export(full))

# %%
transfer_report.transfer_table(full["summary"]) if full is not None else None

# %%
report.wide_table(full["bounds"], index=["platform", "reference"]) if full is not None else None

# %% mystnb={"figure": {"caption": "The full experiment: an arm whose line rises above the zero-shot band at a share gains from that much of the target's data."}}
transfer_report.plot_transfer_curves(full["summary"], "pca") if full is not None else None

# %% [markdown]
# ## What it means
#
# The best transferred arm on an unseen platform here is {glue:text}`transfer_best_arm`, with a top-5 of
# {glue:text}`transfer_best_top5` where random scores reach {glue:text}`transfer_random_top5` on the same
# tasks; the paper claims above {glue:text}`paper_top5`. The sentences below are computed from the tables
# above (an arm is "ahead of" the next only when the gap exceeds the seeds' spread and the best arm's
# interval clears the runner-up).

# %%
print(transfer_report.findings(summary))

# %% [markdown]
# ## Transfer tuning in MetaSchedule
#
# The study's end-to-end claim: a cost model pretrained on other hardware, carried to a new target, tunes
# whole networks to on-par inference time with {glue:text}`paper_tuning_shares` of the baseline's tuning
# time. We tune every task of a network on this machine's CPU with MetaSchedule (`tune_tasks`, evolutionary
# search) three ways:
#
# | arm | cost model | trials |
# | --- | --- | --- |
# | `baseline-xgb` | MetaSchedule's XGBoost model, learning from scratch | the full budget B |
# | `ours@...` | `ours` pretrained on every dataset platform except this machine, updated online | `book`: {glue:text}`book_tuning_shares` of B; `full`: {glue:text}`tuning_shares` of B |
# | `random@...` (where a study asks for them) | random scores | the same shares, to tell the model's merit from the smaller budget |
#
# Each tuned network is compiled with its MetaSchedule database and timed end to end in the Relax VM. The
# `book` preset times each arm in this process ({glue:text}`book_timing_repeats` repeats, bootstrap interval
# over them); `full` times a network's arms in {glue:text}`full_timing_rounds` rounds of
# {glue:text}`full_timing_repeats` repeats, each arm in a fresh process every round, and takes Student's t
# interval over the rounds, because a network's time moves more from one process to the next than between
# repeats in one (measured below). The preset sets the networks and budgets: `book` tunes
# {glue:text}`book_tuning_networks` with {glue:text}`book_trials_per_task` trials per task so that this
# chapter fits `make book`; `full` tunes {glue:text}`full_tuning_networks` with budgets of about
# {glue:text}`full_trials_per_task` trials per task and {glue:text}`full_tuning_seeds` tuning seeds, `ours` with
# the whole budget: its tuning curve says when it reaches the latency the baseline ends at (the search-time
# speedup below) and what it had reached at any share of the baseline's time. Results go to
# `results/transfer_tuning.csv` and the curves to `results/transfer_tuning_curves.csv`.
# On a slow machine, `tune_live = False` skips the tuning: the tables below then show what `study_dir` holds
# from an earlier run (nothing on a first run), and the exported full experiment further down is unchanged.

# %%
outcome = tuning_study.run_study(dataset, chapter.tuning_target_platform, chapter.tuning_networks, preset,
                                 chapter.study_dir, results_dir=chapter.results_dir, tune=chapter.tune_live,
                                 time_networks=chapter.tune_live, progress=False)
outcome.budgets

# %% [markdown]
# What each arm measured and how long it took (`scoring_share`: the share of tuning time spent in the cost
# model, feature extraction included):

# %%
outcome.results[["network", "arm", "trials", "tuning_s", "scoring_share", "estimated_latency_s", "e2e_mean_s",
                 "e2e_low_s", "e2e_high_s"]]

# %% [markdown]
# Where each arm's tuning time went, from MetaSchedule's profiler: drawing the initial population from the
# design space and the database (`sampling`), mutating it (`evolution`), scoring candidates with the cost
# model, features included (`scoring`), `building`, `measuring`, writing the `database`, updating the cost
# model with the measurements (`model update`), and the rest (`other`). Shares of the arm's tuning time:

# %%
phases.study_phase_table(outcome.study_dir).set_index(["network", "arm", "seed"]).filter(like="_share").round(3)

# %% [markdown]
# Each arm against the baseline: end-to-end latency ratio with its range over both intervals, the share of
# the baseline's tuning time and trials, and the verdict: `faster` when the arm's interval lies below the
# baseline's, `on par` when they overlap, `slower` when it lies above.

# %%
outcome.comparison[["network", "arm", "latency_ratio", "ratio_low", "ratio_high", "tuning_time_ratio",
                    "trials_ratio", "scoring_share", "verdict"]]

# %% [markdown]
# The estimated network latency (sum over tasks of weight x best measured latency so far) against tuning
# time:

# %% mystnb={"figure": {"caption": "A line that drops lower sooner found faster programs in less tuning time; where a reduced arm ends above the baseline, its smaller budget fell short."}}
curves = tuning_study.collect_curves(outcome.study_dir)
transfer_report.tuning_curves_figure(curves)

# %% [markdown]
# ## The full experiment, measured offline
#
# The `full` preset tunes {glue:text}`full_tuning_networks` with about {glue:text}`full_trials_per_task` trials
# per task: hours of tuning per network on a small CPU, too long for `make book`. It was run once per target with
# `tenset-study transfer-tune --preset full` and exported with `tenset-study export-study` into
# `data/transfer-tuning/<target platform>/`: every arm's plan, result, timeline, end-to-end timing and
# compressed MetaSchedule database, with the provenance of each measurement. What follows is read from
# those exports (`measured_tuning`); run the same commands to measure your own machine (see
# {doc}`../reproduce`). Tuning time is wall time, so the first table gives the highest 15-minute load
# average seen while tuning and timing: a load equal to the target's cores (second table) means every core
# was busy.
#
# {glue:text}`measured_studies` studies were measured, on {glue:text}`measured_targets`. The second table
# says for each target what was tuned, with how many trials per task, whether the random-search arms ran,
# and which platforms its model was pretrained on. `h200` is an NVIDIA H200, a GPU in no platform of the
# dataset, pretrained on every platform of the dataset, among them the H100 of the same `sm_90`
# architecture; its study is the smaller one because the GPU host's time is rationed per session. Both
# were timed with the `full` preset's rounds.

# %%
study_archive.describe_measured(chapter.measured_tuning)

# %%
facts.measured_studies_table(chapter.measured_tuning)

# %%
measured = study_archive.measured_results(chapter.measured_tuning)
columns = ["study", "network", "arm", "trials", "tuning_s", "scoring_share", "estimated_latency_s", "e2e_mean_s",
           "e2e_low_s", "e2e_high_s"]
measured[columns] if measured is not None else "no exported study in the folder measured_tuning names"

# %%
columns = ["target_platform", "network", "arm", "latency_ratio", "ratio_low", "ratio_high", "tuning_time_ratio",
           "trials_ratio", "scoring_share", "verdict"]
tuning_study.compare_to_baseline(measured)[columns] if measured is not None else None

# %% [markdown]
# Read the verdicts beside `tuning_time_ratio`, which is not the trial ratio: every search round has costs
# that do not shrink with its trials (generating and evolving candidates, building, starting the runner),
# so an arm with a quarter of the trials spends more than a quarter of the time, most of all on the GPU
# host, where a round costs about the same whatever its number of trials (see the curves below). These
# studies were tuned with MetaSchedule's `LocalBuilder`, which starts new build workers (each importing TVM)
# in every round. Tuning now keeps one pool of build workers for the whole run (each result records its
# `builder`), so new runs spend less per round than these exports show; `benchmarks/bench_tuning_builder.py`
# measures the difference on the same network and budget.

# %% [markdown]
# Why the timing uses rounds in fresh processes: each round's mean as a share of the arm's mean over
# rounds. Within a process the repeats of a round agree closely (median coefficient of variation
# {glue:text}`round_cv_median`); from one process to the next the same compiled network moved by up to
# {glue:text}`round_spread_max` from its arm's mean (the runtime's buffer placement, the core that runs the
# host side, the GPU's state), so an interval over the repeats of a single process would be too narrow
# for the comparison.

# %%
transfer_report.timing_rounds_table(study_archive.measured_timing_rounds(chapter.measured_tuning))

# %% mystnb={"figure": {"caption": "The full experiment's curves: a reduced arm that ends above the baseline's final latency did not reach it within its budget."}}
transfer_report.tuning_curves_figure(study_archive.measured_curves(chapter.measured_tuning))

# %% [markdown]
# ## Search-time speedup
#
# What a reader choosing a cost model wants to know is how much sooner it reaches the latency the default
# tuner ends at (TLP reports its result this way). For each arm and seed pair: the baseline's time to reach its
# own final estimated latency divided by the arm's time to reach the same latency. An arm that never gets
# there is *not reached*, with its final gap, never a speedup; a baseline whose last {glue:text}`flat_tail` of
# tuning time still improved its latency by {glue:text}`flat_tolerance` or more had not flattened, which
# flatters any speedup against it. The earlier studies have one seed per arm, and their `ours@...` and
# `random@...` arms had {glue:text}`measured_trials_shares` of the baseline's trials, so most cannot reach its
# final latency: the verdicts say by how much they fall short. The studies tuned with the `full` preset of the
# search-time measure give `ours` the whole budget and pair every tuning seed with the baseline's.

# %%
speedups = speedup_table(study_archive.measured_curves(chapter.measured_tuning))
speedups[["study", "network", "arm", "seeds", "reached", "verdict"]] if len(speedups) else "no exported curves"

# %% [markdown]
# The paper's claim read off the same curves: each arm's estimated latency once the paper's shares
# ({glue:text}`paper_tuning_shares`) of the baseline's tuning time had passed, relative to the latency the
# baseline ends at (a ratio of one: on par; geometric mean over seed pairs with its bootstrap interval;
# `covered`: the pairs in which the arm had tuned every task by then). The baseline's own rows say how far it
# was itself at that time.

# %%
at_shares = latency_at_shares(study_archive.measured_curves(chapter.measured_tuning))
at_shares.round(3) if len(at_shares) else "no exported curves"

# %% [markdown]
# ## How a pretrained model should search
#
# MetaSchedule's evolutionary search scores a population of candidates several times every round, and
# each score of our model starts with extracting the candidate's per-store features: with the search the
# baseline uses, scoring is a large share of our arms' time (`scoring_share` above). A model that ranks
# well from the first round may need less search. The choice is made on networks outside the reported set
# ({glue:text}`variant_networks`, {glue:text}`variant_seeds` seed(s)), where the pretrained model tuned under
# the baseline's search (`ours@100%`) and under variants of it ({glue:text}`variant_arms`; in `search`, each
# arm's EvolutionarySearch settings and trials per search round, settings it does not name being MetaSchedule's
# defaults). The rule, fixed before
# looking: the arm that reaches the baseline's final latency in every seed pair of every network, with the
# largest search-time speedup (geometric mean over networks). Chosen: {glue:text}`variant_chosen`
# ({glue:text}`variant_chosen_search`), {glue:text}`variant_chosen_speedup` against
# {glue:text}`variant_default_speedup` for the baseline's search, with scoring at
# {glue:text}`variant_chosen_scoring` of its tuning time against {glue:text}`variant_default_scoring`.
# `final_ratio` is the arm's final estimated latency over the baseline's (below one: better).

# %%
variants = measured_variant_table(chapter.search_variants)
variants.round(3) if len(variants) else "no exported search-variant study in the folder search_variants names"

