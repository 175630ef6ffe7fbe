"""Wrong code: each failure gets its status and a message that names the problem, and costs only itself."""

from __future__ import annotations

import json
import re
import runpy
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graders.assignment import Assignment
from graders.assignment import load as load_assignment
from graders.examples import EXAMPLES_DIR as EXAMPLES
from graders.grade import GradeOptions, grade
from tests.graders.conftest import (
    CORRECT_VECTORISED,
    DENSE_FUNCTIONS,
    GradeFn,
    by_name,
    full_marks,
    with_override,
    write_tree,
)

DB_TIMES_N = """
def affine_backward(dout, cache):
    x, w, b = cache
    flat = x.reshape(x.shape[0], -1)
    db = dout.sum(axis=0) * x.shape[0]
    return (dout @ w.T).reshape(x.shape), flat.T @ dout, db
"""

GOOD_UTILS = "import numpy as np\n\n\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"


def layers(tmp_path: Path, source: str, name: str = "sub") -> Path:
    return write_tree(tmp_path / name, {"cs231n/layers.py": source})


def messages(entry: dict[str, Any]) -> str:
    return "\n".join(c["message"] for c in entry["checks"])


# ------------------------------------------------------------------ a module that does not load
@pytest.mark.parametrize(("body", "words"), [
    ("import numpy as np\n\ndef affine_forward(x, w, b:\n    return x\n", ["line 3", "SyntaxError"]),
    ("import numpy as np\nraise RuntimeError('no dataset')\n", ["RuntimeError", "no dataset"]),
    ("import sys\nsys.exit(1)\n", ["SystemExit"]),
], ids=["syntax-error", "raise-at-import", "sys-exit-at-import"])
def test_module_that_fails_to_import_errors_every_function_of_it_only(
        tmp_path: Path, grade_submission: GradeFn, two_module_assignment: Assignment, body: str,
        words: list[str]) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": body + CORRECT_VECTORISED,
                                         "cs231n/utils.py": GOOD_UTILS})
    functions = by_name(grade_submission(root, assignment=two_module_assignment))
    for name in DENSE_FUNCTIONS:
        entry = functions[name]
        assert entry["status"] == "error", name
        assert entry["score"] == 0.0
        text = messages(entry)
        assert "importing cs231n/layers.py failed" in text
        for word in words:
            assert word in text, (word, text)
    assert full_marks(functions["utils_relu"])


def test_import_error_message_names_the_submitted_file_not_the_sandbox(tmp_path: Path,
                                                                       grade_submission: GradeFn) -> None:
    root = layers(tmp_path, "def affine_forward(x, w, b:\n    return x\n")
    text = messages(by_name(grade_submission(root))["affine_forward"])
    assert "cs231n/layers.py" in text and "line 1" in text
    assert "<frozen" not in text
    assert "nngrade-worker" not in text


# ------------------------------------------------------------------ functions that misbehave
def test_function_raising_on_every_case_is_an_error_with_the_exception(tmp_path: Path,
                                                                       grade_submission: GradeFn) -> None:
    source = with_override(CORRECT_VECTORISED, """
        def affine_backward(dout, cache):
            raise NotImplementedError("TODO: affine backward")
    """)
    functions = by_name(grade_submission(layers(tmp_path, source)))
    entry = functions["affine_backward"]
    assert entry["status"] == "error"
    assert entry["score"] == 0.0
    for check in entry["checks"]:
        assert "NotImplementedError: TODO: affine backward" in check["message"]
    assert any("NotImplementedError" in d for d in entry["diagnosis"])
    assert entry["counterexample"] is not None
    for name in ("affine_forward", "relu_forward", "relu_backward"):
        assert full_marks(functions[name]), name


def test_returning_none_fails_with_a_message_saying_none(tmp_path: Path, grade_submission: GradeFn) -> None:
    source = with_override(CORRECT_VECTORISED, """
        def relu_backward(dout, cache):
            dx = None
            # TODO: implement the ReLU backward pass
            return dx

        def affine_backward(dout, cache):
            dx, dw, db = None, None, None
            return dx, dw, db
    """)
    functions = by_name(grade_submission(layers(tmp_path, source)))
    for name in ("relu_backward", "affine_backward"):
        entry = functions[name]
        assert entry["status"] == "failed", name
        assert entry["score"] == 0.0
        for check in entry["checks"]:
            assert "got None" in check["message"], check
    assert full_marks(functions["affine_forward"]) and full_marks(functions["relu_forward"])


def test_forward_without_return_statement_fails_saying_it_returned_none(tmp_path: Path,
                                                                        grade_submission: GradeFn) -> None:
    source = with_override(CORRECT_VECTORISED, """
        def affine_forward(x, w, b):
            out = x.reshape(x.shape[0], -1) @ w + b
    """)
    entry = by_name(grade_submission(layers(tmp_path, source)))["affine_forward"]
    assert entry["status"] == "failed"
    assert "None" in messages(entry)
    assert "raised" not in messages(entry)


def test_wrong_shape_is_named(tmp_path: Path, grade_submission: GradeFn) -> None:
    source = with_override(CORRECT_VECTORISED, """
        def affine_forward(x, w, b):
            return (x.reshape(x.shape[0], -1) @ w + b).ravel(), (x, w, b)
    """)
    entry = by_name(grade_submission(layers(tmp_path, source)))["affine_forward"]
    assert entry["status"] == "failed"
    message = entry["checks"][0]["message"]
    match = re.fullmatch(r"the output out has shape \((\d+),\), expected \((\d+), (\d+)\)", message)
    assert match, message
    got, n, m = (int(g) for g in match.groups())
    assert got == n * m
    inputs = entry["counterexample"]["inputs"]
    assert (len(inputs["x"]), len(inputs["b"])) == (n, m)
    assert any("shape" in d for d in entry["diagnosis"])


def test_nan_output_is_named(tmp_path: Path, grade_submission: GradeFn) -> None:
    source = with_override(CORRECT_VECTORISED, """
        def relu_forward(x):
            out = np.maximum(x, 0)
            return np.log(out) * 0 + out, x
    """)
    entry = by_name(grade_submission(layers(tmp_path, source)))["relu_forward"]
    assert entry["status"] == "failed"
    assert "NaN or inf" in entry["checks"][0]["message"]
    assert any("NaN or inf" in d for d in entry["diagnosis"])


def test_complex_result_fails_as_a_wrong_dtype_not_a_crash(tmp_path: Path, grade_submission: GradeFn) -> None:
    source = with_override(CORRECT_VECTORISED, """
        def affine_forward(x, w, b):
            return (x.reshape(x.shape[0], -1) @ w + b).astype(complex), (x, w, b)
    """)
    entry = by_name(grade_submission(layers(tmp_path, source)))["affine_forward"]
    assert entry["status"] == "failed"
    assert "complex" in messages(entry)


# ------------------------------------------------------------------ partial credit, diagnosis, counterexample
def test_db_bug_gets_partial_credit_a_diagnosis_and_a_working_repro(
        tmp_path: Path, grade_submission: GradeFn, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    source = with_override(CORRECT_VECTORISED, DB_TIMES_N)
    functions = by_name(grade_submission(layers(tmp_path, source)))
    entry = functions["affine_backward"]
    checks = {c["name"]: c for c in entry["checks"]}
    assert entry["status"] == "partial"
    assert checks["dx"]["passed"] and checks["dw"]["passed"] and not checks["db"]["passed"]
    assert entry["score"] == pytest.approx(checks["dx"]["max_score"] + checks["dw"]["max_score"]) == 2.0
    assert checks["db"]["message"].startswith("db differs")
    assert any("factor of the batch size N" in d for d in entry["diagnosis"]), entry["diagnosis"]
    for name in ("affine_forward", "relu_forward", "relu_backward"):
        assert full_marks(functions[name]), name

    example = entry["counterexample"]
    assert example is not None and "x (" in example["description"]
    assert example["repro"].startswith("# Reproduces the failing case")
    # Run the repro as the student would: saved in their submission, run from a folder inside it (here the
    # package's own folder), with nothing of theirs importable beforehand: the script finds cs231n itself.
    submission = tmp_path / "sub"
    script = submission / "cs231n" / "repro.py"
    script.write_text(example["repro"])
    monkeypatch.chdir(script.parent)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(submission))])
    for name in [m for m in sys.modules if m == "cs231n" or m.startswith("cs231n.")]:
        monkeypatch.delitem(sys.modules, name)
    namespace = runpy.run_path(str(script))
    printed = capsys.readouterr().out
    n = namespace["x"].shape[0]
    assert n >= 2
    np.testing.assert_array_equal(namespace["x"], np.array(example["inputs"]["x"]))
    np.testing.assert_allclose(namespace["dx"], namespace["expected_dx"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(namespace["dw"], namespace["expected_dw"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(namespace["db"], n * namespace["expected_db"], rtol=1e-12)
    assert not np.allclose(namespace["db"], namespace["expected_db"], rtol=1e-7, atol=1e-9)
    assert "db" in printed


def test_shrinking_finds_the_smallest_failing_batch(tmp_path: Path, grade_submission: GradeFn,
                                                    dense_assignment: Assignment) -> None:
    # Correct for one row; from the second row on the bias is forgotten: fails only when N >= 2.
    source = with_override(CORRECT_VECTORISED, """
        def affine_forward(x, w, b):
            flat = x.reshape(x.shape[0], -1)
            out = flat @ w + b
            out[1:] -= b
            return out, (x, w, b)
    """)
    entry = by_name(grade_submission(layers(tmp_path, source)))["affine_forward"]
    assert entry["status"] == "failed"
    x = np.array(entry["counterexample"]["inputs"]["x"])
    w = np.array(entry["counterexample"]["inputs"]["w"])
    assert x.shape[0] == 2
    fixed = dense_assignment.function("affine_forward").spec.fixed_cases()
    assert x.size < min(case["x"].size for case in fixed), "not shrunk below the fixed cases"
    assert w.shape == (int(np.prod(x.shape[1:])), 1)


def test_writing_into_dout_is_a_warning_not_a_failure(tmp_path: Path, grade_submission: GradeFn) -> None:
    source = with_override(CORRECT_VECTORISED, """
        def relu_backward(dout, cache):
            dout[cache <= 0] = 0
            return dout
    """)
    functions = by_name(grade_submission(layers(tmp_path, source)))
    entry = functions["relu_backward"]
    assert full_marks(entry)
    assert len(entry["warnings"]) == 1 and "'dout'" in entry["warnings"][0]
    assert all(functions[n]["warnings"] == [] for n in ("affine_forward", "affine_backward", "relu_forward"))


# ------------------------------------------------------------------ determinism
def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in ("duration_s", "student_s")}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def graded_twice_as_text(grade_submission: GradeFn, root: Path) -> tuple[str, str]:
    first, second = (without_timings(grade_submission(root, seed=7)) for _ in range(2))
    return json.dumps(first, sort_keys=True), json.dumps(second, sort_keys=True)


def test_same_submission_and_seed_give_the_same_report(tmp_path: Path, grade_submission: GradeFn) -> None:
    source = with_override(CORRECT_VECTORISED, DB_TIMES_N + """
def relu_forward(x):
    if x.ndim >= 3:
        raise ValueError("only 2-D inputs, shape " + str(x.shape))
    return np.maximum(x, 0), x
""")
    first, second = graded_twice_as_text(grade_submission, layers(tmp_path, source))
    assert '"status": "partial"' in first and "ValueError" in first
    assert first == second


def test_same_report_for_a_module_with_a_syntax_error(tmp_path: Path, grade_submission: GradeFn) -> None:
    first, second = graded_twice_as_text(grade_submission, layers(tmp_path, "def affine_forward(:\n"))
    assert first == second


def test_an_exception_names_the_students_file_line_and_code(tmp_path: Path, grade_submission: GradeFn) -> None:
    source = with_override(CORRECT_VECTORISED, """
        def relu_forward(x):
            out = x if x >= 0 else 0
            return out, x
    """)
    entry = by_name(grade_submission(layers(tmp_path, source)))["relu_forward"]
    message = entry["checks"][0]["message"]
    assert message.startswith("raised ValueError")
    line = source.splitlines().index("    out = x if x >= 0 else 0") + 1
    assert f"(at cs231n/layers.py, line {line}: out = x if x >= 0 else 0)" in message
    # its robustness check is not judged, and says nothing about a bug it did not see
    assert not any("writes into its input" in d for d in entry["diagnosis"]), entry["diagnosis"]


def test_a_sandwich_on_a_skeleton_layer_names_the_layer(tmp_path: Path) -> None:
    example = EXAMPLES / "cs231n-correct-vectorised" / "submission" / "assignment2"
    sub = tmp_path / "sub"
    shutil.copytree(example, sub)
    layers_py = sub / "cs231n" / "layers.py"
    layers_py.write_text(with_override(layers_py.read_text(), """
        def relu_forward(x):
            out = None
            # TODO: Implement the ReLU forward pass.
            cache = x
            return out, cache
    """))
    options = GradeOptions(profile="quick", only=frozenset({"relu_forward", "affine_relu_forward"}))
    entry = by_name(grade(sub, load_assignment("cs231n-a2"), options))["affine_relu_forward"]
    assert entry["status"] != "passed"
    assert any(d.startswith("relu_forward, which affine_relu_forward builds on, is not correct") for d in
               entry["diagnosis"]), entry["diagnosis"]


def test_accepting_an_input_the_handout_rejects_is_a_warning_not_a_lost_point(tmp_path: Path) -> None:
    example = EXAMPLES / "cs231n-correct-vectorised" / "submission" / "assignment2"
    sub = tmp_path / "sub"
    shutil.copytree(example, sub)
    layers_py = sub / "cs231n" / "layers.py"
    source = layers_py.read_text()
    # any mode but "train" runs as test mode: right on every case, but bn_param["mode"] = "eval" is accepted
    lenient = source.replace('    elif mode == "test":', '    else:', 1)
    raising = '    else:\n        raise ValueError(\'Invalid forward batchnorm mode "%s"\' % mode)\n'
    lenient = lenient.replace(raising, "", 1)
    assert lenient != source and "Invalid forward batchnorm mode" not in lenient
    layers_py.write_text(lenient)
    options = GradeOptions(profile="quick", only=frozenset({"batchnorm_forward"}))
    entry = by_name(grade(sub, load_assignment("cs231n-a2"), options))["batchnorm_forward"]
    assert entry["score"] == entry["max_score"]
    assert any(w.startswith("batchnorm_forward accepts") and "raises ValueError" in w for w in entry["warnings"]), \
        entry["warnings"]

    layers_py.write_text(source)  # the hand-out's raise: no warning
    entry = by_name(grade(sub, load_assignment("cs231n-a2"), options))["batchnorm_forward"]
    assert not any("accepts" in w for w in entry["warnings"]), entry["warnings"]
