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
# # Exploring the dataset
#
# Before training any cost model we look at the data it learns from. What does the dataset hold:
# which platforms, networks, tasks and operators? How fast and how slow are the programs, how far is
# a random program from the best one of its task (the room a cost model has to win), how often does a
# measurement fail, how noisy is one measurement, and do two machines of the same kind agree on which
# program is fast?
#
# The study we reproduce began the same way, with an exploration of TenSet
# {cite:p}`verma2023transfer,verma2024crossfeature`. Every number and figure below is computed from the
# dataset named by the parameter `dataset`; nothing is typed in. The chapter runs unchanged on a dataset
# imported from TenSet's logs, where operator classes and FLOPs may be unknown; {doc}`../reproduce`
# shows how to run it on another dataset.

# %% tags=["parameters"]
dataset = "data/default"  # dataset folder: absolute, or relative to the repository root

# %% [markdown]
# The next cell checks the parameter and opens the dataset; with a wrong path it stops here and says why.

# %%
import pandas as pd

from tenset_study.book import chapters, explore, facts, notebook
from tenset_study.book.glue import glue

ds = chapters.check_exploration(dataset=dataset).ds
notebook.setup_notebook()
glue(facts.dataset_facts(ds))
print(explore.describe_dataset(ds))

# %% [markdown]
# ## Size
#
# A dataset is a folder of compressed Parquet tables ({doc}`../data`). This one holds {glue:text}`programs`
# programs of {glue:text}`tasks` tasks from {glue:text}`networks` networks, and {glue:text}`measurements`
# measurements of them on {glue:text}`platforms` platforms. Programs and measurements are the large tables;
# the others describe what was measured and where.

# %%
explore.table_sizes(ds)

# %% [markdown]
# ## Platforms
#
# One column per platform. Everything here was read off the machine when it measured (lscpu, nvidia-smi,
# LLVM's CPU features) or comes with TenSet's logs; features nothing reported stay empty. The runner row
# says how each program was timed, the software row which compiler stack built it.

# %%
explore.platform_table(ds).T.fillna("-")

# %% [markdown]
# Every hardware feature a platform of its kind should have but lacks, and why (a cost model that embeds the
# hardware reads these columns; an empty one reaches it as missing, not as zero):

# %%
explore.hardware_gaps(ds)

# %% [markdown]
# ## Networks and their tasks
#
# A network is split into tasks (fused subgraphs such as conv2d + bias + ReLU). The same task can occur
# several times in one network, and the *weight* counts those occurrences: `weight_sum` is the number of
# subgraph instances, `tasks` the number of distinct ones to tune, and `gflops` the work of one inference
# (empty when some task's FLOPs are unknown), per target kind: CPU and GPU tasks are extracted separately. Loose Ansor logs carry no network information, so for
# them this table is empty.

# %%
explore.tasks_per_network(ds)

# %% [markdown]
# ## Operator mix
#
# How many tasks each operator class has, and what share of the networks' FLOPs it carries (each task's
# FLOPs times its weight), for the target kind with the most tasks (CPU and GPU tasks of a network are the
# same workloads, so counting both would count each twice). Few heavy classes, typically convolutions and matrix products, carry most of
# the work, while many light element-wise and pooling tasks make up the count.

# %%
mix = explore.op_mix(ds)
notebook.styled(mix, percent=["task_share", "flop_share"])

# %% mystnb={"figure": {"caption": "Where the two bars of a class differ most, that class carries far more (or less) of the work than its number of tasks suggests."}}
explore.plot_op_mix(mix)

# %% [markdown]
# ## FLOPs per task
#
# The work of one run of each task, by operator class, on a log scale: tasks differ by orders of
# magnitude, which is why cost models learn normalized throughput within a task rather than raw latency.

# %% mystnb={"figure": {"caption": "Each dot is a task; the spread along the log axis, within a class and between classes, is why a model compares programs within a task."}}
tasks = explore.task_frame(ds)
explore.plot_flops_by_op(tasks)

# %% [markdown]
# ## Latencies
#
# Measurements joined with their task and operator class. A measurement is *ok* when it has a latency and
# no error. The table gives the range of latencies per platform in seconds; the histogram their
# distribution on a log scale (each platform normalized on its own, so platforms with fewer measurements
# stay visible).

# %%
frame = explore.measurement_frame(ds)
explore.latency_summary(frame)

# %% mystnb={"figure": {"caption": "Latencies span orders of magnitude on every platform; a platform whose curve sits to the left runs the same kind of programs faster."}}
explore.plot_latency_by_platform(frame)

# %% [markdown]
# ## Programs per task
#
# How many programs of each task were measured on each platform, and how much of the dataset each
# platform covers. A cost model ranks programs *within* a task, so a task with a single program teaches
# it nothing about ranking.

# %%
print(explore.describe_coverage(ds, frame))
counts = explore.programs_per_task(frame)
counts.groupby("platform")["measured"].describe()

# %% mystnb={"figure": {"caption": "Tasks at the left edge have few programs to rank; a platform with fewer bars than another has not measured every program yet."}}
explore.plot_programs_per_task(counts)

# %% [markdown]
# ## Best versus median program
#
# For every task with two or more successful programs: how much slower the median program is than the
# best one (median / best latency). A ratio near 1 means random schedules are all about as good; a large
# ratio means picking well matters, and a cost model has something to win.

# %%
gap = explore.best_median_gap(frame)
print(explore.describe_gap(gap))
explore.gap_by_op(gap)

# %% mystnb={"figure": {"caption": "The further right a task lies, the more a good pick saves over a typical program; classes whose boxes lie right are where a cost model matters most."}}
explore.plot_best_median_gap(gap)

# %% [markdown]
# ## Failures
#
# Failed measurements are kept in the dataset with their error, because a cost model should learn that
# such programs are bad (TenSet and MetaSchedule give them a huge sentinel latency). The error kind is the
# stage that failed.

# %%
rates = explore.failure_rates(frame)
kinds = explore.error_kinds(frame)
notebook.styled(rates.join(kinds), percent=["failure_rate"])

# %% mystnb={"figure": {"caption": "The length of a bar is the share of a platform's measurements that failed, its colours the stage that failed."}}
explore.plot_failures(kinds, rates)

# %% [markdown]
# ## Measurement noise
#
# Every program was timed several times. The coefficient of variation (sample standard deviation over
# mean) of those repeats says how far a single measurement can be trusted: differences between programs
# smaller than this noise are not real.

# %%
cv = explore.repeat_cv(ds)
noise = explore.cv_summary(cv)
notebook.styled(noise, percent=["cv_median", "cv_p90", "cv_mean"])

# %% mystnb={"figure": {"caption": "The further left a curve rises, the less a platform's repeated timings of one program disagree."}}
explore.plot_repeat_cv(cv)

# %% [markdown]
# Noise against the spread between programs: ranking is meaningful when the noise is far smaller than
# the gap between a typical and the best program.

# %%
glue(facts.noise_gap_facts(cv, gap))
print(explore.describe_noise_vs_gap(cv, gap))

# %% [markdown]
# ## Across platforms
#
# When the same programs were measured on two platforms of one kind, do the platforms agree? For each
# task: the Spearman rank correlation of the programs' latencies (1 = same order), whether the fastest
# program is the same, and the regret: how much slower the first platform's best program is on the
# second than the second's own best. High agreement means a cost model transfers cheaply; low agreement
# is what transfer learning has to overcome.

# %% [markdown]
# Comparisons are program by program, so every platform of a kind should have measured the same program
# set; a platform that lacks programs of its kind is still being collected (or is a defect):

# %%
explore.program_set_coverage(ds)

# %%
agreement = explore.cross_platform_agreement(frame)
print(explore.describe_agreement(frame, agreement))
explore.agreement_summary(agreement) if not agreement.empty else None

# %% mystnb={"figure": {"caption": "Mass near 1 means two platforms order a task's programs alike, so a model of one transfers cheaply to the other."}}
explore.plot_cross_platform(agreement) if not agreement.empty else None

# %% [markdown]
# Every pair at once: the median over tasks of the rank correlation, per kind. The diagonal is each platform
# against itself: one measured repeat of every program ranked against a second repeat taken in the same
# session, the most any other platform could agree with it (an optimistic bound: repeats of one session share
# its conditions). Two platforms whose cell is as high as their diagonals rank programs as a re-measurement
# would, and one of them adds nothing as a platform; a low cell is a platform in its own right.

# %% mystnb={"figure": {"caption": "Dark cells off the diagonal are platforms that rank the same programs differently (the hardware differences a transferred cost model has to learn), while cells as bright as the diagonal are platforms that rank alike."}}
with_self = pd.concat([agreement, explore.self_agreement(ds)], ignore_index=True)
explore.plot_agreement_matrix(with_self)

# %% [markdown]
# ## What it means for the next chapters
#
# - Within-task ranking is the right target: FLOPs and latencies span orders of magnitude across tasks,
#   while the question a tuner asks is which program of *one* task is fastest.
# - The gap between the median and the best program bounds what a cost model can save (over all platforms,
#   a task's median program is {glue:text}`gap_median` slower than its best); the repeat noise bounds how
#   finely measured programs can be ordered at all (median {glue:text}`noise_median`). Pairs of programs
#   closer than the noise carry no signal for pairwise comparison accuracy.
# - Failed programs are part of the data; models and splits must treat them explicitly.
# - Agreement across platforms, where the dataset has it, is the baseline a transferred model must beat.
