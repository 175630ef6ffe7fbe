"""junit.xml: the grade as a JUnit report, so CI systems (GitLab, Jenkins, GitHub test reporters) show it.

Mapping: one <testsuite> per function (name = function name) and one <testcase> per check
(classname "<assignment>.<function>", name = check name). A failing check is a <failure> whose message is
the check's message and whose body is the function's full plain-text explanation.

A function without checks (missing, error, timeout, crashed, forbidden, i.e. nothing could be checked) gets
a single <testcase> named after the function: <error> for error/timeout/crashed/forbidden, and <failure>
for ``missing``. WHY not <skipped> for missing: a skipped test reads as neutral in CI dashboards, but a
missing function costs the student its points, so it must count as a failure. A check-less function that
passed is a passing testcase; any other check-less status is a <failure>.

Warnings (an input modified in place, a stand-in used, a (1, D) result accepted) reach CI too, passing
functions' included: each is a ``warning`` property of its function's <testsuite> and a line of the suite's
<system-out>, which GitLab, Jenkins and the GitHub reporters show. Submission-level warnings go to a first
<testsuite name="submission"> that holds no testcase (JUnit has no place for them at the <testsuites> level),
with the module-level problems (a module that did not import: its sentence and the student's traceback) as
``problem`` properties and at the top of its <system-out>.

Per-check times are not measured; each testcase gets an equal share of its function's ``duration_s`` so the
times add up to the suite time. Text passes through :func:`clean_text` first: ElementTree escapes markup but
would happily write a NUL or ESC byte, which makes the file unparseable.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from graders.report.plaintext import explain_function, problems_plain
from graders.report.text import clean_text
from graders.report.view import FunctionView, ReportView

ERROR_STATUSES = frozenset({"error", "timeout", "crashed", "forbidden"})
SUBMISSION_SUITE = "submission"


def _seconds(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) and value >= 0 else "0.000"


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]


def _warnings(suite: ET.Element, properties: ET.Element, warnings: tuple[str, ...]) -> None:
    """Each warning as a ``warning`` property and, all together, as the suite's <system-out>."""
    for warning in warnings:
        ET.SubElement(properties, "property", {"name": "warning", "value": clean_text(warning)})
    if warnings:
        ET.SubElement(suite, "system-out").text = "\n".join("Warning: " + clean_text(w) for w in warnings)


def _submission_suite(parent: ET.Element, view: ReportView) -> None:
    """The submission's problems and warnings, in a suite without testcases (only when there are any)."""
    if not view.warnings and not view.problems:
        return
    suite = ET.SubElement(parent, "testsuite", {"name": SUBMISSION_SUITE, "tests": "0", "failures": "0",
                                                 "errors": "0", "skipped": "0", "time": "0.000"})
    properties = ET.SubElement(suite, "properties")
    for problem in view.problems:
        ET.SubElement(properties, "property", {"name": "problem", "value": clean_text(problem.sentence)})
    _warnings(suite, properties, view.warnings)
    if view.problems:
        said = problems_plain(view)
        out = suite.find("system-out")
        if out is None:
            out = ET.SubElement(suite, "system-out")
        out.text = said + ("\n" + out.text if out.text else "")


def _suite(parent: ET.Element, assignment: str, function: FunctionView) -> tuple[int, int, int]:
    """Append one <testsuite>; returns (tests, failures, errors)."""
    suite = ET.SubElement(parent, "testsuite", {"name": function.name})
    properties = ET.SubElement(suite, "properties")
    for key, value in (("module", function.module), ("status", function.status),
                       ("score", f"{function.score:g}"), ("max_score", f"{function.max_score:g}")):
        ET.SubElement(properties, "property", {"name": key, "value": clean_text(value)})
    classname = f"{assignment}.{function.name}"
    explanation = explain_function(function)
    failures = errors = 0
    if function.checks:
        share = function.duration_s / len(function.checks)
        for check in function.checks:
            case = ET.SubElement(suite, "testcase", {"classname": classname, "name": check.name,
                                                     "time": _seconds(share)})
            if not check.passed:
                failures += 1
                message = _first_line(check.message) or f"check {check.name} failed"
                ET.SubElement(case, "failure", {"message": message, "type": "check"}).text = explanation
        tests = len(function.checks)
    else:
        case = ET.SubElement(suite, "testcase", {"classname": classname, "name": function.name,
                                                 "time": _seconds(function.duration_s)})
        message = f"{function.status}: {function.meaning}" if function.meaning else function.status
        if function.status in ERROR_STATUSES:
            errors += 1
            ET.SubElement(case, "error", {"message": message, "type": function.status}).text = explanation
        elif not function.passed:
            failures += 1
            ET.SubElement(case, "failure", {"message": message, "type": function.status}).text = explanation
        tests = 1
    _warnings(suite, properties, function.warnings)
    suite.attrib.update({"tests": str(tests), "failures": str(failures), "errors": str(errors),
                         "skipped": "0", "time": _seconds(function.duration_s)})
    return tests, failures, errors


def junit_xml(view: ReportView) -> bytes:
    """The JUnit XML document (UTF-8, with declaration, indented, final newline)."""
    root = ET.Element("testsuites", {"name": f"nngrade {view.assignment}"})
    totals = [0, 0, 0]
    _submission_suite(root, view)
    for function in view.functions:
        for index, count in enumerate(_suite(root, view.assignment, function)):
            totals[index] += count
    root.attrib.update({"tests": str(totals[0]), "failures": str(totals[1]), "errors": str(totals[2]),
                        "time": _seconds(view.duration_s)})
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
