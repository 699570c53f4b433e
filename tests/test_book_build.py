"""The build is a test: a failing cell or a Sphinx warning must fail it.

Builds a one-page book with the project's own _config.yml and the exact flags of the
Makefile, so a change to either that weakens the build is caught here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.book, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A page

"""


def _flags() -> list[str]:
    m = re.search(r"^JB_FLAGS := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert m, "JB_FLAGS not found in the Makefile"
    return m.group(1).split()


def _build(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/page\n")
    (tmp_path / "book" / "page.md").write_text(HEADER + body)
    jb = Path(sys.executable).with_name("jupyter-book")
    return subprocess.run([str(jb), "build", str(tmp_path), *_flags()], capture_output=True,
                          text=True, timeout=600)


def test_a_good_page_builds(tmp_path):
    res = _build(tmp_path, "```{code-cell} ipython3\nfrom dlnotes import losses\n"
                           "losses.l1([1.0], [0.0])\n```\n")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (tmp_path / "_build" / "html" / "book" / "page.html").is_file()


def test_a_failing_cell_fails_the_build(tmp_path):
    res = _build(tmp_path, "```{code-cell} ipython3\nraise RuntimeError('deliberate failure')\n```\n")
    assert res.returncode != 0
    assert "deliberate failure" in res.stdout + res.stderr


def test_a_sphinx_warning_fails_the_build(tmp_path):
    res = _build(tmp_path, "See {ref}`a-label-that-does-not-exist`.\n")
    assert res.returncode != 0
    assert "a-label-that-does-not-exist" in res.stdout + res.stderr
