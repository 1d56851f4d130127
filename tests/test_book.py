"""Tests of the book's wiring: generated format tables, configuration, papermill runs of every notebook (on
data/mini (the small test dataset) and, where ``../shared/tenset-format`` is present, on one imported from real TenSet logs)
and a whole book build with warnings as errors."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import SHARED, SMOKE_TUNING_TARGET, STUDIES

from tenset_study.book import docs as book
from tenset_study.data.dataset import COLUMN_DOCS, SCHEMAS, TABLES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
MINI_DATASET = ROOT / "data" / "mini"
# Figures each chapter must show (the browser check of the built book uses the same counts).
MIN_FIGURES = {"01_tenset_exploration": 7, "02_split_comparison": 2, "03_dataset_pruning": 2,
               "04_attention_cost_model": 7, "05_transfer": 3,
               "06_results": 0}  # 06 draws only from earlier chapters' tables


# --- generated documentation and configuration (fast) ----------------------------------------------------


def test_format_tables_document_every_column() -> None:
    text = book.format_tables_markdown()
    for table in TABLES:
        assert f"### `{table}`" in text
        for field in SCHEMAS[table]:
            assert f"| `{field.name}` | `{book.arrow_type_name(field.type)}` |" in text
    assert "| `latency_s` | `float64` | s |" in text
    assert "| `repeats_s` | `list<float64>` | s |" in text
    assert "| `recorded_at` | `timestamp[us, UTC]` | UTC |" in text
    assert set(book.table_descriptions()) == set(TABLES)


def test_format_tables_fail_on_undocumented_column(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = {table: dict(columns) for table, columns in COLUMN_DOCS.items()}
    del docs["programs"]["trace"]
    monkeypatch.setattr(book, "COLUMN_DOCS", docs)
    with pytest.raises(KeyError, match="trace"):
        book.format_tables_markdown()


def test_write_format_tables(tmp_path: Path) -> None:
    path = book.write_format_tables(tmp_path / "gen" / "format_tables.md")
    assert path.read_text() == book.format_tables_markdown()


def test_data_chapter_includes_the_generated_tables() -> None:
    data = (ROOT / "book" / "data.md").read_text()
    assert re.search(r"```\{include\} _generated/format_tables\.md", data)


def test_config_and_toc() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["title"] == "tenset-study: learned cost models across heterogeneous hardware"
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    assert (ROOT / config["bibtex_bibfiles"][0]).exists()
    assert "sphinxcontrib.bibtex" in config["sphinx"]["config"]["extensions"]
    pages = _toc_pages()
    for page in pages:
        if page.startswith("book/notebooks/"):
            # executed copies written by `make book`; their sources must exist
            assert (ROOT / "notebooks" / f"{Path(page).name}.py").exists(), page
        else:
            assert (ROOT / f"{page}.md").exists(), page
    for notebook in NOTEBOOKS:
        assert f"book/notebooks/{notebook.stem}" in pages, f"{notebook.name} is not in _toc.yml"


def test_citations_resolve() -> None:
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    sources = [*(ROOT / "book").glob("*.md"), *NOTEBOOKS]
    cited = {key for path in sources for group in re.findall(r"\{cite:?\w*\}`([^`]+)`", path.read_text())
             for key in group.split(",")}
    assert cited, "the book cites nothing"
    assert cited <= keys, f"unknown citation keys: {cited - keys}"


def test_reproduce_guide_matches_the_collect_cli() -> None:
    from tenset_study.cli import build_parser

    guide = (ROOT / "book" / "reproduce.md").read_text()
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    collect_options = {opt for action in subparsers.choices["collect"]._actions for opt in action.option_strings}
    for command in ("collect", "import-tenset", "import-metaschedule"):
        assert f"tenset-study {command}" in guide
    collect_section = guide.split("## Collect measurements", 1)[1].split("\n## ", 1)[0]
    bench_lines = [line for line in _commands(collect_section) if "benchmarks/bench_collect.py" in line]
    assert bench_lines, "the collect section shows no bench_collect.py command"
    bench_source = (ROOT / "benchmarks" / "bench_collect.py").read_text()
    bench_options = set(re.findall(r'add_argument\("(--[a-z][a-z-]*)"', bench_source))
    bench_used = {opt for line in bench_lines for opt in _options(line)}
    assert bench_used <= bench_options, f"bench_collect.py options the guide names but the script lacks: {bench_used - bench_options}"
    joined = collect_section.replace("\\\n", " ").splitlines()
    used = _options("\n".join(line for line in joined if "benchmarks/bench_collect.py" not in line))
    assert used <= collect_options, f"options in the guide that collect does not have: {used - collect_options}"
    assert {"--networks", "--dataset", "--replay"} <= used


def _options(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))


def _commands(markdown: str) -> list[str]:
    """The shell commands in a markdown text's code blocks, continuation lines joined."""
    blocks = re.findall(r"```bash\n(.*?)```", markdown, flags=re.S)
    return [cmd for block in blocks for cmd in block.replace("\\\n", " ").splitlines() if cmd.strip()]


def test_reproduce_guide_matches_the_model_commands() -> None:
    from tenset_study.cli import build_parser

    guide = (ROOT / "book" / "reproduce.md").read_text()
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    section = guide.split("## Train and evaluate", 1)[1].split("\n## ", 1)[0]
    for command in ("train", "evaluate", "experiment"):
        options = {opt for action in subparsers.choices[command]._actions for opt in action.option_strings}
        lines = [line for line in section.split("```bash", 1)[1].split("```", 1)[0].split("tenset-study ")
                 if line.startswith(command + " ")]
        assert lines, f"the guide shows no `tenset-study {command}`"
        used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", lines[0]))
        assert used <= options, f"{command}: options in the guide that it does not have: {used - options}"


def test_reproduce_guide_matches_the_export_command() -> None:
    from tenset_study.cli import build_parser
    from tenset_study.exports.runs import RUNNERS

    guide = (ROOT / "book" / "reproduce.md").read_text()
    section = guide.split("## The full experiments behind the book", 1)[1].split("\n## ", 1)[0]
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    options = {opt for action in subparsers.choices["export-results"]._actions for opt in action.option_strings}
    commands = [c for c in _commands(section) if "export-results" in c]
    assert {re.search(r"--experiment (\S+)", c).group(1) for c in commands} == set(RUNNERS)
    for command in commands:
        used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", command))
        assert used <= options, f"options in the guide that export-results does not have: {used - options}"
    for notebook, experiment in EXPORT_OF.items():
        assert f'full_results = "data/exports/{experiment}"' in (ROOT / "notebooks" / f"{notebook}.py").read_text()


def test_check_book_reads_the_toc() -> None:
    spec = importlib.util.spec_from_file_location("check_book", ROOT / "scripts" / "check_book.py")
    check_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_book)
    assert check_book.toc_pages(ROOT / "_toc.yml") == _toc_pages()
    assert set(check_book.MIN_FIGURES) <= set(_toc_pages())


def test_notebooks_are_percent_scripts_with_parameters() -> None:
    assert NOTEBOOKS, "no notebooks"
    for notebook in NOTEBOOKS:
        text = notebook.read_text()
        assert "format_name: percent" in text, notebook.name
        cells = text.split("\n# %%")
        code = [c for c in cells[1:] if not c.startswith(" [markdown]")]
        assert code[0].startswith(' tags=["parameters"]'), f"{notebook.name}: first code cell must be parameters"


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part.get("chapters", [])]
    pages += [chapter["file"] for chapter in toc.get("chapters", [])]
    return pages


# --- the chapters' parameter checks ---------------------------------------------------------------------------


def test_chapter_checks_open_the_dataset_and_use_the_preset(tmp_path: Path) -> None:
    from tenset_study.book import chapters
    from tenset_study.evaluation.presets import PRESETS

    chapter = chapters.check_split_comparison(dataset=MINI_DATASET, preset="smoke", models=["xgb"], splits=["by-task"],
                                              results_dir=tmp_path / "results")
    assert chapter.ds.root == MINI_DATASET and chapter.settings == PRESETS["smoke"]
    assert chapter.models == ["xgb"] and chapter.splits == ["by-task"] and chapter.results_dir == tmp_path / "results"
    pruning = chapters.check_pruning(dataset=MINI_DATASET, preset="smoke", models=["xgb"], strategies=None,
                                     splits=None, results_dir="results")
    assert pruning.strategies == list(PRESETS["smoke"]["prune_strategies"])
    assert pruning.splits == list(PRESETS["smoke"]["prune_splits"]) and pruning.fractions == [0.5]
    assert pruning.summary["strategies"] == pruning.strategies and pruning.results_dir == ROOT / "results"
    transfer = chapters.check_transfer(
        dataset=MINI_DATASET, preset="smoke", directions=None, targets=[SMOKE_TUNING_TARGET], arms=["random"],
        fractions=[0.1, 0.01], results_dir="results", tuning_networks=None, tuning_target_platform=SMOKE_TUNING_TARGET,
        study_dir=tmp_path / "study", measured_tuning=None, search_variants="data/search-variants")
    assert transfer.search_variants == ROOT / "data" / "search-variants"
    assert transfer.fractions == [0.01, 0.1] and transfer.directions == list(PRESETS["smoke"]["transfer_directions"])
    assert transfer.tuning_networks == list(PRESETS["smoke"]["tuning"]["networks"]) and transfer.measured_tuning is None
    results = chapters.check_results(dataset=MINI_DATASET, results_dir=tmp_path, measured_tuning="data/transfer-tuning",
                                     search_variants=None)
    assert results.search_variants is None
    assert results.results_dir == tmp_path and results.measured_tuning == ROOT / "data" / "transfer-tuning"


@pytest.mark.parametrize(("check", "wrong", "message"), [
    ("split_comparison", {"dataset": "no/such/dataset", "preset": "nope"}, r"parameter 'dataset'.*does not exist"),
    ("split_comparison", {"preset": "nope"}, r"parameter 'preset': unknown preset 'nope'; presets are smoke"),
    ("split_comparison", {"models": ["xgb", "gbm"]}, r"parameter 'models' = \['xgb', 'gbm'\]: unknown models"),
    ("split_comparison", {"splits": []}, r"parameter 'splits' = \[\]: no splits given; valid splits are random"),
    ("split_comparison", {"results_dir": "pyproject.toml"}, r"parameter 'results_dir'.*is not a folder"),
    ("pruning", {"strategies": ["kmeans"]}, r"parameter 'strategies'.*unknown strategies \['kmeans'\]"),
    ("cost_models", {"split": "by-chip"}, r"parameter 'split': unknown split 'by-chip'"),
    ("cost_models", {"benchmarks_dir": "pyproject.toml"}, r"parameter 'benchmarks_dir'"),
    ("transfer", {"directions": ["cpu to gpu"]}, r"parameter 'directions'.*expected labels like 'cpu->cpu'"),
    ("transfer", {"targets": ["k80"]}, r"parameter 'targets'.*unknown platforms \['k80'\]"),
    ("transfer", {"arms": ["finetune"]}, r"parameter 'arms'.*valid arms are zero-shot"),
    ("transfer", {"fractions": [0.0]}, r"parameter 'fractions'"),
    ("transfer", {"tuning_networks": ["resnet_18-b0-224"]}, r"parameter 'tuning_networks'"),
    ("transfer", {"tuning_target_platform": "k80"}, r"parameter 'tuning_target_platform': unknown platform 'k80'"),
    ("transfer", {"measured_tuning": "pyproject.toml"}, r"parameter 'measured_tuning'"),
    ("transfer", {"tune_live": "no"}, r"parameter 'tune_live'.*must be True or False"),
    ("results", {"results_dir": "pyproject.toml"}, r"parameter 'results_dir'"),
])
def test_chapter_checks_name_the_wrong_parameter(check: str, wrong: dict, message: str) -> None:
    from tenset_study.book import chapters
    from tenset_study.params import ParameterError

    good = {"split_comparison": {"models": ["xgb"], "splits": ["by-task"]},
            "pruning": {"models": ["xgb"], "strategies": None, "splits": None},
            "cost_models": {"models": ["xgb"], "split": "by-network", "benchmarks_dir": "benchmarks/results"},
            "transfer": {"directions": None, "targets": None, "arms": None, "fractions": None, "tuning_networks": None,
                         "tuning_target_platform": None, "study_dir": "studies/x", "measured_tuning": None},
            "results": {"measured_tuning": None}}[check]
    common = {"dataset": MINI_DATASET, "results_dir": "results"} | ({} if check == "results" else {"preset": "smoke"})
    with pytest.raises(ParameterError, match=message):
        getattr(chapters, f"check_{check}")(**{**common, **good, **wrong})


# --- papermill runs (slower) ---------------------------------------------------------------------------------


#: Chapters also run on the dataset imported from real TenSet logs: those whose own logic meets what sets TenSet's
#: records apart (one latency per program, no per-store features, platforms of their own programs): exploration,
#: the models under every split, and transfer with its noise ceiling. Chapters 03 and 04 drive the same
#: preparation and models as 02 on it, and 06 reads tables; they run on data/mini only (make test's time budget).
#: Chapter 05 runs there with ``tune_live=False``: its tuning on data/mini is the same MetaSchedule run, and what
#: differs on TenSet records (``ours`` pretrained without per-store features) has its own test
#: (test_tuning_study.py).
TENSET_CHAPTERS = ("01_tenset_exploration", "02_split_comparison", "05_transfer")


def _datasets(tenset_dataset: Path | None, notebook: Path) -> list[Path]:
    """The small test dataset data/mini, and one imported from real TenSet logs where those are present (for the
    chapters of :data:`TENSET_CHAPTERS`)."""
    tenset = tenset_dataset is not None and notebook.stem in TENSET_CHAPTERS
    return [MINI_DATASET] + ([tenset_dataset] if tenset else [])


#: Notebooks executed on data/mini by ``test_notebook_runs``, which the book build then uses
#: instead of executing them again (it executes any that is missing, e.g. when run alone), and the results
#: folder of each dataset's runs, shared as in ``make book`` (chapter 06 reads the earlier chapters' tables).
EXECUTED = SHARED / "executed-notebooks"
RESULTS = SHARED / "smoke-results"
for _folder in (EXECUTED, RESULTS):
    _folder.mkdir(exist_ok=True)


def _smoke_parameters(notebook: Path, dataset: Path, folder: Path, request: pytest.FixtureRequest) -> dict:
    """Tiny values for the parameters the notebook declares (other parameters keep their defaults). On the
    small test dataset, the transfer-tuning study is the session's smoke study (tuned once, resumed here)."""
    import jupytext
    import papermill

    source = folder / f"{notebook.stem}.source.ipynb"
    jupytext.write(jupytext.read(notebook), source)
    declared = papermill.inspect_notebook(source)
    run_name = Path(dataset.parent.name) / dataset.name
    known = {"dataset": str(dataset), "preset": "smoke", "results_dir": str(RESULTS / run_name),
             "study_dir": str(STUDIES / run_name)}
    if "study_dir" in declared and dataset == MINI_DATASET:
        _, _, study_dir = request.getfixturevalue("smoke_tuning_study")
        # one target per direction (cpu->cpu, cpu->gpu) instead of all three: every arm still runs
        known.update(study_dir=str(study_dir), tuning_target_platform=SMOKE_TUNING_TARGET,
                     targets=[SMOKE_TUNING_TARGET, "h200"])
    if "tune_live" in declared and dataset != MINI_DATASET:
        known["tune_live"] = False
    if "splits" in declared and dataset != MINI_DATASET:
        known["splits"] = ["random", "by-task"]  # the imported logs' run checks the import, not every split again
    if "full_results" in declared:
        known["full_results"] = (str(_smoke_export(EXPORT_OF[notebook.stem], request)) if dataset == MINI_DATASET
                                 else None)
    return {name: value for name, value in known.items() if name in declared}


#: The experiment whose export each chapter shows (tenset_study.exports.runs).
EXPORT_OF = {"02_split_comparison": "splits", "03_dataset_pruning": "pruning",
             "04_attention_cost_model": "cost-models", "05_transfer": "transfer"}
_SMOKE_EXPORTS: dict[str, Path] = {}


def _smoke_export(experiment: str, request: pytest.FixtureRequest) -> Path:
    """An export of ``experiment`` under the smoke preset on data/mini, made once per test run and worker: what a
    chapter's "full experiment" section reads in the notebook tests."""
    if experiment not in _SMOKE_EXPORTS:
        from tenset_study.exports.runs import export_results

        folder = request.getfixturevalue("tmp_path_factory").mktemp("exports") / experiment
        light = {"splits": {"models": ("xgb",), "splits": ("random", "by-network")}, "pruning": {"models": ("xgb",)},
                 "cost-models": {"models": ("mlp", "ours")},  # the paired base, the swap's and the curve's models
                 "transfer": {"directions": ("cpu->cpu",)}}[experiment]
        export_results(experiment, MINI_DATASET, preset="smoke", out=folder, command="tests/test_book.py", **light)
        _SMOKE_EXPORTS[experiment] = folder
    return _SMOKE_EXPORTS[experiment]


@pytest.mark.book
@pytest.mark.timeout(600)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_runs(notebook: Path, tenset_dataset: Path | None, tmp_path: Path,
                       request: pytest.FixtureRequest) -> None:
    """Every notebook runs top to bottom, from a working directory outside the repository."""
    for dataset in _datasets(tenset_dataset, notebook):
        parameters = _smoke_parameters(notebook, dataset, tmp_path, request)
        out = tmp_path / f"{notebook.stem}-{dataset.parent.name}.ipynb"
        book.run_notebook(notebook, out, parameters=parameters, cwd=tmp_path)
        executed = json.loads(out.read_text())
        outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o["output_type"] == "error"]
        if parameters.get("full_results"):
            text = "".join("".join(o.get("text", "")) for o in outputs)
            assert f"({EXPORT_OF[notebook.stem]}, preset smoke), read from" in text, "the export's section shows it"
        stderr = [o for o in outputs if o["output_type"] == "stream" and o["name"] == "stderr"]
        assert not stderr, f"stderr output (warnings?) in the notebook: {stderr}"
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert len(images) >= MIN_FIGURES[notebook.stem], f"{len(images)} figures"
        if dataset == MINI_DATASET:
            shutil.copy(out, EXECUTED / f"{notebook.stem}.ipynb")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_each_chapters_checking_cell_refuses_a_missing_dataset(notebook: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The chapter's own first two code cells (its parameters, then the cell that checks them), run as written with
    a dataset that does not exist: the checking cell stops with the one-line ParameterError. (That papermill
    then stops the notebook at that cell is tested once, below.)"""
    import jupytext

    from tenset_study.params import ParameterError

    code = [cell.source for cell in jupytext.read(notebook).cells if cell.cell_type == "code"]
    namespace: dict = {}
    monkeypatch.chdir(tmp_path)
    exec(code[0], namespace)  # the parameters cell
    namespace["dataset"] = str(tmp_path / "no-such-dataset")
    with pytest.raises(ParameterError, match="parameter 'dataset'.*does not exist"):
        exec(code[1], namespace)


@pytest.mark.book
@pytest.mark.timeout(300)
def test_bad_dataset_parameter_fails_at_the_first_cell(tmp_path: Path) -> None:
    import papermill

    notebook = ROOT / "notebooks" / "02_split_comparison.py"
    out = tmp_path / "bad.ipynb"
    missing = tmp_path / "no-such-dataset"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        book.run_notebook(notebook, out, parameters={"dataset": str(missing)}, cwd=tmp_path)
    assert info.value.ename == "ParameterError"
    assert "parameter 'dataset'" in info.value.evalue and "does not exist" in info.value.evalue
    executed = json.loads(out.read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    tags = [c["metadata"].get("tags", []) for c in code]
    first = next(i for i, t in enumerate(tags) if "injected-parameters" in t) + 1
    assert any(o["output_type"] == "error" for o in code[first]["outputs"]), "the error is not in the first cell"
    assert all(c.get("execution_count") is None for c in code[first + 1:]), "cells after the failing one ran"


@pytest.mark.book
@pytest.mark.timeout(900)
def test_book_builds_with_warnings_as_errors(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The whole book, notebooks executed on data/mini (smoke presets), builds with
    ``jupyter-book build -W``. Notebooks that ``test_notebook_runs`` executed are reused."""
    import subprocess
    import sys

    site = tmp_path / "site"
    shutil.copytree(ROOT / "book", site / "book", ignore=shutil.ignore_patterns("notebooks", "_generated"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, site / name)
    book.write_format_tables(site / "book" / "_generated" / "format_tables.md")
    (site / "book" / "notebooks").mkdir()
    for notebook in NOTEBOOKS:
        executed = site / "book" / "notebooks" / f"{notebook.stem}.ipynb"
        if (EXECUTED / executed.name).exists():
            shutil.copy(EXECUTED / executed.name, executed)
        else:
            book.run_notebook(notebook, executed, cwd=tmp_path,
                              parameters=_smoke_parameters(notebook, MINI_DATASET, tmp_path, request))
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jupyter_book), "build", "-W", "--all", "--quiet", str(site)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for page in pages:
        assert (site / "_build" / "html" / f"{page}.html").exists(), page


# --- publishing ------------------------------------------------------------------------------------------------


#: A git identity for the commits of the publishing test (the machine may have none).
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.org"}


def _git(*args: str, cwd: Path) -> str:
    import subprocess

    return subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_IDENTITY}, capture_output=True,
                          text=True, check=True).stdout


def _publish(repo: Path, remote: Path, html: Path):
    import subprocess
    import sys

    venv = Path(sys.executable).parent.parent
    return subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), "publish", f"VENV={venv}",
                           f"PUBLISH_REMOTE={remote}", f"HTML_DIR={html}"],
                          cwd=repo, env={**os.environ, **GIT_IDENTITY}, capture_output=True, text=True, timeout=120)


def test_make_publish_pushes_the_built_html_to_gh_pages(tmp_path: Path) -> None:
    """``make publish`` into a local bare repository: the HTML folder becomes the whole gh-pages branch
    (with .nojekyll), a second publish replaces it, and the checkout's own branch is left alone."""
    remote, repo, html = tmp_path / "remote.git", tmp_path / "checkout", tmp_path / "html"
    _git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    repo.mkdir()
    _git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README.md").write_text("the project\n")
    _git("add", "README.md", cwd=repo)
    _git("commit", "-q", "-m", "start", cwd=repo)
    head = _git("rev-parse", "--short", "HEAD", cwd=repo).strip()

    missing = _publish(repo, remote, html)
    assert missing.returncode != 0 and "index.html is missing: run make book first" in missing.stderr

    (html / "_static").mkdir(parents=True)
    (html / "index.html").write_text("<html>first</html>")
    (html / "_static" / "style.css").write_text("body {}")
    done = _publish(repo, remote, html)
    assert done.returncode == 0, done.stderr
    files = set(_git("ls-tree", "-r", "--name-only", "gh-pages", cwd=remote).split())
    assert files == {".nojekyll", "index.html", "_static/style.css"}
    assert f"Publish the book from {head}" in _git("log", "-1", "--format=%s", "gh-pages", cwd=remote)

    (html / "_static" / "style.css").unlink()
    (html / "index.html").write_text("<html>second</html>")
    assert _publish(repo, remote, html).returncode == 0
    assert set(_git("ls-tree", "-r", "--name-only", "gh-pages", cwd=remote).split()) == {".nojekyll", "index.html"}
    assert _git("show", "gh-pages:index.html", cwd=remote) == "<html>second</html>"
    assert _git("rev-parse", "--abbrev-ref", "HEAD", cwd=repo).strip() == "main"
    assert (repo / "README.md").read_text() == "the project\n", "the checkout is untouched"
