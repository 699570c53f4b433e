"""What the reader sees is what the author wrote: no broken Markdown tables, no collapsed double bars.

Run after the book build, like ``test_book_html.py`` (same browser, same offline page set-up).
Two ways a page can render wrongly without any warning from Sphinx:

* a pipe table that does not parse (a ``|`` inside a cell, e.g. ``$|d|$`` in a header) is shown
  as a paragraph of raw ``| ... |`` text;
* in a table cell ``\\|`` is the table's escaped bar, so ``$\\mathrm{KL}(p\\|q)$`` reaches MathJax as
  ``\\mathrm{KL}(p|q)`` and a norm ``\\|x\\|_\\infty`` as ``|x|_\\infty``.

Every page is checked for both, in the text the browser shows and in the TeX MathJax typeset
(``MathJax.startup.document.getMathItemsWithin``). The detectors themselves are tested on a
small page that has each fault, so a detector that can no longer see it fails too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

from browserkit import HTML, article_pages as _article_pages  # noqa: E402

# Text shown outside code and math that looks like the rows of a pipe table.
RAW_TABLE_JS = r"""() => {
  const root = document.querySelector('article') || document.body;
  const skip = 'PRE, CODE, SCRIPT, STYLE, TEXTAREA, MJX-CONTAINER, .highlight, .math, table';
  const bad = [];
  for (const el of root.querySelectorAll('p, li, dd, div, span, td, th')) {
    if (el.closest(skip) || el.children.length && el.querySelector('p, li, div')) continue;
    // the element's own text, with typeset math replaced by a placeholder
    let text = '';
    for (const n of el.childNodes) {
      text += n.nodeType === Node.TEXT_NODE ? n.textContent
            : (n.matches && n.matches('mjx-container, .math') ? ' M ' : n.textContent);
    }
    const separator = /\|\s*:?-{3,}:?\s*\|/.test(text);
    const row = text.split('\n').some(l => /^\s*\|.*\|.*\|\s*$/.test(l));
    if (separator || row) bad.push(text.trim().slice(0, 100));
  }
  return bad;
}"""

# The TeX of every typeset formula on the page.
TEX_JS = """() => {
  if (!(window.MathJax && MathJax.startup && MathJax.startup.document)) return null;
  return MathJax.startup.document.getMathItemsWithin(document.body).map(m => m.math);
}"""

# KL(...) whose arguments are separated by a single bar, and a single bar with a norm's subscript
_KL = re.compile(r"(?:\\KL|\\mathrm\s*\{\s*KL\s*\}|\bKL)\s*(?:\\left|\\big|\\Big)?\(([^()]*)\)")
_SINGLE_BAR = re.compile(r"(?<![\\|])\|(?!\|)")
_NORM_SUBSCRIPT = re.compile(r"(?<![\\|])\|\s*_\s*\{?\s*(?:\\infty|\d|p\b)")


def collapsed_bars(tex: str) -> list[str]:
    """The places in one formula where a double bar was meant and a single one arrived."""
    found = [m.group(0) for m in _KL.finditer(tex) if _SINGLE_BAR.search(m.group(1))]
    found += [tex[max(0, m.start() - 20):m.end()] for m in _NORM_SUBSCRIPT.finditer(tex)]
    return found


def _typeset(pg) -> list[str]:
    pg.wait_for_load_state("load")
    if pg.evaluate("() => !!(window.MathJax && window.MathJax.startup)"):
        pg.evaluate("() => window.MathJax.startup.promise")
    tex = pg.evaluate(TEX_JS)
    return [] if tex is None else tex


# ------------------------------------------------------------------ the detectors see the faults

def test_collapsed_bar_detector_knows_double_from_single_bars():
    assert collapsed_bars(r"\mathrm{KL}(p|q)") and collapsed_bars(r"\KL(P\,|\,Q)")
    assert collapsed_bars(r"\max_t |x_t - y_t|_\infty") and collapsed_bars(r"|w|_{2}")
    for fine in (r"\mathrm{KL}(P\,\Vert\,Q)", r"\KL(p\|q)", r"\lVert x\rVert_\infty",
                 r"\|x - y\|_\infty", r"\lvert d\rvert", r"|d| - \log 2", r"\mathrm{KL}(P\|Q)"):
        assert not collapsed_bars(fine), fine


def test_the_detectors_flag_a_page_with_a_broken_table_and_a_collapsed_norm(page, tmp_path):
    mathjax = HTML / "_static" / "mathjax" / "tex-chtml.js"
    if not mathjax.is_file():
        pytest.fail(f"{mathjax} is missing: the book build vendors MathJax")
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<script defer src='{mathjax.as_uri()}'></script></head><body><article>"
        "<p>| \\(d\\) | naive \\(\\log(\\cosh d)\\) |\n|---|---|\n| 0.001 | 5e-07 |</p>"
        "<table><tr><th>\\(\\max_t |x_t - y_t|_\\infty\\)</th><th>\\(\\mathrm{KL}(p|q)\\)</th></tr></table>"
        "<p>A fine \\(\\lVert x\\rVert_\\infty\\) and \\(\\lvert d\\rvert\\).</p>"
        "</article></body></html>", encoding="utf-8")
    page.goto(broken.as_uri())
    tex = _typeset(page)
    assert len(tex) == 6, tex
    assert page.evaluate(RAW_TABLE_JS), "the raw table text was not found"
    assert sum(bool(collapsed_bars(t)) for t in tex) == 2


# ------------------------------------------------------------------ every page of the book

@pytest.mark.parametrize("path", _article_pages(), ids=lambda p: p.relative_to(HTML).as_posix())
def test_page_shows_no_raw_table_and_no_collapsed_double_bar(page, path: Path):
    page.goto(path.as_uri())
    tex = _typeset(page)
    raw = page.evaluate(RAW_TABLE_JS)
    assert not raw, f"Markdown table shown as raw text (a | inside a cell?): {raw[:3]}"
    collapsed = {t: c for t in tex if (c := collapsed_bars(t))}
    assert not collapsed, ("a double bar reached MathJax as a single one (\\| inside a table "
                           f"cell; write \\Vert or \\lVert ... \\rVert): {list(collapsed.items())[:3]}")
    if page.locator("article .math").count():
        assert tex, "the page has math but MathJax reported none"
