"""The report files of real graded submissions say what the report.json says: warnings in every format, a
module that did not import said once at the top."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from graders import assignment as assignments
from graders.examples import EXAMPLES_DIR
from graders.grade import GradeOptions, grade
from graders.report import write_reports

LOOPS = EXAMPLES_DIR / "cs231n-correct-loops" / "submission"


def graded(submission: Path, out: Path, only: set[str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The report dict and the text of every report file written for it."""
    options = GradeOptions(seed=0, profile="quick", only=frozenset(only) if only else None)
    report = grade(submission, assignments.load("cs231n-a2"), options)
    paths = write_reports(report, out)
    return report, {key: path.read_text(encoding="utf-8") for key, path in paths.items()}


def readable_markdown(text: str) -> str:
    """What a reader of report.md sees: backslash escapes removed, lines unfolded."""
    return " ".join(re.sub(r"\\(.)", r"\1", text).split())


def readable_html(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())


@pytest.fixture(scope="module")
def loops(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, str]]:
    """The loops example's relu_backward (it zeroes dout in place) and affine_forward (no warning); the
    submission needs the im2col stand-in (a submission-level warning)."""
    return graded(LOOPS, tmp_path_factory.mktemp("loops"), {"relu_backward", "affine_forward"})


def test_the_example_has_the_warnings_this_test_is_about(loops: tuple[dict[str, Any], dict[str, str]]) -> None:
    report, _ = loops
    relu = next(f for f in report["functions"] if f["name"] == "relu_backward")
    assert relu["status"] == "passed" and any("'dout' in place" in w for w in relu["warnings"])
    assert any("stand-in" in w for w in report["warnings"])


def test_every_format_shows_every_warning(loops: tuple[dict[str, Any], dict[str, str]]) -> None:
    report, files = loops
    relu = next(f for f in report["functions"] if f["name"] == "relu_backward")
    warnings = [*report["warnings"], *relu["warnings"]]
    markdown, page = readable_markdown(files["md"]), readable_html(files["html"])
    junit = ET.fromstring(files["junit"].encode("utf-8"))
    junit_text = " ".join(" ".join((e.text or "") for e in junit.iter("system-out")).split())
    gradescope = json.loads(files["gradescope"])
    gradescope_text = " ".join([gradescope["output"], *(t["output"] for t in gradescope["tests"])])
    for warning in warnings:
        flat = " ".join(warning.split())
        assert flat in markdown, ("report.md", warning)
        assert flat in page, ("report.html", warning)
        assert flat in junit_text, ("junit.xml", warning)
        assert flat in " ".join(gradescope_text.split()), ("results.json", warning)
    relu_suite = junit.find("testsuite[@name='relu_backward']")
    assert relu_suite is not None
    assert [p.get("value") for p in relu_suite.findall("properties/property[@name='warning']")] == relu["warnings"]
