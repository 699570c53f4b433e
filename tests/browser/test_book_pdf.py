"""The whole book as one PDF (``make pdf``), read back with pypdf.

Checks that the PDF exists where the HTML book links to it, has every chapter of
``_toc.yml`` in it, the worked hinge example's computed numbers, typeset math (no raw TeX
delimiters left), figures, and the exercises with their solutions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from browserkit import HTML, ROOT

pytestmark = pytest.mark.browser

PDF = HTML / "dlnotes.pdf"


def _chapter_titles() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    titles = []
    for f in files:
        text = (ROOT / f"{f}.md").read_text(encoding="utf-8")
        m = re.search(r"^# (.+)$", text, re.M)
        titles.append(m.group(1).strip())
    return titles


@pytest.fixture(scope="module")
def pdf_text():
    if not PDF.is_file():
        pytest.fail(f"{PDF} is missing: run `make pdf` after the book build")
    from pypdf import PdfReader

    reader = PdfReader(str(PDF))
    pages = [p.extract_text() or "" for p in reader.pages]
    images = sum(len(p.images) for p in reader.pages[: min(len(reader.pages), 400)])
    return {"n": len(pages), "text": " ".join(" ".join(pages).split()), "images": images}


def test_pdf_has_a_page_count_that_fits_the_book(pdf_text):
    # every chapter is several pages; a truncated print would have far fewer
    assert pdf_text["n"] >= 8 * len(_chapter_titles()), pdf_text["n"]


def test_pdf_has_every_chapter_title(pdf_text):
    missing = [t for t in _chapter_titles() if " ".join(t.split()) not in pdf_text["text"]]
    assert not missing, missing


def test_pdf_has_the_worked_hinge_example_and_solutions_and_no_raw_tex(pdf_text):
    text = pdf_text["text"]
    assert "1.8 + 1.9 = 3.7" in text and "1.4333" in text
    assert "Solution" in text
    assert "\\(" not in text and "\\[" not in text, "untypeset math in the PDF"
    assert pdf_text["images"] >= 20, pdf_text["images"]


def test_the_html_book_links_to_the_pdf():
    html = (HTML / "book" / "intro.html").read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]+\.pdf)"', html)
    assert hrefs and all((HTML / "book" / h).resolve() == PDF.resolve() for h in hrefs), hrefs
