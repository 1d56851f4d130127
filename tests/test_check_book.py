"""The browser check of the built book (``scripts/check_book.py``) on a tiny HTML folder: it passes a sound book
and takes a screenshot of every page at desktop and phone width, and it fails, one line per problem naming
the page, on an image that did not load, a broken internal link, a Python traceback in an output and the
build machine's path. Needs Debian's chromium and chromedriver (``make browser``); skipped without them."""

from __future__ import annotations

import base64
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_book.py"
pytestmark = pytest.mark.skipif(not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()),
                                reason="chromium and chromedriver are not installed (make browser)")

#: A 1 x 1 PNG.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
            f"<body><h1 id='top'>{title}</h1>{body}</body></html>")


def _book(folder: Path, pages: dict[str, str]) -> tuple[Path, Path]:
    """An HTML folder with ``index.html`` and ``pages`` (name -> body), and a table of contents listing them."""
    html = folder / "_build" / "html"
    html.mkdir(parents=True)
    (html / "pixel.png").write_bytes(PIXEL)
    (html / "index.html").write_text(_page("Home", "<a href='intro.html'>intro</a>"))
    for name, body in {"intro": "<img src='pixel.png' alt='a pixel'><a href='good.html#part'>part</a>",
                       "good": "<p id='part'>a part</p><a href='index.html'>home</a>", **pages}.items():
        (html / f"{name}.html").write_text(_page(name, body))
    toc = folder / "_toc.yml"
    toc.write_text(yaml.safe_dump({"format": "jb-book", "root": "intro", "chapters": [
        {"file": name} for name in ("good", *pages)]}))
    return html, toc


def _check(html: Path, toc: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(html), "--toc", str(toc)], capture_output=True,
                          text=True, timeout=300)


def _png_width(path: Path) -> int:
    return struct.unpack(">I", path.read_bytes()[16:20])[0]


@pytest.mark.timeout(300)
def test_a_sound_book_passes_with_screenshots_at_both_widths(tmp_path: Path) -> None:
    html, toc = _book(tmp_path, {})
    done = _check(html, toc)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "book check passed: 3 page(s)" in done.stdout
    screens = tmp_path / "_build" / "screens"
    for page in ("index", "intro", "good"):
        assert _png_width(screens / f"{page}-desktop.png") == 1280
        assert _png_width(screens / f"{page}-phone.png") == 390


@pytest.mark.timeout(300)
def test_a_missing_image_a_broken_link_a_traceback_and_a_machine_path_fail(tmp_path: Path) -> None:
    html, toc = _book(tmp_path, {
        "bad_image": "<img src='missing.png' alt='gone'>",
        "bad_link": "<a href='nowhere.html'>gone</a> <a href='good.html#no-such-part'>no part</a>",
        "traceback": "<div class='cell_output'><pre>Traceback (most recent call last):\n  File 'x.py', line 1\n"
                     "ValueError: boom</pre></div>",
        "machine_path": f"<p>results in {ROOT}/results</p>",
    })
    done = _check(html, toc)
    assert done.returncode == 1, done.stdout + done.stderr
    failures = [line.strip()[2:] for line in done.stderr.splitlines() if line.strip().startswith("- ")]
    assert failures and all(": " in line for line in failures), done.stderr

    def failing(page: str) -> list[str]:
        return [line for line in failures if line.startswith(f"{page}: ")]

    assert any("image did not load" in line and "missing.png" in line for line in failing("bad_image"))
    links = failing("bad_link")
    assert any("broken internal link /nowhere.html (no such page)" in line for line in links), links
    assert any("broken internal link /good.html#no-such-part (no element #no-such-part there)" in line
               for line in links), links
    assert any("Python traceback in an output" in line and "ValueError: boom" in line
               for line in failing("traceback"))
    assert any("shows the build machine's path" in line for line in failing("machine_path"))
    assert not [line for line in failures if line.split(": ")[0] in ("index", "intro", "good")]
    assert (tmp_path / "_build" / "screens" / "traceback-phone.png").exists()
