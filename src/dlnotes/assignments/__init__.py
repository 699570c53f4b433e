"""Instructor assignments from the question bank: per-student variants, keys and grading.

The workflow (the ``dlnotes assign`` and ``dlnotes grade`` commands wrap it)::

    from dlnotes import assignments as A

    spec = A.load_spec("hw3.yaml")                 # or A.make_spec(title, seed, ids)
    roster = A.read_roster("class.csv")            # student_id,name,email
    A.generate(spec, roster, "hw3")                # notebooks, handouts, key, manifest
    report = A.grade("hw3", "submissions/", "grades/")   # grades.csv, feedback/<id>.md

Modules: ``spec`` (what is asked), ``roster`` (who), ``variants`` (whose
numbers), ``notebook`` and ``handout`` (what they get), ``leaks`` (that it
holds no answer), ``generate`` (the class set), ``sandbox`` (running a student's
code in a bubblewrap sandbox), ``grading`` (scores and feedback) and ``exports``
(safe CSV, the Canvas gradebook file, the per-question report).
"""

from .generate import (Assignment, CheckReport, GenerationResult, check_assignment, generate,
                       load_assignment)
from .grading import GradeReport, Limits, QuestionResult, StudentResult, grade
from .leaks import Leak, LeakError
from .roster import MAX_ID_LENGTH, RosterError, Student, parse_roster, read_roster
from .sandbox import (Isolation, SandboxError, SandboxUnavailable, bubblewrap,
                      unsafe_no_sandbox)
from .spec import (AssignmentSpec, Question, load_spec, make_spec, new_seed, select_exercises,
                   spec_from_dict)
from .variants import student_instances, student_seed

__all__ = [
    "AssignmentSpec", "Question", "load_spec", "make_spec", "new_seed", "select_exercises",
    "spec_from_dict", "Student", "RosterError", "read_roster", "parse_roster", "student_seed",
    "student_instances", "generate", "GenerationResult", "load_assignment", "Assignment",
    "check_assignment", "CheckReport", "Leak", "LeakError", "grade", "GradeReport", "Limits",
    "StudentResult", "QuestionResult", "MAX_ID_LENGTH", "Isolation", "SandboxError",
    "SandboxUnavailable", "bubblewrap", "unsafe_no_sandbox",
]
