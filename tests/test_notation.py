"""The notation page covers the book, and the book's Markdown tables cannot be broken by a bar.

Every symbol in the math of every chapter (prose, equations, and the exercises the chapter shows
with seed 0) must appear in the math of ``book/notation.md``, the registry of the book's symbols.
A symbol here is a Latin letter, a Greek letter or another TeX command that is not an operator or
a layout command, or a decorated letter such as ``\\hat y`` or ``\\mathcal B``. Words set in
``\\text``, ``\\mathrm`` or ``\\operatorname`` are not symbols. The check is deliberately coarse (a
subscript's letters count as symbols too), so it cannot tell two meanings of one letter apart;
what it does catch is a letter or a Greek symbol that a chapter uses and the page never
mentions, which is how new clashes start.

A bar inside a Markdown table splits the cell (``|x|``) or is unescaped to a single bar
(``\\|`` becomes ``|``: "KL(p|q)"); a code cell that builds a table header with one is caught here
before the browser test sees the broken page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dlnotes import exercises

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOT_CHAPTERS = {"intro", "notation", "api", "api-optimization", "api-networks", "api-tools", "bibliography"}

# TeX commands that are operators, functions, spacing or layout, not symbols of the book
NON_SYMBOL = set("""
frac tfrac dfrac sqrt log exp max min cos sin tanh cosh sinh lim sum prod int left right big Big
bigg Bigg bigl bigr Bigl Bigr biggl biggr quad qquad cdot cdots ldots dots dotsb le leq ge geq ne
neq approx to infty in notin pm mp leftarrow rightarrow Rightarrow Leftarrow longrightarrow mapsto
lfloor rfloor lceil rceil lvert rvert lVert rVert Vert vert top mathbb mathcal hat tilde bar
underbrace overbrace overline underline widehat widetilde sim simeq mid partial nabla times gg ll
not cases aligned align begin end displaystyle textstyle text mathrm operatorname texttt mathbf
boldsymbol KL label tag nonumber circ star ast prime langle rangle equiv propto forall exists
subset subseteq cup cap setminus emptyset colon vdots ddots pmatrix bmatrix matrix limits cdotp
enspace hspace vspace phantom substack det arg sup inf Pr
""".split())
# Pr is an operator in TeX, but the book uses it as a symbol: it must be on the page
NON_SYMBOL.discard("Pr")
DECORATIONS = ("hat", "tilde", "bar", "mathcal", "mathbb", "boldsymbol", "mathbf", "widehat",
               "widetilde", "overline")


def math_spans(markdown: str) -> list[str]:
    """The TeX of every ``$...$`` and ``$$...$$`` outside code cells, code blocks and code spans."""
    md = re.sub(r"```\{code-cell\}.*?```", "", markdown, flags=re.S)
    md = re.sub(r"```.*?```", "", md, flags=re.S)
    md = re.sub(r"`[^`\n]*`", "", md)
    spans = [m.group(1) for m in re.finditer(r"\$\$(.*?)\$\$", md, flags=re.S)]
    md = re.sub(r"\$\$.*?\$\$", " ", md, flags=re.S)
    # inline math may wrap onto the next line, but never spans a blank line
    spans += re.findall(r"(?<!\\)\$((?:[^$\n]|\n(?!\s*\n))+?)(?<!\\)\$", md)
    return spans


def _drop_braced(tex: str, command: str) -> str:
    """``tex`` without every ``\\command{...}`` (nested braces included)."""
    pattern = re.compile(r"\\" + command + r"\s*\{")
    while (m := pattern.search(tex)) is not None:
        depth, j = 1, m.end()
        while j < len(tex) and depth:
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            j += 1
        tex = tex[:m.start()] + " " + tex[j:]
    return tex


def symbols(tex: str) -> set[str]:
    """The symbols of one TeX formula (see the module docstring)."""
    tex = re.sub(r"\\\\\s*\[[^\]]*\]", " ", tex)        # line breaks with extra space, \\[2pt]
    tex = re.sub(r"\\[,;:!> ]", " ", tex)                # thin and negative spaces
    for command in ("text", "mathrm", "operatorname", "texttt", "label", "tag", "begin", "end",
                    "hspace", "vspace"):
        tex = _drop_braced(tex, command)
    found = set()
    decorated = re.compile(r"\\(" + "|".join(DECORATIONS) + r")\s*(?:\{\s*(\\?[A-Za-z]+)\s*\}|(\\[A-Za-z]+|[A-Za-z]))")
    for m in decorated.finditer(tex):
        found.add(f"\\{m.group(1)}{{{m.group(2) or m.group(3)}}}")
    tex = decorated.sub(" ", tex)
    for m in re.finditer(r"\\([A-Za-z]+)|([A-Za-z])", tex):
        if m.group(1) is None:
            found.add(m.group(2))
        elif m.group(1) not in NON_SYMBOL:
            found.add("\\" + m.group(1))
    return found


def chapters() -> list[str]:
    """Every chapter of ``_toc.yml`` (without the front and back matter)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return [Path(f).name for f in files if Path(f).name not in NOT_CHAPTERS]


def chapter_symbols(name: str) -> set[str]:
    found = set()
    for span in math_spans((BOOK / f"{name}.md").read_text(encoding="utf-8")):
        found |= symbols(span)
    try:
        shown = exercises.show(chapter=name, seed=0)._repr_markdown_()
    except KeyError:                                    # a chapter without exercises
        shown = ""
    for span in math_spans(shown):
        found |= symbols(span)
    return found


def notation_symbols() -> set[str]:
    found = set()
    for span in math_spans((BOOK / "notation.md").read_text(encoding="utf-8")):
        found |= symbols(span)
    return found


# ------------------------------------------------------------------ the extraction itself

def test_symbols_are_letters_greek_and_decorated_letters_but_not_words_or_operators():
    tex = r"\hat m_{t+1} = \frac{m_{t+1}}{1 - \beta_1^{t+1}}, \quad \mathcal B_t, \text{step} \log x"
    assert symbols(tex) == {r"\hat{m}", "m", "t", r"\beta", r"\mathcal{B}", "x"}
    assert symbols(r"\mathrm{KL}(P\,\Vert\,Q) + \operatorname{sign}(z)") == {"P", "Q", "z"}
    assert symbols(r"\begin{cases} a & b \\[2pt] c \end{cases}") == {"a", "b", "c"}
    assert symbols(r"\hat{y}_{ij} \lvert d\rvert") == {r"\hat{y}", "i", "j", "d"}


def test_math_spans_skip_code_and_pair_dollars_across_a_line_break():
    md = ("text $a +\nb$ and `$not math$`\n\n```{code-cell} ipython3\nx = '$c$'\n```\n\n"
          "$$\nd = e\n$$ (eq-x)\n\nalone $f$")
    assert sorted(math_spans(md)) == sorted(["a +\nb", "\nd = e\n", "f"])


def test_the_six_chapters_are_in_the_table_of_contents():
    assert {"losses", "regularization", "gradient-descent", "momentum", "adaptive",
            "schedules"} <= set(chapters())


# ------------------------------------------------------------------ coverage

@pytest.mark.parametrize("name", chapters())
def test_every_symbol_of_the_chapter_is_on_the_notation_page(name):
    missing = chapter_symbols(name) - notation_symbols()
    assert not missing, (f"book/{name}.md (or its exercises) uses {sorted(missing)}, which "
                         "book/notation.md does not list: add them to the notation page (one "
                         "meaning each, checked against the whole page), or use the symbol the "
                         "page already has for that meaning")


def test_the_notation_page_has_one_section_per_part_and_the_conventions():
    text = (BOOK / "notation.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings[0] == "Conventions"
    assert "Part I: What we minimise" in headings and "Part II: How we minimise" in headings


# ------------------------------------------------------------------ bars in table headers

def _code_cells(markdown: str) -> list[str]:
    return re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", markdown, flags=re.S)


@pytest.mark.parametrize("name", chapters())
def test_no_code_cell_puts_a_bar_into_the_math_of_a_string(name):
    # Strings with math are table headers and cells: a "|" in them breaks the Markdown table.
    bad = []
    for cell in _code_cells((BOOK / f"{name}.md").read_text(encoding="utf-8")):
        for literal in re.findall(r"""(?:r|f|rf|fr)?("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')""", cell):
            for span in re.findall(r"\$([^$]*)\$", literal):
                if "|" in span:
                    bad.append(span)
    assert not bad, (f"book/{name}.md builds table text with a bar in its math: {bad}; write "
                     r"\lvert x\rvert for |x| and \Vert or \lVert ... \rVert for a norm")


@pytest.mark.parametrize("name", chapters())
def test_the_exercise_tables_of_the_chapter_have_no_bar_in_their_math(name):
    try:
        shown = exercises.show(chapter=name, seed=0)._repr_markdown_()
    except KeyError:
        pytest.skip(f"{name} has no exercises")
    rows = [line for line in shown.splitlines() if line.lstrip().startswith("|")]
    bad = [span for row in rows for span in re.findall(r"\$([^$]*)\$", row) if "|" in span]
    assert not bad, bad
