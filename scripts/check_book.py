#!/usr/bin/env python3
"""Check the built book in a real headless browser.

Serves ``_build/html`` over a local http.server on loopback, opens every page of the table of contents
(``_toc.yml``) in headless Chromium through selenium, and checks on each page: the HTTP status is 200,
the page has a title and a heading, every ``<img>`` loaded (``complete && naturalWidth > 0``), no
resource failed to load, no notebook output is an error or a stray stderr message, and notebook pages
show at least their minimum number of figures. Exits 1 with the list of failures.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make browser`` installs them).

    python scripts/check_book.py _build/html [--toc _toc.yml] [--min-figures PAGE=N ...]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,1600",
]
# Figures a page must show at least (page path without suffix -> count). The exploration chapter has
# 7 figures on every dataset, 8 when two platforms of one kind can be compared.
MIN_FIGURES = {
    "book/notebooks/01_tenset_exploration": 7,
    "book/notebooks/02_split_comparison": 2,
    "book/notebooks/03_dataset_pruning": 2,
    "book/notebooks/04_attention_cost_model": 7,
    "book/notebooks/05_transfer": 4,
    "book/notebooks/06_results": 1,
}

IMAGES_JS = """
const imgs = Array.from(document.images);
return imgs.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0}));
"""
FIGURES_JS = """
return document.querySelectorAll('.cell_output img, .output img, figure img').length;
"""
OUTPUT_PROBLEMS_JS = """
const errors = Array.from(document.querySelectorAll('.output.error, .output.traceback'));
const stderr = Array.from(document.querySelectorAll('.output.stderr'));
return {errors: errors.map(e => e.innerText.slice(0, 200)), stderr: stderr.map(e => e.innerText.slice(0, 200))};
"""


def toc_pages(toc_path: Path) -> list[str]:
    """Every file of a jupyter-book ``_toc.yml``, root first, without suffix."""
    toc = yaml.safe_load(toc_path.read_text())
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [str(Path(p).with_suffix("")) if Path(p).suffix in {".md", ".ipynb"} else p for p in pages]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # the browser may drop a connection it no longer needs (e.g. after a 404 for favicon.ico)
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``directory`` on a free loopback port in a background thread; returns the server and its URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def make_driver(profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def check_page(driver, base: str, page: str, min_figures: int, allow_stderr: bool) -> tuple[list[str], str]:
    """Open one page and return its failures and a one-line summary."""
    url = f"{base}/{page}.html"
    failures = []
    status = http_status(url)
    if status != 200:
        return [f"{page}: HTTP {status} for {url}"], f"{page}: HTTP {status}"
    driver.get_log("browser")  # drop messages of the previous page
    driver.get(url)
    # make lazy images load, then wait until every image has finished (loaded or failed)
    driver.execute_script("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager');")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = driver.execute_script(
            "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete);")
        if done:
            break
        time.sleep(0.1)
    title = driver.title.strip()
    if not title or "404" in title or "Error response" in title:
        failures.append(f"{page}: bad or missing title {title!r}")
    headings = driver.execute_script("return Array.from(document.querySelectorAll('h1')).map(h => h.innerText);")
    if not headings:
        failures.append(f"{page}: no <h1> heading")
    images = driver.execute_script(IMAGES_JS)
    failures += [f"{page}: image did not load: {img['src']}" for img in images if not img["ok"]]
    figures = driver.execute_script(FIGURES_JS)
    if figures < min_figures:
        failures.append(f"{page}: {figures} figure(s), expected at least {min_figures}")
    problems = driver.execute_script(OUTPUT_PROBLEMS_JS)
    failures += [f"{page}: error output: {text!r}" for text in problems["errors"]]
    if not allow_stderr:
        failures += [f"{page}: stderr output: {text!r}" for text in problems["stderr"]]
    for entry in driver.get_log("browser"):
        message = entry.get("message", "")
        if entry.get("level") == "SEVERE" and "favicon.ico" not in message:
            failures.append(f"{page}: browser console: {message[:300]}")
    summary = f"{page}: title {title!r}, {len(images)} image(s), {figures} figure(s)"
    return failures, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("html", type=Path, nargs="?", default=Path("_build/html"), help="the built HTML book")
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"))
    parser.add_argument("--min-figures", action="append", default=[], metavar="PAGE=N",
                        help="a page's minimum number of figures (repeatable)")
    parser.add_argument("--allow-stderr", action="store_true", help="do not fail on stderr output in notebooks")
    args = parser.parse_args(argv)

    if not (args.html / "index.html").exists():
        print(f"check_book: {args.html}/index.html missing; build the book first (make book)", file=sys.stderr)
        return 2
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            print(f"check_book: {path} missing; run `make browser` (apt-get install chromium chromium-driver)",
                  file=sys.stderr)
            return 2
    minimum = dict(MIN_FIGURES)
    for item in args.min_figures:
        page, _, count = item.partition("=")
        minimum[page] = int(count)

    start = time.monotonic()
    pages = toc_pages(args.toc)
    server, base = serve(args.html)
    profile = tempfile.mkdtemp(prefix="check-book-chromium-")
    failures: list[str] = []
    driver = None
    try:
        driver = make_driver(profile)
        driver.set_page_load_timeout(60)
        for page in ["index", *pages]:
            page_failures, summary = check_page(driver, base, page, minimum.get(page, 0), args.allow_stderr)
            failures += page_failures
            print(("FAIL " if page_failures else "ok   ") + summary)
    finally:
        if driver is not None:
            driver.quit()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    elapsed = time.monotonic() - start
    if failures:
        print(f"\n{len(failures)} failure(s) in {elapsed:.1f} s:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print(f"book check passed: {len(pages) + 1} page(s) in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
