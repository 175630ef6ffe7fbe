"""Small failing arrays reach the report as numbers (expected, got, which entries differ); big ones keep the
heat map."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from graders import assignment as assignments
from graders.examples import discover
from graders.grade import GradeOptions, grade
from graders.report import render_reports
from graders.small_values import MAX_ENTRIES, small_values
from graders.specs.base import CaseRun, Check, Tol, Verdict

TOL = Tol(1e-9, 1e-7, "test tolerance")


def run(expected: Any, got: Any, error: str | None = None) -> CaseRun:
    return CaseRun(case={}, actual={"dx": got}, expected={"dx": expected}, verdicts={"dx": Verdict(False)},
                   error=error)


def test_values_mark_the_entries_outside_the_tolerance() -> None:
    values = small_values(Check("dx", tol=TOL), run(np.array([[0.0, 0.5, 1.0]]), np.array([[0.0, 0.5 + 1e-12, 2.0]])))
    assert values == {"output": "dx", "shape": [1, 3], "expected": [0.0, 0.5, 1.0], "got": [0.0, 0.5 + 1e-12, 2.0],
                      "differs": [False, False, True], "atol": 1e-9, "rtol": 1e-7}


def test_nan_differs_unless_expected_and_a_scalar_has_an_empty_shape() -> None:
    values = small_values(Check("dx", tol=TOL), run(np.array([1.0, math.nan]), np.array([math.nan, math.nan])))
    assert values is not None and values["differs"] == [True, False]
    scalar = small_values(Check("dx", tol=TOL), run(np.float64(2.0), 3.0))
    assert scalar is not None and scalar["shape"] == [] and scalar["differs"] == [True]


@pytest.mark.parametrize("expected, got, error, check", [
    (np.zeros(MAX_ENTRIES + 1), np.ones(MAX_ENTRIES + 1), None, Check("dx", tol=TOL)),  # too big: heat map
    (np.zeros(3), np.ones((1, 3)), None, Check("dx", tol=TOL)),  # another shape: the message says it
    (np.zeros(3), None, None, Check("dx", tol=TOL)),  # not numbers
    (np.zeros(3), np.zeros(3), None, Check("dx", tol=TOL)),  # equal: failed on something else
    (np.zeros(3), np.ones(3), "ValueError", Check("dx", tol=TOL)),  # the call raised
    (np.zeros(3), np.ones(3), None, Check("dx", compare=lambda *a: Verdict(False))),  # not an equality
])
def test_no_values_where_numbers_would_not_help(expected: Any, got: Any, error: str | None, check: Check) -> None:
    assert small_values(check, run(expected, got, error)) is None


def test_a_graded_pool_bug_shows_its_numbers_in_every_format() -> None:
    """bug-pool-overwrite: max_pool_backward_naive overwrites dx where pooling windows overlap."""
    example = next(e for e in discover() if e.name == "bug-pool-overwrite")
    report = grade(example.submission, assignments.load(example.assignment),
                   GradeOptions(seed=0, profile="quick", only=frozenset({"max_pool_backward_naive"})))
    (function,) = report["functions"]
    check = next(c for c in function["checks"] if c["name"] == "dx")
    values = check["values"]
    assert len(values["expected"]) <= MAX_ENTRIES and any(values["differs"])
    files = {key: data.decode("utf-8") for key, data in render_reports(report).items()}
    wrong = [i for i, d in enumerate(values["differs"]) if d]
    assert files["md"].count("✗") == len(wrong) + 1  # each wrong entry, and the caption saying what ✗ means
    assert files["html"].count('<tr class="differs">') == len(wrong)
    section = files["html"].split('<section id="fn-max_pool_backward_naive">', 1)[1]
    assert "data:image/png" not in section  # numbers instead of a heat map
    expected_text = f"{values['expected'][wrong[0]]:.6g}"
    assert re.search(rf"✗ marks the {len(wrong)} entr", files["gradescope"])
    assert expected_text in files["junit"]
