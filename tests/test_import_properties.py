"""Property tests of the importers: real lines, mutated, must never stop an import or store a bad latency.

The TenSet lines are the real logs in ``../shared/tenset-format`` (where present) and tests/data's hand-made
one; the MetaSchedule lines are tests/data/metaschedule_db's. Each example writes a file of 50-100 lines,
most of them damaged in one of many ways (truncated, a value of the wrong type, a field dropped or added,
NaN/inf/negative/zero costs, error codes out of range, garbage bytes, workload keys and steps nested
thousands deep, huge step lists, unknown versions), imports it in this process with one job, and checks:

* the import finishes, and every line read is accounted for by the report's counters;
* every malformed line is reported with its file, line number and a reason;
* no stored measurement has a latency that is not a finite positive number (a null latency has an error);
* for TenSet logs: the importer's fast path agrees with the thorough reader (:func:`parse_line`) on every
  line: which lines are malformed, which are not measured, which are duplicates, and what is stored.

Hypothesis runs derandomized (the same examples every run) and without deadline. The command line is run
once per importer in a subprocess (exit code 0, no traceback).
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenset_study.data.dataset import Dataset, program_id, task_id
from tenset_study.importers.tenset import worker as tenset_worker
from tenset_study.importers.tenset.importer import import_tenset
from tenset_study.importers.tenset.log import ERROR_NAMES, MalformedRecord, check_steps, parse_line
from tenset_study.importers.tenset.platforms import derived_platform_id
from tenset_study.programs.targets import target_kind

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "tenset-format"
MS_DB = DATA / "metaschedule_db"
#: Every real line (comments and blank lines included) of the TenSet-format logs at hand.
TENSET_LINES = [line for path in [*sorted(SHARED.glob("*.json")), DATA / "tenset_small.json"]
                for line in path.read_bytes().splitlines()]
RECORD_LINES = [line for line in TENSET_LINES if line.startswith(b"{")]
MS_WORKLOAD_LINES = (MS_DB / "database_workload.json").read_bytes().splitlines()
MS_RECORD_LINES = (MS_DB / "database_tuning_record.json").read_bytes().splitlines()
PROPERTY_SETTINGS = settings(max_examples=20, derandomize=True, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                    HealthCheck.large_base_example])

#: Values of the wrong type (or out of range) put in place of a field.
ODD_VALUES = [None, True, False, "x", "", 1.5, -1, 0, 2**31, 2**64, 10**30, 1e308, -1e-9, [], [[]], {}, {"a": 1},
              ["SP"], [1, 2], float("nan"), float("inf")]
ODD_COSTS = [float("nan"), float("inf"), -float("inf"), -1e-5, -0.0, 0.0, 1e-5, 2.5e-4, 1e308, 5e-324, 10**25]
ODD_ERRORS = [-1, len(ERROR_NAMES), 99, 10**12, 10**30, 1.0, "0", True, None, [0], 0, 1, 6]
ODD_STAMPS = [-1, 0, 1e300, -1e300, float("nan"), "1606960872", 253402300800, 1606960872.5, 10**20, None]
ODD_VERSIONS = ["v9.9", "v0.7", "v0.1", "", "V0.6", 5, None, ["v0.6"], "v0.6 ", "v0.5"]
ODD_HARDWARE = [[2**40], [-1] * 8, [1.5], "x", [True], [2**31 - 1, 64, 64], None, [], [8, 64, 64, 0, 0, 0, 0, 0]]


# --- mutating a line ----------------------------------------------------------------------------------


def _dump(obj: object) -> bytes:
    """JSON as Ansor writes it (", " and ": "), NaN and infinities as Python writes them."""
    return json.dumps(obj).encode()


def _walk(draw, obj: object) -> tuple[object, object] | None:
    """A random (container, key) inside ``obj``, or None."""
    parent, key, node = None, None, obj
    for _ in range(draw(st.integers(1, 6))):
        if isinstance(node, dict) and node:
            parent, key = node, draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node:
            parent, key = node, draw(st.integers(0, len(node) - 1))
        else:
            break
        node = parent[key]
    return None if parent is None else (parent, key)


def _nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def _with_steps(obj: dict, steps_text: bytes) -> bytes:
    """The record with its step list replaced by a raw text (which json.dumps could not write)."""
    obj = json.loads(json.dumps(obj))
    obj["i"][1][1] = "@STEPS@"
    return _dump(obj).replace(b'"@STEPS@"', steps_text)


@st.composite
def mutated_tenset_line(draw) -> bytes:
    """A real TenSet line, kept as it is or damaged in one way."""
    line = draw(st.sampled_from(TENSET_LINES))
    kind = draw(st.sampled_from(["keep", "keep", "keep", "truncate", "garbage", "wrong_type", "drop", "add",
                                 "costs", "zero_costs", "error_code", "timestamp", "deep_key", "deep_steps",
                                 "huge_steps", "version", "hardware", "deep_line", "binary", "respace"]))
    if kind == "keep":
        return line
    if kind == "truncate":
        return line[:draw(st.integers(0, max(0, len(line) - 1)))]
    if kind == "garbage":
        at = draw(st.integers(0, len(line)))
        junk = draw(st.binary(min_size=1, max_size=6))
        return line[:at] + junk + line[at + draw(st.integers(0, 3)):]
    if kind == "binary":
        return draw(st.binary(max_size=120))
    if kind == "deep_line":
        depth = draw(st.integers(500, 4000))
        return b"[" * depth + line + b"]" * depth
    try:
        obj = json.loads(line)
    except ValueError:
        return line  # a comment or blank line
    if not isinstance(obj, dict) or "i" not in obj or "r" not in obj:
        return line
    return _mutate_record(draw, obj, kind)


def _mutate_record(draw, obj: dict, kind: str) -> bytes:
    if kind == "wrong_type":
        where = _walk(draw, obj)
        if where is not None:
            where[0][where[1]] = draw(st.sampled_from(ODD_VALUES))
    elif kind == "drop":
        where = _walk(draw, obj)
        if where is not None:
            del where[0][where[1]]
    elif kind == "add":
        where = _walk(draw, obj)
        if where is not None and isinstance(where[0], list):
            where[0].insert(where[1], draw(st.sampled_from(ODD_VALUES)))
        else:
            obj[draw(st.sampled_from(["x", "i2", "r"]))] = draw(st.sampled_from(ODD_VALUES))
    elif kind == "costs":
        obj["r"][0] = draw(st.lists(st.sampled_from(ODD_COSTS), max_size=5))
    elif kind == "zero_costs":  # a program still to be measured (or a failure with zero costs)
        obj["r"] = [[0] * draw(st.integers(1, 3)), draw(st.sampled_from([0, 0, 0, 6])), 0, 0]
    elif kind == "error_code":
        obj["r"][1] = draw(st.sampled_from(ODD_ERRORS))
    elif kind == "timestamp":
        obj["r"][3] = draw(st.sampled_from(ODD_STAMPS))
    elif kind == "version":
        obj["v"] = draw(st.sampled_from(ODD_VERSIONS))
    elif kind == "hardware" and len(obj["i"][0]) > 2:
        obj["i"][0][2] = draw(st.sampled_from(ODD_HARDWARE))
    elif kind == "deep_key":
        depth = draw(st.integers(30, 5000))
        inner = draw(st.sampled_from([b"", b"1", b'"0123456789abcdef0123456789abcdef"']))
        obj["i"][0][0] = _nested(depth, inner).decode()
    elif kind == "deep_steps":
        depth = draw(st.integers(2, 3000))
        return _with_steps(obj, b'[["SP", ' + _nested(depth) + b"]]")
    elif kind == "huge_steps":
        return _with_steps(obj, _dump(obj["i"][1][1] * draw(st.integers(20, 400))))
    elif kind == "respace":  # valid JSON written with other separators: the slow path
        return json.dumps(obj, separators=(",", ":")).encode()
    return _dump(obj)


# --- what the thorough reader says ------------------------------------------------------------------


def _file_lines(content: bytes) -> list[bytes]:
    """The lines of a file as the importer cuts them (at ``\\n`` only)."""
    lines = content.split(b"\n")
    return lines[:-1] if content.endswith(b"\n") else lines


def _expected(lines: list[bytes], platform: str | None) -> dict:
    """What an import of these lines must give, by the slow reader, line by line."""
    out = {"malformed": set(), "comments": 0, "not_measured": 0, "duplicates": 0, "measured": {}, "programs": {}}
    for number, line in enumerate(lines, 1):
        try:
            record = parse_line(line)
        except MalformedRecord:
            out["malformed"].add(number)
            continue
        if record is None:
            out["comments"] += 1
            continue
        task = task_id(record.task.workload_key, target_kind(record.task.target))
        pid = program_id(task, record.trace())
        out["programs"].setdefault(pid, record.trace())
        if not record.measured:
            out["not_measured"] += 1
            continue
        key = (pid, platform or derived_platform_id(record.task.target, record.task.hardware_params))
        if key in out["measured"]:
            out["duplicates"] += 1
        else:
            out["measured"][key] = record
    return out


def _check_measurements(ds: Dataset) -> list[dict]:
    """Every stored measurement has a finite positive latency, or a null one and an error."""
    rows = ds.read("measurements").to_pylist()
    for row in rows:
        latency = row["latency_s"]
        if latency is None:
            assert row["error"], row
        else:
            assert math.isfinite(latency) and latency > 0, row
            assert row["error"] is None and all(math.isfinite(r) and r > 0 for r in row["repeats_s"]), row
    return rows


def _check_tenset_import(path: Path, dest: Path, lines: list[bytes], platform: str | None = None) -> None:
    report = import_tenset(path.parents[2] if platform else path, dest, progress=False)
    expected = _expected(lines, platform)
    assert report.lines == len(lines) == report.accounted_lines
    assert report.malformed_count == len(report.malformed)  # below the cap here
    for file, line, reason in report.malformed:
        assert file == str(path) and 1 <= line <= len(lines) and isinstance(reason, str) and reason
    assert {line for _, line, _ in report.malformed} == expected["malformed"]
    assert report.comment_lines == expected["comments"] and report.not_measured == expected["not_measured"]
    assert report.duplicates == expected["duplicates"] and report.records == len(expected["measured"])
    ds = Dataset.open(dest)
    assert not ds.validate()
    stored = {(r["program"], r["platform"]): r for r in _check_measurements(ds)}
    assert set(stored) == set(expected["measured"])
    for key, record in expected["measured"].items():
        row = stored[key]
        assert row["error"] == record.error
        if record.latency_s is not None:
            assert row["latency_s"] == pytest.approx(record.latency_s, rel=1e-12)
    programs = {r["program"]: r["trace"] for r in ds.read("programs").to_pylist()}
    assert programs == expected["programs"]
    for trace in programs.values():
        check_steps(orjson.loads(trace))


# --- TenSet ------------------------------------------------------------------------------------------


@settings(PROPERTY_SETTINGS, max_examples=25)
@given(lines=st.lists(mutated_tenset_line(), min_size=50, max_size=100), small_chunks=st.booleans())
def test_tenset_log_of_mutated_lines(lines: list[bytes], small_chunks: bool) -> None:
    content = b"\n".join(lines) + b"\n"
    chunk_bytes = tenset_worker.CHUNK_BYTES
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.json"
        path.write_bytes(content)
        tenset_worker.CHUNK_BYTES = 2000 if small_chunks else chunk_bytes
        try:
            _check_tenset_import(path, Path(tmp) / "ds", _file_lines(content))
        finally:
            tenset_worker.CHUNK_BYTES = chunk_bytes


@settings(PROPERTY_SETTINGS, max_examples=5)
@given(lines=st.lists(mutated_tenset_line(), min_size=50, max_size=100))
def test_tenset_folder_of_mutated_lines(lines: list[bytes]) -> None:
    content = b"\n".join(lines) + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tenset" / "measure_records" / "e5-2673" / "task.json"
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
        _check_tenset_import(path, Path(tmp) / "ds", _file_lines(content), platform="e5-2673")


def _mutated_file(rng: random.Random, count: int) -> bytes:
    """A file of mutated lines drawn with a seeded generator (for the command-line runs)."""
    lines: list[bytes] = []
    for _ in range(count):
        line = rng.choice(TENSET_LINES)
        action = rng.randrange(6)
        if action == 0:
            line = line[: rng.randrange(len(line) + 1)]
        elif action == 1:
            at = rng.randrange(len(line) + 1)
            line = line[:at] + bytes(rng.randrange(256) for _ in range(3)) + line[at:]
        elif action == 2 and line.startswith(b"{"):
            obj = json.loads(line)
            obj["i"][0][0] = _nested(3000).decode()
            line = _dump(obj)
        elif action == 3 and line.startswith(b"{"):
            obj = json.loads(line)
            obj["r"] = rng.choice([[[-1.0, -2.0], 0, 0, 0], [[0], 0, 0, 0], [[float("nan")], 0, 0, 0]])
            line = _dump(obj)
        lines.append(line)
    return b"\n".join(lines) + b"\n"


def test_import_tenset_command_never_fails(tmp_path: Path) -> None:
    """``python -m tenset_study.cli import-tenset`` on a mutated log and on a mutated folder (two jobs)."""
    rng = random.Random(16)
    log = tmp_path / "log.json"
    log.write_bytes(_mutated_file(rng, 300))
    for platform in ("e5-2673", "platinum-8272"):
        for name in ("a.json", "b.json"):
            path = tmp_path / "tenset" / "measure_records" / platform / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_mutated_file(rng, 150))
    for src, extra in ((log, []), (tmp_path / "tenset", ["--jobs", "2"])):
        done = subprocess.run([sys.executable, "-m", "tenset_study.cli", "import-tenset", str(src),
                               str(tmp_path / "ds"), "--quiet", *extra], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr and "malformed" in done.stdout
    _check_measurements(Dataset.open(tmp_path / "ds"))
    assert not Dataset.open(tmp_path / "ds").validate()


# --- MetaSchedule --------------------------------------------------------------------------------------

ODD_RUN_SECS = [float("nan"), float("inf"), -1e-5, 0.0, 0, 1e-5, 3e-4, 1e10, 1e308, True, "1e-5"]


@st.composite
def mutated_ms_record(draw) -> bytes:
    """A real tuning-record line, kept as it is or damaged in one way."""
    line = draw(st.sampled_from(MS_RECORD_LINES))
    kind = draw(st.sampled_from(["keep", "keep", "truncate", "garbage", "wrong_type", "drop", "add", "run_secs",
                                 "zero_run_secs", "index", "deep_trace", "huge_trace", "deep_line", "binary"]))
    if kind == "keep":
        return line
    if kind == "truncate":
        return line[:draw(st.integers(0, max(0, len(line) - 1)))]
    if kind == "garbage":
        at = draw(st.integers(0, len(line)))
        return line[:at] + draw(st.binary(min_size=1, max_size=6)) + line[at + draw(st.integers(0, 3)):]
    if kind == "binary":
        return draw(st.binary(max_size=120))
    if kind == "deep_line":
        depth = draw(st.integers(500, 4000))
        return b"[" * depth + line + b"]" * depth
    obj = json.loads(line)
    if kind in ("wrong_type", "drop", "add"):
        where = _walk(draw, obj)
        if where is not None and kind == "wrong_type":
            where[0][where[1]] = draw(st.sampled_from(ODD_VALUES))
        elif where is not None and kind == "drop":
            del where[0][where[1]]
        elif where is not None and isinstance(where[0], list):
            where[0].insert(where[1], draw(st.sampled_from(ODD_VALUES)))
    elif kind == "run_secs":
        obj[1][1] = draw(st.one_of(st.none(), st.lists(st.sampled_from(ODD_RUN_SECS), max_size=4)))
    elif kind == "zero_run_secs":  # a program not measured
        obj[1][1] = [0.0] * draw(st.integers(1, 3))
    elif kind == "index":
        obj[0] = draw(st.sampled_from([-1, 1, 2, 7, 10**20, 1.0, "0", None, True]))
    elif kind == "deep_trace":
        obj[1][0][0][0][1] = json.loads(_nested(draw(st.integers(30, 900))))
    elif kind == "huge_trace":
        obj[1][0][0] = obj[1][0][0] * draw(st.integers(2, 40))
    return _dump(obj)


@st.composite
def mutated_ms_workload(draw) -> bytes:
    """The real workload line, kept (mostly) or damaged in one way."""
    line = MS_WORKLOAD_LINES[0]
    kind = draw(st.sampled_from(["keep", "keep", "keep", "truncate", "garbage", "wrong_type", "deep", "binary"]))
    if kind == "truncate":
        return line[:draw(st.integers(0, len(line) - 1))]
    if kind == "garbage":
        at = draw(st.integers(0, len(line)))
        return line[:at] + draw(st.binary(min_size=1, max_size=6)) + line[at:]
    if kind == "wrong_type":
        obj = json.loads(line)
        obj[draw(st.integers(0, 1))] = draw(st.sampled_from(ODD_VALUES))
        return _dump(obj)
    if kind == "deep":
        return _nested(draw(st.integers(500, 5000)), line)
    if kind == "binary":
        return draw(st.binary(max_size=80))
    return line


@pytest.fixture(scope="module")
def metaschedule():
    from tenset_study.programs.tvm_setup import prepare_tvm

    prepare_tvm("cpu")
    from tenset_study.importers.metaschedule import import_metaschedule

    return import_metaschedule


def _decodes(line: bytes) -> bool:
    try:
        json.loads(line.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return False
    return True


def test_metaschedule_database_of_mutated_lines(metaschedule) -> None:
    real_first = st.lists(mutated_ms_workload(), max_size=3).map(lambda more: [MS_WORKLOAD_LINES[0], *more])

    @settings(PROPERTY_SETTINGS, max_examples=20)
    @given(workloads=st.one_of(real_first, st.lists(mutated_ms_workload(), min_size=1, max_size=4)),
           records=st.lists(mutated_ms_record(), min_size=50, max_size=100))
    def check(workloads: list[bytes], records: list[bytes]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "work"
            work.mkdir()
            contents = {"database_workload.json": b"\n".join(workloads) + b"\n",
                        "database_tuning_record.json": b"\n".join(records) + b"\n"}
            lines = {}
            for name, content in contents.items():
                (work / name).write_bytes(content)
                lines[str(work / name)] = _file_lines(content)
            report = metaschedule(work, Path(tmp) / "ds", progress=False)
            assert report.lines == sum(map(len, lines.values())) == report.accounted_lines
            assert report.malformed_count == len(report.malformed)
            for file, line, reason in report.malformed:
                assert file in lines and 1 <= line <= len(lines[file]) and isinstance(reason, str) and reason
            record_file = str(work / "database_tuning_record.json")
            bad = {line for file, line, _ in report.malformed if file == record_file}
            for number, text in enumerate(lines[record_file], 1):
                if text.strip() and not _decodes(text):
                    assert number in bad, text[:200]
            ds = Dataset.open(Path(tmp) / "ds")
            assert not ds.validate()
            assert len(_check_measurements(ds)) == report.records and ds.count("programs") == report.programs

    check()


def test_import_metaschedule_command_never_fails(tmp_path: Path) -> None:
    """``python -m tenset_study.cli import-metaschedule`` on a database with bad lines of every kind."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "database_workload.json").write_bytes(MS_WORKLOAD_LINES[0] + b"\n" + _nested(5000) + b"\n\xff\xfe\n")
    good = json.loads(MS_RECORD_LINES[0])
    bad = [_nested(5000), b"\x00\x01garbage", MS_RECORD_LINES[1][:100],
           _dump([0, [good[1][0], [float("nan")], *good[1][2:]]]), _dump([0, [good[1][0], [-1.0], *good[1][2:]]]),
           _dump([0, [good[1][0], [0.0, 0.0], *good[1][2:]]]), _dump([1, good[1]]), _dump([2, good[1]])]
    (work / "database_tuning_record.json").write_bytes(b"\n".join([*MS_RECORD_LINES, *bad]) + b"\n")
    done = subprocess.run([sys.executable, "-m", "tenset_study.cli", "import-metaschedule", str(work),
                           str(tmp_path / "ds"), "--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "1 program(s) not measured" in done.stdout and "9 malformed line(s)" in done.stdout, done.stdout
    assert len(_check_measurements(Dataset.open(tmp_path / "ds"))) == len(MS_RECORD_LINES)
