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

from ...lazy import lazy_exports

#: Public name -> the module that defines it.
_EXPORTS = {
    "import_tenset": ".importer",
    "LogRecord": ".log", "LogTask": ".log", "MalformedRecord": ".log", "SUPPORTED_VERSIONS": ".log",
    "parse_line": ".log", "read_tenset_log": ".log",
    "TENSET_PLATFORMS": ".platforms", "read_network_info": ".network_info",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
