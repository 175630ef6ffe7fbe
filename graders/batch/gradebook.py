"""gradebook.csv: one row per student, ready for a spreadsheet or an LMS grade import.

Format decisions (WHY each):

* **UTF-8 with a byte-order mark.** Excel opens a CSV without a BOM in the machine's ANSI code page, which
  turns ``Zoë`` into ``ZoÃ«``; with the BOM it reads UTF-8. LibreOffice, Google Sheets, Numbers, Canvas and
  Moodle (which strips a BOM on import) accept it, and so do ``pandas.read_csv`` and Python's ``csv`` with
  ``encoding="utf-8-sig"``.
* **Comma-separated, RFC 4180**: CRLF line ends, a field quoted only when it holds a comma, quote or line
  break. A semicolon would suit Excel in decimal-comma locales but breaks every LMS importer; there, use
  Data > From Text/CSV (delimiter comma, decimal point ".") instead of double-clicking the file.
* **Numbers** with a ``.`` decimal point, no thousands separator, never an exponent (``0.00001``, not
  ``1e-05``), at most 6 decimals with trailing zeros dropped: what every locale-independent parser reads.
* **Columns**: ``student, id, name, email, total, max``, then one column per graded function, in the
  assignment's order, headed by the function's name, then ``status``, ``problems``, ``reason`` and
  ``handed_in``. One header row and nothing else: a second "points possible" row (Canvas's export has one)
  would be read as a student by everything else.
* **id, name, email**: the student as an LMS export says (see :mod:`graders.batch.lms`: Gradescope's sid,
  name and email; Canvas's user id and sortable name; Moodle's participant id and full name), or as the
  roster says for a missing student; empty where nothing says, as for a plain class folder. A group
  submission (Gradescope) has one row per student, each with the group's scores, so the file can be
  uploaded back. Text from students, so a cell that starts like a formula gets a leading ``'``.
* **status** of the entry: ``graded``; ``unreadable`` (no readable Python source: graded 0); ``failed`` (no
  grade: the grader could not finish it, see ``reason``); ``pending`` (not graded because the batch was
  interrupted: the gradebook is then incomplete, and ``nngrade batch --resume`` finishes it); ``missing``
  (``--roster``: a roster student with no entry in the class folder; no score, ``student`` empty).
* **problems** says why points are missing where a 0 or a low score alone would not: the module-level problems
  ("assignment2/cs231n/layers.py did not import: SyntaxError ... (line 23); 20 functions were not graded") and
  each other function that was not judged on its code, with its status ("affine_backward: crashed;
  conv_forward_naive: timeout"; statuses missing, error, timeout, crashed, forbidden, environment), joined
  with "; ". A function that was graded and lost points (failed, partial) is not a problem: its points say it.
* **reason**, for an entry without a grade (failed, pending) or graded 0 because unreadable: why, on one line.
* **student** is the entry's folder name under the output folder (see :mod:`graders.batch.discover`): it
  starts with a letter, digit or ``_`` and holds only ``\\w``, ``.`` and ``-``, so no cell can be taken for a
  spreadsheet formula.
* An entry that **could not be graded** (status failed or pending) has empty score cells, which an LMS import
  leaves untouched, rather than a 0 that would look like a grade. An unreadable submission is graded: 0
  everywhere.
* **handed_in**, the last column, is the file or folder name as it was in the class folder, so an entry whose
  name had to be changed (see :mod:`graders.batch.discover`: unsafe characters, names longer than a path
  component allows) can be matched to its student. Any text cell that starts like a formula gets a leading
  ``'``.

gradebook.jsonl holds the same rows for scripts, one JSON object per line and student (UTF-8, no BOM, LF):
``{"student", "id", "name", "email", "total", "max", "points": {function: number|null}, "statuses": {function: status},
"status", "problems": [str], "reason", "handed_in", "complete"}``; numbers are numbers (null where the CSV
cell is empty) and ``complete`` is false in every row of an interrupted batch.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from graders.batch.lms import Identity
from graders.batch.outcome import PENDING, EntryOutcome
from graders.report.atomic import write_atomic
from graders.report.text import one_line
from graders.report.view import problem_sentence

FIXED_COLUMNS = ("student", "id", "name", "email", "total", "max")
LAST_COLUMNS = ("status", "problems", "reason", "handed_in")
#: Function statuses that mean the function's code was not judged (its 0 is not a verdict on its values).
PROBLEM_STATUSES = frozenset({"missing", "error", "timeout", "crashed", "forbidden", "environment"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: str) -> str:
    """Text that no spreadsheet takes for a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def format_points(value: float | None) -> str:
    """``57`` / ``57.5`` / ``0.333333``; empty for None or a non-finite value."""
    number = _finite(value)
    if number is None:
        return ""
    text = format(Decimal(repr(round(number, 6))).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def entry_problems(outcome: EntryOutcome, grouped: bool = False) -> list[str]:
    """What kept points from being judged: module-level problems, then each other function not judged on its
    code with its status ("affine_backward: crashed"; ``grouped``: one item per status, "missing (3):
    f, g, h", for people reading a long list). Nothing for an unreadable submission: its reason says it all."""
    report = outcome.report
    if report is None or outcome.status == "unreadable":
        return []
    raw = report.get("problems")
    module_problems = [p for p in raw if isinstance(p, Mapping)] if isinstance(raw, list) else []
    said = [one_line(problem_sentence(problem, module_problems)).rstrip(".") for problem in module_problems]
    not_judged = [
        (one_line(function.get("name", "")), one_line(function.get("status", "")))
        for function in report.get("functions") or []
        if isinstance(function, Mapping) and not function.get("blocked_by")
        and str(function.get("status", "")) in PROBLEM_STATUSES
    ]
    if not grouped:
        return said + [f"{name}: {status}" for name, status in not_judged]
    by_status: dict[str, list[str]] = {}
    for name, status in not_judged:
        by_status.setdefault(status, []).append(name)
    return said + [f"{status} ({len(names)}): {', '.join(names)}" if len(names) > 1 else f"{names[0]}: {status}"
                   for status, names in by_status.items()]


def entry_reason(outcome: EntryOutcome) -> str:
    """Why an entry has no grade (or a 0 for being unreadable), on one line; "" for a graded entry."""
    if outcome.status == "unreadable" and outcome.report is not None:
        warnings = outcome.report.get("warnings") or []
        return one_line(warnings[0]) if warnings else "no readable submission"
    if outcome.report is None:
        lines = [line for line in outcome.error.splitlines() if line.strip()]
        # a traceback's last line is the exception; any other text's first line says what happened
        text = lines[-1] if lines and lines[0].startswith("Traceback") else (lines[0] if lines else "")
        return one_line(text) or ("not graded yet" if outcome.status == PENDING else "could not be graded")
    return ""


def gradebook_records(
    function_names: Sequence[str], max_score: float, outcomes: Sequence[EntryOutcome]
) -> list[dict[str, Any]]:
    """One record per outcome and student (one for an outcome without students): the gradebook's data with
    numbers as numbers (None where there is no grade)."""
    complete = not any(outcome.status == PENDING for outcome in outcomes)
    records = []
    for outcome, student in ((o, s) for o in outcomes for s in (o.students or (Identity(),))):
        report = outcome.report
        functions = {
            str(f.get("name")): f for f in (report.get("functions") or []) if isinstance(f, Mapping)
        } if report is not None else {}
        records.append({
            "student": outcome.entry,
            "id": student.id,
            "name": student.name,
            "email": student.email,
            "total": _finite(report.get("score")) if report is not None else None,
            "max": _finite(report.get("max_score", max_score)) if report is not None else _finite(max_score),
            "points": {name: _finite(functions[name].get("score")) if name in functions else None
                       for name in function_names},
            "statuses": {name: str(functions[name].get("status", "")) for name in function_names
                         if name in functions},
            "status": outcome.status,
            "problems": entry_problems(outcome),
            "reason": entry_reason(outcome),
            "handed_in": outcome.source,
            "complete": complete,
        })
    return records


def gradebook_rows(
    function_names: Sequence[str], max_score: float, outcomes: Sequence[EntryOutcome]
) -> list[list[str]]:
    """The header row and one row per outcome, as text cells."""
    rows = [[*FIXED_COLUMNS, *function_names, *LAST_COLUMNS]]
    for record in gradebook_records(function_names, max_score, outcomes):
        rows.append([
            record["student"],
            *(cell_text(record[key]) for key in ("id", "name", "email")),
            format_points(record["total"]),
            format_points(record["max"]),
            *(format_points(record["points"][name]) for name in function_names),
            record["status"],
            cell_text("; ".join(record["problems"])),
            cell_text(record["reason"]),
            cell_text(record["handed_in"]),
        ])
    return rows


def gradebook_csv(function_names: Sequence[str], max_score: float, outcomes: Sequence[EntryOutcome]) -> bytes:
    """The bytes of gradebook.csv (see the module docstring for the format)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(gradebook_rows(function_names, max_score, outcomes))
    return buffer.getvalue().encode("utf-8-sig")


def gradebook_jsonl(function_names: Sequence[str], max_score: float, outcomes: Sequence[EntryOutcome]) -> bytes:
    """The bytes of gradebook.jsonl: the same records, one strict JSON object per line."""
    lines = [json.dumps(record, ensure_ascii=False, allow_nan=False, sort_keys=False)
             for record in gradebook_records(function_names, max_score, outcomes)]
    return "".join(line + "\n" for line in lines).encode("utf-8", "replace")


def write_gradebook(
    path: Path, function_names: Sequence[str], max_score: float, outcomes: Sequence[EntryOutcome]
) -> Path:
    """Write gradebook.csv at ``path`` and gradebook.jsonl beside it (each atomically); returns the latter."""
    write_atomic(path, gradebook_csv(function_names, max_score, outcomes))
    lines = path.with_suffix(".jsonl")
    write_atomic(lines, gradebook_jsonl(function_names, max_score, outcomes))
    return lines
