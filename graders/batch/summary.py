"""summary.html: the class at a glance, rebuilt from the per-entry reports at the end of every batch.

Laid out in the order an instructor reads it, top-down:

1. the totals (spread of the class, a histogram only when the totals differ);
2. a students x functions score matrix, each cell coloured by the fraction of the function's points earned
   (red 0 to green 1) and linking to that student's section for the function in their report.html
   (``#fn-<name>``, see :func:`graders.report.view.function_anchor`);
3. the entries that need a look: not graded, unreadable, interrupted before grading, or with problems that
   kept points from being judged (a module that did not import, functions missing, crashed, timed out);
4. one compact row per function: mean, how many got full marks, statuses, the most frequent diagnoses with
   the students who hit each (linked), and a histogram only where the scores differ;
5. the slowest submissions and every entry with the name it was handed in as (and the students behind it,
   when an LMS export names them);
6. with ``--roster``: the roster students who handed nothing in, and the entries not on the roster.

One self-contained file: inline CSS, histograms as inline SVG (graders/batch/histogram.py), links only to the
students' report.html files next to it.

Diagnoses are grouped with their numbers masked (``off by a factor 3`` and ``off by a factor 5`` are the same
bug); the most common wording of a group is shown. A function that was not graded because its module did
not import (``blocked_by``) or that is missing adds no diagnosis: the entry's problems say it once.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from graders.batch.gradebook import entry_problems, entry_reason
from graders.batch.histogram import histogram_svg, varies
from graders.batch.lms import Identity
from graders.batch.outcome import PENDING, EntryOutcome
from graders.report.atomic import write_atomic
from graders.report.text import finalize_output
from graders.report.view import function_anchor

TOP_DIAGNOSES = 3
SLOWEST = 5
_SENTENCE_END = re.compile(r"(?<=[.:;])\s+(?=[A-Z])")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)


@dataclass(frozen=True)
class Distribution:
    count: int
    mean: float
    median: float
    low: float
    high: float


@dataclass(frozen=True)
class StudentLink:
    entry: str
    href: str  # "<entry>/report.html#fn-<function>"


@dataclass(frozen=True)
class DiagnosisGroup:
    text: str
    students: list[StudentLink]

    @property
    def headline(self) -> str:
        """The diagnosis's first sentence: the rows stay short; the whole text is the row's tooltip and in
        each student's report."""
        first = _SENTENCE_END.split(self.text, maxsplit=1)[0]
        return first if len(first) < len(self.text) else self.text


@dataclass
class FunctionSummary:
    name: str
    max_score: float
    scores: list[float]
    statuses: Counter[str]
    diagnoses: list[DiagnosisGroup]
    histogram: Markup = field(default_factory=lambda: Markup(""))  # "" where every score is the same

    @property
    def distribution(self) -> Distribution | None:
        return describe(self.scores)

    @property
    def full_marks(self) -> int:
        return sum(1 for s in self.scores if math.isclose(s, self.max_score, abs_tol=1e-9))

    def share(self, value: float) -> float:
        return sum(1 for s in self.scores if s == value) / len(self.scores) if self.scores else 0.0


@dataclass(frozen=True)
class Cell:
    """One student's result for one function in the score matrix."""

    function: str
    points: float | None  # None: the report has no entry for the function
    max_score: float
    status: str
    href: str

    @property
    def fraction(self) -> float | None:
        if self.points is None or not math.isfinite(self.points) or self.max_score <= 0:
            return None
        return min(max(self.points / self.max_score, 0.0), 1.0)

    @property
    def colour(self) -> str:
        """red (nothing earned) through yellow to green (every point), or grey when there is no score."""
        return fraction_colour(self.fraction)

    @property
    def text(self) -> str:
        return "–" if self.points is None or self.status == "missing" else points_text(self.points)

    @property
    def title(self) -> str:
        earned = "no score" if self.points is None else f"{points_text(self.points)} / {points_text(self.max_score)}"
        return f"{self.function}: {earned} ({self.status or 'not graded'})"


@dataclass(frozen=True)
class MatrixRow:
    outcome: EntryOutcome
    cells: list[Cell]  # empty when the entry has no report
    total: float | None
    max_score: float
    problems: list[str]
    reason: str

    @property
    def href(self) -> str:
        return f"{quote(self.outcome.entry)}/report.html" if self.outcome.report is not None else ""

    @property
    def total_colour(self) -> str:
        if self.total is None or not math.isfinite(self.total) or self.max_score <= 0:
            return fraction_colour(None)
        return fraction_colour(min(max(self.total / self.max_score, 0.0), 1.0))

    @property
    def needs_a_look(self) -> bool:
        return self.outcome.status != "graded" or bool(self.problems)


@dataclass(frozen=True)
class SlowEntry:
    entry: str
    duration_s: float
    student_s: float
    score: float


@dataclass
class ClassSummary:
    assignment: str
    title: str
    max_score: float
    outcomes: Sequence[EntryOutcome]
    totals: list[float]
    total_histogram: Markup
    functions: list[FunctionSummary]
    slowest: list[SlowEntry]
    counts: Counter[str] = field(default_factory=Counter)
    matrix: list[MatrixRow] = field(default_factory=list)
    #: roster students without an entry (``--roster``)
    missing: Sequence[Identity] = ()
    #: entries that match no roster student, one sentence each
    not_on_roster: Sequence[str] = ()

    @property
    def identified(self) -> bool:
        """Whether any entry's students are known (an LMS export): the entries table then names them."""
        return any(outcome.students for outcome in self.outcomes)

    @property
    def total_distribution(self) -> Distribution | None:
        return describe(self.totals)

    @property
    def pending(self) -> list[EntryOutcome]:
        """Entries an interrupted batch did not get to: the summary is then incomplete."""
        return [outcome for outcome in self.outcomes if outcome.status == PENDING]

    @property
    def attention(self) -> list[MatrixRow]:
        return [row for row in self.matrix if row.needs_a_look]


def describe(values: Sequence[float]) -> Distribution | None:
    if not values:
        return None
    return Distribution(
        len(values), statistics.fmean(values), statistics.median(values), min(values), max(values)
    )


def points_text(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)


def fraction_colour(fraction: float | None) -> str:
    """An HSL background: hue 0 (red) at 0 through 60 (yellow) to 120 (green) at 1; grey without a score."""
    if fraction is None:
        return "hsl(0, 0%, 88%)"
    return f"hsl({round(120 * fraction)}, 62%, 80%)"


def diagnosis_key(text: str) -> str:
    """A diagnosis's first line with its numbers masked: the same bug in two students gives the same key."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return _NUMBER.sub("#", " ".join(first.split()))


def frequent_diagnoses(per_student: Sequence[tuple[str, Sequence[str]]], top: int = TOP_DIAGNOSES
                       ) -> list[tuple[str, list[str]]]:
    """The ``top`` most frequent diagnoses among (student, diagnoses) pairs: the shown wording and the students
    who got it (each once, in the given order), most students first, ties broken by wording."""
    students: dict[str, list[str]] = {}
    wordings: dict[str, Counter[str]] = {}
    for student, diagnoses in per_student:
        for text in diagnoses:
            key = diagnosis_key(text)
            if not key:
                continue
            wordings.setdefault(key, Counter())[text.strip().splitlines()[0]] += 1
            hit = students.setdefault(key, [])
            if student not in hit:
                hit.append(student)
    ranked = sorted(students.items(), key=lambda item: (-len(item[1]), item[0]))[:top]
    return [(min(wordings[key].items(), key=lambda w: (-w[1], w[0]))[0], names) for key, names in ranked]


def _functions_of(report: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    if report is None:
        return {}
    return {str(f.get("name")): f for f in report.get("functions") or [] if isinstance(f, Mapping)}


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _link(entry: str, function: str) -> str:
    return f"{quote(entry)}/report.html#{function_anchor(function)}"


def function_summary(name: str, top: float, outcomes: Sequence[EntryOutcome], plots: bool) -> FunctionSummary:
    graded = [(o.entry, _functions_of(o.report).get(name)) for o in outcomes if o.report is not None]
    entries = [(entry, f) for entry, f in graded if f is not None]
    scores = [s for s in (_number(f.get("score", 0.0)) for _, f in entries) if s is not None]
    judged = [(entry, list(f.get("diagnosis") or [])) for entry, f in entries
              if f.get("status") != "missing" and not f.get("blocked_by")]
    groups = [DiagnosisGroup(text, [StudentLink(student, _link(student, name)) for student in students])
              for text, students in frequent_diagnoses(judged)]
    summary = FunctionSummary(name, top, scores, Counter(str(f.get("status", "?")) for _, f in entries), groups)
    if plots and varies(scores):
        summary.histogram = histogram_svg(scores, top, f"scores of {name}: how many students got each tenth",
                                          width=150, height=34)
    return summary


def matrix_row(outcome: EntryOutcome, function_max: Mapping[str, float], max_score: float) -> MatrixRow:
    functions = _functions_of(outcome.report)
    cells = []
    if outcome.report is not None:
        for name, top in function_max.items():
            entry = functions.get(name)
            cells.append(Cell(name, _number(entry.get("score")) if entry is not None else None, top,
                              str(entry.get("status", "")) if entry is not None else "", _link(outcome.entry, name)))
    total = _number(outcome.report.get("score")) if outcome.report is not None else None
    return MatrixRow(outcome, cells, total, max_score, entry_problems(outcome, grouped=True), entry_reason(outcome))


def summarise(assignment: str, title: str, function_max: dict[str, float], max_score: float,
              outcomes: Sequence[EntryOutcome], plots: bool = True, *, missing: Sequence[Identity] = (),
              not_on_roster: Sequence[str] = ()) -> ClassSummary:
    """Class statistics from the outcomes (reports of graded entries; entries without a grade listed apart)."""
    reports = [o.report for o in outcomes if o.report is not None]
    functions = [function_summary(name, top, outcomes, plots) for name, top in function_max.items()]
    totals = [t for t in (_number(r.get("score", 0.0)) for r in reports) if t is not None]
    graded = [(o, o.report) for o in outcomes if o.status == "graded" and o.report is not None]
    slowest = [
        SlowEntry(
            outcome.entry,
            _number(report.get("duration_s")) or 0.0,
            sum(_number(f.get("student_s")) or 0.0 for f in report.get("functions") or [] if isinstance(f, Mapping)),
            _number(report.get("score")) or 0.0,
        )
        for outcome, report in graded
    ]
    slowest.sort(key=lambda row: (-row.duration_s, row.entry))
    histogram = (histogram_svg(totals, max_score, "totals: how many students got each tenth of the points",
                               width=420, height=90)
                 if plots and varies(totals) else Markup(""))
    return ClassSummary(
        assignment,
        title,
        max_score,
        outcomes,
        totals,
        histogram,
        functions,
        slowest[:SLOWEST],
        Counter(o.status for o in outcomes),
        [matrix_row(o, function_max, max_score) for o in outcomes],
        missing,
        not_on_roster,
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("graders.batch", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize_output,
    )


def render_summary(summary: ClassSummary) -> str:
    return _environment().get_template("summary.html.j2").render(s=summary, points=points_text)


def write_summary(path: Path, summary: ClassSummary) -> None:
    write_atomic(path, render_summary(summary).encode("utf-8"))
