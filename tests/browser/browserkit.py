"""Helpers shared by the browser tests (their fixtures are in conftest.py): the built book
opened from disk in headless Chromium, the network blocked, every console error, page
error and failed request recorded."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHROMIUM = os.environ.get("DLNOTES_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def pages() -> list[Path]:
    """Every HTML page of the built book (not the theme's assets)."""
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.relative_to(HTML).parts)


def is_redirect(path: Path) -> bool:
    return bool(re.search(r'http-equiv="Refresh"', path.read_text(encoding="utf-8")[:2000], re.I))


def article_pages() -> list[Path]:
    """The pages with content (Jupyter Book's index.html only forwards to the root chapter)."""
    return [p for p in pages() if not is_redirect(p)]


def page_id(path: Path) -> str:
    return path.relative_to(HTML).as_posix()


def open_context(browser, theme: str | None = None):
    """A new offline browser context; ``theme`` ('light'/'dark') preset as the theme's toggle
    stores it. Returns ``(context, page)``; ``page.dlnotes_log`` collects what went wrong."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    log = {"console": [], "failed": [], "blocked": [], "pageerrors": [], "requests": []}

    def route(r):
        url = r.request.url
        if url.startswith(("file://", "data:", "blob:", "about:")):
            r.continue_()
        else:
            log["blocked"].append(url)
            r.abort()

    context.route("**/*", route)
    if theme is not None:
        # pydata-sphinx-theme's toggle keeps the reader's choice in localStorage ("mode" in
        # 0.17; "theme" in older releases)
        context.add_init_script(f"try {{ localStorage.setItem('mode', '{theme}'); "
                                f"localStorage.setItem('theme', '{theme}'); }} catch (e) {{}}")
    pg = context.new_page()
    pg.on("console", lambda m: log["console"].append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: log["pageerrors"].append(str(e)))
    pg.on("requestfailed", lambda r: log["failed"].append(f"{r.url} ({r.failure})"))
    pg.on("request", lambda r: log["requests"].append(r.url))
    pg.dlnotes_log = log
    return context, pg


def wait_for_mathjax(pg) -> None:
    pg.wait_for_load_state("load")
    if pg.evaluate("() => !!(window.MathJax && window.MathJax.startup)"):
        pg.evaluate("() => window.MathJax.startup.promise")
