"""The student self-check: a working copy graded on the *visible* cases, in seconds, with the grader's feedback.

What a student may see, and what stays hidden: the notebook's fixed cases and the scale cases are in
nngrade's (open) source already, and the property cases of the self-check are drawn from the public
:data:`CHECK_SEED` with the ``quick`` profile. The cases a course grades with come from the course's own
``--seed`` (the Gradescope bundle draws a private one by default): the self-check never takes a seed, so
shipping nngrade to students ships no hidden case and no expected value of one. A course that grades with
:data:`CHECK_SEED` is warned (:func:`seed_warning`), since its students could replay every graded case.

The self-check grades exactly as ``nngrade grade`` does (same sandbox, same checks, diagnoses and
counterexamples); it only changes which cases run and where the output goes: plain text for the terminal, one
block per function that lost points, nothing written into the student's folder unless ``--out`` asks for the
report files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.assignment import Assignment
from graders.grade import GradeOptions, grade
from graders.report.plaintext import explain_function, summarize
from graders.report.view import build_view

#: The seed of the self-check's property cases: public by design (see the module docstring).
CHECK_SEED = 20_231_231
#: Few property cases per function: the self-check answers in seconds.
CHECK_PROFILE = "quick"


@dataclass(frozen=True)
class CheckResult:
    report: dict[str, Any]

    @property
    def all_passed(self) -> bool:
        return all(f.get("status") == "passed" for f in self.report.get("functions", ()))


def self_check(submission: Path, assignment: Assignment, *, only: frozenset[str] | None = None,
               python: str | None = None) -> CheckResult:
    """Grade ``submission`` on the visible cases (the public seed, the quick profile)."""
    options = GradeOptions(seed=CHECK_SEED, profile=CHECK_PROFILE, python=python, only=only)
    return CheckResult(grade(submission, assignment, options))


def feedback_text(report: Mapping[str, Any]) -> str:
    """The summary, then each function that did not pass explained (checks, counterexample with code to
    reproduce it, diagnosis, warnings), as plain text cleaned of control characters."""
    view = build_view(report)
    blocks = [summarize(view)]
    for function in view.functions:
        if function.status != "passed" or function.warnings:
            blocks.append(f"== {function.name}\n{explain_function(function)}")
    return "\n\n".join(blocks)


def function_feedback(report: Mapping[str, Any], name: str) -> str | None:
    """One function's explanation (None when the report has no such function)."""
    for function in build_view(report).functions:
        if function.name == name:
            return explain_function(function)
    return None


def seed_warning(seed: int) -> str | None:
    """A warning for a course that grades with the self-check's public seed."""
    if seed == CHECK_SEED:
        return (f"--seed {seed} is the seed of `nngrade check`, which students can run: they would see every "
                "graded case. Grade with a seed of your own.")
    return None
