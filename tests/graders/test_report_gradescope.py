"""results.json follows Gradescope's autograder results format."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from graders.report import write_reports
from graders.report.gradescope import gradescope_results
from graders.report.samples import (
    hostile_function,
    make_report,
    partial_function_with_where,
    passed_function,
    sample_report,
)
from graders.report.view import build_view

VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def assert_valid_gradescope(results: dict[str, Any]) -> None:
    """The fields and types Gradescope's autograder specification documents for results.json."""
    assert isinstance(results["score"], float) and math.isfinite(results["score"])
    assert isinstance(results["execution_time"], int) and results["execution_time"] >= 0
    assert isinstance(results["output"], str)
    assert results["visibility"] in VISIBILITIES and results["stdout_visibility"] in VISIBILITIES
    assert results["output_format"] in FORMATS and results["test_output_format"] in FORMATS
    assert set(results) <= {"score", "execution_time", "output", "output_format", "test_output_format",
                            "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
                            "leaderboard"}
    for test in results["tests"]:
        assert set(test) <= {"score", "max_score", "status", "name", "name_format", "number", "output",
                             "output_format", "tags", "visibility", "extra_data"}
        assert isinstance(test["name"], str) and test["name"]
        for key in ("score", "max_score"):
            assert isinstance(test[key], float) and math.isfinite(test[key])
        assert test["status"] in {"passed", "failed"}
        assert isinstance(test["output"], str)
        assert test["visibility"] in VISIBILITIES
    assert results["score"] == pytest.approx(math.fsum(test["score"] for test in results["tests"]), abs=1e-9)


def test_written_results_json_is_valid(tmp_path: Path) -> None:
    results = json.loads(write_reports(sample_report(), tmp_path)["gradescope"].read_text(encoding="utf-8"))
    assert_valid_gradescope(results)
    assert [test["name"] for test in results["tests"]] == [fn["name"] for fn in sample_report()["functions"]]
    assert results["execution_time"] == 1  # round(1.23)


def test_one_test_per_function_with_scores_and_status() -> None:
    report = make_report([passed_function(), partial_function_with_where()])
    results = gradescope_results(build_view(report))
    assert_valid_gradescope(results)
    assert [(t["score"], t["max_score"], t["status"]) for t in results["tests"]] == [
        (1.0, 1.0, "passed"), (2.0, 3.0, "failed"),
    ]
    assert results["score"] == 3.0


def test_failed_function_output_explains_the_failure() -> None:
    results = gradescope_results(build_view(make_report([partial_function_with_where()])))
    output = results["tests"][0]["output"]
    assert "dx differs at index (0, 1, 0, 3)" in output
    assert "x = np.arange(16.0).reshape(1, 1, 4, 4)" in output  # the repro code
    assert "padded border" in output  # the diagnosis
    assert "dout was modified in place" in output  # the warning
    assert "# . . #" in output  # the where-map as a character grid


def test_nan_scores_count_as_zero_and_text_is_cleaned() -> None:
    results = gradescope_results(build_view(make_report([passed_function(), hostile_function()])))
    assert_valid_gradescope(results)
    assert results["tests"][1]["score"] == 0.0
    assert results["score"] == 1.0
    assert "\x00" not in json.dumps(results, ensure_ascii=False)
    assert "\x1b" not in results["tests"][1]["output"]
    assert "<script>alert(1)</script>" in results["tests"][1]["output"]  # text format: shown verbatim
    assert "\u202e" not in results["tests"][1]["output"]  # a bidi override is shown, not obeyed
    assert "\\u202e" in results["tests"][1]["output"]


def test_summary_names_the_total_and_the_statuses() -> None:
    output = gradescope_results(build_view(sample_report()))["output"]
    assert output.startswith("cs231n-a2: 3 / 8 points; 1 of 5 functions passed")
    assert "1 missing" in output and "1 timeout" in output


def test_float_noise_does_not_leak_into_the_total() -> None:
    functions = [dict(passed_function(), name=f"f{i}", score=0.1, max_score=0.1) for i in range(3)]
    results = gradescope_results(build_view(make_report(functions)))
    assert results["score"] == 0.3
