"""The case bank changes how fast a submission is graded, never what its report says.

Same submission, same seed: the report without a bank, with a bank being built (cold) and replayed (warm) is
the same apart from timings, for correct functions (replayed) and buggy ones (graded live, so that the
counterexample is the one hypothesis shrinks to). A damaged bank file is rebuilt, and nothing is written into
the submission or the caller's folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graders.assignment import Assignment
from graders.casebank import CaseBank, read, record_property_cases
from graders.grade import GradeOptions, grade
from graders.specs import registry
from tests.graders.conftest import CORRECT_VECTORISED, by_name, full_marks, with_override, write_tree

TIMINGS = {"duration_s", "student_s"}

BUGGY = with_override(CORRECT_VECTORISED, """
    def affine_backward(dout, cache):
        x, w, b = cache
        flat = x.reshape(x.shape[0], -1)
        dw = flat.T @ dout
        if x.shape[0] > 2:  # wrong only on batches of three or more: shrinking has somewhere to go
            dw = 1.5 * dw
        return (dout @ w.T).reshape(x.shape), dw, dout.sum(axis=0)
""")


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def graded(root: Path, assignment: Assignment, bank: bool) -> dict[str, Any]:
    report = grade(root, assignment, GradeOptions(seed=3, profile="quick", case_bank=bank))
    return without_timings(json.loads(json.dumps(report)))


@pytest.mark.parametrize("source", [CORRECT_VECTORISED, BUGGY], ids=["correct", "buggy"])
def test_reports_are_the_same_with_or_without_the_bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       dense_assignment: Assignment, source: str) -> None:
    monkeypatch.setenv("NNGRADE_CASE_BANK", str(tmp_path / "bank"))
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": source})
    plain = graded(root, dense_assignment, bank=False)
    cold = graded(root, dense_assignment, bank=True)
    assert list((tmp_path / "bank").rglob("*.bank")), "the cold run built no bank"
    warm = graded(root, dense_assignment, bank=True)
    assert plain == cold == warm
    functions = by_name(plain)
    if source is BUGGY:
        assert not full_marks(functions["affine_backward"]) and functions["affine_backward"]["counterexample"]
    assert full_marks(functions["affine_forward"]) and full_marks(functions["relu_backward"])
    assert sorted(p.name for p in root.rglob("*")) == ["cs231n", "layers.py"]


def test_recorded_cases_are_the_ones_a_passing_run_draws(tmp_path: Path) -> None:
    spec = registry.get("affine_forward")
    first = record_property_cases(spec.cases(), 8, seed=5)
    again = record_property_cases(spec.cases(), 8, seed=5)
    other = record_property_cases(spec.cases(), 8, seed=6)
    assert len(first) == 8 and [c["x"].tolist() for c in first] == [c["x"].tolist() for c in again]
    assert [c["x"].tolist() for c in first] != [c["x"].tolist() for c in other]


def test_a_damaged_bank_file_is_rebuilt(tmp_path: Path, dense_assignment: Assignment) -> None:
    bank = CaseBank("sha256:test", 0, "quick", folder=tmp_path)
    spec = registry.get("relu_forward")
    built = bank.get(spec, lambda: _banked(spec))
    path = bank.path(spec)
    assert read(path) is not None and bank.misses == 1
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    assert read(path) is None
    rebuilt = bank.get(spec, lambda: _banked(spec))
    assert bank.misses == 2 and len(rebuilt.cases["property"]) == len(built.cases["property"])
    assert read(path) is not None


def test_peek_never_builds_and_get_returns_what_it_read(tmp_path: Path) -> None:
    """The grader peeks at a function's bank for its first case before grading it: peeking builds nothing, and
    the grading that follows uses what was read rather than reading the file again."""
    spec = registry.get("relu_forward")
    assert CaseBank("sha256:test", 0, "quick", folder=tmp_path).peek(spec) is None
    built = CaseBank("sha256:test", 0, "quick", folder=tmp_path).get(spec, lambda: _banked(spec))
    bank = CaseBank("sha256:test", 0, "quick", folder=tmp_path)
    peeked = bank.peek(spec)
    assert peeked is not None and _same(peeked.cases, built.cases)
    bank.path(spec).unlink()
    assert bank.get(spec, lambda: pytest.fail("built again")) is peeked and bank.hits == 1


def _banked(spec: Any) -> Any:
    from graders.casebank import Banked

    cases = record_property_cases(spec.cases(), 4, seed=0)
    return Banked(cases={"property": cases}, expected={"property": [spec.expected(c) for c in cases]})


def _same(drawn: Any, stored: Any) -> bool:
    """Equal values of the same types (arrays: dtype, shape and every value, NaN included)."""
    if type(drawn) is not type(stored):
        return False
    if isinstance(drawn, np.ndarray):
        return drawn.dtype == stored.dtype and drawn.shape == stored.shape and np.array_equal(
            drawn, stored, equal_nan=drawn.dtype.kind == "f")
    if isinstance(drawn, dict):
        return drawn.keys() == stored.keys() and all(_same(drawn[k], stored[k]) for k in drawn)
    if isinstance(drawn, (list, tuple)):
        return len(drawn) == len(stored) and all(_same(a, b) for a, b in zip(drawn, stored, strict=True))
    return bool(drawn == stored) or (drawn != drawn and stored != stored)


@pytest.mark.parametrize("spec", list(registry.all_specs()), ids=lambda s: s.name)
def test_deterministic_tiers_come_back_from_the_bank_as_drawn(tmp_path: Path, spec: Any) -> None:
    """The notebook and scale tiers are replayed from the bank: every value must come back with its type, so
    that a replayed run calls the student's code exactly as a freshly drawn one would."""
    from graders.casebank import Banked, write

    tiers = {"fixed": spec.fixed_cases(), "scale": spec.scale_cases()}
    path = tmp_path / "tiers.bank"
    write(path, Banked(cases=tiers, expected={tier: [{} for _ in cases] for tier, cases in tiers.items()}))
    stored = read(path)
    assert stored is not None
    for tier, cases in tiers.items():
        assert _same(cases, stored.cases[tier]), f"{spec.name}'s {tier} cases changed in the bank"
        for case in stored.cases[tier]:
            assert all(v.flags.writeable and v.flags.aligned for v in case.values() if isinstance(v, np.ndarray))
