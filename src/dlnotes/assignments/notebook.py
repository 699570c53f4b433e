"""Student and instructor notebooks with nbgrader cell metadata, built with nbformat.

Both versions have the same cells, in the order nbgrader expects of an assignment:

====================  ===========  ==================================================
cell (id = grade_id)  nbgrader     student version / instructor version
====================  ===========  ==================================================
``header``            locked       title, student, due date, instructions
``setup``             locked       ``import math`` / ``import numpy as np``
``qK-prompt``         locked       the question (Markdown with math)
``qK-answer``         solution     ``qK_answer = None`` (or starter code) /
                                   the solution between ``### BEGIN/END SOLUTION``
``qK-tests``          grade,       checks of the answer's *form* only (a finite number,
                      locked,      the right count, a valid option) / the same plus the
                      points       value checks between ``### BEGIN/END HIDDEN TESTS``
``qK-explanation``    (none)       instructor version only: the worked explanation
====================  ===========  ==================================================

The student version never holds a value of the answer: it is graded by :mod:`dlnotes`
with the bank's graders (:meth:`ExerciseInstance.check`), not by its test cells. As in
a notebook released by ``nbgrader generate_assignment``, its nbgrader cells carry a
checksum and their cell type, so ``nbgrader validate`` notices edited locked cells.

Everything is deterministic: cell ids are the grade ids, there are no timestamps, and
nbformat writes keys sorted, so regenerating gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import nbformat
import numpy as np
from nbformat.v4 import new_notebook

from .. import exercises as bank
from .exports import markdown_text
from .roster import Student
from .spec import AssignmentSpec, Question

__all__ = ["SETUP_SOURCE", "FORMAT", "answer_variable", "answer_grade_id", "py_literal",
           "new_code_cell", "new_markdown_cell", "points_label",
           "student_notebook", "instructor_notebook", "nbgrader_checksum", "answer_form",
           "to_json"]

#: The locked setup cell; grading runs this same code before a student's answers.
SETUP_SOURCE = "import math\n\nimport numpy as np"
#: Version of the notebook layout, stored in the notebook metadata under ``dlnotes``.
FORMAT = 1
_SCHEMA = 3      # nbgrader cell metadata schema version (nbgrader 0.9)
_KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def answer_variable(q: Question) -> str:
    """The variable a numeric or choice answer is stored in: ``q1_answer``, ..."""
    return f"{q.key}_answer"


def answer_grade_id(q: Question) -> str:
    """The nbgrader grade id (and cell id) of the question's answer cell."""
    return f"{q.key}-answer"


def py_literal(value: Any) -> str:
    """Python source for a JSON-like value (floats round-trip exactly via ``repr``)."""
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return repr(v) if math.isfinite(v) else f"float({str(v)!r})"
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [py_literal(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
        if isinstance(value, tuple):
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a Python literal")


def answer_form(inst: bank.ExerciseInstance) -> str:
    """What the answer looks like, in words: "a number", "a list of 3 numbers", ..."""
    if inst.answer_type == "numeric":
        n = int(np.size(inst.answer))
        if inst.parts:
            return (f"a list of {n} numbers: " + ", ".join(p.label for p in inst.parts)
                    + ", then the result")
        return "a number" if np.ndim(inst.answer) == 0 else f"a list of {n} numbers"
    if inst.answer_type == "choice":
        assert inst.choices is not None
        return "one option key: " + ", ".join(f'"{k}"' for k in inst.choices)
    return f"a function named `{inst.function}`"


def nbgrader_checksum(cell: nbformat.NotebookNode) -> str:
    """The checksum nbgrader stores for a locked/solution/grade cell (MD5, as nbgrader 0.9).

    Same fields, in the same order, as ``nbgrader.utils.compute_checksum`` (the tests
    compare the two), so nbgrader's validator accepts the cells as released.
    """
    meta = cell.metadata["nbgrader"]
    grade, solution = bool(meta.get("grade")), bool(meta.get("solution"))
    locked = False if solution else (True if grade else bool(meta.get("locked")))
    m = hashlib.md5()
    for part in (cell.source, cell.cell_type, str(grade), str(solution), str(locked),
                 meta["grade_id"]):
        m.update(part.encode("utf-8"))
    if grade:
        m.update(str(float(meta["points"])).encode("utf-8"))
    return m.hexdigest()


def new_markdown_cell(source: str, *, id: str, metadata: dict | None = None) -> nbformat.NotebookNode:
    """A Markdown cell (as ``nbformat.v4.new_markdown_cell``, without its per-cell schema
    check: the finished notebook is validated once, which is 10x faster for a class set)."""
    return nbformat.from_dict({"cell_type": "markdown", "id": id, "metadata": metadata or {},
                               "source": source})


def new_code_cell(source: str, *, id: str, metadata: dict | None = None) -> nbformat.NotebookNode:
    """An unexecuted code cell (see :func:`new_markdown_cell`)."""
    return nbformat.from_dict({"cell_type": "code", "execution_count": None, "id": id,
                               "metadata": metadata or {}, "outputs": [], "source": source})


def _meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
          points: float | None = None) -> dict:
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": locked,
                            "schema_version": _SCHEMA, "solution": solution}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def points_label(points: float) -> str:
    """ "1 point", "2.5 points"."""
    return f"{points:g} point" + ("" if points == 1 else "s")


def _header(spec: AssignmentSpec, student: Student) -> str:
    # Roster names are text, never Markdown or HTML (a name may come from an LMS export
    # that students edit): escaped, like every other roster value shown here.
    due = f" · due {markdown_text(spec.due)}" if spec.due else ""
    return (f"# {markdown_text(spec.title)}\n\n"
            f"**{markdown_text(student.display_name)}** (`{student.id}`){due} · "
            f"{points_label(spec.total_points)}\n\n"
            "The numbers in this notebook are yours alone: every student gets different ones.\n\n"
            "For each question, put your answer in the code cell below it, then run the test cell "
            "that follows. The test cell checks only the *form* of your answer (a finite number, "
            "the right count, a valid option, a function that runs); the values are graded after "
            "you submit. For grading, each answer cell is run on its own, after the setup cell "
            "only: put everything an answer needs into its answer cell. Do not delete, split or "
            "reorder cells, keep the names of the answer variables (`q1_answer`, ...) and "
            "functions, and submit this file.")


def _prompt(q: Question, inst: bank.ExerciseInstance) -> str:
    parts = [f"## Question {q.number}: {inst.title} ({points_label(q.points)})", inst.prompt]
    if inst.choices:
        parts.append("\n".join(f"- **({k})** {v}" for k, v in inst.choices.items()))
    if inst.answer_type == "code":
        how = (f"**Your answer:** define `{inst.function}` in the next cell "
               "(it may use `np` and `math`).")
    else:
        how = f"**Your answer:** set `{answer_variable(q)}` in the next cell to {answer_form(inst)}."
    parts.append(how)
    return "\n\n".join(parts)


def _student_answer(q: Question, inst: bank.ExerciseInstance) -> str:
    if inst.answer_type == "code":
        start = (inst.starter or "").strip()
        return start or f"# Define your function {inst.function}(...) here."
    return (f"# Your answer: {answer_form(inst)}. You may compute it here with np and math.\n"
            f"{answer_variable(q)} = None")


def _instructor_answer(q: Question, inst: bank.ExerciseInstance) -> str:
    if inst.answer_type == "code":
        body = str(inst.solution).strip()
    else:
        body = f"{answer_variable(q)} = {py_literal(inst.answer)}"
    return f"### BEGIN SOLUTION\n{body}\n### END SOLUTION"


def _form_tests(q: Question, inst: bank.ExerciseInstance) -> str:
    var = answer_variable(q)
    head = "# Checks the form of your answer only; its value is graded after you submit.\n"
    if inst.answer_type == "numeric":
        n = int(np.size(inst.answer))
        what = "one number" if np.ndim(inst.answer) == 0 else f"{n} numbers"
        return head + (
            f'assert {var} is not None, "{var} is still None: put your answer there"\n'
            f"_value = np.asarray({var}, dtype=float)\n"
            f'assert _value.size == {n}, f"{var} should be {what}, got {{_value.size}}"\n'
            f'assert np.all(np.isfinite(_value)), "{var} should hold finite numbers only"')
    if inst.answer_type == "choice":
        assert inst.choices is not None
        accepted = tuple(list(inst.choices) + [v.strip().lower() for v in inst.choices.values()])
        keys = ", ".join(inst.choices)
        return head + (
            f'assert {var} is not None, "{var} is still None: put an option key there"\n'
            f"_choice = str({var}).strip().lower()\n"
            f"assert _choice in {py_literal(accepted)} or _choice.strip(\"().\") in "
            f'{py_literal(accepted)}, "{var} should be one of the options {keys}"')
    assert inst.tests
    args = inst.tests[0][0]
    shape = tuple(np.shape(inst.tests[0][1]))
    return head + (
        f'assert callable(globals().get("{inst.function}")), "define a function named {inst.function}"\n'
        f"_out = np.asarray({inst.function}(*[np.array(a) if isinstance(a, list) else a "
        f"for a in {py_literal(args)}]), dtype=float)\n"
        f'assert _out.shape == {py_literal(shape)}, f"{inst.function} should return shape '
        f'{shape}, got {{_out.shape}}"')


def _hidden_tests(q: Question, inst: bank.ExerciseInstance) -> str:
    var = answer_variable(q)
    if inst.answer_type == "numeric":
        body = (f"assert np.allclose(np.asarray({var}, dtype=float).ravel(), "
                f"np.asarray({py_literal(inst.answer)}, dtype=float).ravel(), "
                f"rtol={inst.rtol!r}, atol={inst.atol!r})")
    elif inst.answer_type == "choice":
        assert inst.choices is not None
        right = (inst.solution, inst.choices[inst.solution].strip().lower())
        body = (f"_choice = str({var}).strip().lower()\n"
                f"assert _choice in {py_literal(right)} or _choice.strip(\"().\") in {py_literal(right)}")
    else:
        cases = [(tuple(args), expected) for args, expected in inst.tests or []]
        body = (f"for _args, _expected in {py_literal(cases)}:\n"
                f"    _got = np.asarray({inst.function}(*[np.array(a) if isinstance(a, list) "
                "else a for a in _args]), dtype=float)\n"
                "    assert _got.shape == np.shape(_expected), _args\n"
                f"    assert np.allclose(_got, _expected, rtol={inst.rtol!r}, "
                f"atol={inst.atol!r}), _args")
    return f"### BEGIN HIDDEN TESTS\n{body}\n### END HIDDEN TESTS"


def _notebook(spec: AssignmentSpec, student: Student, instances: list[bank.ExerciseInstance],
              instructor: bool) -> nbformat.NotebookNode:
    if len(instances) != len(spec.questions):
        raise ValueError(f"expected {len(spec.questions)} instances (one per question), "
                         f"got {len(instances)}")
    cells = [new_markdown_cell(_header(spec, student), id="header", metadata=_meta("header", locked=True)),
             new_code_cell(SETUP_SOURCE, id="setup", metadata=_meta("setup", locked=True))]
    for q, inst in zip(spec.questions, instances):
        if inst.id != q.exercise_id:
            raise ValueError(f"{q.key}: instance of {inst.id!r} given for {q.exercise_id!r}")
        gid = answer_grade_id(q)
        answer = _instructor_answer(q, inst) if instructor else _student_answer(q, inst)
        tests = _form_tests(q, inst)
        if instructor:
            tests += "\n" + _hidden_tests(q, inst)
        cells += [
            new_markdown_cell(_prompt(q, inst), id=f"{q.key}-prompt",
                              metadata=_meta(f"{q.key}-prompt", locked=True)),
            new_code_cell(answer, id=gid, metadata=_meta(gid, solution=True)),
            new_code_cell(tests, id=f"{q.key}-tests",
                          metadata=_meta(f"{q.key}-tests", grade=True, locked=True, points=q.points)),
        ]
        if instructor:
            cells.append(new_markdown_cell(f"**Worked explanation ({q.key}).** {inst.explanation}",
                                           id=f"{q.key}-explanation"))
    if not instructor:
        for cell in cells:
            # What `nbgrader generate_assignment` adds to a released notebook.
            cell.metadata["nbgrader"]["checksum"] = nbgrader_checksum(cell)
            cell.metadata["nbgrader"]["cell_type"] = cell.cell_type
    # new_notebook validates the whole notebook against the nbformat schema.
    return new_notebook(cells=cells, metadata={
        "kernelspec": dict(_KERNELSPEC),
        "language_info": {"name": "python"},
        "dlnotes": {"format": FORMAT, "assignment": spec.name, "student_id": student.id,
                    "version": "instructor" if instructor else "student",
                    "questions": [{"key": q.key, "exercise_id": q.exercise_id, "points": q.points}
                                  for q in spec.questions]},
    })


def student_notebook(spec: AssignmentSpec, student: Student,
                     instances: list[bank.ExerciseInstance]) -> nbformat.NotebookNode:
    """The notebook handed to ``student``: prompts, empty answers, form-only tests.

    ``instances`` are the student's instances, one per question of ``spec``, in order
    (:func:`dlnotes.assignments.variants.student_instances`).
    """
    return _notebook(spec, student, instances, instructor=False)


def instructor_notebook(spec: AssignmentSpec, student: Student,
                        instances: list[bank.ExerciseInstance]) -> nbformat.NotebookNode:
    """The instructor's version for ``student``: solutions, hidden value tests, explanations."""
    return _notebook(spec, student, instances, instructor=True)


def to_json(nb: nbformat.NotebookNode) -> str:
    """Notebook JSON text, deterministic (sorted keys, one-space indent, final newline).

    The same text as ``nbformat.writes`` without its second schema check (the notebooks
    built here were validated when they were made).
    """
    return nbformat.v4.writes_json(nb) + "\n"
