"""junit.xml parses, counts right, and carries no character that XML 1.0 forbids."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from graders.report import write_reports
from graders.report.junit import junit_xml
from graders.report.samples import (
    IN_PLACE_WARNING,
    STAND_IN_WARNING,
    error_function,
    hostile_function,
    make_report,
    missing_function,
    partial_function_with_where,
    passed_function,
    passed_function_with_warning,
    sample_report,
)
from graders.report.view import build_view

XML_ILLEGAL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def parse(report: dict) -> ET.Element:
    return ET.fromstring(junit_xml(build_view(report)))


def test_written_junit_parses_and_counts_match(tmp_path: Path) -> None:
    data = write_reports(sample_report(), tmp_path)["junit"].read_bytes()
    assert not XML_ILLEGAL.search(data)
    root = ET.fromstring(data)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    names = [fn["name"] for fn in sample_report()["functions"]]
    assert [suite.get("name") for suite in suites] == ["submission", *names]  # it has submission warnings
    cases = root.findall("./testsuite/testcase")
    # affine 1 check, conv 3 checks, missing 1, timeout 1, hostile 1 check
    assert len(cases) == 7 == int(root.get("tests", "-1"))
    assert len(root.findall("./testsuite/testcase/failure")) == 3 == int(root.get("failures", "-1"))
    assert len(root.findall("./testsuite/testcase/error")) == 1 == int(root.get("errors", "-1"))
    for suite in suites:
        assert int(suite.get("tests", "-1")) == len(suite.findall("testcase"))
        assert int(suite.get("failures", "-1")) == len(suite.findall("testcase/failure"))
        assert int(suite.get("errors", "-1")) == len(suite.findall("testcase/error"))


def test_checks_become_testcases_with_assignment_classname() -> None:
    suite = parse(make_report([partial_function_with_where()])).find("testsuite")
    assert suite is not None
    assert suite.get("name") == "conv_backward_naive" and suite.get("time") == "0.400"
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == ["dx", "dw", "db"]
    assert {case.get("classname") for case in cases} == {"cs231n-a2.conv_backward_naive"}
    failure = cases[0].find("failure")
    assert failure is not None and cases[1].find("failure") is None
    assert failure.get("message", "").startswith("dx differs at index (0, 1, 0, 3)")
    assert "padded border" in (failure.text or "")


def test_missing_counts_as_failure_and_timeout_as_error() -> None:
    root = parse(make_report([missing_function(), error_function()]))
    missing, timeout = root.findall("./testsuite/testcase")
    assert missing.get("name") == "spatial_groupnorm_backward"
    missing_failure = missing.find("failure")
    assert missing_failure is not None and missing_failure.get("type") == "missing"
    assert missing.find("skipped") is None
    timeout_error = timeout.find("error")
    assert timeout_error is not None and timeout_error.get("type") == "timeout"
    assert root.get("failures") == "1" and root.get("errors") == "1"


def test_a_passed_function_has_no_failures() -> None:
    root = parse(make_report([passed_function()]))
    assert root.get("failures") == "0" and root.get("errors") == "0" and root.get("tests") == "1"


def test_hostile_text_is_escaped_and_control_characters_made_visible() -> None:
    data = junit_xml(build_view(make_report([hostile_function()])))
    assert not XML_ILLEGAL.search(data)
    assert b"<script" not in data
    root = ET.fromstring(data)
    case = root.find("./testsuite/testcase")
    assert case is not None
    name = case.get("name", "")
    assert name.startswith("out|<script>alert(1)</script> ]]>")  # round-trips through XML escaping
    assert "\\x00\\x1b[31mred" in name  # control characters shown as visible escapes


@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=40))
def test_any_student_text_gives_parseable_xml(text: str) -> None:
    function = dict(partial_function_with_where(), name=text or "f")
    function["checks"] = [dict(function["checks"][0], name=text, message=text, where=None)]
    function["diagnosis"] = [text]
    root = ET.fromstring(junit_xml(build_view(make_report([function]))))
    assert len(root.findall("./testsuite/testcase/failure")) == 1


def test_warnings_reach_junit_as_properties_and_system_out() -> None:
    root = parse(make_report([passed_function_with_warning(), passed_function()], warnings=[STAND_IN_WARNING]))
    submission, relu, affine = root.findall("testsuite")
    assert submission.get("name") == "submission" and submission.findall("testcase") == []
    assert submission.get("tests") == "0" and root.get("tests") == "2"
    assert [p.get("value") for p in submission.findall("properties/property[@name='warning']")] == [STAND_IN_WARNING]
    assert submission.findtext("system-out") == f"Warning: {STAND_IN_WARNING}"
    assert [p.get("value") for p in relu.findall("properties/property[@name='warning']")] == [IN_PLACE_WARNING]
    assert relu.findtext("system-out") == f"Warning: {IN_PLACE_WARNING}"
    assert relu.find("testcase/failure") is None  # a warning is not a failure
    assert affine.find("system-out") is None and not affine.findall("properties/property[@name='warning']")


def test_no_submission_suite_without_submission_warnings() -> None:
    root = parse(make_report([passed_function()]))
    assert [suite.get("name") for suite in root.findall("testsuite")] == ["affine_forward"]
