"""Class rosters: a CSV file with one student per line.

The file has a header line ``student_id,name,email`` (``id`` is accepted for
``student_id``; the columns may come in any order, other columns are ignored) and one
line per student. Student ids become folder names and notebook metadata, so they may
only hold letters, digits, ``.``, ``_`` and ``-``, at most :data:`MAX_ID_LENGTH`
characters, and no two may differ only by case (they would be the same folder on a
case-insensitive file system). Names and emails may be empty.

Optional columns: ``variant`` (a non-negative integer: 1, 2, ... give that student a new
variant, still derived from the secret seed; empty or 0 is the normal one), and for the
Canvas export ``section``, ``canvas_id``, ``sis_user_id``, ``sis_login_id`` (Canvas's
own spellings "Section", "SIS User ID" and "SIS Login ID" work too).

Every problem in the file is reported at once, each with its line number, in a single
:class:`RosterError` (a ``ValueError``): a roster is fixed in one go, not one error per
run. Nothing is generated from a roster with errors.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Student", "RosterError", "read_roster", "parse_roster", "check_student_id",
           "MAX_ID_LENGTH"]

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ID_COLUMNS = ("student_id", "id")
_MAX_REPORTED = 20
#: Longest student id (it names folders and files; 64 keeps every path well inside limits).
MAX_ID_LENGTH = 64
_OPTIONAL = {"section": "section", "canvas_id": "canvas_id", "canvas_user_id": "canvas_id",
             "sis_user_id": "sis_user_id", "sis_login_id": "sis_login_id", "variant": "variant"}


@dataclass(frozen=True)
class Student:
    """One line of the roster.

    Attributes
    ----------
    id : str
        Stable student id (letters, digits, ``.``, ``_``, ``-``); names the student's folder.
    name : str
        Display name for the handout ("" if the roster has none).
    email : str
        Contact address ("" if the roster has none).
    variant : int
        0 for the normal variant; 1, 2, ... for a replacement (see the module docs).
    section, canvas_id, sis_user_id, sis_login_id : str
        Canvas's identity columns for the gradebook export ("" if the roster has none).
    """

    id: str
    name: str = ""
    email: str = ""
    variant: int = 0
    section: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""

    @property
    def display_name(self) -> str:
        """The name, or the id when the roster gives no name."""
        return self.name or self.id


class RosterError(ValueError):
    """A roster that cannot be used; ``problems`` lists ``(line, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[int, str]]):
        self.source = source
        self.problems = problems
        shown = [f"  line {n}: {msg}" if n else f"  {msg}" for n, msg in problems[:_MAX_REPORTED]]
        more = len(problems) - _MAX_REPORTED
        if more > 0:
            shown.append(f"  ... and {more} more")
        super().__init__(f"bad roster {source}:\n" + "\n".join(shown))


def check_student_id(sid: str) -> str | None:
    """Why ``sid`` cannot be a student id, or None if it can."""
    if not sid:
        return "missing student id"
    if len(sid) > MAX_ID_LENGTH:
        return (f"student id {sid[:20]!r}... is {len(sid)} characters long; at most "
                f"{MAX_ID_LENGTH} are allowed (it becomes a folder name)")
    if not _ID_RE.match(sid):
        return (f"student id {sid!r} may only contain letters, digits, '.', '_' and '-' "
                "(it becomes a folder name)")
    return None


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")      # a BOM is what spreadsheet programs write
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise RosterError(source, [(line, f"byte 0x{data[exc.start]:02x} is not UTF-8; save the "
                                          "roster as CSV UTF-8")]) from None


def _sniff_delimiter(header: str) -> str | None:
    """The delimiter a header line seems to use, if it is not a comma."""
    if "," in header:
        return None
    for delim, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if delim in header:
            return name
    return None


def parse_roster(text: str | bytes, source: str = "<roster>") -> list[Student]:
    """Parse roster CSV text (or raw bytes, which must be UTF-8) into students, in file order.

    Raises
    ------
    RosterError
        Empty file, missing header columns, wrong delimiter, a line with the wrong number
        of fields, a missing, malformed or duplicate student id, or an email without "@";
        the message lists every problem with its line number.
    TypeError
        ``text`` is neither ``str`` nor ``bytes``.
    """
    if isinstance(text, bytes):
        text = _decode(text, source)
    if not isinstance(text, str):
        raise TypeError(f"roster text must be str or bytes, got {type(text).__name__}")
    if not text.strip():
        raise RosterError(source, [(0, "the file is empty; expected a header line "
                                       "'student_id,name,email' and one line per student")])
    lines = text.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.strip())
    other = _sniff_delimiter(lines[first])
    if other:
        raise RosterError(source, [(first + 1, f"the header is {other}-separated; the roster must "
                                               "be comma-separated (student_id,name,email)")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[tuple[int, str]] = []
    students: list[Student] = []
    first_line: dict[str, tuple[str, int]] = {}
    header: list[str] | None = None
    try:
        for row in reader:
            n = reader.line_num
            if not any(cell.strip() for cell in row):
                continue                    # blank lines are harmless
            if header is None:
                header = [c.strip().lower() for c in row]
                id_col = next((header.index(c) for c in _ID_COLUMNS if c in header), None)
                if id_col is None:
                    raise RosterError(source, [(n, "the header must name a 'student_id' column "
                                                   f"(found {', '.join(map(repr, header))})")])
                name_col = header.index("name") if "name" in header else None
                email_col = header.index("email") if "email" in header else None
                optional = {_OPTIONAL[h.replace(" ", "_")]: i for i, h in enumerate(header)
                            if h.replace(" ", "_") in _OPTIONAL}
                continue
            if len(row) != len(header):
                problems.append((n, f"expected {len(header)} fields ({','.join(header)}), "
                                    f"got {len(row)}"))
                continue
            sid = row[id_col].strip()
            name = row[name_col].strip() if name_col is not None else ""
            email = row[email_col].strip() if email_col is not None else ""
            why = check_student_id(sid)
            if why:
                problems.append((n, why))
                continue
            if sid.lower() in first_line:
                first, first_n = first_line[sid.lower()]
                problems.append((n, f"duplicate student id {sid!r} (first on line {first_n})"
                                 if first == sid else
                                 f"student id {sid!r} differs from {first!r} (line {first_n}) "
                                 "only by case; ids name folders, which some file systems "
                                 "do not tell apart"))
                continue
            if email and "@" not in email:
                problems.append((n, f"email {email!r} of {sid!r} has no '@'"))
                continue
            extra = {k: row[i].strip() for k, i in optional.items()}
            variant = extra.pop("variant", "") or "0"
            if not variant.isdigit() or len(variant) > 18:
                problems.append((n, f"variant {variant!r} of {sid!r} must be a non-negative "
                                    "integer (0 or empty: the normal variant)"))
                continue
            first_line[sid.lower()] = (sid, n)
            students.append(Student(sid, name, email, int(variant), **extra))
    except csv.Error as exc:
        problems.append((reader.line_num, f"malformed CSV: {exc}"))
    if header is not None and not students and not problems:
        problems.append((0, "the roster has a header but no students"))
    if problems:
        raise RosterError(source, problems)
    return students


def read_roster(path: str | Path) -> list[Student]:
    """Read and check a roster CSV file; see :func:`parse_roster` for the format and errors."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"roster {p} does not exist or is not a file")
    return parse_roster(p.read_bytes(), str(p))
