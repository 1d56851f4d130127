"""Schedule tokens: both encodings on real traces, the layout, crop/pad, unknown kinds, decisions, lengths."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from tenset_study.features import tokens as tk
from tenset_study.data.dataset import Dataset
from tenset_study.importers.tenset.importer import import_tenset

ROOT = Path(__file__).resolve().parents[1]
MINI_DATA = ROOT / "data" / "mini"
SHARED = ROOT / ".." / "shared" / "tenset-format"
SLOT = {name: tk.N_KINDS + i for i, name in enumerate(tk.NUMERIC_SLOTS)}


def kind_column(name: str) -> int:
    return tk.KINDS.index(name)


@pytest.fixture(scope="module")
def ms_programs() -> pd.DataFrame:
    if not (MINI_DATA / "dataset.json").exists():
        pytest.skip("data/mini is not present")
    programs = Dataset.open(MINI_DATA).to_pandas("programs")
    return programs.groupby("task").head(3).reset_index(drop=True)  # every task, CPU and GPU


@pytest.fixture(scope="module")
def ansor_programs(tmp_path_factory) -> pd.DataFrame:
    logs = [SHARED / "resnet-50-NHWC-B1-llvm.json", SHARED / "resnet-18-NHWC-B1-cuda.json"]
    if not all(log.exists() for log in logs):
        pytest.skip("the shared TenSet-format logs are not here")
    dest = tmp_path_factory.mktemp("ansor") / "ds"
    for log in logs:
        import_tenset(log, dest, progress=False)
    return Dataset.open(dest).to_pandas("programs")


def instructions(trace: str) -> list:
    return orjson.loads(trace)[0]


# --- layout ---------------------------------------------------------------------------------------


def test_layout_constants():
    assert tk.FEATURE_WIDTH == len(tk.FEATURE_NAMES) == tk.N_KINDS + tk.N_NUMERIC
    assert len(set(tk.KINDS)) == len(tk.KINDS) and tk.KINDS[-1] == tk.OTHER_KIND
    assert set(tk.ANSOR_STEPS) == set("SP FSP FFSP RE FU AN PR CA CI CR CHR CHW RF SA".split())
    assert len(set(tk.KNOWN_STRINGS)) == len(tk.KNOWN_STRINGS)


def test_string_ids_are_small_and_stable():
    assert tk.string_id("meta_schedule.tiling_structure") == 1
    assert tk.string_id("threadIdx.x") == tk.KNOWN_STRINGS.index("threadIdx.x") + 1
    # unknown strings: a CRC-32 bucket after the known ones, the same in every process and release
    assert tk.string_id("conv2d_nchw") == 77 and tk.string_id("T_add") == 71
    assert all(len(tk.KNOWN_STRINGS) < tk.string_id(f"block{i}") <= len(tk.KNOWN_STRINGS) + tk.STRING_BUCKETS
               for i in range(100))


# --- MetaSchedule ---------------------------------------------------------------------------------


def test_metaschedule_tokens_follow_the_trace(ms_programs):
    for trace in ms_programs["trace"]:
        insts = instructions(trace)
        tokens = tk.encode_program("metaschedule", trace)
        assert tokens.shape == (len(insts), tk.FEATURE_WIDTH) and tokens.dtype == np.float32
        assert np.all(tokens[:, : tk.N_KINDS].sum(1) == 1)  # exactly one kind each
        assert [tk.KINDS[k] for k in tokens[:, : tk.N_KINDS].argmax(1)] == [inst[0] for inst in insts]
        enter = next(i for i, inst in enumerate(insts) if inst[0] == "EnterPostproc")
        assert np.all(tokens[: enter + 1, SLOT["postproc"]] == 0) and np.all(tokens[enter + 1 :, SLOT["postproc"]] == 1)
        assert np.isfinite(tokens).all()
        assert tk.string_id("main") in tokens[:, SLOT["string_1"]]  # GetSBlock's function name


def test_fast_path_equals_the_definition(ms_programs, ansor_programs):
    both = pd.concat([ms_programs, ansor_programs], ignore_index=True)
    tokens, lengths = tk.encode_programs(both, 128)
    for i, (encoding, trace) in enumerate(zip(both["encoding"], both["trace"])):
        reference = tk.reference_tokens(encoding, trace)
        assert lengths[i] == len(reference)
        np.testing.assert_array_equal(tokens[i, : lengths[i]], reference)


def test_tile_decisions_reach_sample_and_split(ms_programs):
    trace = ms_programs["trace"][0]
    insts, decisions = orjson.loads(trace)
    index, tiles = next((i, d) for i, d in decisions if insts[i][0] == "SamplePerfectTile")
    tokens = tk.encode_program("metaschedule", trace)
    factors = [SLOT[f"factor_{j}"] for j in range(len(tiles))]
    np.testing.assert_allclose(tokens[index, factors], [math.log2(1 + t) for t in tiles], rtol=1e-6)
    # the Split that consumes the sampled variables carries the same factors
    outputs = set(insts[index][3])
    split = next(j for j, inst in enumerate(insts) if inst[0] == "Split" and outputs & set(inst[1]))
    np.testing.assert_array_equal(tokens[split, factors], tokens[index, factors])


def test_different_decisions_give_different_tokens(ms_programs):
    trace = ms_programs["trace"][0]
    insts, decisions = orjson.loads(trace)
    tiles = [(k, d) for k, (i, d) in enumerate(decisions) if isinstance(d, list) and len(set(d)) > 1]
    assert tiles, "a program with a non-trivial tile decision"
    k, d = tiles[0]
    changed = orjson.loads(trace)
    changed[1][k][1] = list(reversed(d))
    a = tk.encode_program("metaschedule", trace)
    b = tk.encode_program("metaschedule", orjson.dumps(changed))
    differ = np.flatnonzero(np.any(a != b, axis=1))
    assert decisions[k][0] in differ  # the sampling instruction
    assert all(insts[j][0] in ("SamplePerfectTile", "Split") for j in differ)
    # identical traces give identical tokens, from a fresh table too
    np.testing.assert_array_equal(a, tk.encode_program("metaschedule", trace))
    np.testing.assert_array_equal(a, tk.reference_tokens("metaschedule", trace))


def test_categorical_decision_gives_the_chosen_value(ms_programs):
    for trace in ms_programs["trace"]:
        insts, decisions = orjson.loads(trace)
        found = [(i, d) for i, d in decisions if insts[i][0] == "SampleCategorical"]
        if found:
            break
    index, choice = found[0]
    candidates = insts[index][2][0]
    changed = orjson.loads(trace)
    other = (choice + 1) % len(candidates)
    changed[1] = [[i, other if i == index else d] for i, d in decisions]
    a = tk.encode_program("metaschedule", trace)
    b = tk.encode_program("metaschedule", orjson.dumps(changed))
    assert a[index, SLOT["decision"]] == choice and b[index, SLOT["decision"]] == other
    assert a[index, SLOT["factor_0"]] == pytest.approx(math.log2(1 + candidates[choice]))
    assert a[index, SLOT["attr_0"]] == pytest.approx(math.log2(1 + len(candidates)))
    # the annotation that reads the sampled variable (unroll limit) changes with it
    variable = insts[index][3][0]
    reader = next(j for j, inst in enumerate(insts) if variable in inst[1])
    if candidates[choice] != candidates[other]:
        assert a[reader, SLOT["factor_0"]] != b[reader, SLOT["factor_0"]]


def test_unknown_kinds_and_bad_traces():
    trace = orjson.dumps([[["GetSBlock", [], ["C", "main"], ["b0"]], ["FancyNewThing", ["b0", 7], ["x"], []]], []])
    tokens = tk.encode_program("metaschedule", trace)
    assert tokens[1, kind_column("other")] == 1 and tokens[1, SLOT["factor_0"]] == pytest.approx(3.0)
    steps = tk.encode_program("ansor", '[["ZZ", 1], [], ["SP", 0, 0, 8, [2], 1]]')
    assert list(steps[:, : tk.N_KINDS].argmax(1)) == [kind_column("other"), kind_column("other"), kind_column("SP")]
    with pytest.raises(tk.TokenizerError, match="not valid JSON"):
        tk.encode_program("metaschedule", "[[")
    with pytest.raises(tk.TokenizerError, match="unknown encoding"):
        tk.encode_program("halide", "[]")
    with pytest.raises(tk.TokenizerError):
        tk.encode_program("metaschedule", "[1, 2, 3]")
    assert tk.encode_program("ansor", "[]").shape == (0, tk.FEATURE_WIDTH)


# --- Ansor ----------------------------------------------------------------------------------------


def test_ansor_tokens(ansor_programs):
    for trace in ansor_programs["trace"]:
        steps = orjson.loads(trace)
        tokens = tk.encode_program("ansor", trace)
        assert [tk.KINDS[k] for k in tokens[:, : tk.N_KINDS].argmax(1)] == [s[0] for s in steps]
        assert np.all(tokens[:, SLOT["postproc"]] == 0) and np.isfinite(tokens).all()
    sp = tk.encode_program("ansor", '[["SP", 3, 4, 7, [1, 7, 1], 1]]')[0]
    np.testing.assert_allclose(sp[[SLOT["factor_0"], SLOT["factor_1"], SLOT["factor_2"]]], [1, 3, 1])
    np.testing.assert_allclose(sp[[SLOT["attr_0"], SLOT["attr_1"], SLOT["attr_2"], SLOT["attr_3"]]],
                               [2, math.log2(5), 3, 1])
    assert sp[SLOT["n_inputs"]] == pytest.approx(2.0)  # three lengths
    pragma = tk.encode_program("ansor", '[["PR", 1, 0, "auto_unroll_max_step$16"]]')[0]
    assert pragma[SLOT["factor_0"]] == pytest.approx(math.log2(17))
    assert pragma[SLOT["string_0"]] == tk.string_id("auto_unroll_max_step")
    cache = tk.encode_program("ansor", '[["CHR", 1, "shared", [2]]]')[0]
    assert cache[SLOT["string_0"]] == tk.string_id("shared")


def test_thread_bindings_share_ids_across_encodings():
    ansor = tk.encode_program("ansor", '[["AN", 3, 0, 6], ["AN", 3, 1, 3]]')
    ms = tk.encode_program("metaschedule", orjson.dumps([[["Bind", ["l1"], ["threadIdx.x"], []]], []]))
    assert ansor[0, SLOT["string_0"]] == ms[0, SLOT["string_0"]] == tk.string_id("threadIdx.x")
    assert ansor[1, SLOT["string_0"]] == tk.string_id("parallel")


# --- batches: crop, pad, one width for both encodings ---------------------------------------------


def test_crop_and_pad(ms_programs, ansor_programs):
    both = pd.concat([ms_programs.head(20), ansor_programs.head(20)], ignore_index=True)
    full = [tk.encode_program(e, t) for e, t in zip(both["encoding"], both["trace"])]
    true_lengths = np.array([len(f) for f in full])
    long, lengths = tk.encode_programs(both, int(true_lengths.max()) + 5)
    assert long.shape == (len(both), true_lengths.max() + 5, tk.FEATURE_WIDTH) and long.dtype == np.float32
    assert lengths.dtype == np.int32 and np.array_equal(lengths, true_lengths)
    for i, f in enumerate(full):
        np.testing.assert_array_equal(long[i, : len(f)], f)
        assert not long[i, len(f) :].any()  # padding is zero
    assert np.array_equal(tk.lengths_of(long), lengths)
    crop = int(true_lengths.min()) - 1
    short, cropped = tk.encode_programs(both, crop)
    assert np.all(cropped == crop)
    for i, f in enumerate(full):
        np.testing.assert_array_equal(short[i], f[:crop])  # the first tokens are kept
    with pytest.raises(ValueError):
        tk.encode_programs(both, 0)
    empty, none = tk.encode_programs(both.iloc[:0], 8)
    assert empty.shape == (0, 8, tk.FEATURE_WIDTH) and none.shape == (0,)


def test_length_distribution(ms_programs, ansor_programs):
    both = pd.concat([ms_programs, ansor_programs], ignore_index=True)
    lengths = tk.length_distribution(both)
    assert list(lengths.columns) == ["program", "task", "encoding", "length", "length_before_postproc"]
    _, encoded = tk.encode_programs(both, 1000)
    assert np.array_equal(lengths["length"].to_numpy(), encoded)
    ms = lengths[lengths["encoding"] == "metaschedule"]
    assert (ms["length_before_postproc"] < ms["length"]).all()
    ansor = lengths[lengths["encoding"] == "ansor"]
    assert (ansor["length_before_postproc"] == ansor["length"]).all()


def test_program_tokens_are_cached(tmp_path, monkeypatch, ms_programs):
    monkeypatch.setenv("TENSET_STUDY_CACHE", str(tmp_path / "cache"))
    ds = Dataset.create(tmp_path / "ds")
    ds.append("programs", ms_programs.head(30))
    ids, tokens, lengths = tk.program_tokens(ds, 40)
    expected, expected_lengths = tk.encode_programs(ms_programs.head(30), 40)
    assert list(ids) == list(ms_programs["program"].head(30))
    np.testing.assert_array_equal(tokens, expected)
    np.testing.assert_array_equal(lengths, np.minimum(expected_lengths, 40))
    monkeypatch.setattr(tk, "encode_programs", lambda *a, **k: pytest.fail("recomputed"))
    again_ids, again, _ = tk.program_tokens(ds, 40, program_ids=list(ids[::-1]))
    np.testing.assert_array_equal(again, expected[::-1])


def test_vocabulary_covers_tvm_instruction_kinds():
    """Every kind in the vocabulary is registered in this TVM (the list was read off TVM 0.27)."""
    from tvm.s_tir.schedule import InstructionKind

    for kind in tk.METASCHEDULE_KINDS:
        assert InstructionKind.get(kind).name == kind


def test_the_standard_library_json_backend_gives_the_same_tokens(ms_programs, monkeypatch) -> None:
    """Where orjson is missing (the GPU host), :mod:`tenset_study.fastjson` falls back to the standard
    library: the same bytes for every trace and so the same tokens."""
    import json

    from tenset_study import fastjson

    for trace in ms_programs["trace"]:
        assert fastjson._stdlib_dumps(json.loads(trace)) == orjson.dumps(orjson.loads(trace))
    expected, expected_lengths = tk.encode_programs(ms_programs, 64)
    monkeypatch.setattr(fastjson, "dumps", fastjson._stdlib_dumps)
    monkeypatch.setattr(fastjson, "loads", json.loads)
    monkeypatch.setattr(fastjson, "JSONDecodeError", json.JSONDecodeError)
    monkeypatch.setattr(tk, "_table", tk.TokenTable())  # a fresh table: every token computed again
    got, lengths = tk.encode_programs(ms_programs, 64)
    np.testing.assert_array_equal(lengths, expected_lengths)
    np.testing.assert_array_equal(got, expected)
