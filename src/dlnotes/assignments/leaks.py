"""The leak check: does any file meant for a student give away an answer?

Each student file is scanned for

* **solution values** as they would be printed: ``repr``, fixed decimals (1-8) and
  significant figures (2-10), with and without the sign (MathML writes the minus sign
  apart from the digits). A printed form is only looked for when it says something:
  at least two significant digits for decimals (or any non-zero value below 0.01), at
  least three digits for integers, and not one of the numbers the student's own
  prompts show (a solution may equal a number in the question);
* **solution code**: the lines of a reference implementation that the starter code and
  prompt do not already contain, and the ``== "b"`` test of a multiple-choice key;
* **secrets**: the assignment seed and the student's variant seed, which with the public
  bank regenerate every answer;
* **markers**: ``BEGIN SOLUTION``, ``END SOLUTION``, ``HIDDEN TEST(S)``, and the word
  "solution" more often than the student's own prompts use it.

In a notebook only what a person or program can see is scanned: cell sources, outputs,
attachments and metadata, except nbgrader's fixed cell metadata (whose ``"solution":
true`` key is part of the format). HTML is scanned as text. PDFs are printed from the
scanned HTML and are not parsed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from .. import exercises as bank

__all__ = ["Leak", "LeakSecrets", "LeakError", "number_tokens", "secrets_for", "visible_text",
           "scan_text", "scan_file"]

_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TEST")
_SOLUTION_WORD = re.compile(r"\bsolutions?\b", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
# A whole printed number: not part of a word ("q12"), of a longer number ("10.45"), or
# followed by more digits after a dot ("0.45" in "0.456").
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w]|\.\d)")
_MIN_CODE_LINE = 12
_STYLE = re.compile(r"<style>.*?</style>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Leak:
    """One leak found in one file."""

    path: str
    kind: str          # "marker", "solution value", "solution code", "seed"
    what: str          # which question or secret
    found: str         # the text found
    context: str       # up to 60 characters around it

    def __str__(self) -> str:
        return f"{self.path}: {self.kind} of {self.what} {self.found!r} in ...{self.context}..."


class LeakError(RuntimeError):
    """Generation found answers in student files; ``leaks`` lists them."""

    def __init__(self, leaks: list[Leak]):
        self.leaks = leaks
        shown = "\n".join(f"  {leak}" for leak in leaks[:20])
        more = f"\n  ... and {len(leaks) - 20} more" if len(leaks) > 20 else ""
        super().__init__(f"{len(leaks)} leak(s) in student files; nothing was written:\n"
                         f"{shown}{more}")


@dataclass
class LeakSecrets:
    """What must not appear in one student's files.

    ``numbers`` and ``snippets`` map each text to what it reveals (e.g. ``"q2"``);
    ``solution_words`` is how often the word "solution" may appear (as often as the
    student's own prompts use it).
    """

    numbers: dict[str, str] = field(default_factory=dict)
    snippets: dict[str, str] = field(default_factory=dict)
    solution_words: int = 0


def _significant(token: str) -> tuple[int, bool]:
    """(number of significant digits, is it written as a decimal) of a printed number."""
    mantissa = token.lstrip("-").lower().split("e")[0]
    if "." in mantissa or "e" in token.lower():
        return len(mantissa.replace(".", "").lstrip("0").rstrip("0")), True
    return len(mantissa.lstrip("0")) or 1, False


def number_tokens(x: float) -> set[str]:
    """Distinctive printed forms of ``x`` (see the module docstring for which count)."""
    x = float(x)
    if not math.isfinite(x):
        return set()
    forms = {repr(x), str(x), f"{x:g}"}
    forms |= {f"{x:.{d}f}" for d in range(1, 9)}
    forms |= {f"{x:.{p}g}" for p in range(2, 11)}
    forms |= {f.rstrip("0").rstrip(".") for f in list(forms) if "." in f and "e" not in f}
    forms |= {f.lstrip("-") for f in list(forms)}
    tiny = 0 < abs(x) < 0.01
    out = set()
    for f in forms:
        if not f or f in {"-", "0", "-0"}:
            continue
        sig, decimal = _significant(f)
        if (decimal and (sig >= 2 or (tiny and sig >= 1))) or (not decimal and sig >= 3):
            out.add(f)
    return out


def _public_text(inst: bank.ExerciseInstance) -> str:
    # A code question's first test input is printed in the student's form-check cell, so its
    # numbers are public: an answer to another question that happens to equal one of them
    # is not revealed by it.
    shown = repr(inst.tests[0][0]) if inst.answer_type == "code" and inst.tests else ""
    return "\n".join([inst.prompt, *(inst.choices or {}).values(), inst.starter or "",
                      inst.title, shown])


def secrets_for(instances: Iterable[bank.ExerciseInstance], keys: Iterable[str],
                seeds: Iterable[int] = ()) -> LeakSecrets:
    """The secrets of one student: solutions of their ``instances`` (named by ``keys``),
    and the ``seeds`` (assignment and variant seed) that regenerate them."""
    instances = list(instances)
    public = "\n".join(_public_text(i) for i in instances)
    public_numbers = set(_NUMBER.findall(public)) | {n.lstrip("-") for n in _NUMBER.findall(public)}
    s = LeakSecrets(solution_words=len(_SOLUTION_WORD.findall(public)))
    for key, inst in zip(keys, instances):
        values: list[float] = []
        if inst.answer_type == "numeric":
            values = [float(v) for v in np.ravel(np.asarray(inst.answer, dtype=float))]
        elif inst.answer_type == "code":
            for _, expected in inst.tests or []:
                values += [float(v) for v in np.ravel(np.asarray(expected, dtype=float))]
            for line in str(inst.solution).splitlines():
                line = line.strip()
                if len(line) >= _MIN_CODE_LINE and line not in public:
                    s.snippets[line] = key
        else:
            assert inst.choices is not None
            for quote in ("'", '"'):
                s.snippets[f"== {quote}{inst.solution}{quote}"] = key
            # the instructor version's test: the right key with its option text
            s.snippets[repr((inst.solution, inst.choices[inst.solution].strip().lower()))] = key
        for v in values:
            for tok in number_tokens(v) - public_numbers:
                s.numbers.setdefault(tok, key)
    for seed in seeds:
        if seed >= 1000:       # a 3-digit seed is guessable anyway; see spec.GUESSABLE_SEED
            s.numbers[str(int(seed))] = "a seed"
        if seed >= 2 ** 32:    # shorter hex strings turn up by chance in checksums
            s.snippets[f"{int(seed):x}"] = "a seed (hex)"
    return s


def visible_text(notebook_json: str) -> str:
    """The text of a notebook a person or program can see, without nbgrader's fixed metadata.

    Raises ``ValueError`` if ``notebook_json`` is not JSON.
    """
    nb = json.loads(notebook_json)
    parts: list[str] = [json.dumps(nb.get("metadata", {}), sort_keys=True)]
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        parts.append("".join(src) if isinstance(src, list) else str(src))
        meta = dict(cell.get("metadata", {}))
        grader = meta.pop("nbgrader", None)
        if isinstance(grader, dict) and "grade_id" in grader:
            parts.append(str(grader["grade_id"]))
        parts.append(json.dumps(meta, sort_keys=True))
        for key in ("outputs", "attachments"):
            if cell.get(key):
                parts.append(json.dumps(cell[key], sort_keys=True))
    return "\n".join(parts)


def _context(text: str, start: int, end: int) -> str:
    return text[max(0, start - 30):end + 30].replace("\n", " ")


def scan_text(text: str, secrets: LeakSecrets, path: str = "<text>") -> list[Leak]:
    """Every leak of ``secrets`` in ``text`` (``path`` names the file in the report)."""
    leaks: list[Leak] = []
    upper = text.upper()
    for marker in _MARKERS:
        i = upper.find(marker)
        if i >= 0:
            leaks.append(Leak(path, "marker", "an nbgrader hidden region", text[i:i + len(marker)],
                              _context(text, i, i + len(marker))))
    words = list(_SOLUTION_WORD.finditer(text))
    if len(words) > secrets.solution_words:
        m = words[-1]
        leaks.append(Leak(path, "marker", f"the word used {len(words)} times", m.group(),
                          _context(text, m.start(), m.end())))
    if secrets.numbers:
        for m in _NUMBER_IN_TEXT.finditer(text):
            tok = m.group()
            what = secrets.numbers.get(tok) or secrets.numbers.get(tok.lstrip("-"))
            if what is not None:
                kind = "seed" if what.startswith("a seed") else "solution value"
                leaks.append(Leak(path, kind, what, tok, _context(text, m.start(), m.end())))
    for snippet, what in secrets.snippets.items():
        i = text.find(snippet)
        if i >= 0:
            kind = "seed" if what.startswith("a seed") else "solution code"
            if kind == "seed" and re.search(r"[0-9a-f]", text[max(0, i - 1):i] + text[i + len(snippet):i + len(snippet) + 1]):
                continue        # part of a longer hex string (a checksum), not the seed
            leaks.append(Leak(path, kind, what, snippet, _context(text, i, i + len(snippet))))
    return leaks


def scan_file(path: str | Path, secrets: LeakSecrets, label: str | None = None) -> list[Leak]:
    """Leaks in one student file (``.ipynb`` by its visible text, others as UTF-8 text).

    A PDF is not parsed (it is printed from the HTML next to it). A notebook that is not
    JSON is reported as a leak of kind ``"unreadable"``, since it cannot be checked.
    """
    p = Path(path)
    name = label or str(p)
    if p.suffix.lower() == ".pdf":
        return []
    text = p.read_text(encoding="utf-8", errors="replace")
    if p.suffix.lower() in (".html", ".htm"):
        # The style sheet is the same for every student (unitless numbers in it, like a
        # line height, would otherwise look like printed answers).
        text = _STYLE.sub("<style></style>", text)
    if p.suffix.lower() == ".ipynb":
        try:
            text = visible_text(text)
        except ValueError as exc:
            return [Leak(name, "unreadable", "the notebook", str(exc)[:60], "")]
    return scan_text(text, secrets, name)
