"""The student self-check (issue 13, part 3): ``nngrade check`` and the pytest plugin, end to end.

The self-check grades with the same sandbox and feedback as ``nngrade grade`` on the visible cases only (the
public CHECK_SEED, the quick profile), writes nothing into the student's folder, and its seed is never one a
course grades with by default.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from graders.selfcheck import CHECK_SEED
from tests.graders.conftest import CORRECT_VECTORISED, with_override, write_tree

AFFINE_DB_MEAN = with_override(CORRECT_VECTORISED, """
    def affine_backward(dout, cache):
        x, w, b = cache
        dx = (dout @ w.T).reshape(x.shape)
        dw = x.reshape(x.shape[0], -1).T @ dout
        db = dout.mean(axis=0)
        return dx, dw, db
""")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          check=False)


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_check_of_a_correct_working_copy_passes_and_writes_nothing_there(tmp_path: Path, dense_toml: Path) -> None:
    work = write_tree(tmp_path / "work", {"cs231n/layers.py": CORRECT_VECTORISED})
    before = listing(work)
    result = run("-m", "graders", "check", "--assignment", str(dense_toml), cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 of 4 functions passed" in result.stdout
    assert listing(work) == before  # no report, no .hypothesis, no __pycache__


def test_check_of_a_bug_exits_1_with_the_grader_s_feedback(tmp_path: Path, dense_toml: Path) -> None:
    work = write_tree(tmp_path / "work", {"cs231n/layers.py": AFFINE_DB_MEAN})
    result = run("-m", "graders", "check", str(work), "--assignment", str(dense_toml), "--out",
                 str(tmp_path / "report"), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    block = result.stdout[result.stdout.index("== affine_backward"):]
    assert "db" in block and "Counterexample" in block and "Reproduce with" in block
    assert "a mean where a sum belongs" in block
    assert "== relu_forward" not in result.stdout  # passing functions are not explained
    report = (tmp_path / "report" / "report.json").read_text()
    assert f'"seed": {CHECK_SEED}' in report


def test_grading_with_the_public_check_seed_is_warned(tmp_path: Path, dense_toml: Path) -> None:
    work = write_tree(tmp_path / "work", {"cs231n/layers.py": CORRECT_VECTORISED})
    result = run("-m", "graders", "grade", str(work), "--assignment", str(dense_toml), "--seed", str(CHECK_SEED),
                 "--only", "relu_forward", "--out", str(tmp_path / "out"), "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "students can run" in result.stderr


def test_a_gradescope_bundle_grades_with_a_private_seed_by_default(tmp_path: Path) -> None:
    seeds = []
    for name in ("a.zip", "b.zip"):
        result = run("-m", "graders", "gradescope", "build", "--assignment", "cs231n-a2", "--out",
                     str(tmp_path / name), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        printed = re.search(r"seed (\d+)", result.stdout)
        assert printed is not None, result.stdout
        with zipfile.ZipFile(tmp_path / name) as bundle:
            config = next(bundle.read(n).decode() for n in bundle.namelist() if n.endswith("nngrade-autograder.json"))
        assert f'"seed": {printed.group(1)}' in config
        seeds.append(int(printed.group(1)))
    assert seeds[0] != seeds[1] and CHECK_SEED not in seeds


def test_pytest_plugin_makes_one_item_per_function(tmp_path: Path, dense_toml: Path) -> None:
    work = write_tree(tmp_path / "work", {"cs231n/layers.py": AFFINE_DB_MEAN})
    junit = tmp_path / "junit.xml"
    result = run("-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "--nngrade-submission", str(work),
                 "--nngrade-assignment", str(dense_toml), f"--junitxml={junit}", "-q", cwd=work)
    assert result.returncode == 1, result.stdout + result.stderr
    testcases = list(ET.parse(junit).getroot().iter("testcase"))
    assert {case.get("classname") for case in testcases} == {"nngrade.dense-mini"}
    cases = {case.get("name"): case for case in testcases}
    assert sorted(cases) == sorted(("affine_forward", "affine_backward", "relu_forward", "relu_backward"))
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failed == {"affine_backward"}
    failure = cases["affine_backward"].find("failure")
    assert failure is not None and "a mean where a sum belongs" in (failure.text or "")
    properties = {p.get("name"): p.get("value") for p in cases["relu_forward"].iter("property")}
    assert properties["status"] == "passed" and properties["score"] == properties["max_score"]


def test_pytest_plugin_is_inert_without_a_submission(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_one():\n    assert True\n")
    result = run("-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 passed" in result.stdout and "nngrade::" not in result.stdout
