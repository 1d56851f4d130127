"""Sentences computed from the exploration tables, wrapped for a notebook's output: what the dataset holds,
how much of it each platform covers, the gap between programs, the agreement between platforms, and the
noise against the gap."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from ...data.dataset import Dataset
from ...params import display_path
from .agreement import comparable_platforms
from .contents import format_bytes

#: Columns a sentence is wrapped to.
TEXT_WIDTH = 76


def _wrap(text: str) -> str:
    """Wrap each line of ``text`` for a notebook's output (continuation lines indented)."""
    return "\n".join(textwrap.fill(line, TEXT_WIDTH, subsequent_indent="  ") for line in text.splitlines())


def describe_dataset(ds: Dataset) -> str:
    """Where the dataset is, its description, and one sentence: how many platforms, networks, tasks,
    programs and measurements it holds in how many bytes."""
    rows = ds.summary()
    description = ds.meta.get("description") or "no description"
    return _wrap(f"dataset: {display_path(ds.root)} ({description})\n"
                 f"{rows['platforms']} platform(s), {rows['networks']} network(s), {rows['tasks']} task(s), "
            f"{rows['programs']:,} program(s) and {rows['measurements']:,} measurement(s) "
            f"in {format_bytes(ds.size_bytes())} on disk.")


def describe_coverage(ds: Dataset, frame: pd.DataFrame) -> str:
    """Per platform: how many of the dataset's tasks and programs have a measurement there."""
    tasks, programs = ds.count("tasks"), ds.count("programs")
    lines = []
    for platform, g in frame.groupby("platform"):
        lines.append(f"{platform}: {g['task'].nunique()} of {tasks} task(s) and {g['program'].nunique():,} of "
                     f"{programs:,} program(s) measured.")
    return _wrap("\n".join(lines)) if lines else "No measurement."


def describe_gap(gap: pd.DataFrame) -> str:
    """One sentence per platform: the median and quartiles of the median/best ratio over tasks with 2+ programs."""
    multi = gap[gap["programs"] >= 2]
    if multi.empty:
        return _wrap("No task has two or more successful programs on any platform, so there is no gap to "
                     "measure.")
    lines = []
    for platform, g in multi.groupby("platform"):
        q = g["ratio"].quantile([0.25, 0.5, 0.75])
        lines.append(f"{platform}: over {len(g)} task(s), the median program is {q[0.5]:.2f}x slower than the "
                     f"best (quartiles {q[0.25]:.2f}x-{q[0.75]:.2f}x).")
    return _wrap("\n".join(lines))


def describe_agreement(frame: pd.DataFrame, agreement: pd.DataFrame) -> str:
    """Which platforms could be compared, or why none could."""
    comparable = comparable_platforms(frame)
    if not comparable:
        kinds = frame[["platform", "kind"]].drop_duplicates()
        listed = ", ".join(f"{p} ({k})" for p, k in zip(kinds["platform"], kinds["kind"]))
        return _wrap(f"No comparison across platforms: this dataset has at most one platform of each kind ({listed}). "
                "Measure the same programs on a second platform of the same kind (collect with --replay) "
                "to see it.")
    if agreement.empty:
        return _wrap("Platforms of one kind exist (" + "; ".join(", ".join(v) for v in comparable.values()) + "), "
                "but no task has two or more programs measured successfully on both platforms of a pair.")
    pairs = agreement.groupby(["platform_a", "platform_b"]).size()
    return _wrap("Compared: " + "; ".join(f"{a} vs {b} over {n} task(s)" for (a, b), n in pairs.items()) + ".")


def describe_noise_vs_gap(cv: pd.DataFrame, gap: pd.DataFrame) -> str:
    """Per platform: the median noise of one measurement against the median spread between programs."""
    noise = cv.dropna(subset=["cv"]).groupby("platform")["cv"].median()
    spread = gap[gap["programs"] >= 2].groupby("platform")["ratio"].median()
    lines = []
    for platform in sorted(set(cv["platform"]) | set(gap["platform"])):
        n, g = noise.get(platform, np.nan), spread.get(platform, np.nan)
        n_text = f"median repeat noise {100 * n:.2f}%" if pd.notna(n) else "no repeats to measure noise"
        g_text = (f"the median program is {g:.2f}x slower than the best" if pd.notna(g)
                  else "no task with 2+ successful programs")
        lines.append(f"{platform}: {n_text}; {g_text}.")
    return _wrap("\n".join(lines)) if lines else "No measurement to compare."
