"""Sphinx extension used by the book build (listed in ``_config.yml``).

* Puts explorables in **static** mode for every kernel the build starts (the kernels
  inherit this process's environment), so the HTML gets self-contained slider figures
  instead of ipywidgets that would need a kernel and a CDN.
* Gives every chapter page a downloadable ``.ipynb`` (an unexecuted notebook made from
  the MyST source) in the theme's download menu.
* Removes sphinx-thebe from the pages. Jupyter Book 1 always loads it; live code through
  Binder cannot work in an offline book, its script points at a CDN, and (Jupyter Book
  1.0.4 with sphinx-thebe 0.3.1) its inline configuration is emitted twice per page,
  which is a JavaScript error ("Identifier 'THEBE_JS_URL' has already been declared").
* Post-processes every written HTML page (:func:`postprocess_page`) for readers:

  - moves the explorables' frames out of the page into image files beside it
    (``_frames/<hash>.webp``), so a page loads only the frames it shows;
  - puts the primary sidebar in a landmark (``region``: everything in a landmark);
  - names the sidebar's expand/collapse toggles (an icon-only ``<summary>``, axe's
    ``summary-name``) after the entry they open;
  - gives the bibliography's entries the role ``listitem`` (docutils writes
    ``doc-biblioentry``, deprecated and not allowed in a ``role="list"``);
  - for the single-page build, writes the page as ``dlnotes.html`` in the output folder,
    where its links work (the PDF is printed from it);
  - table headers: an empty one becomes a data cell, one made only of math gets its TeX
    as screen-reader text too (axe's ``empty-table-header`` does not count the MathML that
    MathJax gives screen readers).
"""

from __future__ import annotations

import base64
import hashlib
import html as _html
import os
import re
from pathlib import Path
from typing import Any

import nbformat

from .explorables import MODE_ENV
from .notebooks import is_myst_notebook, to_notebook


def _add_notebook_download(app: Any, pagename: str, templatename: str, context: dict,
                           doctree: Any) -> None:
    if doctree is None:
        return
    src = Path(app.env.doc2path(pagename))
    if not is_myst_notebook(src):
        return
    target = Path(app.outdir) / "_sources" / (pagename + ".ipynb")
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(to_notebook(src), target)
    # sphinx-book-theme adds a ".ipynb" entry to its download menu when this is set
    context["ipynb_source"] = pagename + ".ipynb"


def _is_thebe_asset(asset: Any) -> bool:
    name = str(getattr(asset, "filename", asset) or "")
    body = str(getattr(asset, "attributes", {}).get("body", "") or "")
    return "thebe" in name.lower() or "THEBE_JS_URL" in body


def _drop_thebe_assets(app: Any, pagename: str, templatename: str, context: dict,
                       doctree: Any) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not _is_thebe_asset(a)]


def _drop_thebe_config(app: Any, doctree: Any, docname: str) -> None:
    from docutils import nodes

    for node in list(doctree.findall(nodes.raw)):
        if "text/x-thebe-config" in node.astext():
            node.parent.remove(node)


_FIGURE = re.compile(r'<figure class="dlnotes-explorable".*?</figure>', re.S)
_DATA_URI = re.compile(r"data:image/(png|webp);base64,([A-Za-z0-9+/=]+)")
_SIDEBAR = '<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar">'
_TH = re.compile(r"<th(\s[^>]*)?>(.*?)</th>", re.S)
# a sidebar entry with pages under it: its link, then a <details> whose <summary> is an icon only
_TOGGLE = re.compile(r'(<a class="[^"]*reference internal"[^>]*>((?:(?!</a>).)*)</a>)(<details[^>]*>)<summary>', re.S)
_MATH_SPAN = re.compile(r'<span class="math notranslate nohighlight">(.*?)</span>', re.S)
_TAG = re.compile(r"<[^>]+>")
FRAMES_DIR = "_frames"


def _frames_to_files(text: str, page_dir: Path) -> str:
    """Write each explorable frame (a data URI) to ``page_dir/_frames/<sha>.<ext>``."""
    def figure(m: re.Match) -> str:
        def uri(u: re.Match) -> str:
            data = base64.b64decode(u.group(2))
            name = f"{hashlib.sha256(data).hexdigest()[:20]}.{u.group(1)}"
            target = page_dir / FRAMES_DIR / name
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            return f"{FRAMES_DIR}/{name}"
        return _DATA_URI.sub(uri, m.group(0))
    return _FIGURE.sub(figure, text)


def _tex_text(math_html: str) -> str:
    tex = _html.unescape(_TAG.sub("", math_html)).strip()
    for a, b in (("\\(", "\\)"), ("\\[", "\\]"), ("$$", "$$"), ("$", "$")):
        if tex.startswith(a) and tex.endswith(b) and len(tex) >= len(a) + len(b):
            tex = tex[len(a):len(tex) - len(b)].strip()
            break
    return tex


def _fix_header(m: re.Match) -> str:
    attrs, inner = m.group(1) or "", m.group(2)
    maths = _MATH_SPAN.findall(inner)
    rest = _html.unescape(_TAG.sub("", _MATH_SPAN.sub("", inner))).strip()
    if rest or "dlnotes-sr-only" in inner:
        return m.group(0)
    if not maths:
        # an empty header cell (a table's corner) is not a header
        return f"<td{attrs}>{inner}</td>"
    # The formula stays as it is (MathJax makes it focusable, so it cannot be aria-hidden).
    spoken = " ".join(_html.escape(_tex_text(x)) for x in maths)
    return f'<th{attrs}>{inner}<span class="dlnotes-sr-only">{spoken}</span></th>'


def _name_toggle(m: re.Match) -> str:
    title = _html.unescape(_TAG.sub("", m.group(2))).strip()
    label = _html.escape(f"Show or hide the pages of {title}", quote=True)
    return f'{m.group(1)}{m.group(3)}<summary aria-label="{label}">'


def postprocess_page(text: str, page_dir: Path) -> str:
    """The reader-facing fixes to one written HTML page (see the module docstring)."""
    if '<figure class="dlnotes-explorable"' in text:
        text = _frames_to_files(text, page_dir)
    text = text.replace(_SIDEBAR, _SIDEBAR[:-1] + ' role="complementary" aria-label="Book contents">')
    text = text.replace('role="doc-biblioentry"', 'role="listitem"')
    if "<summary>" in text:
        text = _TOGGLE.sub(_name_toggle, text)
    if "<th" in text:
        text = _TH.sub(_fix_header, text)
    return text


def _postprocess_pages(app: Any, exception: Exception | None) -> None:
    if exception is not None or getattr(app.builder, "format", "") != "html":
        return
    out = Path(app.outdir)
    if getattr(app.builder, "name", "") == "singlehtml":
        # Sphinx writes the single page as <root doc>.html (book/intro.html) with every link
        # relative to the output folder: its copy there, dlnotes.html, is the one that works
        # (dlnotes.bookbuild prints it).
        page = out / (app.config.root_doc + ".html")
        text = page.read_text(encoding="utf-8")
        (out / "dlnotes.html").write_text(postprocess_page(text, out), encoding="utf-8")
        return
    for page in out.rglob("*.html"):
        if "_static" in page.relative_to(out).parts:
            continue
        text = page.read_text(encoding="utf-8")
        new = postprocess_page(text, page.parent)
        if new != text:
            page.write_text(new, encoding="utf-8")


def setup(app: Any) -> dict:
    os.environ[MODE_ENV] = "static"
    # before sphinx-book-theme builds its header buttons (priority 501)
    app.connect("html-page-context", _add_notebook_download, priority=400)
    app.connect("html-page-context", _drop_thebe_assets, priority=900)
    app.connect("doctree-resolved", _drop_thebe_config, priority=900)
    app.connect("build-finished", _postprocess_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
