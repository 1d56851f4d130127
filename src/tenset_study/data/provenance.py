"""Provenance of what the package writes from a dataset (shipped models, exported results): the dataset's content
fingerprint, the code's version and commit, file digests."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

#: Uncommitted files of ``src/`` named in the manifest's ``code`` (their count is not bounded elsewhere).
DIRTY_PATHS_KEPT = 20


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_content_fingerprint(root: str | os.PathLike) -> str:
    """``sha256:<hex>`` over every file of a dataset (relative path and SHA-256 of its bytes, sorted), hidden
    folders such as ``.cache/`` left out: changes whenever any table's content does."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(f"{relative.as_posix()} {file_sha256(path)}\n".encode())
    return f"sha256:{digest.hexdigest()}"


def code_version(ignore: str | os.PathLike | None = None) -> dict:
    """The package's version and, in a git checkout, its commit, whether ``src/`` had uncommitted changes and
    which files (the first :data:`DIRTY_PATHS_KEPT`; files under ``ignore``, e.g. the folder being written, are
    not counted)."""
    from .. import __version__

    out: dict = {"package_version": __version__, "commit": None, "dirty": None, "dirty_paths": []}
    repo = Path(__file__).resolve().parents[3]
    skip = Path(ignore).resolve() if ignore is not None else None

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30,
                              check=True).stdout

    try:
        out["commit"] = git("rev-parse", "HEAD").strip()
        status = git("status", "--porcelain", "--untracked-files=all", "--", "src").splitlines()
    except (OSError, subprocess.SubprocessError):
        return out  # not a git checkout (an installed package): the version alone
    changed = [line[3:] for line in status if line.strip()]
    if skip is not None:
        changed = [path for path in changed if not (repo / path).resolve().is_relative_to(skip)]
    out["dirty"], out["dirty_paths"] = bool(changed), changed[:DIRTY_PATHS_KEPT]
    return out
