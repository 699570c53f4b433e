"""Chapters as Jupyter notebooks.

The chapters are MyST Markdown notebooks (``book/*.md`` with a jupytext header): text
files that are easy to review, executed by the book build, and opened as notebooks by
Jupyter through jupytext. This module turns them into ``.ipynb`` files: for the
download button on every page of the HTML book, and for ``dlnotes notebooks OUT``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml

__all__ = ["find_book_root", "chapter_sources", "is_myst_notebook", "to_notebook", "export"]


def find_book_root(start: str | Path | None = None) -> Path:
    """The folder holding ``_toc.yml``: ``start`` or its nearest parent, else the source checkout."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    checkout = Path(__file__).resolve().parents[2]  # src/dlnotes/ -> repository root
    if (checkout / "_toc.yml").is_file():
        return checkout
    raise FileNotFoundError(f"no _toc.yml in {here} or its parents; pass the book folder explicitly")


def is_myst_notebook(path: str | Path) -> bool:
    """True if ``path`` is a Markdown file with a jupytext/kernelspec header (a MyST notebook)."""
    p = Path(path)
    if p.suffix != ".md" or not p.is_file():
        return False
    text = p.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return False
    end = text.find("\n---", 3)
    if end < 0:
        return False
    header = yaml.safe_load(text[3:end]) or {}
    return isinstance(header, dict) and "kernelspec" in header


def _toc_files(entries: list) -> list[str]:
    out: list[str] = []
    for e in entries or []:
        if "file" in e:
            out.append(e["file"])
        for key in ("sections", "chapters"):
            out += _toc_files(e.get(key, []))
        for part in e.get("parts", []):
            out += _toc_files(part.get("chapters", []))
    return out


def chapter_sources(book_root: str | Path | None = None) -> list[Path]:
    """The MyST-notebook chapters listed in ``_toc.yml``, in book order."""
    root = find_book_root(book_root)
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + _toc_files(toc.get("chapters", [])) + _toc_files(
        [c for p in toc.get("parts", []) for c in p.get("chapters", [])])
    paths = [root / (f if f.endswith(".md") else f + ".md") for f in files]
    return [p for p in paths if is_myst_notebook(p)]


def to_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a MyST Markdown notebook and return it as an (unexecuted) nbformat v4 notebook."""
    import jupytext

    p = Path(path)
    if not is_myst_notebook(p):
        raise ValueError(f"{p} is not a MyST Markdown notebook (no jupytext/kernelspec header)")
    nb = jupytext.read(p, fmt="md:myst")
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                          "language": "python"})
    nbformat.validate(nb)
    return nb


def export(out_dir: str | Path, book_root: str | Path | None = None,
           overwrite: bool = False) -> list[Path]:
    """Write every chapter as ``<out_dir>/<name>.ipynb``; returns the paths written.

    Refuses to replace an existing notebook unless ``overwrite`` is true.
    """
    out = Path(out_dir)
    sources = chapter_sources(book_root)
    targets = [out / (s.stem + ".ipynb") for s in sources]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass overwrite=True (--force) to replace it")
    out.mkdir(parents=True, exist_ok=True)
    for src, dst in zip(sources, targets):
        nbformat.write(to_notebook(src), dst)
    return targets
