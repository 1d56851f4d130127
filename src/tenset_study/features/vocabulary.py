"""The token vocabulary: the layout of a token and its definition from one MetaSchedule instruction or Ansor step.

:mod:`tenset_study.features.tokens` turns programs into token sequences; this module says what one token is.
:func:`metaschedule_tokens` and :func:`ansor_tokens` define the tokens directly (the reference the fast
:class:`~tenset_study.features.token_table.TokenTable` is tested against).

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
"""

from __future__ import annotations

import math
import zlib

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

