"""What the book's notebooks share for showing results: the display settings every chapter starts with
(:func:`setup_notebook`), styled tables (:func:`styled`), markdown computed by the package (:func:`markdown`),
the files a chapter wrote, shown without the machine's paths (:func:`written`), and several figures as one
cell's result (:class:`Figures`). A chapter's parameters are checked by :mod:`tenset_study.book.chapters`;
the values its prose quotes are glued with :func:`tenset_study.book.glue.glue`."""

from __future__ import annotations

import os

import pandas as pd

from . import style


def setup_notebook() -> None:
    """Display settings for the book's notebooks: the book's figure style (:func:`tenset_study.book.style.apply`:
    colour-blind-safe palette, fonts for a phone's width), compact float display in pandas tables, and, in a
    Jupyter kernel, returned Figures shown as PNG (they are not managed by pyplot, so the inline backend
    would not register itself)."""
    style.apply()
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


def markdown(text: str):
    """``text`` shown as markdown in a notebook (and rendered as such by the book), e.g. the claims' details."""
    from IPython.display import Markdown

    return Markdown(text)


def written(paths) -> str:
    """The files a chapter wrote, one per line, relative to the repository root (an output shows no path of
    the machine that built the book); ``paths``: one path or several."""
    from .exploration.sentences import display_path

    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    return "\n".join(f"wrote {display_path(path)}" for path in paths)


class Figures(list):
    """Figures shown one after the other when a notebook cell returns them (its last expression); a script
    iterates over them like a list (to save each, say)."""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for figure in self:
            display(figure)
