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
# # The attention cost model
#
# Does an attention model over schedule instructions rank programs better than the cost models people
# use today, and does joining hardware and workload features to its input let one model serve several
# platforms? The study we reproduce proposes such a model {cite:p}`verma2023transfer,verma2024crossfeature`;
# its architecture details are not public, so ours (below) is our design on TLP's footing
# {cite:p}`zhai2023tlp`.
#
# We train the models below on the same records and test them on networks they never saw (the `by-network`
# split, chosen in {doc}`02_split_comparison`):
#
# | model | input | trained |
# | --- | --- | --- |
# | `xgb` | MetaSchedule's {glue:text}`perstore_width` per-store features, pooled per program | per platform (TenSet, MetaSchedule) |
# | `mlp` | the same features | per platform (TenSet) |
# | `tlp` | schedule tokens only | per platform (TLP) |
# | `ours` (v2) | per-store features, one token per store, FiLM by hardware + workload | once, on every platform |
#
# `ours` is our design (v2): attention across a program's per-store feature vectors, with hardware and
# workload features scaling and shifting every token (FiLM). The first design, attention over schedule tokens
# with one hardware and one workload token, is kept as `ours-v1` (models saved as `ours` before v2 load as it).
#
# Every figure is computed here from the dataset named by `dataset`; every metric comes with a bootstrap
# interval over tasks and the spread over training seeds.

# %% tags=["parameters"]
dataset = "data/default"  # dataset folder: absolute, or relative to the repository root
preset = "book"  # experiment size: "smoke" (tests), "book" (fits `make book`), "full" (the whole experiment)
models = ["xgb", "mlp", "tlp", "ours"]  # cost models to compare
split = "by-network"  # test split (see chapter 02)
results_dir = "results"  # where the results table is written (relative to the repository root)
benchmarks_dir = "benchmarks/results"  # committed speed runs of other machines (bench_models.py, bench_ddp.py)
full_results = "data/exports/cost-models"  # export of the full preset's run (tenset-study export-results); None: none

# %% [markdown]
# The next cell checks the parameters and opens the dataset; a wrong value stops it here with a message.

# %%
from tenset_study.book import chapters, facts, notebook, report
from tenset_study.book.glue import glue
from tenset_study import exports
from tenset_study.evaluation import experiments
from tenset_study.evaluation.diagnostics import diagnostics_table
from tenset_study.evaluation.hardware_swap import hardware_swap
from tenset_study.evaluation.paired import paired_differences
from tenset_study.evaluation.references import reference_rows
from tenset_study.features import tokens
from tenset_study.models import architecture_table

chapter = chapters.check_cost_models(dataset=dataset, preset=preset, models=models, split=split,
                                     results_dir=results_dir, benchmarks_dir=benchmarks_dir)
settings = chapter.settings
notebook.setup_notebook()
glue(facts.method_facts())
settings

# %% [markdown]
# ## The records
#
# A record is one program measured on one platform, labelled with its normalized throughput (the best
# latency of its task on that platform divided by its own latency, so 1 is the fastest). Failed
# measurements are left out, as TenSet and TLP leave them out.

# %%
ds, records, inputs, links = experiments.prepare(chapter.ds, chapter.models + ["ours"], max_len=settings["max_len"])
records.groupby(["platform", "kind"]).agg(records=("program", "size"), tasks=("task", "nunique"))

# %% [markdown]
# ## Schedule tokens
#
# Each program becomes a sequence of instruction vectors. Sequences are cropped or padded to `max_len`
# steps; the figure shows how long the schedules are, and so how much a crop cuts.

# %% mystnb={"figure": {"caption": "Programs right of the dashed line lose their last steps to the crop; the fewer there are, the less the crop costs."}}
lengths = tokens.length_distribution(ds.to_pandas("programs", columns=["program", "encoding", "trace"]))
report.plot_lengths(lengths, settings["max_len"])

# %% [markdown]
# ## The architecture
#
# `ours` reads a program as the set of its buffer stores, one token per store (MetaSchedule's
# {glue:text}`perstore_width` per-store
# features, standardized over the training stores). The platform's hardware features and the task's workload
# features give, through a small network, a scale and a shift per channel (FiLM) applied to every token after
# the encoder and again before the decoder, so the machine changes how each store's features map to the score
# (a list-constant context token could not reorder programs). Attention mixes the stores; the decoder's
# outputs are summed over the stores into the score. Widths below are those of this run's preset.

# %%
architecture_table(inputs, hidden=settings["hidden"], heads=settings["heads"])

# %% [markdown]
# ## The split
#
# The test side holds the tasks of whole networks that training never saw.

# %%
the_split = experiments.default_split(records, links, chapter.split)
print(the_split.description)
print({k: v for k, v in the_split.held_out.items() if k != "tasks"})
print(f"train: {len(the_split.train)} records, test: {len(the_split.test)} records")

# %% [markdown]
# ## The models on held-out networks
#
# Each model is trained with every seed of the preset (`xgb`, whose training uses no randomness, once);
# `value` is the mean over seeds, the interval
# `[low, high]` the bootstrap {glue:text}`interval_level` interval over tasks, and `±` the standard deviation
# over seeds.

# %%
timings = []
specs = experiments.model_specs(chapter.models, settings)
scores, fitted = {}, {}
results = experiments.run_experiment(specs, inputs, the_split, links, seeds=settings["seeds"],
                                     n_boot=settings["n_boot"], timings=timings, scores=scores, models=fitted)
summary = experiments.summarize_seeds(results)
glue(facts.cost_model_facts(summary))
report.wide_table(summary, index=["platform", "variant"])

# %% [markdown]
# What bounds these numbers, per platform, on the same test records: the **noise ceiling** (one measured
# repeat ranking the programs against another repeat of the same measurement: no model can do much better),
# the **cross-platform oracle** (another platform's measured latencies used as the score: what perfect
# knowledge of other hardware gives) and **random** scores. `pca_below_ceiling` is the room left.

# %%
test_records = records.iloc[the_split.test].reset_index(drop=True)
bounds = reference_rows(ds, test_records, links, latencies=records, n_boot=settings["n_boot"])
diagnostics_table(summary, bounds)

# %% [markdown]
# Differences between models count only where their interval excludes zero: each model minus the plain MLP
# (or the first model), paired over seeds and tasks, with a bootstrap interval that draws both.

# %%
paired = paired_differences(test_records, scores, base="mlp" if "mlp" in chapter.models else chapter.models[0],
                            n_boot=settings["n_boot"])
paired

# %% mystnb={"figure": {"caption": "The higher a model's bar on a platform, the more pairs of programs of unseen networks it orders right; bars whose error bars overlap are not told apart by this data."}}
report.plot_metric_bars(summary, "pca", title="Pairwise comparison accuracy on held-out networks")

# %% mystnb={"figure": {"caption": "A bar near 1 means the model's five favourite programs of a task include one as fast as the task's best measured program."}}
report.plot_metric_bars(summary, "top5", title="Top-5 score on held-out networks (1 = best program in the top 5)")

# %% [markdown]
# Per held-out network (top-1 and top-5 weight each task by its occurrences in the network):

# %%
report.wide_table(summary[summary["network"] != "all"], index=["network", "platform", "variant"], network=None)

# %% [markdown]
# The results table is also written to `results/`, for later chapters and for readers:

# %%
print(notebook.written(experiments.write_summary(summary, chapter.results_dir, f"cost_models-{the_split.name}.csv")))

# %% [markdown]
# ## Does `ours` use the hardware it is told about?
#
# The hardware-swap test: the trained `ours` (first seed) scores each platform's test records a second time
# with another platform's hardware features in place of its own, nothing else changed. A model that reads
# the hardware ranks differently (`task_spearman`, the mean rank correlation of the two scorings within
# tasks, falls below 1) and its PCA moves (`delta`, swapped minus true, with its interval over tasks); a
# model that ignores the hardware gives the same ranking (`task_spearman` 1, `delta` 0).

# %%
swap = (hardware_swap(fitted["ours"][0]["all"], inputs, the_split.test, n_boot=settings["n_boot"])
        if "ours" in fitted else None)  # None: ours is not among this run's models
glue(facts.hardware_swap_facts(swap))
swap

# %% [markdown]
# Of the {glue:text}`swap_pairs` swaps, the PCA moved beyond its interval in {glue:text}`swap_moved`; the
# lowest mean rank correlation within tasks of the true and the swapped scoring was
# {glue:text}`swap_min_task_spearman`, and the largest change of PCA {glue:text}`swap_largest_delta`.

# %% [markdown]
# ## Ablations: what the context features add
#
# `ours` without hardware features, without workload features, and without either (the same model on the
# program's stores alone, trained jointly on every platform): if the context features matter, removing them
# costs accuracy. Differences count only where they exceed the spread over seeds.

# %%
ablation_results = experiments.run_experiment(experiments.ablation_specs(settings), inputs, the_split, links,
                                              seeds=settings["seeds"], n_boot=settings["n_boot"], timings=timings)
ablation = experiments.summarize_seeds(results[results["variant"] == "ours"], ablation_results)
report.wide_table(ablation, index=["platform", "variant"])

# %% mystnb={"figure": {"caption": "A variant whose bar falls below ours' shows what the features it lacks contribute; bars level with it mean those features add nothing measurable here."}}
report.plot_metric_bars(ablation, "pca", title="Ablations of ours: PCA on held-out networks")

# %% [markdown]
# ## Learning curves
#
# Training loss per epoch (the first seed):

# %% mystnb={"figure": {"caption": "A curve still falling at its last epoch would gain from longer training; one flat early has learned what it can."}}
report.plot_learning_curves(experiments.fitted_histories(fitted))

# %% [markdown]
# How much data the next gain needs: `ours` and the best other model of the table above trained on nested
# random subsets of the training tasks (the same tasks on every platform of a kind, the same subsets for both
# models; the preset's `curve_tasks` per kind, `None` = all), scored on the unchanged held-out networks.
# `per_doubling` is the least-squares slope of the metric against log2 of the training tasks: what each
# doubling of the tasks added over the range tried.

# %%
baseline = experiments.best_baseline(summary)
curve_specs = [s for s in specs if s.variant in ("ours", baseline)]
curve = experiments.summarize_curve(experiments.learning_curve(
    curve_specs, inputs, the_split, links, settings["curve_tasks"], seeds=settings["curve_seeds"],
    n_boot=settings["n_boot"]))
experiments.gain_per_doubling(curve).round(4)

# %% mystnb={"figure": {"caption": "A line still rising at its right end would gain from more training tasks; the slope of each line is what a doubling of the tasks buys."}}
report.plot_task_curve(curve)

# %% [markdown]
# ## Speed
#
# Training throughput (records seen per second, epochs counted) and inference throughput (candidates
# scored per second) on the machine that ran this chapter. MetaSchedule scores thousands of candidates
# per search round, so inference speed decides whether a model can sit inside the tuner;
# `benchmarks/bench_models.py` measures both with fixed inputs.

# %%
speed = experiments.timing_table(timings)
speed[["train_records", "fit_s", "train_records_per_s", "predict_records", "predict_per_s"]]

# %% mystnb={"figure": {"caption": "Taller bars are faster (log scale); inference speed decides whether a model can score the thousands of candidates of a search round."}}
report.plot_throughput(speed)

# %% [markdown]
# The same models on the GPU host, measured with `benchmarks/bench_models.py` and committed under
# `benchmarks/results/` with their provenance (machine, driver, torch, date, command): fit time includes
# the CUDA start-up, so the training rates are lower bounds.

# %%
experiments.read_benchmarks(chapter.benchmarks_dir)

# %% [markdown]
# Training at TenSet's scale streams from an on-disk feature store (`tenset-study features`, then
# `train --stream`) and spreads over the GPUs of a host with `torchrun` (DistributedDataParallel over
# NCCL, each rank reading its own shards). `benchmarks/bench_ddp.py` times that path on one and on several
# GPUs of one host (the `device`, `host_gpus` and `ranks` columns say which), on the default dataset
# replicated so that an epoch lasts several seconds: records/s over all ranks (the median of the epochs
# after the first, with their range), per rank, and the scaling efficiency against one rank. When the rows
# of a small and a large hidden size are close, the input pipeline (reading shards and cutting lists on the
# CPU) rather than the GPU bounds the rate.

# %%
experiments.read_ddp_benchmarks(chapter.benchmarks_dir)[
    ["device", "host_gpus", "nccl", "model", "hidden", "ranks", "train_records", "records_per_s", "records_per_s_low",
     "records_per_s_high", "per_rank", "scaling_efficiency", "date"]]

# %% [markdown]
# ## The full experiment, from its export
#
# Everything above ran live, under the preset this chapter was given (`book` in `make book`: sized for a small
# machine). The same experiment under the `full` preset (more seeds, wider models trained longer, the longer
# learning curve) runs where it fits, once, with `tenset-study export-results --experiment cost-models --dataset
# data/default`, and is committed under `data/exports/cost-models` with its provenance. The tables and figure
# below are read from that export, not computed here.

# %%
full = exports.read_export(full_results)
print(exports.describe_export(full))

# %%
full["diagnostics"] if full is not None else None

# %%
full["paired"] if full is not None else None

# %%
full.tables.get("swap") if full is not None else None

# %% mystnb={"figure": {"caption": "The full experiment's learning curves: where a line still rises at its right end, more training tasks would still pay."}}
report.plot_task_curve(full["curve"]) if full is not None else None

# %%
glue(facts.full_cost_model_facts(full))
print(report.conclusions(full["summary"], paired=full["paired"]) if full is not None else "no full export")

# %% [markdown]
# Under the full preset ({glue:text}`full_seeds` seeds), {glue:text}`full_best_model` ranks programs best on the
# held-out networks, with a mean PCA over platforms of {glue:text}`full_best_model_pca` (`ours`:
# {glue:text}`full_ours_pca`). `ours` minus the MLP, paired over seeds and tasks: {glue:text}`full_ours_minus_mlp`.
# Scored with another platform's hardware features, its PCA moved beyond its interval in
# {glue:text}`full_swap_moved` of {glue:text}`full_swap_pairs` swaps (largest change
# {glue:text}`full_swap_largest_delta`): {glue:text}`full_swap_verdict`.

# %% [markdown]
# ## What it means
#
# On the held-out networks, {glue:text}`best_model` ranks programs best, with a mean PCA over platforms of
# {glue:text}`best_model_pca` (`ours`: {glue:text}`ours_pca`). The sentences below, computed from the tables
# above, say where a model is ahead: where its paired difference with the runner-up excludes zero (or,
# for a pair the paired table lacks, where the margin exceeds the spread over seeds).

# %%
print(report.conclusions(summary, ablation, paired=paired))
