"""Traces: a program as the sequence of MetaSchedule schedule instructions with their decisions, stored as
canonical JSON text (the dataset's ``trace`` column), and replayed on a task's IRModule.
"""

from __future__ import annotations

import json


def trace_json(trace) -> str:
    """Canonical JSON text of a MetaSchedule trace, postprocessing included (the ``trace`` column).

    :func:`plain_json` walks the trace's JSON object (``TraceAsJSON``) once; ``Trace.as_json`` would walk it
    through the FFI first, which makes the same text about three times slower to get, and shows when a cost
    model scores tens of thousands of candidates a tuning run."""
    from tvm.s_tir.schedule import _ffi_api as schedule_api

    return json.dumps(plain_json(schedule_api.TraceAsJSON(trace, False)), separators=(",", ":"))


def plain_json(value: object) -> object:
    """TVM containers and constants (or plain ones holding them) as plain JSON values, in one walk: an
    ``IntImm`` of dtype bool becomes a bool, an ``IndexMap`` its ``tvm.ir.save_json`` text (as
    ``Trace.as_json`` writes it), a map a dict with string keys, any other iterable a list."""
    from tvm.ir.prim.expr import FloatImm, IntImm
    from tvm_ffi import Array

    def walk(v: object) -> object:
        if isinstance(v, str):
            return str.__str__(v)
        if isinstance(v, (Array, list)):
            return [walk(item) for item in v]
        if isinstance(v, (bool, int, float)) or v is None:
            return v
        if isinstance(v, IntImm):
            return bool(v.value) if str(v.ty) == "bool" else int(v.value)
        if isinstance(v, FloatImm):
            return float(v.value)
        if hasattr(v, "items"):
            return {str(k): walk(item) for k, item in v.items()}
        from tvm.tirx.function import IndexMap

        if isinstance(v, IndexMap):
            from tvm.ir import save_json

            return save_json(v)
        return [walk(item) for item in v]  # type: ignore[union-attr]

    return walk(value)


def schedule_from_trace(mod, trace_text: str):
    """Replay a stored trace on a task's IRModule; returns the ``tvm.s_tir.Schedule``."""
    from tvm import s_tir

    sch = s_tir.Schedule(mod, debug_mask=0, error_render_level="none")
    s_tir.Trace.apply_json_to_schedule(json.loads(trace_text), sch)
    return sch
