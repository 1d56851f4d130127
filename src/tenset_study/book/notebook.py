"""What the book's notebooks share for showing results: the display settings every chapter starts with
(:func:`setup_notebook`), styled tables (:func:`styled`) and several figures as one cell's result
(:class:`Figures`). A chapter's parameters are checked by :mod:`tenset_study.book.chapters`."""

from __future__ import annotations

import pandas as pd
import seaborn as sns


def setup_notebook() -> None:
    """Display settings for the book's notebooks: the seaborn theme of every figure, compact float display
    in pandas tables, and, in a Jupyter kernel, returned Figures shown as PNG (they are not managed by
    pyplot, so the inline backend would not register itself)."""
    sns.set_theme(style="whitegrid", context="notebook")
    pd.set_option("display.max_colwidth", 120)
    pd.set_option("display.float_format", "{:.4g}".format)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")


def styled(frame: pd.DataFrame, percent: tuple[str, ...] | list[str] = (), na_rep: str = "-"):
    """A table for display: floats with 4 significant digits, the ``percent`` columns as percentages,
    missing values as ``na_rep``. Returns a pandas Styler."""
    floats = {c: "{:.4g}" for c in frame.columns if pd.api.types.is_float_dtype(frame[c])}
    floats.update({c: "{:.2%}" for c in percent if c in frame.columns})
    return frame.style.format(floats, na_rep=na_rep)


class Figures(list):
    """Figures shown one after the other when a notebook cell returns them (its last expression); a script
    iterates over them like a list (to save each, say)."""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for figure in self:
            display(figure)
