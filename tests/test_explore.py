"""Tests of the exploration functions against a small hand-written dataset whose numbers are checked by hand.

The rows below are test fixtures, never shown in the book.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tenset_study.book import explore
from tenset_study.data.dataset import Dataset

NOW = dt.datetime(2025, 11, 21, 12, 0, tzinfo=dt.timezone.utc)
MINI_DATASET = Path(__file__).resolve().parents[1] / "data" / "mini"

# latencies in seconds: platform -> program -> latency (None = failed)
LATENCIES = {
    "cpu-a": {"a": 1.0, "b": 2.0, "c": 4.0, "d": None, "e": 1.0, "f": 3.0, "g": 5.0},
    "cpu-b": {"a": 2.0, "b": 1.0, "c": 3.0, "d": 6.0, "e": 2.0, "f": 1.0},
    "gpu-a": {"a": 0.5, "b": 0.25},
}
TASK_OF = {"a": "t1", "b": "t1", "c": "t1", "d": "t1", "e": "t2", "f": "t2", "g": "t3"}


def make_dataset(root: Path) -> Dataset:
    ds = Dataset.create(root, description="test fixture")
    runner = json.dumps({"number": 1, "repeat": 3, "min_repeat_ms": 20, "enable_cpu_cache_flush": False})
    software = json.dumps({"apache-tvm": "0.27.0", "torch": "2.13.0", "python": "3.11"})
    ds.append("platforms", [
        {"platform": "cpu-a", "kind": "cpu", "target": json.dumps({"kind": "llvm", "mcpu": "znver5", "num-cores": 2}),
         "model": "AMD EPYC", "cores": 2, "vector_bits": 512, "runner": runner, "software": software,
         "recorded_at": NOW},
        {"platform": "cpu-b", "kind": "cpu", "target": "llvm -mcpu=core-avx2", "model": "Intel Xeon", "cores": 8,
         "vector_bits": 256, "runner": runner, "software": software, "recorded_at": NOW},
        {"platform": "gpu-a", "kind": "gpu", "target": json.dumps({"kind": "cuda", "arch": "sm_90"}), "cores": 132,
         "recorded_at": NOW},
    ])
    ds.append("networks", [{"network": "net-b1-224", "family": "net", "batch_size": 1, "input_shape": [1, 3, 224, 224]}])
    ds.append("network_tasks", [{"network": "net-b1-224", "task": "t1", "weight": 2},
                                {"network": "net-b1-224", "task": "t2", "weight": 1}])
    ds.append("tasks", [
        {"task": "t1", "kind": "cpu", "op": "conv2d", "flops": 1e9},
        {"task": "t2", "kind": "cpu", "op": "dense", "flops": 2e9},
        {"task": "t3", "kind": "cpu", "op": None, "flops": None},
    ])
    ds.append("programs", [{"program": p, "task": t, "encoding": "metaschedule", "trace": "[]", "source": "random"}
                           for p, t in TASK_OF.items()])
    rows = []
    for platform, lat in LATENCIES.items():
        for program, latency in lat.items():
            if latency is None:
                rows.append({"program": program, "platform": platform, "error": "build: out of registers",
                             "repeats_s": [], "measured_at": NOW})
            else:
                # repeats latency*(1, 1, 1) except program b on cpu-a: (1, 2, 3) -> cv = 1/2
                reps = [1.0, 2.0, 3.0] if (platform, program) == ("cpu-a", "b") else [latency] * 3
                rows.append({"program": program, "platform": platform, "latency_s": latency, "repeats_s": reps,
                             "measured_at": NOW})
    ds.append("measurements", rows)
    return ds


@pytest.fixture()
def ds(tmp_path: Path) -> Dataset:
    return make_dataset(tmp_path / "ds")


@pytest.fixture()
def frame(ds: Dataset) -> pd.DataFrame:
    return explore.measurement_frame(ds)


def test_resolve_path_walks_up_to_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert explore.repo_root() == tmp_path.resolve()
    assert explore.resolve_path("data/x") == tmp_path.resolve() / "data" / "x"
    assert explore.resolve_path("/abs/path") == Path("/abs/path")


def test_resolve_path_falls_back_to_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    checkout = Path(explore.__file__).resolve().parents[3]
    if (tmp_path / "pyproject.toml").exists() or any((p / "pyproject.toml").exists() for p in tmp_path.parents):
        pytest.skip("tmp_path lies inside a project")
    assert explore.repo_root() == checkout


def test_open_dataset_errors_name_the_parameter(tmp_path: Path, ds: Dataset) -> None:
    with pytest.raises(explore.ParameterError, match="parameter 'dataset'.*does not exist"):
        explore.open_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(explore.ParameterError, match="parameter 'dataset'.*not a tenset-study dataset"):
        explore.open_dataset(tmp_path / "empty")
    Dataset.create(tmp_path / "nothing")
    with pytest.raises(explore.ParameterError, match="no measurements"):
        explore.open_dataset(tmp_path / "nothing", parameter="other")
    assert explore.open_dataset(ds.root).root == ds.root


def test_table_sizes(ds: Dataset) -> None:
    sizes = explore.table_sizes(ds)
    assert sizes.loc["measurements", "rows"] == 15
    assert sizes.loc["programs", "rows"] == 7
    assert sizes.loc["total", "rows"] == sizes.drop(index="total")["rows"].sum()
    assert sizes.loc["total", "bytes"] == ds.size_bytes()
    assert explore.format_bytes(1536) == "1.5 KiB"


def test_platform_table(ds: Dataset) -> None:
    table = explore.platform_table(ds)
    assert list(table.index) == ["cpu-a", "cpu-b", "gpu-a"]
    assert table.loc["cpu-a", "TVM target"] == "llvm -mcpu=znver5 -num-cores=2"
    assert table.loc["cpu-b", "TVM target"] == "llvm -mcpu=core-avx2"
    assert table.loc["cpu-a", "runner"] == "3 repeats x 1 runs, min 20 ms per repeat, no cache flush"
    assert table.loc["cpu-a", "software"] == "TVM 0.27.0, torch 2.13.0"
    assert table.loc["cpu-a", "recorded (UTC date)"] == "2025-11-21"
    assert "memory (GiB)" not in table.columns  # null for every platform: dropped


def test_tasks_per_network_and_op_mix(ds: Dataset) -> None:
    nets = explore.tasks_per_network(ds)
    assert list(nets.index) == [("net-b1-224", "cpu")]
    assert nets.loc[("net-b1-224", "cpu"), "tasks"] == 2
    assert nets.loc[("net-b1-224", "cpu"), "weight_sum"] == 3
    assert nets.loc[("net-b1-224", "cpu"), "gflops"] == pytest.approx(2 * 1 + 1 * 2)  # weight x GFLOPs
    assert explore.main_kind(ds) == "cpu"
    assert explore.op_mix(ds, kind="gpu").empty
    mix = explore.op_mix(ds)
    assert mix.loc["conv2d", "tasks"] == 1 and mix.loc[explore.UNKNOWN_OP, "tasks"] == 1
    assert mix["task_share"].sum() == pytest.approx(1.0)
    assert mix.loc["conv2d", "flop_share"] == pytest.approx(0.5)  # 2 x 1 GFLOP of 4 GFLOP
    assert mix.loc["dense", "flop_share"] == pytest.approx(0.5)
    assert math.isnan(mix.loc[explore.UNKNOWN_OP, "gflops"])


def test_task_frame_counts_programs(ds: Dataset) -> None:
    tasks = explore.task_frame(ds)
    assert tasks.loc["t1", "programs"] == 4 and tasks.loc["t3", "programs"] == 1
    assert tasks.loc["t3", "op"] == explore.UNKNOWN_OP


def test_measurement_frame(frame: pd.DataFrame) -> None:
    assert len(frame) == 15
    failed = frame[~frame["ok"]]
    assert list(failed["program"]) == ["d"] and failed["error_kind"].iloc[0] == "build"
    row = frame[(frame["program"] == "a") & (frame["platform"] == "cpu-a")].iloc[0]
    assert row["task"] == "t1" and row["op"] == "conv2d" and row["kind"] == "cpu"
    assert row["gflops_per_s"] == pytest.approx(1.0)  # 1e9 FLOP in 1 s


def test_error_kind() -> None:
    assert explore.error_kind("build: LLVM error") == "build"
    assert explore.error_kind("run: timeout after 30 s") == "run timeout"
    assert explore.error_kind("build: LocalBuilder: Timeout, killed after 60.0 seconds") == "build timeout"
    assert explore.error_kind("timeout") == "timeout"
    assert explore.error_kind("a very long sentence without any colon at all") == "a"
    assert explore.error_kind(None) is None


def test_describe_coverage(ds: Dataset, frame: pd.DataFrame) -> None:
    text = explore.describe_coverage(ds, frame)
    assert "cpu-a: 3 of 3 task(s) and 7 of 7 program(s) measured." in text
    assert "gpu-a: 1 of 3 task(s) and 2 of 7 program(s) measured." in text


def test_programs_per_task(frame: pd.DataFrame) -> None:
    counts = explore.programs_per_task(frame).set_index(["platform", "task"])
    assert counts.loc[("cpu-a", "t1"), "measured"] == 4
    assert counts.loc[("cpu-a", "t1"), "ok"] == 3


def test_best_median_gap(frame: pd.DataFrame) -> None:
    gap = explore.best_median_gap(frame).set_index(["platform", "task"])
    # cpu-a, t1: ok latencies 1, 2, 4 (d failed) -> best 1, median 2
    assert gap.loc[("cpu-a", "t1"), "programs"] == 3
    assert gap.loc[("cpu-a", "t1"), "ratio"] == pytest.approx(2.0)
    # cpu-b, t1: 2, 1, 3, 6 -> best 1, median 2.5
    assert gap.loc[("cpu-b", "t1"), "ratio"] == pytest.approx(2.5)
    # cpu-a, t2: 1, 3 -> median 2
    assert gap.loc[("cpu-a", "t2"), "ratio"] == pytest.approx(2.0)
    assert gap.loc[("cpu-a", "t3"), "ratio"] == pytest.approx(1.0)
    by_op = explore.gap_by_op(gap.reset_index())
    assert ("cpu-a", explore.UNKNOWN_OP) not in by_op.index  # t3 has one program only
    assert by_op.loc[("cpu-b", "conv2d"), "median"] == pytest.approx(2.5)
    assert "median program is 2.00x slower" in explore.describe_gap(gap.reset_index())


def test_failure_rates_and_kinds(frame: pd.DataFrame) -> None:
    rates = explore.failure_rates(frame)
    assert rates.loc["cpu-a", "measurements"] == 7
    assert rates.loc["cpu-a", "failed"] == 1
    assert rates.loc["cpu-a", "failure_rate"] == pytest.approx(1 / 7)
    assert rates.loc["cpu-b", "failure_rate"] == 0
    kinds = explore.error_kinds(frame)
    assert kinds.loc["cpu-a", "build"] == 1 and kinds.loc["gpu-a", "build"] == 0


def test_repeat_cv(ds: Dataset) -> None:
    cv = explore.repeat_cv(ds).set_index(["platform", "program"])
    assert len(cv) == 14  # the failed measurement is left out
    # repeats 1, 2, 3: mean 2, sample std 1 -> cv 0.5
    assert cv.loc[("cpu-a", "b"), "cv"] == pytest.approx(0.5)
    assert cv.loc[("cpu-a", "b"), "mean_s"] == pytest.approx(2.0)
    assert cv.loc[("cpu-a", "a"), "cv"] == pytest.approx(0.0)
    assert explore.repeat_cv(ds, ddof=0).set_index(["platform", "program"]).loc[("cpu-a", "b"), "cv"] == \
        pytest.approx(np.sqrt(2 / 3) / 2)
    summary = explore.cv_summary(cv.reset_index())
    assert summary.loc["cpu-a", "measurements"] == 6
    assert summary.loc["cpu-a", "cv_mean"] == pytest.approx(0.5 / 6)


def test_cross_platform_agreement(frame: pd.DataFrame) -> None:
    assert explore.comparable_platforms(frame) == {"cpu": ["cpu-a", "cpu-b"]}
    agreement = explore.cross_platform_agreement(frame).set_index("task")
    assert set(agreement.index) == {"t1", "t2"}  # t3 was measured on cpu-a only
    # t1, programs a, b, c (d failed on cpu-a): ranks (1, 2, 3) vs (2, 1, 3) -> 1 - 6 * 2 / (3 * 8) = 0.5
    assert agreement.loc["t1", "programs"] == 3
    assert agreement.loc["t1", "spearman"] == pytest.approx(0.5)
    assert not agreement.loc["t1", "same_best"]
    assert agreement.loc["t1", "regret_b"] == pytest.approx(2.0)  # a is best on cpu-a, 2 s on cpu-b, best 1 s
    # t2: e, f in opposite order
    assert agreement.loc["t2", "spearman"] == pytest.approx(-1.0)
    summary = explore.agreement_summary(agreement.reset_index())
    assert summary["tasks"].iloc[0] == 2 and summary["same_best"].iloc[0] == 0
    assert summary["spearman_median"].iloc[0] == pytest.approx(-0.25)


def test_spearman_matches_pandas_on_random_data() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for task in range(5):
        for program in range(20):
            lat = rng.lognormal()
            rows += [{"program": f"{task}-{program}", "platform": p, "kind": "cpu", "task": f"t{task}", "op": "x",
                      "ok": True, "latency_s": lat * rng.lognormal(sigma=0.5)} for p in ("p", "q")]
    frame = pd.DataFrame(rows)
    agreement = explore.cross_platform_agreement(frame).set_index("task")
    for task, g in frame.groupby("task"):
        wide = g.pivot(index="program", columns="platform", values="latency_s").rank()
        expected = np.corrcoef(wide["p"], wide["q"])[0, 1]
        assert agreement.loc[task, "spearman"] == pytest.approx(expected)


def test_no_comparison_with_one_platform_per_kind(frame: pd.DataFrame) -> None:
    single = frame[frame["platform"] != "cpu-b"]
    assert explore.comparable_platforms(single) == {}
    assert explore.cross_platform_agreement(single).empty


def test_plots_return_figures(ds: Dataset, frame: pd.DataFrame) -> None:
    explore.setup_notebook()
    gap = explore.best_median_gap(frame)
    figures = [
        explore.plot_op_mix(explore.op_mix(ds)),
        explore.plot_flops_by_op(explore.task_frame(ds)),
        explore.plot_latency_by_platform(frame),
        explore.plot_programs_per_task(explore.programs_per_task(frame)),
        explore.plot_best_median_gap(gap),
        explore.plot_failures(explore.error_kinds(frame), explore.failure_rates(frame)),
        explore.plot_repeat_cv(explore.repeat_cv(ds)),
        explore.plot_cross_platform(explore.cross_platform_agreement(frame)),
        explore.plot_agreement_matrix(pd.concat([explore.cross_platform_agreement(frame), explore.self_agreement(ds)])),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            assert ax.get_title(), "every axes has a title"
            assert ax.get_xlabel() and ax.get_ylabel(), "every axes has labelled axes"


def test_plots_survive_empty_inputs(frame: pd.DataFrame) -> None:
    empty = frame.iloc[0:0]
    explore.plot_latency_by_platform(empty)
    explore.plot_best_median_gap(explore.best_median_gap(empty))
    explore.plot_cross_platform(explore.cross_platform_agreement(empty))
    explore.plot_agreement_matrix(explore.cross_platform_agreement(empty))
    explore.plot_flops_by_op(pd.DataFrame({"op": ["x"], "flops": [np.nan]}))


def test_program_set_coverage_finds_missing_programs(tmp_path) -> None:
    import shutil

    from tenset_study.data.dataset import Dataset
    from tenset_study.book.explore import program_set_coverage

    root = tmp_path / "ds"
    shutil.copytree(MINI_DATASET, root, ignore=shutil.ignore_patterns(".cache"))
    ds = Dataset.open(root)
    coverage = program_set_coverage(ds)
    assert coverage["complete"].all(), coverage
    programs = ds.to_pandas("programs", columns=["program", "task"]).merge(
        ds.to_pandas("tasks", columns=["task", "kind"]), on="task")
    for platform, row in coverage.iterrows():
        of_kind = programs[programs["kind"] == row["kind"]]
        assert row["tasks_measured"] == of_kind["task"].nunique()
        assert row["median_programs_per_task"] == of_kind.groupby("task").size().median()
    # one program more on the CPU side, measured nowhere: every CPU platform now lacks it
    tasks = ds.to_pandas("tasks")
    cpu_task = tasks[tasks["kind"] == "cpu"]["task"].iloc[0]
    ds.append("programs", [{"program": "extra", "task": cpu_task, "encoding": "metaschedule", "trace": "[]",
                            "source": "random"}])
    coverage = program_set_coverage(ds)
    assert (coverage.loc[coverage["kind"] == "cpu", "missing"] == 1).all()
    assert coverage.loc[coverage["kind"] == "gpu", "complete"].all()


def _synthetic_agreement_frame(tasks: int = 12, programs: int = 24, seed: int = 0) -> pd.DataFrame:
    """Latencies of the same programs on five platforms: ``x`` and its re-measurement ``x2``; ``y`` (and ``y2``),
    which ranks like ``x`` up to measurement noise; ``z`` (and ``z2``), which ranks by other rules."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(tasks):
        base, other = rng.lognormal(0, 1, programs), rng.lognormal(0, 1, programs)
        for platform, truth in (("x", base), ("x2", base), ("y", base), ("y2", base), ("z", other), ("z2", other)):
            noisy = truth * rng.lognormal(0, 0.05, programs)
            rows += [{"program": f"t{t}p{p}", "task": f"t{t}", "op": "conv2d", "platform": platform, "kind": "cpu",
                      "latency_s": float(v), "ok": True} for p, v in enumerate(noisy)]
    return pd.DataFrame(rows)


def test_configurations_that_rank_like_a_re_measurement_are_redundant() -> None:
    from tenset_study.book.exploration.agreement import (
        agreement_matrix,
        cross_platform_agreement,
        redundant_configurations,
    )

    agreement = cross_platform_agreement(_synthetic_agreement_frame())
    matrix = agreement_matrix(agreement)
    assert list(matrix.index) == ["x", "x2", "y", "y2", "z", "z2"] and matrix.isna().values.diagonal().all()
    assert (matrix == matrix.T).where(matrix.notna(), True).all().all()
    assert matrix.loc["x", "x2"] > 0.95 and matrix.loc["x", "z"] < 0.5
    verdict = redundant_configurations(agreement, {"x": "x2", "y": "y2", "z": "z2"}).set_index(
        ["platform_a", "platform_b"])
    assert not verdict.loc[("x", "y"), "distinct"], "y is x measured again"
    assert verdict.loc[("x", "z"), "distinct"] and verdict.loc[("y", "z"), "distinct"]
    assert verdict.loc[("x", "z"), "gap_low"] > 0 and verdict["tasks"].eq(12).all()


def test_hardware_gaps_name_each_missing_feature_and_why(tmp_path) -> None:
    import json
    import shutil

    root = tmp_path / "ds"
    shutil.copytree(MINI_DATASET, root, ignore=shutil.ignore_patterns(".cache"))
    ds = Dataset.open(root)
    platforms = ds.to_pandas("platforms").drop_duplicates("platform", keep="last")
    cpu = platforms[platforms["kind"] == "cpu"].iloc[0].copy()
    cpu["platform"], cpu["memory_bandwidth_gbs"], cpu["clock_mhz"] = "cpu-gaps", None, None
    sources = json.loads(cpu["features_source"])
    sources["clock_mhz"] = "lscpu (CPU MHz, absent under many hypervisors)"
    cpu["features_source"] = json.dumps(sources)
    ds.append("platforms", [{k: None if not isinstance(v, str) and pd.isna(v) else v for k, v in cpu.items()}])
    gaps = explore.hardware_gaps(Dataset.open(root)).set_index(["platform", "feature"])
    assert "not measured yet: tenset-study probe-platform" in gaps.loc[("cpu-gaps", "memory_bandwidth_gbs"), "reason"]
    assert gaps.loc[("cpu-gaps", "clock_mhz"), "reason"].startswith("lscpu (CPU MHz, absent"), "the collector's note"
    kinds = dict(zip(platforms["platform"], platforms["kind"]))
    for (platform, feature), _ in gaps.iterrows():
        kind = "cpu" if platform == "cpu-gaps" else kinds[platform]
        assert feature in explore.HARDWARE_FEATURES[kind], "only features of the platform's kind are asked for"
        value = Dataset.open(root).to_pandas("platforms").drop_duplicates("platform", keep="last").set_index(
            "platform").loc[platform, feature]
        assert pd.isna(value), f"{platform} has {feature}"


def test_self_agreement_is_one_repeat_ranked_against_another(ds: Dataset) -> None:
    from scipy.stats import spearmanr

    itself = explore.self_agreement(ds)
    assert (itself["platform_a"] == itself["platform_b"]).all() and itself["kind"].notna().all()
    row = itself.iloc[len(itself) // 2]
    meas = ds.to_pandas("measurements", columns=["program", "platform", "repeats_s", "error"])
    meas = meas[(meas["platform"] == row["platform_a"]) & meas["error"].isna()].merge(
        ds.to_pandas("programs", columns=["program", "task"]), on="program")
    meas = meas[(meas["task"] == row["task"]) & meas["repeats_s"].map(len).ge(2)]
    expected = spearmanr(meas["repeats_s"].map(lambda r: r[0]), meas["repeats_s"].map(lambda r: r[1]))[0]
    assert row["spearman"] == pytest.approx(expected) and row["programs"] == len(meas)
    matrix = explore.agreement_matrix(pd.concat([explore.cross_platform_agreement(explore.measurement_frame(ds)),
                                                 itself]))
    assert matrix.notna().values.diagonal().all(), "the diagonal is each platform against itself"


def test_neighbour_effect_on_the_committed_configurations_pilot():
    """The pilot behind timing CPU configurations one after another: side by side, a configuration's
    latencies move far more than between two measurements of it one after another."""
    from pathlib import Path

    from tenset_study.book.exploration import measurement_frame, neighbour_effect
    from tenset_study.data import Dataset

    frame = measurement_frame(Dataset.open(Path(__file__).resolve().parents[1] / "data/pilots/cpu-configurations"))
    side = neighbour_effect(frame, "pilot-side", "pilot-alone").set_index("configuration")
    again = neighbour_effect(frame, "pilot-b", "pilot-a").set_index("configuration")
    assert list(side.index) == ["1c-avx512", "3c-avx512"] and (side["programs"] == 177).all()
    assert (side["ratio_median"] > 1.5).all()
    assert again["ratio_median"].between(0.75, 1.25).all()
    assert side.loc["1c-avx512", "spearman"] < again.loc["1c-avx512", "spearman"]
    assert neighbour_effect(frame, "pilot-side", "no-such-prefix").empty
