"""report.html and summary.html in a real browser: headless Chromium from Debian's packages, driven by Playwright.

WHY a browser and not only string checks: whether a page scrolls sideways, whether an anchor a link points at
exists once the HTML is parsed, whether the Content-Security-Policy blocks something the page needs, only a
browser can say. The class is small (three entries graded with the quick profile) but covers a partial
hand-in, a one-bug hand-in and one whose layers.py does not compile; each page is loaded from file:// at a
1280 px wide viewport, and a screenshot of each page (its first 6,000 px) is kept under out/browser/ for people
(CI artifacts).

Playwright drives the Debian binary through ``executable_path``; ``playwright install`` (which downloads a
browser build of its own) is never needed. Without chromium or the playwright package the tests skip and say
how to install them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import pytest

from graders.batch import BatchOptions, run_batch
from graders.examples import EXAMPLES_DIR, discover

REPOSITORY = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPOSITORY / "out" / "browser"
CHROMIUM = Path(os.environ.get("NNGRADE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--no-sandbox",  # root in CI; the pages are our own files, and scripts are forbidden by their CSP anyway
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: a page that reaches out cannot get anywhere
)
WIDTH = 1280
ENTRIES = ("ana", "ben", "cy")
INSTALL_HINT = ("install Debian's chromium (`apt-get install -y chromium`, done best-effort by .ci/run as root) "
                "and the playwright package (`pip install -e '.[test]'`); do not run `playwright install`, "
                "the test drives /usr/bin/chromium (or $NNGRADE_CHROMIUM)")
#: records Content-Security-Policy violations the page reports (Playwright injects it outside the page's CSP)
CSP_RECORDER = ("window.__cspViolations = [];"
                "document.addEventListener('securitypolicyviolation',"
                " e => window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));")
PAGE_FACTS = """() => ({
    scrollWidth: document.documentElement.scrollWidth,
    scrollHeight: document.documentElement.scrollHeight,
    csp: window.__cspViolations || [],
    ids: Array.from(document.querySelectorAll('[id], a[name]'), e => e.id || e.getAttribute('name')),
    links: Array.from(document.querySelectorAll('a[href], area[href]'), a => [a.getAttribute('href'), a.href]),
})"""


@dataclass(frozen=True)
class Visit:
    """What one page did when loaded: its console errors, CSP violations, requests, links and size."""

    path: Path
    console_errors: tuple[str, ...]
    csp_violations: tuple[str, ...]
    requests: tuple[str, ...]
    links: tuple[tuple[str, str], ...]  # (href as written, resolved URL)
    ids: frozenset[str]
    scroll_width: int
    scroll_height: int


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no headless Chromium at {CHROMIUM}: {INSTALL_HINT}")
    sync_api = pytest.importorskip("playwright.sync_api", reason=f"the playwright package is missing: {INSTALL_HINT}")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()


#: Screenshots cover at most this much of a page, and may take this long.
SCREENSHOT_HEIGHT = 6000
SCREENSHOT_TIMEOUT_MS = 120_000


def visit(browser: Any, path: Path, screenshot: Path | None = None) -> Visit:
    """Load ``path`` from file:// at a WIDTH px wide viewport and record what happened."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    try:
        context.add_init_script(CSP_RECORDER)
        page = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(path.as_uri(), wait_until="load")
        facts = page.evaluate(PAGE_FACTS)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            # the whole page up to SCREENSHOT_HEIGHT px (a long report's first screens: what a reader sees
            # first), with time to spare on a loaded CI machine
            height = min(int(facts["scrollHeight"]), SCREENSHOT_HEIGHT)
            page.screenshot(path=str(screenshot), full_page=True, timeout=SCREENSHOT_TIMEOUT_MS,
                            clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
        return Visit(path, tuple(errors), tuple(facts["csp"]), tuple(requests),
                     tuple((str(raw), str(url)) for raw, url in facts["links"]), frozenset(facts["ids"]),
                     int(facts["scrollWidth"]), int(facts["scrollHeight"]))
    finally:
        context.close()


def link_problems(page: Visit, ids_of: Callable[[Path], frozenset[str]]) -> list[str]:
    """Every link of ``page`` that leads nowhere: an in-page anchor without its element, a file that does not
    exist, an anchor missing in the file it names, or a link out of file:// (the pages work offline)."""
    problems = []
    for raw, url in page.links:
        parts = urlsplit(url)
        fragment = unquote(parts.fragment)
        if raw.startswith("#"):
            if fragment not in page.ids:
                problems.append(f"{raw}: no element with this id")
            continue
        if parts.scheme != "file":
            problems.append(f"{raw}: leaves file:// ({parts.scheme})")
            continue
        target = Path(url2pathname(parts.path))
        if not target.is_file():
            problems.append(f"{raw}: {target} does not exist")
        elif fragment and fragment not in ids_of(target):
            problems.append(f"{raw}: {target.name} has no element with id {fragment!r}")
    return problems


def page_problems(page: Visit, ids_of: Callable[[Path], frozenset[str]]) -> list[str]:
    problems = [f"console error: {text}" for text in page.console_errors]
    problems += [f"CSP violation: {text}" for text in page.csp_violations]
    problems += [f"request outside file://: {url}" for url in page.requests if not url.startswith(("file:", "data:"))]
    problems += link_problems(page, ids_of)
    if page.scroll_width > WIDTH:
        problems.append(f"scrolls sideways: {page.scroll_width} px wide at a {WIDTH} px viewport")
    return problems


def build_class(root: Path) -> Path:
    """ana: a hand-in in progress (many functions lose points); ben: one bug (conv_backward_naive with pad 0);
    cy: ana's hand-in with a syntax error in layers.py (a module-level problem, most functions not graded)."""
    partial = EXAMPLES_DIR / "cs231n-partial" / "submission"
    shutil.copytree(partial, root / "ana")
    one_bug = next(example for example in discover() if example.name == "bug-conv-pad-slicing")
    shutil.copytree(one_bug.submission, root / "ben")
    shutil.copytree(partial, root / "cy")
    layers = next((root / "cy").rglob("layers.py"))
    layers.write_text(layers.read_text() + "\n\ndef unfinished(x:\n    return x\n")
    return root


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Path:
    """The batch output of the three-entry class (after ``browser``: no grading when the test would skip)."""
    root = tmp_path_factory.mktemp("browser-class")
    result = run_batch(build_class(root / "class"), root / "out", BatchOptions(profile="quick", jobs=2))
    assert sorted(result.graded) == sorted(ENTRIES) and not result.failed
    return root / "out"


def test_report_and_summary_pages_work_in_a_browser(browser: Any, graded_class: Path) -> None:
    pages = {f"{entry}/report.html": f"{entry}-report.png" for entry in ENTRIES} | {"summary.html": "summary.png"}
    visits = {name: visit(browser, graded_class / name, SCREENSHOTS / shot) for name, shot in pages.items()}
    known = {v.path.resolve(): v.ids for v in visits.values()}

    def ids_of(target: Path) -> frozenset[str]:
        resolved = target.resolve()
        if resolved not in known:
            known[resolved] = visit(browser, resolved).ids
        return known[resolved]

    problems = {name: page_problems(page, ids_of) for name, page in visits.items()}
    assert problems == {name: [] for name in pages}
    # the pages link the way the reports promise: each cell of the summary to a student's function, the
    # first screen of a report to the sections below
    summary_links = [raw for raw, _ in visits["summary.html"].links]
    assert "ana/report.html#fn-softmax_loss" in summary_links
    assert {raw for raw, _ in visits["ben/report.html"].links} == {"#fn-conv_backward_naive"}  # one function lost
    assert "#problems" in {raw for raw, _ in visits["cy/report.html"].links}
    for shot in pages.values():
        image = SCREENSHOTS / shot
        assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), image


def test_the_checks_catch_a_broken_page(browser: Any, tmp_path: Path) -> None:
    """The same checks on a page made to fail each of them: they can fail."""
    (tmp_path / "other.html").write_text('<!DOCTYPE html><p id="here">other</p>')
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><head>"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src http:\"></head><body>"
        '<a href="#nowhere">a</a> <a href="missing.html">b</a> <a href="other.html#gone">c</a> '
        '<a href="other.html#here">d</a> <a href="#top" id="top">e</a>'
        '<img src="http://nngrade.invalid/pixel.png" alt="">'
        "<script>console.error('boom')</script>"
        f"<p>{'W' * 300}</p></body></html>"  # one word too long to wrap (the CSP forbids a style attribute)
    )
    page = visit(browser, broken)
    problems = page_problems(page, lambda target: visit(browser, target).ids)
    assert any("console error" in p for p in problems)
    assert any(p.startswith("CSP violation: script-src") for p in problems)
    assert "request outside file://: http://nngrade.invalid/pixel.png" in problems
    assert "#nowhere: no element with this id" in problems
    assert any(p.startswith("missing.html: ") and p.endswith("does not exist") for p in problems)
    assert "other.html#gone: other.html has no element with id 'gone'" in problems
    assert not any(p.startswith(("other.html#here", "#top")) for p in problems)
    assert f"scrolls sideways: {page.scroll_width} px wide at a {WIDTH} px viewport" in problems
    assert page.scroll_width > 2 * WIDTH
