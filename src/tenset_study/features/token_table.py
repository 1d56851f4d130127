"""The fast path of tokenization: every distinct token computed once and kept as a row of a NumPy table.

A program becomes a list of row ids (:class:`TokenTable`); the tokens themselves are defined in
:mod:`tenset_study.features.vocabulary`.
"""

from __future__ import annotations

import numpy as np

from .. import fastjson
from .vocabulary import (ENCODINGS, FEATURE_WIDTH, N_KINDS, TokenizerError, _MS_INDEX, _OTHER_INDEX, _ms_token,
                         _split_trace, ansor_tokens)

# The text of the instruction that starts postprocessing, as it appears in a trace's compact JSON.
_ENTER_TEXT = '["EnterPostproc",[],[],[]]'
_ENTER_BYTES = _ENTER_TEXT.encode()


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

