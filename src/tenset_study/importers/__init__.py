"""Importers: measurements made elsewhere into a dataset, line by line, never stopped by a bad line.

Modules: :mod:`.tenset` (TenSet's and Ansor's logs and folders: :func:`import_tenset`), :mod:`.metaschedule`
(a MetaSchedule JSON database: :func:`import_metaschedule`) and :mod:`.report` (:class:`ImportReport`: what
an import wrote, skipped and rejected, every line accounted for). ``tenset-study import-tenset`` and
``tenset-study import-metaschedule`` run them. The names below are imported on first use (the TenSet
importer needs orjson, the MetaSchedule one TVM).
"""

from __future__ import annotations

from ..lazy import lazy_exports

#: Public name -> the module that defines it.
_EXPORTS = {
    "ImportReport": ".report",
    "import_tenset": ".tenset.importer", "read_tenset_log": ".tenset.log", "MalformedRecord": ".tenset.log",
    "import_metaschedule": ".metaschedule",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
