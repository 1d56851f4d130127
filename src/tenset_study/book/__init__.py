"""The book: the Jupyter Book's chapters (``notebooks/*.py``) are short calls into this layer, the only one
that draws (matplotlib, seaborn).

Modules: :mod:`.chapters` (each chapter's parameters checked in one call), :mod:`.notebook` (display settings,
styled tables, several figures as one cell's result), :mod:`.exploration` (chapter 01's tables, sentences and
figures; :mod:`.explore` re-exports them under the chapter's name), :mod:`.report` (cost-model results:
splits, models, pruning), :mod:`.transfer_report` (transfer and transfer tuning), :mod:`.claims` (the
paper's claims beside the measured figures), :mod:`.glue` and :mod:`.facts` (the values the prose quotes,
glued by name), :mod:`.style` (the one figure style: palette, fonts) and :mod:`.docs` (format tables and notebook runs;
``python -m tenset_study.book``). The names below are imported on first use, so that importing the package
draws nothing in.
"""

from __future__ import annotations

from ..lazy import lazy_exports

#: Public name -> the module that defines it.
_EXPORTS = {
    "Chapter": ".chapters", "check_cost_models": ".chapters", "check_exploration": ".chapters",
    "check_pruning": ".chapters", "check_results": ".chapters", "check_split_comparison": ".chapters",
    "check_transfer": ".chapters", "open_dataset": ".chapters",
    "Figures": ".notebook", "markdown": ".notebook", "setup_notebook": ".notebook", "styled": ".notebook",
    "written": ".notebook",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
