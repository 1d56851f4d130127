"""Study exports (:mod:`tenset_study.tuning.archive`) of the session's smoke transfer-tuning study: the export
reads back as the same results and curves, restores to byte-identical MetaSchedule databases, records
its provenance, and refuses what it cannot do."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import MINI_DATA, SMOKE_TUNING_TARGET
from tenset_study.params import repo_root
from tenset_study.programs import database
from tenset_study.tuning import archive as study_archive, study as tuning_study
from tenset_study.cli import main


@pytest.fixture(scope="module")
def exported(smoke_tuning_study, tmp_path_factory) -> tuple[Path, Path]:
    """(study dir, its export with the dataset's platform row)."""
    _, _, study_dir = smoke_tuning_study
    dest = tmp_path_factory.mktemp("export") / SMOKE_TUNING_TARGET
    return study_dir, study_archive.export_study(study_dir, dest, dataset=MINI_DATA)


@pytest.mark.slow
def test_the_export_reads_back_as_the_same_results_and_curves(exported) -> None:
    study_dir, export = exported
    assert not list(export.rglob("database_*.json")), "databases are compressed"
    assert not list(export.rglob("logs")), "MetaSchedule's text logs stay behind"
    drop = ["work_dir"]
    pd.testing.assert_frame_equal(tuning_study.collect_results(export).drop(columns=drop),
                                  tuning_study.collect_results(study_dir).drop(columns=drop))
    pd.testing.assert_frame_equal(tuning_study.collect_curves(export), tuning_study.collect_curves(study_dir))
    assert study_archive.measured_studies(export.parent) == [export]
    assert main(["export-study", str(study_dir), str(export), "--dataset", str(MINI_DATA)]) == 0, "replaced"
    assert sorted(p.name for p in export.parent.iterdir()) == [export.name], "no staging folder left behind"
    pd.testing.assert_frame_equal(tuning_study.collect_curves(export), tuning_study.collect_curves(study_dir))


@pytest.mark.slow
def test_provenance_names_the_platform_the_arms_and_their_load(exported) -> None:
    study_dir, export = exported
    provenance = json.loads((export / study_archive.PROVENANCE_FILE).read_text())
    assert provenance["platforms"][SMOKE_TUNING_TARGET]["platform"] == SMOKE_TUNING_TARGET
    arms = {(a["network"], a["arm"]) for a in provenance["arms"]}
    assert arms == {(r["network"], r["arm"]) for _, r in tuning_study.collect_results(study_dir).iterrows()}
    for arm in provenance["arms"]:
        assert arm["tvm_version"] and arm["tuning_started_at"] and arm["timed_at"]
        assert len(arm["tuning_load_average"]["end"]) == 3 and len(arm["timing_load_average"]) == 3
    assert list(export.glob(f"{tuning_study.PRETRAINED_DIR}/*.model.json")), "the pretrained model's metadata"
    arm_dirs = tuning_study.tuned_arm_dirs(study_dir)
    without_dataset = study_archive.study_provenance(arm_dirs, None, study_dir)["platforms"][SMOKE_TUNING_TARGET]
    assert without_dataset == provenance["platforms"][SMOKE_TUNING_TARGET], "the row the study stored"
    for path in export.rglob("*.json"):
        text = path.read_text()
        assert str(study_dir) not in text and str(repo_root()) not in text, f"{path}: a path of this machine"
    result = json.loads(next(export.glob(f"*/*/{study_archive.RESULT_FILE}")).read_text())
    assert result["work_dir"].count("/") == 1, "<network>/<arm>, relative to the study"


def test_committed_exports_keep_no_path_of_the_machine_that_tuned_them() -> None:
    def paths(value, key=None):
        if isinstance(value, dict):
            for k, v in value.items():
                yield from paths(v, k)
        elif isinstance(value, list):
            for v in value:
                yield from paths(v, key)
        elif key in ("dataset", "work_dir") and isinstance(value, str):
            yield value

    exports = study_archive.measured_studies()
    assert exports, "data/transfer-tuning holds the chapter's exports"
    for export in exports:
        for path in export.rglob("*.json"):
            absolute = [p for p in paths(json.loads(path.read_text())) if Path(p).is_absolute()]
            assert not absolute, f"{path}: {absolute}"


@pytest.mark.slow
def test_restore_gives_back_the_databases_and_refuses_a_study_dir_in_use(exported, tmp_path: Path) -> None:
    study_dir, export = exported
    restored = study_archive.restore_study(export, tmp_path / "again")
    for original in study_dir.glob(f"*/*/{database.RECORD_FILE}"):
        relative = original.relative_to(study_dir)
        assert (restored / relative).read_bytes() == original.read_bytes()
        workload = relative.with_name(database.WORKLOAD_FILE)
        assert (restored / workload).read_bytes() == (study_dir / workload).read_bytes()
    assert main(["export-study", "--restore", str(export), str(restored)]) == 2, "a study is there already"


def test_exporting_nothing_is_an_error(tmp_path: Path, capsys) -> None:
    with pytest.raises(ValueError, match="no tuned arm"):
        study_archive.export_study(tmp_path, tmp_path / "out")
    assert main(["export-study", str(tmp_path), str(tmp_path / "out")]) == 2
    assert "no tuned arm" in capsys.readouterr().err
    assert study_archive.measured_studies(tmp_path / "nothing-here") == []


@pytest.mark.slow
def test_the_tuning_claim_is_judged_on_the_exports(exported, tmp_path: Path) -> None:
    from tenset_study.book import claims

    _, export = exported
    table = claims.claims_table(tmp_path, measured_tuning=export.parent).set_index("claim")
    row = table.loc["transfer tuning"]
    # outside the repository the source is named by its folder alone (no path of the machine in the book)
    assert row["verdict"] != claims.NOT_RUN and row["source"].startswith(f"{export.parent.name} (")
    assert str(export.parent.parent) not in row["source"]
    assert "dcgan-b1-16" in row["ours"]
    described = study_archive.describe_measured(export.parent)
    assert list(described["study"]) == [export.name] and described["arms"].iloc[0] == 2
    without = claims.claims_table(tmp_path, measured_tuning=None).set_index("claim")
    assert without.loc["transfer tuning", "verdict"] == claims.NOT_RUN, "no book run and no export"


def test_the_committed_gpu_study_was_timed_in_rounds_of_fresh_processes() -> None:
    measured = MINI_DATA.parent / "transfer-tuning"
    if not (measured / "h200" / study_archive.PROVENANCE_FILE).is_file():
        pytest.skip("data/transfer-tuning/h200 is not present")
    rounds = study_archive.measured_timing_rounds(measured)
    gpu = rounds[rounds["study"] == "h200"]
    per_arm = gpu.groupby(["network", "arm"])["round"].nunique()
    assert len(per_arm) >= 6 and (per_arm == 5).all(), "every GPU arm timed in 5 rounds"
    assert gpu.groupby(["network", "arm"])["of_mean"].mean().tolist() == pytest.approx([1.0] * len(per_arm))
    assert (gpu["mean_s"] > 0).all() and set(gpu["network"]) >= {"bert_tiny-b1-128", "resnet_18-b1-224"}
