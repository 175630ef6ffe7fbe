"""Gradescope test output as Markdown (``output_format: "md"``), for the autograder bundle.

WHY Markdown: Gradescope renders a test's ``md`` output, so a diagnosis reads as prose and a repro as a code
block. WHY the same escaping as report.md: messages, tracebacks and names are partly student-controlled;
prose goes through ``md_text`` (Markdown punctuation escaped, one line) and anything multi-line (tracebacks,
values tables, where-maps, repro code) through ``md_fence``, whose fence is longer than any backtick run
inside, so nothing a student prints can close it early or become a link or raw HTML.
"""

from __future__ import annotations

from graders.report.markdown import md_code, md_fence, md_text
from graders.report.plaintext import summarize, values_caption, values_table, where_grid
from graders.report.text import format_points
from graders.report.view import CheckView, FunctionView, ReportView


def _check_md(check: CheckView) -> str:
    cases = f", {check.cases} cases" if check.cases else ""
    points = format_points(check.score, check.max_score)
    lines = [f"- {md_code(check.name)} ({md_text(points + cases)}): {md_text(check.headline)}"]
    blocks = [check.details] if check.details else []
    if check.values is not None:
        blocks.append(values_caption(check.values) + ":\n" + values_table(check.values))
    elif check.where is not None:
        grid = where_grid(check.where)
        if grid is not None:
            title = f"where it differs ({check.where.label}):" if check.where.label else "where it differs:"
            blocks.append(f"{title}\n{grid}")
    # An indented fence stays inside the list item.
    lines += ["", *("  " + line for block in blocks for line in md_fence(block).split("\n"))] if blocks else []
    return "\n".join(lines)


def explain_function_md(function: FunctionView) -> str:
    """Status, points, failing checks, counterexample with its repro, diagnosis and warnings, as Markdown."""
    meaning = f" ({function.meaning})" if function.meaning else ""
    points = format_points(function.score, function.max_score)
    parts = [f"**Status:** {md_text(function.status + meaning)}; {md_text(points)} points"]
    failing = function.failing_checks
    if function.checks and not failing:
        count = len(function.checks)
        parts.append(f"All {count} checks passed." if count > 1 else "The check passed.")
    if failing:
        parts.append("**Failing checks**\n\n" + "\n".join(_check_md(check) for check in failing))
    if function.counterexample is not None:
        description = function.counterexample.description.strip("\n")
        if "\n" in description:
            parts.append("**Counterexample:**\n\n" + md_fence(description))
        else:
            parts.append(f"**Counterexample:** {md_text(description)}")
        if function.counterexample.repro:
            parts.append("Reproduce with:\n\n" + md_fence(function.counterexample.repro, "python"))
    if function.diagnosis:
        parts.append("**Diagnosis**\n\n" + "\n".join(f"- {md_text(sentence)}" for sentence in function.diagnosis))
    if function.warnings:
        parts.append("**Warnings**\n\n" + "\n".join(f"- {md_text(warning)}" for warning in function.warnings))
    return "\n\n".join(parts)


def summarize_md(view: ReportView) -> str:
    """The whole submission's summary: the total line as prose, problems and warnings in a code block."""
    first, _, rest = summarize(view).partition("\n")
    return md_text(first) + ("\n\n" + md_fence(rest) if rest.strip() else "")
