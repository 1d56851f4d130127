"""Numbers in the book's prose, from the computation: a chapter glues named values with MyST-NB's ``glue`` and
its markdown pastes them (``{glue:text}`name```; the introduction, a plain page, pastes a chapter's values
with ``{glue:text}`notebooks/06_results.ipynb::name```), so a re-run on other data rewrites the prose too.

- :func:`glue` glues a mapping of names to values, each as the text the prose shows (:func:`text`), without
  displaying it in the cell; it returns the texts, so a script or a test can read them.
- :func:`glue_table` glues a table the same way (the introduction's results at a glance).
- :func:`glued` declares the names a function of values returns (``fn.glue_keys``) and checks at each call
  that it returns exactly those; the tests read the declarations to check, without running a chapter,
  that every name a chapter's prose pastes is glued by that chapter.
- :func:`text`, :func:`share`, :func:`count` and :func:`listing` format values as the prose reads them.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Iterable, Mapping

#: What :func:`text` shows for a value that is missing (None or NaN).
MISSING = "n/a"


def count(value) -> str:
    """An integer with thousands separators: ``12,262``."""
    return MISSING if _missing(value) else f"{int(round(float(value))):,}"


def share(value, digits: int = 0) -> str:
    """A fraction as a percentage: ``share(0.4512) == "45%"``."""
    return MISSING if _missing(value) else f"{100 * float(value):.{digits}f}%"


def listing(items: Iterable, conjunction: str = "and") -> str:
    """Items as prose: ``a``, ``a and b``, ``a, b and c`` (in their order, repeats dropped)."""
    items = [str(i) for i in dict.fromkeys(items)]
    if len(items) <= 1:
        return items[0] if items else MISSING
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def text(value, digits: int = 3) -> str:
    """The text the prose shows for ``value``: strings as they are, integers with thousands separators,
    other numbers with ``digits`` decimals, lists as :func:`listing`, None and NaN as :data:`MISSING`."""
    if isinstance(value, str):
        return value
    if _missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return count(value)
    if isinstance(value, numbers.Real):
        return f"{float(value):.{digits}f}"
    if isinstance(value, (list, tuple)):
        return listing(text(v, digits) for v in value)
    return str(value)


def _missing(value) -> bool:
    try:
        return value is None or value != value  # NaN is the only value unequal to itself
    except (TypeError, ValueError):
        return False


def glue(*values: Mapping[str, object], **more) -> dict[str, str]:
    """Glue every value of the mappings ``values`` (and of the keyword arguments) under its name, as
    :func:`text`, for the chapter's markdown to paste; nothing is displayed in the cell. Returns the glued
    texts by name (outside a Jupyter kernel, where there is no notebook to glue into, it only returns them)."""
    merged: dict[str, object] = {}
    for mapping in (*values, more):
        merged.update(mapping)
    texts = {name: text(value) for name, value in merged.items()}
    for name, value in texts.items():
        _glue(name, value)
    return texts


def glue_table(name: str, table):
    """Glue a table (a DataFrame or a Styler, pasted as HTML) under ``name``, e.g. for another page to paste
    with the ``{glue}`` directive and its ``:doc:`` option; nothing is displayed. Returns the table."""
    _glue(name, table)
    return table


def _glue(name: str, value) -> None:
    from IPython import get_ipython

    if get_ipython() is not None:
        from myst_nb import glue as myst_glue

        myst_glue(name, value, display=False)


def glued(*keys: str) -> Callable:
    """Declare the names the decorated function's mapping holds: the function gets ``glue_keys`` and raises
    ``KeyError`` when a call returns other names (so the declaration the tests read cannot drift)."""

    def wrap(function: Callable) -> Callable:
        @functools.wraps(function)
        def checked(*args, **kwargs) -> dict:
            values = function(*args, **kwargs)
            if set(values) != set(keys):
                raise KeyError(f"{function.__name__} returned {sorted(values)}, declared {sorted(keys)}")
            return values

        checked.glue_keys = tuple(keys)
        return checked

    return wrap


__all__ = ["MISSING", "count", "glue", "glue_table", "glued", "listing", "share", "text"]
