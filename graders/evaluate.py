"""Judging one case: the student's fetched outputs (or their error) against the reference's, check by check."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from graders.checks import run_check
from graders.module_problems import student_frames
from graders.specs.base import Case, CaseRun, Spec, Verdict


def expected_outputs(spec: Spec, case: Case) -> dict[str, Any]:
    """The reference's outputs, on a copy so that nothing the reference does can change the case."""
    return spec.expected(copy.deepcopy(case))


def error_text(error: Mapping[str, Any]) -> str:
    """``TypeError: ...`` and, when the traceback passes through the student's own code, where: the last of
    their frames (``at cs231n/layers.py, line 42: if x >= 0:``), so the report points at the line to fix."""
    text = f"{error.get('type', 'Error')}: {error.get('message', '')}".strip()
    frames = student_frames(str(error.get("traceback") or ""))
    if frames:
        where = frames[-1]
        text += f" (at {where.file}, line {where.line}" + (f": {where.code})" if where.code else ")")
    return text


def judge(
    spec: Spec,
    case: Case,
    expected: Mapping[str, Any],
    actual: Mapping[str, Any] | None,
    error: Mapping[str, Any] | None,
    setup: Mapping[str, str] | None = None,
) -> CaseRun:
    """Apply every check of ``spec`` to one case run. A raised exception fails every check with its message,
    except where it was raised by a ``setup`` step (another graded function, such as the forward a backward
    needs): the case then says nothing about this function and is marked unjudged."""
    verdicts: dict[str, Verdict] = {}
    if error is not None and setup and error.get("step") in setup:
        reason = f"{setup[str(error.get('step'))]} raised {error_text(error)}"
        return CaseRun(case=case, actual=dict(actual or {}), expected=dict(expected), verdicts={},
                       error=error_text(error), unjudged=reason)
    if error is not None and error.get("step") == "outputs":
        # Not an exception in the student's code: what it returned had the wrong form (None, a short tuple ...).
        for check in spec.checks:
            verdicts[check.name] = Verdict(False, str(error.get("message", "")))
        return CaseRun(case=case, actual={}, expected=dict(expected), verdicts=verdicts, error=None)
    for check in spec.checks:
        produced = actual is not None and all(name in actual for name in check.output_names)
        if actual is None or (error is not None and not produced):
            raised = error_text(error) if error else "no outputs"
            verdicts[check.name] = Verdict(False, f"raised {raised}")
            continue
        try:
            verdicts[check.name] = run_check(check, case, actual, expected)
        except Exception as exc:  # a check must never take the grader down: blame the odd output, not us
            verdicts[check.name] = Verdict(
                False, f"{check.name}: could not compare the result ({type(exc).__name__}: {exc})"
            )
    return CaseRun(
        case=case,
        actual=dict(actual or {}),
        expected=dict(expected),
        verdicts=verdicts,
        error=error_text(error) if error else None,
    )
