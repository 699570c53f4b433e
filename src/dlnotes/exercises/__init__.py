r"""The question bank: parametrised exercises with solutions computed by ``dlnotes``.

Every exercise is registered under a **stable id** (``"<chapter>.<name>"``; never
renamed once published, because assignments refer to it) with its chapter, topic,
points and answer type. Calling it with a seed gives an :class:`ExerciseInstance`: the
prompt (Markdown with math), the parameters, the solution computed by the package, a
worked explanation, and :meth:`ExerciseInstance.check` which grades an answer.

Answer types:

* ``"numeric"``: a number or an array; graded with a relative/absolute tolerance;
* ``"choice"``: one option key (``"a"``, ``"b"``, ...);
* ``"code"``: Python source defining a named function; graded by calling it on test
  inputs and comparing with the ``dlnotes`` reference.

The same seed always gives the same instance, on any machine: the random generator is
seeded with ``(seed, hash(id))`` using SHA-256, not Python's salted ``hash``.

**Partial credit.** A numeric exercise may declare its intermediate results as
``Part`` objects (``Variant.parts``: a label, the value, a weight). Its answer is then the
parts followed by the final result (:attr:`ExerciseInstance.answer`, e.g. the three
per-sample losses and their mean); the final result right earns every point, as before,
and otherwise each right part earns its weight's share. The final result alone is still
accepted (all or nothing). Exercises without parts grade exactly as before.

Feedback for graded work (``check(answer, reveal=False)``) names what is wrong (a part's
label, the number of tests passed, the exception a function raised) but never an expected
value.

>>> from dlnotes import exercises
>>> ex = exercises.get("losses.multiclass-hinge")
>>> inst = ex(seed=3)
>>> inst.check(inst.solution).correct
True
"""

from __future__ import annotations

import hashlib
import html as _html
import math
import numbers
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "ANSWER_TYPES", "Variant", "Part", "Exercise", "ExerciseInstance", "Grade", "exercise",
    "get", "all_exercises", "for_chapter", "render_markdown", "render_html", "ExerciseSet",
    "show",
]

ANSWER_TYPES = ("numeric", "choice", "code")
_REGISTRY: dict[str, "Exercise"] = {}


@dataclass(frozen=True)
class Grade:
    """The result of grading one answer.

    Attributes
    ----------
    score : float
        Points awarded, between 0 and ``points``.
    points : float
        Points possible.
    correct : bool
    feedback : str
        One sentence for the student.
    """

    score: float
    points: float
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Part:
    """One intermediate result of a numeric exercise that earns partial credit.

    ``value`` is a number or a list of numbers; ``weight`` (> 0) is its share of the
    points relative to the other parts when the final result is wrong.
    """

    label: str
    value: Any
    weight: float = 1.0


@dataclass(frozen=True)
class Variant:
    """What an exercise generator returns for one random draw.

    ``solution`` must be JSON-serialisable (float, list of floats, option key, or for
    code exercises the reference source). For code exercises ``tests`` is a list of
    ``(args, expected)`` pairs and ``function`` the name the student must define.
    """

    prompt: str
    params: dict
    solution: Any
    explanation: str
    choices: dict[str, str] | None = None
    rtol: float = 1e-3
    atol: float = 1e-6
    function: str | None = None
    tests: list[tuple[tuple, Any]] | None = None
    starter: str | None = None
    parts: tuple[Part, ...] | None = None


@dataclass(frozen=True)
class ExerciseInstance:
    """One concrete exercise: prompt, parameters, solution and grader."""

    id: str
    title: str
    chapter: str
    topic: str
    points: float
    answer_type: str
    seed: int
    prompt: str
    params: dict
    solution: Any
    explanation: str
    choices: dict[str, str] | None = None
    rtol: float = 1e-3
    atol: float = 1e-6
    function: str | None = None
    tests: list | None = field(default=None, repr=False)
    starter: str | None = None
    parts: tuple[Part, ...] | None = None

    @property
    def answer(self) -> Any:
        """The complete answer, as students give it.

        ``solution``, or for an exercise with parts every part's value followed by the
        solution, as one flat list of numbers.
        """
        if not self.parts:
            return self.solution
        flat = [float(v) for p in self.parts for v in np.ravel(np.asarray(p.value, dtype=float))]
        return flat + [float(v) for v in np.ravel(np.asarray(self.solution, dtype=float))]

    def check(self, answer: Any, *, reveal: bool = True) -> Grade:
        """Grade ``answer``; never raises on a malformed answer (it scores 0 with a reason).

        With ``reveal=False`` (what assignment grading uses) the feedback never contains an
        expected value: a failing code test is named by its number, not its input and
        output. The default suits self-study with the book's public seeds.
        """
        if self.answer_type == "numeric":
            return self._check_numeric(answer) if not self.parts else self._check_parts(answer)
        if self.answer_type == "choice":
            return self._check_choice(answer)
        return self._check_code(answer, reveal)

    def _grade(self, ok: bool, feedback: str) -> Grade:
        return Grade(self.points if ok else 0.0, self.points, ok, feedback)

    def _numbers(self, answer: Any, scalar: bool) -> np.ndarray:
        """The numbers of an answer (text "1, 2; 3", a list, an array); ValueError if none."""
        if isinstance(answer, str):
            text = answer.strip().strip("[]()")
            parts = [p for p in text.replace(";", ",").replace(",", " ").split()]
            value = np.array([float(p) for p in parts], dtype=float)
            return value.reshape(()) if value.size == 1 and scalar else value
        return np.asarray(answer, dtype=float)

    def _check_parts(self, answer: Any) -> Grade:
        assert self.parts is not None
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            return self._grade(False, "No answer given.")
        try:
            value = self._numbers(answer, False).ravel()
        except (TypeError, ValueError):
            return self._grade(False, f"Could not read a number from {str(answer)[:40]!r}.")
        final = np.ravel(np.asarray(self.solution, dtype=float))
        if value.size == final.size:           # the final result alone: all or nothing
            return self._check_numeric(answer)
        full = np.asarray(self.answer, dtype=float)
        if value.size != full.size:
            return self._grade(False, f"Expected {full.size} numbers "
                                      f"({', '.join(p.label for p in self.parts)} and the result) "
                                      f"or just the result, got {value.size}.")
        if not np.all(np.isfinite(value)):
            return self._grade(False, "The answer contains NaN or infinity.")

        def close(got, want):
            return bool(np.allclose(got, want, rtol=self.rtol, atol=self.atol))

        if close(value[-final.size:], final):
            return self._grade(True, "Correct.")
        earned, wrong, start = 0.0, [], 0
        for p in self.parts:
            n = int(np.size(p.value))
            if close(value[start:start + n], np.ravel(np.asarray(p.value, dtype=float))):
                earned += p.weight
            else:
                wrong.append(p.label)
            start += n
        frac = earned / sum(p.weight for p in self.parts)
        right = len(self.parts) - len(wrong)
        feedback = (f"The result is not within tolerance; {right} of {len(self.parts)} steps "
                    f"are right" + (f" (not: {', '.join(wrong)})" if wrong else "") + ".")
        return Grade(round(self.points * frac, 6), self.points, False, feedback)

    def _check_numeric(self, answer: Any) -> Grade:
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            return self._grade(False, "No answer given.")
        try:
            value = self._numbers(answer, np.ndim(self.solution) == 0)
        except (TypeError, ValueError):
            return self._grade(False, f"Could not read a number from {str(answer)[:40]!r}.")
        expected = np.asarray(self.solution, dtype=float)
        if value.shape != expected.shape:
            if value.size == expected.size:
                value = value.reshape(expected.shape)
            else:
                return self._grade(False, f"Expected {expected.size} number(s), got {value.size}.")
        if not np.all(np.isfinite(value)):
            return self._grade(False, "The answer contains NaN or infinity.")
        ok = bool(np.allclose(value, expected, rtol=self.rtol, atol=self.atol))
        return self._grade(ok, "Correct." if ok else "Not within tolerance of the solution.")

    def _check_choice(self, answer: Any) -> Grade:
        if answer is None:
            return self._grade(False, "No answer given.")
        assert self.choices is not None
        raw = str(answer).strip().lower()
        texts = {v.strip().lower(): k for k, v in self.choices.items()}
        # an option's full text ("L2 (squared error)"), else its key written as "b", "(b)" or "b."
        key = texts.get(raw, raw.strip("()."))
        if key not in self.choices:
            return self._grade(False, f"{str(answer)[:40]!r} is not one of the options "
                                      f"{', '.join(self.choices)}.")
        ok = key == self.solution
        return self._grade(ok, "Correct." if ok else "That option is not the right one.")

    def is_unchanged_starter(self, source: str) -> bool:
        """True if ``source`` is this code exercise's starter code, untouched."""
        return bool(self.starter) and isinstance(source, str) and _same_code(source, self.starter)

    def _check_code(self, answer: Any, reveal: bool = False) -> Grade:
        fn = answer
        if self.is_unchanged_starter(answer):
            # the starter runs and may pass the easy tests, but it is not an answer
            return self._grade(False, "The starter code is unchanged.")
        if isinstance(answer, str):
            namespace: dict[str, Any] = {"np": np, "numpy": np, "math": math}
            try:
                exec(compile(answer, "<answer>", "exec"), namespace)  # noqa: S102
            except Exception as exc:  # the student's code, any error is a wrong answer
                return self._grade(False, f"The code does not run: {type(exc).__name__}: {exc}")
            fn = namespace.get(self.function or "")
        if not callable(fn):
            return self._grade(False, f"Define a function named {self.function!r}.")
        assert self.tests is not None
        passed = 0
        first_failure = ""
        for number, (args, expected) in enumerate(self.tests, 1):
            why = ""
            try:
                with np.errstate(all="ignore"):
                    got = np.asarray(fn(*[np.array(a) if isinstance(a, list) else a for a in args]),
                                     dtype=float)
                ok = got.shape == np.shape(expected) and bool(
                    np.allclose(got, expected, rtol=self.rtol, atol=self.atol))
                if not ok:
                    why = (f"returned shape {got.shape}, not {np.shape(expected)}"
                           if got.shape != np.shape(expected) else "returned wrong values")
            except Exception as exc:
                ok = False
                got = f"{type(exc).__name__}: {exc}"
                why = f"raised {str(got)[:200]}"
            if ok:
                passed += 1
            elif not first_failure:
                if reveal:
                    first_failure = (f" First failing input: {args!r} gave {got!r}, "
                                     f"expected {expected!r}.")
                else:
                    # Test 1 is the input of the notebook's own test cell; the others are hidden.
                    which = "test 1 (the input in the test cell)" if number == 1 else f"hidden test {number}"
                    first_failure = f" First failing: {which} {why}."
        frac = passed / len(self.tests)
        score = round(self.points * frac, 6)
        return Grade(score, self.points, passed == len(self.tests),
                     f"{passed} of {len(self.tests)} tests passed." + first_failure)

    def to_dict(self, include_solution: bool = True) -> dict:
        """A JSON-serialisable description (without the solution if asked)."""
        d = {"id": self.id, "title": self.title, "chapter": self.chapter, "topic": self.topic,
             "points": self.points, "answer_type": self.answer_type, "seed": self.seed,
             "prompt": self.prompt, "params": self.params, "choices": self.choices,
             "function": self.function, "starter": self.starter}
        if include_solution:
            d["solution"] = self.solution
            d["explanation"] = self.explanation
        return d


def _same_code(a: str, b: str) -> bool:
    """Equal up to blank lines and trailing spaces (an untouched starter, re-saved)."""
    def norm(src: str) -> list[str]:
        return [line.rstrip() for line in src.strip().splitlines() if line.strip()]
    return norm(a) == norm(b)


def _id_key(exercise_id: str) -> int:
    return int.from_bytes(hashlib.sha256(exercise_id.encode()).digest()[:8], "little")


@dataclass(frozen=True)
class Exercise:
    """A registered exercise generator. Call it with a seed to get an instance."""

    id: str
    title: str
    chapter: str
    topic: str
    points: float
    answer_type: str
    generate: Callable[[np.random.Generator], Variant] = field(repr=False)

    def __call__(self, seed: int = 0) -> ExerciseInstance:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        rng = np.random.default_rng([int(seed), _id_key(self.id)])
        v = self.generate(rng)
        if not isinstance(v, Variant):
            raise TypeError(f"exercise {self.id!r}: generator must return a Variant")
        if self.answer_type == "choice" and (not v.choices or v.solution not in v.choices):
            raise ValueError(f"exercise {self.id!r}: the solution must be one of the choice keys")
        if self.answer_type == "code" and (not v.function or not v.tests):
            raise ValueError(f"exercise {self.id!r}: code exercises need function and tests")
        if v.parts and (self.answer_type != "numeric" or
                        not all(isinstance(p, Part) and p.weight > 0 for p in v.parts)):
            raise ValueError(f"exercise {self.id!r}: parts must be Part objects with positive "
                             "weights, for numeric exercises only")
        return ExerciseInstance(
            id=self.id, title=self.title, chapter=self.chapter, topic=self.topic,
            points=self.points, answer_type=self.answer_type, seed=int(seed),
            prompt=textwrap.dedent(v.prompt).strip(), params=v.params, solution=v.solution,
            explanation=textwrap.dedent(v.explanation).strip(), choices=v.choices,
            rtol=v.rtol, atol=v.atol, function=v.function, tests=v.tests, starter=v.starter,
            parts=tuple(v.parts) if v.parts else None)


def exercise(id: str, *, title: str, chapter: str, topic: str, points: float,
             answer_type: str) -> Callable[[Callable[[np.random.Generator], Variant]], Exercise]:
    """Decorator that registers a generator ``gen(rng) -> Variant`` under ``id``."""
    if answer_type not in ANSWER_TYPES:
        raise ValueError(f"answer_type must be one of {ANSWER_TYPES}, got {answer_type!r}")
    if not id.startswith(chapter + "."):
        raise ValueError(f"exercise id {id!r} must start with its chapter {chapter!r} and a dot")
    if not isinstance(points, numbers.Real) or points <= 0:
        raise ValueError(f"points must be a positive number, got {points!r}")

    def register(gen: Callable[[np.random.Generator], Variant]) -> Exercise:
        if id in _REGISTRY:
            raise ValueError(f"exercise id {id!r} is already registered")
        ex = Exercise(id, title, chapter, topic, float(points), answer_type, gen)
        _REGISTRY[id] = ex
        return ex

    return register


def _load_all() -> None:
    # Importing a chapter's module registers its exercises; every module in this package
    # is a chapter's, so adding a chapter needs no edit here.
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def get(exercise_id: str) -> Exercise:
    """The exercise registered under ``exercise_id``."""
    _load_all()
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        raise KeyError(f"no exercise with id {exercise_id!r}; known ids: "
                       f"{', '.join(sorted(_REGISTRY))}") from None


def all_exercises() -> list[Exercise]:
    """Every registered exercise, sorted by id."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def for_chapter(chapter: str) -> list[Exercise]:
    """The exercises of one chapter, in the order they were registered."""
    _load_all()
    found = [e for e in _REGISTRY.values() if e.chapter == chapter]
    if not found:
        chapters = sorted({e.chapter for e in _REGISTRY.values()})
        raise KeyError(f"no exercises for chapter {chapter!r}; chapters: {', '.join(chapters)}")
    return found


# ------------------------------------------------------------------------ rendering

def _solution_text(inst: ExerciseInstance) -> str:
    if inst.answer_type == "numeric" and inst.parts:
        return ", ".join(f"{p.label} = " + ", ".join(f"{v:.6g}" for v in np.ravel(p.value))
                         for p in inst.parts) + "; result " + ", ".join(
            f"{v:.6g}" for v in np.ravel(inst.solution))
    if inst.answer_type == "numeric":
        sol = np.asarray(inst.solution, dtype=float)
        if sol.ndim == 0:
            return f"{float(sol):.6g}"
        return "(" + ", ".join(f"{v:.6g}" for v in sol.ravel()) + ")"
    if inst.answer_type == "choice":
        assert inst.choices is not None
        return f"({inst.solution}) {inst.choices[inst.solution]}"
    return "see the reference implementation below"


def _body_markdown(inst: ExerciseInstance) -> str:
    out = [inst.prompt]
    if inst.choices:
        out.append("\n".join(f"- **({k})** {v}" for k, v in inst.choices.items()))
    if inst.answer_type == "code" and inst.starter:
        out.append("```python\n" + inst.starter.strip() + "\n```")
    return "\n\n".join(out)


def render_markdown(inst: ExerciseInstance, number: int | str | None = None,
                    solution: bool = True) -> str:
    """MyST Markdown for the book: title, prompt, and the solution in a dropdown."""
    label = f"Exercise {number}" if number is not None else "Exercise"
    head = (f"**{label}: {inst.title}** "
            f"<span class=\"dlnotes-exercise-meta\">({inst.points:g} points · `{inst.id}` · "
            f"seed {inst.seed})</span>")
    parts = [head, _body_markdown(inst)]
    if solution:
        parts.append(f"::::{{dropdown}} Solution\n**Answer:** {_solution_text(inst)}\n\n"
                     f"{inst.explanation}\n::::")
    return "\n\n".join(parts)


def _markdown_to_html(text: str) -> str:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": True}).enable("table").use(
        dollarmath_plugin, allow_labels=False,
        renderer=lambda content, opts: (rf"\[{_html.escape(content)}\]" if opts.get("display_mode")
                                        else rf"\({_html.escape(content)}\)"))
    return md.render(text)


def render_html(inst: ExerciseInstance, number: int | str | None = None,
                solution: bool = True) -> str:
    """Plain HTML for Jupyter: the solution sits in a ``<details>`` element."""
    label = f"Exercise {number}" if number is not None else "Exercise"
    out = [f"<p><strong>{label}: {_html.escape(inst.title)}</strong> "
           f"<small>({inst.points:g} points · <code>{inst.id}</code> · seed {inst.seed})</small></p>",
           _markdown_to_html(_body_markdown(inst))]
    if solution:
        out.append("<details><summary>Solution</summary>"
                   + _markdown_to_html(f"**Answer:** {_solution_text(inst)}\n\n{inst.explanation}")
                   + "</details>")
    return "\n".join(out)


class ExerciseSet:
    """Several instances displayed together: MyST Markdown in the book, HTML in Jupyter."""

    def __init__(self, instances: Sequence[ExerciseInstance], solutions: bool = True,
                 start: int = 1):
        self.instances = list(instances)
        self.solutions = solutions
        self.start = start

    def _repr_markdown_(self) -> str:
        return "\n\n".join(render_markdown(inst, i, self.solutions)
                           for i, inst in enumerate(self.instances, self.start))

    def _repr_html_(self) -> str:
        return "<hr>".join(render_html(inst, i, self.solutions)
                           for i, inst in enumerate(self.instances, self.start))


def show(chapter: str | None = None, ids: Iterable[str] | None = None, seed: int = 0,
         solutions: bool = True) -> ExerciseSet:
    """The exercises of a chapter (or the given ids) as a displayable :class:`ExerciseSet`."""
    if (chapter is None) == (ids is None):
        raise ValueError("give exactly one of chapter= or ids=")
    exs = for_chapter(chapter) if chapter is not None else [get(i) for i in ids]  # type: ignore[union-attr]
    return ExerciseSet([e(seed) for e in exs], solutions)
