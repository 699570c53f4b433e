"""What an assignment asks: its title, due date, secret seed, and questions with points.

An assignment is chosen from the question bank (:mod:`dlnotes.exercises`) by exercise id,
chapter or topic, or written down in a YAML spec file::

    title: Homework 3 - losses and regularization
    due: 2026-12-04 23:59
    seed: 15022658373629617563      # keep it secret: see below
    questions:
      - losses.multiclass-hinge                 # an exercise id, bank points
      - id: regularization.l2-step
        points: 4                               # override the bank's points
      - chapter: optim                          # every exercise of a chapter
      - topic: cross-entropy                    # every exercise on a topic
    variants:                                   # optional: replacement variants
      s002: 1                                   # s002 gets a new variant (2, 3, ...: more)

**The seed is the key to every answer.** The bank is public, so anyone who knows the
seed and a student id can regenerate that student's variant and its solution; a small
seed (42, 2026) can even be found by trying them all against one's own numbers. Use
:func:`new_seed` (``dlnotes assign seed``) and keep the spec with the answer key.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import numbers
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from .. import exercises as bank

__all__ = ["Question", "AssignmentSpec", "select_exercises", "make_spec", "load_spec",
           "spec_from_dict", "new_seed", "GUESSABLE_SEED"]

#: Seeds below this can be found by brute force in hours on a laptop.
GUESSABLE_SEED = 2 ** 40
_SPEC_KEYS = {"title", "due", "seed", "questions", "name", "variants"}
_QUESTION_KEYS = {"id", "chapter", "topic", "points"}


@dataclass(frozen=True)
class Question:
    """One question of an assignment.

    Attributes
    ----------
    key : str
        ``"q1"``, ``"q2"``, ...: the name of the question in notebooks, CSVs and feedback.
    exercise_id : str
        The bank exercise that generates it.
    points : float
        Points it is worth (the bank's unless the spec overrides them), > 0.
    """

    key: str
    exercise_id: str
    points: float

    @property
    def number(self) -> int:
        """The question's 1-based position."""
        return int(self.key[1:])


@dataclass(frozen=True)
class AssignmentSpec:
    """A complete assignment description (immutable, JSON-serialisable via :meth:`to_dict`).

    Attributes
    ----------
    title : str
    seed : int
        Secret, non-negative; with a student id it determines that student's variants.
    questions : tuple of Question
        At least one, distinct exercise ids.
    due : str
        Free text, usually an ISO date ("" if none).
    name : str
        File-name-safe short name derived from the title unless given.
    variants : tuple of (str, int)
        Replacement variants: (student id, n >= 1) pairs, sorted by id.
    """

    title: str
    seed: int
    questions: tuple[Question, ...]
    due: str = ""
    name: str = ""
    variants: tuple[tuple[str, int], ...] = ()

    def variant_of(self, student_id: str, roster_variant: int = 0) -> int:
        """The variant number of a student: the spec's entry, else the roster's."""
        return dict(self.variants).get(student_id, roster_variant)

    @property
    def total_points(self) -> float:
        """Sum of the questions' points."""
        return float(sum(q.points for q in self.questions))

    @property
    def guessable_seed(self) -> bool:
        """True when the seed is small enough to be found by brute force (see module docs)."""
        return self.seed < GUESSABLE_SEED

    def to_dict(self) -> dict:
        """A plain dict that :func:`spec_from_dict` turns back into an equal spec."""
        d = {"title": self.title, "name": self.name, "due": self.due, "seed": self.seed,
             "questions": [{"id": q.exercise_id, "points": q.points} for q in self.questions]}
        if self.variants:
            d["variants"] = dict(self.variants)
        return d


def new_seed() -> int:
    """A fresh random 64-bit assignment seed from the operating system's CSPRNG."""
    return secrets.randbits(64)


def _slug(title: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return s[:60].strip("-") or "assignment"


def _points(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0 \
            or value != value or value == float("inf"):
        raise ValueError(f"{where}: points must be a positive number, got {value!r}")
    return float(value)


def _seed(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{where}: seed must be a non-negative integer, got {value!r}")
    return int(value)


def _due(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip()
    raise ValueError(f"{where}: due must be a date or text, got {value!r}")


def _known(values: Iterable[str]) -> str:
    return ", ".join(sorted(set(values)))


def select_exercises(ids: Sequence[str] = (), chapters: Sequence[str] = (),
                     topics: Sequence[str] = ()) -> list[str]:
    """Exercise ids chosen by id, chapter and topic, in that order, without repeats.

    Chapters contribute their exercises in the order the bank registers them; topics
    (matched case-insensitively) every exercise on that topic, sorted by id.

    Raises
    ------
    ValueError
        Nothing selected, or an unknown id, chapter or topic (the message lists the known ones).
    """
    everything = bank.all_exercises()
    chosen: list[str] = []
    for ex_id in ids:
        try:
            chosen.append(bank.get(ex_id).id)
        except KeyError:
            raise ValueError(f"no exercise with id {ex_id!r}; known ids: "
                             f"{_known(e.id for e in everything)}") from None
    for chapter in chapters:
        try:
            chosen += [e.id for e in bank.for_chapter(chapter)]
        except KeyError:
            raise ValueError(f"no exercises for chapter {chapter!r}; chapters: "
                             f"{_known(e.chapter for e in everything)}") from None
    for topic in topics:
        found = [e.id for e in everything if e.topic.lower() == topic.strip().lower()]
        if not found:
            raise ValueError(f"no exercises on topic {topic!r}; topics: "
                             f"{_known(e.topic for e in everything)}")
        chosen += found
    if not chosen:
        raise ValueError("no questions selected: give exercise ids, chapters or topics")
    return list(dict.fromkeys(chosen))


def make_spec(title: str, seed: int, exercise_ids: Sequence[str],
              points: dict[str, float] | None = None, due: Any = "",
              name: str = "") -> AssignmentSpec:
    """Build an :class:`AssignmentSpec` from exercise ids (numbered q1, q2, ... in order).

    Parameters
    ----------
    title : str
        Non-empty.
    seed : int
        Non-negative secret seed (:func:`new_seed`).
    exercise_ids : sequence of str
        Distinct registered ids, at least one.
    points : dict, optional
        Overrides of the bank's points, by exercise id.
    due : str or date, optional
    name : str, optional
        Short name for files; derived from the title when empty.
    """
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"title must be a non-empty string, got {title!r}")
    seed = _seed(seed, "assignment")
    if isinstance(exercise_ids, str) or not exercise_ids:
        raise ValueError("exercise_ids must be a non-empty list of exercise ids")
    dup = [i for i in dict.fromkeys(exercise_ids) if list(exercise_ids).count(i) > 1]
    if dup:
        raise ValueError(f"exercise {dup[0]!r} appears twice; each exercise can be asked once")
    points = dict(points or {})
    unknown = set(points) - set(exercise_ids)
    if unknown:
        raise ValueError(f"points given for exercises not in the assignment: {_known(unknown)}")
    select_exercises(ids=list(exercise_ids))          # raises on unknown ids
    questions = tuple(
        Question(f"q{i}", ex_id, _points(points[ex_id], ex_id) if ex_id in points
                 else bank.get(ex_id).points)
        for i, ex_id in enumerate(exercise_ids, 1))
    name = name.strip() if isinstance(name, str) else ""
    if name and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"name {name!r} may only contain letters, digits, '.', '_' and '-'")
    return AssignmentSpec(title.strip(), seed, questions, _due(due, "assignment"),
                          name or _slug(title))


def spec_from_dict(data: Any, source: str = "spec") -> AssignmentSpec:
    """Build a spec from the parsed YAML/JSON mapping described in the module docstring."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping with title, seed and questions, "
                         f"got {type(data).__name__}")
    extra = set(data) - _SPEC_KEYS
    if extra:
        raise ValueError(f"{source}: unknown key(s) {_known(map(str, extra))} "
                         f"(allowed: {_known(_SPEC_KEYS)})")
    for key in ("title", "seed", "questions"):
        if key not in data:
            raise ValueError(f"{source}: missing required key {key!r}")
    items = data["questions"]
    if not isinstance(items, list) or not items:
        raise ValueError(f"{source}: questions must be a non-empty list")
    ids: list[str] = []
    points: dict[str, float] = {}
    for i, item in enumerate(items):
        where = f"{source}: questions[{i}]"
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an exercise id or a mapping, got {item!r}")
        extra = set(item) - _QUESTION_KEYS
        if extra:
            raise ValueError(f"{where}: unknown key(s) {_known(map(str, extra))} "
                             f"(allowed: {_known(_QUESTION_KEYS)})")
        selectors = [k for k in ("id", "chapter", "topic") if k in item]
        if len(selectors) != 1:
            raise ValueError(f"{where}: give exactly one of id, chapter or topic")
        key = selectors[0]
        value = item[key]
        if not isinstance(value, str):
            raise ValueError(f"{where}: {key} must be text, got {value!r}")
        try:
            found = select_exercises(**{{"id": "ids", "chapter": "chapters",
                                         "topic": "topics"}[key]: [value]})
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        for ex_id in found:
            if ex_id in ids:
                raise ValueError(f"{where}: exercise {ex_id!r} is already in the assignment")
            ids.append(ex_id)
            if "points" in item:
                points[ex_id] = _points(item["points"], where)
    spec = make_spec(_title(data["title"], source), _seed(data["seed"], source), ids, points,
                     _due(data.get("due"), source), _name(data.get("name", ""), source))
    return dataclasses.replace(spec, variants=_variants(data.get("variants"), source))


def _variants(value: Any, source: str) -> tuple[tuple[str, int], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ValueError(f"{source}: variants must map student ids to variant numbers, "
                         f"got {value!r}")
    out = []
    for sid, n in value.items():
        if not isinstance(sid, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", sid):
            raise ValueError(f"{source}: variants: {sid!r} is not a student id")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"{source}: variants: {sid}: expected a non-negative integer "
                             f"(1, 2, ... for a new variant), got {n!r}")
        if n:
            out.append((sid, n))
    return tuple(sorted(out))


def _title(value: Any, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{source}: title must be non-empty text, got {value!r}")
    return value


def _name(value: Any, source: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{source}: name must be text, got {value!r}")
    return value


def load_spec(path: str | Path) -> AssignmentSpec:
    """Read an assignment spec from a YAML (or JSON) file; errors name the file and entry."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"assignment spec {p} does not exist or is not a file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: not valid YAML: {exc}") from None
    return spec_from_dict(data, str(p))
