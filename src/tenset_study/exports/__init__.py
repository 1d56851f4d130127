"""Exports of full-size results: the chapters' experiments run once at the ``full`` preset (on the GPU host where
they need one) and committed as compact tables with provenance, which the book reads beside its live runs.

Modules: :mod:`.store` (an export folder: zstd Parquet tables and ``provenance.json``; write, read back, describe)
and :mod:`.runs` (each chapter's experiment without plotting, and :func:`~.runs.export_results`, which runs one
and writes its export; ``tenset-study export-results`` is its command line). Names load on first use.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "EXPORTS_DIR": ".store", "Export": ".store", "ExportError": ".store", "describe_export": ".store",
    "read_export": ".store", "write_export": ".store", "provenance": ".store",
    "RUNNERS": ".runs", "export_results": ".runs", "run_cost_models": ".runs", "run_pruning": ".runs",
    "run_splits": ".runs", "run_transfer": ".runs",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
