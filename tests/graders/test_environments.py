"""The grader's environment is never the student's bug: NumPy 1 and 2 workers agree, missing packages get
stand-ins, and what the grading machine lacks is reported with the status ``environment``.

CI runs as root, where workers use Debian's interpreter (NumPy 1.24); an ordinary instructor's workers run the
project's own venv (NumPy 2). These tests grade under this process's interpreter explicitly, so both paths
are exercised whoever runs them (.ci/run additionally repeats the examples and the selftest as a user).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graders import assignment as assignments
from graders.grade import GradeOptions, grade
from graders.sandbox import layers
from graders.specs.dlfs import mnist as mnist_spec
from tests.graders.conftest import CORRECT_VECTORISED, by_name, full_marks, with_override, write_tree

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "submissions" / "examples" / "cs231n-correct-vectorised" / "submission"


def test_a_numpy_2_worker_gives_a_correct_submission_full_marks(private_tmp: Path) -> None:
    """Under NumPy 2, numpy.random is imported on first use and set as an attribute of numpy then: that is not
    tampering (it made correct dropout code 'crashed' before)."""
    assignment = assignments.load("cs231n-a2")
    report = grade(EXAMPLE, assignment, GradeOptions(profile="quick", python=sys.executable))
    assert report["sandbox"]["numpy"] == np.__version__
    failing = {f["name"]: (f["status"], f["diagnosis"][:1]) for f in report["functions"] if not full_marks(f)}
    assert failing == {}
    assert not any("left its process changed" in w for f in report["functions"] for w in f["warnings"])


#: A package course code might import that no grading interpreter here has (graders/sandbox/worker_main.py's
#: KNOWN_PACKAGES: only those get stand-ins).
MISSING = "wandb"


def test_an_unused_import_of_a_missing_package_costs_nothing(tmp_path: Path, grade_submission: Any) -> None:
    source = (f"from {MISSING}.pyplot import axis\nimport {MISSING}.pyplot as plt\n"
              f"plt.rcParams['figure.figsize'] = (10.0, 8.0)\nplt.figure()\n" + CORRECT_VECTORISED)
    report = grade_submission(write_tree(tmp_path / "sub", {"cs231n/layers.py": source}))
    assert all(full_marks(f) for f in report["functions"])
    assert any(MISSING in w and "not installed in the grading environment" in w for w in report["warnings"])


def test_a_module_of_the_students_own_left_out_of_the_hand_in_stays_an_import_error(
        tmp_path: Path, grade_submission: Any) -> None:
    source = "from my_helpers import im2col_indices\n" + CORRECT_VECTORISED
    report = grade_submission(write_tree(tmp_path / "sub", {"cs231n/layers.py": source}))
    entry = by_name(report)["affine_forward"]
    assert entry["status"] == "error" and "No module named 'my_helpers'" in json.dumps(entry)
    assert not any("my_helpers" in w for w in report["warnings"])


def test_a_graded_value_from_a_missing_package_is_an_environment_problem(tmp_path: Path,
                                                                         grade_submission: Any) -> None:
    source = with_override(CORRECT_VECTORISED, f"""
        def relu_forward(x):
            import {MISSING}
            return {MISSING}.maximum(x, 0) + 0.0, x
    """)
    report = grade_submission(write_tree(tmp_path / "sub", {"cs231n/layers.py": source}))
    relu = by_name(report)["relu_forward"]
    assert relu["status"] == "environment" and relu["score"] == 0.0
    assert "not a bug of the submission" in relu["checks"][0]["message"]
    assert any(MISSING in w for w in relu["warnings"])
    assert full_marks(by_name(report)["affine_forward"])


def test_a_missing_data_file_of_the_grader_is_an_environment_problem(tmp_path: Path, monkeypatch: Any) -> None:
    """The reference cannot load MNIST when the grading machine has no files: that is the grader's problem."""
    monkeypatch.setenv("NNGRADE_MNIST_DIR", str(tmp_path / "no-mnist"))
    monkeypatch.setattr("graders.datasets.mnist_dir", lambda: None)
    monkeypatch.setattr("reference.data.mnist.default_data_dir", lambda: tmp_path / "no-cache")
    seed = REPO / "submissions" / "examples" / "dlfs-seed-ch05" / "submission"
    mnist_spec._mnist_raw.cache_clear()  # another test of this process may have read the real files
    try:
        report = grade(seed, assignments.load("dlfs"), GradeOptions(profile="quick", only=frozenset({"load_mnist"})))
    finally:
        mnist_spec._mnist_raw.cache_clear()
    entry = by_name(report)["load_mnist"]
    assert entry["status"] == "environment", json.dumps(entry)[:400]
    assert "grading environment" in entry["checks"][0]["message"]


@pytest.mark.skipif(layers.plan(None).python == sys.executable, reason="the worker already runs this interpreter")
def test_the_root_and_the_user_worker_give_the_same_verdicts(private_tmp: Path) -> None:
    """Debian's NumPy 1 worker (root's default) and the project's NumPy 2 worker: same scores everywhere."""
    assignment = assignments.load("cs231n-a2")
    only = frozenset({"dropout_forward", "dropout_backward", "batchnorm_forward", "softmax_loss"})
    default = grade(EXAMPLE, assignment, GradeOptions(profile="quick", only=only))
    venv = grade(EXAMPLE, assignment, GradeOptions(profile="quick", only=only, python=sys.executable))
    assert default["sandbox"]["numpy"] != venv["sandbox"]["numpy"] or default["sandbox"]["python"] != sys.executable
    scores = {f["name"]: (f["status"], f["score"]) for f in default["functions"]}
    assert scores == {f["name"]: (f["status"], f["score"]) for f in venv["functions"]}
