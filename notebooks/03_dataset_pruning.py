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
# # How much data a cost model needs
#
# Measuring programs is the expensive part of a cost model: TenSet took thousands of machine-hours. The
# study we reproduce reports that up to {glue:text}`paper_pruned` of the training data
# ({glue:text}`paper_pruned_journal` in the journal version) can be
# removed without losing pairwise comparison accuracy {cite:p}`verma2023transfer,verma2024crossfeature`.
# Which data can go, by what rule, and does the answer hold on networks and hardware the model never saw?
#
# Each strategy of `tenset_study.pruning.strategies` keeps a share of the *training* programs (test programs are
# never candidates); the models are trained on what is kept and tested on the unchanged test records.
# Keeping everything is the reference (`full`), and its bootstrap interval over tasks is the bar: a
# pruning "loses nothing" while the mean PCA over seeds stays at or above the interval's low end.

# %% tags=["parameters"]
dataset = "data/default"  # dataset folder: absolute, or relative to the repository root
preset = "book"  # experiment size: "smoke" (tests), "book" (fits `make book`), "full"
models = ["xgb", "ours"]  # a classical baseline and the study's model
strategies = None  # pruning strategies; None: the preset's (book, full: all six; smoke: two)
splits = None  # None: the preset's (book: "by-network"; full: "by-network" and "by-platform", unseen hardware too)
results_dir = "results"  # where the results table is written (relative to the repository root)
full_results = "data/exports/pruning"  # export of the full preset's run (tenset-study export-results); None: none

# %% [markdown]
# The next cell checks the parameters and opens the dataset; a wrong value stops it here with a message.

# %%
from tenset_study.book import chapters, facts, notebook, report
from tenset_study.book.glue import glue
from tenset_study import exports
from tenset_study.evaluation import experiments
from tenset_study import pruning

chapter = chapters.check_pruning(dataset=dataset, preset=preset, models=models, strategies=strategies, splits=splits,
                                 results_dir=results_dir)
notebook.setup_notebook()
glue(facts.paper_facts())
chapter.summary

# %% [markdown]
# The strategies:

# %%
pruning.strategy_table(chapter.strategies)

# %% [markdown]
# ## What cleaning alone removes
#
# Programs that failed on every platform teach a ranking model nothing, and programs that lower to the
# same code (identical per-store features) are the same data point twice.

# %%
ds, records, inputs, links = experiments.prepare(chapter.ds, chapter.models + ["xgb"],
                                                 max_len=chapter.settings["max_len"])
pruning.dataset_clean_report(ds, inputs)

# %% [markdown]
# ## The pruning grid
#
# Every strategy at every kept fraction of the preset, with every seed of the preset, for each model, on
# each split. The models are trained with the preset's `prune_epochs` (neural models), the same for every
# strategy and for the `full` reference, so that the comparison is fair within this chapter.

# %%
curve = pruning.run_pruning_study(ds, inputs, links, chapter.models, chapter.settings, strategies=chapter.strategies,
                                  splits=chapter.splits, fractions=chapter.fractions, progress=False)
summary = pruning.summarize_curve(curve)
print(notebook.written(pruning.write_pruning(curve, summary, chapter.results_dir)))  # summary, and every run

# %% [markdown]
# ## PCA against the data kept
#
# One panel per model and platform, one figure per split; the grey band is the full-data model's interval.

# %% mystnb={"figure": {"caption": "A strategy whose line stays inside the grey band as the share kept shrinks loses nothing against the full-data model; where it drops below, pruning costs accuracy."}}
report.plot_pruning_curves_per_split(summary, "pca")

# %% [markdown]
# Top-5 (the best program of a task found among the model's five favourites) on held-out networks:

# %% mystnb={"figure": {"caption": "The same curves for top-5 on held-out networks: a line below the band finds the best program less often than the full-data model."}}
report.plot_pruning_curves(summary, "top5")

# %% [markdown]
# ## How far each strategy prunes without loss
#
# Per model, platform and strategy: the smallest share kept whose mean PCA stays within the full-data
# interval, so `pruned` is the largest share of training programs removed "for free" at the fractions
# this preset tries.

# %%
verdicts = pruning.pruning_verdicts(summary)
verdicts.pivot_table(index=["split", "variant", "strategy"], columns="platform", values="pruned").round(2)

# %% [markdown]
# ## Training time saved
#
# Seconds per run (training plus selecting the programs), averaged over strategies, seeds and splits, and
# their share of the full-data run's. On a small dataset selection and fixed costs weigh more than on
# TenSet's scale.

# %%
pruning.training_time(curve)

# %% [markdown]
# ## The full experiment, from its export
#
# Everything above ran live, under the preset this chapter was given (`book` in `make book`: sized for a small
# machine). The same experiment under the `full` preset (a finer grid of kept shares, more seeds, models trained
# longer) runs where it fits, once, with `tenset-study export-results --experiment pruning --dataset
# data/default`, and is committed under `data/exports/pruning` with its provenance. What follows is read from that
# export, not computed here.

# %%
full = exports.read_export(full_results)
print(exports.describe_export(full))

# %% mystnb={"figure": {"caption": "The full grid: where a strategy's line leaves the grey band, pruning to that share starts to cost accuracy."}}
report.plot_pruning_curves_per_split(full["summary"], "pca") if full is not None else None

# %%
(pruning.pruning_verdicts(full["summary"]).pivot_table(
    index=["split", "variant", "strategy"], columns="platform", values="pruned").round(2)
 if full is not None else None)

# %% [markdown]
# ## Recommendation
#
# Computed from the table above: the strategy that prunes the most without loss, on average over models,
# platforms and splits. At the kept shares this run tries ({glue:text}`pruning_fractions`),
# {glue:text}`pruning_best_strategy` removes the most on {glue:text}`pruning_best_split`:
# {glue:text}`pruning_best_pruned` of the training programs, against the paper's {glue:text}`paper_pruned`.

# %%
glue(facts.pruning_facts(summary))
print(pruning.recommendation(verdicts))
