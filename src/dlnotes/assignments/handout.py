"""Printable per-student handouts: one self-contained HTML page (and optionally a PDF).

The page needs no network and no JavaScript: math is converted to MathML when the page
is written (docutils' LaTeX-to-MathML converter; browsers render MathML natively), and
the style sheet is inline and print-friendly. A formula the converter does not know is
shown as its LaTeX source rather than failing the whole class set.
"""

from __future__ import annotations

import functools
import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .. import exercises as bank
from .notebook import answer_form, points_label
from .roster import Student
from .spec import AssignmentSpec

__all__ = ["tex_to_mathml", "markdown_to_html", "handout_html", "print_pdf", "CHROMIUM"]

CHROMIUM = "/usr/bin/chromium"

_CSS = """
body { font: 11pt/1.45 "DejaVu Serif", Georgia, serif; max-width: 46em; margin: 2em auto;
       padding: 0 1em; color: #111; }
header { border-bottom: 2px solid #333; margin-bottom: 1.5em; }
h1 { font-size: 1.6em; margin: 0 0 .3em; }
.meta { color: #333; margin: 0 0 .8em; }
section.question { break-inside: avoid; page-break-inside: avoid; margin: 0 0 1.6em; }
h2 { font-size: 1.15em; margin: 0 0 .4em; }
h2 .points { font-weight: normal; color: #555; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #999; padding: .15em .6em; text-align: right; }
pre { background: #f4f4f4; padding: .6em; border: 1px solid #ddd; white-space: pre-wrap; }
code.tex { color: #700; }
.answer { margin-top: .8em; }
.blank { display: inline-block; min-width: 9em; border-bottom: 1px solid #000; }
.box { display: inline-block; width: .9em; height: .9em; border: 1px solid #000;
       vertical-align: middle; margin: 0 .3em 0 1em; }
footer { border-top: 1px solid #999; margin-top: 2em; color: #444; font-size: .9em; }
@page { margin: 18mm; }
@media print { body { margin: 0; max-width: none; } }
"""

_FRAC = re.compile(r"\\([td]?frac)(?![A-Za-z])")


def _tex_argument(tex: str, j: int) -> tuple[str, int]:
    """One TeX macro argument starting at ``tex[j]``: a braced group, a command or a char."""
    while j < len(tex) and tex[j].isspace():
        j += 1
    if j >= len(tex):
        return "", j
    if tex[j] == "{":
        depth = 0
        for k in range(j, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[k], 0)
            if depth == 0:
                return tex[j + 1:k], k + 1
        return tex[j + 1:], len(tex)
    if tex[j] == "\\":
        m = re.match(r"\\(?:[A-Za-z]+|.)", tex[j:])
        assert m is not None
        return m.group(), j + len(m.group())
    return tex[j], j + 1


def _brace_fracs(tex: str) -> str:
    r"""Rewrite TeX shorthand such as ``\frac13`` as ``\frac{1}{3}``.

    The converter reads ``\frac13`` as ``\frac{13}{...}``; MathJax (the book) and TeX read
    it as one third, and the bank's prompts use the short form.
    """
    out, i = [], 0
    while (m := _FRAC.search(tex, i)) is not None:
        out.append(tex[i:m.start()])
        num, j = _tex_argument(tex, m.end())
        den, j = _tex_argument(tex, j)
        out.append(f"\\{m.group(1)}{{{_brace_fracs(num)}}}{{{_brace_fracs(den)}}}")
        i = j
    out.append(tex[i:])
    return "".join(out)


def tex_to_mathml(tex: str, display: bool = False) -> str:
    """MathML for a LaTeX formula; unknown commands give the escaped LaTeX in ``<code>``."""
    from docutils.utils.math import MathError
    from docutils.utils.math.latex2mathml import tex2mathml

    try:
        return tex2mathml(_brace_fracs(tex), as_block=display)
    except (MathError, SyntaxError, ValueError, IndexError, KeyError):
        # A formula the converter cannot parse is still readable as LaTeX.
        return f'<code class="tex">{html.escape(tex)}</code>'


@functools.lru_cache(maxsize=1)
def _markdown():
    # Building the parser costs more than rendering one prompt: make it once.
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    return MarkdownIt("commonmark", {"html": True}).enable("table").use(
        dollarmath_plugin, allow_labels=False,
        renderer=lambda content, opts: tex_to_mathml(content, bool(opts.get("display_mode"))))


def markdown_to_html(text: str) -> str:
    """HTML for the bank's Markdown (CommonMark, tables, ``$...$`` math as MathML)."""
    return _markdown().render(text)


def _answer_area(inst: bank.ExerciseInstance) -> str:
    if inst.answer_type == "numeric":
        if np.ndim(inst.answer) == 0:
            blanks = '<span class="blank"></span>'
        else:
            blanks = "(" + ", ".join('<span class="blank" style="min-width:4.5em"></span>'
                                     for _ in range(int(np.size(inst.answer)))) + ")"
        return f'<p class="answer"><strong>Answer</strong> ({html.escape(answer_form(inst))}): {blanks}</p>'
    if inst.answer_type == "choice":
        assert inst.choices is not None
        boxes = "".join(f'<span class="box"></span>({html.escape(k)})' for k in inst.choices)
        return f'<p class="answer"><strong>Answer:</strong>{boxes}</p>'
    return (f'<p class="answer"><strong>Answer:</strong> write the function '
            f'<code>{html.escape(inst.function or "")}</code> in your notebook.</p>')


def handout_html(spec: AssignmentSpec, student: Student,
                 instances: list[bank.ExerciseInstance]) -> str:
    """The printable handout of one student: every question with space for the answer."""
    if len(instances) != len(spec.questions):
        raise ValueError(f"expected {len(spec.questions)} instances (one per question), "
                         f"got {len(instances)}")
    esc = html.escape
    due = f" · due {esc(spec.due)}" if spec.due else ""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{esc(spec.title)}: {esc(student.display_name)}</title>",
             f"<style>{_CSS}</style>", "</head>", "<body>",
             f"<header><h1>{esc(spec.title)}</h1>"
             f'<p class="meta"><strong>{esc(student.display_name)}</strong> '
             f"(<code>{esc(student.id)}</code>){due} · {points_label(spec.total_points)}</p>"
             "<p>Your numbers are different from every other student's. Hand in your answers "
             f"in the notebook <code>{esc(spec.name)}.ipynb</code> that came with this sheet."
             "</p></header>"]
    for q, inst in zip(spec.questions, instances):
        body = inst.prompt
        if inst.choices:
            body += "\n\n" + "\n".join(f"- **({k})** {v}" for k, v in inst.choices.items())
        if inst.answer_type == "code" and inst.starter:
            body += "\n\n```python\n" + inst.starter.strip() + "\n```"
        parts.append(f'<section class="question" id="{esc(q.key)}">'
                     f"<h2>Question {q.number}: {esc(inst.title)} "
                     f'<span class="points">({points_label(q.points)})</span></h2>'
                     + markdown_to_html(body) + _answer_area(inst)
                     + "</section>")
    parts += [f"<footer>{esc(spec.title)} · {esc(student.id)}</footer>", "</body>", "</html>", ""]
    return "\n".join(parts)


def print_pdf(html_path: str | Path, pdf_path: str | Path, chromium: str = CHROMIUM,
              timeout: float = 60.0) -> Path:
    """Print an HTML handout to PDF with headless Chromium; returns ``pdf_path``.

    Raises ``FileNotFoundError`` if Chromium is missing and ``RuntimeError`` if it fails.
    """
    exe = shutil.which(chromium)
    if exe is None:
        raise FileNotFoundError(f"Chromium not found at {chromium!r}; PDFs need headless Chromium")
    src, dst = Path(html_path).resolve(), Path(pdf_path).resolve()
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
           f"--print-to-pdf={dst}", src.as_uri()]
    res = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if res.returncode != 0 or not dst.is_file():
        raise RuntimeError(f"Chromium could not print {src} (exit {res.returncode}): "
                           f"{res.stderr.decode(errors='replace')[-300:]}")
    return dst
