"""results.json in Gradescope's autograder format (one Gradescope test per graded function).

Fields follow Gradescope's autograder specification: top-level ``score`` (a number; it overrides the sum of
the tests, so it is set to exactly that sum), ``execution_time`` (whole seconds), ``output``,
``output_format``/``test_output_format`` ("text": shown verbatim in a <pre>), ``visibility``,
``stdout_visibility`` and ``tests`` with ``name``, ``score``, ``max_score``, ``status`` ("passed" or
"failed"), ``output`` and ``visibility``. WHY non-finite scores become 0: Gradescope needs numbers, and a
NaN score means the grader could not establish any credit.
"""

from __future__ import annotations

import math
from typing import Any

from graders.report.plaintext import explain_function, summarize
from graders.report.view import ReportView

SCORE_DECIMALS = 6  # enough for any point split; hides float noise such as 0.30000000000000004


def _points(value: float) -> float:
    return round(value, SCORE_DECIMALS) + 0.0 if math.isfinite(value) else 0.0


def gradescope_results(view: ReportView) -> dict[str, Any]:
    scores = [_points(function.score) for function in view.functions]
    tests = [
        {
            "name": function.name,
            "score": score,
            "max_score": _points(function.max_score),
            "status": "passed" if function.passed else "failed",
            "output": explain_function(function),
            "visibility": "visible",
        }
        for function, score in zip(view.functions, scores, strict=True)
    ]
    execution_time = round(view.duration_s) if math.isfinite(view.duration_s) else 0
    return {
        "score": round(math.fsum(scores), SCORE_DECIMALS) + 0.0,
        "execution_time": max(0, execution_time),
        "output": summarize(view),
        "output_format": "text",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
