"""The built HTML book, opened from disk in headless Chromium with the network blocked.

Run after the book build (``make test`` does both). For every page: no console errors,
no failed or blocked requests, math typeset by the vendored MathJax (no raw TeX left),
every image loaded and described, and every explorable's slider changes its figure.
A screenshot of each page goes to ``_build/screenshots/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

pytestmark = pytest.mark.browser

from browserkit import HTML, ROOT, pages as _pages, wait_for_mathjax as _wait_for_mathjax  # noqa: E402

SHOTS = ROOT / "_build" / "screenshots"

# Text nodes outside code, scripts and typeset math that still contain TeX delimiters.
RAW_TEX_JS = r"""() => {
  const root = document.querySelector('article') || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const bad = [];
  const skip = 'PRE, CODE, SCRIPT, STYLE, MJX-CONTAINER, TEXTAREA, .highlight';
  let n;
  while ((n = walker.nextNode())) {
    const t = n.textContent;
    if ((t.includes('\\(') || t.includes('\\[') || t.includes('$$')) && !n.parentElement.closest(skip)) {
      bad.push(t.trim().slice(0, 80));
    }
  }
  return bad;
}"""

IMAGES_JS = """() => Array.from(document.images).map(i => ({
  src: i.currentSrc.slice(0, 80), ok: i.complete && i.naturalWidth > 0,
  alt: (i.getAttribute('alt') || '').trim(), inArticle: !!i.closest('article')}))"""


def test_the_book_has_pages():
    pages = _pages()
    names = {p.relative_to(HTML).as_posix() for p in pages}
    assert {"index.html", "book/losses.html", "book/regularization.html"} <= names, names


def _redirect_target(path: Path) -> Path | None:
    m = re.search(r'http-equiv="Refresh" content="\d+;\s*url=([^"]+)"', path.read_text(encoding="utf-8"),
                  re.IGNORECASE)
    return (path.parent / m.group(1)).resolve() if m else None


@pytest.mark.parametrize("path", _pages(), ids=lambda p: p.relative_to(HTML).as_posix())
def test_page_works_offline(page, path: Path):
    target = _redirect_target(path)
    if target is not None:  # Jupyter Book's index.html forwards to the root chapter
        assert target.is_file(), f"{path.name} redirects to missing {target}"
        with page.expect_navigation(url=target.as_uri()):
            page.goto(path.as_uri())
    else:
        page.goto(path.as_uri())
    _wait_for_mathjax(page)
    log = page.dlnotes_log
    SHOTS.mkdir(parents=True, exist_ok=True)
    # the first screen only: a full-page shot of a long page (the API reference is about
    # 100,000 px tall) can time out
    page.screenshot(path=str(SHOTS / (path.relative_to(HTML).as_posix().replace("/", "__") + ".png")))

    assert not log["blocked"], f"requests to the network: {log['blocked'][:5]}"
    assert not log["failed"], f"failed requests: {log['failed'][:5]}"
    assert not log["pageerrors"], f"JavaScript errors: {log['pageerrors'][:5]}"
    assert not log["console"], f"console errors: {log['console'][:5]}"

    n_math = page.locator("article .math").count()
    if n_math:
        assert page.locator("article mjx-container").count() >= n_math, "math not typeset"
    assert page.evaluate(RAW_TEX_JS) == [], "raw TeX left in the page"

    images = page.evaluate(IMAGES_JS)
    broken = [i["src"] for i in images if not i["ok"]]
    assert not broken, f"images that did not load: {broken}"
    undescribed = [i["src"] for i in images if i["inArticle"] and not i["alt"]]
    assert not undescribed, f"images without alt text: {undescribed}"

    # every footnote citation points at a reference in the same page
    missing = page.evaluate("""() => Array.from(document.querySelectorAll('a.footnote-reference'))
        .map(a => a.getAttribute('href')).filter(h => !document.getElementById(h.slice(1)))""")
    assert missing == [], f"citations without a reference entry: {missing}"


def _explorable_pages() -> list[Path]:
    return [p for p in _pages() if '<figure class="dlnotes-explorable"' in p.read_text(encoding="utf-8")]


def _chapters() -> list[str]:
    from dlnotes.notebooks import chapter_sources
    return [p.stem for p in chapter_sources(ROOT)]


def test_every_chapter_has_an_explorable():
    names = {p.stem for p in _explorable_pages()}
    assert set(_chapters()) <= names, set(_chapters()) - names


@pytest.mark.parametrize("path", _explorable_pages(), ids=lambda p: p.name)
def test_every_explorable_control_changes_its_figure(page, path: Path):
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    figures = page.locator("figure.dlnotes-explorable")
    assert figures.count() >= 1
    for f in range(figures.count()):
        fig = figures.nth(f)
        fig.scroll_into_view_if_needed()
        img = fig.locator("img.dlnotes-explorable-frame")
        assert img.get_attribute("alt"), "explorable without alt text"
        sliders = fig.locator("input.dlnotes-explorable-slider")
        assert 1 <= sliders.count() <= 2
        for s in range(sliders.count()):
            slider = sliders.nth(s)
            before_src = img.get_attribute("src")
            before_label = slider.locator("xpath=following-sibling::output").inner_text()
            at_max = slider.input_value() == slider.get_attribute("max")
            slider.focus()
            page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
            after_src = img.get_attribute("src")
            after_label = slider.locator("xpath=following-sibling::output").inner_text()
            assert after_src != before_src, f"figure {f} did not change when slider {s} moved"
            assert after_label != before_label, f"slider {s} of figure {f} shows a stale value"
            # the frame is a file beside the page, loaded when it is first shown: wait for it
            # (at most 10 s), then check that it decoded
            loaded = img.evaluate("""i => (i.complete && i.src === i.currentSrc) ? i.naturalWidth > 0 :
                new Promise(done => {
                    i.addEventListener("load", () => done(i.naturalWidth > 0), {once: true});
                    i.addEventListener("error", () => done(false), {once: true});
                    setTimeout(() => done(i.complete && i.naturalWidth > 0), 10000);
                })""")
            assert loaded, "the new frame did not load"
    assert not page.dlnotes_log["console"], page.dlnotes_log["console"][:5]
    assert not page.dlnotes_log["pageerrors"], page.dlnotes_log["pageerrors"][:5]


@pytest.mark.parametrize("chapter", _chapters())
def test_chapter_page_offers_its_notebook(page, chapter: str):
    path = HTML / "book" / f"{chapter}.html"
    page.goto(path.as_uri())
    link = page.locator("a[href$='.ipynb']").first
    href = link.get_attribute("href")
    assert href, "no .ipynb download link"
    target = (path.parent / unquote(urlparse(href).path)).resolve()
    assert target.is_file(), target
    nb = nbformat.read(target, as_version=4)
    nbformat.validate(nb)
    assert any(c.cell_type == "code" and "dlnotes" in c.source for c in nb.cells)


def test_worked_hinge_example_is_computed_output():
    html = (HTML / "book" / "losses.html").read_text(encoding="utf-8")
    # The per-sample losses and the mean come out of a code cell, with each term shown.
    assert "1.8 + 1.9 = 3.7" in html and "0.6 + 0.0 = 0.6" in html and "1.4333" in html
    assert "array([3.7, 0.6, 0. ])" in html
    # the prose quotes the computed margins and losses (glued from the cell above it)
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "beats the others by 2.4" in text and "by only 0.4 , so it still costs 0.6" in text


def test_no_widget_or_cdn_scripts_in_the_html():
    for p in _pages():
        text = p.read_text(encoding="utf-8")
        assert "application/vnd.jupyter.widget" not in text, p
        assert "cdn.jsdelivr" not in text and "unpkg.com" not in text, p
    manifest = {p.name for p in (HTML / "_static").iterdir()}
    assert "mathjax" in manifest, "vendored MathJax missing from _static"
    json.dumps(sorted(manifest))  # the listing is printable in a failure
