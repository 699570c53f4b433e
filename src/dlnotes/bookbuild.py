"""Building the book: chapters executed two at a time, and the whole book as one PDF.

**Executing the chapters in parallel** (``python -m dlnotes.bookbuild execute``, which
``make book-fresh`` and ``make pdf`` run before ``jupyter-book build``): every chapter not yet in the execution
cache (``_build/.jupyter_cache``, the one Jupyter Book's ``execute_notebooks: cache``
uses) is executed by jupyter-cache's own ``local-parallel`` executor, one worker process
per core (two here), each in its chapter's folder, with the explorables in static mode as
the book build sets them. Jupyter Book then finds every chapter in the cache and executes
nothing; a chapter that fails here is reported with its traceback and fails the command.

**The PDF** (``make pdf``): the book built with Sphinx's ``singlehtml`` builder (from the
same execution cache) and ``python -m dlnotes.bookbuild pdf _build/singlehtml/dlnotes.html
_build/html/dlnotes.pdf``, which

* opens the page in headless Chromium through playwright (no browser download: Debian's
  ``/usr/bin/chromium``, the network blocked),
* waits until MathJax has typeset every formula and every image has loaded,
* opens every dropdown (the exercises' solutions) and shows each explorable at its
  default frame (the sliders are hidden in print, their values shown),
* prints it to A4 with page numbers.

The HTML book links to ``dlnotes.pdf`` beside its ``index.html`` (see ``book/intro.md``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["execute_chapters", "print_book", "CHROMIUM"]

CHROMIUM = os.environ.get("DLNOTES_CHROMIUM", "/usr/bin/chromium")
_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

_PREPARE = """async () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; });
  if (window.MathJax && MathJax.startup) { await MathJax.startup.promise; }
  await Promise.all(Array.from(document.images).map(i => i.complete ? null :
      new Promise(r => { i.onload = i.onerror = r; })));
  const broken = Array.from(document.images).filter(i => !i.naturalWidth).map(i => i.src);
  const raw = document.body.innerText.includes('\\\\(') ? 1 : 0;
  return {images: document.images.length, broken: broken.slice(0, 5),
          math: document.querySelectorAll('mjx-container').length, raw: raw};
}"""

_FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#444">'
           '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def execute_chapters(book_root: str | Path | None = None, timeout: float = 900.0) -> dict:
    """Execute every chapter of ``_toc.yml`` that the execution cache lacks, in parallel.

    Returns ``{"executed": [...], "cached": [...], "seconds": {chapter: execution time}}``.
    Raises ``RuntimeError`` naming each chapter that failed, with the end of its traceback.
    """
    import logging

    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    from .explorables import MODE_ENV
    from .notebooks import chapter_sources, find_book_root

    root = find_book_root(book_root)
    cache = get_cache(str(root / "_build" / ".jupyter_cache"))
    chapters = chapter_sources(root)
    for path in chapters:
        cache.add_nb_to_project(str(path), read_data={"type": "plugin", "name": "myst_nb_md"})
    cached = [p.stem for p in chapters
              if cache.get_cached_project_nb(str(p)) is not None]
    os.environ[MODE_ENV] = "static"          # as dlnotes.sphinxext sets it for the book build
    logger = logging.getLogger("dlnotes.bookbuild")
    executor = load_executor("local-parallel", cache, logger=logger)
    result = executor.run_and_cache(filter_uris=[str(p) for p in chapters], timeout=timeout,
                                    allow_errors=False)
    failed = list(result.excepted) + list(result.errored)
    if failed:
        lines = []
        for uri in failed:
            record = cache.get_project_record(uri)
            lines.append(f"{Path(uri).name}:\n{(record.traceback or '')[-2000:]}")
        raise RuntimeError("chapters failed to execute:\n" + "\n".join(lines))
    seconds = {}
    for p in chapters:
        rec = cache.get_cached_project_nb(str(p))
        if rec is not None:
            seconds[p.stem] = rec.data.get("execution_seconds")
    return {"executed": [Path(u).stem for u in result.succeeded], "cached": cached,
            "seconds": seconds}


def print_book(html_path: str | Path, pdf_path: str | Path, chromium: str = CHROMIUM,
               timeout: float = 300.0) -> dict:
    """Print the single-page HTML book ``html_path`` to ``pdf_path``; returns what was printed
    (number of images and typeset formulas).

    Raises ``FileNotFoundError`` if the page or Chromium is missing, ``RuntimeError`` if an
    image did not load or math was left untypeset.
    """
    src, dst = Path(html_path).resolve(), Path(pdf_path).resolve()
    if not src.is_file():
        raise FileNotFoundError(f"html_path {src} does not exist: build the single-page HTML first")
    if not Path(chromium).is_file():
        raise FileNotFoundError(f"Chromium not found at {chromium!r}; the PDF needs headless Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=_ARGS, headless=True)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1100, "height": 1400})
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
                ("file://", "data:", "blob:", "about:")) else r.abort())
            page = context.new_page()
            page.set_default_timeout(timeout * 1000)
            page.goto(src.as_uri(), wait_until="load")
            facts = page.evaluate(_PREPARE)
            if facts["broken"]:
                raise RuntimeError(f"images that did not load: {facts['broken']}")
            if facts["raw"]:
                raise RuntimeError("the page still shows raw TeX (\\( ... \\)): MathJax did not typeset it")
            page.emulate_media(media="print")
            dst.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(dst), format="A4", print_background=True, display_header_footer=True,
                     header_template="<span></span>", footer_template=_FOOTER,
                     margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"})
        finally:
            browser.close()
    return facts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dlnotes.bookbuild", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("execute", help="execute the chapters the cache lacks, in parallel")
    ex.add_argument("--root", default=None, help="the book's folder (default: found from here)")
    pdf = sub.add_parser("pdf", help="print the single-page HTML book to a PDF")
    pdf.add_argument("html", help="the single-page HTML book (_build/singlehtml/dlnotes.html)")
    pdf.add_argument("pdf", help="where to write the PDF")
    args = ap.parse_args(argv)
    if args.command == "execute":
        done = execute_chapters(args.root)
        for name, sec in done["seconds"].items():
            how = "executed" if name in done["executed"] else "cached"
            print(f"{name}: {how}, {sec:.1f} s" if sec is not None else f"{name}: {how}")
        return 0
    facts = print_book(args.html, args.pdf)
    size = Path(args.pdf).stat().st_size
    print(f"wrote {args.pdf} ({size / 1e6:.1f} MB; {facts['images']} images, "
          f"{facts['math']} formulas)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
