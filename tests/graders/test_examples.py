"""End to end: every example submission gets what its expected.toml says (full marks for correct code however
written; the right checks failing, with the right diagnosis, for each bug)."""

from __future__ import annotations

import pytest

from graders import assignment as assignments
from graders.examples import Example, discover, mismatches
from graders.grade import GradeOptions, grade

EXAMPLES = discover()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_gets_its_expected_scores(example: Example) -> None:
    report = grade(example.submission, assignments.load(example.assignment), GradeOptions(seed=0))
    problems = mismatches(example, report)
    assert not problems, "\n".join(problems)


def test_there_are_examples_of_both_kinds() -> None:
    """Correct code that must keep full marks, and buggy code that must lose points."""
    all_full = [
        e for e in EXAMPLES if e.expected.get("default", "full") == "full" and not e.expected.get("functions")
    ]
    with_bugs = [e for e in EXAMPLES if e not in all_full]
    assert all_full and with_bugs


def _entry(name: str, status: str, score: float) -> dict[str, object]:
    message = "not graded: the grading machine lacks the data set" if status == "environment" else ""
    return {"name": name, "status": status, "score": score, "max_score": 2.0, "diagnosis": [], "warnings": [],
            "checks": [{"name": "out", "passed": score == 2.0, "message": message}]}


def test_a_function_this_machine_cannot_grade_is_not_a_mismatch_but_is_said() -> None:
    from pathlib import Path

    from graders.examples import not_checked_here

    example = Example("e", Path("."), Path("."), {"assignment": "dlfs", "functions": {"gone": "zero"}})
    report = {"functions": [_entry("load_mnist", "environment", 0.0), _entry("relu", "passed", 2.0),
                            _entry("wrong", "failed", 0.0), _entry("gone", "environment", 0.0)]}
    assert mismatches(example, report) == ["wrong: expected full marks, got 0/2 (failed; failing ['out']: )"]
    unchecked = not_checked_here(example, report)
    assert [line.split(":")[0] for line in unchecked] == ["load_mnist", "gone"]
    assert "lacks the data set" in unchecked[0]
    # an example that expects the environment status checks it like any other
    example.expected["functions"]["load_mnist"] = "environment"
    assert [line.split(":")[0] for line in not_checked_here(example, report)] == ["gone"]
