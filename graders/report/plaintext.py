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
from graders.report.view import CheckView, FunctionView, ReportView, WhereView

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


def _indent(text: str, prefix: str = "    ") -> str:
    return textwrap.indent(text, prefix, predicate=lambda line: True)


def _bullet(text: str) -> str:
    """A "  - " list item whose continuation lines stay indented under it."""
    return "  - " + text.replace("\n", "\n    ")


def _check_lines(check: CheckView) -> list[str]:
    cases = f", {check.cases} cases" if check.cases else ""
    points = format_points(check.score, check.max_score)
    lines = [_bullet(f"{check.name} ({points}{cases}): {check.message}".rstrip())]
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


def summarize(view: ReportView) -> str:
    """A few lines about the whole submission: total, how many functions passed, report-level warnings."""
    total = len(view.functions)
    passed = view.count("passed")
    others = sorted({function.status for function in view.functions} - {"passed"})
    breakdown = ", ".join(f"{view.count(status)} {status}" for status in others)
    lines = [
        f"{view.assignment}: {format_points(view.score, view.max_score)} points; "
        f"{passed} of {total} functions passed" + (f" ({breakdown})" if breakdown else "") + "."
    ]
    lines += ["Warning: " + warning.replace("\n", "\n  ") for warning in view.warnings]
    return "\n".join(lines)
