"""Chapters as notebooks, the command line, and the book's Sphinx extension."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from typer.testing import CliRunner

from dlnotes import exercises, explorables, notebooks, sphinxext
from dlnotes.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_chapter_sources_follow_the_table_of_contents():
    names = [p.stem for p in notebooks.chapter_sources(ROOT)]
    assert names.index("losses") < names.index("regularization")
    assert "api" not in names and "notation" not in names   # plain pages, not notebooks


def test_find_book_root_walks_up_from_a_subfolder():
    assert notebooks.find_book_root(ROOT / "book") == ROOT


@pytest.mark.parametrize("chapter", ["losses", "regularization"])
def test_chapter_converts_to_a_valid_notebook_that_imports_its_module(chapter):
    nb = notebooks.to_notebook(ROOT / "book" / f"{chapter}.md")
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert f"dlnotes import" in code and chapter in code
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_a_plain_markdown_page_is_not_a_notebook():
    assert not notebooks.is_myst_notebook(ROOT / "book" / "notation.md")
    with pytest.raises(ValueError, match="not a MyST Markdown notebook"):
        notebooks.to_notebook(ROOT / "book" / "notation.md")


def test_cli_exports_every_chapter_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "nb"
    res = runner.invoke(app, ["notebooks", str(out), "--book", str(ROOT)])
    assert res.exit_code == 0, res.output
    written = sorted(p.name for p in out.glob("*.ipynb"))
    assert {"losses.ipynb", "regularization.ipynb"} <= set(written)
    for p in out.glob("*.ipynb"):
        nbformat.validate(nbformat.read(p, as_version=4))
    again = runner.invoke(app, ["notebooks", str(out), "--book", str(ROOT)])
    assert again.exit_code == 2 and "--force" in again.output
    forced = runner.invoke(app, ["notebooks", str(out), "--book", str(ROOT), "--force"])
    assert forced.exit_code == 0


def test_cli_without_a_book_explains_what_is_missing(tmp_path):
    res = runner.invoke(app, ["notebooks", str(tmp_path / "o"), "--book", str(tmp_path)])
    # no _toc.yml in tmp_path or its parents: falls back to the checkout, which has one
    assert res.exit_code == 0


def test_cli_lists_shows_and_checks_exercises(tmp_path):
    listing = runner.invoke(app, ["exercises", "list", "--chapter", "losses"])
    assert listing.exit_code == 0 and "losses.multiclass-hinge" in listing.output
    assert "regularization." not in listing.output

    shown = runner.invoke(app, ["exercises", "show", "losses.huber", "--seed", "4", "--json"])
    data = json.loads(shown.output)
    assert data["seed"] == 4 and "solution" not in data
    with_sol = json.loads(runner.invoke(app, ["exercises", "show", "losses.huber", "--seed", "4",
                                              "--json", "--solution"]).output)
    sol = with_sol["solution"]
    assert sol == pytest.approx(exercises.get("losses.huber")(4).solution)

    ok = runner.invoke(app, ["exercises", "check", "losses.huber", f"{sol:.8f}", "--seed", "4"])
    assert ok.exit_code == 0 and ok.output.startswith("2/2")
    wrong = runner.invoke(app, ["exercises", "check", "losses.huber", "123", "--seed", "4"])
    assert wrong.exit_code == 1 and wrong.output.startswith("0/2")

    code = tmp_path / "answer.py"
    code.write_text(exercises.get("losses.log-cosh-code")(0).solution)
    graded = runner.invoke(app, ["exercises", "check", "losses.log-cosh-code", str(code)])
    assert graded.exit_code == 0, graded.output


def test_cli_reports_bad_input_without_a_traceback():
    res = runner.invoke(app, ["exercises", "show", "losses.nope"])
    assert res.exit_code == 2 and "no exercise with id" in res.output
    res = runner.invoke(app, ["exercises", "check", "losses.log-cosh-code", "no-such-file.py"])
    assert res.exit_code == 2 and "is not a file" in res.output
    res = runner.invoke(app, ["exercises", "list", "--chapter", "nope"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["exercises", "show", "losses.huber", "--seed", "-1"])
    assert res.exit_code != 0 and res.exception is None or isinstance(res.exception, SystemExit)


def test_cli_prints_its_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("dlnotes ")


# ------------------------------------------------------------------ sphinx extension

class _FakeApp:
    def __init__(self, outdir, srcfile):
        self.outdir = str(outdir)
        self.env = SimpleNamespace(doc2path=lambda name: str(srcfile))
        self.connected = []

    def connect(self, event, fn, priority=500):
        self.connected.append((event, fn, priority))


def test_sphinx_extension_sets_static_mode_and_registers_its_hooks(tmp_path, monkeypatch):
    monkeypatch.delenv(explorables.MODE_ENV, raising=False)
    fake = _FakeApp(tmp_path, ROOT / "book" / "losses.md")
    meta = sphinxext.setup(fake)
    assert os.environ[explorables.MODE_ENV] == "static" and meta["parallel_read_safe"]
    events = {e for e, _, _ in fake.connected}
    assert {"html-page-context", "doctree-resolved"} <= events


def test_sphinx_extension_writes_the_page_notebook_for_download(tmp_path):
    fake = _FakeApp(tmp_path, ROOT / "book" / "losses.md")
    ctx = {}
    sphinxext._add_notebook_download(fake, "book/losses", "page.html", ctx, doctree=object())
    assert ctx["ipynb_source"] == "book/losses.ipynb"
    nbformat.validate(nbformat.read(tmp_path / "_sources" / "book" / "losses.ipynb", as_version=4))
    plain = {}
    fake_plain = _FakeApp(tmp_path, ROOT / "book" / "notation.md")
    sphinxext._add_notebook_download(fake_plain, "book/notation", "page.html", plain, doctree=object())
    assert "ipynb_source" not in plain


def test_sphinx_extension_removes_thebe_assets_only():
    keep = SimpleNamespace(filename="_static/pydata.js", attributes={})
    drop1 = SimpleNamespace(filename="_static/sphinx-thebe.js", attributes={})
    drop2 = SimpleNamespace(filename=None, attributes={"body": 'const THEBE_JS_URL = "x"'})
    ctx = {"script_files": [keep, drop1, drop2], "css_files": ["_static/sphinx-thebe.css", "a.css"]}
    sphinxext._drop_thebe_assets(None, "p", "page.html", ctx, None)
    assert ctx["script_files"] == [keep] and ctx["css_files"] == ["a.css"]


@pytest.mark.slow
@pytest.mark.book
@pytest.mark.parametrize("chapter", ["losses", "regularization"])
def test_chapter_runs_as_a_notebook_with_live_widgets(chapter, tmp_path, monkeypatch):
    """What a student does: export the chapter, run every cell in a kernel, get widgets."""
    from nbclient import NotebookClient

    monkeypatch.setenv(explorables.MODE_ENV, "live")     # the kernel inherits this
    nb = notebooks.to_notebook(ROOT / "book" / f"{chapter}.md")
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, "no live widget in the executed notebook"
    assert not any("dlnotes-explorable" in o.get("data", {}).get("text/html", "") for o in outputs)
