"""Executing the book's notebooks once per set of inputs: a re-run of ``make book`` with nothing changed copies
each executed notebook (and the result files it wrote) from a cache instead of running it again.

A notebook's key is a SHA-256 over everything that can change what it computes:
- its source and the parameters passed to it;
- the package (every ``.py`` file under ``src/tenset_study``, by content) and its version;
- the repository's ``data/`` folder (every file, by content: the default datasets and the committed exports);
- any parameter value naming an existing file or folder (a reader's own dataset), by path, size and
  modification time of each file in it;
- the keys of the notebooks run before it in the same build, since later chapters read the result files
  earlier ones write (chapter 06 reads ``results/``).

An entry is a folder ``<cache>/<key>/`` holding the executed notebook and the files the run created or changed
under the watched folders (``results/``, ``benchmarks/results/`` and every ``*_dir`` parameter). Entries are
written whole or not at all (a temporary folder renamed into place).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: Folders whose new or changed files a notebook run is credited with (relative to the repository root).
WATCHED = ("results", "benchmarks/results")
#: The executed notebook's name inside a cache entry.
NOTEBOOK = "notebook.ipynb"


@dataclass
class NotebookRun:
    """One notebook of a build: where it came from, where it went, its key, and whether the cache served it."""

    source: Path
    output: Path
    key: str
    cached: bool
    seconds: float


def _hash_files(digest, files: Iterable[Path], root: Path, by_content: bool) -> None:
    for path in sorted(files):
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path).encode())
        if by_content:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        else:
            stat = path.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())


def _files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts] if path.is_dir() else []


def package_fingerprint(repo: Path) -> str:
    """SHA-256 of the package's sources and version."""
    from .. import __version__

    digest = hashlib.sha256(__version__.encode())
    package = repo / "src" / "tenset_study"
    _hash_files(digest, [p for p in _files_under(package) if p.suffix == ".py"], repo, by_content=True)
    return digest.hexdigest()


def inputs_fingerprint(repo: Path, parameters: dict) -> str:
    """SHA-256 of the data every notebook of a build may read: ``data/`` by content (hidden files and folders, such
    as the feature caches a build writes into a dataset, left out), and the files of any parameter naming a path
    outside it by path, size and modification time."""
    digest = hashlib.sha256()
    data = repo / "data"
    # hidden folders (a dataset's .cache/ of features, written by the first build) are derived, not inputs
    committed = [p for p in _files_under(data) if not any(part.startswith(".") for part in p.relative_to(data).parts)]
    _hash_files(digest, committed, repo, by_content=True)
    for value in parameters.values():
        if isinstance(value, str) and value and (repo / value).exists() and not (repo / value).resolve().is_relative_to(
                (repo / "data").resolve()):
            _hash_files(digest, _files_under(repo / value), repo, by_content=False)
    return digest.hexdigest()


def notebook_key(source: Path, parameters: dict, repo: Path, before: Iterable[str] = (),
                 package: str | None = None, inputs: str | None = None) -> str:
    """The cache key of running ``source`` with ``parameters`` (see the module docstring). ``package`` and
    ``inputs``: :func:`package_fingerprint` and :func:`inputs_fingerprint`, when a build has them already."""
    digest = hashlib.sha256(Path(source).read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    digest.update((package or package_fingerprint(repo)).encode())
    digest.update((inputs or inputs_fingerprint(repo, parameters)).encode())
    for key in before:
        digest.update(key.encode())
    return digest.hexdigest()


def _watched(repo: Path, parameters: dict) -> list[Path]:
    named = [value for name, value in parameters.items() if name.endswith("_dir") and isinstance(value, str)]
    return [repo / folder for folder in (*WATCHED, *named)]


def _snapshot(folders: list[Path]) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for folder in folders for p in _files_under(folder)}


def _store(cache: Path, key: str, output: Path, written: list[Path], repo: Path) -> None:
    staging = cache / f".{key}.tmp-{uuid.uuid4().hex[:8]}"
    (staging / "files").mkdir(parents=True)
    shutil.copy2(output, staging / NOTEBOOK)
    for path in written:
        target = staging / "files" / path.relative_to(repo)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    if (cache / key).exists():
        shutil.rmtree(cache / key)
    staging.rename(cache / key)


def _restore(entry: Path, output: Path, repo: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(entry / NOTEBOOK, output)
    for path in _files_under(entry / "files"):
        target = repo / path.relative_to(entry / "files")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def run_notebook(
    source: str | os.PathLike,
    output: str | os.PathLike,
    parameters: dict | None = None,
    kernel: str = "python3",
    cwd: str | os.PathLike | None = None,
) -> Path:
    """Execute a notebook with papermill and write the executed ``.ipynb``.

    Parameters
    ----------
    source: a jupytext percent ``.py`` notebook (converted in memory) or an ``.ipynb``.
    output: where to write the executed notebook.
    parameters: values injected after the cell tagged ``parameters``.
    kernel: the Jupyter kernel to run it in.
    cwd: working directory of the kernel (default: the current one).
    """
    import jupytext
    import papermill

    source, output = Path(source), Path(output)
    notebook = jupytext.read(source)
    output.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        notebook, str(output), parameters=parameters or {}, kernel_name=kernel,
        cwd=str(cwd) if cwd else None, progress_bar=False,
    )
    return output


def run_notebooks(sources: list[Path], out_dir: Path, parameters: dict | None = None, cache: Path | None = None,
                  repo: Path | None = None, kernel: str = "python3", log=print) -> list[NotebookRun]:
    """Execute ``sources`` in order into ``out_dir/<name>.ipynb``, each from the cache where its key is there
    (no ``cache``: always run). Returns one :class:`NotebookRun` per notebook."""
    repo = Path(repo or Path.cwd()).resolve()
    parameters = parameters or {}
    package = package_fingerprint(repo)
    inputs = inputs_fingerprint(repo, parameters)  # the notebooks write results/, never data/ or a dataset
    runs: list[NotebookRun] = []
    for source in sources:
        start = time.perf_counter()
        output = Path(out_dir) / f"{Path(source).stem}.ipynb"
        key = notebook_key(Path(source), parameters, repo, [r.key for r in runs], package, inputs)
        entry = cache / key if cache else None
        if entry is not None and (entry / NOTEBOOK).is_file():
            _restore(entry, output, repo)
            cached = True
        else:
            folders = _watched(repo, parameters)
            before = _snapshot(folders)
            run_notebook(source, output, parameters, kernel=kernel, cwd=repo)
            after = _snapshot(folders)
            if cache is not None:
                _store(cache, key, output, [p for p, s in after.items() if before.get(p) != s], repo)
            cached = False
        runs.append(NotebookRun(Path(source), output, key, cached, time.perf_counter() - start))
        log(f"{'cached' if cached else 'ran'} {source} -> {output}: {runs[-1].seconds:.0f} s")
    return runs
