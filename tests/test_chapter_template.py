"""The chapter template: skipped by the build, and carrying the rule that the build checks the claims."""

from __future__ import annotations

from pathlib import Path

import jupytext
import yaml

from dlnotes.notebooks import chapter_sources, is_myst_notebook

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "book" / "_template.md"


def test_the_template_is_a_notebook_the_build_and_the_notebook_export_skip():
    assert is_myst_notebook(TEMPLATE)
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["only_build_toc_files"] is True
    assert TEMPLATE not in chapter_sources(ROOT)
    assert "_template" not in (ROOT / "_toc.yml").read_text(encoding="utf-8")


def test_the_template_shows_glued_numbers_hidden_assertions_and_alt_text():
    nb = jupytext.read(TEMPLATE, fmt="md:myst")
    code = [c for c in nb.cells if c.cell_type == "code"]
    hidden = [c for c in code if "remove-cell" in c.metadata.get("tags", [])]
    assert hidden and all("assert" in c.source and "glue(" in c.source for c in hidden)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "{glue:text}" in text and "No wall time" in text
    assert any("alt" in c.metadata.get("mystnb", {}).get("image", {}) for c in code)
    assert "exercises.show(" in "\n".join(c.source for c in code) and "{footbibliography}" in text
