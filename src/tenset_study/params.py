"""Parameters and paths: the checks every notebook and command shares, kept free of plotting and TVM
imports so that the GPU host (no seaborn there) runs the commands that need them. :mod:`tenset_study.book.explore`
re-exports them for the notebooks."""

from __future__ import annotations

import os
from pathlib import Path


class ParameterError(ValueError):
    """A notebook parameter has a value the notebook cannot use; the message names the parameter."""


def check_shares(shares, parameter: str, *, whole: bool = True, hint: str = "") -> list[float]:
    """Shares (fractions of some data) in (0, 1], or in (0, 1) with ``whole=False``, without repeats and
    sorted ascending; a :class:`ParameterError` naming ``parameter`` (and adding ``hint``) otherwise."""
    try:
        values = [float(share) for share in shares]
    except (TypeError, ValueError):
        values = []
    if not values or any(not (0 < v <= 1 if whole else 0 < v < 1) for v in values):
        interval = "(0, 1]" if whole else "(0, 1)"
        raise ParameterError(f"parameter {parameter!r} = {shares!r}: each share must be in {interval}"
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


def folder_parameter(path: str | os.PathLike, parameter: str) -> Path:
    """The folder a parameter names (relative paths: to the repository root). It may not exist yet (nothing
    has written to it); a path that exists but is not a folder is a :class:`ParameterError`."""
    folder = resolve_path(path)
    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"parameter {parameter!r} = {str(path)!r}: {folder} is not a folder")
    return folder
