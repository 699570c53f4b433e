"""Fixtures of the browser tests (helpers in browserkit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from browserkit import ARGS, CHROMIUM, HTML, open_context


@pytest.fixture(scope="session")
def browser():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"{HTML}/index.html is missing: build the book first (make book)")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context, pg = open_context(browser)
    yield pg
    context.close()
