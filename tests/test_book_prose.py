"""The book's prose quotes numbers only through MyST-NB glue, and its figures are readable: fast checks on the
notebook sources (no chapter runs here) and on the package's glue, facts, claims and figure helpers, on
data/mini and the committed transfer-tuning exports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import pandas as pd
import pytest

from tenset_study.book import claims, facts, glue as glue_module, notebook, style

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
INTRO = ROOT / "book" / "intro.md"
RESULTS_CHAPTER = "notebooks/06_results.ipynb"

#: ``{glue:text}`key``, ``{glue:text}`key:.2f``, ``{glue:text}`doc.ipynb::key:s``, ``{glue}`key``.
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`]+)`")
#: ```{glue} key``` (and ``{glue:figure}``, ``{glue:md}``), with an optional ``:doc:`` option line.
GLUE_DIRECTIVE = re.compile(r"```\{glue(?::\w+)?\}\s+(\S+)\s*\n(?::doc:\s*(\S+))?")
#: Numbers quoted from the cited literature (TenSet's own description of its dataset and machines), which the
#: book cannot compute; everything else in the prose must be glued.
CITED = ("52 million measured programs of\n2,308 tasks from 120 networks", "2017-2020",
         "Xeon Platinum 8272CL, E5-2673 v4, EPYC 7452")
#: Names that contain a number but are not figures: the Linux load average's window.
NAMES_WITH_NUMBERS = ("15-minute load",)
#: Bare numbers that define a scale rather than report a figure ("1 = same order", "so 1 is the fastest").
SCALE = {"0", "1"}


def _markdown(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    return "\n\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "markdown")


def _pasted(text: str) -> list[tuple[str | None, str]]:
    """(document or None for this page, key) of every glue role and directive in a markdown text."""
    found = []
    for target in GLUE_ROLE.findall(text):
        doc, _, key = target.rpartition("::")
        if doc:
            key = key.rsplit(":", 1)[0]  # across pages a format is required (``key:s``)
        else:
            key = key.split(":", 1)[0]
        found.append((doc or None, key))
    found += [(doc or None, key) for key, doc in GLUE_DIRECTIVE.findall(text)]
    return found


def _glued(path: Path) -> set[str]:
    """The names a notebook glues, read from its code: literal names and keywords of ``glue(...)`` and
    ``glue_table(...)``, and the declared ``glue_keys`` of the package functions whose results it glues."""
    names: set[str] = set()
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                    in ("glue", "glue_table")):
                continue
            names.update(k.arg for k in node.keywords if k.arg)
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.add(arg.value)
                elif isinstance(arg, ast.Dict):
                    names.update(k.value for k in arg.keys if isinstance(k, ast.Constant))
                elif isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and \
                        getattr(arg.func.value, "id", None) == "facts":
                    names.update(getattr(facts, arg.func.attr).glue_keys)
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_pasted_name_is_glued_by_the_chapter(path: Path) -> None:
    pasted = _pasted(_markdown(path))
    assert all(doc is None for doc, _ in pasted), "a chapter pastes only its own values"
    missing = {key for _, key in pasted} - _glued(path)
    assert not missing, f"{path.name} pastes names it never glues: {sorted(missing)}"


def test_the_introduction_pastes_what_the_results_chapter_glues() -> None:
    pasted = _pasted(INTRO.read_text())
    assert ("notebooks/06_results.ipynb", "results_at_a_glance") in pasted, "no results-at-a-glance table"
    assert {doc for doc, _ in pasted} == {RESULTS_CHAPTER}
    missing = {key for _, key in pasted} - _glued(ROOT / "notebooks" / "06_results.py")
    assert not missing, f"intro.md pastes names chapter 06 never glues: {sorted(missing)}"
    intro = INTRO.read_text()
    assert intro.index("Results at a glance") < intro.index("## What this book is about")


def _typed_numbers(text: str) -> list[str]:
    for allowed in CITED + NAMES_WITH_NUMBERS:
        text = text.replace(allowed, "")
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)  # roles: glue, doc, cite
    text = re.sub(r"`[^`]*`", " ", text)  # code spans: names, paths, parameters
    text = re.sub(r"```.*?```", " ", text, flags=re.S)  # code blocks and directives
    text = re.sub(r"^\s*\d+\.\s", " ", text, flags=re.M)  # numbered list items
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    found = re.findall(r"(?<![\w.\-/])\d+(?:[.,]\d+)*(?:%|x\b)?(?![\w%])", text)
    return [number for number in found if number not in SCALE]


@pytest.mark.parametrize("path", [*NOTEBOOKS, INTRO], ids=[p.stem for p in [*NOTEBOOKS, INTRO]])
def test_no_number_is_typed_in_the_prose(path: Path) -> None:
    typed = _typed_numbers(_markdown(path))
    assert not typed, f"{path.name}: numbers typed in the prose (glue them from the computation): {typed}"


def test_typed_numbers_are_found() -> None:
    """The check above sees the numbers it must see, and not the names that contain digits."""
    assert _typed_numbers("up to 45% of 2,308 tasks, 2.5x faster on a 2-core CPU, 30 repeats.") == [
        "45%", "2,308", "2.5x", "2", "30"]
    assert _typed_numbers("near 1 (1 = same order), Xeon 8272CL") == []
    assert _typed_numbers("top-5 on H100 with `bert_tiny-b1-128` and {glue:text}`pca:.3f` (v2)") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_figure_cell_has_a_one_sentence_caption(path: Path) -> None:
    figure_call = re.compile(r"\b(plot_\w+|tuning_curves_figure)\(")
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code" or not figure_call.search(cell.source.splitlines()[-1]):
            continue
        caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption", "")
        assert caption, f"{path.name}: figure cell without a caption: {cell.source.splitlines()[-1]!r}"
        assert caption.endswith(".") and caption.count(". ") == 0, f"{path.name}: not one sentence: {caption!r}"


# --- the glue helpers ------------------------------------------------------------------------------------------


def test_values_read_as_prose() -> None:
    assert glue_module.text(12262) == "12,262" and glue_module.text(0.71234) == "0.712"
    assert glue_module.text(float("nan")) == glue_module.MISSING and glue_module.text(None) == glue_module.MISSING
    assert glue_module.share(0.4512) == "45%" and glue_module.share(0.0234, 1) == "2.3%"
    assert glue_module.listing(["a", "b", "c", "b"]) == "a, b and c" and glue_module.listing([]) == glue_module.MISSING
    assert glue_module.glue({"a": 3}, b=0.5) == {"a": "3", "b": "0.500"}  # outside a kernel: only returned


def test_a_declared_function_cannot_drift() -> None:
    @glue_module.glued("a", "b")
    def values(extra: bool) -> dict:
        return {"a": 1, "b": 2, **({"c": 3} if extra else {})}

    assert values.glue_keys == ("a", "b") and values(False) == {"a": 1, "b": 2}
    with pytest.raises(KeyError, match="declared"):
        values(True)


def test_facts_of_the_test_dataset_and_the_committed_exports() -> None:
    from tenset_study.book.chapters import open_dataset

    ds = open_dataset(ROOT / "data" / "mini")
    values = facts.dataset_facts(ds)
    assert values["tasks"] == f"{ds.count('tasks'):,}" and values["measurements"] == f"{ds.count('measurements'):,}"
    assert values["tvm_version"] != glue_module.MISSING
    none = facts.measured_tuning_facts(None)
    assert none["measured_studies"] == "0" and none["round_spread_max"] == glue_module.MISSING
    exports = ROOT / "data" / "transfer-tuning"
    measured = facts.measured_tuning_facts(exports)
    assert measured["measured_studies"] == str(len(list(exports.glob("*/provenance.json"))))
    assert measured["measured_trials_shares"].endswith("%") and measured["flat_tolerance"] == "1%"
    table = facts.measured_studies_table(exports)
    assert set(table["target"]) == {p.parent.name for p in exports.glob("*/provenance.json")}
    assert (table["trials_per_task"] > 0).all() and table["pretrained_on"].str.len().gt(0).all()


def test_hardware_swap_facts_count_moves_beyond_their_interval() -> None:
    swap = pd.DataFrame({"delta": [0.0, -0.031, 0.012], "delta_low": [-0.01, -0.05, -0.002],
                         "delta_high": [0.01, -0.012, 0.03], "task_spearman": [1.0, 0.8123, 0.95]})
    values = facts.hardware_swap_facts(swap)
    assert values == {"swap_pairs": "3", "swap_moved": "1", "swap_min_task_spearman": "0.8123",
                      "swap_largest_delta": "-0.0310"}
    assert set(facts.hardware_swap_facts(None).values()) == {glue_module.MISSING}


def test_full_cost_model_facts_read_the_export_and_judge_the_swap() -> None:
    from tenset_study.exports.store import Export

    summary = pd.DataFrame({"variant": ["mlp", "ours", "mlp", "ours"], "platform": ["a", "a", "b", "b"],
                            "network": "all", "metric": "pca", "value": [0.6, 0.7, 0.8, 0.82]})
    paired = pd.DataFrame({"platform": ["b", "a"], "metric": "pca", "model": "ours", "minus": "mlp",
                           "diff": [0.02, 0.1], "low": [-0.01, 0.05], "high": [0.04, 0.15]})
    swap = pd.DataFrame({"delta": [-0.05, 0.001], "delta_low": [-0.06, -0.002], "delta_high": [-0.04, 0.003],
                         "task_spearman": [0.7, 0.99]})
    full = Export(Path("x"), {"summary": summary, "paired": paired, "swap": swap}, {"settings": {"seeds": [0, 1, 2]}})
    values = facts.full_cost_model_facts(full)
    assert (values["full_seeds"], values["full_best_model"], values["full_best_model_pca"]) == ("3", "ours", "0.760")
    assert values["full_ours_minus_mlp"] == "+0.100 [+0.050, +0.150] on a and +0.020 [-0.010, +0.040] on b"
    assert (values["full_swap_moved"], values["full_swap_pairs"]) == ("1", "2")
    assert "uses the hardware" in values["full_swap_verdict"]
    still = Export(Path("x"), {"summary": summary, "paired": paired, "swap": swap.iloc[[1]]}, {})
    assert "change no ranking" in facts.full_cost_model_facts(still)["full_swap_verdict"]
    assert set(facts.full_cost_model_facts(None).values()) == {glue_module.MISSING}


def test_paper_facts_are_the_claims_thresholds() -> None:
    values = facts.paper_facts()
    assert values["paper_pruned"] == f"{claims.PAPER_PRUNED[0]:.0%}" and values["paper_top5"] == f"{claims.PAPER_TOP5:.0%}"
    assert values["paper_tuning_shares"] == "25-40%"


# --- the verdict table and paths -----------------------------------------------------------------------------


def test_verdict_table_is_one_short_line_per_claim_with_details_below(tmp_path: Path) -> None:
    table = claims.claims_table(tmp_path, ROOT / "data" / "transfer-tuning")
    short = claims.verdict_table(table)
    assert list(short.columns) == ["paper", "this book", "verdict"] and len(short) == len(table)
    assert short.map(len).max().max() <= 90, "a verdict table cell is a paragraph"
    details = claims.claim_details(table)
    for row in table.itertuples():
        assert f"**{row.claim}**: *{row.verdict}*" in details
    assert "read from: `data/transfer-tuning (the full experiment" in details
    assert str(ROOT) not in details, "the details show the machine's path of the repository"


def test_written_files_are_shown_relative_to_the_repository() -> None:
    assert notebook.written(ROOT / "results" / "x.csv") == "wrote results/x.csv"
    assert notebook.written([ROOT / "a.csv", "results/b.csv"]).splitlines() == ["wrote a.csv", "wrote results/b.csv"]


# --- figures ---------------------------------------------------------------------------------------------------


def test_figures_use_the_colour_blind_safe_palette_and_label_their_axes() -> None:
    import matplotlib as mpl
    from matplotlib.colors import to_hex

    from tenset_study.book import report

    style.apply()
    assert [to_hex(c["color"]).upper() for c in mpl.rcParams["axes.prop_cycle"]] == list(style.PALETTE)
    assert set(style.PALETTE) == set(style.OKABE_ITO) and style.palette(9)[8] == style.PALETTE[0]
    summary = pd.DataFrame([{"platform": p, "variant": v, "metric": "pca", "network": "all", "value": 0.7,
                             "low": 0.65, "high": 0.75} for p in ("cpu-a", "gpu-b") for v in ("xgb", "ours")])
    fig = report.plot_metric_bars(summary, "pca")
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and "0 to 1" in ax.get_ylabel()
    bars = {to_hex(p.get_facecolor()).upper() for p in ax.patches}
    assert bars <= set(style.OKABE_ITO), bars
    assert fig.get_figwidth() <= style.MAX_WIDTH
    best = pd.DataFrame({"split": ["by-network"] * 2, "strategy": ["spread", "uniform"], "pruned": [0.6, 0.2]})
    fig = claims.plot_pruning_claim(best)
    assert fig._suptitle is not None and fig.axes[0].get_xlabel().endswith("(%)")
