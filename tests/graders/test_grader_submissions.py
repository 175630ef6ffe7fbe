"""What a submission can look like: correct code in any layout gets full marks; missing pieces score 0."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.graders.conftest import (
    CORRECT_LOOPED,
    CORRECT_VECTORISED,
    DENSE_FUNCTIONS,
    GradeFn,
    by_name,
    full_marks,
    write_tree,
)


def assert_full_marks(report: dict) -> None:
    functions = by_name(report)
    assert sorted(functions) == sorted(DENSE_FUNCTIONS)
    for name, entry in functions.items():
        assert full_marks(entry), (name, entry["status"], [c["message"] for c in entry["checks"]])
        assert all(c["passed"] and c["cases"] > 0 for c in entry["checks"]), name
        assert entry["counterexample"] is None and entry["diagnosis"] == [], name
    assert report["score"] == report["max_score"] == 7.0


@pytest.mark.parametrize("source", [CORRECT_VECTORISED, CORRECT_LOOPED], ids=["vectorised", "looped"])
def test_correct_code_written_either_way_gets_full_marks(tmp_path: Path, grade_submission: GradeFn,
                                                         source: str) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": source, "cs231n/__init__.py": ""})
    report = grade_submission(root)
    assert_full_marks(report)
    assert report["schema"] == "nngrade.report/1"
    assert report["warnings"] == []
    assert all(f["module"] == "cs231n/layers.py" for f in report["functions"])


def test_module_found_at_depth(tmp_path: Path, grade_submission: GradeFn) -> None:
    root = write_tree(tmp_path / "student", {
        "hw2/cs231n/layers.py": CORRECT_VECTORISED,
        "hw2/cs231n/optim.py": "def sgd(w, dw, config=None):\n    return w - 1e-2 * dw, config\n",
        "hw2/run_me.py": "raise SystemExit('a script the grader must not import')\n",
    })
    report = grade_submission(root)
    assert_full_marks(report)
    assert {f["module"] for f in report["functions"]} == {"hw2/cs231n/layers.py"}


def test_single_python_file_provides_the_module(tmp_path: Path, grade_submission: GradeFn) -> None:
    path = tmp_path / "alice_layers.py"
    path.write_text(CORRECT_LOOPED)
    report = grade_submission(path)
    assert_full_marks(report)
    assert {f["module"] for f in report["functions"]} == {"alice_layers.py"}


def test_zip_with_a_nested_folder(tmp_path: Path, grade_submission: GradeFn) -> None:
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice_hw2/", "")
        zf.writestr("alice_hw2/cs231n/__init__.py", "")
        zf.writestr("alice_hw2/cs231n/layers.py", CORRECT_VECTORISED)
        zf.writestr("alice_hw2/cs231n/datasets/get_datasets.sh", "wget http://example.invalid/data\n")
        zf.writestr("__MACOSX/alice_hw2/cs231n/._layers.py", b"\x00\x05\x16\x07 resource fork, not Python")
    report = grade_submission(archive)
    assert_full_marks(report)
    assert {f["module"] for f in report["functions"]} == {"alice_hw2/cs231n/layers.py"}


def notebook(*cells: tuple[str, str]) -> str:
    """An nbformat-4 notebook from (cell_type, source) pairs; sources as lists of lines, like Jupyter's."""
    return json.dumps({
        "cells": [{"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True),
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                  for kind, source in cells],
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    })


AFFINE_CELL = '''\
def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)

def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    return dx, x.reshape(x.shape[0], -1).T @ dout, dout.sum(0)
'''

RELU_CELL = '''\
def relu_forward(x):
    return x * (x > 0), x

def relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0)
'''


def test_notebook_code_cells_with_magics_failing_and_broken_cells(tmp_path: Path,
                                                                  grade_submission: GradeFn) -> None:
    path = tmp_path / "layers.ipynb"
    path.write_text(notebook(
        ("markdown", "# Fully connected nets\nRun every cell."),                                   # cell 1
        ("code", "%matplotlib inline\n%load_ext autoreload\n!pip install tqdm\nimport numpy as np\n"),
        ("code", AFFINE_CELL),                                                                     # cell 3
        ("code", "data = np.load('cs231n/datasets/cifar10.npz')  # not there: FileNotFoundError\n"),
        ("code", "def broken(:\n    pass\n"),                                                     # cell 5
        ("code", "if True:\n    !ls -l\n" + RELU_CELL),                                               # cell 6
        ("code", "%%time\nthis cell magic is not Python at all\n"),                                # cell 7
    ))
    report = grade_submission(path)
    assert_full_marks(report)
    assert any("cell 5" in w and "syntax error" in w for w in report["warnings"]), report["warnings"]
    # the CIFAR load raised while the notebook was loaded: graded anyway, and said, with the notebook's name
    assert any(w.startswith("layers.ipynb: cell 4 raised FileNotFoundError") for w in report["warnings"]), \
        report["warnings"]
    assert not any("cell 6" in w for w in report["warnings"]), report["warnings"]


def test_a_notebook_is_named_as_handed_in(tmp_path: Path, grade_submission: GradeFn) -> None:
    path = tmp_path / "Dan Smith - layers.ipynb"
    path.write_text(notebook(("code", "import numpy as np\n"), ("code", AFFINE_CELL),
                             ("code", "print(undefined_name)\n")))
    report = grade_submission(path)
    functions = {f["name"]: f for f in report["functions"]}
    assert functions["affine_forward"]["module"] == "Dan Smith - layers.ipynb"
    missing = functions["relu_forward"]
    assert missing["status"] == "missing"
    assert "not defined in Dan Smith - layers.ipynb" in missing["checks"][0]["message"]
    assert any(w.startswith("Dan Smith - layers.ipynb: cell 3 raised NameError") for w in report["warnings"])


def test_notebook_with_a_future_import_cell(tmp_path: Path, grade_submission: GradeFn) -> None:
    path = tmp_path / "layers.ipynb"
    path.write_text(notebook(
        ("code", "from __future__ import print_function\nimport numpy as np\n"),
        ("code", AFFINE_CELL),
        ("code", RELU_CELL),
    ))
    assert_full_marks(grade_submission(path))


def test_missing_function_scores_zero_and_the_others_are_graded(tmp_path: Path,
                                                                grade_submission: GradeFn) -> None:
    source = CORRECT_VECTORISED.replace("def affine_backward(", "def affine_backward_unfinished(")
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": source})
    functions = by_name(grade_submission(root))
    missing = functions["affine_backward"]
    assert missing["status"] == "missing"
    assert missing["score"] == 0.0 and missing["max_score"] == 3.0
    assert all(not c["passed"] and c["score"] == 0.0 for c in missing["checks"])
    assert "affine_backward is not defined in cs231n/layers.py" in missing["diagnosis"][0]
    for name in ("affine_forward", "relu_forward", "relu_backward"):
        assert full_marks(functions[name]), name


def test_module_file_absent_names_the_paths_looked_for(tmp_path: Path, grade_submission: GradeFn) -> None:
    root = write_tree(tmp_path / "sub", {
        "hw2/cs231n/optim.py": "def sgd(w, dw, config=None):\n    return w - dw, config\n",
        "hw2/cs231n/solver.py": "class Solver:\n    pass\n",
    })
    report = grade_submission(root)
    assert report["score"] == 0.0
    for entry in report["functions"]:
        assert entry["status"] == "missing"
        assert entry["score"] == 0.0
        message = entry["checks"][0]["message"]
        assert "cs231n/layers.py" in message and " layers.py" in message, message
    assert any("cs231n/layers.py" in w for w in report["warnings"]), report["warnings"]


@pytest.mark.parametrize("name", [
    pytest.param("layers (1).py", id="browser-duplicate"),
    pytest.param("hw2-layers.py", id="dash"),
    pytest.param("layers.final.py", id="dots"),
    pytest.param("types.py", id="stdlib-name"),
])
def test_single_file_with_an_unusual_name(tmp_path: Path, grade_submission: GradeFn, name: str) -> None:
    path = tmp_path / name
    path.write_text(CORRECT_VECTORISED)
    assert_full_marks(grade_submission(path))


def test_an_unrelated_file_is_graded_with_a_warning_naming_what_was_expected(
        tmp_path: Path, grade_submission: GradeFn) -> None:
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "hello.py").write_text("print('hello')\n")
    report = grade_submission(folder)
    assert all(f["status"] == "missing" for f in report["functions"])
    warning = next(w for w in report["warnings"] if w.startswith("hello.py defines none of the functions"))
    assert "cs231n/layers.py" in warning
