"""Plain-text explanations of a graded function, for places that show text only.

WHY a separate module: Gradescope's per-test "output" box and JUnit's <failure> body both want the same
self-contained explanation (status, failing checks, counterexample with its repro code, diagnosis,
warnings). Writing it once keeps the two in step. The where-map is drawn as a character grid here because
a text box cannot hold the HTML report's heat map image, and a border pattern is obvious even in text.
"""

from __future__ import annotations

import textwrap

import numpy as np

from graders.report.text import format_number, format_points
from graders.report.view import CheckView, FunctionView, ReportView, ValuesView, WhereView

GRID_MAX_SIDE = 32  # larger maps are left to the HTML heat map; a 64-wide text grid wraps badly
GRID_RELATIVE_THRESHOLD = 1e-3  # a cell "differs" when its value is at least this fraction of the largest


def where_grid(where: WhereView) -> str | None:
    """A character picture of ``where.values``: ``#`` where the value is at least 0.1 % of the largest
    finite value, ``.`` elsewhere, ``!`` for NaN/inf; None when the map is too large to read as text."""
    values = where.values
    if max(values.shape) > GRID_MAX_SIDE:
        return None
    finite = np.isfinite(values)
    largest = float(np.max(np.abs(values[finite]))) if finite.any() else 0.0
    marked = finite & (np.abs(values) >= GRID_RELATIVE_THRESHOLD * largest) & (largest > 0)
    symbols = np.where(~finite, "!", np.where(marked, "#", "."))
    rows = [" ".join(row) for row in symbols.tolist()]
    legend = f"# = at least 0.1% of the largest value ({format_number(largest)}), ! = NaN or inf"
    return "\n".join(rows) + "\n" + legend


DIFFERS_MARK = "✗"


def value_text(value: float) -> str:
    """A number with six significant digits ("nan", "inf" spelled out): enough to see a wrong entry."""
    return f"{value:.6g}"


def values_caption(values: ValuesView) -> str:
    shape = "x".join(str(n) for n in values.shape) or "scalar"
    return (f"{values.output} ({shape}): expected, got and difference; {DIFFERS_MARK} marks the "
            f"{values.differing} entr{'y' if values.differing == 1 else 'ies'} outside the tolerance "
            f"(atol {values.atol:g}, rtol {values.rtol:g})")


def values_table(values: ValuesView) -> str:
    """The small array as aligned columns: index, expected, got, difference, and a mark where it differs."""
    header = ("index", "expected", "got", "difference")
    rows = [(row.index, value_text(row.expected), value_text(row.got), value_text(row.difference),
             DIFFERS_MARK if row.differs else "") for row in values.rows]
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(4)]
    lines = [f"{header[0]:<{widths[0]}}  " + "  ".join(f"{header[i]:>{widths[i]}}" for i in range(1, 4))]
    for row in rows:
        line = f"{row[0]:<{widths[0]}}  " + "  ".join(f"{row[i]:>{widths[i]}}" for i in range(1, 4))
        lines.append((line + "  " + row[4]).rstrip())
    return "\n".join(lines)


def _indent(text: str, prefix: str = "    ") -> str:
    return textwrap.indent(text, prefix, predicate=lambda line: True)


def _bullet(text: str) -> str:
    """A "  - " list item whose continuation lines stay indented under it."""
    return "  - " + text.replace("\n", "\n    ")


def _check_lines(check: CheckView) -> list[str]:
    cases = f", {check.cases} cases" if check.cases else ""
    points = format_points(check.score, check.max_score)
    lines = [_bullet(f"{check.name} ({points}{cases}): {check.message}".rstrip())]
    if check.values is not None:
        lines += [f"    {values_caption(check.values)}:", _indent(values_table(check.values), "      ")]
        return lines
    grid = where_grid(check.where) if check.where is not None else None
    if check.where is not None and grid is not None:
        title = f"where it differs ({check.where.label}):" if check.where.label else "where it differs:"
        lines += [f"    {title}", _indent(grid, "      ")]
    return lines


def explain_function(function: FunctionView) -> str:
    """Status, points, failing checks, counterexample + repro, diagnosis and warnings, as plain text."""
    meaning = f" ({function.meaning})" if function.meaning else ""
    points = format_points(function.score, function.max_score)
    lines = [f"Status: {function.status}{meaning}; {points} points"]
    failing = function.failing_checks
    if function.checks and not failing:
        count = len(function.checks)
        lines.append(f"All {count} checks passed." if count > 1 else "The check passed.")
    if failing:
        lines.append("Failing checks:")
        for check in failing:
            lines += _check_lines(check)
    if function.counterexample is not None:
        description = function.counterexample.description.replace("\n", "\n  ")
        lines.append(f"Counterexample: {description}".rstrip())
        if function.counterexample.repro:
            lines += ["  Reproduce with:", _indent(function.counterexample.repro.rstrip("\n"))]
    if function.diagnosis:
        lines.append("Diagnosis:")
        lines += [_bullet(sentence) for sentence in function.diagnosis]
    if function.warnings:
        lines.append("Warnings:")
        lines += [_bullet(warning) for warning in function.warnings]
    return "\n".join(lines)


def problems_plain(view: ReportView) -> str:
    """The module-level problems as text: each one's sentence, then the student's traceback indented."""
    lines = []
    for problem in view.problems:
        lines.append(f"Problem: {problem.sentence}")
        if problem.traceback and not problem.caused_by:
            lines.append(_indent(problem.traceback))
    return "\n".join(lines)


def summarize(view: ReportView) -> str:
    """A few lines about the whole submission: total, how many functions passed, module-level problems,
    report-level warnings."""
    total = len(view.functions)
    passed = view.count("passed")
    others = sorted({function.status for function in view.functions} - {"passed"})
    breakdown = ", ".join(f"{view.count(status)} {status}" for status in others)
    lines = [
        f"{view.assignment}: {format_points(view.score, view.max_score)} points; "
        f"{passed} of {total} functions passed" + (f" ({breakdown})" if breakdown else "") + "."
    ]
    if view.problems:
        lines.append(problems_plain(view))
    lines += ["Warning: " + warning.replace("\n", "\n  ") for warning in view.warnings]
    return "\n".join(lines)
