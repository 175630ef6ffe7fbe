"""``--roster CSV``: who should have handed in, so the gradebook can say who did not.

The roster is a CSV file with a header row naming its columns: ``id`` (required), ``name`` and ``email``
(optional; any other column is ignored, and names are matched without regard to case). UTF-8 with or without
a byte-order mark; comma-separated, or semicolon- or tab-separated as spreadsheets in some locales save it.

A roster student is matched to an entry by id (the export's student id: Gradescope's ``sid``, Canvas's user
id, Moodle's participant id; for a plain class folder, the entry's file or folder name), else by email (case
does not matter). A roster student with no entry gets a gradebook row with status ``missing`` and no score;
an entry that matches no roster student gets a warning. A matched entry's students take the roster's name (the
instructor's list is the authority: Canvas, for one, writes only a lower-cased "sortable" name) and, where the
export has none, its email; a plain class folder's entry takes the roster student it matched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graders.batch.discover import Entry
from graders.batch.lms import ExportError, Identity, identity, read_bounded

#: Largest roster read: a class of a hundred thousand with long names and emails.
MAX_ROSTER_BYTES = 16 << 20
_DELIMITERS = (",", ";", "\t")


class RosterError(ValueError):
    """The roster cannot be read: bad usage, said before anything is graded."""


def parse_roster(text: str) -> list[Identity]:
    """The students of a roster's text, in its order; RosterError naming the line that is wrong."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    header = lines[0] if lines else ""
    delimiter = next((d for d in _DELIMITERS if d in header), ",")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not rows:
        raise RosterError("the roster is empty: it needs a header row with an id column")
    columns = [cell.strip().casefold() for cell in rows[0]]
    if "id" not in columns:
        raise RosterError(f"the roster's header row has no id column (it has: {', '.join(rows[0]) or 'nothing'})")
    where = {name: columns.index(name) for name in ("id", "name", "email") if name in columns}
    students, seen = [], set()
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {name: row[index].strip() if index < len(row) else "" for name, index in where.items()}
        if not values["id"]:
            raise RosterError(f"roster line {number} has no id")
        if values["id"] in seen:
            raise RosterError(f"roster line {number}: id {values['id']} is listed twice")
        seen.add(values["id"])
        students.append(identity(values["id"], values.get("name", ""), values.get("email", "")))
    return students


def read_roster(path: Path) -> list[Identity]:
    """The students of the roster file at ``path`` (see the module docstring)."""
    try:
        data = read_bounded(path, MAX_ROSTER_BYTES, f"roster {path}")
    except ExportError as exc:
        raise RosterError(str(exc)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(f"roster {path} is not UTF-8 text (byte {exc.start}): save it as CSV UTF-8") from None
    return parse_roster(text)


@dataclass(frozen=True)
class RosterCheck:
    #: roster students no entry belongs to, in roster order
    missing: list[Identity]
    #: one sentence per entry that matches no roster student
    warnings: list[str]
    #: entry name -> its students completed from the roster (only entries that matched one)
    identities: dict[str, tuple[Identity, ...]]


def _keys(entry: Entry) -> tuple[set[str], set[str]]:
    """The ids and emails (case-folded) an entry can be matched by."""
    if not entry.students:
        stem = entry.source.rsplit(".", 1)[0] if entry.path.is_file() else entry.source
        return {entry.name, stem}, set()
    return ({s.id for s in entry.students if s.id},
            {s.email.casefold() for s in entry.students if s.email})


def _completed(entry: Entry, by_id: dict[str, Identity], by_email: dict[str, Identity]) -> tuple[Identity, ...]:
    """The entry's students with what the roster knows of them (see the module docstring)."""
    if not entry.students:
        ids, _ = _keys(entry)
        return tuple(by_id[key] for key in sorted(ids) if key in by_id)[:1]
    completed = []
    for student in entry.students:
        known = by_id.get(student.id) or (by_email.get(student.email.casefold()) if student.email else None)
        completed.append(student if known is None else
                         Identity(student.id or known.id, known.name or student.name, student.email or known.email))
    return tuple(completed)


def check_roster(roster: Sequence[Identity], entries: Sequence[Entry]) -> RosterCheck:
    """Who on the roster handed nothing in, which entries are not on the roster, and the students of those that
    are, completed from it."""
    by_id = {student.id: student for student in roster}
    by_email = {student.email.casefold(): student for student in roster if student.email}
    present_ids: set[str] = set()
    present_emails: set[str] = set()
    warnings = []
    identities = {}
    for entry in entries:
        entry_ids, entry_emails = _keys(entry)
        present_ids |= entry_ids
        present_emails |= entry_emails
        if not (entry_ids & by_id.keys() or entry_emails & by_email.keys()):
            who = ", ".join(s.label for s in entry.students)
            warnings.append(f"{entry.name}{f' ({who})' if who else ''} is not on the roster")
        else:
            identities[entry.name] = _completed(entry, by_id, by_email)
    missing = [s for s in roster if s.id not in present_ids and not (s.email and s.email.casefold() in present_emails)]
    return RosterCheck(missing, warnings, identities)
