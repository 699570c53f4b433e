"""Per-student variants: a secret assignment seed and a student id give each student's numbers.

The variant seed of a student is the first 8 bytes of
``SHA-256("dlnotes-assignment-v1" NUL assignment_seed NUL student_id)``: stable across
machines and Python runs (Python's own ``hash`` is salted per process), and unrelated for
different students. Each exercise then mixes its own id into the seed (see
:mod:`dlnotes.exercises`), so one student's questions are independent draws too.

A replacement variant (roster column ``variant`` or the spec's ``variants:`` entry, an
integer n >= 1) appends ``NUL n`` to the hashed text: a new, unrelated variant for that
student only, still derived from the secret seed (so a small n gives nothing away).
"""

from __future__ import annotations

import hashlib
import json
from typing import Sequence

from .. import exercises as bank
from .spec import AssignmentSpec

__all__ = ["student_seed", "student_instances", "fingerprint", "shared_variants"]

_DOMAIN = "dlnotes-assignment-v1"


def student_seed(assignment_seed: int, student_id: str, variant: int = 0) -> int:
    """The variant seed (a 64-bit non-negative int) of one student in one assignment;
    ``variant`` n >= 1 gives that student's n-th replacement variant."""
    if isinstance(assignment_seed, bool) or not isinstance(assignment_seed, int) or assignment_seed < 0:
        raise ValueError(f"assignment_seed must be a non-negative integer, got {assignment_seed!r}")
    if not isinstance(student_id, str) or not student_id:
        raise ValueError(f"student_id must be a non-empty string, got {student_id!r}")
    if isinstance(variant, bool) or not isinstance(variant, int) or variant < 0:
        raise ValueError(f"variant must be a non-negative integer, got {variant!r}")
    text = f"{_DOMAIN}\0{assignment_seed}\0{student_id}" + (f"\0{variant}" if variant else "")
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little")


def student_instances(spec: AssignmentSpec, student_id: str,
                      variant: int = 0) -> list[bank.ExerciseInstance]:
    """The student's instance of every question of ``spec``, in question order."""
    seed = student_seed(spec.seed, student_id, variant)
    return [bank.get(q.exercise_id)(seed) for q in spec.questions]


def fingerprint(inst: bank.ExerciseInstance) -> str:
    """A short hash of an instance's exercise id and parameters (what the student sees).

    Stored in the manifest at generation; grading recomputes it to detect a question bank
    that changed since (which would grade students against numbers they never saw).
    """
    blob = json.dumps({"id": inst.id, "params": inst.params}, sort_keys=True, allow_nan=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def shared_variants(fingerprints: dict[str, Sequence[str]]) -> list[list[str]]:
    """Groups of students (ids, sorted) whose every question has the same parameters.

    ``fingerprints`` maps student id to that student's question fingerprints, in order.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for sid, fps in fingerprints.items():
        groups.setdefault(tuple(fps), []).append(sid)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)
