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
* **Columns**: ``student, total, max``, then one column per graded function, in the assignment's order,
  headed by the function's name. One header row and nothing else: a second "points possible" row (Canvas's
  export has one) would be read as a student by everything else.
* **student** is the entry's folder name under the output folder (see :mod:`graders.batch.discover`): it
  starts with a letter, digit or ``_`` and holds only ``\\w``, ``.`` and ``-``, so no cell can be taken for a
  spreadsheet formula.
* An entry that **could not be graded** (status failed) has empty score cells, which an LMS import leaves
  untouched, rather than a 0 that would look like a grade. An unreadable submission is graded: 0 everywhere.
* **handed_in**, the last column, is the file or folder name as it was in the class folder, so an entry whose
  name had to be changed (see :mod:`graders.batch.discover`: unsafe characters, names longer than a path
  component allows) can be matched to its student. A name that starts like a formula gets a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from graders.batch.outcome import EntryOutcome
from graders.report.atomic import write_atomic

FIXED_COLUMNS = ("student", "total", "max")
LAST_COLUMNS = ("handed_in",)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: str) -> str:
    """Text that no spreadsheet takes for a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def format_points(value: float | None) -> str:
    """``57`` / ``57.5`` / ``0.333333``; empty for None or a non-finite value."""
    if value is None:
        return ""
    number = float(value)
    if not math.isfinite(number):
        return ""
    text = format(Decimal(repr(round(number, 6))).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def gradebook_rows(
    function_names: Sequence[str], max_score: float, outcomes: Sequence[EntryOutcome]
) -> list[list[str]]:
    """The header row and one row per outcome, as text cells."""
    rows = [[*FIXED_COLUMNS, *function_names, *LAST_COLUMNS]]
    for outcome in outcomes:
        report = outcome.report
        handed_in = cell_text(outcome.source)
        if report is None:
            rows.append([outcome.entry, "", format_points(max_score), *("" for _ in function_names), handed_in])
            continue
        scores = {f.get("name"): f.get("score") for f in report.get("functions", [])}
        rows.append(
            [
                outcome.entry,
                format_points(report.get("score")),
                format_points(report.get("max_score", max_score)),
                *(format_points(scores.get(name)) for name in function_names),
                handed_in,
            ]
        )
    return rows


def gradebook_csv(function_names: Sequence[str], max_score: float, outcomes: Sequence[EntryOutcome]) -> bytes:
    """The bytes of gradebook.csv (see the module docstring for the format)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(gradebook_rows(function_names, max_score, outcomes))
    return buffer.getvalue().encode("utf-8-sig")


def write_gradebook(
    path: Path, function_names: Sequence[str], max_score: float, outcomes: Sequence[EntryOutcome]
) -> None:
    write_atomic(path, gradebook_csv(function_names, max_score, outcomes))
