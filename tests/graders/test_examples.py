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
