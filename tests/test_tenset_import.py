"""The TenSet reader and importer: real logs, bad lines, failures, idempotence, folders, network_info."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tenset_study.importers.tenset import chunk as tenset_chunk
from tenset_study.cli import main as cli_main
from tenset_study.data.dataset import Dataset, program_id, task_id
from tenset_study.importers.tenset.importer import import_tenset, read_tenset_log
from tenset_study.importers.tenset.log import MalformedRecord, parse_line
from tenset_study.importers.tenset.network_info import (StubUnpickler, load_pickle, parse_task_filename,
                                                        read_network_info)
from tenset_study.importers.tenset.platforms import TENSET_PLATFORMS, derived_platform_id
from tenset_study.importers.tenset.workload import target_kind, task_row

DATA = Path(__file__).parent / "data"
SMALL = DATA / "tenset_small.json"
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "tenset-format"
LLVM_LOG = SHARED / "resnet-50-NHWC-B1-llvm.json"
CUDA_LOG = SHARED / "resnet-18-NHWC-B1-cuda.json"


def shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared TenSet-format logs are not part of the project)")
    return path


def rows(ds: Dataset, table: str) -> list[dict]:
    return ds.read(table).to_pylist()


# --- the reader ------------------------------------------------------------------------------------


def test_reads_real_llvm_log():
    records = list(read_tenset_log(shared(LLVM_LOG)))
    assert len(records) == 26
    assert len({r.task.workload_key for r in records}) == 26
    assert {r.version for r in records} == {"v0.5"}
    assert all(r.task.input_names is None and r.task.hardware_params[0] == 8 for r in records)
    assert all(r.error_no == 0 and len(r.costs) == 10 for r in records)
    first = LLVM_LOG.read_text().splitlines()
    assert first[0].startswith("#") and first[1].startswith("#")  # the comment lines were skipped


def test_reads_real_cuda_log():
    records = list(read_tenset_log(shared(CUDA_LOG)))
    assert len({r.task.workload_key for r in records}) == 24
    assert all(target_kind(r.task.target) == "gpu" for r in records)
    codes = {step[0] for r in records for step in r.steps}
    assert {"CHR", "FFSP", "AN"} <= codes


def test_reader_reports_or_raises(tmp_path):
    log = tmp_path / "log.json"
    good = SMALL.read_text().splitlines()[2]
    log.write_text(f"{good}\n{{oops\n{good}\n")
    with pytest.raises(MalformedRecord, match=r"log.json:2: invalid JSON"):
        list(read_tenset_log(log))
    errors = []
    assert len(list(read_tenset_log(log, on_error=lambda *e: errors.append(e)))) == 2
    assert errors[0][:2] == (str(log), 2)


# --- importing a log file --------------------------------------------------------------------------


def test_import_real_log_with_the_cli(tmp_path, capsys):
    dest = tmp_path / "ds"
    assert cli_main(["import-tenset", str(shared(LLVM_LOG)), str(dest), "--quiet"]) == 0
    assert "imported 26 measurement(s)" in capsys.readouterr().out
    ds = Dataset.open(dest)
    assert ds.summary()["tasks"] == 26 and ds.summary()["programs"] == 26 and ds.summary()["measurements"] == 26
    assert not ds.validate()
    (platform,) = rows(ds, "platforms")
    assert platform["platform"] == "llvm-core-avx2-8c" and platform["cores"] == 8 and platform["kind"] == "cpu"
    assert "hardware_params" in platform["features_source"]
    # every stored row agrees with the slow, thorough reader
    measured = {r["program"]: r for r in rows(ds, "measurements")}
    programs = {r["program"]: r for r in rows(ds, "programs")}
    for record in read_tenset_log(LLVM_LOG):
        task = task_id(record.task.workload_key, "cpu")
        pid = program_id(task, record.trace())
        assert programs[pid]["trace"] == record.trace() and programs[pid]["task"] == task
        assert programs[pid]["encoding"] == "ansor" and programs[pid]["source"] == "tenset"
        assert measured[pid]["repeats_s"] == record.costs
        assert measured[pid]["latency_s"] == pytest.approx(record.latency_s, rel=1e-12)
        assert measured[pid]["measured_at"].timestamp() == record.timestamp
    task = rows(ds, "tasks")[0]
    assert task["workload_format"] == "ansor-workload-key" and json.loads(task["target"]) == {"kind": "llvm"}


def test_import_real_cuda_log(tmp_path):
    report = import_tenset(shared(CUDA_LOG), tmp_path / "ds", progress=False)
    assert report.records == 24 and report.tasks == 24 and report.malformed_count == 0
    (platform,) = rows(Dataset.open(tmp_path / "ds"), "platforms")
    assert platform["kind"] == "gpu" and platform["max_threads_per_block"] == 1024
    assert platform["warp_size"] == 32 and platform["max_shared_memory_per_block"] == 49152


def test_old_log_versions_are_read(tmp_path):
    ds_path = tmp_path / "ds"
    for name in ("conv2d.json", "matmul.json"):
        report = import_tenset(shared(SHARED / name), ds_path, progress=False)
        assert report.records == 1 and report.malformed_count == 0
    tasks = {r["task_name"]: r for r in rows(Dataset.open(ds_path), "tasks")}
    assert tasks["conv2d_layer"]["op"] == "conv2d" and tasks["conv2d_layer"]["kind"] == "gpu"
    assert tasks["matmul_add"]["op"] == "dense" and tasks["matmul_add"]["bytes"] is None


def test_small_log_failures_duplicates_and_slow_path(tmp_path):
    report = import_tenset(SMALL, tmp_path / "ds", progress=False)
    assert report.malformed_count == 0 and report.comment_lines == 3
    assert report.records == 5 and report.duplicates == 1 and report.failures == 1
    ds = Dataset.open(tmp_path / "ds")
    assert not ds.validate()
    failed = [r for r in rows(ds, "measurements") if r["error"] is not None]
    assert len(failed) == 1 and failed[0]["error"] == "RUN_TIMEOUT"
    assert failed[0]["latency_s"] is None and failed[0]["repeats_s"] is None
    # the record written with compact separators and another key order went through the slow path
    # and got the same canonical trace as a line the writer made
    lines = [json.loads(x) for x in SMALL.read_text().splitlines() if x.startswith("{")]
    traces = {r["trace"] for r in rows(ds, "programs")}
    for obj in lines:
        assert orjson.dumps(obj["i"][1][1]).decode() in traces
    # a TenSet model name in the target gives that machine's public specs
    (platform,) = rows(ds, "platforms")
    assert platform["platform"] == "e5-2673" and platform["cores"] == 8 and platform["vector_bits"] == 256
    assert json.loads(platform["readings"])["hardware_params"] == [8, 64, 64, 0, 0, 0, 0, 0]
    # nested shapes in a workload key give shapes and bytes (float32 assumed)
    nested = [t for t in rows(ds, "tasks") if t["arg_shapes"]]
    assert len(nested) == 1 and nested[0]["bytes"] == 4 * (512 + 512000 + 1000 + 1000)


def test_bad_lines_are_reported_and_the_rest_imported(tmp_path):
    good = [x for x in SMALL.read_text().splitlines() if x.startswith('{"i"')]
    line = good[0]
    obj = json.loads(line)
    bad = {
        "truncated JSON": line[: len(line) // 2],
        "not a record": json.dumps([1, 2, 3]),
        "wrong structure": json.dumps({**obj, "i": 5}),
        "missing field": json.dumps({k: v for k, v in obj.items() if k != "v"}),
        "non-numeric costs": line.replace('"r": [[1.5e-05', '"r": [["fast"'),
        "unsupported version": line.replace('"v": "v0.6"', '"v": "v9.9"'),
        "bad error code": json.dumps({**obj, "r": [[1e-05], 12, 0.1, 1606960872]}),
        "bad step": json.dumps({**obj, "i": [obj["i"][0], [[], [[3, 4]]]]}),
        "bad task": json.dumps({**obj, "i": [[1, 2], obj["i"][1]]}),
        "two records run together": line[:300] + line,
        "garbage": "hello world",
    }
    content = [good[0]]
    expected = {}
    for reason, text in bad.items():
        content.append(text)
        expected[len(content)] = reason
    content.append(good[-1])
    log = tmp_path / "bad.json"
    log.write_text("\n".join(content) + "\n")
    report = import_tenset(log, tmp_path / "ds", progress=False)
    assert report.records == 2
    assert report.malformed_count == len(bad)
    assert {line for _, line, _ in report.malformed} == set(expected)
    assert all(file == str(log) for file, _, _ in report.malformed)
    reasons = {line: reason for _, line, reason in report.malformed}
    assert "unsupported log version 'v9.9'" in reasons[7] and "v0.6" in reasons[7]
    assert "missing field(s) v" in reasons[5]
    assert "costs" in reasons[6] and "error_no" in reasons[8]
    assert f"{log}:{min(expected)}:" in report.summary()
    assert not Dataset.open(tmp_path / "ds").validate()


def test_reimport_is_idempotent(tmp_path):
    first = import_tenset(SMALL, tmp_path / "ds", progress=False)
    ds = Dataset.open(tmp_path / "ds")
    before = {t: ds.read(t).sort_by([(c, "ascending") for c in ds.read(t).column_names[:1]]) for t in
              ("programs", "measurements")}
    second = import_tenset(SMALL, tmp_path / "ds", progress=False)
    assert second.records == 0 and second.programs == 0
    assert second.already_present == first.records and second.duplicates == first.duplicates
    assert ds.count("programs") == before["programs"].num_rows
    assert ds.count("measurements") == before["measurements"].num_rows
    assert ds.summary()["tasks"] == 2 and ds.summary()["platforms"] == 1
    assert not ds.validate()


def test_platform_option_for_a_loose_file(tmp_path):
    import_tenset(SMALL, tmp_path / "ds", platform="t4", progress=False)
    (platform,) = rows(Dataset.open(tmp_path / "ds"), "platforms")
    assert platform["platform"] == "t4" and platform["sm_count"] == 40  # TenSet's T4: public specs


def test_program_ids_match_the_dataset_definition():
    data = SMALL.read_bytes()

    def resolve(text, task):
        return 0

    chunk = tenset_chunk.split_lines(data, 0, resolve, lambda *a: pytest.fail(str(a)))
    assert chunk.lines == len(data.splitlines()) and chunk.comment_lines == 3
    for raw, line in zip(chunk.raws, [x for x in data.splitlines() if x.startswith(b"{")]):
        record = parse_line(line)
        assert tenset_chunk.canonical_steps(raw) == record.trace().encode()


# --- TenSet folders --------------------------------------------------------------------------------


def _tenset_folder(root: Path, platforms: tuple[str, ...]) -> int:
    """measure_records/<platform>/<task>.json from the real llvm log: one file per task and platform."""
    by_key: dict[str, list[dict]] = {}
    for line in shared(LLVM_LOG).read_text().splitlines():
        if line.startswith("{"):
            obj = json.loads(line)
            by_key.setdefault(obj["i"][0][0], []).append(obj)
    for p_i, platform in enumerate(platforms):
        folder = root / "measure_records" / platform
        folder.mkdir(parents=True)
        for key, objs in by_key.items():
            name = "(" + key.replace(" ", "").replace('"', "") + ",llvm).json"
            with open(folder / name, "w") as f:
                for obj in objs:
                    obj = json.loads(json.dumps(obj))
                    obj["i"][0][1] += f" -model={platform}"
                    obj["r"][0] = [c * (1 + p_i) for c in obj["r"][0]]
                    f.write(json.dumps(obj) + "\n")
    return len(by_key)


@pytest.mark.parametrize("jobs", [1, 2])
def test_tenset_folder_two_platforms(tmp_path, jobs):
    n_tasks = _tenset_folder(tmp_path / "tenset", ("e5-2673", "platinum-8272"))
    report = import_tenset(tmp_path / "tenset", tmp_path / "ds", jobs=jobs, progress=False)
    assert report.files == 2 * n_tasks and report.records == 2 * n_tasks and report.malformed_count == 0
    assert report.platforms == ["e5-2673", "platinum-8272"]
    ds = Dataset.open(tmp_path / "ds")
    assert not ds.validate()
    assert ds.count("programs") == n_tasks  # the same programs on both machines, written once
    assert ds.count("measurements") == 2 * n_tasks
    platforms = {r["platform"]: r for r in rows(ds, "platforms")}
    assert set(platforms) == {"e5-2673", "platinum-8272"}
    for name, row in platforms.items():
        spec = TENSET_PLATFORMS[name]
        assert row["target"] == spec["target"] and row["cores"] == spec["cores"]
        assert row["peak_gflops_fp32"] > 0 and row["memory_bandwidth_gbs"] > 0 and row["l3_mib"] > 0
        assert "public spec" in row["features_source"]
        assert f"-model={name}" in json.loads(row["readings"])["target"]
    assert platforms["platinum-8272"]["vector_bits"] == 512
    again = import_tenset(tmp_path / "tenset", tmp_path / "ds", jobs=jobs, progress=False)
    assert again.records == 0 and again.already_present == 2 * n_tasks


def test_folder_one_platform_only(tmp_path):
    _tenset_folder(tmp_path / "tenset", ("e5-2673", "platinum-8272"))
    report = import_tenset(tmp_path / "tenset", tmp_path / "ds", platform="platinum-8272", progress=False)
    assert report.platforms == ["platinum-8272"]
    with pytest.raises(FileNotFoundError):
        import_tenset(tmp_path / "tenset", tmp_path / "ds", platform="k80", progress=False)


def test_same_task_in_two_files_is_written_once(tmp_path):
    folder = tmp_path / "tenset" / "measure_records" / "e5-2673"
    folder.mkdir(parents=True)
    shutil.copy(SMALL, folder / "a.json")
    shutil.copy(SMALL, folder / "b.json")
    report = import_tenset(tmp_path / "tenset", tmp_path / "ds", progress=False)
    ds = Dataset.open(tmp_path / "ds")
    assert not ds.validate()
    assert ds.count("programs") == 5 and ds.count("measurements") == 5
    assert report.records == 5 and report.duplicates == 1 + 6


# --- network_info ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def network_info(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tenset") / "network_info"
    subprocess.run([sys.executable, str(DATA / "make_old_tvm_pickles.py"), str(folder)], check=True)
    return folder


def test_network_info_file_names():
    assert parse_task_filename("((resnet_50,[(1,3,224,224)]),llvm).task.pkl") == ("resnet_50", [1, 3, 224, 224], "llvm")
    assert parse_task_filename("(('bert_base', [(1, 128)]), 'cuda').task.pkl") == ("bert_base", [1, 128], "cuda")
    assert parse_task_filename("all_tasks.pkl") is None


def test_network_info_pickles_read_without_tvm(network_info):
    tasks, weights = load_pickle(network_info / "((resnet_50,[(1,3,224,224)]),llvm).task.pkl")
    assert weights == [3, 1] and type(tasks[0]).tvm_type == "tvm.auto_scheduler.search_task.SearchTask"
    assert tasks[0].state["desc"] == "a task" and tasks[0].state["layout_rewrite_option"] == 2
    info = read_network_info(network_info)
    assert not info.problems
    networks = {n["network"]: n for n in info.networks}
    assert networks["resnet_50-b1-224"]["input_shape"] == [1, 3, 224, 224]
    assert networks["bert_base-b1-128"]["input_dtype"] == "int64" and networks["bert_base-b1-128"]["batch_size"] == 1
    links = {(x["network"], x["task"]): x["weight"] for x in info.network_tasks}
    assert sorted(links.values()) == [1, 2, 3]
    details = {t.workload_key: t.details for t in info.tasks.values()}
    conv = next(d for k, d in details.items() if k.startswith('["0123'))
    assert conv.shapes == [[1, 8, 8, 16], [1, 1, 16, 32], [1, 8, 8, 32]] and "conv2d_nhwc" in conv.op_names
    take = next(d for k, d in details.items() if k.startswith('["0011'))
    assert take.dtypes == ["int64", "float32", "float32"]
    row = task_row(next(k for k in details if k.startswith('["0011')), "llvm", take)
    assert row["op"] == "gather" and row["bytes"] == 128 * 8 + 30522 * 768 * 4 + 128 * 768 * 4


def test_restricted_unpickler_refuses_foreign_globals(tmp_path):
    class Evil:
        def __reduce__(self):
            return (subprocess.call, (["true"],))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global subprocess.call"):
        load_pickle(path)
    assert StubUnpickler  # the class the loader uses


def test_import_folder_with_network_info(tmp_path, network_info):
    root = tmp_path / "tenset"
    shutil.copytree(network_info, root / "network_info")
    (root / "measure_records" / "e5-2673").mkdir(parents=True)
    shutil.copy(SMALL, root / "measure_records" / "e5-2673" / "small.json")
    report = import_tenset(root, tmp_path / "ds", progress=False)
    assert report.networks == 2 and report.network_tasks == 3 and report.records == 5
    ds = Dataset.open(tmp_path / "ds")
    assert not ds.validate()
    tasks = {r["workload"]: r for r in rows(ds, "tasks")}
    assert len(tasks) == 3  # two from the records, one only in network_info
    conv = next(t for k, t in tasks.items() if k.startswith('["0123'))
    assert conv["op"] == "conv2d" and conv["arg_dtypes"] == '["float32", "float32", "float32"]'
    assert conv["bytes"] == 4 * (8 * 8 * 16 + 16 * 32 + 8 * 8 * 32)
    assert ds.count("network_tasks") == 3 and ds.count("networks") == 2
    again = import_tenset(root, tmp_path / "ds", progress=False)
    assert again.records == 0 and ds.summary()["tasks"] == 3 and ds.count("network_tasks") == 3


def test_platform_ids():
    assert derived_platform_id("llvm -keys=cpu -mcpu=core-avx2", (8, 64, 64)) == "llvm-core-avx2-8c"
    assert derived_platform_id("llvm -mcpu=skylake-avx512 -model=platinum-8272", (16, 64, 64)) == "platinum-8272"
    assert derived_platform_id("cuda -keys=cuda,gpu -arch=sm_75", (-1, 16, 64)) == "cuda-sm_75"
    assert derived_platform_id("llvm -mtriple=aarch64-linux-gnu", None) == "llvm-aarch64"


def test_chunk_boundaries_change_nothing(tmp_path, monkeypatch):
    """Reading line by line (chunks of one line) gives what reading whole files gives."""
    from tenset_study.importers.tenset import worker as tenset_worker

    log = tmp_path / "log.json"
    text = SMALL.read_text()
    log.write_text(text + text.splitlines()[2] + "\n{broken\n")  # a repeat across chunks, and a bad line
    whole = import_tenset(log, tmp_path / "whole", progress=False)
    monkeypatch.setattr(tenset_worker, "CHUNK_BYTES", 16)
    tiny = import_tenset(log, tmp_path / "tiny", progress=False)
    for name in ("lines", "comment_lines", "records", "failures", "duplicates", "programs", "malformed_count"):
        assert getattr(tiny, name) == getattr(whole, name), name
    assert tiny.malformed == whole.malformed and whole.malformed[0][1] == len(text.splitlines()) + 2
    for table in ("programs", "measurements", "tasks", "platforms"):
        a, b = Dataset.open(tmp_path / "whole").read(table), Dataset.open(tmp_path / "tiny").read(table)
        key = a.column_names[0]
        assert a.sort_by(key).equals(b.sort_by(key)), table


# --- inputs a user found that crashed the import or stored bad latencies -------------------------------


def _record_line(**changes) -> str:
    obj = json.loads([x for x in SMALL.read_text().splitlines() if x.startswith('{"i"')][0])
    for path, value in changes.items():
        target = obj
        *keys, last = path.split(".")
        for key in keys:
            target = target[int(key) if key.isdigit() else key]
        target[int(last) if last.isdigit() else last] = value
    return json.dumps(obj)


def test_a_workload_key_nested_thousands_deep_is_one_malformed_line(tmp_path):
    log = tmp_path / "log.json"
    deep = "[" * 5000 + "]" * 5000
    log.write_text(_record_line(**{"i.0.0": deep}) + "\n" + _record_line() + "\n")
    report = import_tenset(log, tmp_path / "ds", progress=False)
    assert report.records == 1 and report.malformed_count == 1
    (file, line, reason), = report.malformed
    assert (file, line) == (str(log), 1) and "nests lists more than 32 deep" in reason
    with pytest.raises(MalformedRecord, match="nests lists"):
        list(read_tenset_log(log))
    done = subprocess.run([sys.executable, "-m", "tenset_study.cli", "import-tenset", str(log), str(tmp_path / "cli"),
                           "--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("costs, reason", [
    ([-1.0, -2.0], "not negative"), ([1e-5, -1e-5], "not negative"), ([0.0, 1e-5], "a cost of 0 s"),
    ([1e308, 1e308], "too large"), ([], "without costs"),
])
def test_costs_that_give_no_latency_are_malformed(tmp_path, costs, reason):
    log = tmp_path / "log.json"
    log.write_text(_record_line(**{"r.0": costs}) + "\n")
    report = import_tenset(log, tmp_path / "ds", progress=False)
    assert report.records == 0 and report.malformed_count == 1 and reason in report.malformed[0][2]
    assert Dataset.open(tmp_path / "ds").count("measurements") == 0
    with pytest.raises(MalformedRecord, match=reason):
        parse_line(log.read_text())


def test_a_folder_of_programs_not_yet_measured(tmp_path):
    """Lines with all costs zero (``"r": [[0], 0, 0, 0]``) keep their program and store no measurement."""
    folder = tmp_path / "tenset" / "measure_records" / "e5-2673"
    folder.mkdir(parents=True)
    lines = [json.loads(x) for x in SMALL.read_text().splitlines() if x.startswith('{"i"')]
    with open(folder / "todo.json", "w") as f:
        for obj in lines:
            obj["r"] = [[0], 0, 0, 0]
            f.write(json.dumps(obj) + "\n")
    report = import_tenset(tmp_path / "tenset", tmp_path / "ds", progress=False)
    assert report.records == 0 and report.not_measured == len(lines) and report.malformed_count == 0
    assert report.lines == report.accounted_lines == len(lines)
    assert "program(s) not measured" in report.summary()
    ds = Dataset.open(tmp_path / "ds")
    assert ds.count("measurements") == 0 and ds.count("programs") == 4 and not ds.validate()  # one repeat
    record = parse_line(json.dumps(lines[0]))
    assert not record.measured and record.latency_s is None
    # measuring them later adds the measurements to the programs already there
    again = import_tenset(SMALL, tmp_path / "ds", platform="e5-2673", progress=False)
    assert again.records == 5 and again.programs == 1  # the record written in another key order is new


@pytest.mark.parametrize("field, value, reason", [
    ("r.1", 10**30, "error_no"), ("r.1", -1, "error_no"), ("r.3", 1e300, "timestamp"), ("r.3", -5, "timestamp"),
    ("v", "v9.9", "unsupported log version"), ("i.0.2", [2**40, 64, 64], "32-bit"), ("r.2", "x", "all_cost"),
])
def test_values_out_of_range_are_malformed_on_both_paths(tmp_path, field, value, reason):
    line = _record_line(**{field: value})
    log = tmp_path / "log.json"
    log.write_text(line + "\n" + json.dumps(json.loads(line), separators=(",", ":")) + "\n")  # fast, slow path
    report = import_tenset(log, tmp_path / "ds", progress=False)
    assert report.malformed_count == 2 and report.records == 0
    assert all(reason in r for _, _, r in report.malformed), report.malformed
