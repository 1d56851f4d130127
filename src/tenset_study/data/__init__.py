"""The data layer: the dataset folder (Parquet tables of platforms, networks, tasks, programs and measurements),
the records the cost models learn from, result tables, and files written atomically.

Modules: :mod:`.dataset` (:class:`Dataset`: create, open, append, read, compact, validate; the folder layout),
:mod:`.schema` (the tables' schemas, keys and column documentation), :mod:`.ids` (task and program ids),
:mod:`.records` (:func:`load_records`: one row per measured program with its normalized-throughput label),
:mod:`.results` (``results/*.csv``), :mod:`.provenance` (a dataset's content fingerprint, the code's version and
commit, file digests) and :mod:`.files` (atomic writes: a reader never sees half a file).
The names below are imported on first use, so that ``import tenset_study.data`` stays light.
"""

from __future__ import annotations

from ..lazy import lazy_exports

#: Public name -> the module that defines it.
_EXPORTS = {
    "Dataset": ".dataset", "DatasetError": ".dataset", "to_arrow": ".dataset",
    "COLUMN_DOCS": ".schema", "KEYS": ".schema", "SCHEMAS": ".schema", "SMALL_TABLES": ".schema", "TABLES": ".schema",
    "program_id": ".ids", "stable_id": ".ids", "task_id": ".ids",
    "RECORD_COLUMNS": ".records", "group_ids": ".records", "load_records": ".records", "network_tasks": ".records",
    "normalized_throughput": ".records",
    "read_results": ".results", "write_results": ".results",
    "code_version": ".provenance", "dataset_content_fingerprint": ".provenance", "file_sha256": ".provenance",
    "atomic_path": ".files", "write_bytes_atomic": ".files", "write_json_atomic": ".files",
    "write_parquet_atomic": ".files", "write_text_atomic": ".files",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
