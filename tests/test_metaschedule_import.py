"""Importing a MetaSchedule JSON database (tests/data/metaschedule_db, made by a tiny ``ms.tune_tir``).

The database was generated once with a 64x64x64 matmul (te), ``max_trials_global=8``,
``cost_model="random"``, LocalBuilder/LocalRunner on this machine (target ``llvm -num-cores 2``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tenset_study.data.dataset import Dataset, program_id

DB = Path(__file__).parent / "data" / "metaschedule_db"


@pytest.fixture(scope="module")
def ms():
    from tenset_study.programs.tvm_setup import prepare_tvm

    prepare_tvm("cpu")
    from tvm.s_tir import meta_schedule

    return meta_schedule


def _db_records(ms, folder: Path = DB):
    db = ms.database.JSONDatabase(path_workload=str(folder / "database_workload.json"),
                                  path_tuning_record=str(folder / "database_tuning_record.json"))
    return db.get_all_tuning_records()


def test_trace_json_is_canonical(ms):
    from tenset_study.importers.metaschedule import trace_json

    records = _db_records(ms)
    assert len(records) == 8
    texts = [trace_json(r.trace) for r in records]
    for text in texts:
        assert json.dumps(json.loads(text), separators=(",", ":")) == text  # compact, plain JSON
        assert '"Split"' in text and "true" in text  # bool attributes stay booleans
    # decoding the stored line again gives the same text
    again = _db_records(ms)
    assert [trace_json(r.trace) for r in again] == texts


def test_trace_json_gives_the_text_of_tvms_own_as_json(ms):
    """The one-pass walk in trace_json writes what Trace.as_json + plain_json write, for CPU traces and for
    CUDA traces (thread bindings, float annotations), so program ids do not depend on the path taken."""
    import tvm
    from tvm import te
    from tvm.s_tir.meta_schedule.testing import te_workload

    from tenset_study.collect.sampling import DesignSpace
    from tenset_study.programs.traces import plain_json, trace_json

    def reference(trace) -> str:
        return json.dumps(plain_json(trace.as_json(remove_postproc=False)), separators=(",", ":"))

    traces = [r.trace for r in _db_records(ms)]
    # sm_60: no tensor-core rules, so the CUDA intrinsics need not be registered (seconds); no GPU is used
    cuda = tvm.target.Target({"kind": "cuda", "arch": "sm_60", "max_threads_per_block": 1024,
                              "max_shared_memory_per_block": 49152, "thread_warp_size": 32}, host={"kind": "llvm"})
    mod = tvm.IRModule({"main": te.create_prim_func(te_workload.matmul(128, 128, 128))})
    space = DesignSpace.of(mod, cuda, seed=1)
    sampled = [space.sample(seed) for seed in range(30)]
    gpu = [sch.trace for sch in sampled if sch is not None]
    assert gpu, "no CUDA program sampled"
    for trace in traces + gpu:
        assert trace_json(trace) == reference(trace)
    assert any('"threadIdx.x"' in trace_json(trace) for trace in gpu)


def test_import_round_trip(ms, tmp_path):
    from tenset_study.importers.metaschedule import import_metaschedule, trace_json
    from tenset_study.programs.workload import load_workload, workload_hash

    report = import_metaschedule(DB, tmp_path / "ds", progress=False)
    assert report.records == 8 and report.programs == 8 and report.malformed_count == 0 and report.tasks == 1
    ds = Dataset.open(tmp_path / "ds")
    assert not ds.validate()
    (task,) = ds.read("tasks").to_pylist()
    assert task["workload_format"] == "tvm-ir-json" and task["kind"] == "cpu"
    assert task["arg_shapes"] == "[[64, 64], [64, 64], [64, 64]]" and task["flops"] == 2 * 64**3
    records = _db_records(ms)
    import tvm

    tvm.ir.assert_structural_equal(load_workload(task["workload"]), records[0].workload.mod)
    assert workload_hash(load_workload(task["workload"])) == workload_hash(records[0].workload.mod)
    (platform,) = ds.read("platforms").to_pylist()
    assert platform["platform"] == "llvm-x86_64-2c" and platform["cores"] == 2
    assert json.loads(platform["target"])["kind"] == "llvm"
    programs = {r["program"]: r for r in ds.read("programs").to_pylist()}
    for r in records:
        pid = program_id(task["task"], trace_json(r.trace))
        assert programs[pid]["encoding"] == "metaschedule" and programs[pid]["source"] == "database"
    measured = ds.read("measurements").to_pylist()
    assert all(m["error"] is None and m["latency_s"] > 0 and m["repeats_s"] for m in measured)
    assert sorted(m["latency_s"] for m in measured) == pytest.approx(
        sorted(sum(float(s) for s in r.run_secs) / len(r.run_secs) for r in records))
    again = import_metaschedule(DB, tmp_path / "ds", progress=False)
    assert again.records == 0 and again.already_present == 8 and ds.count("measurements") == 8


def test_bad_lines_and_failures(ms, tmp_path):
    from tenset_study.importers.metaschedule import import_metaschedule

    work = tmp_path / "work"
    shutil.copytree(DB, work)
    records_file = work / "database_tuning_record.json"
    lines = records_file.read_text().splitlines()
    good = json.loads(lines[0])
    failed = [good[0], [good[1][0], [1e10], *good[1][2:]]]
    second = json.loads(lines[1])
    not_run = [second[0], [second[1][0], None, *second[1][2:]]]
    broken_trace = json.loads(lines[2])
    broken_trace[1][0][0][0][0] = "NoSuchInstruction"
    bad = [
        "{not json",
        json.dumps([0]),
        json.dumps([5, good[1]]),
        json.dumps([good[0], [good[1][0], ["slow"], *good[1][2:]]]),
        json.dumps(broken_trace),
    ]
    # the failures replace two good lines (same programs), the bad lines come after
    content = [json.dumps(failed), json.dumps(not_run), *lines[2:], *bad]
    records_file.write_text("\n".join(content) + "\n")
    report = import_metaschedule(work, tmp_path / "ds", platform="my-machine", progress=False)
    print(report.summary())
    assert report.malformed_count == len(bad)
    first_bad = len(content) - len(bad) + 1
    assert sorted(line for _, line, _ in report.malformed) == list(range(first_bad, len(content) + 1))
    assert all(file == str(records_file) for file, _, _ in report.malformed)
    reasons = dict((line, reason) for _, line, reason in report.malformed)
    assert "invalid JSON" in reasons[first_bad] and "workload index 5" in reasons[first_bad + 2]
    assert "run_secs" in reasons[first_bad + 3] and "trace does not apply" in reasons[first_bad + 4]
    assert report.records == 8 and report.failures == 2 and report.duplicates == 0
    ds = Dataset.open(tmp_path / "ds")
    assert not ds.validate()
    errors = [m for m in ds.read("measurements").to_pylist() if m["error"]]
    assert len(errors) == 2 and all(m["latency_s"] is None and m["repeats_s"] is None for m in errors)
    assert {m["platform"] for m in ds.read("measurements").to_pylist()} == {"my-machine"}


def test_missing_files(tmp_path):
    from tenset_study.importers.metaschedule import import_metaschedule

    with pytest.raises(FileNotFoundError, match="database_workload.json"):
        import_metaschedule(tmp_path, tmp_path / "ds", progress=False)


def test_duplicates_inside_the_database(ms, tmp_path):
    from tenset_study.importers.metaschedule import import_metaschedule

    work = tmp_path / "work"
    shutil.copytree(DB, work)
    records_file = work / "database_tuning_record.json"
    lines = records_file.read_text().splitlines()
    records_file.write_text("\n".join(lines + lines[:3]) + "\n")
    report = import_metaschedule(work, tmp_path / "ds", progress=False)
    assert report.records == 8 and report.duplicates == 3 and report.already_present == 0


def test_run_secs_that_give_no_latency(ms, tmp_path):
    """All-zero run seconds: the program is kept, no measurement; NaN, infinite, negative or zero beside others:
    malformed. Blank lines are counted, and every line is accounted for."""
    from tenset_study.importers.metaschedule import import_metaschedule

    work = tmp_path / "work"
    shutil.copytree(DB, work)
    records_file = work / "database_tuning_record.json"
    lines = records_file.read_text().splitlines()
    good = json.loads(lines[0])
    odd = [[0.0, 0.0], [float("nan")], [float("inf")], [-1e-5], [0.0, 2e-5]]
    content = [json.dumps([good[0], [good[1][0], secs, *good[1][2:]]]) for secs in odd]
    records_file.write_text("\n".join([*content, "", *lines[1:], "[" * 5000]) + "\n")
    report = import_metaschedule(work, tmp_path / "ds", progress=False)
    assert report.not_measured == 1 and report.records == len(lines) - 1 and report.comment_lines == 1
    assert sorted(line for _, line, _ in report.malformed) == [2, 3, 4, 5, len(content) + len(lines) + 1]
    reasons = {line: reason for _, line, reason in report.malformed}
    assert "finite and not negative" in reasons[2] and "a run of 0 s" in reasons[5]
    assert "invalid JSON" in reasons[len(content) + len(lines) + 1]
    assert report.lines == report.accounted_lines == len(content) + len(lines) + 1 + 1  # + the workload line
    ds = Dataset.open(tmp_path / "ds")
    assert ds.count("programs") == len(lines) and ds.count("measurements") == len(lines) - 1
    assert all(m["latency_s"] > 0 for m in ds.read("measurements").to_pylist())
