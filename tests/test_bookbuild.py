"""dlnotes.bookbuild: parallel execution into Jupyter Book's cache, and the PDF's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlnotes import bookbuild

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

"""


def _book(root: Path, chapters: dict[str, str]) -> None:
    (root / "book").mkdir()
    names = list(chapters)
    toc = "format: jb-book\nroot: book/" + names[0] + "\n"
    if names[1:]:
        toc += "chapters:\n" + "".join(f"  - file: book/{n}\n" for n in names[1:])
    (root / "_toc.yml").write_text(toc)
    for name, code in chapters.items():
        (root / "book" / f"{name}.md").write_text(HEADER + f"# {name}\n\n```{{code-cell}} ipython3\n{code}\n```\n")


def test_execute_fills_jupyter_books_cache_then_finds_everything_cached(tmp_path):
    _book(tmp_path, {"one": "import os\nassert os.environ['DLNOTES_EXPLORABLES'] == 'static'\nprint(1 + 1)",
                     "two": "x = sum(range(10))\nx"})
    first = bookbuild.execute_chapters(tmp_path, timeout=120)
    assert sorted(first["executed"]) == ["one", "two"] and first["cached"] == []
    assert set(first["seconds"]) == {"one", "two"}
    assert (tmp_path / "_build" / ".jupyter_cache").is_dir()     # where execute_notebooks: cache looks
    again = bookbuild.execute_chapters(tmp_path, timeout=120)
    assert again["executed"] == [] and sorted(again["cached"]) == ["one", "two"]


def test_execute_names_the_chapter_that_fails(tmp_path):
    _book(tmp_path, {"fine": "1", "broken": "raise ValueError('boom in a cell')"})
    with pytest.raises(RuntimeError, match=r"broken\.md(.|\n)*boom in a cell"):
        bookbuild.execute_chapters(tmp_path, timeout=120)


def test_print_book_refuses_a_missing_page_or_browser(tmp_path):
    with pytest.raises(FileNotFoundError, match="html_path"):
        bookbuild.print_book(tmp_path / "missing.html", tmp_path / "out.pdf")
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>")
    with pytest.raises(FileNotFoundError, match="Chromium"):
        bookbuild.print_book(page, tmp_path / "out.pdf", chromium=str(tmp_path / "no-chromium"))
