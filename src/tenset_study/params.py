"""Parameters and paths: the checks every notebook, command and study function shares, kept free of plotting
and TVM imports so that the GPU host (no seaborn there) runs the commands that need them.

Each check takes the value, the parameter's name and what is valid, and returns the value to use or raises a
:class:`ParameterError` whose message names the parameter: :func:`check_choice` (one of a set),
:func:`check_choices` (a list of them), :func:`check_each` (a list, each checked by a function),
:func:`check_share` / :func:`check_shares` (fractions), :func:`check_positive_int`, :func:`folder_parameter` /
:func:`existing_folder` (folders, relative to the repository root). The per-concept checks (models, splits,
strategies, arms, ...) and the book's chapter checks (:mod:`tenset_study.book.chapters`) are one call into
these."""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterable
from pathlib import Path


class ParameterError(ValueError):
    """A parameter (of a notebook, a command or a function) has a value that cannot be used; the message names
    the parameter."""


def parameter_text(parameter: str, value: object, resolved: Path | None = None) -> str:
    """How an error message names a parameter and its value: ``parameter 'x' = 'value'``, with the path it
    resolved to when that differs from the value."""
    text = f"parameter {parameter!r} = {value!r}"
    return f"{text} (resolved to {resolved})" if resolved is not None else text


def check_choice(value: object, valid: Iterable, parameter: str, what: str, plural: str | None = None):
    """``value`` if it is one of ``valid``; else a :class:`ParameterError` naming the parameter, the unknown
    ``what`` and the valid ones (``plural``: the plural of ``what``, default ``what + "s"``)."""
    valid = list(valid)
    if value not in valid:
        raise ParameterError(f"parameter {parameter!r}: unknown {what} {value!r}; {plural or what + 's'} are "
                             f"{', '.join(map(str, valid))}")
    return value


def check_choices(values: Iterable, valid: Iterable, parameter: str, what: str, plural: str | None = None, *,
                  unique: bool = False) -> list:
    """``values`` as a list if it is not empty and every one is in ``valid`` (``unique``: repeats dropped,
    first kept); else a :class:`ParameterError` naming the parameter, the unknown ones and the valid ones."""
    values, valid = list(values), list(valid)
    plural = plural or what + "s"
    unknown = [v for v in values if v not in valid]
    if unknown or not values:
        problem = f"unknown {plural} {unknown}" if unknown else f"no {plural} given"
        raise ParameterError(f"{parameter_text(parameter, values)}: {problem}; valid {plural} are "
                             f"{', '.join(map(str, valid))}")
    return list(dict.fromkeys(values)) if unique else values


def check_each(values: Iterable, check: Callable[[object], object], parameter: str, expected: str, *,
               unique: bool = False) -> list:
    """``values`` as a list if it is not empty and ``check`` accepts every one (returns a true value); else a
    :class:`ParameterError` naming the parameter and saying what is ``expected``, or, when ``check`` raises a
    ValueError, its message (``unique``: repeats dropped, first kept)."""
    values = list(values)
    for value in values:
        try:
            accepted = check(value)
        except ValueError as error:
            raise ParameterError(f"{parameter_text(parameter, values)}: {error}") from None
        if not accepted:
            break
    else:
        if values:
            return list(dict.fromkeys(values)) if unique else values
    raise ParameterError(f"{parameter_text(parameter, values)}: expected {expected}")


def check_share(value: object, parameter: str, *, whole: bool = True, hint: str = "") -> float:
    """One share (a fraction of some data) as a float in (0, 1], or in (0, 1) with ``whole=False``; a
    :class:`ParameterError` naming ``parameter`` (and adding ``hint``) otherwise."""
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = float("nan")
    if not (0 < share <= 1 if whole else 0 < share < 1):  # also rejects NaN
        interval = "(0, 1]" if whole else "(0, 1)"
        raise ParameterError(f"{parameter} must be in {interval}" + (f" ({hint})" if hint else "")
                             + f", got {value!r}")
    return share


def check_shares(shares, parameter: str, *, whole: bool = True, hint: str = "") -> list[float]:
    """Shares (fractions of some data) in (0, 1], or in (0, 1) with ``whole=False``, without repeats and
    sorted ascending; a :class:`ParameterError` naming ``parameter`` (and adding ``hint``) otherwise."""
    try:
        values = [float(share) for share in shares]
    except (TypeError, ValueError):
        values = []
    if not values or any(not (0 < v <= 1 if whole else 0 < v < 1) for v in values):
        interval = "(0, 1]" if whole else "(0, 1)"
        raise ParameterError(f"{parameter_text(parameter, shares)}: each share must be in {interval}"
                             + (f"; {hint}" if hint else ""))
    return sorted(set(values))


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The project's root folder: the nearest folder at or above ``start`` (default: cwd) holding
    ``pyproject.toml``; failing that, the source checkout this package was imported from; failing
    that, ``start`` itself."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        return checkout
    return start


def resolve_path(path: str | os.PathLike, start: str | os.PathLike | None = None) -> Path:
    """An absolute path: ``path`` itself when absolute (after ``~`` expansion), else relative to
    :func:`repo_root` so that a notebook finds ``data/default`` whatever its working directory."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else repo_root(start) / path


def display_path(path: str | os.PathLike, name_outside: bool = False) -> str:
    """A path as the book and the logs show it: relative to the repository root when inside it, else absolute,
    or only its name with ``name_outside`` (what a committed file keeps: no path of the machine that wrote it)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(repo_root()).as_posix()
    except ValueError:
        return path.name if name_outside else str(path)


def check_positive_int(value: object, parameter: str) -> int:
    """``value`` if it is an integer (not a bool) of at least 1; a :class:`ParameterError` naming ``parameter``
    otherwise."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ParameterError(f"{parameter_text(parameter, value)}: {parameter} must be a positive integer")
    return int(value)


def check_flag(value: object, parameter: str) -> bool:
    """``value`` if it is True or False; a :class:`ParameterError` naming ``parameter`` otherwise."""
    if not isinstance(value, bool):
        raise ParameterError(f"{parameter_text(parameter, value)}: {parameter} must be True or False")
    return value


def folder_parameter(path: str | os.PathLike, parameter: str) -> Path:
    """The folder a parameter names (relative paths: to the repository root). It may not exist yet (nothing
    has written to it); a path that exists but is not a folder is a :class:`ParameterError`."""
    folder = resolve_path(path)
    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"{parameter_text(parameter, str(path))}: {folder} is not a folder")
    return folder


def existing_folder(path: str | os.PathLike, parameter: str) -> Path:
    """The folder a parameter names (relative paths: to the repository root), which must exist; a
    :class:`ParameterError` naming the parameter and the resolved path otherwise."""
    folder = resolve_path(path)
    if not folder.exists():
        raise ParameterError(f"{parameter_text(parameter, str(path), folder)}: the folder does not exist")
    if not folder.is_dir():
        raise ParameterError(f"{parameter_text(parameter, str(path), folder)}: not a folder")
    return folder
