"""A pytest plugin: a student repository's CI (e.g. a GitHub Classroom workflow) runs the self-check as tests.

``pytest --nngrade-submission PATH [--nngrade-assignment NAME] [--nngrade-only FUNCTION]`` adds one test item per
graded function, named ``nngrade::<assignment>::<function>``. The submission is checked once per pytest process
(:func:`graders.selfcheck.self_check`: the visible cases, the same sandbox and feedback as ``nngrade check``);
each item then passes, fails with that function's failing checks, counterexample and diagnosis as its failure
text, or is skipped when the grader's environment could not judge it (status ``environment``). The score and
status go into the item's ``user_properties``, so ``--junitxml`` carries them.

WHY a plugin and not generated test files: the student's repository stays as handed out, and the items come from
the same registry as grading, so a new function in the assignment is a new test item with no file to update.
Without ``--nngrade-submission`` the plugin adds nothing (it is installed with nngrade, so every pytest run
loads it).

This is feedback, not a grade: it runs in the student's own pytest process, which the student controls.
Grading stays ``nngrade grade``/``batch``/the Gradescope bundle, on the course's private seed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

SUBMISSION_OPTION = "--nngrade-submission"
_REPORT_KEY = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nngrade", "nngrade self-check (one test per graded function)")
    group.addoption(SUBMISSION_OPTION, dest="nngrade_submission", default=None, metavar="PATH",
                    help="Check this submission (folder, .zip, .py or .ipynb) with nngrade's visible cases.")
    group.addoption("--nngrade-assignment", dest="nngrade_assignment", default="cs231n-a2", metavar="NAME",
                    help="The assignment to check against (default: cs231n-a2; see `nngrade assignments`).")
    group.addoption("--nngrade-only", dest="nngrade_only", action="append", default=[], metavar="FUNCTION",
                    help="Check only this function (repeatable).")


class GradedFunctionItem(pytest.Item):
    """One graded function of the checked submission."""

    def __init__(self, *, function: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.function = function

    def runtest(self) -> None:
        from graders.selfcheck import function_feedback

        report = _report(self.config)
        entry = next((f for f in report.get("functions", ()) if f.get("name") == self.function), None)
        if entry is None:
            raise FunctionFailed(f"{self.function} was not graded")
        self.user_properties += [("status", entry.get("status")), ("score", entry.get("score")),
                                 ("max_score", entry.get("max_score"))]
        status = entry.get("status")
        if status == "passed":
            return
        if status == "environment":
            pytest.skip(f"{self.function}: the grader's environment could not judge it here")
        raise FunctionFailed(function_feedback(report, self.function) or f"{self.function}: {status}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, FunctionFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"nngrade: {self.function}"


class FunctionFailed(Exception):
    """A graded function lost points; the message is its feedback."""


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    submission = config.getoption("nngrade_submission")
    if not submission:
        return
    assignment = _assignment(config)
    only = set(config.getoption("nngrade_only"))
    unknown = only - {g.spec.name for g in assignment.functions}
    if unknown:
        raise pytest.UsageError(f"--nngrade-only: {assignment.name} does not grade {', '.join(sorted(unknown))}")
    for graded in assignment.functions:
        if only and graded.spec.name not in only:
            continue
        name = f"nngrade::{assignment.name}::{graded.spec.name}"
        items.append(GradedFunctionItem.from_parent(session, name=name, nodeid=name, function=graded.spec.name))


def _assignment(config: pytest.Config) -> Any:
    from graders import assignment as assignments

    try:
        return assignments.load(config.getoption("nngrade_assignment"))
    except assignments.AssignmentError as exc:
        raise pytest.UsageError(f"--nngrade-assignment: {exc}") from None


def _report(config: pytest.Config) -> dict[str, Any]:
    """The self-check's report, computed on first use and kept for the session."""
    report = config.stash.get(_REPORT_KEY, None)
    if report is None:
        from graders.selfcheck import self_check

        submission = Path(os.path.abspath(str(config.getoption("nngrade_submission"))))
        only = frozenset(config.getoption("nngrade_only")) or None
        report = self_check(submission, _assignment(config), only=only).report
        config.stash[_REPORT_KEY] = report
    return report
