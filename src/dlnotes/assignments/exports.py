"""What grading writes for other programs and people: safe CSV cells, the Canvas
gradebook file, the per-question report, and scrubbed feedback text.

CSV cells that a spreadsheet would run as a formula (a value starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return, as OWASP's CSV-injection advice lists) are
written with a leading ``'`` unless they are plain numbers, so a student named
``=HYPERLINK(...)`` stays text in Excel, LibreOffice and Google Sheets while ``-0.5``
stays a number.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from typing import Any, Iterable, Sequence

__all__ = ["csv_cell", "csv_text", "markdown_text", "scrub", "canvas_csv", "question_report",
           "report_markdown", "CANVAS_COLUMNS"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
#: Canvas's gradebook import: identity columns, then one column per assignment.
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s'\"/:,;()\[\]{}<>]+/)*[^\s'\"/:,;()\[\]{}<>]+")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~$])")


def csv_cell(value: Any) -> str:
    """``value`` as a CSV cell that no spreadsheet evaluates as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (``\\n`` line ends, minimal quoting) with every cell made safe."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


def markdown_text(text: str) -> str:
    """Plain text for Markdown (Jupyter, GitHub): HTML and Markdown syntax escaped, one line."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Feedback text without absolute paths (``<path>``) or any of ``secrets``."""
    out = _PATH.sub("<path>", str(text))
    for s in secrets:
        if s and len(s) >= 4:
            out = out.replace(s, "<hidden>")
    return out


def canvas_csv(title: str, points: float, rows: Sequence[dict]) -> str:
    """Canvas's gradebook import CSV for one assignment.

    ``rows`` hold ``name``, ``canvas_id``, ``sis_user_id``, ``sis_login_id``, ``section``
    and ``score`` (None for no grade). The second line is Canvas's "Points Possible" row.
    """
    lines: list[list[Any]] = [[*CANVAS_COLUMNS, title],
                              ["Points Possible", "", "", "", "", f"{points:g}"]]
    for r in rows:
        score = r.get("score")
        lines.append([r.get("name", ""), r.get("canvas_id", ""), r.get("sis_user_id", ""),
                      r.get("sis_login_id", ""), r.get("section", ""),
                      "" if score is None else f"{score:g}"])
    return csv_text(lines)


def question_report(questions: Sequence[dict], results: Sequence[dict], top: int = 5) -> list[dict]:
    """Per question: graded count, mean, score distribution, most common wrong answers.

    ``questions`` hold ``key``, ``exercise_id``, ``title``, ``points``; ``results`` are the
    graded students' question results (``key``, ``score``, ``correct``, ``answer``).
    """
    report = []
    for q in questions:
        mine = [r for r in results if r["key"] == q["key"]]
        scores = [float(r["score"]) for r in mine]
        wrong = Counter(r.get("answer") or "(no answer)" for r in mine if not r["correct"])
        report.append({
            "key": q["key"], "exercise_id": q["exercise_id"], "title": q["title"],
            "points": q["points"], "graded": len(mine),
            "mean": round(sum(scores) / len(scores), 4) if scores else None,
            "full_marks": sum(1 for r in mine if r["correct"]),
            "distribution": {f"{s:g}": n for s, n in sorted(Counter(scores).items())},
            "wrong_answers": [{"answer": a, "count": n} for a, n in wrong.most_common(top)],
        })
    return report


def report_markdown(title: str, report: Sequence[dict]) -> str:
    """The per-question report as Markdown, for the instructor."""
    lines = [f"# {markdown_text(title)}: report by question", ""]
    for q in report:
        mean = "n/a" if q["mean"] is None else f"{q['mean']:g}"
        lines += [f"## {q['key']}: {markdown_text(q['title'])} (`{q['exercise_id']}`, "
                  f"{q['points']:g} points)", "",
                  f"Graded: {q['graded']}; mean {mean} of {q['points']:g}; full marks: "
                  f"{q['full_marks']}.", "", "| score | students |", "|---:|---:|"]
        lines += [f"| {s} | {n} |" for s, n in q["distribution"].items()]
        lines.append("")
        if q["wrong_answers"]:
            lines += ["Most common wrong answers:", ""]
            lines += [f"- {markdown_text(w['answer'])} ({w['count']})" for w in q["wrong_answers"]]
            lines.append("")
    return "\n".join(lines)
