"""Generate a class set: per-student notebooks and handouts, solutions, answer key, manifest.

Layout of the output folder (``students/`` is handed out, ``instructor/`` is private:
it holds the seed, and with it every answer)::

    OUT/
      students/<id>/<name>.ipynb          the student's notebook (nbgrader metadata)
      students/<id>/<name>.html           the printable handout (and .pdf with pdf=True)
      instructor/solutions/<id>.ipynb     the instructor's version: solutions, hidden tests
      instructor/answer_key.csv           one row per student and question
      instructor/answer_key.json          the same with parameters and explanations
      instructor/assignment.yaml          the spec (with the seed): regenerates this set
      instructor/manifest.json            spec, roster, versions, variant fingerprints,
                                          SHA-256 of every file

Everything is written into a temporary sibling folder and moved into place only after
the leak check passed, so a failed run leaves nothing behind. A new folder appears whole.
With ``force=True`` an existing class set is updated file by file: the files its old
manifest lists are replaced or removed, and nothing else in the folder is touched (a
``submissions/`` or ``grades/`` folder kept inside it stays); a file in the way that
the old manifest does not list stops generation before anything changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml

from .. import __version__
from .. import exercises as bank
from . import handout as _handout
from . import notebook as _nb
from .exports import csv_text
from .leaks import Leak, LeakError, scan_file, secrets_for
from .roster import Student, check_student_id
from .spec import AssignmentSpec, spec_from_dict
from .variants import fingerprint, shared_variants, student_instances, student_seed

__all__ = ["GenerationResult", "Assignment", "CheckReport", "generate", "load_assignment",
           "check_assignment", "MANIFEST", "FORMAT"]

MANIFEST = Path("instructor") / "manifest.json"
FORMAT = "dlnotes-assignment/1"


@dataclass
class GenerationResult:
    """What :func:`generate` wrote.

    Attributes
    ----------
    out_dir : Path
    files : dict
        Relative POSIX path -> SHA-256 hex digest, for every file but the manifest.
    students : int
    shared_variants : list of list of str
        Groups of students who got identical numbers in every question (usually none).
    warnings : list of str
        Things the instructor should know (guessable seed, shared variants).
    leaks_checked : int
        Number of student files the leak check scanned.
    changed_students : list of str, optional
        When an existing set was replaced: the students whose handed-out files changed
        (for example after a replacement variant); None for a new set.
    """

    out_dir: Path
    files: dict[str, str]
    students: int
    shared_variants: list[list[str]]
    warnings: list[str] = field(default_factory=list)
    leaks_checked: int = 0
    changed_students: list[str] | None = None


@dataclass(frozen=True)
class Assignment:
    """A generated assignment as read back from its manifest (what grading needs)."""

    out_dir: Path
    spec: AssignmentSpec
    roster: tuple[Student, ...]
    fingerprints: dict[str, list[str]]
    manifest: dict

    def student(self, student_id: str) -> Student | None:
        """The roster entry of ``student_id``, or None."""
        return next((s for s in self.roster if s.id == student_id), None)


@dataclass
class CheckReport:
    """Result of :func:`check_assignment`: empty lists mean all is well."""

    leaks: list[Leak]
    changed_files: list[str]
    missing_files: list[str]
    changed_variants: list[str]
    files_scanned: int

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not (self.leaks or self.changed_files or self.missing_files or self.changed_variants)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _answer_text(inst: bank.ExerciseInstance) -> str:
    if inst.answer_type == "numeric":
        return (repr(float(inst.answer)) if np.ndim(inst.answer) == 0
                else json.dumps(np.asarray(inst.answer, dtype=float).tolist()))
    return str(inst.solution)


def _check_roster(roster: Sequence[Student]) -> list[Student]:
    students = list(roster)
    if not students:
        raise ValueError("the roster has no students")
    bad = [s for s in students if not isinstance(s, Student)]
    if bad:
        raise TypeError(f"roster entries must be Student objects, got {type(bad[0]).__name__}")
    seen: dict[str, str] = {}
    for s in students:
        why = check_student_id(s.id) if isinstance(s.id, str) else "a student id must be text"
        if why:
            raise ValueError(f"roster: {why}")
        if s.id.lower() in seen:
            raise ValueError(f"duplicate student id {s.id!r} in the roster"
                             + ("" if seen[s.id.lower()] == s.id else
                                f" (same as {seen[s.id.lower()]!r} except for case)"))
        seen[s.id.lower()] = s.id
    return students


def _prepare_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"{out} exists; pass force=True (--force) to replace it")
        if not (out / MANIFEST).is_file():
            # --force must never wipe a folder that is not a class set (a typo, a home folder).
            raise FileExistsError(f"{out} is not empty and holds no {MANIFEST}; refusing to "
                                  "replace a folder that dlnotes did not generate")


def _old_files(out: Path) -> dict[str, str] | None:
    """The files (and digests) the manifest of the class set in ``out`` lists, or None."""
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise FileExistsError(f"{path} is not a readable manifest; refusing to replace "
                              f"{out}") from None
    return {str(k): str(v) for k, v in files.items()}


def _install(tmp: Path, out: Path) -> list[str] | None:
    """Move the finished ``tmp`` folder to ``out``.

    A new ``out`` is one rename. An existing class set is updated in place: only files
    listed in its old manifest are replaced or removed (never anything else). Returns the
    ids of students whose ``students/<id>/`` files changed, or None for a new set.
    """
    os.chmod(tmp, 0o755)
    if not out.exists() or not any(out.iterdir()):
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
        return None
    old = _old_files(out) or {}
    new = {str(p.relative_to(tmp).as_posix()) for p in tmp.rglob("*") if p.is_file()}
    owned = set(old) | {MANIFEST.as_posix()}
    in_the_way = sorted(rel for rel in new if rel not in owned and (out / rel).exists())
    if in_the_way:
        raise FileExistsError(
            f"{len(in_the_way)} file(s) in {out} that this class set did not generate would "
            f"be overwritten ({', '.join(in_the_way[:3])}{', ...' if len(in_the_way) > 3 else ''}); "
            "move them away first")
    new_digests = {rel: _sha256((tmp / rel).read_bytes()) for rel in new}
    changed = sorted({rel.split("/")[1] for rel in set(old) | new
                      if rel.startswith("students/") and old.get(rel) != new_digests.get(rel)})
    for rel in sorted(owned - new):
        with contextlib.suppress(FileNotFoundError):
            (out / rel).unlink()
    for rel in sorted(new):
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / rel, dest)
    for d in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        rel = d.relative_to(out).as_posix()
        if (rel.startswith(("students/", "instructor/solutions")) or rel in ("students",)) \
                and not any(d.iterdir()):
            d.rmdir()
    for d in (out / "instructor", out / "instructor" / "solutions"):
        if d.is_dir():
            os.chmod(d, 0o700)
    shutil.rmtree(tmp, ignore_errors=True)
    return changed


def generate(spec: AssignmentSpec, roster: Sequence[Student], out_dir: str | Path, *,
             force: bool = False, pdf: bool = False, progress: bool = False) -> GenerationResult:
    """Write the class set of ``spec`` for every student of ``roster`` into ``out_dir``.

    Parameters
    ----------
    spec : AssignmentSpec
    roster : sequence of Student
        Non-empty, distinct ids (:func:`dlnotes.assignments.read_roster`).
    out_dir : path
        Must not exist or be empty, unless ``force`` (then it must be a former class set).
    force : bool
        Replace an existing class set.
    pdf : bool
        Also print every handout to PDF with headless Chromium (about a second each).
    progress : bool
        Show a progress bar.

    Raises
    ------
    FileExistsError
        ``out_dir`` exists and may not be replaced.
    LeakError
        A student file contains an answer, a seed or a solution marker; nothing is written.
    """
    if not isinstance(spec, AssignmentSpec):
        raise TypeError(f"spec must be an AssignmentSpec, got {type(spec).__name__}")
    students = _check_roster(roster)
    out = Path(out_dir)
    _prepare_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        result = _write_all(spec, students, tmp, pdf, progress)
        result.changed_students = _install(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.out_dir = out
    return result


def _write(root: Path, rel: str, data: str | bytes, files: dict[str, str]) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.write_bytes(raw)
    files[rel] = _sha256(raw)
    return path


def _write_all(spec: AssignmentSpec, students: list[Student], root: Path, pdf: bool,
               progress: bool) -> GenerationResult:
    from tqdm.auto import tqdm

    files: dict[str, str] = {}
    leaks: list[Leak] = []
    scanned = 0
    keys = [q.key for q in spec.questions]
    key_rows: list[list[Any]] = []
    key_json: list[dict] = []
    per_student: dict[str, dict] = {}
    fingerprints: dict[str, list[str]] = {}
    for student in tqdm(students, desc="students", unit="student", disable=not progress):
        variant = spec.variant_of(student.id, student.variant)
        seed = student_seed(spec.seed, student.id, variant)
        instances = student_instances(spec, student.id, variant)
        nb_rel = f"students/{student.id}/{spec.name}.ipynb"
        html_rel = f"students/{student.id}/{spec.name}.html"
        sol_rel = f"instructor/solutions/{student.id}.ipynb"
        student_files = [
            _write(root, nb_rel, _nb.to_json(_nb.student_notebook(spec, student, instances)), files),
            _write(root, html_rel, _handout.handout_html(spec, student, instances), files),
        ]
        _write(root, sol_rel, _nb.to_json(_nb.instructor_notebook(spec, student, instances)), files)
        secrets = secrets_for(instances, keys, seeds=(spec.seed, seed))
        for path in student_files:
            leaks += scan_file(path, secrets, str(path.relative_to(root)))
            scanned += 1
        fingerprints[student.id] = [fingerprint(i) for i in instances]
        per_student[student.id] = {"variant": variant, "variant_seed": seed,
                                   "fingerprints": fingerprints[student.id],
                                   "notebook": nb_rel, "handout": html_rel, "solution": sol_rel}
        questions = []
        for q, inst in zip(spec.questions, instances):
            key_rows.append([student.id, student.name, student.email, q.key, q.exercise_id,
                             f"{q.points:g}", inst.answer_type, _answer_text(inst),
                             repr(inst.rtol), repr(inst.atol), seed, variant])
            questions.append({"key": q.key, "exercise_id": q.exercise_id, "title": inst.title,
                              "points": q.points, "answer_type": inst.answer_type,
                              "solution": inst.solution, "answer": inst.answer,
                              "rtol": inst.rtol, "atol": inst.atol,
                              "params": inst.params, "explanation": inst.explanation})
        key_json.append({"id": student.id, "name": student.name, "email": student.email,
                         "variant": variant, "variant_seed": seed, "questions": questions})
    if leaks:
        raise LeakError(leaks)
    if pdf:
        for student in tqdm(students, desc="PDF", unit="handout", disable=not progress):
            html_path = root / per_student[student.id]["handout"]
            pdf_path = _handout.print_pdf(html_path, html_path.with_suffix(".pdf"))
            rel = str(pdf_path.relative_to(root.resolve()).as_posix())
            files[rel] = _sha256(pdf_path.read_bytes())
            per_student[student.id]["pdf"] = rel

    _write(root, "instructor/answer_key.csv", csv_text(
        [["student_id", "name", "email", "question", "exercise_id", "points", "answer_type",
          "answer", "rtol", "atol", "variant_seed", "variant"], *key_rows]), files)
    # The spec as a file: `dlnotes assign generate --spec instructor/assignment.yaml`
    # regenerates this very set (same seed, same questions).
    _write(root, "instructor/assignment.yaml",
           yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True), files)
    _write(root, "instructor/answer_key.json",
           json.dumps({"assignment": spec.to_dict(), "students": key_json}, indent=1,
                      ensure_ascii=False) + "\n", files)

    shared = shared_variants(fingerprints)
    manifest = {
        "format": FORMAT,
        "generator": {"dlnotes": __version__, "numpy": np.__version__,
                      "python": platform.python_version()},
        "assignment": spec.to_dict(),
        "roster": [_roster_entry(s, spec.variant_of(s.id, s.variant)) for s in students],
        "students": per_student,
        "shared_variants": shared,
        "leak_check": {"files_scanned": scanned, "leaks": 0},
        "pdf": pdf,
        "files": dict(sorted(files.items())),
    }
    _write(root, str(MANIFEST.as_posix()), json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", {})
    # The instructor folder holds the seed and every answer: keep other accounts out.
    for path in (root / "instructor").rglob("*"):
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    os.chmod(root / "instructor", 0o700)

    warnings = []
    if spec.guessable_seed:
        warnings.append(f"the seed {spec.seed} is small enough to be found by trying them all; "
                        "anyone who finds it can regenerate every answer. Use a fresh one "
                        "(`dlnotes assign seed`) for graded work.")
    for group in shared:
        warnings.append(f"students {', '.join(group)} got the same numbers in every question")
    return GenerationResult(root, files, len(students), shared, warnings, scanned)


def _roster_entry(s: Student, variant: int) -> dict:
    entry = {"id": s.id, "name": s.name, "email": s.email}
    for key in ("section", "canvas_id", "sis_user_id", "sis_login_id"):
        if getattr(s, key):
            entry[key] = getattr(s, key)
    if variant:
        entry["variant"] = variant
    return entry


def load_assignment(out_dir: str | Path) -> Assignment:
    """Read a generated class set back from ``out_dir/instructor/manifest.json``.

    Raises ``FileNotFoundError`` if there is no manifest and ``ValueError`` if it is not
    one this version of dlnotes understands.
    """
    root = Path(out_dir)
    path = root / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no {MANIFEST} in {root}: is it a folder made by "
                                "`dlnotes assign generate`?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown manifest format "
                         f"{manifest.get('format') if isinstance(manifest, dict) else None!r} "
                         f"(expected {FORMAT!r})")
    spec = spec_from_dict(manifest["assignment"], str(path))
    roster = tuple(Student(r["id"], r.get("name", ""), r.get("email", ""),
                           int(r.get("variant", 0)), r.get("section", ""), r.get("canvas_id", ""),
                           r.get("sis_user_id", ""), r.get("sis_login_id", ""))
                   for r in manifest["roster"])
    fps = {sid: list(info["fingerprints"]) for sid, info in manifest["students"].items()}
    return Assignment(root, spec, roster, fps, manifest)


def check_assignment(out_dir: str | Path) -> CheckReport:
    """Re-check a class set before handing it out, or after copying it around.

    Scans every student file for leaks again, compares every file with its SHA-256 in the
    manifest, and regenerates every variant to check the question bank still gives the
    same numbers (if it does not, grading would use numbers the students never saw).
    """
    a = load_assignment(out_dir)
    leaks: list[Leak] = []
    changed, missing, changed_variants = [], [], []
    scanned = 0
    for rel, digest in a.manifest["files"].items():
        p = a.out_dir / rel
        if not p.is_file():
            missing.append(rel)
        elif _sha256(p.read_bytes()) != digest:
            changed.append(rel)
    keys = [q.key for q in a.spec.questions]
    for student in a.roster:
        instances = student_instances(a.spec, student.id, student.variant)
        if [fingerprint(i) for i in instances] != a.fingerprints.get(student.id):
            changed_variants.append(student.id)
        secrets = secrets_for(instances, keys, seeds=(
            a.spec.seed, student_seed(a.spec.seed, student.id, student.variant)))
        folder = a.out_dir / "students" / student.id
        for p in sorted(folder.glob("*")) if folder.is_dir() else []:
            leaks += scan_file(p, secrets, str(p.relative_to(a.out_dir)))
            scanned += 1
    return CheckReport(leaks, changed, missing, changed_variants, scanned)
