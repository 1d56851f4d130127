"""TenSet's (Ansor's) measurement logs into a dataset: :func:`import_tenset` of a log file or a TenSet folder.

Modules: :mod:`.importer` (:func:`import_tenset`: files, groups, worker processes), :mod:`.log` (the record
format and what a valid record is; :func:`read_tenset_log`), :mod:`.chunk` (the fast path over chunks of
lines, the exact check of new step lists), :mod:`.costs` (costs, error codes, timestamps as checked
arrays), :mod:`.worker` (one worker: ids, de-duplication, buffered rows), :mod:`.columns` (Arrow columns,
Parquet parts), :mod:`.keys` (keys already in the dataset), :mod:`.workload`, :mod:`.platforms` and
:mod:`.network_info` (what is derived for tasks, machines and networks). The names below are imported on
first use.
"""

from __future__ import annotations

import importlib

#: Public name -> the module that defines it.
_EXPORTS = {
    "import_tenset": ".importer",
    "LogRecord": ".log", "LogTask": ".log", "MalformedRecord": ".log", "SUPPORTED_VERSIONS": ".log",
    "parse_line": ".log", "read_tenset_log": ".log",
    "TENSET_PLATFORMS": ".platforms", "read_network_info": ".network_info",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
