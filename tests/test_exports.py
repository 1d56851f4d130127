"""Exports of full-size results (tenset_study.exports): the folder format, its provenance, bad folders, and the
command that runs a chapter's experiment into one (a real smoke run on data/mini)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from tenset_study.cli import main as cli_main
from tenset_study.exports import ExportError, describe_export, read_export, write_export
from tenset_study.exports.runs import units_folder
from tenset_study.exports.store import provenance

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "data" / "mini"


def _tables() -> dict[str, pd.DataFrame]:
    index = pd.MultiIndex.from_tuples([("cpu-a", "ours"), ("cpu-a", "noise ceiling")], names=["platform", "row"])
    return {"summary": pd.DataFrame({"variant": ["ours", "xgb"], "value": [0.71, 0.69]}),
            "diagnostics": pd.DataFrame({"kind": ["model", "ceiling"], "pca": [0.7, 0.95]}, index=index)}


def test_an_export_reads_back_with_its_index_and_provenance(tmp_path: Path) -> None:
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=3)
    prov = provenance("cost-models", {"preset": "full", "seeds": (0, 1), "tuning": {"x": 1}}, MINI, started,
                      command="tenset-study export-results --experiment cost-models")
    paths = write_export(tmp_path / "cost-models", _tables(), prov)
    assert {p.name for p in paths} == {"summary.parquet", "diagnostics.parquet", "provenance.json"}
    export = read_export(tmp_path / "cost-models")
    pd.testing.assert_frame_equal(export["diagnostics"], _tables()["diagnostics"])
    assert export.provenance["settings"] == {"preset": "full", "seeds": [0, 1]}, "tuning settings left out"
    assert export.provenance["dataset"]["path"] == "data/mini", "relative to the repository, no machine path"
    assert export.provenance["dataset"]["fingerprint"].startswith("sha256:")
    assert export.provenance["wall_s"] >= 180 and export.provenance["tables"] == ["diagnostics", "summary"]
    sentence = describe_export(export)
    assert "(cost-models, preset full)" in sentence and str(tmp_path) not in sentence and "3 min" in sentence
    with pytest.raises(ExportError, match="no table 'curve'"):
        export["curve"]


def test_a_new_export_replaces_the_tables_of_the_old(tmp_path: Path) -> None:
    prov = provenance("splits", {"preset": "smoke"}, MINI, dt.datetime.now(dt.timezone.utc))
    write_export(tmp_path, _tables(), prov)
    write_export(tmp_path, {"summary": _tables()["summary"]}, prov)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["provenance.json", "summary.parquet"]
    assert list(read_export(tmp_path).tables) == ["summary"]


def test_missing_and_broken_exports(tmp_path: Path) -> None:
    assert read_export(None) is None and read_export(tmp_path / "nothing-yet") is None
    assert "No export of the full experiment yet" in describe_export(None)
    prov = provenance("splits", {"preset": "smoke"}, MINI, dt.datetime.now(dt.timezone.utc))
    write_export(tmp_path, _tables(), prov)
    (tmp_path / "summary.parquet").unlink()
    with pytest.raises(ExportError, match=r"provenance.json: names table 'summary', but summary.parquet is missing"):
        read_export(tmp_path)
    (tmp_path / "provenance.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ExportError, match="format 99, expected 1"):
        read_export(tmp_path)
    (tmp_path / "provenance.json").write_text("{not json")
    with pytest.raises(ExportError, match="provenance.json: not JSON"):
        read_export(tmp_path)


@pytest.mark.slow
def test_export_results_command_writes_the_chapter_tables(tmp_path: Path, capsys) -> None:
    out = tmp_path / "splits"
    command = ["export-results", "--experiment", "splits", "--dataset", str(MINI), "--preset", "smoke",
               "--models", "xgb", "--out", str(out)]
    assert cli_main([*command, "--keep-units"]) == 0
    export = read_export(out)
    assert set(export.tables) == {"results", "summary", "splits"}
    assert set(export["summary"]["variant"]) == {"xgb"} and export["summary"]["split"].nunique() >= 3
    assert export.provenance["options"] == {"models": ["xgb"]} and export.provenance["experiment"] == "splits"
    assert "wrote" in capsys.readouterr().out
    # the same command again resumes: every unit (xgb once per split) is read back, none trained
    units = export.provenance["resume"]["units_computed"]
    assert units == export["summary"]["split"].nunique() and units_folder(out).is_dir()
    assert cli_main(command) == 0
    again = read_export(out)
    assert again.provenance["resume"]["units_reused"] == units and again.provenance["resume"]["units_computed"] == 0
    pd.testing.assert_frame_equal(again["results"], export["results"])
    assert "resuming with" in capsys.readouterr().err and not units_folder(out).exists()  # deleted once written
    assert cli_main(["export-results", "--experiment", "transfer", "--dataset", str(MINI), "--models", "xgb"]) == 2
    assert "--models does not apply to --experiment transfer" in capsys.readouterr().err
    assert cli_main(["export-results", "--experiment", "splits", "--dataset", str(MINI), "--targets", "x"]) == 2
    assert "--directions and --targets belong to --experiment transfer" in capsys.readouterr().err
    # bad input fails in one line and leaves no units folder behind, before or after the run started
    bad = tmp_path / "bad"
    assert cli_main(["export-results", "--experiment", "splits", "--dataset", str(tmp_path / "nope"), "--out",
                     str(bad)]) == 2
    assert "not a tenset-study dataset" in capsys.readouterr().err
    assert cli_main(["export-results", "--experiment", "transfer", "--dataset", str(MINI), "--preset", "smoke",
                     "--targets", "k80", "--out", str(bad)]) == 2
    assert "parameter 'targets'" in capsys.readouterr().err
    assert not units_folder(bad).exists() and not bad.exists()
