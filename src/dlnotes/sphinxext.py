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
"""

from __future__ import annotations

import os
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


def setup(app: Any) -> dict:
    os.environ[MODE_ENV] = "static"
    # before sphinx-book-theme builds its header buttons (priority 501)
    app.connect("html-page-context", _add_notebook_download, priority=400)
    app.connect("html-page-context", _drop_thebe_assets, priority=900)
    app.connect("doctree-resolved", _drop_thebe_config, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
