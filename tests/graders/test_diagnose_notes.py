"""A diagnosis of the grader's own that raises says nothing to the student and is kept as a grader note."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from graders.diagnose import diagnose
from graders.specs import registry
from graders.specs.base import CaseRun, Diagnosis, Verdict


def broken(runs: Sequence[CaseRun]) -> bool:
    raise ZeroDivisionError("a detector's own bug")


def test_a_raising_detector_becomes_a_grader_note() -> None:
    spec = dataclasses.replace(registry.get("affine_forward"),
                               diagnoses=(Diagnosis("broken_detector", "never shown", broken),))
    case = {"x": np.ones((2, 3)), "w": np.ones((3, 2)), "b": np.zeros(2), "dout": np.ones((2, 2))}
    run = CaseRun(case=case, actual={"out": np.zeros((2, 2))}, expected={"out": np.full((2, 2), 3.0)},
                  verdicts={"out": Verdict(False, "out differs")})
    notes: list[str] = []
    sentences = diagnose(spec, [run], notes=notes)
    assert "never shown" not in sentences
    assert any("broken_detector" in n and "ZeroDivisionError" in n for n in notes), notes
    # without a notes list, grading still goes on and says nothing of it
    assert "never shown" not in diagnose(spec, [run])
