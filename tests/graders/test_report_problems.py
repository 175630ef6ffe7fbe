"""Module-level problems: a module that does not import (or is not there) is said once, at the top of every
report format, with the student's own file, line and code; its functions say briefly that they were not
graded; tracebacks keep only the student's frames."""

from __future__ import annotations

import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from rich.console import Console

from graders import assignment as assignments
from graders.examples import EXAMPLES_DIR
from graders.grade import GradeOptions, grade
from graders.module_problems import ProblemLog, exception_text, student_frames, trim_traceback
from graders.report import render_reports, render_terminal_table, write_reports
from graders.report.samples import (
    SYNTAX_TRACEBACK,
    make_report,
    module_problem_report,
    passed_function,
)
from graders.report.view import build_view

#: What the worker sends for a syntax error in layers.py imported through layer_utils.py (Python 3.11).
WORKER_TRACEBACK = '''\
  File "/usr/lib/python3.11/importlib/__init__.py", line 126, in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "assignment2/cs231n/layer_utils.py", line 1, in <module>
    from .layers import *
  File "assignment2/cs231n/layers.py", line 23
    x = (1 +
        ^
SyntaxError: '(' was never closed
'''


# ------------------------------------------------------------------ tracebacks
def test_traceback_is_trimmed_to_the_students_frames() -> None:
    trimmed = trim_traceback(WORKER_TRACEBACK)
    assert "importlib" not in trimmed and "_bootstrap" not in trimmed
    assert trimmed.splitlines() == [
        '  File "assignment2/cs231n/layer_utils.py", line 1, in <module>',
        "    from .layers import *",
        '  File "assignment2/cs231n/layers.py", line 23',
        "    x = (1 +",
        "        ^",
        "SyntaxError: '(' was never closed",
    ]


def test_the_last_student_frame_locates_the_error() -> None:
    frames = student_frames(WORKER_TRACEBACK)
    assert [(f.file, f.line, f.code) for f in frames] == [
        ("assignment2/cs231n/layer_utils.py", 1, "from .layers import *"),
        ("assignment2/cs231n/layers.py", 23, "x = (1 +"),
    ]
    assert exception_text(WORKER_TRACEBACK) == "SyntaxError: '(' was never closed"


def test_a_traceback_without_student_frames_is_kept_whole() -> None:
    text = '  File "/usr/lib/python3/dist-packages/numpy/core/x.py", line 3, in f\n    g()\nValueError: bad'
    assert trim_traceback(text) == text
    assert student_frames(text) == [] and exception_text(text) == "ValueError: bad"


def test_a_multi_line_exception_message_is_kept() -> None:
    text = '  File "layers.py", line 2, in <module>\n    raise RuntimeError("a\\nb")\nRuntimeError: a\nb'
    assert exception_text(text) == "RuntimeError: a\nb"
    assert trim_traceback(text).endswith("RuntimeError: a\nb")


# ------------------------------------------------------------------ the problem log
def test_each_module_is_recorded_once_with_its_location_and_cause() -> None:
    log = ProblemLog()
    layers_error = "\n".join(WORKER_TRACEBACK.splitlines()[:1] + WORKER_TRACEBACK.splitlines()[5:])
    said = log.import_failed("layers", "assignment2/cs231n/layers.py", layers_error, "SyntaxError")
    assert said == ("not graded: importing assignment2/cs231n/layers.py failed (SyntaxError: '(' was never "
                    "closed, line 23); see Problems at the top of the report")
    assert log.import_failed("layers", "assignment2/cs231n/layers.py", layers_error) == said
    utils = log.import_failed("layer_utils", "assignment2/cs231n/layer_utils.py", WORKER_TRACEBACK)
    assert "(SyntaxError: '(' was never closed, assignment2/cs231n/layers.py line 23)" in utils
    functions = [{"name": "affine_forward", "blocked_by": "layers"}, {"name": "relu_forward", "blocked_by": "layers"},
                 {"name": "affine_relu_forward", "blocked_by": "layer_utils"}, {"name": "other"}]
    layers, layer_utils = log.entries(functions)
    assert layers == {
        "module": "layers", "module_file": "assignment2/cs231n/layers.py", "kind": "import",
        "file": "assignment2/cs231n/layers.py", "line": 23, "code": "x = (1 +",
        "message": "SyntaxError: '(' was never closed", "traceback": trim_traceback(layers_error),
        "functions": ["affine_forward", "relu_forward"],
    }
    assert layer_utils["caused_by"] == "layers" and layer_utils["functions"] == ["affine_relu_forward"]
    assert layer_utils["file"] == "assignment2/cs231n/layers.py"


def test_a_missing_module_file_is_a_problem_without_location() -> None:
    log = ProblemLog()
    said = log.missing_file("layers", ["cs231n/layers.py", "layers.py"])
    assert said.startswith("not graded: the module file was not found (looked for cs231n/layers.py or layers.py")
    (entry,) = log.entries([{"name": "affine_forward", "blocked_by": "layers"}])
    assert entry["kind"] == "missing" and entry["line"] is None and entry["file"] is None
    assert entry["functions"] == ["affine_forward"]


# ------------------------------------------------------------------ every format says it once, at the top
def rendered(report: dict[str, Any]) -> dict[str, str]:
    return {key: value.decode("utf-8") for key, value in render_reports(report).items()}


def test_markdown_says_the_problem_once_before_the_table_in_a_code_block() -> None:
    text = rendered(module_problem_report())["md"]
    top, table_and_rest = text.split("\n| Function |", 1)
    assert "## Problems" in top
    fenced = "  ```text\n" + "".join(f"  {line}\n" for line in SYNTAX_TRACEBACK.splitlines()) + "  ```"
    assert fenced in top
    assert text.count("x = (1 +") == 1  # the traceback is not repeated anywhere
    assert "did not import because it imports cs231n/layers.py" in top
    # a blocked function: its table row says it, no section repeats it
    assert "| `affine_backward` | error (not graded: see Problems) | 0 / 3 |" in table_and_rest
    assert "## `affine_backward`" not in text and "not graded: importing" not in text


def test_html_says_the_problem_once_before_the_table_in_a_pre_block() -> None:
    html = rendered(module_problem_report())["html"]
    problems = html.split('<section id="problems" class="problems">', 1)[1].split("</section>", 1)[0]
    assert html.index('id="problems"') < html.index("<table>")
    assert "<pre class=\"traceback\"><code>" in problems
    assert html.count("x = (1 +") == 1
    table = html.split("<table>", 1)[1]
    assert table.count('href="#problems"') == 3  # every blocked function's row points at it
    assert re.findall(r'<tr id="(fn-[^"]+)">', html) == ["fn-affine_forward", "fn-affine_backward",
                                                          "fn-affine_relu_forward"]
    assert "<section id=\"fn-" not in html and "not graded: importing" not in html


def test_junit_terminal_and_gradescope_carry_the_problem() -> None:
    files = rendered(module_problem_report())
    root = ET.fromstring(files["junit"].encode("utf-8"))
    submission = root.find("testsuite[@name='submission']")
    assert submission is not None
    problems = [p.get("value", "") for p in submission.findall("properties/property[@name='problem']")]
    assert problems[0] == ("cs231n/layers.py did not import: SyntaxError: '(' was never closed (line 23); "
                           "2 functions were not graded.")
    assert "x = (1 +" in (submission.findtext("system-out") or "")
    assert "x = (1 +" in json.loads(files["gradescope"])["output"]
    buffer = io.StringIO()
    render_terminal_table(module_problem_report(), Console(file=buffer, width=100, color_system=None))
    terminal = buffer.getvalue()
    assert terminal.startswith("Problems:\n") and terminal.index("x = (1 +") < terminal.index("affine_forward")


def test_no_problems_no_section() -> None:
    files = rendered(make_report([passed_function()]))
    assert "Problems" not in files["md"] and 'id="problems"' not in files["html"]
    assert build_view(make_report([passed_function()])).problems == ()


# ------------------------------------------------------------------ a real submission with a syntax error
@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, str]]:
    """The loops example with an unclosed parenthesis added to affine_backward in layers.py."""
    root = tmp_path_factory.mktemp("broken")
    submission = root / "submission"
    shutil.copytree(EXAMPLES_DIR / "cs231n-correct-loops" / "submission", submission)
    layers = next(submission.rglob("layers.py"))
    lines = layers.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("def affine_backward")) + 1
    lines.insert(at, "    x = (1 +")
    layers.write_text("\n".join(lines) + "\n")
    report = grade(submission, assignments.load("cs231n-a2"), GradeOptions(seed=0, profile="quick"))
    paths = write_reports(report, root / "out")
    report["_line"] = at + 1
    return report, {key: path.read_text(encoding="utf-8") for key, path in paths.items()}


def test_the_top_problem_names_the_students_file_line_and_code(broken: tuple[dict[str, Any], dict[str, str]]
                                                                ) -> None:
    report, _ = broken
    layers = report["problems"][0]
    assert layers["file"] == "assignment2/cs231n/layers.py" == layers["module_file"]
    assert (layers["line"], layers["code"]) == (report["_line"], "x = (1 +")
    assert layers["message"].startswith("SyntaxError")
    assert "importlib" not in layers["traceback"]
    utils = next(p for p in report["problems"] if p["module"] == "layer_utils")
    assert utils["caused_by"] == "layers"
    net = next(p for p in report["problems"] if p["module"] == "fc_net")  # classifiers/fc_net.py imports layers
    assert net["caused_by"] == "layers"
    cnn = next(p for p in report["problems"] if p["module"] == "cnn")  # so does classifiers/cnn.py
    assert cnn["caused_by"] == "layers"
    blocked = {f["name"] for f in report["functions"] if f.get("blocked_by")}
    # every function of layers.py, layer_utils.py, fc_net.py and cnn.py; optim.py imported and is graded as usual
    assert blocked == {f["name"] for f in report["functions"] if not f["module"].endswith("optim.py")}
    assert set(layers["functions"]) | set(utils["functions"]) | set(net["functions"]) | set(cnn["functions"]) == (
        blocked)
    assert all(f["status"] == "passed" for f in report["functions"] if f["module"].endswith("optim.py"))


def test_functions_say_briefly_why_and_nobody_is_told_to_fix_another_first(
        broken: tuple[dict[str, Any], dict[str, str]]) -> None:
    report, files = broken
    for function in report["functions"]:
        if not function.get("blocked_by"):
            continue  # optim.py, which imported
        for check in function["checks"]:
            assert check["message"].startswith("not graded: importing assignment2/cs231n/"), check["message"]
            assert "\n" not in check["message"] and "importlib" not in check["message"]
        assert not any("first" in sentence for sentence in function["diagnosis"]), function["diagnosis"]
    assert "importlib" not in json.dumps(report)
    assert files["md"].count("x = (1 +") == 1 and files["html"].count("x = (1 +") == 1
