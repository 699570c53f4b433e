"""Batch grading of submitted notebooks (or an answers CSV) against regenerated variants.

For every student the grader regenerates that student's instances from the manifest's
seed (it never reads the answer key), runs the student's answer cells in a sandboxed
child process (:mod:`.sandbox`), and grades what comes back with the bank's own graders
(:meth:`ExerciseInstance.check`). Code answers are graded from the outputs the child
computed on the test inputs; the expected outputs never leave this process.

Nothing a student submits can stop the batch: a malformed notebook, a wrong or unknown
student id, a missing answer cell, an infinite loop or a huge allocation each become a
recorded status or reason and a score (usually 0) for what it affected. Student code runs
only in the bubblewrap sandbox (:mod:`.sandbox`); if it cannot be used, :func:`grade`
refuses unless asked for ``unsafe_no_sandbox=True``, which every row then records.

Submissions folder layout: ``<student_id>.ipynb``, or ``<student_id>/<any>.ipynb`` (also
deeper, as in nbgrader's ``submitted/<student_id>/<assignment>/<name>.ipynb``).
Answers CSV: a header ``student_id,q1,q2,...`` and one row per student; code answers are
the function's source.

Outputs (each written atomically: a temporary file, then ``os.replace``)::

    OUT/grades.csv            one row per student: status, points per question, total, notes
    OUT/grades.json           the same with every question's feedback and answer summary
    OUT/feedback/<id>.md      what the student sees: score and one line per question
    OUT/canvas.csv            Canvas's gradebook import format (one assignment column)
    OUT/report.md, .json      per question: score distribution, mean, common wrong answers

Regrading (``students=`` and/or ``questions=``) re-runs only those students' notebooks
and replaces only those questions in the existing ``grades.json``; everything else is
kept as it was, and every file above is rewritten from the merged results.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import nbformat
import numpy as np

from .. import exercises as bank
from .exports import (canvas_csv, csv_text, markdown_text, question_report, report_markdown,
                      scrub)
from .generate import Assignment, load_assignment
from .notebook import SETUP_SOURCE, answer_grade_id, answer_variable
from .roster import Student
from .sandbox import (Cell, CellResult, Isolation, Limits, SandboxError, begin_run, bubblewrap,
                      cleanup_on_signals, run_cells)
from .sandbox import unsafe_no_sandbox as _unsandboxed
from .spec import Question
from .variants import fingerprint, student_instances, student_seed

__all__ = ["QuestionResult", "StudentResult", "GradeReport", "Limits", "grade",
           "grade_notebook", "grade_answers", "find_submissions", "read_answers_csv",
           "STATUSES"]

#: Every status a student's row can have.
STATUSES = ("graded", "no submission", "unreadable", "wrong student", "wrong assignment",
            "unknown student", "duplicate", "error")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Largest submitted notebook read (bytes); a bigger file is "unreadable", not loaded.
MAX_NOTEBOOK_BYTES = 50 << 20
#: The note every row gets when student code ran without the OS sandbox.
UNSAFE_NOTE = "graded WITHOUT the OS sandbox (--unsafe-no-sandbox)"


@dataclass(frozen=True)
class QuestionResult:
    """The grade of one question: ``score`` of ``points``, one sentence of feedback, and a
    short summary of the answer given (for the instructor's report, never the solution)."""

    key: str
    exercise_id: str
    score: float
    points: float
    correct: bool
    feedback: str
    answer: str = ""


@dataclass
class StudentResult:
    """One row of the grades: a roster student (or an unknown id found in the submissions).

    ``status`` is one of ``STATUSES``; ``notes`` explains anything but a plain
    "graded"; ``seconds`` is the time the student's own code ran.
    """

    student_id: str
    name: str
    email: str
    status: str
    questions: list[QuestionResult]
    submission: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        """Points awarded, summed over the questions."""
        return round(sum(q.score for q in self.questions), 6)

    @property
    def possible(self) -> float:
        """Points possible."""
        return round(sum(q.points for q in self.questions), 6)


@dataclass
class GradeReport:
    """What :func:`grade` wrote: the results in roster order and the files."""

    results: list[StudentResult]
    grades_csv: Path
    grades_json: Path
    feedback_dir: Path
    seconds: float = 0.0         # wall time of the batch

    def by_id(self, student_id: str) -> StudentResult:
        """The result row of ``student_id`` (KeyError if there is none)."""
        for r in self.results:
            if r.student_id == student_id:
                return r
        raise KeyError(student_id)


# ----------------------------------------------------------------- one question

class _Outputs:
    """Stands in for a student's function inside :meth:`ExerciseInstance.check`: returns,
    call by call, what the real function returned in the sandbox (or raises its error)."""

    def __init__(self, outputs: list[dict]):
        self._it = iter(outputs)

    def __call__(self, *args):
        out = next(self._it, {"type": "error", "value": "RuntimeError: no output"})
        if out.get("type") == "array":
            return np.asarray(out["value"], dtype=float)
        if out.get("type") == "too_large":
            raise ValueError(f"the output has {out.get('size')} numbers")
        name, _, msg = str(out.get("value", "error")).partition(": ")
        name = name if name.isidentifier() else "Error"
        # The student's exception, by name, so the feedback reads "TypeError: ...".
        raise type(name, (Exception,), {})(msg)


def _zero(q: Question, feedback: str, answer: str = "") -> QuestionResult:
    return QuestionResult(q.key, q.exercise_id, 0.0, q.points, False, feedback, answer)


def _scaled(q: Question, g: bank.Grade, answer: str = "") -> QuestionResult:
    # The spec may override the bank's points: keep the fraction the grader awarded.
    score = round(q.points * (g.score / g.points), 6) if g.points else 0.0
    return QuestionResult(q.key, q.exercise_id, score, q.points, g.correct, g.feedback, answer)


def _summary(inst: bank.ExerciseInstance, value: Any, g: bank.Grade | None = None) -> str:
    """A short, comparable form of an answer for the report ("0.3333, 1.2", "b", ...)."""
    if inst.answer_type == "code":
        return (g.feedback.split(".")[0] if g is not None else "").strip()[:60]
    if value is None or (isinstance(value, str) and not value.strip()):
        return "(no answer)"
    if inst.answer_type == "choice":
        return str(value).strip().lower()[:40]
    try:
        nums = np.ravel(np.asarray(value, dtype=float))
        return ", ".join(f"{v:.4g}" for v in nums[:8]) + (", ..." if nums.size > 8 else "")
    except (TypeError, ValueError):
        return str(value).strip()[:40]


def _answer_value(answer: dict | None) -> Any:
    if not answer or answer.get("type") == "none":
        return None
    if answer.get("type") == "too_large":
        return "many numbers"       # the grader says it cannot read a number
    return answer.get("value")


def _grade_result(q: Question, inst: bank.ExerciseInstance, res: CellResult) -> QuestionResult:
    if not res.ok:
        return _zero(q, f"Your answer cell did not run: {res.error}",
                     "error: " + res.error.split(":")[0][:40])
    if inst.answer_type == "code":
        g = inst.check(_Outputs(res.outputs or []), reveal=False)
        return _scaled(q, g, _summary(inst, None, g))
    value = _answer_value(res.answer)
    if inst.answer_type == "choice" and isinstance(value, (list, float, int)):
        value = str(value)
    if res.answer and res.answer.get("type") == "too_large":
        return _zero(q, f"Expected {int(np.size(inst.answer))} number(s), got "
                        f"{res.answer.get('size')}.", f"{res.answer.get('size')} numbers")
    return _scaled(q, inst.check(value, reveal=False), _summary(inst, value))


# ----------------------------------------------------------------- one notebook

def _answer_cells(nb: Any, questions: Sequence[Question]) -> tuple[dict[str, str], dict[str, str]]:
    """Sources of the answer cells by question key, and reasons for the ones not found."""
    found: dict[str, str] = {}
    problems: dict[str, str] = {}
    wanted = {answer_grade_id(q): q for q in questions}
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata") or {}
        grader = meta.get("nbgrader") if isinstance(meta, dict) else None
        gid = grader.get("grade_id") if isinstance(grader, dict) else None
        gid = gid if gid in wanted else (cell.get("id") if cell.get("id") in wanted else None)
        if gid is None or wanted[gid].key in found:
            continue
        q = wanted[gid]
        if cell.get("cell_type") != "code":
            problems[q.key] = f"the answer cell of question {q.number} is no longer a code cell"
            continue
        src = cell.get("source", "")
        found[q.key] = "".join(src) if isinstance(src, list) else str(src)
    for q in questions:
        if q.key not in found and q.key not in problems:
            problems[q.key] = (f"the answer cell of question {q.number} is missing "
                               "(deleted, or its metadata removed)")
    return found, problems


def _cells_for(questions: Sequence[Question], instances: Sequence[bank.ExerciseInstance],
               sources: dict[str, str]) -> list[Cell]:
    cells = []
    for q, inst in zip(questions, instances):
        if q.key not in sources or inst.is_unchanged_starter(sources[q.key]):
            continue
        if inst.answer_type == "code":
            cells.append(Cell(q.key, sources[q.key], "function", inst.function or "",
                              [tuple(args) for args, _ in inst.tests or []]))
        else:
            cells.append(Cell(q.key, sources[q.key], "value", answer_variable(q)))
    return cells


def grade_notebook(assignment: Assignment, student: Student, text: str | bytes,
                   limits: Limits = Limits(), deny: Sequence[str | Path] = (),
                   isolation: Isolation | None = None) -> StudentResult:
    """Grade one submitted notebook (its raw file content) as ``student``'s submission.

    Never raises for anything in ``text``: an unreadable notebook, another student's
    notebook, or a broken answer each give a status and reasons in the result. Student
    code runs in ``isolation`` (default: the bubblewrap sandbox).
    """
    spec = assignment.spec
    result = StudentResult(student.id, student.name, student.email, "graded",
                           [_zero(q, "Not graded.") for q in spec.questions])
    if len(text) > MAX_NOTEBOOK_BYTES:
        result.status = "unreadable"
        result.notes.append(f"the file is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
        return result
    try:
        raw = text.decode("utf-8") if isinstance(text, bytes) else text
        nb = nbformat.reads(raw, as_version=4)
    except UnicodeDecodeError:
        result.status = "unreadable"
        result.notes.append("the file is not UTF-8 text, so not a notebook")
        return result
    except Exception as exc:      # nbformat raises several kinds on broken JSON/schema
        result.status = "unreadable"
        result.notes.append(f"not a valid notebook: {str(exc).splitlines()[0][:200]}")
        return result
    meta = nb.get("metadata", {}).get("dlnotes", {})
    meta = meta if isinstance(meta, dict) else {}
    owner = meta.get("student_id")
    if owner is not None and owner != student.id:
        result.status = "wrong student"
        result.notes.append(f"this notebook was generated for {str(owner)[:40]!r}, not "
                            f"{student.id!r}; each student must submit their own notebook")
        return result
    if meta.get("assignment") not in (None, spec.name):
        result.status = "wrong assignment"
        result.notes.append(f"this notebook belongs to assignment {str(meta['assignment'])[:60]!r}, "
                            f"not {spec.name!r}")
        return result
    if owner is None:
        result.notes.append("the notebook has no dlnotes metadata (re-created or copied?); "
                            f"graded as {student.id}'s")
    instances = student_instances(spec, student.id, student.variant)
    sources, problems = _answer_cells(nb, spec.questions)
    cell_results = {r.key: r for r in run_cells(_cells_for(spec.questions, instances, sources),
                                                limits, prelude=SETUP_SOURCE, deny=deny,
                                                isolation=isolation)}
    result.seconds = sum(r.seconds for r in cell_results.values())
    graded = []
    for q, inst in zip(spec.questions, instances):
        if q.key in problems:
            graded.append(_zero(q, problems[q.key][0].upper() + problems[q.key][1:] + ".",
                                "(answer cell missing)"))
        elif inst.is_unchanged_starter(sources[q.key]):
            graded.append(_zero(q, "The starter code is unchanged.", "(no answer)"))
        else:
            graded.append(_grade_result(q, inst, cell_results[q.key]))
    result.questions = graded
    return result


def grade_answers(assignment: Assignment, student: Student, answers: dict[str, str],
                  limits: Limits = Limits(), deny: Sequence[str | Path] = (),
                  isolation: Isolation | None = None) -> StudentResult:
    """Grade one row of an answers CSV (question key -> answer text).

    Numbers and option keys are graded directly; code answers run in the sandbox.
    """
    spec = assignment.spec
    instances = student_instances(spec, student.id, student.variant)
    code = {q.key: answers[q.key] for q, inst in zip(spec.questions, instances)
            if inst.answer_type == "code" and answers.get(q.key, "").strip()}
    ran = {r.key: r for r in run_cells(_cells_for(spec.questions, instances, code), limits,
                                       prelude=SETUP_SOURCE, deny=deny,
                                       isolation=isolation)} if code else {}
    graded = []
    for q, inst in zip(spec.questions, instances):
        text = answers.get(q.key, "")
        if inst.answer_type == "code":
            if q.key in ran:
                graded.append(_grade_result(q, inst, ran[q.key]))
            elif inst.is_unchanged_starter(text):
                graded.append(_zero(q, "The starter code is unchanged.", "(no answer)"))
            else:
                graded.append(_zero(q, "No answer given.", "(no answer)"))
        else:
            value = text if text.strip() else None
            graded.append(_scaled(q, inst.check(value, reveal=False), _summary(inst, value)))
    return StudentResult(student.id, student.name, student.email, "graded", graded,
                         seconds=sum(r.seconds for r in ran.values()))


# ----------------------------------------------------------------- the batch

def _read_capped(path: Path) -> bytes:
    """The file's bytes, but at most one byte past :data:`MAX_NOTEBOOK_BYTES`."""
    with path.open("rb") as fh:
        return fh.read(MAX_NOTEBOOK_BYTES + 1)


def _guarded(assignment: Assignment, student: Student,
             task: Callable[[], StudentResult]) -> StudentResult:
    """Run one student's grading; an unexpected error becomes that student's status.

    A failure of the sandbox itself (:class:`SandboxError`) still stops the batch: it
    would fail every student alike and must not become a column of zeros.
    """
    try:
        return task()
    except SandboxError:
        raise
    except Exception as exc:       # a bug or an input nobody foresaw: keep the batch going
        return StudentResult(student.id, student.name, student.email, "error",
                             [_zero(q, "Not graded.") for q in assignment.spec.questions],
                             notes=[f"internal error while grading: {type(exc).__name__}: {exc}"])


def find_submissions(folder: str | Path) -> dict[str, list[Path]]:
    """Submitted notebooks under ``folder`` by the student id their path names.

    ``<id>.ipynb`` directly in the folder, or anything under ``<id>/``; Jupyter's
    ``.ipynb_checkpoints`` folders are skipped.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder {root} does not exist")
    found: dict[str, list[Path]] = {}
    for p in sorted(root.rglob("*.ipynb")):
        rel = p.relative_to(root)
        if ".ipynb_checkpoints" in rel.parts or not p.is_file():
            continue
        sid = rel.parts[0] if len(rel.parts) > 1 else p.stem
        found.setdefault(sid, []).append(p)
    return found


def read_answers_csv(path: str | Path, questions: Sequence[Question]) -> list[tuple[int, str, dict[str, str]]]:
    """Rows of an answers CSV as ``(line, student_id, {key: text})``.

    Raises ``ValueError`` naming the line for a file that is not UTF-8, has no
    ``student_id`` column, names unknown questions, or has a row with the wrong number of
    fields or no student id.
    """
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not UTF-8 (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, str, dict[str, str]]] = []
    header: list[str] | None = None
    keys = {q.key for q in questions}
    end = 0
    for row in reader:
        # a quoted code answer spans several lines: name the line the row starts on
        n, end = end + 1, reader.line_num
        if not any(c.strip() for c in row):
            continue
        if header is None:
            header = [c.strip() for c in row]
            if "student_id" not in header:
                raise ValueError(f"{p} line {n}: the header needs a student_id column")
            unknown = [h for h in header if h != "student_id" and h not in keys]
            if unknown:
                raise ValueError(f"{p} line {n}: unknown question column(s) {', '.join(unknown)}; "
                                 f"expected {', '.join(q.key for q in questions)}")
            continue
        if len(row) != len(header):
            raise ValueError(f"{p} line {n}: expected {len(header)} fields, got {len(row)}")
        values = dict(zip(header, row))
        sid = values.pop("student_id").strip()
        if not sid:
            raise ValueError(f"{p} line {n}: missing student id")
        rows.append((n, sid, values))
    if header is None:
        raise ValueError(f"{p}: the file is empty")
    return rows


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` is either the old file or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _feedback(title: str, r: StudentResult) -> str:
    lines = [f"# {markdown_text(title)}: feedback for {markdown_text(r.name or r.student_id)} "
             f"({r.student_id})", "",
             f"**Score: {r.total:g} / {r.possible:g} points**"
             + ("" if r.status == "graded" else f" ({r.status})"), ""]
    lines += [f"- {markdown_text(n)}" for n in r.notes]
    if r.notes:
        lines.append("")
    for q in r.questions:
        title = bank.get(q.exercise_id).title
        lines += [f"## Question {q.key[1:]}: {title} ({q.score:g} / {q.points:g})", "",
                  markdown_text(q.feedback), ""]
    return "\n".join(lines)


def _write_outputs(out: Path, a: Assignment, results: list[StudentResult],
                   canvas_name: str | None = None) -> GradeReport:
    spec = a.spec
    keys = [q.key for q in spec.questions]
    feedback_dir = out / "feedback"
    for r in results:
        if _SAFE_ID.match(r.student_id):
            _atomic_write(feedback_dir / f"{r.student_id}.md", _feedback(spec.title, r))
    data = [{"student_id": r.student_id, "name": r.name, "email": r.email, "status": r.status,
             "total": r.total, "possible": r.possible, "submission": r.submission,
             "notes": r.notes, "questions": [q.__dict__ for q in r.questions]} for r in results]
    _atomic_write(out / "grades.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    roster = {s.id: s for s in a.roster}
    canvas_rows = []
    for r in results:
        s = roster.get(r.student_id)
        if s is None:
            continue
        canvas_rows.append({"name": s.name or s.id, "canvas_id": s.canvas_id,
                            "sis_user_id": s.sis_user_id or s.id, "sis_login_id": s.sis_login_id,
                            "section": s.section,
                            "score": r.total if r.status in ("graded", "no submission",
                                                             "unreadable", "wrong student",
                                                             "wrong assignment", "duplicate")
                            else None})
    _atomic_write(out / "canvas.csv", canvas_csv(canvas_name or spec.title, spec.total_points,
                                                 canvas_rows))
    questions = [{"key": q.key, "exercise_id": q.exercise_id, "points": q.points,
                  "title": bank.get(q.exercise_id).title} for q in spec.questions]
    graded = [q.__dict__ for r in results if r.status == "graded" for q in r.questions]
    report = question_report(questions, graded)
    _atomic_write(out / "report.json", json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    _atomic_write(out / "report.md", report_markdown(spec.title, report))
    rows = [["student_id", "name", "email", "status", *keys, "total", "possible", "submission",
             "notes"]]
    for r in results:
        rows.append([r.student_id, r.name, r.email, r.status, *(f"{q.score:g}" for q in r.questions),
                     f"{r.total:g}", f"{r.possible:g}", r.submission, "; ".join(r.notes)])
    # Written last: a grades.csv that exists is always complete.
    _atomic_write(out / "grades.csv", csv_text(rows))
    return GradeReport(results, out / "grades.csv", out / "grades.json", feedback_dir)


def _check_variants(a: Assignment) -> None:
    changed = [s.id for s in a.roster
               if [fingerprint(i) for i in student_instances(a.spec, s.id, s.variant)]
               != a.fingerprints.get(s.id)]
    if changed:
        gen = a.manifest.get("generator", {})
        raise ValueError(
            f"the question bank now gives {len(changed)} student(s) ({', '.join(changed[:5])}"
            f"{', ...' if len(changed) > 5 else ''}) different numbers than when the set was "
            f"generated (dlnotes {gen.get('dlnotes')}, numpy {gen.get('numpy')}); grade with "
            "those versions")


def _scrubbed(a: Assignment, r: StudentResult) -> StudentResult:
    """The result with no path, seed or variant seed in any text a student sees."""
    student = a.student(r.student_id)
    secrets = [str(a.spec.seed)]
    if student is not None:
        secrets.append(str(student_seed(a.spec.seed, student.id, student.variant)))
    r.notes = [scrub(n, secrets) for n in r.notes]
    r.questions = [dataclasses.replace(q, feedback=scrub(q.feedback, secrets),
                                       answer=scrub(q.answer, secrets)) for q in r.questions]
    return r


def _load_previous(out: Path, a: Assignment) -> dict[str, StudentResult]:
    path = out / "grades.json"
    if not path.is_file():
        raise FileNotFoundError(f"nothing to regrade: {path} does not exist; grade every "
                                "submission first (without --student/--question)")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        previous = {}
        for row in rows:
            qs = [QuestionResult(**{k: q[k] for k in ("key", "exercise_id", "score", "points",
                                                       "correct", "feedback")},
                                 answer=q.get("answer", "")) for q in row["questions"]]
            previous[row["student_id"]] = StudentResult(
                row["student_id"], row["name"], row["email"], row["status"], qs,
                row.get("submission", ""), list(row.get("notes", [])))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a grades file written by dlnotes: {exc}") from None
    if any([q.key for q in r.questions] != [q.key for q in a.spec.questions]
           for r in previous.values()):
        raise ValueError(f"{path} holds other questions than {a.out_dir}; regrade into the "
                         "grades of this assignment")
    return previous


def grade(assignment_dir: str | Path, submissions: str | Path, out_dir: str | Path, *,
          limits: Limits = Limits(), jobs: int | None = None, force: bool = False,
          progress: bool = False, isolation: Isolation | None = None,
          unsafe_no_sandbox: bool = False, bwrap: str | None = None,
          students: Sequence[str] | None = None, questions: Sequence[str] | None = None,
          canvas_name: str | None = None) -> GradeReport:
    """Grade a folder of submitted notebooks, or an answers CSV, and write the grades.

    Parameters
    ----------
    assignment_dir : path
        The class set written by :func:`dlnotes.assignments.generate`.
    submissions : path
        A folder of notebooks (see the module docstring for the layout) or a ``.csv`` file.
    out_dir : path
        Where grades.csv, grades.json, feedback/, canvas.csv and report.* go; must not hold
        grades.csv unless ``force`` or regrading.
    limits : Limits
        Time and memory per answer cell and submission.
    jobs : int, optional
        Submissions graded at once (default: the number of CPUs, at most 4).
    progress : bool
        Show a progress bar.
    isolation : Isolation, optional
        How student code runs; default :func:`bubblewrap` (``bwrap`` names the
        executable), or unsandboxed if ``unsafe_no_sandbox``.
    students, questions : sequence of str, optional
        Regrade only these student ids and/or question keys ("q2"), keeping every other
        grade of the existing ``grades.json`` in ``out_dir``.
    canvas_name : str, optional
        The assignment column of canvas.csv (default: the assignment's title).

    Raises
    ------
    SandboxUnavailable
        bubblewrap is missing or does not work here, and ``unsafe_no_sandbox`` was not given.
    FileNotFoundError, FileExistsError, ValueError
        Problems with the instructor's inputs (not the students'): a missing class set or
        submissions, existing grades, a malformed answers CSV, unknown students or
        questions to regrade, or a question bank that now gives different numbers than at
        generation.
    """
    from tqdm.auto import tqdm

    a = load_assignment(assignment_dir)
    sub = Path(submissions)
    out = Path(out_dir)
    regrade = students is not None or questions is not None
    if (out / "grades.csv").exists() and not (force or regrade):
        raise FileExistsError(f"{out / 'grades.csv'} exists; pass force=True (--force) to replace it")
    if jobs is None:
        jobs = max(1, min(4, os.cpu_count() or 1))
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    roster = {s.id: s for s in a.roster}
    keys = [q.key for q in a.spec.questions]
    previous: dict[str, StudentResult] = {}
    if regrade:
        unknown_ids = [i for i in students or [] if i not in roster]
        if unknown_ids:
            raise ValueError(f"not on the roster of {a.out_dir}: {', '.join(unknown_ids)}")
        unknown_keys = [k for k in questions or [] if k not in keys]
        if unknown_keys:
            raise ValueError(f"no question {', '.join(unknown_keys)}; the questions are "
                             f"{', '.join(keys)}")
        previous = _load_previous(out, a)
    chosen = set(students) if students is not None else set(roster)
    _check_variants(a)
    begin_run()
    if isolation is None:
        isolation = _unsandboxed() if unsafe_no_sandbox else bubblewrap(bwrap)
    deny = [a.out_dir, sub, out]
    results: dict[str, StudentResult] = {}
    extra: list[StudentResult] = []
    tasks: list[tuple[Student, Callable[[], StudentResult], str]] = []

    def unknown(sid: str, where: str, status: str, note: str) -> StudentResult:
        return StudentResult(sid, "", "", status, [_zero(q, "Not graded.") for q in a.spec.questions],
                             where, [note])

    if sub.is_file() and sub.suffix.lower() == ".csv":
        by_id: dict[str, list[tuple[int, dict[str, str]]]] = {}
        for line, sid, answers in read_answers_csv(sub, a.spec.questions):
            by_id.setdefault(sid, []).append((line, answers))
        for sid, rows in by_id.items():
            lines = " and ".join(str(line) for line, _ in rows)
            where = f"{sub.name} line{'s' if len(rows) > 1 else ''} {lines}"
            if sid not in roster:
                extra.append(unknown(sid, where, "unknown student", f"{sid[:40]!r} is not on the roster"))
            elif sid not in chosen:
                continue
            elif len(rows) > 1:
                r = unknown(sid, where, "duplicate", f"answers on lines {lines}; keep one")
                r.name, r.email = roster[sid].name, roster[sid].email
                results[sid] = r
            else:
                tasks.append((roster[sid], lambda s=roster[sid], ans=rows[0][1]:
                              grade_answers(a, s, ans, limits, deny, isolation), where))
    elif sub.is_dir():
        for sid, paths in find_submissions(sub).items():
            names = ", ".join(str(p.relative_to(sub)) for p in paths)
            if sid not in roster:
                extra.append(unknown(sid, names, "unknown student",
                                     f"{sid[:40]!r} is not on the roster"))
            elif sid not in chosen:
                continue
            elif len(paths) > 1:
                r = unknown(sid, names, "duplicate", f"{len(paths)} submissions ({names}); keep one")
                r.name, r.email = roster[sid].name, roster[sid].email
                results[sid] = r
            else:
                tasks.append((roster[sid], lambda s=roster[sid], p=paths[0]:
                              grade_notebook(a, s, _read_capped(p), limits, deny, isolation),
                              str(paths[0].relative_to(sub))))
    else:
        raise FileNotFoundError(f"submissions {sub} is neither a folder of notebooks nor a .csv file")

    started = time.monotonic()
    with cleanup_on_signals(), ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_guarded, a, student, fn): (student, where)
                   for student, fn, where in tasks}
        for fut in tqdm(as_completed(futures), total=len(futures), desc="grading",
                        unit="submission", disable=not progress):
            student, where = futures[fut]
            r = fut.result()
            r.submission = where
            results[student.id] = r
    for s in a.roster:
        if s.id not in results and s.id in chosen:
            results[s.id] = StudentResult(s.id, s.name, s.email, "no submission",
                                          [_zero(q, "No submission.", "(no submission)")
                                           for q in a.spec.questions],
                                          notes=["no submission found"])
    for r in list(results.values()) + extra:
        _scrubbed(a, r)
        if isolation.unsafe:
            r.notes.append(UNSAFE_NOTE)
    if regrade:
        merged = dict(previous)
        for sid, r in results.items():
            old = previous.get(sid)
            if questions is not None and old is not None:
                r.questions = [new if new.key in questions else prev
                               for new, prev in zip(r.questions, old.questions)]
            merged[sid] = r
        ordered = [merged[s.id] for s in a.roster if s.id in merged] + sorted(
            (r for sid, r in merged.items() if sid not in roster), key=lambda r: r.student_id)
    else:
        ordered = [results[s.id] for s in a.roster] + sorted(extra, key=lambda r: r.student_id)
    report = _write_outputs(out, a, ordered, canvas_name)
    report.seconds = time.monotonic() - started
    return report
