"""The ``dlnotes`` command line (built on Typer/Click).

    dlnotes notebooks OUT_DIR          export every chapter as a Jupyter notebook
    dlnotes exercises list             list the question bank
    dlnotes exercises show ID          print one exercise (optionally with its solution)
    dlnotes exercises check ID ANSWER  grade an answer
    dlnotes assign generate ...        per-student notebooks, handouts and answer key
    dlnotes assign check OUT           re-check a class set for leaks and changes
    dlnotes assign roster FILE         check a roster CSV
    dlnotes assign seed                print a fresh secret assignment seed
    dlnotes grade OUT SUBMISSIONS      grade submitted notebooks (or an answers CSV) in the
                                       bubblewrap sandbox; --student/--question regrade;
                                       writes grades, feedback, canvas.csv and report.md
    dlnotes pretrain                   re-create the transfer chapters' pre-trained CNN
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from . import __version__
from . import exercises as bank
from . import notebooks

app = typer.Typer(help="dlnotes: the package behind the textbook on training deep networks.",
                  no_args_is_help=True, add_completion=False)
ex_app = typer.Typer(help="Browse and grade the question bank.", no_args_is_help=True)
app.add_typer(ex_app, name="exercises")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlnotes {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """dlnotes command line."""


@app.command("notebooks")
def notebooks_cmd(
    out_dir: Path = typer.Argument(..., help="Folder to write the .ipynb files into."),
    book: Optional[Path] = typer.Option(None, "--book", help="Folder holding _toc.yml "
                                        "(default: the current folder or its parents)."),
    force: bool = typer.Option(False, "--force", help="Replace notebooks that already exist."),
) -> None:
    """Export every chapter of the book as an (unexecuted) Jupyter notebook."""
    try:
        written = notebooks.export(out_dir, book, overwrite=force)
    except (FileExistsError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2)
    for p in written:
        typer.echo(str(p))
    typer.echo(f"{len(written)} notebooks written to {out_dir}. Open them with: jupyter lab {out_dir}")


@ex_app.command("list")
def exercises_list(chapter: Optional[str] = typer.Option(None, help="Only this chapter.")) -> None:
    """List exercise ids with chapter, topic, points and answer type."""
    try:
        exs = bank.for_chapter(chapter) if chapter else bank.all_exercises()
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(code=2)
    for e in exs:
        typer.echo(f"{e.id:40s} {e.chapter:15s} {e.points:4g} pt  {e.answer_type:8s} {e.title}")


def _instance(exercise_id: str, seed: int):
    try:
        return bank.get(exercise_id)(seed)
    except (KeyError, ValueError) as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(code=2)


@ex_app.command("show")
def exercises_show(
    exercise_id: str = typer.Argument(..., metavar="ID"),
    seed: int = typer.Option(0, min=0, help="Variant seed."),
    solution: bool = typer.Option(False, "--solution", help="Include the solution."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of Markdown."),
) -> None:
    """Print one exercise variant."""
    inst = _instance(exercise_id, seed)
    if as_json:
        typer.echo(json.dumps(inst.to_dict(include_solution=solution), indent=2))
    else:
        typer.echo(bank.render_markdown(inst, solution=solution))


@ex_app.command("check")
def exercises_check(
    exercise_id: str = typer.Argument(..., metavar="ID"),
    answer: str = typer.Argument(..., help="The answer: a number, numbers separated by commas, "
                                 "an option key, or for code exercises a path to a .py file."),
    seed: int = typer.Option(0, min=0, help="Variant seed."),
) -> None:
    """Grade an answer to one exercise variant; exit code 0 if fully correct, 1 otherwise."""
    inst = _instance(exercise_id, seed)
    if inst.answer_type == "code":
        path = Path(answer)
        if not path.is_file():
            typer.echo(f"error: code answers are given as a .py file; {answer!r} is not a file", err=True)
            raise typer.Exit(code=2)
        answer = path.read_text(encoding="utf-8")
    grade = inst.check(answer)
    typer.echo(f"{grade.score:g}/{grade.points:g}  {grade.feedback}")
    raise typer.Exit(code=0 if grade.correct else 1)


# ------------------------------------------------------------------ assignments

assign_app = typer.Typer(help="Per-student assignments from the question bank.",
                         no_args_is_help=True)
app.add_typer(assign_app, name="assign")


def _fail(exc: BaseException, code: int = 2) -> typer.Exit:
    """Print an instructor-facing error (no traceback) and return the Exit to raise."""
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code=code)


@assign_app.command("seed")
def assign_seed() -> None:
    """Print a fresh random 64-bit seed for an assignment spec (keep it secret)."""
    from . import assignments

    typer.echo(str(assignments.new_seed()))


@assign_app.command("roster")
def assign_roster(roster: Path = typer.Argument(..., help="Roster CSV: student_id,name,email.")) -> None:
    """Check a roster CSV and print how many students it lists."""
    from . import assignments

    try:
        students = assignments.read_roster(roster)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc)
    typer.echo(f"{roster}: {len(students)} students, no problems")


@assign_app.command("generate")
def assign_generate(
    roster: Path = typer.Option(..., "--roster", help="Roster CSV: student_id,name,email."),
    out: Path = typer.Option(..., "--out", help="Folder to create for the class set."),
    spec: Optional[Path] = typer.Option(None, "--spec", help="Assignment spec (YAML): title, "
                                        "due, seed, questions. Replaces the options below."),
    title: Optional[str] = typer.Option(None, "--title", help="Assignment title."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Secret seed (default: a "
                                       "fresh random one, saved in the instructor folder)."),
    due: str = typer.Option("", "--due", help="Due date, e.g. 2026-12-04 23:59."),
    exercise: list[str] = typer.Option([], "--exercise", "-e", help="An exercise id (repeatable)."),
    chapter: list[str] = typer.Option([], "--chapter", "-c", help="Every exercise of a chapter "
                                      "(repeatable)."),
    topic: list[str] = typer.Option([], "--topic", "-t", help="Every exercise on a topic (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing class set in OUT."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print each handout to PDF (Chromium; "
                             "about a second per student)."),
) -> None:
    """Generate per-student notebooks, handouts, solutions, answer key and manifest."""
    from . import assignments

    try:
        if spec is not None:
            if title or seed is not None or due or exercise or chapter or topic:
                raise ValueError("give either --spec or --title/--seed/--due/--exercise/"
                                 "--chapter/--topic, not both")
            the_spec = assignments.load_spec(spec)
        else:
            if not title:
                raise ValueError("give --spec, or --title and the questions "
                                 "(--exercise/--chapter/--topic)")
            ids = assignments.select_exercises(exercise, chapter, topic)
            the_spec = assignments.make_spec(title, assignments.new_seed() if seed is None else seed,
                                             ids, due=due)
        students = assignments.read_roster(roster)
        result = assignments.generate(the_spec, students, out, force=force, pdf=pdf, progress=True)
    except assignments.LeakError as exc:
        raise _fail(exc, code=1)
    except (ValueError, TypeError, KeyError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        raise _fail(exc)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if result.changed_students is not None:
        changed = result.changed_students
        typer.echo(f"updated {out}: {len(changed)} student(s) got new files"
                   + (f" ({', '.join(changed[:10])}{', ...' if len(changed) > 10 else ''}); "
                      "hand out their folders again" if changed else "; nothing to hand out again"))
    typer.echo(f"{result.students} students, {len(the_spec.questions)} questions "
               f"({the_spec.total_points:g} points), leak check: {result.leaks_checked} files, no leaks.\n"
               f"  hand out: {out / 'students'}/<student_id>/ (notebook and printable handout)\n"
               f"  keep private: {out / 'instructor'}/ (seed, solutions, answer key, manifest)\n"
               f"  grade with: dlnotes grade {out} SUBMISSIONS --out GRADES")


@assign_app.command("check")
def assign_check(out: Path = typer.Argument(..., help="A class set made by `assign generate`.")) -> None:
    """Re-check a class set: leaks in student files, changed files, changed variants."""
    from . import assignments

    try:
        report = assignments.check_assignment(out)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc)
    for leak in report.leaks:
        typer.echo(f"leak: {leak}")
    for rel in report.changed_files:
        typer.echo(f"changed since generation: {rel}")
    for rel in report.missing_files:
        typer.echo(f"missing: {rel}")
    for sid in report.changed_variants:
        typer.echo(f"the question bank now gives {sid} different numbers")
    if not report.ok:
        raise typer.Exit(code=1)
    typer.echo(f"{out}: {report.files_scanned} student files, no leaks; every file and variant "
               "as generated")


@app.command("grade")
def grade_cmd(
    assignment: Path = typer.Argument(..., help="The class set made by `dlnotes assign generate`."),
    submissions: Path = typer.Argument(..., help="Folder of submitted notebooks "
                                       "(<id>.ipynb or <id>/...ipynb), or an answers CSV "
                                       "(student_id,q1,q2,...)."),
    out: Path = typer.Option(..., "--out", help="Folder for grades.csv, grades.json, feedback/, "
                             "canvas.csv and report.md."),
    time_limit: float = typer.Option(10.0, "--time-limit", min=0.1,
                                     help="Seconds per answer cell."),
    memory_mb: int = typer.Option(512, "--memory-mb", min=16,
                                  help="Memory a submission may use beyond Python + NumPy."),
    jobs: Optional[int] = typer.Option(None, "--jobs", min=1, help="Submissions graded at once "
                                       "(default: number of CPUs, at most 4)."),
    force: bool = typer.Option(False, "--force", help="Replace existing grades in OUT."),
    student: list[str] = typer.Option([], "--student", "-s", help="Regrade only this student "
                                      "(repeatable); other grades in OUT are kept."),
    question: list[str] = typer.Option([], "--question", "-q", help="Regrade only this question, "
                                       "e.g. q2 (repeatable); other grades in OUT are kept."),
    canvas_name: Optional[str] = typer.Option(None, "--canvas-name", help="Assignment column "
                                              "name in canvas.csv (default: the title)."),
    bwrap: Optional[str] = typer.Option(None, "--bwrap", help="The bubblewrap executable "
                                        "(default: $DLNOTES_BWRAP, else bwrap on the PATH)."),
    unsafe: bool = typer.Option(False, "--unsafe-no-sandbox", help="Run student code WITHOUT "
                                "the OS sandbox (only for trusted code); recorded in the grades."),
) -> None:
    """Grade submissions in the bubblewrap sandbox; write grades, feedback, Canvas CSV, report."""
    from . import assignments

    try:
        limits = assignments.Limits(seconds=time_limit, memory_mb=memory_mb)
        report = assignments.grade(assignment, submissions, out, limits=limits, jobs=jobs,
                                   force=force, progress=True, unsafe_no_sandbox=unsafe,
                                   bwrap=bwrap, students=student or None,
                                   questions=question or None, canvas_name=canvas_name)
    except assignments.SandboxUnavailable as exc:
        typer.echo(f"error: refusing to grade: {exc}", err=True)
        raise typer.Exit(code=3)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        raise _fail(exc)
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    if unsafe:
        typer.echo("warning: student code ran WITHOUT the OS sandbox (--unsafe-no-sandbox)",
                   err=True)
    typer.echo(f"{len(report.results)} students: {summary}.\n"
               f"  grades: {report.grades_csv}  (and grades.json)\n"
               f"  feedback: {report.feedback_dir}/<student_id>.md\n"
               f"  Canvas import: {report.grades_csv.parent / 'canvas.csv'}\n"
               f"  report by question: {report.grades_csv.parent / 'report.md'}")


@app.command("pretrain")
def pretrain_cmd(
    output: Optional[Path] = typer.Option(None, "--output", help="Where to write the .npz "
                                          "(default: the file the package ships, dlnotes/data/)."),
) -> None:
    """Pre-train the CNN of the transfer chapters on digits 0-4 (deterministic) and save its weights."""
    from . import transfer

    path = output or Path(__file__).resolve().parent / "data" / transfer.PRETRAINED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    transfer.pretrain_portable(path, progress=True)
    model = transfer.pretrained_cnn(path=path)
    source, _ = transfer.tasks()
    typer.echo(f"wrote {path} ({model.n_params} parameters; validation accuracy on digits 0-4: "
               f"{model.accuracy(source.X_val, source.y_val):.4f})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
