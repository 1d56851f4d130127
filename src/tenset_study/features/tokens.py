"""Schedule tokens: a program's schedule as a sequence of fixed-width vectors (TLP, Zhai et al. 2023).

TLP reads a schedule the way a language model reads a sentence: every schedule primitive becomes one
token, a vector made of a one-hot of the primitive's kind and its numeric arguments, and a sequence model
(self-attention) reads the tokens. Here a token stands for one MetaSchedule *instruction* (encoding
``metaschedule``) or one Ansor *step* (encoding ``ansor``, imported from TenSet). Both encodings share one
width and one layout, so a model can train on both.

Token layout: :mod:`tenset_study.features.vocabulary` (``FEATURE_WIDTH`` columns, named in :data:`FEATURE_NAMES`:
a one-hot of the instruction or step kind, then counts, decisions, factors, attributes, string ids and a
postprocessing flag).

Postprocessing instructions are kept. Before ``EnterPostproc`` a MetaSchedule trace only *requests*
parallelism, vectorization and unrolling (``meta_schedule.parallel``/``vectorize``/``unroll_explicit``
annotations on the root block with upper limits); the postprocessors decide which loops are fused and
made parallel or vectorized, how far unrolling goes (``pragma_auto_unroll_max_step``), how reductions
are decomposed and how GPU threads are bound. That is the structure that sets the speed of the
program, and it is what an Ansor step list spells out too (``AN``/``PR`` steps). The price is length:
on ``data/default`` a trace has a median of 51 tokens, 30 of them before postprocessing (maximum 85
and 55; :func:`length_distribution` reports both).

Padding rows are all zero; every real token has exactly one kind column set, so a token row is padding
exactly when its kind columns sum to 0. Cropping keeps the first ``max_len`` tokens.

Speed: tokens are defined by :func:`metaschedule_tokens` and :func:`ansor_tokens` and computed through a
:class:`TokenTable` that remembers every distinct token, so most instructions cost a dictionary look-up.

Modules: :mod:`.vocabulary` (layout and definition of a token), :mod:`.token_table` (the fast path),
:mod:`.token_stats` (lengths, a token in words); this one encodes programs and caches a dataset's tokens.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .. import fastjson
from .token_stats import describe_token, length_distribution, lengths_of, trace_length
from .token_table import TokenTable
from .vocabulary import (ANSOR_ANNOTATIONS, ANSOR_STEPS, ENCODINGS, FEATURE_NAMES, FEATURE_WIDTH, KINDS, KNOWN_STRINGS,
                         METASCHEDULE_KINDS, N_ATTRS, N_FACTORS, N_KINDS, N_NUMERIC, N_STRINGS, NUMERIC_SLOTS,
                         OTHER_KIND, STRING_BUCKETS, TOKENIZER_VERSION, TokenizerError, ansor_tokens,
                         metaschedule_tokens, string_id)

# A table shared by the calls of this process; started afresh when it grows past _TABLE_LIMIT rows.
_TABLE_LIMIT = 1 << 18  # 262,144 rows, 86 MB
_table = TokenTable()


def _shared_table() -> TokenTable:
    """The process's shared :class:`TokenTable` (a fresh one once it holds more than ``_TABLE_LIMIT`` rows)."""
    global _table
    if _table.size > _TABLE_LIMIT:
        _table = TokenTable()
    return _table


def encode_program(encoding: str, trace_text: str | bytes) -> np.ndarray:
    """One program's tokens.

    Parameters
    ----------
    encoding: ``metaschedule`` or ``ansor`` (the ``encoding`` column of ``programs``).
    trace_text: the ``trace`` column: MetaSchedule ``[instructions, decisions]`` or Ansor steps, as JSON.

    Returns
    -------
    float32 array ``(steps, FEATURE_WIDTH)``, one row per instruction or step (no cropping, no padding).
    """
    table = _shared_table()
    ids = np.asarray(table.ids(encoding, trace_text), dtype=np.intp)  # may grow the table: index it after
    return table.table[ids].reshape(-1, FEATURE_WIDTH)


def encode_programs(programs: pd.DataFrame, max_len: int, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Tokens of many programs, cropped (first ``max_len`` tokens kept) or zero-padded to ``max_len``.

    Parameters
    ----------
    programs: a frame with columns ``encoding`` and ``trace`` (rows of the ``programs`` table).
    max_len: sequence length of the result.
    chunk: programs gathered into the result at a time (bounds the memory of intermediate lists).

    Returns
    -------
    ``(tokens, lengths)``: float32 ``[N, max_len, FEATURE_WIDTH]`` and int32 ``[N]``, the number of real
    (not padding) tokens of each program after cropping.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    encodings = programs["encoding"].tolist()
    traces = programs["trace"].tolist()
    n = len(traces)
    tokens = np.zeros((n, max_len, FEATURE_WIDTH), dtype=np.float32)
    lengths = np.zeros(n, dtype=np.int32)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        _encode_chunk(encodings[start:stop], traces[start:stop], tokens[start:stop], lengths[start:stop])
    return tokens, lengths


def _encode_chunk(encodings: list[str], traces: list[str], tokens: np.ndarray, lengths: np.ndarray) -> None:
    """Encode a chunk into views of the result arrays with one gather for the whole chunk."""
    table = _shared_table()
    max_len = tokens.shape[1]
    flat: list[int] = []
    for r, (encoding, text) in enumerate(zip(encodings, traces)):
        ids = table.ids(encoding, text)
        length = min(len(ids), max_len)
        lengths[r] = length
        flat.extend(ids[:length])
    if not flat:
        return
    ids_a = np.asarray(flat, dtype=np.intp)
    rows = np.repeat(np.arange(len(lengths), dtype=np.intp), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.arange(len(ids_a), dtype=np.intp) - starts
    tokens[rows, positions] = table.table[ids_a]


def reference_tokens(encoding: str, trace_text: str | bytes) -> np.ndarray:
    """One program's tokens computed directly from their definition, without the :class:`TokenTable`.

    Slower than :func:`encode_program`, and equal to it; the tests use it to check the fast path.
    """
    try:
        trace = fastjson.loads(trace_text)
    except fastjson.JSONDecodeError as err:
        raise TokenizerError(f"trace is not valid JSON: {err}") from err
    if encoding == "metaschedule":
        kinds, rows = metaschedule_tokens(trace)
    elif encoding == "ansor":
        kinds, rows = ansor_tokens(trace)
    else:
        raise TokenizerError(f"unknown encoding {encoding!r}; encodings are {', '.join(ENCODINGS)}")
    out = np.zeros((len(kinds), FEATURE_WIDTH), dtype=np.float32)
    if kinds:
        out[np.arange(len(kinds)), kinds] = 1.0
        out[:, N_KINDS:] = rows
    return out



def program_tokens(ds, max_len: int, program_ids: Iterable[str] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokens of a dataset's programs, computed once and cached on disk (see :mod:`.cache`).

    Parameters
    ----------
    ds: the :class:`~tenset_study.data.dataset.Dataset`.
    max_len: sequence length (cropping/padding as in :func:`encode_programs`).
    program_ids: the programs wanted, in this order (default: every program in table order).

    Returns
    -------
    ``(program_ids, tokens, lengths)``: ids ``[N]``, float32 ``[N, max_len, FEATURE_WIDTH]``, int32 ``[N]``.
    """
    from .cache import cached_program_features

    ids, tokens = cached_program_features(
        ds, f"tokens-len{int(max_len)}", TOKENIZER_VERSION,
        lambda programs: encode_programs(programs, max_len)[0],
        program_ids=program_ids, columns=("program", "encoding", "trace"), depends_on=(),
    )
    return ids, tokens, lengths_of(tokens)


__all__ = ["ANSOR_ANNOTATIONS", "ANSOR_STEPS", "ENCODINGS", "FEATURE_NAMES", "FEATURE_WIDTH", "KINDS", "KNOWN_STRINGS",
           "METASCHEDULE_KINDS", "N_ATTRS", "N_FACTORS", "N_KINDS", "N_NUMERIC", "N_STRINGS", "NUMERIC_SLOTS",
           "OTHER_KIND", "STRING_BUCKETS", "TOKENIZER_VERSION", "TokenTable", "TokenizerError", "ansor_tokens",
           "describe_token", "encode_program", "encode_programs", "length_distribution", "lengths_of",
           "metaschedule_tokens", "program_tokens", "reference_tokens", "string_id", "trace_length"]
