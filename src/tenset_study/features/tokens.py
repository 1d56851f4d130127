"""Schedule tokens: a program's schedule as a sequence of fixed-width vectors (TLP, Zhai et al. 2023).

TLP reads a schedule the way a language model reads a sentence: every schedule primitive becomes one
token, a vector made of a one-hot of the primitive's kind and its numeric arguments, and a sequence model
(self-attention) reads the tokens. Here a token stands for one MetaSchedule *instruction* (encoding
``metaschedule``) or one Ansor *step* (encoding ``ansor``, imported from TenSet). Both encodings share one
width and one layout, so a model can train on both.

Token layout (``FEATURE_WIDTH`` = ``len(KINDS)`` + ``len(NUMERIC_SLOTS)`` columns, see
:data:`FEATURE_NAMES`):

* ``kind=<name>`` (``len(KINDS)`` columns): one-hot of the instruction or step kind. :data:`KINDS` is
  fixed here, not learned from a dataset, so columns mean the same thing for every dataset: every
  instruction kind registered in TVM 0.27's ``s_tir`` schedule, then Ansor's 14 step codes, then
  ``other`` for anything else (a newer TVM's instruction, a corrupt step).
* ``n_inputs``, ``n_outputs``: log2(1 + count) of the instruction's inputs and outputs (``GetLoops``:
  the loop-nest depth; ``Fuse``/``Reorder``: how many loops). Ansor: the length of the step's list
  argument (``RE``/``FU`` iterators, ``SP`` lengths, ``CHR`` readers); no outputs.
* ``decision``: an integer decision as sampled (``SampleCategorical``: the index of the chosen candidate;
  ``SampleComputeLocation``: the loop index, -1 root, -2 inline).
* ``factor_0`` .. ``factor_4``: log2(1 + x) of the values the instruction decides or uses, in order:
  tile sizes of ``SamplePerfectTile``/``SamplePartitionedTile`` decisions; ``Split`` factors, resolved
  through the sampled variables they name (an inferred ``None`` factor is 0); the chosen value of
  ``SampleCategorical`` (e.g. 512 for an unroll limit); numeric ``Annotate`` values, resolved likewise
  (``pragma_auto_unroll_max_step``, ``meta_schedule.parallel``). Ansor: ``SP``/``FFSP`` lengths and the
  iterator ids of ``RE``/``FU``/``CHR``; the value of a ``PR`` pragma (``auto_unroll_max_step$16`` -> 16).
  Values past the fifth are dropped.
* ``attr_0`` .. ``attr_3``: sign(x) log2(1 + |x|) of the instruction's numeric attributes, flattened
  (``SamplePerfectTile``: number of tiles, innermost limit; ``ComputeAt``: preserve-unit-loops, index;
  ``CacheRead``: buffer index; ``SampleCategorical``: the number of candidates). Ansor: the scalar integer
  arguments in order (stage id, iterator id, extent, ...).
* ``string_0``, ``string_1``: string arguments as small stable integers (:func:`string_id`): annotation
  keys, thread axes, storage scopes, tiling structures, block names. Ansor: the ``AN`` annotation (its
  integer code mapped to the same names MetaSchedule uses, so ``threadIdx.x`` is one id in both), the
  ``PR`` pragma name, the ``CHR``/``CHW`` scope.
* ``postproc``: 1 for instructions after ``EnterPostproc`` (MetaSchedule), else 0.

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
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .. import fastjson

TOKENIZER_VERSION = 1

# Every instruction kind registered in TVM 0.27's s_tir schedule (checked with InstructionKind.get),
# grouped: look-ups, loop transformations, block transformations, annotations, sampling, postprocessing.
METASCHEDULE_KINDS: tuple[str, ...] = (
    "GetSBlock", "GetLoops", "GetChildBlocks", "GetProducers", "GetConsumers", "GetOutputBlocks",
    "Split", "Fuse", "Merge", "Reorder", "ReorderBlockIterVar", "AddUnitLoop", "LoopPartition",
    "Parallel", "Vectorize", "Bind", "Unroll",
    "CacheRead", "CacheWrite", "CacheInplace", "CacheIndex", "ReindexCacheRead", "ReindexCacheWrite",
    "ReIndex", "ReadAt", "WriteAt", "SetScope", "StorageAlign", "UnsafeSetDType",
    "ComputeAt", "ReverseComputeAt", "ComputeInline", "ReverseComputeInline", "FuseReductionEpilogue",
    "DecomposeReduction", "RFactor", "Blockize", "Tensorize", "TransformLayout", "TransformBlockLayout",
    "DecomposePadding", "PadEinsum", "RollingBuffer", "AnnotateBufferAccess", "UnsafeHideBufferAccess",
    "Annotate", "Unannotate",
    "SamplePerfectTile", "SamplePartitionedTile", "SampleCategorical", "SampleComputeLocation",
    "EnterPostproc",
)
# Ansor's step codes (TenSet logs): split, follow split, follow fused split, reorder, fuse, annotation,
# pragma, compute at / inline / root, cache read / write, rfactor, storage align.
ANSOR_STEPS: tuple[str, ...] = (
    "SP", "FSP", "FFSP", "RE", "FU", "AN", "PR", "CA", "CI", "CR", "CHR", "CHW", "RF", "SA",
)
OTHER_KIND = "other"
KINDS: tuple[str, ...] = (*METASCHEDULE_KINDS, *ANSOR_STEPS, OTHER_KIND)

N_FACTORS = 5
N_ATTRS = 4
N_STRINGS = 2
NUMERIC_SLOTS: tuple[str, ...] = (
    "n_inputs", "n_outputs", "decision",
    *(f"factor_{i}" for i in range(N_FACTORS)),
    *(f"attr_{i}" for i in range(N_ATTRS)),
    *(f"string_{i}" for i in range(N_STRINGS)),
    "postproc",
)
FEATURE_NAMES: tuple[str, ...] = (*(f"kind={k}" for k in KINDS), *NUMERIC_SLOTS)
FEATURE_WIDTH = len(FEATURE_NAMES)
N_KINDS = len(KINDS)
N_NUMERIC = len(NUMERIC_SLOTS)

# Strings with a fixed id (1-based, in this order); any other string gets one of STRING_BUCKETS ids
# after them, chosen by CRC-32 so that it is the same in every process and on every machine.
KNOWN_STRINGS: tuple[str, ...] = (
    # MetaSchedule annotation keys
    "meta_schedule.tiling_structure", "meta_schedule.parallel", "meta_schedule.vectorize",
    "meta_schedule.unroll_explicit", "meta_schedule.unroll_implicit", "meta_schedule.cooperative_fetch",
    "meta_schedule.thread_extent_low_inclusive", "meta_schedule.thread_extent_high_inclusive",
    "meta_schedule.random_compute_producer", "meta_schedule.auto_tensorize", "meta_schedule.auto_tensorize_init",
    "meta_schedule.layout_rewrite_preproc", "meta_schedule.inline_rule", "schedule_rule",
    "pragma_auto_unroll_max_step", "pragma_unroll_explicit", "pragma_debug_skip_region",
    "software_pipeline_stage", "software_pipeline_order", "software_pipeline_async_stages",
    # thread axes (MetaSchedule Bind, Ansor AN)
    "blockIdx.x", "blockIdx.y", "blockIdx.z", "threadIdx.x", "threadIdx.y", "threadIdx.z",
    "vthread", "vthread.x", "vthread.y", "vthread.z",
    # storage scopes
    "global", "shared", "shared.dyn", "local", "warp", "wmma.matrix_a", "wmma.matrix_b", "wmma.accumulator",
    # tiling structures
    "SSRSRS", "SSSRRSRS", "SRSRS",
    # Ansor annotations and pragmas
    "unroll", "vectorize", "parallel", "tensorize", "auto_unroll_max_step",
    # the PrimFunc name in GetSBlock
    "main",
)
STRING_BUCKETS = 32
_STRING_IDS = {s: i + 1 for i, s in enumerate(KNOWN_STRINGS)}
_FIRST_BUCKET = len(KNOWN_STRINGS) + 1

# Ansor's IteratorAnnotation codes (the last argument of an AN step), as names.
ANSOR_ANNOTATIONS: tuple[str, ...] = (
    "none", "unroll", "vectorize", "parallel", "vthread", "blockIdx.x", "threadIdx.x",
    "blockIdx.y", "threadIdx.y", "blockIdx.z", "threadIdx.z", "tensorize",
)

ENCODINGS = ("metaschedule", "ansor")

_MS_INDEX = {k: i for i, k in enumerate(METASCHEDULE_KINDS)}
_ANSOR_INDEX = {k: len(METASCHEDULE_KINDS) + i for i, k in enumerate(ANSOR_STEPS)}
_OTHER_INDEX = N_KINDS - 1

# Offsets of the numeric slots inside the numeric part of a token.
_N_IN, _N_OUT, _DECISION = 0, 1, 2
_FACTOR = 3
_ATTR = _FACTOR + N_FACTORS
_STRING = _ATTR + N_ATTRS
_POSTPROC = _STRING + N_STRINGS
_LOG_COUNT = [math.log2(1 + n) for n in range(256)]
_NUMBERS = (int, float, bool)


class TokenizerError(ValueError):
    """A trace cannot be read as the encoding it claims."""


def string_id(text: str) -> int:
    """A small stable integer for a string argument: 1.. for :data:`KNOWN_STRINGS`, else a CRC-32 bucket."""
    known = _STRING_IDS.get(text)
    if known is not None:
        return known
    return _FIRST_BUCKET + zlib.crc32(text.encode()) % STRING_BUCKETS


def _slog(x: float) -> float:
    """sign(x) log2(1 + |x|): keeps sign and order, compresses tile sizes and extents."""
    return math.log2(1.0 + x) if x >= 0 else -math.log2(1.0 - x)


def _count(n: int) -> float:
    return _LOG_COUNT[n] if n < 256 else math.log2(1 + n)


def _fill(row: list[float], start: int, size: int, values: list[float]) -> None:
    """Write the first ``size`` values, log-scaled, into ``row[start:]``."""
    for j, x in enumerate(values[:size]):
        if x:
            row[start + j] = _slog(x)


def _fill_slots(row: list[float], factors: list, numbers: list, strings: list[str]) -> list[float]:
    """Write the factor, attribute and string slots of a token row (empty lists leave their slots 0)."""
    if factors:
        _fill(row, _FACTOR, N_FACTORS, factors)
    if numbers:
        _fill(row, _ATTR, N_ATTRS, numbers)
    if strings:
        _fill_strings(row, strings)
    return row


def _fill_strings(row: list[float], strings: list[str]) -> None:
    for j, s in enumerate(strings[:N_STRINGS]):
        row[_STRING + j] = string_id(s)


# --- MetaSchedule instructions -----------------------------------------------------------------------


def _ms_inputs(inputs: list, values: dict, numbers: list, strings: list) -> None:
    """Split an instruction's inputs into numbers (literals and resolved sampled variables) and strings.

    Inputs are random-variable names (``b3`` block, ``l7`` loop, ``v9`` expression), ``"None"``, quoted
    string literals, numbers, or lists of these. Block and loop references carry no value and are
    skipped; expression variables resolve to their sampled value (0 when not sampled in this trace).
    """
    for x in inputs:
        if type(x) is str:
            head = x[:1]
            if head == "v":
                numbers.append(values.get(x, 0))
            elif head == '"':
                strings.append(x[1:-1])
            elif x == "None":
                numbers.append(0)
        elif type(x) is list:
            _ms_inputs(x, values, numbers, strings)
        elif type(x) in _NUMBERS:
            numbers.append(x)


def _ms_attrs(attrs: list, numbers: list, strings: list) -> None:
    """Flatten an instruction's attributes into numbers (bools as 0/1) and strings."""
    for x in attrs:
        t = type(x)
        if t is str:
            strings.append(x)
        elif t is list:
            _ms_attrs(x, numbers, strings)
        else:  # a number keeps its place; None and anything else count as 0
            numbers.append(x if t in _NUMBERS else 0)


def _ms_token(kind: str, inputs: list, attrs: list, outputs: list, decision, values: dict,
              postproc: float) -> list[float]:
    """The numeric part of one instruction's token; records sampled values of its outputs in ``values``."""
    row = [0.0] * N_NUMERIC
    row[_N_IN] = _count(len(inputs))
    row[_N_OUT] = _count(len(outputs))
    row[_POSTPROC] = postproc
    factors: list = []
    numbers: list = []
    strings: list = []
    if kind == "SampleCategorical":
        candidates = attrs[0] if attrs else []
        numbers.append(len(candidates))
        if type(decision) is int and 0 <= decision < len(candidates):
            row[_DECISION] = decision
            factors.append(candidates[decision])
            if outputs:
                values[outputs[0]] = candidates[decision]
    else:
        if type(decision) is list:
            factors.extend(decision)
            for name, value in zip(outputs, decision):
                values[name] = value
        elif type(decision) is int:
            row[_DECISION] = decision
        if inputs:
            _ms_inputs(inputs, values, factors, strings)
        if attrs:
            _ms_attrs(attrs, numbers, strings)
    return _fill_slots(row, [f if f is not None else 0 for f in factors], numbers, strings)


def _split_trace(trace: list) -> tuple[list, dict]:
    """A parsed MetaSchedule trace's instructions and its decisions by instruction index."""
    try:
        instructions, decisions = trace
        return instructions, {int(i): d for i, d in decisions}
    except (TypeError, ValueError) as err:
        raise TokenizerError(f"not a MetaSchedule trace [instructions, decisions]: {err}") from err


def metaschedule_tokens(trace: list) -> tuple[list[int], list[list[float]]]:
    """Kind indices and numeric token parts of a parsed MetaSchedule trace ``[instructions, decisions]``."""
    instructions, decided = _split_trace(trace)
    values: dict = {}
    kinds: list[int] = []
    rows: list[list[float]] = []
    postproc = 0.0
    for i, inst in enumerate(instructions):
        kind, inputs, attrs, outputs = inst
        kinds.append(_MS_INDEX.get(kind, _OTHER_INDEX))
        rows.append(_ms_token(kind, inputs, attrs, outputs, decided.get(i), values, postproc))
        if kind == "EnterPostproc":
            postproc = 1.0
    return kinds, rows


# --- Ansor steps -------------------------------------------------------------------------------------


def _ansor_token(step: list) -> list[float]:
    """The numeric part of one Ansor step's token (see the module docstring for the slots)."""
    code = step[0]
    row = [0.0] * N_NUMERIC
    factors: list = []
    numbers: list = []
    strings: list = []
    args = step[1:]
    if code == "AN" and len(args) == 3 and type(args[2]) is int:
        annotation = args[2]
        args = args[:2]
        strings.append(ANSOR_ANNOTATIONS[annotation] if 0 <= annotation < len(ANSOR_ANNOTATIONS) else str(annotation))
    for x in args:
        t = type(x)
        if t is list:
            row[_N_IN] = _count(len(x))
            factors.extend(v if type(v) in _NUMBERS else 0 for v in x)
        elif t is str:
            name, _, value = x.partition("$")
            strings.append(name)
            if value:
                try:
                    factors.append(float(value))
                except ValueError:
                    strings.append(value)
        else:  # a number keeps its place; None and anything else count as 0
            numbers.append(x if t in _NUMBERS else 0)
    return _fill_slots(row, factors, numbers, strings)


def ansor_tokens(steps: list) -> tuple[list[int], list[list[float]]]:
    """Kind indices and numeric token parts of a parsed Ansor step list."""
    if not isinstance(steps, list):
        raise TokenizerError("not an Ansor step list")
    kinds: list[int] = []
    rows: list[list[float]] = []
    for step in steps:
        if not isinstance(step, list) or not step:
            kinds.append(_OTHER_INDEX)
            rows.append([0.0] * N_NUMERIC)
            continue
        kinds.append(_ANSOR_INDEX.get(step[0], _OTHER_INDEX))
        rows.append(_ansor_token(step))
    return kinds, rows


# --- the fast path: interned tokens ------------------------------------------------------------------


def _v_names(inputs: list, names: list) -> list:
    """The expression variables (``v12``) among an instruction's inputs, nested lists included."""
    for x in inputs:
        if type(x) is str:
            if x[:1] == "v":
                names.append(x)
        elif type(x) is list:
            _v_names(x, names)
    return names


class TokenTable:
    """Every distinct token computed once, kept as a row of a NumPy table; programs become row ids.

    Most instructions recur verbatim across the programs of a task (look-ups, annotations, reorders),
    and the rest recur with the same decisions, so a program's tokens are mostly dictionary look-ups
    keyed by the instruction's JSON (plus its decision and the values of the sampled variables it
    reads). :func:`metaschedule_tokens` and :func:`ansor_tokens` define the tokens; this class only
    remembers them, and the tests check that both give the same rows.
    """

    def __init__(self, capacity: int = 4096):
        self.table = np.zeros((capacity, FEATURE_WIDTH), dtype=np.float32)
        self.size = 0
        self._static: tuple[dict, dict] = ({}, {})  # instruction JSON -> (token id or -1, v names), per phase
        self._dynamic: dict = {}  # JSON + [phase, decision, input values] -> (token id, output values)
        self._steps: dict = {}  # Ansor step JSON -> token id
        self._skeletons: dict = {}  # trace text before EnterPostproc -> see _skeleton

    def _add(self, kind: int, numeric: list[float]) -> int:
        if self.size == len(self.table):
            grown = np.zeros((2 * len(self.table), FEATURE_WIDTH), dtype=np.float32)
            grown[: self.size] = self.table
            self.table = grown
        row = self.table[self.size]
        row[kind] = 1.0
        row[N_KINDS:] = numeric
        self.size += 1
        return self.size - 1

    def metaschedule_ids(self, trace: list, text: str | bytes | None = None) -> list[int]:
        """Token ids of a parsed MetaSchedule trace (same tokens as :func:`metaschedule_tokens`).

        ``text``, the trace's JSON, lets the part before ``EnterPostproc`` be looked up whole: programs of
        one sketch share it verbatim and differ only in their decisions.
        """
        instructions, decided = _split_trace(trace)
        values: dict = {}
        skeleton = self._skeleton(text, instructions) if text is not None else None
        if skeleton is None:
            return self._instruction_ids(instructions, 0, decided, values, [])
        ids = list(skeleton[0])
        for i, key, names in skeleton[1]:
            ids[i] = self._dynamic_id(key, instructions[i], 0, decided.get(i), names, values)
        return self._instruction_ids(instructions, len(ids), decided, values, ids)

    def _instruction_ids(self, instructions: list, start: int, decided: dict, values: dict,
                         ids: list[int]) -> list[int]:
        """Append the token ids of ``instructions[start:]`` to ``ids``, one instruction at a time."""
        dumps = fastjson.dumps
        append = ids.append
        phase = 1 if start else 0
        memo = self._static[phase]
        for i in range(start, len(instructions)):
            inst = instructions[i]
            key = dumps(inst)
            entry = memo.get(key)
            if entry is None:
                entry = memo[key] = self._static_entry(inst, phase)
            token = entry[0]
            if token < 0:  # a sampling instruction, or one that reads sampled values
                token = self._dynamic_id(key, inst, phase, decided.get(i), entry[1], values)
            append(token)
            if inst[0] == "EnterPostproc":
                phase = 1
                memo = self._static[1]
        return ids

    def _skeleton(self, text: str | bytes, instructions: list) -> tuple | None:
        """The instructions up to ``EnterPostproc``: (token ids, -1 where dynamic; dynamic positions).

        Keyed by the trace text before ``EnterPostproc``, and used only when that text is exactly the
        compact JSON of the parsed instructions, so text and instructions cannot disagree. None when the
        trace has no ``EnterPostproc`` or another JSON layout.
        """
        marker = _ENTER_TEXT if isinstance(text, str) else _ENTER_BYTES
        pos = text.find(marker)
        if pos < 0:
            return None
        key = text[:pos]
        skeleton = self._skeletons.get(key, 0)
        if skeleton == 0:
            skeleton = self._skeletons[key] = self._build_skeleton(key, instructions)
        return skeleton

    def _build_skeleton(self, key: str | bytes, instructions: list) -> tuple | None:
        count = next((i for i, inst in enumerate(instructions) if inst[:1] == ["EnterPostproc"]), None)
        if count is None:
            return None
        head = fastjson.dumps(instructions[:count])[:-1] + (b"," if count else b"")
        if (b"[" + head) != (key.encode() if isinstance(key, str) else key):
            return None
        ids: list[int] = []
        dynamic = []
        memo = self._static[0]
        for i, inst in enumerate(instructions[: count + 1]):
            inst_key = fastjson.dumps(inst)
            entry = memo.get(inst_key)
            if entry is None:
                entry = memo[inst_key] = self._static_entry(inst, 0)
            ids.append(entry[0])
            if entry[0] < 0:
                dynamic.append((i, inst_key, entry[1]))
        return tuple(ids), tuple(dynamic)

    def _static_entry(self, inst: list, phase: int) -> tuple[int, tuple]:
        """(token id, v names) of an instruction; token -1 when the token depends on the trace's samples.

        Only sampling instructions carry decisions in a MetaSchedule trace, so every other instruction
        that reads no sampled variable has one token wherever it occurs.
        """
        try:
            kind, inputs, attrs, outputs = inst
        except (TypeError, ValueError) as err:
            raise TokenizerError(f"not an instruction [kind, inputs, attrs, outputs]: {inst!r}") from err
        names = tuple(_v_names(inputs, []))
        if names or kind.startswith("Sample"):
            return -1, names
        numeric = _ms_token(kind, inputs, attrs, outputs, None, {}, float(phase))
        return self._add(_MS_INDEX.get(kind, _OTHER_INDEX), numeric), names

    def _dynamic_id(self, key: bytes, inst: list, phase: int, decision, names: tuple, values: dict) -> int:
        """An instruction whose token depends on its decision or on sampled values it reads."""
        resolved = [values.get(v, 0) for v in names] if names else names
        dkey = key + fastjson.dumps((phase, decision, resolved))
        found = self._dynamic.get(dkey)
        if found is None:
            kind, inputs, attrs, outputs = inst
            local = dict(zip(names, resolved))
            numeric = _ms_token(kind, inputs, attrs, outputs, decision, local, float(phase))
            produced = {o: local[o] for o in outputs if type(o) is str and o in local and o not in names}
            found = self._dynamic[dkey] = (self._add(_MS_INDEX.get(kind, _OTHER_INDEX), numeric), produced)
        if found[1]:
            values.update(found[1])
        return found[0]

    def ansor_ids(self, steps: list) -> list[int]:
        """Token ids of a parsed Ansor step list (same tokens as :func:`ansor_tokens`)."""
        if not isinstance(steps, list):
            raise TokenizerError("not an Ansor step list")
        dumps = fastjson.dumps
        ids: list[int] = []
        for step in steps:
            key = dumps(step)
            token = self._steps.get(key)
            if token is None:
                kinds, rows = ansor_tokens([step])
                token = self._steps[key] = self._add(kinds[0], rows[0])
            ids.append(token)
        return ids

    def ids(self, encoding: str, trace_text: str | bytes) -> list[int]:
        """Token ids of one program's trace."""
        try:
            trace = fastjson.loads(trace_text)
        except fastjson.JSONDecodeError as err:
            raise TokenizerError(f"trace is not valid JSON: {err}") from err
        if encoding == "metaschedule":
            return self.metaschedule_ids(trace, trace_text)
        if encoding == "ansor":
            return self.ansor_ids(trace)
        raise TokenizerError(f"unknown encoding {encoding!r}; encodings are {', '.join(ENCODINGS)}")


# A table shared by the calls of this process; started afresh when it grows past _TABLE_LIMIT rows.
_ENTER_TEXT = '["EnterPostproc",[],[],[]]'
_ENTER_BYTES = _ENTER_TEXT.encode()
_TABLE_LIMIT = 1 << 18  # 262,144 rows, 86 MB
_table = TokenTable()


def _shared_table() -> TokenTable:
    global _table
    if _table.size > _TABLE_LIMIT:
        _table = TokenTable()
    return _table


# --- programs ----------------------------------------------------------------------------------------


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


def program_tokens(ds, max_len: int, program_ids: Iterable[str] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokens of a dataset's programs, computed once and cached on disk (see :mod:`.feature_cache`).

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
