"""Grading: the sandbox, a batch of good and hostile submissions, answers CSVs, outputs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from typer.testing import CliRunner

from dlnotes.assignments import (Limits, Student, generate, grade, load_assignment, make_spec,
                                 student_instances)
from dlnotes.assignments import grading, leaks, sandbox
from dlnotes.assignments.notebook import py_literal
from dlnotes.assignments.sandbox import Cell, SandboxError, run_cells
from dlnotes.cli import app
from sandbox_attacks import DISABLE_HOOK

runner = CliRunner()
SEED = 9_007_199_254_740_993
IDS = ["losses.multiclass-hinge", "regularization.l2-step", "losses.outlier-gradient",
       "losses.log-cosh-code"]
FAST = Limits(seconds=2, memory_mb=256)
ROSTER = [Student(f"s{i:02d}", f"Student {i}", f"s{i}@uni.example") for i in range(1, 14)]
NAME = "hw-4"


def _right(inst) -> str:
    if inst.answer_type == "code":
        return inst.solution
    return f"{{var}} = {py_literal(inst.answer)}"


def _notebook(out: Path, sid: str, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The generated notebook of ``sid`` with the answer cells replaced by ``answers``."""
    nb = nbformat.read(out / "students" / sid / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        key = cell.id.removesuffix("-answer")
        if cell.id.endswith("-answer") and key in answers:
            cell.source = answers[key].replace("{var}", f"{key}_answer")
    return nb


def _all_right(spec, sid: str) -> dict[str, str]:
    return {q.key: _right(i) for q, i in zip(spec.questions, student_instances(spec, sid))}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A 13-student class set, a folder of prepared submissions, and its grades."""
    base = tmp_path_factory.mktemp("grading")
    spec = make_spec("HW 4", SEED, IDS)
    out = base / "hw"
    generate(spec, ROSTER, out)
    subs = base / "submissions"
    subs.mkdir()
    outside = base / "pwned.txt"
    key_path = out / "instructor" / "answer_key.json"

    def put(sid: str, nb, name: str | None = None) -> None:
        path = subs / (name or f"{sid}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)

    right = {s.id: _all_right(spec, s.id) for s in ROSTER}
    put("s01", _notebook(out, "s01", right["s01"]))                               # correct
    put("s02", _notebook(out, "s02", {**right["s02"], "q1": "q1_answer = 99.5"}))  # one wrong
    put("s03", _notebook(out, "s03", {}))                                          # empty
    (subs / "s04.ipynb").write_text(nbformat.writes(_notebook(out, "s04", right["s04"]))[:500])
    put("s05", _notebook(out, "s06", right["s06"]))                                # s06's file
    put("s06", _notebook(out, "s06", {**right["s06"], "q1": "while True:\n    pass"}))
    put("s07", _notebook(out, "s07", {**right["s07"], "q2": (
        "hog = []\nwhile True:\n    hog.append(bytearray(10**7))")}))
    put("s08", _notebook(out, "s08", {**right["s08"], "q1": (
        f"import json\nq1_answer = json.load(open({str(key_path)!r}))"
        "['students'][7]['questions'][0]['solution']")}))
    put("s09", _notebook(out, "s09", {**right["s09"], "q1": (
        f"open({str(outside)!r}, 'w').write('owned')\n" + right["s09"]["q1"])}))
    # s10 submits nothing
    put("s11", _notebook(out, "s11", right["s11"]), "s11/first.ipynb")
    put("s11", _notebook(out, "s11", right["s11"]), "s11/second.ipynb")
    nb12 = _notebook(out, "s12", right["s12"])
    nb12.cells = [c for c in nb12.cells if c.id != "q2-answer"]
    q3 = next(c for c in nb12.cells if c.id == "q3-answer")
    nb12.cells[nb12.cells.index(q3)] = nbformat.v4.new_markdown_cell(q3.source, id="q3-answer",
                                                                     metadata=q3.metadata)
    put("s12", nb12, "s12/hw-4/hw-4.ipynb")                      # nbgrader's submitted layout
    put("s13", _notebook(out, "s13", {**right["s13"], "q4": (
        "def log_cosh(d):\n    while True:\n        d = d + 1")}))
    put("intruder", _notebook(out, "s01", right["s01"]))
    (subs / ".ipynb_checkpoints").mkdir()
    nbformat.write(_notebook(out, "s10", right["s10"]), subs / ".ipynb_checkpoints" / "s10.ipynb")

    report = grade(out, subs, base / "grades", limits=FAST, jobs=2)
    return spec, out, subs, base, report, outside


def _scores(r) -> list[float]:
    return [q.score for q in r.questions]


# ------------------------------------------------------------------ the batch

def test_correct_submission_gets_full_marks(graded):
    spec, *_, report, _ = graded
    r = report.by_id("s01")
    assert r.status == "graded" and r.total == r.possible == spec.total_points
    assert all(q.correct for q in r.questions) and r.notes == []


def test_partly_wrong_submission_loses_only_that_question(graded):
    spec, *_, report, _ = graded
    r = report.by_id("s02")
    assert _scores(r) == [0.0] + [q.points for q in spec.questions[1:]]
    assert r.questions[0].feedback == "Not within tolerance of the solution."


def test_an_untouched_notebook_scores_zero_including_its_starter_code(graded):
    spec, *_, report, _ = graded
    r = report.by_id("s03")
    assert r.status == "graded" and _scores(r) == [0.0] * len(spec.questions)
    assert [q.feedback for q in r.questions[:3]] == ["No answer given."] * 3
    # the starter runs and even passes the small-input tests, but it is not an answer
    assert r.questions[3].feedback == "The starter code is unchanged."


def test_malformed_notebook_is_recorded_as_unreadable(graded):
    r = graded[4].by_id("s04")
    assert r.status == "unreadable" and r.total == 0 and "not a valid notebook" in r.notes[0]


def test_another_students_notebook_scores_zero_with_the_reason(graded):
    r = graded[4].by_id("s05")
    assert r.status == "wrong student" and r.total == 0
    assert "generated for 's06', not 's05'" in r.notes[0]


def test_infinite_loop_costs_only_its_question(graded):
    spec, *_, report, _ = graded
    r = report.by_id("s06")
    assert _scores(r) == [0.0] + [q.points for q in spec.questions[1:]]
    assert "time limit of 2 s exceeded" in r.questions[0].feedback


def test_memory_hog_costs_only_its_question(graded):
    spec, *_, report, _ = graded
    r = report.by_id("s07")
    assert _scores(r)[1] == 0 and r.total == spec.total_points - spec.questions[1].points
    assert "memory limit of 256 MB exceeded" in r.questions[1].feedback


def test_reading_the_answer_key_is_refused_without_echoing_its_path(graded):
    spec, *_, report, _ = graded
    r = report.by_id("s08")
    assert r.questions[0].score == 0 and "PermissionError" in r.questions[0].feedback
    assert "answer_key" not in r.questions[0].feedback and "/" not in r.questions[0].feedback
    assert r.total == spec.total_points - spec.questions[0].points


def test_writing_outside_the_scratch_folder_is_refused(graded):
    *_, report, outside = graded
    r = report.by_id("s09")
    assert r.questions[0].score == 0 and "PermissionError: not allowed while grading: writing" \
        in r.questions[0].feedback and "pwned" not in r.questions[0].feedback
    assert not outside.exists()


def test_missing_duplicate_and_unknown_submissions_are_rows_with_reasons(graded):
    report = graded[4]
    assert report.by_id("s10").status == "no submission"          # checkpoints are skipped
    dup = report.by_id("s11")
    assert dup.status == "duplicate" and "s11/first.ipynb" in dup.notes[0]
    unknown = report.by_id("intruder")
    assert unknown.status == "unknown student" and "not on the roster" in unknown.notes[0]
    assert [r.student_id for r in report.results] == [s.id for s in ROSTER] + ["intruder"]


def test_deleted_or_retyped_answer_cells_cost_their_questions(graded):
    spec, *_, report, _ = graded
    r = report.by_id("s12")
    assert r.submission == "s12/hw-4/hw-4.ipynb"
    assert _scores(r) == [spec.questions[0].points, 0.0, 0.0, spec.questions[3].points]
    assert "answer cell of question 2 is missing" in r.questions[1].feedback
    assert "no longer a code cell" in r.questions[2].feedback


def test_a_function_that_never_returns_costs_its_question(graded):
    spec, *_, report, _ = graded
    r = report.by_id("s13")
    assert _scores(r)[3] == 0 and "time limit" in r.questions[3].feedback
    assert r.total == spec.total_points - spec.questions[3].points


def test_grades_csv_json_and_feedback_are_complete(graded):
    spec, out, _, base, report, _ = graded
    rows = list(csv.DictReader(io.StringIO(report.grades_csv.read_text())))
    assert [r["student_id"] for r in rows] == [s.id for s in ROSTER] + ["intruder"]
    assert list(rows[0]) == ["student_id", "name", "email", "status", "q1", "q2", "q3", "q4",
                             "total", "possible", "submission", "notes"]
    assert rows[0]["total"] == f"{spec.total_points:g}" and rows[5]["q1"] == "0"
    data = json.loads(report.grades_json.read_text())
    assert data[1]["questions"][0]["feedback"] == "Not within tolerance of the solution."
    for s in ROSTER:
        text = (report.feedback_dir / f"{s.id}.md").read_text()
        assert text.startswith(f"# HW 4: feedback for Student {int(s.id[1:])} ({s.id})")
    # the feedback tells students what went wrong, never the answer itself
    inst = student_instances(spec, "s02")
    secrets = leaks.secrets_for(inst, [q.key for q in spec.questions])
    found = leaks.scan_file(report.feedback_dir / "s02.md", secrets)
    assert secrets.numbers and [l.kind for l in found] == ["marker"]   # the grader's word "solution"
    assert not [p for p in (base / "grades").rglob("*") if p.name.endswith(".tmp")]


def test_the_child_never_receives_a_solution(graded, monkeypatch):
    spec, out, *_ = graded
    sent: list[dict] = []
    real = sandbox._Proc.__init__

    def spy(self, job, isolation, limits, scratch):
        sent.append(job)
        real(self, job, isolation, limits, scratch)

    monkeypatch.setattr(sandbox._Proc, "__init__", spy)
    inst = student_instances(spec, "s01")
    nb = _notebook(out, "s01", _all_right(spec, "s01"))
    grading.grade_notebook(load_assignment(out), ROSTER[0], nbformat.writes(nb), FAST)
    blob = json.dumps(sent)
    code_values = [v for _, expected in inst[3].tests for v in np.ravel(expected) if abs(v) > 1e-3]
    assert len(sent) == 1 and str(inst[3].tests[1][1][0]) not in blob and code_values
    assert not any(repr(float(v)) in blob for v in code_values)
    assert "answer_key" not in blob and str(SEED) not in blob and str(out) not in blob


def test_every_exercise_in_the_bank_survives_the_whole_pipeline(tmp_path):
    """Generic over the bank: exercises added later (any chapter) must generate without
    leaks, and their solutions must grade as fully correct through the sandbox."""
    from dlnotes import exercises as bank

    ids = [e.id for e in bank.all_exercises()]
    roster = [Student(f"p{i}") for i in range(3)]
    spec = make_spec("Everything", SEED, ids)
    out = tmp_path / "all"
    generate(spec, roster, out)                      # raises LeakError on a leak
    subs = tmp_path / "subs"
    subs.mkdir()
    for s in roster:
        solution = nbformat.read(out / "instructor" / "solutions" / f"{s.id}.ipynb", as_version=4)
        solution.metadata["dlnotes"]["version"] = "student"
        nbformat.write(solution, subs / f"{s.id}.ipynb")
    report = grade(out, subs, tmp_path / "g", limits=Limits(seconds=10))
    for r in report.results:
        wrong = [(q.exercise_id, q.feedback) for q in r.questions if not q.correct]
        assert r.status == "graded" and not wrong, (r.student_id, wrong)


# ------------------------------------------------------------------ one notebook

def test_notebook_without_dlnotes_metadata_is_graded_with_a_note(graded):
    spec, out, *_ = graded
    nb = _notebook(out, "s01", _all_right(spec, "s01"))
    del nb.metadata["dlnotes"]
    r = grading.grade_notebook(load_assignment(out), ROSTER[0], nbformat.writes(nb), FAST)
    assert r.total == spec.total_points and "no dlnotes metadata" in r.notes[0]


def test_notebook_of_another_assignment_scores_zero(graded):
    spec, out, *_ = graded
    nb = _notebook(out, "s01", _all_right(spec, "s01"))
    nb.metadata["dlnotes"]["assignment"] = "hw-3"
    r = grading.grade_notebook(load_assignment(out), ROSTER[0], nbformat.writes(nb), FAST)
    assert r.status == "wrong assignment" and r.total == 0


@pytest.mark.parametrize("content, note", [
    (b"\xff\xfe not text", "not UTF-8"),
    (b"[1, 2]", "not a valid notebook"),
    (b"", "not a valid notebook"),
])
def test_files_that_are_not_notebooks_are_unreadable(graded, content, note):
    r = grading.grade_notebook(load_assignment(graded[1]), ROSTER[0], content, FAST)
    assert r.status == "unreadable" and note in r.notes[0] and r.total == 0


def test_oversized_files_are_not_loaded(graded, tmp_path, monkeypatch):
    monkeypatch.setattr(grading, "MAX_NOTEBOOK_BYTES", 1000)
    big = tmp_path / "big.ipynb"
    big.write_bytes(b" " * 5000)
    data = grading._read_capped(big)
    assert len(data) == 1001
    r = grading.grade_notebook(load_assignment(graded[1]), ROSTER[0], data, FAST)
    assert r.status == "unreadable" and "larger than" in r.notes[0]


def test_an_unexpected_error_is_that_students_status_but_a_broken_sandbox_stops_the_batch(graded):
    a = load_assignment(graded[1])

    def buggy():
        raise KeyError("surprise")

    r = grading._guarded(a, ROSTER[0], buggy)
    assert r.status == "error" and "KeyError" in r.notes[0] and r.total == 0

    def broken():
        raise SandboxError("python is gone")

    with pytest.raises(SandboxError):
        grading._guarded(a, ROSTER[0], broken)


def test_answers_of_the_wrong_kind_get_the_bank_graders_reasons(graded):
    spec, out, *_ = graded
    nb = _notebook(out, "s01", {"q1": "q1_answer = 'twelve'", "q2": "q2_answer = np.zeros(10**6)",
                                "q3": "q3_answer = 3", "q4": "log_cosh = 5"})
    r = grading.grade_notebook(load_assignment(out), ROSTER[0], nbformat.writes(nb), FAST)
    assert [q.feedback for q in r.questions] == [
        "Could not read a number from 'twelve'.", "Expected 3 number(s), got 1000000.",
        "'3' is not one of the options a, b, c, d.",
        "Your answer cell did not run: NameError: define a function named log_cosh"]


def test_a_function_raising_on_some_inputs_gets_partial_credit(graded):
    spec, out, *_ = graded
    code = ("def log_cosh(d):\n    if np.max(np.abs(d)) > 700:\n        raise OverflowError('big')\n"
            "    return np.log(np.cosh(d))")
    nb = _notebook(out, "s01", {"q4": code})
    r = grading.grade_notebook(load_assignment(out), ROSTER[0], nbformat.writes(nb), FAST)
    assert 0 < r.questions[3].score < spec.questions[3].points
    assert "OverflowError: big" in r.questions[3].feedback


# ------------------------------------------------------------------ answers CSV

def test_answers_csv_is_graded_with_code_in_the_sandbox(graded, tmp_path):
    spec, out, *_ = graded
    inst = student_instances(spec, "s01")
    rows = [["student_id", "q1", "q2", "q3", "q4"],
            ["s01", f"{inst[0].solution:.6f}", ", ".join(f"{v:.8f}" for v in inst[1].solution),
             inst[2].solution.upper(), inst[3].solution],
            ["s02", "1e9", "", "z", "def log_cosh(d):\n    while True: pass"],
            ["s02", "0", "0", "a", ""],
            ["ghost", "1", "1", "a", ""]]
    path = tmp_path / "answers.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    report = grade(out, path, tmp_path / "g", limits=FAST)
    assert report.by_id("s01").total == spec.total_points
    assert report.by_id("s01").submission == "answers.csv line 2"
    dup = report.by_id("s02")
    first = 3 + inst[3].solution.count("\n")          # multi-line code: rows start later
    assert dup.status == "duplicate" and f"lines {first} and {first + 2}" in dup.notes[0]
    assert report.by_id("ghost").status == "unknown student"
    assert report.by_id("s03").status == "no submission"


def test_answers_csv_grades_blank_and_looping_answers(graded, tmp_path):
    spec, out, *_ = graded
    path = tmp_path / "a.csv"
    path.write_text('student_id,q1,q4\ns03,,"def log_cosh(d):\n    while True: pass"\n')
    r = grade(out, path, tmp_path / "g", limits=FAST).by_id("s03")
    assert r.questions[0].feedback == "No answer given." and r.questions[1].feedback == "No answer given."
    assert "time limit" in r.questions[3].feedback and r.total == 0


@pytest.mark.parametrize("content, message", [
    ("", "the file is empty"),
    ("id,q1\ns01,1\n", "needs a student_id column"),
    ("student_id,q1,q9\ns01,1,2\n", r"unknown question column\(s\) q9"),
    ("student_id,q1\ns01,1,2\n", "line 2: expected 2 fields"),
    ("student_id,q1\n,1\n", "line 2: missing student id"),
])
def test_bad_answers_csv_is_an_instructor_error_naming_the_line(graded, tmp_path, content, message):
    path = tmp_path / "a.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        grading.read_answers_csv(path, graded[0].questions)


def test_answers_csv_must_be_utf8(graded, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"student_id,q1\ns01,caf\xe9\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        grading.read_answers_csv(path, graded[0].questions)


# ------------------------------------------------------------------ batch-level errors

def test_existing_grades_are_replaced_only_with_force(graded, tmp_path):
    _, out, subs, base, *_ = graded
    only = tmp_path / "subs"
    only.mkdir()
    import shutil
    copy = tmp_path / "grades"
    shutil.copytree(base / "grades", copy)        # the fixture's own grades stay as they are
    with pytest.raises(FileExistsError, match="--force"):
        grade(out, only, copy)
    report = grade(out, only, copy, force=True)    # empty folder: nobody submitted
    assert {r.status for r in report.results} == {"no submission"}


def test_grading_refuses_when_the_bank_changed_since_generation(graded, tmp_path):
    _, out, subs, *_ = graded
    import shutil
    copy = tmp_path / "hw"
    shutil.copytree(out, copy)
    manifest_path = copy / "instructor" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["students"]["s01"]["fingerprints"][0] = "0" * 16
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"different numbers .*\(s01\)|\(s01\).*different numbers"):
        grade(copy, subs, tmp_path / "g")


@pytest.mark.parametrize("what, message", [
    ("assignment", "dlnotes assign generate"),
    ("submissions", "neither a folder of notebooks nor a .csv"),
    ("jobs", "jobs must be a positive integer"),
])
def test_bad_grading_inputs_raise_clear_errors(graded, tmp_path, what, message):
    _, out, subs, *_ = graded
    args = {"assignment_dir": out, "submissions": subs, "out_dir": tmp_path / "g", "jobs": 1}
    if what == "assignment":
        args["assignment_dir"] = tmp_path
    elif what == "submissions":
        args["submissions"] = tmp_path / "nope"
    else:
        args["jobs"] = 0
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        grade(**args)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "grades.csv"
    grading._atomic_write(target, "old\n")
    with pytest.raises(UnicodeEncodeError):
        grading._atomic_write(target, "new\ud800")       # unencodable: fails half-way
    assert target.read_text() == "old\n" and list(tmp_path.iterdir()) == [target]


def test_find_submissions_reads_both_layouts(tmp_path):
    for rel in ["a1.ipynb", "b2/x.ipynb", "c3/hw/y.ipynb", "d4/.ipynb_checkpoints/z.ipynb",
                "notes.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    found = grading.find_submissions(tmp_path)
    assert {k: [p.relative_to(tmp_path).as_posix() for p in v] for k, v in found.items()} == {
        "a1": ["a1.ipynb"], "b2": ["b2/x.ipynb"], "c3": ["c3/hw/y.ipynb"]}
    with pytest.raises(FileNotFoundError):
        grading.find_submissions(tmp_path / "missing")


def test_cli_grades_and_reports_errors_without_traceback(graded, tmp_path):
    _, out, subs, *_ = graded
    only = tmp_path / "subs"
    only.mkdir()
    nbformat.write(_notebook(out, "s01", _all_right(graded[0], "s01")), only / "s01.ipynb")
    res = runner.invoke(app, ["grade", str(out), str(only), "--out", str(tmp_path / "g"),
                              "--time-limit", "5", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "1 graded, 12 no submission" in res.output and "grades.csv" in res.output
    again = runner.invoke(app, ["grade", str(out), str(only), "--out", str(tmp_path / "g")])
    assert again.exit_code == 2 and "--force" in again.output and "Traceback" not in again.output
    missing = runner.invoke(app, ["grade", str(tmp_path), str(only), "--out", str(tmp_path / "h")])
    assert missing.exit_code == 2 and "manifest.json" in missing.output


# ------------------------------------------------------------------ the sandbox itself

def _run(*sources: str, limits: Limits = FAST, **kw) -> list:
    cells = [Cell(f"c{i}", src, "value", "x") for i, src in enumerate(sources)]
    return run_cells(cells, limits, prelude="import math\nimport numpy as np", **kw)


def test_sandbox_reads_back_values_and_function_outputs():
    res = run_cells([Cell("v", "x = np.arange(3) / 2", "value", "x"),
                     Cell("s", "y = 'b'", "value", "y"),
                     Cell("n", "z = None", "value", "z"),
                     Cell("o", "w = object()", "value", "w"),
                     Cell("f", "def f(a):\n    return a * 2", "function", "f", [([1.0, 2.0],), (3,)]),
                     Cell("e", "def g(a):\n    raise KeyError('k')", "function", "g", [(1,)])], FAST,
                    prelude="import numpy as np")
    assert [r.answer for r in res[:3]] == [{"type": "array", "value": [0.0, 0.5, 1.0]},
                                           {"type": "str", "value": "b"}, {"type": "none"}]
    assert res[3].answer["type"] == "repr" and res[3].answer["value"].startswith("<object")
    assert res[4].outputs == [{"type": "array", "value": [2.0, 4.0]}, {"type": "array", "value": 6.0}]
    assert res[5].outputs == [{"type": "error", "value": "KeyError: 'k'"}]


def test_each_cell_runs_alone_from_the_setup_namespace():
    res = run_cells([Cell("a", "def helper():\n    return 41\nx = np.float64(1)", "value", "x"),
                     Cell("b", "import os\nos._exit(3)", "none"),
                     Cell("c", "x = helper() + 1", "value", "x"),
                     Cell("d", "import os\nos.kill(os.getppid(), 9)", "none"),
                     Cell("e", "x = np.arange(2).sum()", "value", "x")], FAST,
                    prelude="import numpy as np")
    assert res[0].ok and not res[1].ok and "exited with status 3" in res[1].error
    assert not res[2].ok and "NameError" in res[2].error        # a's helper is not there
    assert not res[3].ok and res[4].answer == {"type": "array", "value": 1.0}


def test_sandbox_blocks_escape_routes():
    cases = {
        "import subprocess\nsubprocess.run(['true'])": "PermissionError",
        "import os\nos.system('true')": "os.system",
        "import os\nos.fork()": "os.fork",
        "import os\nos.execv('/bin/true', ['true'])": "os.exec",
        "import socket\nsocket.socket()": "PermissionError",
        "import ctypes\nctypes.CDLL(None)": "ctypes",
        "import os\nos.listdir('/')": "listing",
        "open('/etc/hostname').read()": "reading",
        "import pathlib\npathlib.Path('/etc/hostname').read_text()": "reading",
        "np.loadtxt('/etc/hostname')": "PermissionError",
        "open('../../escape.txt', 'w')": "writing",
        "import os\nos.symlink('/etc', 'etc')": "os.symlink",
        "import os\nos.kill(os.getpid(), 0)": "os.kill",     # signal 0: harmless if it got through
        "import gc\ngc.get_objects()": "gc.get_objects",
        "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (1, 1))": "resource.setrlimit",
        "import sqlite3\nsqlite3.connect('x.db')": "sqlite3",   # C-level file access, even here
        "import os\nos.chdir('/')": "os.chdir",
    }
    results = _run(*cases)
    for (src, expected), r in zip(cases.items(), results):
        assert not r.ok and expected in r.error, (src, r.error)


def test_student_code_cannot_add_its_own_audit_hook():
    # CPython silently drops a hook that an existing hook refuses
    r = _run("import sys\nseen = []\nsys.addaudithook(lambda event, args: seen.append(event))\n"
             "open('f', 'w').close()\nx = len(seen)")
    assert r[0].answer == {"type": "int", "value": 0}


def test_sandbox_allows_the_scratch_folder_and_the_standard_library():
    r = _run("open('notes.txt', 'w').write('hi')\nimport os\n"
             "x = [open('notes.txt').read(), sorted(os.listdir('.')), len(open(os.__file__).read()) > 0]")
    assert r[0].answer == {"type": "repr", "value": "['hi', ['notes.txt'], True]"}


def test_unsandboxed_deny_list_wins_over_an_allowed_folder():
    src = "import numpy, os\nx = len(open(os.path.join(os.path.dirname(numpy.__file__), '__init__.py')).read())"
    unsafe = sandbox.unsafe_no_sandbox()
    assert _run(src, isolation=unsafe)[0].ok and _run(src)[0].ok
    denied = _run(src, deny=[Path(np.__file__).parent], isolation=unsafe)[0]
    assert not denied.ok and "reading" in denied.error


def test_unsandboxed_scratch_folder_stays_usable_inside_a_denied_folder():
    import tempfile
    r = _run("open('a.txt', 'w').write('ok')\nx = open('a.txt').read()",
             deny=[tempfile.gettempdir()], isolation=sandbox.unsafe_no_sandbox())
    assert r[0].answer == {"type": "str", "value": "ok"}


def test_the_sandbox_holds_nothing_of_the_host_but_python():
    r = _run(DISABLE_HOOK + "import os, sys\nx = [os.getcwd(), os.path.exists('/etc'), os.path.exists('/work'),\n"
             "     os.path.exists('/home'), os.path.exists(sys.prefix), os.getuid() != 0,\n"
             "     open('/proc/self/status').read().count('CapEff:\\t0000000000000000'),\n"
             "     'NoNewPrivs:\\t1' in open('/proc/self/status').read(), len(os.listdir('/proc'))]")
    cwd, etc, work, home, prefix, unprivileged, nocaps, nnp, _ = eval(r[0].answer["value"])
    assert cwd == "/scratch" and not (etc or work or home) and prefix
    assert unprivileged and nocaps == 1 and nnp


def test_scratch_and_tmp_are_small_memory_folders():
    r = _run(DISABLE_HOOK + "open('/tmp/big', 'wb').write(b'x' * (20 << 20))",
             "open('a', 'wb').write(b'x' * (12 << 20))\nopen('b', 'wb').write(b'x' * (12 << 20))",
             limits=Limits(seconds=5, memory_mb=256, file_mb=16, scratch_mb=16))
    assert not r[0].ok and ("No space" in r[0].error or "File too large" in r[0].error)
    assert not r[1].ok and "No space" in r[1].error


def test_sandbox_child_has_a_clean_environment_and_hard_limits(monkeypatch):
    monkeypatch.setenv("DLNOTES_SECRET_TOKEN", "xyz")
    r = _run("import os, resource\n"
             "x = [os.environ.get('DLNOTES_SECRET_TOKEN'), os.environ['HOME'] == os.getcwd(),\n"
             "     resource.getrlimit(resource.RLIMIT_FSIZE), resource.getrlimit(resource.RLIMIT_NPROC),\n"
             "     resource.getrlimit(resource.RLIMIT_CPU)[0] == resource.getrlimit(resource.RLIMIT_CPU)[1],\n"
             f"     os.environ.get({sandbox.MARK_ENV!r}) == {sandbox.MARK!r}]",
             limits=Limits(seconds=2, memory_mb=256, file_mb=3))
    assert r[0].answer["value"] == "[None, True, (3145728, 3145728), (0, 0), True, True]"


def test_printing_a_lot_neither_blocks_nor_breaks_the_protocol():
    r = _run("import sys\nfor i in range(20000):\n    print('{\"event\": \"done\"}', i)\n"
             "sys.stderr.write('noise')\nsys.stdout.flush()\nx = sys.stdout.isatty()")
    assert r[0].answer == {"type": "array", "value": 0.0}


def test_a_sandbox_that_cannot_start_is_an_error_with_its_output(tmp_path, monkeypatch):
    broken = tmp_path / "child.py"
    broken.write_text("import sys\nsys.stderr.write('numpy is missing')\nsys.exit(1)\n")
    monkeypatch.setattr(sandbox, "_CHILD", broken)
    monkeypatch.setattr(sandbox, "_LAYOUT", None)
    with pytest.raises(SandboxError, match="did not start .*numpy is missing"):
        run_cells([Cell("a", "x = 1")], FAST)


def test_file_size_limit_raises_in_the_cell_instead_of_killing_it():
    r = _run("open('big', 'wb').write(b'x' * (8 << 20))", "x = 1",
             limits=Limits(seconds=5, memory_mb=256, file_mb=1))
    assert "File too large" in r[0].error and r[1].ok


def test_time_limit_holds_against_code_that_catches_the_timer():
    r = _run("import time\nwhile True:\n    try:\n        time.sleep(5)\n    except BaseException:\n"
             "        pass", "x = 2", limits=Limits(seconds=1, memory_mb=256))
    assert r[0].error == "time limit of 1 s exceeded" and r[1].answer["value"] == 2.0


def test_sandbox_rejects_bad_calls_and_reports_its_own_failures():
    with pytest.raises(ValueError, match="distinct"):
        run_cells([Cell("a", ""), Cell("a", "")])
    with pytest.raises(SandboxError, match="setup code failed"):
        run_cells([Cell("a", "x = 1")], FAST, prelude="raise RuntimeError('broken setup')")
    for bad in [{"seconds": 0}, {"memory_mb": -1}, {"file_mb": True}]:
        with pytest.raises(ValueError, match="Limits"):
            Limits(**bad)


def test_outputs_proxy_replays_the_students_errors_by_name():
    proxy = grading._Outputs([{"type": "array", "value": [1.0]},
                              {"type": "error", "value": "ZeroDivisionError: division by zero"},
                              {"type": "too_large", "size": 10 ** 7},
                              {"type": "error", "value": "not an identifier: x"}])
    assert proxy(0).tolist() == [1.0]
    with pytest.raises(Exception, match="division by zero") as info:
        proxy(0)
    assert type(info.value).__name__ == "ZeroDivisionError"
    with pytest.raises(ValueError, match="10000000 numbers"):
        proxy(0)
    with pytest.raises(Exception) as info:
        proxy(0)
    assert type(info.value).__name__ == "Error"
    with pytest.raises(Exception, match="no output"):
        proxy(0)


# ------------------------------------------------------------------ class management

def test_grading_writes_canvas_csv_in_canvas_import_format(graded):
    spec, *_, report, _ = graded
    rows = list(csv.reader(io.StringIO((report.grades_csv.parent / "canvas.csv").read_text())))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW 4"]
    assert rows[1] == ["Points Possible", "", "", "", "", f"{spec.total_points:g}"]
    by_sis = {r[2]: r for r in rows[2:]}
    assert set(by_sis) == {s.id for s in ROSTER}           # no row for an unknown student
    assert by_sis["s01"][0] == "Student 1" and by_sis["s01"][5] == f"{spec.total_points:g}"
    assert by_sis["s10"][5] == "0"                         # no submission: zero points


def test_the_per_question_report_has_distribution_mean_and_common_wrong_answers(graded):
    spec, *_, report, _ = graded
    data = json.loads((report.grades_csv.parent / "report.json").read_text())
    assert [q["key"] for q in data] == [q.key for q in spec.questions]
    graded_rows = [r for r in report.results if r.status == "graded"]
    q1 = data[0]
    assert q1["graded"] == len(graded_rows)
    scores = [r.questions[0].score for r in graded_rows]
    assert q1["mean"] == pytest.approx(sum(scores) / len(scores), abs=1e-4)
    assert sum(q1["distribution"].values()) == len(graded_rows)
    wrong = {w["answer"]: w["count"] for w in q1["wrong_answers"]}
    assert "99.5" in wrong and "(no answer)" in wrong
    md = (report.grades_csv.parent / "report.md").read_text()
    assert "q1" in md and "Most common wrong answers" in md and "| score | students |" in md


def test_regrading_one_student_or_one_question_keeps_every_other_grade(graded, tmp_path):
    import shutil
    spec, out, subs, base, report, _ = graded
    dest = tmp_path / "g"
    shutil.copytree(report.grades_csv.parent, dest)
    before = json.loads((dest / "grades.json").read_text())
    fixed = tmp_path / "subs"
    shutil.copytree(subs, fixed)
    nbformat.write(_notebook(out, "s02", _all_right(spec, "s02")), fixed / "s02.ipynb")
    nbformat.write(_notebook(out, "s06", _all_right(spec, "s06")), fixed / "s06.ipynb")
    # s02 fixed q1: regrade only s02
    res = runner.invoke(app, ["grade", str(out), str(fixed), "--out", str(dest), "-s", "s02"])
    assert res.exit_code == 0, res.output
    after = json.loads((dest / "grades.json").read_text())
    assert after[1]["total"] == spec.total_points
    assert [r for i, r in enumerate(after) if i != 1] == [r for i, r in enumerate(before) if i != 1]
    # only question 2 of everyone: s06's fixed q1 is not regraded
    r2 = grade(out, fixed, dest, limits=FAST, questions=["q2"])
    assert r2.by_id("s06").questions[0].score == 0
    with pytest.raises(ValueError, match="not on the roster"):
        grade(out, fixed, dest, students=["nobody"])
    with pytest.raises(ValueError, match="no question q9"):
        grade(out, fixed, dest, questions=["q9"])
    with pytest.raises(FileNotFoundError, match="nothing to regrade"):
        grade(out, fixed, tmp_path / "empty", students=["s01"])


def test_partial_credit_for_the_per_sample_hinge_losses(graded):
    spec, out, *_ = graded
    inst = student_instances(spec, "s01")[0]
    parts = list(inst.answer)
    half = [parts[0], parts[1] + 5, parts[2], parts[3] + 7]
    nb = _notebook(out, "s01", {"q1": f"q1_answer = {py_literal(half)}"})
    r = grading.grade_notebook(load_assignment(out), ROSTER[0], nbformat.writes(nb), FAST)
    assert r.questions[0].score == pytest.approx(spec.questions[0].points * 2 / 3)
    assert "2 of 3 steps are right (not: L2)" in r.questions[0].feedback
    for value in (str(parts[3]), py_literal(parts)):         # the mean alone, or everything
        nb = _notebook(out, "s01", {"q1": f"q1_answer = {value}"})
        r = grading.grade_notebook(load_assignment(out), ROSTER[0], nbformat.writes(nb), FAST)
        assert r.questions[0].correct and r.questions[0].score == spec.questions[0].points


def test_code_feedback_names_the_failing_test_but_never_its_expected_value(graded):
    spec, out, *_ = graded
    inst = student_instances(spec, "s01")[3]
    nb = _notebook(out, "s01", {"q4": "def log_cosh(d):\n    return np.log(np.cosh(d))"})
    r = grading.grade_notebook(load_assignment(out), ROSTER[0], nbformat.writes(nb), FAST)
    fb = r.questions[3].feedback
    assert "hidden test" in fb and "wrong values" in fb and "expected" not in fb
    for _, expected in inst.tests[1:]:
        for v in np.ravel(expected):
            if abs(v) > 1e-3:
                assert f"{v:.4g}" not in fb


def test_a_replacement_variant_changes_only_that_students_files(tmp_path):
    import yaml
    roster = tmp_path / "class.csv"
    roster.write_text("student_id,name\ns1,A\ns2,B\ns3,C\n")
    spec = {"title": "HW", "seed": SEED, "questions": IDS}
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "hw"
    assert runner.invoke(app, ["assign", "generate", "--roster", str(roster), "--spec", str(path),
                               "--out", str(out)]).exit_code == 0
    (out / "submissions").mkdir()
    (out / "submissions" / "s1.ipynb").write_text("{}")          # the instructor's own files
    (out / "notes.txt").write_text("mine")
    old = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    path.write_text(yaml.safe_dump({**spec, "variants": {"s2": 1}}))
    res = runner.invoke(app, ["assign", "generate", "--roster", str(roster), "--spec", str(path),
                              "--out", str(out), "--force"])
    assert res.exit_code == 0, res.output
    assert "1 student(s) got new files (s2)" in res.output
    new = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    changed = {str(p.relative_to(out)) for p in old if old[p] != new.get(p)}
    assert {c for c in changed if c.startswith("students")} == {
        "students/s2/hw.ipynb", "students/s2/hw.html"}
    assert (out / "submissions" / "s1.ipynb").read_text() == "{}"
    assert (out / "notes.txt").read_text() == "mine"
    a = load_assignment(out)
    assert a.student("s2").variant == 1 and a.student("s1").variant == 0
    assert student_instances(a.spec, "s2", 1)[0].params != student_instances(a.spec, "s2")[0].params
    # the roster column does the same
    roster.write_text("student_id,name,variant\ns1,A,\ns2,B,\ns3,C,2\n")
    path.write_text(yaml.safe_dump(spec))
    res = runner.invoke(app, ["assign", "generate", "--roster", str(roster), "--spec", str(path),
                              "--out", str(out), "--force"])
    assert res.exit_code == 0 and "(s2, s3)" in res.output


def test_force_refuses_to_overwrite_a_file_generation_did_not_write(tmp_path):
    from dlnotes.assignments import generate
    spec = make_spec("HW", SEED, IDS[:1])
    out = tmp_path / "hw"
    generate(spec, [Student("s1")], out)
    (out / "students" / "s2").mkdir()
    (out / "students" / "s2" / "hw.ipynb").write_text("hand-made")
    with pytest.raises(FileExistsError, match="did not generate"):
        generate(spec, [Student("s1"), Student("s2")], out, force=True)
    assert (out / "students" / "s2" / "hw.ipynb").read_text() == "hand-made"


def test_every_csv_export_neutralises_formulas(tmp_path):
    from dlnotes.assignments import generate
    from dlnotes.assignments.exports import csv_cell

    assert [csv_cell(v) for v in ("=1+1", "+1", "-1+2", "@A1", "\tx", "\rx", "-0.5", "1e-3", "ok")] \
        == ["'=1+1", "+1", "'-1+2", "'@A1", "'\tx", "'\rx", "-0.5", "1e-3", "ok"]
    out = tmp_path / "hw"
    generate(make_spec("HW", SEED, IDS[:1]), [Student("s1", "=cmd|' /C calc'!A0", "a@x")], out)
    rows = list(csv.reader((out / "instructor" / "answer_key.csv").open()))
    assert rows[1][1] == "'=cmd|' /C calc'!A0"


def test_the_user_namespace_mode_for_graders_that_are_not_root(monkeypatch):
    """What an instructor's own account gets: bwrap --unshare-user, uid 1000 inside, no
    further user namespaces. (Here the tests run as root, which uses the privileged mode
    and uid 65534; this runs the other one.)"""
    monkeypatch.setattr(sandbox, "_as_root", lambda: False)
    r = _run(DISABLE_HOOK + "import os, ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
             "x = repr([os.getuid(), os.getgid(), libc.unshare(0x10000000), os.path.exists('/work'),\n"
             "     open('/proc/self/uid_map').read().split()[0]])")
    uid, gid, unshare, work, inside = eval(r[0].answer["value"])
    assert (uid, gid, unshare, work, inside) == (1000, 1000, -1, False, "1000")
    argv = sandbox._bwrap_argv("bwrap", sandbox._layout(), FAST, 9, as_root=False)
    assert {"--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--unshare-net", "--unshare-pid", "--clearenv"} <= set(argv)
    assert "--cap-add" not in argv
    root = sandbox._bwrap_argv("bwrap", sandbox._layout(), FAST, 9, as_root=True)
    assert "--unshare-user" not in root and root.count("--cap-add") == 2
