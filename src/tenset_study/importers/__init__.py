"""Importers: measurements made elsewhere into a dataset, line by line, never stopped by a bad line.

Modules: :mod:`.tenset` (TenSet's and Ansor's logs and folders: :func:`import_tenset`), :mod:`.metaschedule`
(a MetaSchedule JSON database: :func:`import_metaschedule`) and :mod:`.report` (:class:`ImportReport`: what
an import wrote, skipped and rejected, every line accounted for). ``tenset-study import-tenset`` and
``tenset-study import-metaschedule`` run them. The names below are imported on first use (the TenSet
importer needs orjson, the MetaSchedule one TVM).
"""

from __future__ import annotations

import importlib

#: Public name -> the module that defines it.
_EXPORTS = {
    "ImportReport": ".report",
    "import_tenset": ".tenset.importer", "read_tenset_log": ".tenset.log", "MalformedRecord": ".tenset.log",
    "import_metaschedule": ".metaschedule",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
