"""results.json in Gradescope's autograder format (one Gradescope test per graded function).

Fields follow Gradescope's autograder specification: top-level ``score`` (a number; it overrides the sum of
the tests, so it is set to exactly that sum), ``execution_time`` (whole seconds), ``output``,
``output_format``/``test_output_format`` ("text": shown verbatim in a <pre>), ``visibility``,
``stdout_visibility`` and ``tests`` with ``name``, ``score``, ``max_score``, ``status`` ("passed" or
"failed"), ``output`` and ``visibility``. WHY non-finite scores become 0: Gradescope needs numbers, and a
NaN score means the grader could not establish any credit.

``output_format="md"`` (the autograder bundle, graders/gradescope/) renders each test's output as escaped
Markdown (graders/report/markdown.py, the same function section as report.md); ``visibility`` sets every
test's and the whole result's visibility.
"""

from __future__ import annotations

import math
from typing import Any

from graders.report.markdown import render_function_markdown, render_summary_markdown
from graders.report.plaintext import explain_function, summarize
from graders.report.view import ReportView

SCORE_DECIMALS = 6  # enough for any point split; hides float noise such as 0.30000000000000004
#: Gradescope's documented visibility values and the output formats this writer produces.
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
OUTPUT_FORMATS = ("text", "md")


def _points(value: float) -> float:
    return round(value, SCORE_DECIMALS) + 0.0 if math.isfinite(value) else 0.0


def gradescope_results(
    view: ReportView, output_format: str = "text", visibility: str = "visible"
) -> dict[str, Any]:
    if output_format not in OUTPUT_FORMATS or visibility not in VISIBILITIES:
        raise ValueError(f"unsupported output_format {output_format!r} or visibility {visibility!r}")
    markdown = output_format == "md"
    explain = render_function_markdown if markdown else explain_function
    summary = render_summary_markdown if markdown else summarize
    scores = [_points(function.score) for function in view.functions]
    tests = [
        {
            "name": function.name,
            "score": score,
            "max_score": _points(function.max_score),
            "status": "passed" if function.passed else "failed",
            "output": explain(function),
            "output_format": output_format,
            "visibility": visibility,
        }
        for function, score in zip(view.functions, scores, strict=True)
    ]
    execution_time = round(view.duration_s) if math.isfinite(view.duration_s) else 0
    return {
        "score": round(math.fsum(scores), SCORE_DECIMALS) + 0.0,
        "execution_time": max(0, execution_time),
        "output": summary(view),
        "output_format": output_format,
        "test_output_format": output_format,
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
    }
