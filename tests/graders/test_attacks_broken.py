"""Broken (not hostile) submissions: each gives a clear status and message, and the rest is graded.

Unreadable submissions as a whole (no source, not a notebook, a zip bomb) are refused with a SubmissionError
whose message names the problem (the CLI turns it into exit status 2).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from graders.assignment import Assignment
from graders.submission import SubmissionError
from tests.graders.attacks.catalog import GOOD_UTILS
from tests.graders.conftest import (
    CORRECT_VECTORISED,
    DENSE_FUNCTIONS,
    GradeFn,
    by_name,
    full_marks,
    with_override,
    write_tree,
)


def messages(entry: dict[str, Any]) -> str:
    return "\n".join([c["message"] for c in entry["checks"]] + entry["diagnosis"])


# ------------------------------------------------------------------ a module that cannot be used
@pytest.mark.parametrize(("layers", "status", "words"), [
    ("def relu_forward(x:\n    return x\n", "error", "SyntaxError"),
    ("import numpy as np\nnp.load('weights.npy')\n", "error", "FileNotFoundError"),
    ("import numpy as np\nimport cs231n.not_handed_in\n", "error", "ModuleNotFoundError"),
], ids=["syntax-error", "import-time-exception", "missing-module-import"])
def test_broken_module_errors_its_functions_and_the_other_module_is_graded(
        tmp_path: Path, grade_submission: GradeFn, two_module_assignment: Assignment, layers: str, status: str,
        words: str) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": layers + CORRECT_VECTORISED,
                                         "cs231n/utils.py": GOOD_UTILS})
    functions = by_name(grade_submission(root, assignment=two_module_assignment))
    for name in DENSE_FUNCTIONS:
        assert functions[name]["status"] == status, name
        assert functions[name]["score"] == 0.0
        assert words in messages(functions[name])
    assert full_marks(functions["utils_relu"])


def test_missing_module_is_missing_and_the_rest_is_graded(tmp_path: Path, grade_submission: GradeFn,
                                                          two_module_assignment: Assignment) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED})
    functions = by_name(grade_submission(root, assignment=two_module_assignment))
    assert functions["utils_relu"]["status"] == "missing"
    assert "cs231n/utils.py" in messages(functions["utils_relu"])
    for name in DENSE_FUNCTIONS:
        assert full_marks(functions[name]), name


# ------------------------------------------------------------------ wrong results
WRONG_RESULTS = [
    ("relu_forward", "def relu_forward(x):\n    return None\n", "got None"),
    ("relu_forward", "def relu_forward(x):\n    return [0.0, 1.0]\n", "out"),
    ("relu_forward", "def relu_forward(x):\n    return 0.0\n", "float"),
    ("affine_backward", "def affine_backward(dout, cache):\n    return dout, dout\n", "length 2"),
    ("relu_forward", "import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0).T.copy(), x\n",
     "shape"),
    ("relu_forward", "import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0).astype(np.int64), x\n",
     "differs"),
    ("relu_forward", "import numpy as np\ndef relu_forward(x):\n    return np.full(x.shape, np.nan), x\n", "NaN"),
    ("relu_forward", "import numpy as np\ndef relu_forward(x):\n    return np.full(x.shape, np.inf), x\n", "inf"),
]


@pytest.mark.parametrize(("target", "override", "words"), WRONG_RESULTS,
                         ids=["none", "list", "scalar", "short-tuple", "shape", "dtype", "nan", "inf"])
def test_wrong_result_fails_with_a_message_naming_it(tmp_path: Path, grade_submission: GradeFn, target: str,
                                                     override: str, words: str) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": with_override(CORRECT_VECTORISED, override)})
    functions = by_name(grade_submission(root))
    entry = functions[target]
    assert entry["status"] in ("failed", "error"), entry["status"]
    assert entry["score"] == 0.0
    assert words.lower() in messages(entry).lower(), messages(entry)
    graded_through = {"relu_forward": "relu_backward"}  # a backward is graded through its own forward's cache
    for name in DENSE_FUNCTIONS:
        if name not in (target, graded_through.get(target)):
            assert full_marks(functions[name]), name


# ------------------------------------------------------------------ submissions that cannot be read
def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_empty_folder_is_refused(tmp_path: Path, grade_submission: GradeFn) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="contains no Python source"):
        grade_submission(tmp_path / "empty")


@pytest.mark.parametrize("make", ["missing", "dangling-link", "wrong-kind"])
def test_unreadable_path_is_refused(tmp_path: Path, grade_submission: GradeFn, make: str) -> None:
    path = tmp_path / "submission"
    if make == "dangling-link":
        path.symlink_to(tmp_path / "nowhere")
    elif make == "wrong-kind":
        path = tmp_path / "layers.txt"
        path.write_text(CORRECT_VECTORISED)
    with pytest.raises(SubmissionError, match="does not exist|a submission is a folder"):
        grade_submission(path)


def test_notebook_that_is_not_json_is_refused(tmp_path: Path, grade_submission: GradeFn) -> None:
    path = tmp_path / "layers.ipynb"
    path.write_text("{ this is not json")
    with pytest.raises(SubmissionError, match="not a readable Jupyter notebook"):
        grade_submission(path)


def test_zip_with_path_traversal_entries_is_graded_without_them(tmp_path: Path, grade_submission: GradeFn) -> None:
    outside = tmp_path / "escaped.py"
    archive = tmp_path / "hw.zip"
    archive.write_bytes(zip_bytes({
        "hw/cs231n/layers.py": CORRECT_VECTORISED.encode(),
        "../escaped.py": b"print('out')\n",
        "/tmp/absolute_escape.py": b"print('out')\n",
        "hw/../../escaped.py": b"print('out')\n",
    }))
    report = grade_submission(archive)
    assert not outside.exists()
    assert not Path("/tmp/absolute_escape.py").exists()
    assert sum("points outside the archive" in w for w in report["warnings"]) == 3
    for entry in report["functions"]:
        assert full_marks(entry), entry["name"]


def test_zip_bomb_is_refused(tmp_path: Path, grade_submission: GradeFn) -> None:
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(zip_bytes({f"cs231n/part{i}.py": b"#" * (5 << 20) for i in range(21)}))
    assert archive.stat().st_size < 2 << 20  # 105 MiB of source in a small file
    with pytest.raises(SubmissionError, match="zip bomb"):
        grade_submission(archive)


def test_oversized_member_is_skipped_with_a_warning(tmp_path: Path, grade_submission: GradeFn) -> None:
    archive = tmp_path / "hw.zip"
    archive.write_bytes(zip_bytes({"cs231n/layers.py": CORRECT_VECTORISED.encode(),
                                   "cs231n/huge.py": b"#" * (6 << 20)}))
    report = grade_submission(archive)
    assert any("huge.py" in w and "larger than" in w for w in report["warnings"])
    assert report["score"] == report["max_score"]


def test_bad_notebook_beside_good_modules_is_reported_and_the_rest_graded(tmp_path: Path,
                                                                        grade_submission: GradeFn) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED,
                                         "notebooks/scratch.ipynb": "{ not json",
                                         "notebooks/ok.ipynb": json.dumps({"cells": []})})
    try:
        report = grade_submission(root)
    except SubmissionError as exc:
        pytest.fail(f"one unreadable notebook refused the whole submission: {exc}")
    assert report["score"] == report["max_score"]
    assert any("scratch.ipynb" in w for w in report["warnings"])
