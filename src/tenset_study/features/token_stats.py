"""Statistics of schedule tokens: sequence lengths (to report them and choose ``max_len``) and a token row in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import fastjson
from .vocabulary import KINDS, N_KINDS, NUMERIC_SLOTS


def trace_length(encoding: str, trace_text: str | bytes) -> tuple[int, int]:
    """``(tokens, tokens before postprocessing)`` of one program (the two are equal for Ansor)."""
    trace = fastjson.loads(trace_text)
    if encoding == "metaschedule":
        instructions = trace[0]
        before = next((i for i, inst in enumerate(instructions) if inst[0] == "EnterPostproc"), len(instructions))
        return len(instructions), before
    return len(trace), len(trace)


def length_distribution(programs: pd.DataFrame) -> pd.DataFrame:
    """Token counts per program, to report sequence lengths and choose ``max_len``.

    Returns a frame with the ``program``, ``task`` and ``encoding`` columns present in ``programs``, plus
    ``length`` (tokens, postprocessing included) and ``length_before_postproc``. Summarize it with e.g.
    ``frame.groupby("encoding")["length"].describe(percentiles=[.5, .9, .99])``.
    """
    counts = [trace_length(e, t) for e, t in zip(programs["encoding"], programs["trace"])]
    keep = [c for c in ("program", "task", "encoding") if c in programs.columns]
    frame = programs[keep].reset_index(drop=True).copy()
    frame["length"] = np.array([c[0] for c in counts], dtype=np.int32)
    frame["length_before_postproc"] = np.array([c[1] for c in counts], dtype=np.int32)
    return frame


def lengths_of(tokens: np.ndarray) -> np.ndarray:
    """Real-token counts of a ``[N, max_len, FEATURE_WIDTH]`` array (a row is padding when no kind is set)."""
    return (tokens[..., :N_KINDS].sum(axis=-1) > 0).sum(axis=-1).astype(np.int32)


def describe_token(token: np.ndarray) -> dict[str, float | str]:
    """A token row as ``{"kind": name, slot: value, ...}`` with the non-zero numeric slots (for reading)."""
    kind = KINDS[int(np.argmax(token[:N_KINDS]))] if token[:N_KINDS].any() else "(padding)"
    slots = {name: float(v) for name, v in zip(NUMERIC_SLOTS, token[N_KINDS:]) if v}
    return {"kind": kind, **slots}

