"""The ``dlnotes`` command line (built on Typer/Click).

    dlnotes notebooks OUT_DIR          export every chapter as a Jupyter notebook
    dlnotes exercises list             list the question bank
    dlnotes exercises show ID          print one exercise (optionally with its solution)
    dlnotes exercises check ID ANSWER  grade an answer
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
