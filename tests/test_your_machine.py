"""Your machine in the book (tenset_study.collect.your_machine): a real measurement of a small fixed subset of
data/mini's CPU programs on this CPU, into a copy, resumable, with the make target that rebuilds chapter 05."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import COLLECT_QUICK, MINI_DATA
from tenset_study.collect.measure import MeasureSettings
from tenset_study.collect.your_machine import copy_dataset, measure_your_machine, this_machine_platform
from tenset_study.data.dataset import Dataset

REPO = Path(__file__).resolve().parents[1]


def test_copy_refuses_a_folder_that_is_no_dataset(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    with pytest.raises(ValueError, match=r"--out .*busy: exists and is not a dataset"):
        copy_dataset(MINI_DATA, tmp_path / "busy")
    with pytest.raises(ValueError, match="not a dataset"):
        copy_dataset(tmp_path / "busy", tmp_path / "new")


def test_this_machine_stays_apart_from_the_books_platform_of_the_same_processor(tmp_path: Path) -> None:
    copy = copy_dataset(MINI_DATA, tmp_path / "mine")
    platform = this_machine_platform(copy)
    ds = Dataset.open(copy)
    row = ds.to_pandas("platforms").iloc[[0]].assign(platform=platform.removesuffix("-yours")).astype(object)
    ds.append("platforms", row.where(row.notna(), None).to_dict("records"))
    assert this_machine_platform(copy) == platform.removesuffix("-yours") + "-yours"


@pytest.mark.slow
def test_your_machine_measures_the_first_programs_of_each_task_and_resumes(tmp_path: Path) -> None:
    quick = MeasureSettings(**COLLECT_QUICK)
    out = tmp_path / "yours"
    first = measure_your_machine(MINI_DATA, out, programs_per_task=2, max_tasks=2, measure=quick, progress=False)
    ds = Dataset.open(out)
    measured = ds.to_pandas("measurements", columns=["program", "platform"])
    mine = measured[measured["platform"] == first.platform]
    programs = ds.to_pandas("programs", columns=["program", "task"]).set_index("program")["task"]
    per_task = programs.loc[mine["program"]].value_counts()
    assert len(per_task) == 2 and (per_task <= 2).all() and first.report.measured == len(mine) > 0
    first_ids = {task: sorted(programs[programs == task].index)[:2] for task in per_task.index}
    assert all(set(programs.loc[mine["program"]][lambda s, t=t: s == t].index) == set(ids)
               for t, ids in first_ids.items()), "the first program ids of each task, sorted"
    assert (out / ".your-platform").read_text().strip() == first.platform
    assert Dataset.open(MINI_DATA).count("measurements") < ds.count("measurements"), "the source is untouched"
    again = measure_your_machine(MINI_DATA, out, programs_per_task=2, max_tasks=2, measure=quick, progress=False)
    assert again.platform == first.platform and again.report.measured == 0


def test_the_book_target_says_what_is_missing(tmp_path: Path) -> None:
    done = subprocess.run(["make", "-s", "your-machine-book", f"YOUR_DATASET={tmp_path}"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "holds no platform of this machine: run make your-machine" in done.stderr
