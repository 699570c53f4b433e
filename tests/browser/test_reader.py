"""The book as a reader's browser sees it: accessibility, page weight, search, dark mode.

Run after the book build, like the other browser tests (same browser, same offline pages).

* **Accessibility**: axe-core (bundled with axe-playwright-python, nothing downloaded) on
  every page: every rule in the theme's light mode, and the colour rules (contrast, links
  in text) again in dark mode; any violation of any impact fails.
* **Explorables**: every slider has an accessible name, a value text that names what it
  sets, a visible focus ring, and moves with the keyboard; every frame has its own alt text;
  the frames are image files beside the page, not inlined into it.
* **Page weight**: the bytes a page loads before the reader touches anything (its HTML and
  every image or frame it loads; not what all pages share: the theme's and MathJax's
  ``_static/`` and the search index) are at most ``PAGE_LIMIT``. ``python tests/browser/test_reader.py`` prints the table of
  ``benchmarks/README.md``.
* **Search**: a real search over ``file://`` finds pages and logs no console error.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from browserkit import HTML, article_pages, open_context, page_id, wait_for_mathjax

pytestmark = pytest.mark.browser

PAGE_LIMIT = 1024 * 1024          # bytes at first load, per page
# What every page shares and the browser caches across pages: the theme, MathJax and the
# extensions' assets, and the search index (the theme loads it on every page).
SHARED = [HTML / "_static", HTML / "_sphinx_design_static", HTML / "searchindex.js"]


def _is_shared(f: Path) -> bool:
    return any(f == s or s in f.parents for s in SHARED)


def _axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def axe_js() -> str:
    return _axe_source()


@pytest.fixture(scope="module", params=["light", "dark"])
def themed(browser, request):
    """One browser context per theme mode, reused for every page (each test opens a new page)."""
    context, _ = open_context(browser, theme=request.param)
    context.dlnotes_theme = request.param
    yield context
    context.close()


# Rules whose result depends on the colours, run again in dark mode (the others check the
# page's structure, which is the same in both modes).
COLOUR_RULES = ["color-contrast", "link-in-text-block"]

# Finish the theme's colour transitions at once: axe must see the final colours, not a
# blend sampled half-way through a fade.
NO_TRANSITIONS = """() => { const s = document.createElement('style');
  s.textContent = '*, *::before, *::after { transition: none !important; animation: none !important; }';
  document.head.appendChild(s);
  return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); }"""


def _violations(pg, axe_js: str, rules: list[str] | None = None) -> list[dict]:
    pg.evaluate(NO_TRANSITIONS)
    pg.evaluate(axe_js)
    options = {"resultTypes": ["violations"]}
    if rules is not None:
        options["runOnly"] = {"type": "rule", "values": rules}
    result = pg.evaluate("options => axe.run(document, options)", options)
    return [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"]),
             "first": [n["target"] for n in v["nodes"][:3]],
             "why": v["nodes"][0].get("failureSummary", "")[:300]} for v in result["violations"]]


@pytest.mark.parametrize("path", article_pages(), ids=page_id)
def test_axe_finds_no_violation_in_light_and_dark_mode(themed, axe_js, path: Path):
    pg = themed.new_page()
    try:
        pg.goto(path.as_uri())
        wait_for_mathjax(pg)
        mode = pg.evaluate("() => document.documentElement.dataset.theme")
        assert mode == themed.dlnotes_theme, f"the page is in {mode} mode, not {themed.dlnotes_theme}"
        # open every collapsible (solutions, data tables) so that what is inside is checked too
        pg.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        found = _violations(pg, axe_js, None if themed.dlnotes_theme == "light" else COLOUR_RULES)
        assert not found, json.dumps(found, indent=1, ensure_ascii=False)
    finally:
        pg.close()


def test_axe_sees_violations_on_a_faulty_page(page, axe_js, tmp_path):
    """The check can fail: an unlabelled slider, an image without alt and grey-on-white text."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html lang='en'><head><title>t</title></head><body><main>"
                   "<input type='range'><img src='x.png'><p style='color:#bbb'>faint</p>"
                   "</main></body></html>", encoding="utf-8")
    page.goto(bad.as_uri())
    ids = {v["id"] for v in _violations(page, axe_js)}
    assert {"label", "image-alt", "color-contrast"} <= ids, ids


# ------------------------------------------------------------------ explorables

SLIDERS_JS = """() => Array.from(document.querySelectorAll('input.dlnotes-explorable-slider')).map(s => ({
  name: s.getAttribute('aria-label') || '', text: s.getAttribute('aria-valuetext') || '',
  figure: s.closest('figure.dlnotes-explorable').id}))"""


def _explorable_pages() -> list[Path]:
    return [p for p in article_pages() if '<figure class="dlnotes-explorable"' in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", _explorable_pages(), ids=page_id)
def test_explorables_are_keyboard_operable_described_and_load_frames_from_files(page, path: Path):
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    html = path.read_text(encoding="utf-8")
    assert "data:image/png;base64" not in html and "data:image/webp;base64" not in html, \
        "explorable frames inlined into the page (the Sphinx extension moves them into files)"
    for s in page.evaluate(SLIDERS_JS):
        assert s["name"].strip(), f"a slider of {s['figure']} has no accessible name"
        assert s["text"].strip() and s["text"] != s["name"], s
    figures = page.locator("figure.dlnotes-explorable")
    for f in range(figures.count()):
        fig = figures.nth(f)
        img = fig.locator("img.dlnotes-explorable-frame")
        src = img.get_attribute("src")
        assert not urlparse(src).scheme and (path.parent / unquote(src)).is_file(), src
        slider = fig.locator("input.dlnotes-explorable-slider").first
        slider.focus()
        ring = slider.evaluate("s => { const c = getComputedStyle(s); "
                               "return [c.outlineStyle, parseFloat(c.outlineWidth)]; }")
        assert ring[0] != "none" and ring[1] >= 2, f"slider of figure {f} shows no focus ring: {ring}"
        before = (img.get_attribute("alt"), slider.get_attribute("aria-valuetext"))
        at_max = slider.input_value() == slider.get_attribute("max")
        page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
        after = (img.get_attribute("alt"), slider.get_attribute("aria-valuetext"))
        assert after[0] != before[0], f"figure {f}: the alt text does not follow the slider"
        assert after[1] != before[1], f"figure {f}: the value text does not follow the slider"
        assert img.evaluate("i => new Promise(r => i.complete ? r(i.naturalWidth > 0) : "
                            "(i.onload = () => r(i.naturalWidth > 0), i.onerror = () => r(false)))")
    log = page.dlnotes_log
    assert not log["failed"] and not log["console"] and not log["pageerrors"], log


# ------------------------------------------------------------------ page weight

def measure_first_load(pg, path: Path) -> dict:
    """Bytes of the page's own files (the HTML, images, frames) and of the shared files
    (``SHARED``) that Chromium requested while loading ``path``, before any interaction."""
    pg.goto(path.as_uri())
    wait_for_mathjax(pg)       # after "load" every image that is not lazy has been fetched
    own, shared, seen = 0, 0, set()
    for url in pg.dlnotes_log["requests"]:
        if not url.startswith("file://") or url in seen:
            continue
        seen.add(url)
        f = Path(unquote(urlparse(url).path))
        if not f.is_file():
            continue
        if _is_shared(f):
            shared += f.stat().st_size
        else:
            own += f.stat().st_size
    return {"own": own, "shared": shared, "html": path.stat().st_size}


@pytest.mark.parametrize("path", article_pages(), ids=page_id)
def test_page_loads_at_most_one_megabyte_before_interaction(page, path: Path):
    m = measure_first_load(page, path)
    assert m["own"] <= PAGE_LIMIT, (f"{page_id(path)} loads {m['own'] / 1024:.0f} KiB of its own at "
                                    f"first load (limit {PAGE_LIMIT / 1024:.0f} KiB): {m}")


# ------------------------------------------------------------------ search and header

@pytest.mark.parametrize("path", [p for p in article_pages() if p.name in ("intro.html", "notation.html",
                                                                          "genindex.html")], ids=page_id)
def test_one_search_box_is_visible(page, path: Path):
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    visible = page.locator(".search-button-field, form.bd-search input[type=search]").evaluate_all(
        "els => els.filter(e => e.offsetParent !== null && e.getBoundingClientRect().height > 0).length")
    assert visible == 1, f"{visible} search boxes are visible"


def test_a_real_search_over_file_finds_pages_and_logs_no_error(page):
    page.goto((HTML / "search.html").as_uri() + "?q=momentum")
    page.wait_for_load_state("load")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=20000)
    assert results.count() >= 2
    hrefs = results.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert any("momentum" in h for h in hrefs), hrefs
    log = page.dlnotes_log
    assert not log["console"], log["console"][:5]
    assert not log["pageerrors"] and not log["failed"] and not log["blocked"], log


# ------------------------------------------------------------------ the table for benchmarks/README.md

def main() -> None:
    from playwright.sync_api import sync_playwright

    from browserkit import ARGS, CHROMIUM

    rows = []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for path in article_pages():
            context, pg = open_context(b)
            m = measure_first_load(pg, path)
            context.close()
            rows.append((page_id(path), m))
        b.close()
    print("| page | HTML (KiB) | first load, own bytes (KiB) | shared files loaded (KiB) |")
    print("|---|---:|---:|---:|")
    for name, m in rows:
        print(f"| `{name}` | {m['html'] / 1024:.0f} | **{m['own'] / 1024:.0f}** | {m['shared'] / 1024:.0f} |")


if __name__ == "__main__":
    main()
