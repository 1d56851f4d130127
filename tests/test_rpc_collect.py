"""Collection on every device of a host (``scripts/rpc_collect.sh``): the real script with real RPC servers on
loopback measuring a tiny replay of data/mini, its clean stop (no tracker or server left after success, a failing
collect or Ctrl-C), ``--rpc-workers``, and the per-device agreement check on synthetic measurements."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import MINI_DATA
from tenset_study.book.exploration.devices import describe_device_agreement, device_agreement
from tenset_study.collect.measure import MeasureSettings

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "rpc_collect.sh"
#: A tiny replay: the first 2 programs of 2 CPU tasks of data/mini, quick timing, no extra work.
TINY = ["--replay", "--replay-subset", "2", "--max-tasks", "2", "--number", "1", "--repeat", "3",
        "--builder-workers", "1", "--no-probe-hardware", "--remeasure-share", "0", "--quiet"]


@pytest.fixture
def mini_copy(tmp_path: Path) -> Path:
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    root = tmp_path / "ds"
    shutil.copytree(MINI_DATA, root, ignore=shutil.ignore_patterns(".cache"))
    return root


def _run_script(args: list[str], marker: str, tmp_path: Path, env: dict | None = None,
                timeout: int = 600) -> subprocess.CompletedProcess:
    """The script, every process it starts carrying ``marker`` in its environment."""
    full_env = {**os.environ, "RPC_COLLECT_TEST_MARKER": marker, **(env or {})}
    return subprocess.run(["bash", str(SCRIPT), "--log-dir", str(tmp_path / "logs"), *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout)


def _processes_with(marker: str) -> list[str]:
    """Command lines of the live processes whose environment holds ``marker`` (zombies have no environment)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            pass
    return found


def _no_rpc_process_left(marker: str) -> None:
    left = _processes_with(marker)
    assert not left, f"processes left behind: {left}"
    servers = subprocess.run(["pgrep", "-f", "tvm.exec.rpc_server"], capture_output=True, text=True).stdout.split()
    assert not [pid for pid in servers if marker.encode() in _environ(pid)], "an RPC server of this run survived"


def _environ(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def _pinned_cores() -> list[str]:
    """``--server-cores`` for two servers on one core each, where this process may use two cores."""
    cores = sorted(os.sched_getaffinity(0))
    return ["--server-cores", f"{cores[0]},{cores[1]}"] if len(cores) >= 2 else []


# --- the script on loopback (slow) ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_shard_is_measured_on_two_servers_at_once(mini_copy: Path, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    # sessions of about 3 s (3 repeats of >= 1 s), so that the second runner worker's start overlaps the first's even
    # on a loaded machine (with 0.4 s repeats a busy make-test run saw the two servers one after the other)
    done = _run_script(["--cpu-servers", "2", *_pinned_cores(), "--rpc-key", "loop-cpu", "--",
                        "--dataset", str(mini_copy), "--platform", "loopback-2", *TINY, "--min-repeat-ms", "1000"],
                       marker, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    from tenset_study.data.dataset import Dataset

    ds = Dataset.open(mini_copy)
    rows = ds.to_pandas("measurements")
    rows = rows[rows["platform"] == "loopback-2"]
    assert len(rows) == 4 and rows["latency_s"].notna().all(), rows["error"].dropna().tolist()
    assert ds.validate() == [], "the replay through the servers leaves a valid dataset"
    runner = json.loads(ds.to_pandas("platforms").set_index("platform").loc["loopback-2", "runner"])
    assert (runner["rpc_key"], runner["rpc_workers"]) == ("loop-cpu", 2)
    sessions = re.search(r"sessions served: server 0: (\d+) server 1: (\d+); at most (\d+) at once", done.stdout)
    assert sessions, done.stdout
    served = [int(sessions.group(1)), int(sessions.group(2))]
    assert sum(served) == 4 and min(served) >= 1, f"both servers measured: {served}"
    assert int(sessions.group(3)) == 2, "the two servers measured at the same time"
    rate = re.search(r"(\d+) programs measured on 2 server\(s\) in [\d.]+ s: ([\d.]+) programs/min", done.stdout)
    assert rate and int(rate.group(1)) == 4 and float(rate.group(2)) > 0, done.stdout
    assert "tracker and 2 server(s) stopped" in done.stdout
    _no_rpc_process_left(marker)


@pytest.mark.slow
def test_a_failing_collect_leaves_no_process_and_gpu_servers_get_one_gpu_each(mini_copy: Path,
                                                                             tmp_path: Path) -> None:
    """The GPU mode's plan (GPUs from nvidia-smi, one per server) on servers that then measure nothing: the
    collect command refuses its flags, and the script stops tracker and servers and fails too."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\nprintf '0\\n1\\n'\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    marker = uuid.uuid4().hex
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env_without_cuda = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    done = _run_script(["--gpus", "--", "--dataset", str(mini_copy), "--platform", "p", "--replay",
                        "--target", '{"kind": "llvm", "num-cores": 1}', "--no-such-flag"], marker, tmp_path,
                       env={**env_without_cuda, **env})
    assert done.returncode != 0
    assert "server 0 on GPU 0, server 1 on GPU 1" in done.stdout
    assert "unrecognized arguments: --no-such-flag" in done.stderr
    assert "collect failed" in done.stderr and "tracker and 2 server(s) stopped" in done.stdout
    _no_rpc_process_left(marker)


@pytest.mark.slow
def test_ctrl_c_stops_tracker_servers_and_collect(mini_copy: Path, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    proc = subprocess.Popen(
        ["bash", str(SCRIPT), "--cpu-servers", "2", "--log-dir", str(tmp_path / "logs"), "--", "--dataset",
         str(mini_copy), "--platform", "interrupted", *TINY, "--min-repeat-ms", "300", "--replay-subset", "4",
         "--max-tasks", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        # as in a terminal: an xdist worker ignores SIGINT, and a shell cannot trap a signal ignored on entry
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env={**os.environ, "RPC_COLLECT_TEST_MARKER": marker})
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if ": 2 of 2" in line:
                break
        assert lines and ": 2 of 2" in lines[-1], "".join(lines)
        for _ in range(1200):  # interrupt the collection itself, once it runs (a long one: 16 programs timed slowly)
            if [c for c in _processes_with(marker) if "tenset_study.cli collect" in c]:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the collection never started: " + "".join(lines))
        assert proc.poll() is None, "the script ended before it could be interrupted: " + "".join(lines)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the foreground group gets SIGINT
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, "".join(lines) + rest
    assert "tracker and 2 server(s) stopped" in rest
    _no_rpc_process_left(marker)


@pytest.mark.slow
def test_per_device_check_measures_each_server_alone_and_prints_the_agreement(mini_copy: Path,
                                                                              tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    done = _run_script(["--cpu-servers", "2", "--per-device-check", "--check-subset", "2", "--", "--dataset",
                        str(mini_copy), "--platform", "host", *TINY, "--replay-subset", "5", "--min-repeat-ms", "1"],
                       marker, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    from tenset_study.data.dataset import Dataset

    rows = Dataset.open(mini_copy).to_pandas("measurements")
    for device in ("host-dev0", "host-dev1"):
        mine = rows[rows["platform"] == device]
        assert len(mine) == 4 and mine["latency_s"].notna().all(), "the check's own subset (2 per task) wins"
    programs = rows.groupby("platform")["program"].apply(set)
    assert programs["host-dev0"] == programs["host-dev1"], "the same fixed sample on each device"
    assert "sessions served: server 0: 4 server 1: 4;" in done.stdout, "each device's programs on its own server"
    assert "host-dev0" in done.stdout and "host-dev1" in done.stdout, done.stdout
    assert "with two devices only --min-spearman can flag one" in done.stdout
    _no_rpc_process_left(marker)


# --- the script's own checks (fast: nothing starts) --------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--cpu-servers", "0", "--", "--dataset", "d"], "--cpu-servers: expected a number of servers >= 1"),
    (["--cpu-servers", "2"], "give collect's flags after --"),
    (["--cpu-servers", "2", "--server-cores", "0,0", "--", "--dataset", "d"], "--server-cores: core 0 is in two sets"),
    (["--cpu-servers", "2", "--server-cores", "0", "--", "--dataset", "d"], "--server-cores: 2 servers need 2"),
    (["--cpu-servers", "2", "--", "--dataset", "d", "--rpc-workers", "2"], "--rpc-workers after --"),
    (["--cpu-servers", "2", "--", "--dataset", "d", "--gpu", "sm_90"], "--cpu-servers: the servers measure this CPU"),
    (["--gpus", "2", "--", "--dataset", "d"], "--gpus: name the GPU after --"),
    (["--check-subset", "x", "--", "--dataset", "d"], "--check-subset: expected a count"),
    (["--no-such-option"], "unknown option '--no-such-option'"),
])
def test_the_script_refuses_bad_options_in_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_gpu_mode_needs_a_gpu(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["PATH"] = str(tmp_path) + ":/usr/bin:/bin"  # no nvidia-smi
    done = subprocess.run(["bash", str(SCRIPT), "--gpus", "--", "--dataset", "d", "--gpu", "sm_90"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "--gpus: nvidia-smi lists no GPU here" in done.stderr
    env["CUDA_VISIBLE_DEVICES"] = "3,5"
    done = subprocess.run(["bash", str(SCRIPT), "--gpus", "3", "--", "--dataset", "d", "--gpu", "sm_90"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "--gpus 3: this host has 2 GPU(s) (3 5)" in done.stderr


# --- --rpc-workers -------------------------------------------------------------------------------------------


def test_rpc_workers_flag_reaches_the_settings_and_is_checked(tmp_path: Path, capsys) -> None:
    from tenset_study.cli import build_parser, main
    from tenset_study.cli.collect import collect_config

    args = build_parser().parse_args(["collect", "--dataset", str(tmp_path), "--replay", "--platform", "p",
                                      "--rpc-tracker", "127.0.0.1:9190", "--rpc-key", "k", "--rpc-workers", "4"])
    assert collect_config(args).measure.rpc_workers == 4
    assert collect_config(build_parser().parse_args(["collect", "--dataset", str(tmp_path), "--replay"])
                          ).measure.rpc_workers == 1
    assert main(["collect", "--dataset", str(tmp_path), "--replay", "--platform", "p", "--rpc-tracker",
                 "127.0.0.1:9190", "--rpc-key", "k", "--rpc-workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--rpc-workers must be >= 1, got 0" in err
    with pytest.raises(ValueError, match="--rpc-workers 2 needs --rpc-tracker"):
        MeasureSettings(rpc_workers=2)
    assert MeasureSettings(rpc_tracker="h:1", rpc_key="k", rpc_workers=3).as_dict()["rpc_workers"] == 3


def test_the_rpc_runner_sends_rpc_workers_measurements_at_once() -> None:
    from tenset_study.collect.measure import close_runner, make_runner

    runner = make_runner(MeasureSettings(rpc_tracker="127.0.0.1:9", rpc_key="k", rpc_workers=3, export_format="tar"))
    try:
        assert runner.pool._threadpool._max_workers == 3  # one RPC session per worker, each on a free server
    finally:
        close_runner(runner)


# --- the devices' agreement ------------------------------------------------------------------------------------


def _device_frame(devices: int, shuffled: tuple[str, ...] = (), slower: tuple[str, ...] = (), tasks: int = 8,
                  programs: int = 12, seed: int = 0) -> pd.DataFrame:
    """Measurements of the same programs on ``devices`` devices that rank them alike (1% noise), except the
    ``shuffled`` ones (random order within each task); ``slower`` ones take 1.5 times as long."""
    rng = np.random.default_rng(seed)
    rows = []
    for task in range(tasks):
        base = rng.lognormal(sigma=1.0, size=programs) * 1e-3
        for device in range(devices):
            name = f"gpu-dev{device}"
            latency = base * rng.normal(1.0, 0.01, size=programs) * (1.5 if name in slower else 1.0)
            if name in shuffled:
                latency = rng.permutation(latency)
            rows += [{"program": f"t{task}-p{p}", "platform": name, "kind": "gpu", "task": f"t{task}", "op": "conv2d",
                      "latency_s": value, "ok": True} for p, value in enumerate(latency)]
    return pd.DataFrame(rows)


def test_a_device_that_ranks_programs_differently_is_flagged() -> None:
    devices = [f"gpu-dev{i}" for i in range(4)]
    table = device_agreement(_device_frame(4, shuffled=("gpu-dev2",), slower=("gpu-dev3",)), devices)
    assert list(table.index) == devices
    assert table["disagrees"].tolist() == [False, False, True, False]
    assert table.loc["gpu-dev2", "spearman_median"] < 0.5 < 0.9 < table.loc["gpu-dev0", "spearman_median"]
    assert table.loc["gpu-dev2", "others_median"] > 0.9 and (table["tasks"] == 8).all()
    assert table.loc["gpu-dev3", "latency_ratio"] == pytest.approx(1.5, rel=0.05), "slower, yet ranks alike"
    assert table.loc["gpu-dev0", "latency_ratio"] == pytest.approx(1.0, rel=0.05)
    sentence = describe_device_agreement(table)
    assert "1 of 4 devices disagree" in sentence and "gpu-dev2" in sentence and "gpu-dev0" not in sentence
    agreeing = device_agreement(_device_frame(4), devices)
    assert not agreeing["disagrees"].any() and "the 4 devices agree" in describe_device_agreement(agreeing)


def test_two_devices_are_judged_by_the_threshold_alone() -> None:
    devices = ["gpu-dev0", "gpu-dev1"]
    frame = _device_frame(2, shuffled=("gpu-dev1",))
    table = device_agreement(frame, devices)
    assert table["others_median"].isna().all() and not table["disagrees"].any(), "no third device to tell"
    assert device_agreement(frame, devices, min_spearman=0.8)["disagrees"].all()
    assert not device_agreement(_device_frame(2), devices, min_spearman=0.8)["disagrees"].any()


def test_device_agreement_names_the_flag_for_bad_platforms() -> None:
    frame = _device_frame(2)
    with pytest.raises(ValueError, match="--platforms: no successful measurement of \\['gpu-dev7'\\]"):
        device_agreement(frame, ["gpu-dev0", "gpu-dev7"])
    with pytest.raises(ValueError, match="--platforms: name two or more"):
        device_agreement(frame, ["gpu-dev0"])


# --- the guide ---------------------------------------------------------------------------------------------------


def test_the_guide_shows_only_real_flags() -> None:
    from tenset_study.cli import build_parser

    section = (ROOT / "book" / "reproduce.md").read_text().split("## Measure on every GPU of a host", 1)[1]
    section = section.split("\n## ", 1)[0]
    commands = [c for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)
                for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")

    def options_of(command: str) -> set[str]:
        return {opt for action in subparsers.choices[command]._actions for opt in action.option_strings}

    script_options = set(re.findall(r"^\s+(--[a-z-]+)[|)]", SCRIPT.read_text(), flags=re.M))
    flags = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")
    scripts = [c for c in commands if "scripts/rpc_collect.sh" in c]
    assert scripts and any("--per-device-check" in c for c in scripts)
    for command in scripts:
        before, _, after = command.partition(" -- ")
        assert set(flags.findall(before)) <= script_options, before
        assert set(flags.findall(after)) <= options_of("collect"), after
    checks = [c for c in commands if "tenset-study device-agreement" in c]
    assert checks and all(set(flags.findall(c)) <= options_of("device-agreement") for c in checks)
