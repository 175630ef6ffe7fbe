"""Judging softmax-like functions on huge scores by shift invariance (the robustness check "large_scores").

A softmax, and every loss built on it, is unchanged when a constant is added to a row of scores. So on a
large-score case (scores offset by about +-1000, where exp() overflows) a function is robust when it gives,
finite, what it gives on the same scores without the offset. Judging it that way, and not only against the
reference, keeps "one bug costs points once": a loss summed instead of averaged is wrong on ordinary scores
(the main checks charge it) and exactly as wrong on large ones, so it does not also fail the robustness check;
a softmax without the max shift gives NaN on large scores only, and fails only the robustness check.

A large-score case carries the ordinary scores under :data:`ORDINARY`; the spec's program then calls the
student's function a second time on them and fetches each output ``name`` again as ``<name>_ordinary``. That
call is an ordinary step, not a setup step: a function that raises (on either scores) shows no robustness and
fails the check; marking it as setup would leave such cases unjudged, and a robustness check with no judged
case passes (graders/function_report.py), which would give a raising stub the robustness points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from graders.checks import as_numeric, compare_arrays
from graders.specs.base import Case, Check, CompareFn, Verdict, describe_case

#: The case key holding the scores without their offset.
ORDINARY = "x_ordinary"
#: The suffix of an output computed on the ordinary scores.
SUFFIX = "_ordinary"


def shifted_case(ordinary: np.ndarray, offset: float | np.ndarray, **rest: Any) -> Case:
    """A large-score case: ``x = ordinary + offset`` (a scalar, or one offset per row as an (N, 1) array),
    with the ordinary scores kept for the second call."""
    return {"x": ordinary + offset, **rest, ORDINARY: ordinary}


def finite(value: Any) -> bool:
    """A numeric value (number or array) without NaN or inf."""
    got = as_numeric(value)
    return got is not None and bool(np.all(np.isfinite(got.astype(np.float64))))


def or_shift_invariant(name: str) -> CompareFn:
    """Allclose to the reference; on a large-score case also right when finite and equal (at the check's
    tolerances) to the student's own output on the ordinary scores (see the module docstring)."""

    def rule(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        if name not in actual:
            return Verdict(False, f"{name} was not produced")
        verdict = compare_arrays(name, actual[name], expected[name], check.atol, check.rtol)
        own = actual.get(name + SUFFIX)
        if verdict.passed or ORDINARY not in case or not finite(own) or not finite(actual[name]):
            return verdict
        same = compare_arrays(name, actual[name], own, check.atol, check.rtol)
        return Verdict(True) if same.passed else verdict

    return rule


def describe(case: Case) -> str:
    """The default description, with a large-score case's offset said in words instead of its second array."""
    if ORDINARY not in case:
        return describe_case(case)
    shown = describe_case({k: v for k, v in case.items() if k != ORDINARY})
    offsets = np.unique(np.round(np.asarray(case["x"]) - np.asarray(case[ORDINARY])))
    said = ", ".join(f"{o:+g}" for o in offsets[:4])
    return f"{shown} (scores offset by {said})"
