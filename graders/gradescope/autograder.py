"""``nngrade gradescope run``: what the bundle's run_autograder does inside Gradescope's container.

Grades ``ROOT/submission`` (Gradescope puts the student's files there directly) with the bundle's assignment
and settings (``ROOT/source/nngrade-autograder.json``), writes ``ROOT/results/results.json`` in Gradescope's
format with Markdown test output, and keeps report.md, report.html, report.json and junit.xml beside it for
the course staff. WHY results.json is written even when grading cannot start (an unreadable submission, a
sandbox refusing to run): without it Gradescope shows the student only a generic autograder failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graders import assignment as assignments
from graders import courses
from graders.casebank_warm import Warmed, warm
from graders.grade import GradeOptions, grade
from graders.gradescope.bundle import BUNDLED_ASSIGNMENT, CONFIG_NAME, AutograderConfig
from graders.report.atomic import write_atomic
from graders.report.gradescope import gradescope_results
from graders.report.jsonsafe import dumps_json
from graders.report.markdown import md_text
from graders.report.view import build_view
from graders.report.write import REPORT_FILES, render_reports
from graders.sandbox.layers import SandboxUnavailable
from graders.submission import SubmissionError

RESULTS_NAME = REPORT_FILES["gradescope"]


def read_config(root: Path) -> AutograderConfig:
    data = json.loads((root / "source" / CONFIG_NAME).read_text(encoding="utf-8"))
    data["specs"] = tuple(data.get("specs", ()))
    return AutograderConfig(**data)


def _assignment_path(root: Path, config: AutograderConfig) -> str:
    return str(root / "source" / BUNDLED_ASSIGNMENT) if config.assignment == BUNDLED_ASSIGNMENT else config.assignment


def write_results(report: Mapping[str, Any], results: Path, visibility: str) -> None:
    """Every report file into ``results``, results.json in Gradescope's Markdown flavour, report.json last."""
    contents = render_reports(report)
    contents["gradescope"] = dumps_json(
        gradescope_results(build_view(report), output_format="md", visibility=visibility)
    ).encode("utf-8")
    results.mkdir(parents=True, exist_ok=True)
    for key, filename in REPORT_FILES.items():
        write_atomic(results / filename, contents[key])


def failure_results(message: str, visibility: str) -> dict[str, Any]:
    """results.json for a submission that could not be graded at all: no points, and why."""
    return {
        "score": 0.0,
        "execution_time": 0,
        "output": "The submission could not be graded: " + md_text(message),
        "output_format": "md",
        "test_output_format": "md",
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": [],
    }


def _configured(root: Path) -> tuple[AutograderConfig, assignments.Assignment]:
    config = read_config(root)
    if config.specs:  # the course's own spec folders, copied into the bundle
        courses.use_folders([root / "source" / folder for folder in config.specs])
    return config, assignments.load(_assignment_path(root, config))


def warm_bank(root: Path) -> Warmed:
    """Fill the case bank for the bundle's assignment, seed and profile (setup.sh, once per image)."""
    config, assignment = _configured(root)
    return warm(assignment, config.seed, config.profile)


def run_autograder(root: Path) -> dict[str, Any]:
    """Grade ``root/submission`` into ``root/results``; returns the results.json written."""
    config, assignment = _configured(root)
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    options = GradeOptions(seed=config.seed, profile=config.profile, budget_s=config.budget_s)
    try:
        report = grade(root / "submission", assignment, options)
    except (SubmissionError, SandboxUnavailable) as exc:
        failed = failure_results(str(exc), config.visibility)
        write_atomic(results / RESULTS_NAME, dumps_json(failed).encode("utf-8"))
        return failed
    write_results(report, results, config.visibility)
    loaded: dict[str, Any] = json.loads((results / RESULTS_NAME).read_text(encoding="utf-8"))
    return loaded
