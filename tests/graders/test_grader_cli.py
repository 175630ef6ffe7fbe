"""``python -m graders``: exit statuses of the contract, and the five report files of a normal run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from graders import assignment as assignments
from tests.graders.conftest import CORRECT_VECTORISED, with_override, write_tree

REPORT_FILES = ("report.json", "report.md", "report.html", "results.json", "junit.xml")


def nngrade(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "graders", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def test_missing_submission_path_exits_2(tmp_path: Path, dense_toml: Path) -> None:
    result = nngrade("grade", str(tmp_path / "no-such-folder"), "--assignment", str(dense_toml),
                     "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "no-such-folder" in result.stderr
    assert not (tmp_path / "out").exists()


def test_submission_without_python_exits_2(tmp_path: Path, dense_toml: Path) -> None:
    root = write_tree(tmp_path / "sub", {"README.txt": "my answers are in my head\n"})
    result = nngrade("grade", str(root), "--assignment", str(dense_toml), "--out", str(tmp_path / "out"),
                     cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "no Python source" in result.stderr


def test_unknown_assignment_exits_2(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED})
    result = nngrade("grade", str(root), "--assignment", "no-such-assignment", "--out", str(tmp_path / "out"),
                     cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "no-such-assignment" in result.stderr


def test_normal_run_exits_0_and_writes_every_report(tmp_path: Path, dense_toml: Path) -> None:
    buggy = with_override(CORRECT_VECTORISED, """
        def relu_forward(x):
            return np.abs(x), x
    """)
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": buggy})
    out = tmp_path / "out"
    result = nngrade("grade", str(root), "--assignment", str(dense_toml), "--out", str(out), "--seed", "3",
                     "--profile", "quick", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in REPORT_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == "nngrade.report/1"
    assert report["seed"] == 3
    statuses = {f["name"]: f["status"] for f in report["functions"]}
    assert statuses == {"affine_forward": "passed", "affine_backward": "passed", "relu_forward": "failed",
                        "relu_backward": "passed"}
    assert report["score"] == 6.0 and report["max_score"] == 7.0
    assert "relu_forward" in result.stdout


def _builtin_assignment_loads() -> bool:
    try:
        assignments.load("cs231n-a2")
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _builtin_assignment_loads(), reason="cs231n-a2 lists specs that are not written yet")
def test_assignments_lists_cs231n_a2(tmp_path: Path) -> None:
    result = nngrade("assignments", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "cs231n-a2" in result.stdout
    assert "affine_forward" in result.stdout


def test_python_option_runs_the_worker_under_that_interpreter(tmp_path: Path, dense_toml: Path) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED})
    out = tmp_path / "out"
    result = nngrade("grade", str(root), "--assignment", str(dense_toml), "--out", str(out), "--profile", "quick",
                     "--python", sys.executable, "--only", "relu_forward", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["sandbox"]["python"] == sys.executable
    assert [f["name"] for f in report["functions"]] == ["relu_forward"]
    assert report["functions"][0]["status"] == "passed" and report["max_score"] == 1.0


def test_python_option_without_numpy_is_a_usage_error(tmp_path: Path, dense_toml: Path) -> None:
    fake = tmp_path / "python-without-numpy"
    fake.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'numpy'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED})
    result = nngrade("grade", str(root), "--assignment", str(dense_toml), "--out", str(tmp_path / "out"),
                     "--python", str(fake), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "numpy" in result.stderr and not (tmp_path / "out").exists()


def test_only_rejects_a_function_the_assignment_does_not_grade(tmp_path: Path, dense_toml: Path) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED})
    result = nngrade("grade", str(root), "--assignment", str(dense_toml), "--only", "conv_forward_naive",
                     cwd=tmp_path)
    assert result.returncode == 2 and "conv_forward_naive" in result.stderr
