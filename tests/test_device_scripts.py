"""The detached-job helpers that the GPU-host scripts share, run by real bash on this machine."""

import os
import subprocess
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f"source {ROOT / 'scripts/device_detached.sh'}; {script}"],
        capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "DETACHED_SETTLE": "0"},
    )


def test_a_job_can_start_right_after_the_previous_one_ended(tmp_path):
    job = tmp_path / "job.sh"
    job.write_text('echo "ran $1"; exit 3\n')
    first = _bash(f"detached_start run {job} one && detached_wait run 30 5", tmp_path)
    assert "ran one" in first.stdout
    assert (tmp_path / "run/rc").read_text().strip() == "3"
    second = _bash(f"detached_start run {job} two && detached_wait run 30 5", tmp_path)
    assert second.returncode == 0, second.stderr
    assert "ran two" in second.stdout


def test_a_job_whose_pid_still_answers_after_its_status_was_written_has_ended(tmp_path):
    # what the GPU host does: nothing reaps the finished job, so its zombie answers `kill -0`
    job = tmp_path / "job.sh"
    job.write_text('echo "ran $1"\n')
    lingering = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run/pid").write_text(f"{lingering.pid}\n")
        (tmp_path / "run/rc").write_text("0\n")
        started = _bash(f"detached_start run {job} again && detached_wait run 30 5", tmp_path)
        assert started.returncode == 0, started.stderr
        assert "ran again" in started.stdout
    finally:
        lingering.kill()
        lingering.wait()


def test_a_running_job_is_not_started_twice(tmp_path):
    job = tmp_path / "job.sh"
    job.write_text("sleep 20\n")
    started = _bash(f"detached_start run {job}", tmp_path)
    assert started.returncode == 0, started.stderr
    try:
        again = _bash(f"detached_start run {job}", tmp_path)
        assert again.returncode == 2
        assert "already running" in again.stderr
    finally:
        pid = (tmp_path / "run/pid").read_text().strip()
        subprocess.run(["pkill", "-g", pid], check=False)


def test_each_wait_packs_only_the_units_new_since_its_last_pack(tmp_path):
    """The export's units come back in gzipped increments (a tar of every unit outgrew what a call brings back):
    the first pack holds all, the next only the unit written since, a pack with nothing new writes no file."""
    repo, run, out = tmp_path / "repo", tmp_path / "run", tmp_path / "out"
    units = repo / "data" / "exports" / ".pruning.units"
    units.mkdir(parents=True)
    run.mkdir()
    (run / "log").write_text("log\n")
    (run / "rc").write_text("0\n")  # the export has ended: wait returns at once
    for i in range(3):
        (units / f"u{i}.pkl").write_text(str(i))
    env = {**os.environ, "RUN": str(run), "OUT": str(out), "EXPERIMENT": "pruning"}

    def wait() -> list[set[str]]:
        done = subprocess.run(["bash", str(ROOT / "scripts" / "device_export_detached.sh"), "wait", "1"], cwd=repo,
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        time.sleep(1.1)  # mtimes one second apart at least
        return [{Path(n).name for n in tarfile.open(p).getnames()} for p in sorted(out.glob("units-*.tgz"))]

    assert wait() == [{"u0.pkl", "u1.pkl", "u2.pkl"}]
    (units / "u3.pkl").write_text("3")
    packs = wait()
    assert len(packs) == 2 and packs[1] == {"u3.pkl"}
    assert len(wait()) == 2, "nothing new: no third pack"
