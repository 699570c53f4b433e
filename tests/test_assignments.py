"""Assignments: specs, per-student variants, nbgrader notebooks, handouts, the leak check.

The end-to-end fixture generates a 30-student class set once (about a second); the tests
then check it from every side: layout, determinism, uniqueness, leaks, nbgrader, keys.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlnotes import exercises as bank
from dlnotes.assignments import (LeakError, Student, check_assignment, generate,
                                 load_assignment, load_spec, make_spec, new_seed, select_exercises,
                                 spec_from_dict, student_instances, student_seed)
from dlnotes.assignments import handout, leaks, notebook
from dlnotes.assignments.variants import shared_variants
from dlnotes.cli import app

runner = CliRunner()
SEED = 15022658373629617563
IDS = ["losses.multiclass-hinge", "losses.softmax-cross-entropy", "regularization.l2-step",
       "losses.outlier-gradient", "losses.log-cosh-code"]
ROSTER = [Student(f"s{i:03d}", f"Student {i}", f"s{i}@uni.example") for i in range(30)]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def class_set(tmp_path_factory):
    """A 30-student class set generated from a YAML spec."""
    base = tmp_path_factory.mktemp("class")
    spec_path = base / "hw.yaml"
    spec_path.write_text(yaml.safe_dump({
        "title": "Homework 3: losses", "due": dt.date(2026, 12, 4), "seed": SEED,
        "questions": [IDS[0], {"id": IDS[1], "points": 4}, *IDS[2:]]}))
    spec = load_spec(spec_path)
    result = generate(spec, ROSTER, base / "hw")
    return spec, result, base / "hw"


def _exec_cells(nb, answers: dict[str, str] | None = None) -> dict:
    """Run a notebook's code cells in this process (fast stand-in for a kernel)."""
    ns: dict = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        src = (answers or {}).get(cell.id, cell.source)
        exec(compile(src, cell.id, "exec"), ns)  # noqa: S102 - our own generated notebook
    return ns


# ------------------------------------------------------------------ specs

def test_make_spec_numbers_questions_and_takes_points_from_the_bank():
    spec = make_spec("HW 1", 7, IDS[:2], points={IDS[1]: 5}, due="2026-12-04")
    assert [(q.key, q.exercise_id, q.points) for q in spec.questions] == [
        ("q1", IDS[0], bank.get(IDS[0]).points), ("q2", IDS[1], 5.0)]
    assert spec.name == "hw-1" and spec.total_points == bank.get(IDS[0]).points + 5
    assert spec.questions[1].number == 2


def test_select_exercises_by_id_chapter_and_topic_keeps_order_without_repeats():
    chosen = select_exercises(ids=["losses.huber"], chapters=["regularization"],
                              topics=["Cross-Entropy", "regression losses"])
    reg = [e.id for e in bank.for_chapter("regularization")]
    assert chosen[0] == "losses.huber" and chosen[1:1 + len(reg)] == reg
    assert "losses.softmax-cross-entropy" in chosen and chosen.count("losses.huber") == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"ids": ["losses.nope"]}, "no exercise with id 'losses.nope'; known ids: .*losses.huber"),
    ({"chapters": ["nope"]}, "no exercises for chapter 'nope'; chapters: .*losses"),
    ({"topics": ["nope"]}, "no exercises on topic 'nope'; topics: .*cross-entropy"),
    ({}, "no questions selected"),
])
def test_unknown_selection_names_what_is_known(kwargs, message):
    with pytest.raises(ValueError, match=message):
        select_exercises(**kwargs)


def test_spec_file_expands_chapters_and_topics_and_reads_dates(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("title: Midterm\ndue: 2026-12-04 23:59\nseed: 12345678901234\nname: mid-1\n"
                    "questions:\n  - chapter: regularization\n    points: 1.5\n"
                    "  - topic: cross-entropy\n  - id: losses.huber\n")
    spec = load_spec(path)
    reg = [e.id for e in bank.for_chapter("regularization")]
    assert [q.exercise_id for q in spec.questions][:len(reg)] == reg
    assert {q.points for q in spec.questions[:len(reg)]} == {1.5}
    assert spec.questions[-1].exercise_id == "losses.huber" and spec.name == "mid-1"
    assert spec.due == "2026-12-04 23:59"
    assert spec_from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("data, message", [
    ([1, 2], "expected a mapping"),
    ({"seed": 1, "questions": ["losses.huber"]}, "missing required key 'title'"),
    ({"title": "T", "seed": 1, "questions": ["losses.huber"], "pts": 3}, r"unknown key\(s\) pts"),
    ({"title": "T", "seed": -1, "questions": ["losses.huber"]}, "seed must be a non-negative"),
    ({"title": "T", "seed": True, "questions": ["losses.huber"]}, "seed must be a non-negative"),
    ({"title": " ", "seed": 1, "questions": ["losses.huber"]}, "title must be non-empty"),
    ({"title": "T", "seed": 1, "questions": []}, "questions must be a non-empty list"),
    ({"title": "T", "seed": 1, "questions": [{"id": "losses.huber", "points": 0}]},
     r"questions\[0\]: points must be a positive number"),
    ({"title": "T", "seed": 1, "questions": [{"id": "losses.huber", "chapter": "losses"}]},
     r"questions\[0\]: give exactly one of id, chapter or topic"),
    ({"title": "T", "seed": 1, "questions": ["losses.huber", {"chapter": "losses"}]},
     r"questions\[1\]: exercise 'losses.huber' is already in the assignment"),
    ({"title": "T", "seed": 1, "questions": [{"id": "losses.nope"}]}, r"questions\[0\]: no exercise"),
    ({"title": "T", "seed": 1, "questions": [3]}, "expected an exercise id or a mapping"),
    ({"title": "T", "seed": 1, "questions": [{"id": 3}]}, "id must be text"),
    ({"title": "T", "seed": 1, "due": [1], "questions": ["losses.huber"]}, "due must be a date"),
    ({"title": "T", "seed": 1, "name": "a b", "questions": ["losses.huber"]}, "name 'a b' may only"),
])
def test_bad_spec_is_rejected_naming_the_entry(data, message):
    with pytest.raises(ValueError, match=message):
        spec_from_dict(data, "hw.yaml")


def test_the_readme_spec_example_is_a_valid_spec(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(title: .*?)```", readme, re.DOTALL)
    assert example, "the README lost its spec example"
    (tmp_path / "hw3.yaml").write_text(example.group(1))
    spec = load_spec(tmp_path / "hw3.yaml")
    assert spec.questions[1].points == 4 and len(spec.questions) >= 4 and not spec.guessable_seed


def test_spec_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: [unclosed\n")
    with pytest.raises(ValueError, match="bad.yaml: not valid YAML"):
        load_spec(bad)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"title: caf\xe9\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_spec(latin)


def test_make_spec_rejects_bad_arguments():
    with pytest.raises(ValueError, match="appears twice"):
        make_spec("T", 1, ["losses.huber", "losses.huber"])
    with pytest.raises(ValueError, match="not in the assignment"):
        make_spec("T", 1, ["losses.huber"], points={"losses.kl-divergence": 2})
    with pytest.raises(ValueError, match="non-empty list"):
        make_spec("T", 1, "losses.huber")                 # type: ignore[arg-type]
    with pytest.raises(ValueError, match="title"):
        make_spec("", 1, ["losses.huber"])


def test_new_seeds_are_large_random_and_small_seeds_are_flagged_guessable():
    seeds = {new_seed() for _ in range(20)}
    assert len(seeds) == 20 and all(0 <= s < 2 ** 64 for s in seeds)
    assert make_spec("T", 2026, ["losses.huber"]).guessable_seed
    assert not make_spec("T", SEED, ["losses.huber"]).guessable_seed


# ------------------------------------------------------------------ variants

def test_student_seed_is_sha256_of_the_assignment_seed_and_the_id():
    digest = hashlib.sha256(b"dlnotes-assignment-v1\x00" + str(SEED).encode() + b"\x00s001").digest()
    assert student_seed(SEED, "s001") == int.from_bytes(digest[:8], "little")
    # pinned: changing the derivation would silently change every published assignment
    assert student_seed(1, "s001") == 9908257658480533402


@pytest.mark.parametrize("seed, sid", [(-1, "s1"), (True, "s1"), (1.0, "s1"), (1, ""), (1, 3)])
def test_student_seed_rejects_bad_input(seed, sid):
    with pytest.raises(ValueError):
        student_seed(seed, sid)


def test_thirty_students_get_thirty_different_variants(class_set):
    spec, result, _ = class_set
    hinge = {json.dumps(student_instances(spec, s.id)[0].params, sort_keys=True) for s in ROSTER}
    assert len(hinge) == 30                      # a different score matrix for everyone
    a = load_assignment(result.out_dir)
    assert len({tuple(v) for v in a.fingerprints.values()}) == 30
    assert result.shared_variants == []


def test_shared_variants_groups_students_with_identical_numbers():
    assert shared_variants({"a": ["1", "2"], "b": ["1", "3"], "c": ["1", "2"], "d": ["1", "2"]}) \
        == [["a", "c", "d"]]
    assert shared_variants({"a": ["1"], "b": ["2"]}) == []


def test_small_question_pools_warn_about_shared_variants(tmp_path):
    # weight-decay-mapping has 5 variants: with 12 students some must share one.
    spec = make_spec("Tiny", SEED, ["regularization.weight-decay-mapping"])
    roster = [Student(f"t{i}") for i in range(12)]
    res = generate(spec, roster, tmp_path / "tiny")
    assert res.shared_variants and any("got the same numbers" in w for w in res.warnings)


# ------------------------------------------------------------------ generation

def test_generation_writes_the_documented_layout(class_set):
    spec, result, out = class_set
    for s in ROSTER:
        assert (out / "students" / s.id / "homework-3-losses.ipynb").is_file()
        assert (out / "students" / s.id / "homework-3-losses.html").is_file()
        assert (out / "instructor" / "solutions" / f"{s.id}.ipynb").is_file()
    for name in ("answer_key.csv", "answer_key.json", "manifest.json", "assignment.yaml"):
        assert (out / "instructor" / name).is_file()
    manifest = json.loads((out / "instructor" / "manifest.json").read_text())
    assert manifest["assignment"]["seed"] == SEED and manifest["generator"]["dlnotes"]
    assert manifest["leak_check"] == {"files_scanned": 60, "leaks": 0}
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest, rel
    assert set(manifest["files"]) | {"instructor/manifest.json"} == set(_files(out))
    assert oct((out / "instructor").stat().st_mode & 0o777) == "0o700"
    assert oct((out / "instructor" / "answer_key.csv").stat().st_mode & 0o777) == "0o600"
    assert result.leaks_checked == 60 and result.students == 30
    assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name]


def test_regeneration_is_byte_identical(class_set, tmp_path):
    spec, _, out = class_set
    again = tmp_path / "again"
    generate(spec, ROSTER, again)
    assert _files(again) == _files(out)
    # from the spec file the set itself saved, and in place with force
    generate(load_spec(again / "instructor" / "assignment.yaml"), ROSTER, again, force=True)
    assert _files(again) == _files(out)


def test_existing_folders_are_replaced_only_with_force_and_only_if_generated(class_set, tmp_path):
    spec, _, out = class_set
    with pytest.raises(FileExistsError, match="--force"):
        generate(spec, ROSTER[:1], out)
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="refusing to replace"):
        generate(spec, ROSTER[:1], precious, force=True)
    assert (precious / "thesis.tex").read_text() == "years of work"
    file_target = tmp_path / "afile"
    file_target.write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        generate(spec, ROSTER[:1], file_target)


def test_generate_rejects_bad_arguments(tmp_path):
    spec = make_spec("T", SEED, ["losses.huber"])
    with pytest.raises(TypeError, match="AssignmentSpec"):
        generate({"title": "T"}, ROSTER, tmp_path / "a")          # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no students"):
        generate(spec, [], tmp_path / "a")
    with pytest.raises(ValueError, match="duplicate student id 's000'"):
        generate(spec, [ROSTER[0], ROSTER[0]], tmp_path / "a")
    with pytest.raises(TypeError, match="Student objects"):
        generate(spec, ["s1"], tmp_path / "a")                    # type: ignore[list-item]
    assert not (tmp_path / "a").exists()


def test_answer_key_csv_and_json_hold_every_students_solutions(class_set):
    spec, _, out = class_set
    rows = list(csv.DictReader(io.StringIO((out / "instructor" / "answer_key.csv").read_text())))
    assert len(rows) == 30 * len(IDS)
    key = json.loads((out / "instructor" / "answer_key.json").read_text())
    assert key["assignment"]["seed"] == SEED and len(key["students"]) == 30
    for s in ROSTER[:5]:
        inst = student_instances(spec, s.id)
        mine = [r for r in rows if r["student_id"] == s.id]
        # the hinge question declares parts: its answer is the per-sample losses, then the mean
        assert json.loads(mine[0]["answer"]) == pytest.approx(inst[0].answer, rel=1e-15)
        assert inst[0].answer[-1] == inst[0].solution and len(inst[0].answer) == 4
        assert json.loads(mine[2]["answer"]) == pytest.approx(inst[2].solution)
        assert mine[3]["answer"] == inst[3].solution and mine[1]["points"] == "4"
        entry = next(e for e in key["students"] if e["id"] == s.id)
        assert entry["variant_seed"] == student_seed(SEED, s.id)
        assert [q["solution"] for q in entry["questions"]] == [i.solution for i in inst]


# ------------------------------------------------------------------ notebooks

def test_student_notebook_has_the_nbgrader_cells_in_order(class_set):
    _, _, out = class_set
    nb = nbformat.read(out / "students" / "s007" / "homework-3-losses.ipynb", as_version=4)
    nbformat.validate(nb)
    ids = [c.id for c in nb.cells]
    assert ids[:2] == ["header", "setup"] and ids[2:5] == ["q1-prompt", "q1-answer", "q1-tests"]
    flags = {c.id: (c.metadata.nbgrader["grade"], c.metadata.nbgrader["solution"],
                    c.metadata.nbgrader["locked"]) for c in nb.cells}
    assert flags["q1-prompt"] == (False, False, True)
    assert flags["q1-answer"] == (False, True, False)
    assert flags["q1-tests"] == (True, False, True)
    assert nb.cells[ids.index("q2-tests")].metadata.nbgrader["points"] == 4.0
    assert nb.metadata.dlnotes["student_id"] == "s007" and "seed" not in json.dumps(nb.metadata)
    assert "Student 7" in nb.cells[0].source


def test_nbgrader_accepts_the_metadata_of_both_versions(class_set):
    from nbgrader.nbgraderformat import MetadataValidator
    from nbgrader.preprocessors import CheckCellMetadata
    from nbgrader.utils import compute_checksum

    _, _, out = class_set
    for path in [out / "students" / "s003" / "homework-3-losses.ipynb",
                 out / "instructor" / "solutions" / "s003.ipynb"]:
        nb = nbformat.read(path, as_version=4)
        MetadataValidator().validate_nb(nb)
        CheckCellMetadata().preprocess(nb, {})
        for cell in nb.cells:
            if "checksum" in cell.metadata.get("nbgrader", {}):
                assert cell.metadata.nbgrader.checksum == compute_checksum(cell)
                assert notebook.nbgrader_checksum(cell) == compute_checksum(cell)


def test_every_solution_notebook_passes_its_own_tests(class_set):
    # in-process execution of all 30; the slow test below runs them in real kernels
    _, _, out = class_set
    for s in ROSTER:
        nb = nbformat.read(out / "instructor" / "solutions" / f"{s.id}.ipynb", as_version=4)
        _exec_cells(nb)


def test_student_form_tests_reject_empty_answers_but_not_wrong_values(class_set):
    spec, _, out = class_set
    nb = nbformat.read(out / "students" / "s000" / "homework-3-losses.ipynb", as_version=4)
    with pytest.raises(AssertionError, match="q1_answer is still None"):
        _exec_cells(nb)
    inst = student_instances(spec, "s000")
    wrong_but_well_formed = {
        "q1-answer": "q1_answer = [1, 2, 3, 123.0]", "q2-answer": "q2_answer = 0.5",
        "q3-answer": "q3_answer = [1, 2, 3]", "q4-answer": "q4_answer = 'a'",
        "q5-answer": "def log_cosh(d):\n    return np.zeros_like(d, dtype=float)"}
    _exec_cells(nb, wrong_but_well_formed)            # the value is not checked here
    with pytest.raises(AssertionError, match="should be 3 numbers"):
        _exec_cells(nb, {**wrong_but_well_formed, "q3-answer": "q3_answer = [1, 2]"})
    with pytest.raises(AssertionError, match="one of the options"):
        _exec_cells(nb, {**wrong_but_well_formed, "q4-answer": "q4_answer = 'z'"})
    # the bank's grader accepts an option's text too, so the form check must as well
    assert inst[3].choices
    text = inst[3].choices["d"]
    _exec_cells(nb, {**wrong_but_well_formed, "q4-answer": f"q4_answer = {text!r}"})


def test_instructor_hidden_tests_fail_on_wrong_answers(class_set):
    _, _, out = class_set
    nb = nbformat.read(out / "instructor" / "solutions" / "s000.ipynb", as_version=4)
    with pytest.raises(AssertionError):
        _exec_cells(nb, {"q1-answer": "q1_answer = 123.0"})


def test_py_literal_round_trips_and_rejects_what_it_cannot_write():
    value = [1.0, -2.5e-300, 0.1 + 0.2, 3, "a", None, True, (1.5,), np.float64(2.0), np.int64(4)]
    assert eval(notebook.py_literal(value)) == [1.0, -2.5e-300, 0.1 + 0.2, 3, "a", None, True,  # noqa: S307
                                               (1.5,), 2.0, 4]
    assert notebook.py_literal(float("inf")) == "float('inf')"
    assert notebook.py_literal(np.array([[1.0, 2.0]])) == "[[1.0, 2.0]]"
    with pytest.raises(TypeError, match="dict"):
        notebook.py_literal({"a": 1})


def test_answer_form_describes_each_answer_type():
    forms = {i.id: notebook.answer_form(i) for i in student_instances(make_spec("T", 1, IDS), "x")}
    assert forms["losses.multiclass-hinge"] == "a list of 4 numbers: L1, L2, L3, then the result"
    assert forms["regularization.l2-step"] == "a list of 3 numbers"
    assert forms["losses.outlier-gradient"].startswith('one option key: "a", "b"')
    assert forms["losses.log-cosh-code"] == "a function named `log_cosh`"
    assert notebook.points_label(1) == "1 point" and notebook.points_label(2.5) == "2.5 points"


def test_notebook_builders_check_their_instances():
    spec = make_spec("T", 1, IDS[:2])
    inst = student_instances(spec, "x")
    with pytest.raises(ValueError, match="expected 2 instances"):
        notebook.student_notebook(spec, Student("x"), inst[:1])
    with pytest.raises(ValueError, match="instance of"):
        notebook.instructor_notebook(spec, Student("x"), inst[::-1])
    with pytest.raises(ValueError, match="expected 2 instances"):
        handout.handout_html(spec, Student("x"), inst[:1])


# ------------------------------------------------------------------ handouts

def test_tex_converter_reads_the_short_fraction_form_as_tex_does():
    short = handout.tex_to_mathml(r"\frac13\sum_i x_i + \tfrac12 d^2")
    braced = handout.tex_to_mathml(r"\frac{1}{3}\sum_i x_i + \tfrac{1}{2} d^2")
    assert short == braced and "<mfrac>" in short and "<mn>13</mn>" not in short
    assert handout._brace_fracs(r"\frac{\frac12}{x}") == r"\frac{\frac{1}{2}}{x}"
    assert handout._brace_fracs(r"\frac\alpha2") == r"\frac{\alpha}{2}"


def test_unknown_tex_is_shown_as_source_instead_of_failing():
    assert handout.tex_to_mathml(r"\notacommand{x} < 1") == \
        '<code class="tex">\\notacommand{x} &lt; 1</code>'


def test_handout_is_self_contained_and_has_every_question(class_set):
    spec, _, out = class_set
    page = (out / "students" / "s001" / "homework-3-losses.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Student 1" in page
    assert page.count('<section class="question"') == len(IDS)
    assert "<math" in page and "<table>" in page                # MathML and the score table
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/1998/Math/MathML"', "") and "https://" not in page
    assert "(4 points)" in page and page.count('class="box"') == 4   # the choice question


def test_print_pdf_reports_a_missing_browser(tmp_path):
    with pytest.raises(FileNotFoundError, match="Chromium not found"):
        handout.print_pdf(tmp_path / "a.html", tmp_path / "a.pdf", chromium="/no/such/chromium")


@pytest.mark.slow
@pytest.mark.skipif(not Path(handout.CHROMIUM).exists(), reason="needs /usr/bin/chromium")
def test_handouts_print_to_pdf(tmp_path):
    res = generate(make_spec("T", SEED, IDS[:2]), ROSTER[:1], tmp_path / "p", pdf=True)
    pdf = tmp_path / "p" / "students" / "s000" / "t.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and "students/s000/t.pdf" in res.files


# ------------------------------------------------------------------ leaks

def test_number_tokens_cover_common_printings_and_skip_uninformative_ones():
    toks = leaks.number_tokens(-1.2345678)
    assert {"-1.2345678", "1.2345678", "-1.235", "1.23", "-1.2346", "1.2"} <= toks
    assert "0.5" not in leaks.number_tokens(0.5) and "1" not in leaks.number_tokens(1.0)
    assert "12" not in leaks.number_tokens(12.0) and "123" in leaks.number_tokens(123.0)
    assert "0.0005" in leaks.number_tokens(0.0005)       # tiny values are specific
    assert leaks.number_tokens(float("nan")) == set()


@pytest.fixture()
def one_student():
    spec = make_spec("T", SEED, IDS)
    inst = student_instances(spec, "s1")
    secrets = leaks.secrets_for(inst, [q.key for q in spec.questions],
                                seeds=(SEED, student_seed(SEED, "s1")))
    return spec, inst, secrets


def test_leak_scan_finds_each_kind_of_planted_answer(one_student):
    spec, inst, secrets = one_student
    hinge, step, choice, code = inst[0], inst[2], inst[3], inst[4]
    planted = {
        f"the mean loss is {hinge.solution:.4f} here": ("solution value", "q1"),
        f"theta becomes ({step.solution[0]:.3f}, ...)": ("solution value", "q3"),
        f"<mo>−</mo><mn>{abs(hinge.solution):.5f}</mn>": ("solution value", "q1"),
        "### BEGIN HIDDEN TEST": ("marker", "an nbgrader hidden region"),
        "### END SOLUTION": ("marker", "an nbgrader hidden region"),
        f"assert q4_answer == '{choice.solution}'": ("solution code", "q4"),
        "    return a + np.log1p(np.exp(-2 * a)) - np.log(2)": ("solution code", "q5"),
        f"seed = {SEED}": ("seed", "a seed"),
        f"variant {student_seed(SEED, 's1')}": ("seed", "a seed"),
        f"rng = {SEED:x}": ("seed", "a seed (hex)"),
        "See the solution below.": ("marker", "the word used 1 times"),
    }
    for text, (kind, what) in planted.items():
        found = leaks.scan_text(text, secrets, "x.ipynb")
        if "SOLUTION" in text:         # the marker, and the word "solution" in it
            assert [(l.kind, l.what) for l in found] == [(kind, what), (kind, "the word used 1 times")]
        else:
            assert [(l.kind, l.what) for l in found] == [(kind, what)], text


def test_leak_scan_ignores_numbers_the_question_itself_shows(one_student):
    _, inst, secrets = one_student
    # a hex seed inside a longer hex string (a checksum) is chance, not a leak
    assert leaks.scan_text(f"checksum a{SEED:x}f", secrets) == []
    for i in inst:
        assert leaks.scan_text(i.prompt, secrets) == []
    # "0.45" inside "10.456" or "q1" inside an id are not printed answers
    secrets.numbers["0.45"] = "q9"
    assert leaks.scan_text("x = 10.456, q0.45b", secrets) == []
    assert [l.found for l in leaks.scan_text("x = -0.45.", secrets)] == ["-0.45"]


def test_visible_text_skips_nbgrader_flags_but_keeps_sources_and_outputs():
    nb = {"metadata": {"kernelspec": {"name": "python3"}}, "cells": [
        {"cell_type": "code", "id": "a", "source": ["x = ", "1"], "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "printed 0.8333"}],
         "metadata": {"nbgrader": {"solution": True, "grade_id": "q1-answer"}, "tags": ["t"]}}]}
    text = leaks.visible_text(json.dumps(nb))
    assert "x = 1" in text and "printed 0.8333" in text and "q1-answer" in text and '"t"' in text
    assert '"solution"' not in text
    with pytest.raises(ValueError):
        leaks.visible_text("{not json")


def test_unreadable_student_notebook_is_reported_not_skipped(tmp_path):
    bad = tmp_path / "x.ipynb"
    bad.write_text("{")
    assert [l.kind for l in leaks.scan_file(bad, leaks.LeakSecrets())] == ["unreadable"]
    assert leaks.scan_file(tmp_path / "x.pdf", leaks.LeakSecrets()) == []


def test_a_leaking_generator_fails_generation_and_writes_nothing(tmp_path, monkeypatch):
    # Simulate the classic mistake: the student answer cell is the instructor's one.
    monkeypatch.setattr(notebook, "_student_answer", notebook._instructor_answer)
    with pytest.raises(LeakError) as info:
        generate(make_spec("T", SEED, IDS[:2]), ROSTER[:3], tmp_path / "hw")
    assert "BEGIN SOLUTION" in str(info.value) and "nothing was written" in str(info.value)
    assert {l.kind for l in info.value.leaks} == {"marker", "solution value"}
    assert list(tmp_path.iterdir()) == []


def test_leak_error_message_is_capped():
    many = [leaks.Leak("f", "marker", "w", "x", "c")] * 25
    assert "... and 5 more" in str(LeakError(many))


# ------------------------------------------------------------------ check_assignment

def test_check_assignment_passes_a_fresh_set_and_reports_edits(class_set, tmp_path):
    _, _, out = class_set
    assert check_assignment(out).ok and check_assignment(out).files_scanned == 60
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    handout_file = copy / "students" / "s002" / "homework-3-losses.html"
    inst = student_instances(load_assignment(copy).spec, "s002")
    handout_file.write_text(handout_file.read_text() + f"<p>{inst[1].solution:.6f}</p>")
    (copy / "students" / "s004" / "homework-3-losses.ipynb").unlink()
    manifest_path = copy / "instructor" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["students"]["s009"]["fingerprints"][2] = "0" * 16     # as if the bank changed
    manifest_path.write_text(json.dumps(manifest))
    report = check_assignment(copy)
    assert not report.ok and report.changed_variants == ["s009"]
    assert report.changed_files == ["students/s002/homework-3-losses.html"]
    assert report.missing_files == ["students/s004/homework-3-losses.ipynb"]
    assert [(l.kind, l.what) for l in report.leaks] == [("solution value", "q2")]


def test_load_assignment_reads_back_spec_and_roster(class_set):
    spec, _, out = class_set
    a = load_assignment(out)
    assert a.spec == spec and list(a.roster) == ROSTER
    assert a.student("s004") == ROSTER[4] and a.student("nobody") is None


def test_cli_check_reports_a_changed_question_bank(class_set, tmp_path):
    _, _, out = class_set
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    manifest_path = copy / "instructor" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["students"]["s001"]["fingerprints"][0] = "0" * 16
    manifest_path.write_text(json.dumps(manifest))
    res = runner.invoke(app, ["assign", "check", str(copy)])
    assert res.exit_code == 1 and "now gives s001 different numbers" in res.output
    assert runner.invoke(app, ["assign", "check", str(tmp_path / "none")]).exit_code == 2


def test_load_assignment_explains_a_folder_that_is_not_a_class_set(tmp_path):
    with pytest.raises(FileNotFoundError, match="dlnotes assign generate"):
        load_assignment(tmp_path)
    (tmp_path / "instructor").mkdir()
    (tmp_path / "instructor" / "manifest.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="unknown manifest format"):
        load_assignment(tmp_path)
    (tmp_path / "instructor" / "manifest.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_assignment(tmp_path)


# ------------------------------------------------------------------ command line

def test_cli_generates_checks_and_refuses_to_overwrite(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,email\na1,Ada,ada@x\nb2,Bob,\n")
    out = tmp_path / "hw"
    args = ["assign", "generate", "--roster", str(roster), "--out", str(out), "--title", "HW 9",
            "-e", "losses.huber", "--chapter", "regularization", "--due", "2026-12-04"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "2 students" in res.output and "no leaks" in res.output and "keep private" in res.output
    manifest = json.loads((out / "instructor" / "manifest.json").read_text())
    assert not make_spec("x", manifest["assignment"]["seed"], ["losses.huber"]).guessable_seed
    assert runner.invoke(app, ["assign", "check", str(out)]).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(app, args + ["--force"]).exit_code == 0
    (out / "students" / "a1" / "hw-9.html").write_text("### BEGIN SOLUTION")
    res = runner.invoke(app, ["assign", "check", str(out)])
    assert res.exit_code == 1 and "leak:" in res.output and "changed since generation" in res.output


def test_cli_generate_from_a_spec_warns_about_a_guessable_seed(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\na1\n")
    spec = tmp_path / "hw.yaml"
    spec.write_text("title: HW\nseed: 42\nquestions: [losses.huber]\n")
    res = runner.invoke(app, ["assign", "generate", "--roster", str(roster), "--out",
                              str(tmp_path / "o"), "--spec", str(spec)])
    assert res.exit_code == 0 and "warning: the seed 42 is small enough" in res.output


@pytest.mark.parametrize("extra, message", [
    (["--spec", "hw.yaml", "--title", "T"], "either --spec or"),
    ([], "give --spec, or --title"),
    (["--title", "T", "-e", "losses.nope"], "no exercise with id 'losses.nope'"),
    (["--spec", "missing.yaml"], "does not exist"),
])
def test_cli_generate_reports_bad_options_without_a_traceback(tmp_path, extra, message):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\na1\n")
    (tmp_path / "hw.yaml").write_text("title: HW\nseed: 1\nquestions: [losses.huber]\n")
    extra = [str(tmp_path / e) if e.endswith(".yaml") else e for e in extra]
    res = runner.invoke(app, ["assign", "generate", "--roster", str(roster), "--out",
                              str(tmp_path / "o"), *extra])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_cli_prints_a_fresh_seed():
    res = runner.invoke(app, ["assign", "seed"])
    assert res.exit_code == 0 and int(res.output) >= 0
    assert res.output != runner.invoke(app, ["assign", "seed"]).output


# ------------------------------------------------------------------ real kernels, nbgrader

def test_nbgrader_validator_passes_the_solution_and_an_answered_student_notebook(class_set, tmp_path):
    """nbgrader's own Validator (what `nbgrader validate` runs), in a real kernel."""
    from nbgrader.validator import Validator

    _, _, out = class_set
    validator = Validator()
    validator.stream = io.StringIO()
    assert validator.validate(str(out / "instructor" / "solutions" / "s005.ipynb")) == {}
    # the student's version, answered in the right form: no failed and no changed cells
    student = out / "students" / "s005" / "homework-3-losses.ipynb"
    nb = nbformat.read(student, as_version=4)
    fills = {"q1-answer": "q1_answer = [1.0, 1.0, 1.0, 1.0]", "q2-answer": "q2_answer = 1.0",
             "q3-answer": "q3_answer = [0.0, 0.0, 0.0]", "q4-answer": "q4_answer = 'a'"}
    for cell in nb.cells:
        cell.source = fills.get(cell.id, cell.source)
    answered = tmp_path / "answered.ipynb"
    nbformat.write(nb, answered)
    assert validator.validate(str(answered)) == {}
    # unanswered: the four None answers fail their form checks (the starter code runs)
    assert len(validator.validate(str(student))["failed"]) == 4
    # a student who edits a locked test cell is caught by nbgrader's checksums
    nb.cells[[c.id for c in nb.cells].index("q1-tests")].source = "pass"
    nbformat.write(nb, answered)
    assert "changed" in validator.validate(str(answered))


@pytest.mark.slow
def test_all_solution_notebooks_pass_in_real_kernels_and_nbgrader_cli_agrees(class_set, tmp_path):
    """All 30 solution notebooks executed by nbclient, and the `nbgrader validate` command."""
    import subprocess
    import sys

    from nbclient import NotebookClient

    _, _, out = class_set
    for s in ROSTER:
        nb = nbformat.read(out / "instructor" / "solutions" / f"{s.id}.ipynb", as_version=4)
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]
        assert not errors, (s.id, errors)
    nbgrader = Path(sys.executable).with_name("nbgrader")
    res = subprocess.run([str(nbgrader), "validate", str(out / "instructor" / "solutions" / "s000.ipynb")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "Success! Your notebook passes all the tests." in res.stdout


def test_the_readme_variants_example_is_valid(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    base = re.search(r"```yaml\n(title: .*?)```", readme, re.DOTALL).group(1)
    extra = re.search(r"```yaml\n(variants:.*?)```", readme, re.DOTALL)
    assert extra, "the README lost its replacement-variant example"
    spec = spec_from_dict(yaml.safe_load(base + extra.group(1)))
    assert spec.variants == (("s002", 1),) and spec.variant_of("s002") == 1
