"""Hardware probes of a CPU platform: the triad runs for real on this machine's cores."""

import json
import os

import pytest

from tenset_study.collect import platforms, probes


def test_peak_flops_formula() -> None:
    assert probes.peak_gflops_fp32(2000.0, 4, 512, fma=True) == 2.0 * 4 * 16 * 2 * 2
    assert probes.peak_gflops_fp32(2000.0, 4, 512, fma=False) == 2.0 * 4 * 16 * 2
    assert probes.peak_gflops_fp32(None, 4, 512, fma=True) is None
    assert probes.peak_gflops_fp32(2000.0, 4, None, fma=True) is None


def test_triad_arrays_are_four_times_the_last_level_cache() -> None:
    assert probes.triad_array_mib(300.0) == 1200.0
    assert probes.triad_array_mib(None) == probes.triad_array_mib(1.0) == 64.0


@pytest.fixture(scope="module")
def row() -> dict:
    core = max(os.sched_getaffinity(0))
    return platforms.cpu_platform({"kind": "llvm", "num-cores": 1}, {"measure_cores": str(core)})


def test_a_failing_probe_leaves_the_feature_null_and_says_why(row) -> None:
    probed = probes.fill_cpu_probes(row, [10**6])
    assert probed["memory_bandwidth_gbs"] is None
    reason = json.loads(probed["features_source"])["memory_bandwidth_gbs"]
    assert reason.startswith("not measured: triad probe on cores [1000000] failed")


def test_probe_platform_fills_an_existing_row_of_this_processor_and_refuses_others(row, tmp_path) -> None:
    from tenset_study.cli import main
    from tenset_study.data import Dataset

    ds = Dataset.create(tmp_path / "ds")
    ds.append("platforms", [row, row | {"platform": "elsewhere", "model": "Some Other CPU"}])
    core = max(os.sched_getaffinity(0))
    assert main(["probe-platform", "--dataset", str(ds.root), "--platform", row["platform"],
                 "--cores", str(core)]) == 0
    filled = ds.to_pandas("platforms").set_index("platform").loc[row["platform"]]
    readings = json.loads(filled["readings"])
    assert len(readings["triad"]["processes_gbs"]) == 3
    assert filled["memory_bandwidth_gbs"] == sorted(readings["triad"]["processes_gbs"])[1] > 0
    assert readings["triad"]["threads"] == 1 and readings["triad"]["array_mib"] == probes.triad_array_mib(row["l3_mib"])
    assert filled["clock_mhz"] > 0 and filled["peak_gflops_fp32"] > 0 and "probed_later" in readings
    sources = json.loads(filled["features_source"])
    assert sources["memory_bandwidth_gbs"].startswith("measured") and sources["peak_gflops_fp32"].startswith("formula")
    assert not ds.validate()
    with pytest.raises(ValueError, match="elsewhere is Some Other CPU"):
        probes.probe_platform(ds, "elsewhere")
    with pytest.raises(ValueError, match="has no platform 'nowhere'"):
        probes.probe_platform(ds, "nowhere")
    with pytest.raises(ValueError, match="runs 1 threads; got cores"):
        probes.probe_platform(ds, row["platform"], [0, 1])
