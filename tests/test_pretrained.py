"""The pretrained cost models the package ships (:mod:`tenset_study.tuning.pretrained`, :mod:`.pretraining`): the
manifest's provenance, one-line errors for an unknown kind and a missing or corrupt file, training into a folder
(versions, held-out scores), and a real ``ms.tune_tir`` run with ``cost_model=pretrained_cost_model("cpu")``
whose ``update`` learns from the measured results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import MINI_DATA
from tenset_study.tuning import pretrained
from tenset_study.tuning.pretrained import PretrainedModelError

#: The shipped models must stay small: well under the repository's 20 MiB limit per file.
MAX_SHIPPED_BYTES = 5 * 2**20


@pytest.fixture()
def shipped_copy(tmp_path: Path) -> Path:
    """A copy of the shipped folder of pretrained models, to break."""
    folder = tmp_path / "pretrained"
    shutil.copytree(pretrained.PRETRAINED_DIR, folder)
    return folder


# --- the shipped models ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", pretrained.KINDS)
def test_shipped_model_is_small_and_says_where_it_came_from(kind: str) -> None:
    info = pretrained.pretrained_info(kind)
    path = pretrained.pretrained_path(kind)  # checks the SHA-256 too
    assert path.stat().st_size == info["bytes"] < MAX_SHIPPED_BYTES
    assert info["kind"] == kind and info["version"] >= 1 and path.name == info["file"]
    assert info["dataset"]["path"] == "data/v1" and info["dataset"]["fingerprint"].startswith("sha256:")
    assert info["dataset"]["rows"]["measurements"] > 0 and info["records"] > 0 and info["tasks"] > 0
    assert len(info["code"]["commit"]) == 40 and info["code"]["package_version"]
    assert info["training"]["model"] == "ours" and info["training"]["params"] and info["trained_at"]
    assert info["command"].startswith("tenset-study pretrain")
    assert "h200" not in info["platforms"], "the H200 is a held-out tuning target"
    model = pretrained.load_pretrained(kind)
    assert model.name == "ours" and model.metadata["kinds"] == [kind]
    assert model.metadata["platforms"] == info["platforms"] and model.metadata["pretrained"] == info
    held_out = info["held_out"]
    assert set(held_out["platforms"]) == set(info["platforms"]) and held_out["networks"]
    assert all(0.5 < scores["pca"]["value"] <= 1 for scores in held_out["platforms"].values())


def test_a_target_gives_its_kind() -> None:
    from tenset_study.programs import targets

    assert pretrained.check_kind(targets.cpu_target(2)) == "cpu"
    assert pretrained.check_kind(targets.make_target(targets.gpu_target("sm_90"))) == "gpu"


# --- one-line errors -------------------------------------------------------------------------------------------


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_unknown_kind_is_one_line_naming_the_kinds() -> None:
    with pytest.raises(PretrainedModelError) as err:
        pretrained.pretrained_cost_model("tpu")
    assert "'kind'" in _one_line(err) and "cpu, gpu" in str(err.value)
    with pytest.raises(PretrainedModelError) as err:
        pretrained.load_pretrained(3)
    assert "'kind'" in _one_line(err)


def test_missing_model_file_is_one_line_naming_it(shipped_copy: Path) -> None:
    path = shipped_copy / pretrained.pretrained_info("cpu")["file"]
    path.unlink()
    with pytest.raises(PretrainedModelError) as err:
        pretrained.pretrained_cost_model("cpu", folder=shipped_copy)
    assert str(path) in _one_line(err) and "missing" in str(err.value)


def test_corrupt_model_file_is_one_line_naming_it(shipped_copy: Path) -> None:
    info = pretrained.pretrained_info("cpu")
    path = shipped_copy / info["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(PretrainedModelError) as err:
        pretrained.load_pretrained("cpu", folder=shipped_copy)
    assert str(path) in _one_line(err) and "corrupt" in str(err.value)
    # a file the manifest vouches for that still is not a model: the unpickling error, in one line
    path.write_bytes(b"not a model")
    manifest = json.loads((shipped_copy / pretrained.MANIFEST_FILE).read_text())
    manifest["models"]["cpu"]["sha256"] = pretrained.file_sha256(path)
    (shipped_copy / pretrained.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(PretrainedModelError) as err:
        pretrained.load_pretrained("cpu", folder=shipped_copy)
    assert str(path) in _one_line(err) and "cannot be read" in str(err.value)


def test_missing_or_corrupt_manifest_is_one_line(shipped_copy: Path) -> None:
    manifest = shipped_copy / pretrained.MANIFEST_FILE
    manifest.write_text("{not json")
    with pytest.raises(PretrainedModelError) as err:
        pretrained.load_pretrained("gpu", folder=shipped_copy)
    assert str(manifest) in _one_line(err)
    manifest.unlink()
    with pytest.raises(PretrainedModelError) as err:
        pretrained.load_pretrained("gpu", folder=shipped_copy)
    assert "names none" in _one_line(err) and "tenset-study pretrain --kind gpu" in str(err.value)


# --- training into a folder -------------------------------------------------------------------------------------

TINY = {"model": "ours", "model_params": {"epochs": 1, "hidden": 16, "heads": 2, "device": "cpu"}, "max_len": 32}


def test_train_pretrained_writes_versions_and_provenance(tmp_path: Path) -> None:
    from tenset_study.tuning.pretraining import dataset_content_fingerprint, train_pretrained

    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    logs: list[str] = []
    folder = tmp_path / "models"
    first = train_pretrained("gpu", MINI_DATA, ["h200"], TINY, folder=folder, progress=False, log=logs.append)
    assert first["version"] == 1 and first["platforms"] == ["h200"] and first["training"]["preset"] == "custom"
    assert first["dataset"]["fingerprint"] == dataset_content_fingerprint(MINI_DATA)
    assert first["held_out"]["networks"] and set(first["held_out"]["platforms"]) == {"h200"}
    assert first["held_out"]["train_records"] + first["held_out"]["test_records"] <= first["records"]
    second = train_pretrained("gpu", MINI_DATA, ["h200"], TINY, folder=folder, held_out=False, progress=False,
                              log=logs.append)
    assert second["version"] == 2 and "held_out" not in second
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "ours-gpu-v2.model", "ours-gpu-v2.model.json"]
    assert pretrained.load_pretrained("gpu", folder=folder).metadata["pretrained"]["version"] == 2
    assert any("held out" in line for line in logs)


def test_train_pretrained_refuses_platforms_of_another_kind(tmp_path: Path) -> None:
    from tenset_study.params import ParameterError
    from tenset_study.tuning.pretraining import train_pretrained

    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    with pytest.raises(ParameterError) as err:
        train_pretrained("cpu", MINI_DATA, ["h200"], TINY, folder=tmp_path, progress=False)
    assert "'platforms'" in _one_line(err) and "h200" in str(err.value)


# --- a real tuning run -------------------------------------------------------------------------------------------


def _matmul(n: int = 64):
    import tvm
    from tvm import te

    a = te.placeholder((n, n), "float32", name="A")
    b = te.placeholder((n, n), "float32", name="B")
    k = te.reduce_axis((0, n), name="k")
    c = te.compute((n, n), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="matmul")
    return tvm.IRModule({"main": te.create_prim_func([a, b, c])})


def _check_matmul(mod, target) -> None:
    """Build the tuned module and compare its product with numpy's."""
    import tvm

    rng = np.random.default_rng(0)
    a, b = (rng.random((64, 64), dtype=np.float32) for _ in range(2))
    dev = tvm.cpu()
    args = [tvm.runtime.tensor(x, dev) for x in (a, b, np.zeros((64, 64), np.float32))]
    tvm.compile(mod, target=target)["main"](*args)
    np.testing.assert_allclose(args[2].numpy(), a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_tune_tir_with_the_pretrained_cpu_model(tmp_path: Path) -> None:
    from tvm.s_tir import meta_schedule as ms

    from tenset_study.collect.builder import PersistentBuilder
    from tenset_study.collect.measure import export_shared_library
    from tenset_study.programs import targets, tvm_setup
    from tenset_study.programs.database import run_latency
    from tenset_study.tuning import pretrained_cost_model

    cost_model = pretrained_cost_model("cpu", min_online=4)  # the one line a user writes
    target = targets.make_target(targets.cpu_target(2))
    mod = _matmul()
    builder = PersistentBuilder(2, 60.0, export_shared_library)  # any MetaSchedule builder would do
    runner = ms.runner.LocalRunner(evaluator_config=ms.runner.EvaluatorConfig(number=1, repeat=1, min_repeat_ms=0),
                                   initializer=tvm_setup.builder_initializer)
    try:
        with tvm_setup.metaschedule_logging():
            database = ms.tune_tir(
                mod=mod, target=target, work_dir=str(tmp_path / "work"), max_trials_global=16, num_trials_per_iter=8,
                builder=builder, runner=runner, cost_model=cost_model, seed=0,
                strategy=ms.search_strategy.EvolutionarySearch(population_size=64, init_min_unmeasured=16,
                                                               genetic_num_iters=2),
            )
    finally:
        builder.close()

    tuning_records = database.get_all_tuning_records()
    measured = sorted(s for s in (run_latency(r.run_secs) for r in tuning_records) if s is not None)
    assert len(measured) >= 8 and all(0 < s < 1e-1 for s in measured), "valid measured records in the database"

    timing = cost_model.timing()
    assert timing["predict_calls"] > 0 and timing["update_calls"] == 2 and timing["online_updates"] >= 1
    online = cost_model.online_inputs()  # what update was handed: the runner's results of the measured programs
    assert sorted(online.records["latency_s"].dropna()) == pytest.approx(measured, rel=1e-6)
    shipped = pretrained.load_pretrained("cpu")
    positions = np.arange(online.size)
    assert np.abs(cost_model.model.predict(online, positions) - shipped.predict(online, positions)).max() > 1e-6, \
        "online updates changed the model"
    assert pretrained.pretrained_path("cpu"), "the shipped file is left as it was (its SHA-256 still matches)"

    best = ms.tir_integration.compile_tir(database, mod, target)
    assert best is not None, "tuning produced a schedule"
    _check_matmul(best.mod, target)


# --- the command line and the guide ----------------------------------------------------------------------------


def test_pretrain_command_refuses_a_bad_platform_in_one_line(tmp_path: Path, capsys) -> None:
    from tenset_study.cli import main

    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    assert main(["pretrain", "--kind", "cpu", "--dataset", str(MINI_DATA), "--platforms", "h200",
                 "--out", str(tmp_path / "models"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tenset-study pretrain: error: parameter 'platforms'") and "\n" not in err
    assert not (tmp_path / "models").exists(), "nothing written"


def test_reproduce_guide_uses_only_the_commands_options() -> None:
    import re

    from tenset_study.cli import build_parser

    guide = (Path(__file__).resolve().parents[1] / "book" / "reproduce.md").read_text()
    section = guide.split("## Tune with a pretrained cost model", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    seen = set()
    for line in lines:
        command = line.split("tenset-study ", 1)[1].split()[0]
        seen.add(command)
        options = {opt for action in subparsers.choices[command]._actions for opt in action.option_strings}
        used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line.split("tenset-study ", 1)[1].split("#")[0]))
        assert used <= options, f"{command}: options in the guide that it does not have: {used - options}"
    assert seen == {"tune", "pretrain"}
    assert "pretrained_cost_model(" in section and "--cost-model pretrained" in section


@pytest.mark.slow
def test_tune_command_with_the_pretrained_model(tmp_path: Path) -> None:
    """``tenset-study tune --cost-model pretrained`` on dcgan-b1-16 (6 tasks, one trial each), as the guide runs it."""
    import subprocess
    import sys

    from tenset_study.programs import targets

    work_dir = tmp_path / "work"
    command = [sys.executable, "-m", "tenset_study.cli", "tune", "dcgan-b1-16", "--target",
               json.dumps(targets.cpu_target(2)), "--trials", "6", "--work-dir", str(work_dir), "--cost-model",
               "pretrained", "--population", "16", "--repeat", "1", "--min-repeat-ms", "5", "--builder-workers", "2",
               "--no-time", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    version = pretrained.pretrained_info("cpu")["version"]
    tuning = json.loads((work_dir / "tune_result.json").read_text())["tuning"]
    assert tuning["cost_model"] == f"ours:pretrained-cpu-v{version}" and tuning["untuned_tasks"] == []
    timing = tuning["cost_model_timing"]
    assert timing["candidates_scored"] > 0 and timing["update_calls"] >= 1 and timing["online_records"] >= 5
