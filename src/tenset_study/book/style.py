"""The book's one figure style: a colour-blind-safe palette (Okabe and Ito's eight colours, distinguishable
with every common colour-vision deficiency) and fonts large enough to read when a page shrinks a figure to a
phone's width. :func:`apply` sets both as matplotlib's and seaborn's defaults (every chapter's set-up cell
calls it through :func:`tenset_study.book.notebook.setup_notebook`); figures that pick colours themselves
take them from :func:`palette`, so no module of the book names a colour of its own.
"""

from __future__ import annotations

from itertools import cycle, islice

#: Okabe and Ito's colour-blind-safe palette (2008), black last: orange, sky blue, bluish green, yellow,
#: blue, vermillion, reddish purple, black.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
#: The order lines and bars take colours in: the yellow (hard to see on white) after the strong colours.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000", "#F0E442")
#: The colour of references (a full-data band, a zero-shot line): grey, apart from the palette.
REFERENCE = "#999999"
#: Widest figure, in inches: at the book's 100 dpi a figure is drawn at most this many hundred pixels wide,
#: so that a phone (about 360 px of text width) shrinks it by half at most.
MAX_WIDTH = 7.5
#: Seaborn's font scale: the "notebook" context's fonts, a little larger so that they survive the shrink.
FONT_SCALE = 1.1


def palette(n: int) -> list[str]:
    """``n`` colours of :data:`PALETTE` (repeating after eight)."""
    return list(islice(cycle(PALETTE), max(0, n)))


def width(panels: int, per_panel: float) -> float:
    """A figure's width for ``panels`` side by side, ``per_panel`` inches each, capped at :data:`MAX_WIDTH`."""
    return min(MAX_WIDTH, panels * per_panel)


def apply() -> None:
    """Make the book's style the default of matplotlib and seaborn: white grid, larger fonts, the palette."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", font_scale=FONT_SCALE, palette=list(PALETTE))
    mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=list(PALETTE))
    mpl.rcParams["axes.titlesize"] = "medium"
    mpl.rcParams["figure.dpi"] = 100


__all__ = ["FONT_SCALE", "MAX_WIDTH", "OKABE_ITO", "PALETTE", "REFERENCE", "apply", "palette", "width"]
