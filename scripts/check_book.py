#!/usr/bin/env python3
"""Check the built book in a real headless browser.

Serves ``_build/html`` over a local http.server on loopback, opens every page of the table of contents
(``_toc.yml``) in headless Chromium through selenium, and checks on each page: the HTTP status is 200,
the page has a title and a heading, every ``<img>`` loaded (``complete && naturalWidth > 0``), no
resource failed to load, every internal link leads to a page that exists (and, with a ``#fragment``, to an
element of that id), no notebook output is an error, a Python traceback or a stray stderr message, no
text shows the absolute path of the repository that built the book, and notebook pages show at least their
minimum number of figures. It takes a full-page screenshot of every page at desktop and at phone width
into ``_build/screens/`` (``<page>-desktop.png``, ``<page>-phone.png``) and notes pages wider than a phone.
Exits 1 with one line per failure, each naming its page.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make browser`` installs them).

    python scripts/check_book.py _build/html [--toc _toc.yml] [--screens _build/screens] [--min-figures PAGE=N ...]
"""

from __future__ import annotations

import argparse
import base64
import functools
import html.parser
import http.server
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
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

#: The repository that built the book: no page may show its absolute path.
REPOSITORY = Path(__file__).resolve().parents[1]
#: Screenshot widths in CSS pixels: a laptop's browser, and a phone's (an iPhone 12 to 15 is 390 wide).
SCREEN_WIDTHS = {"desktop": 1280, "phone": 390}
#: Full-page screenshots are cut at this height (Chromium draws at most 16,384 pixels in one capture).
MAX_SCREEN_HEIGHT = 16_000

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
const tracebacks = Array.from(document.querySelectorAll('.cell_output, .output'))
  .filter(e => e.innerText.includes('Traceback (most recent call last)'));
return {errors: errors.map(e => e.innerText.slice(0, 200)), stderr: stderr.map(e => e.innerText.slice(0, 200)),
        tracebacks: tracebacks.map(e => e.innerText.split('\\n').filter(l => l.trim()).slice(-1)[0] || '')};
"""
LINKS_JS = """
return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);
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


class _Ids(html.parser.HTMLParser):
    """The ``id`` and ``name`` attributes of an HTML page (the targets a ``#fragment`` can name)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for key, value in attrs if key in ("id", "name") and value)


class LinkChecker:
    """Checks internal links (same origin as ``base``): the target answers 200, and a ``#fragment`` names an
    element of the target page. Each target is fetched once."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._pages: dict[str, set[str] | None] = {}

    def _ids(self, url: str) -> set[str] | None:
        if url not in self._pages:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    text = response.read().decode("utf-8", errors="replace")
                    parser = _Ids()
                    if response.headers.get_content_type() == "text/html":
                        parser.feed(text)
                    self._pages[url] = parser.ids
            except (urllib.error.URLError, OSError):
                self._pages[url] = None
        return self._pages[url]

    def broken(self, hrefs: list[str]) -> list[str]:
        """The internal links among ``hrefs`` whose target is missing, each once, with the reason."""
        problems = []
        for href in dict.fromkeys(hrefs):
            if not href.startswith(self.base + "/"):
                continue
            url, _, fragment = href.partition("#")
            ids = self._ids(url)
            relative = href[len(self.base):]
            if ids is None:
                problems.append(f"broken internal link {relative} (no such page)")
            elif fragment and urllib.parse.unquote(fragment) not in ids:
                problems.append(f"broken internal link {relative} (no element #{fragment} there)")
        return problems


def screenshot(driver, path: Path, width: int) -> int:
    """A full-page PNG of the open page laid out ``width`` CSS pixels wide (a phone's width emulates a mobile
    device, so the theme's narrow layout applies), cut at :data:`MAX_SCREEN_HEIGHT`. Returns how many pixels
    wider than the window the page is (0 when it fits)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 700})
    try:
        time.sleep(0.3)  # let the layout settle at the new width
        size = driver.execute_script("return [document.documentElement.scrollWidth, "
                                     "document.documentElement.scrollHeight, window.innerWidth];")
        height = min(int(size[1]), MAX_SCREEN_HEIGHT)
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return max(0, int(size[0]) - int(size[2]))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def check_page(driver, base: str, page: str, min_figures: int, allow_stderr: bool,
               links: LinkChecker | None = None, screens: Path | None = None,
               forbidden: tuple[str, ...] = ()) -> tuple[list[str], str]:
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
    failures += [f"{page}: Python traceback in an output: {text!r}" for text in problems["tracebacks"]]
    if not allow_stderr:
        failures += [f"{page}: stderr output: {text!r}" for text in problems["stderr"]]
    if links is not None:
        failures += [f"{page}: {problem}" for problem in links.broken(driver.execute_script(LINKS_JS))]
    text = driver.execute_script("return document.body ? document.body.innerText : '';")
    failures += [f"{page}: shows the build machine's path {path!r}" for path in forbidden if path in text]
    for entry in driver.get_log("browser"):
        message = entry.get("message", "")
        if entry.get("level") == "SEVERE" and "favicon.ico" not in message:
            failures.append(f"{page}: browser console: {message[:300]}")
    summary = f"{page}: title {title!r}, {len(images)} image(s), {figures} figure(s)"
    if screens is not None:
        name = page.replace("/", "__")
        for label, width in SCREEN_WIDTHS.items():
            overflow = screenshot(driver, screens / f"{name}-{label}.png", width)
            if overflow and label == "phone":
                summary += f"; {overflow} px wider than a phone"
    return failures, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("html", type=Path, nargs="?", default=Path("_build/html"), help="the built HTML book")
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"))
    parser.add_argument("--min-figures", action="append", default=[], metavar="PAGE=N",
                        help="a page's minimum number of figures (repeatable)")
    parser.add_argument("--allow-stderr", action="store_true", help="do not fail on stderr output in notebooks")
    parser.add_argument("--screens", type=Path, default=None,
                        help="folder of the screenshots (default: screens/ beside the HTML folder, i.e. _build/screens)")
    parser.add_argument("--no-screens", action="store_true", help="take no screenshots")
    args = parser.parse_args(argv)
    screens = None if args.no_screens else (args.screens or args.html.resolve().parent / "screens")

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
    links = LinkChecker(base)
    forbidden = tuple(dict.fromkeys((str(REPOSITORY), str(args.html.resolve()))))
    try:
        driver = make_driver(profile)
        driver.set_page_load_timeout(60)
        for page in ["index", *pages]:
            page_failures, summary = check_page(driver, base, page, minimum.get(page, 0), args.allow_stderr,
                                                links=links, screens=screens, forbidden=forbidden)
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
    shots = f"; screenshots in {screens}" if screens is not None else ""
    print(f"book check passed: {len(pages) + 1} page(s) in {elapsed:.1f} s{shots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
