"""The Gradescope autograder bundle end to end: build the zip, unpack it into a folder laid out like
/autograder, run its run_autograder there and check results.json against Gradescope's documented fields
(https://gradescope-autograders.readthedocs.io/en/latest/specs/)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from graders.cli import main as cli_main
from graders.examples import EXAMPLES_DIR, derive
from graders.gradescope.bundle import CONFIG_NAME
from graders.report.gradescope import gradescope_results
from graders.report.markdown import md_text
from graders.report.samples import hostile_function, make_report
from graders.report.view import build_view
from tests.graders.test_report_gradescope import assert_valid_gradescope

CORRECT = EXAMPLES_DIR / "cs231n-correct-vectorised" / "submission" / "assignment2"
NNGRADE = Path(sys.executable).parent / "nngrade"


def build(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "autograder.zip"
    result = CliRunner().invoke(cli_main, ["gradescope", "build", "--assignment", "cs231n-a2", "--out", str(out),
                                           *extra])
    assert result.exit_code == 0, result.output
    return out


def autograder_root(tmp_path: Path, bundle: Path, submission: Path) -> Path:
    """source/ (the zip's contents), submission/ (the student's files directly inside) and results/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)  # extractall drops modes; Gradescope's unpacking keeps them
    shutil.copytree(submission, root / "submission")
    (root / "results").mkdir()
    return root


def run_autograder(root: Path, **variables: str) -> dict[str, Any]:
    env = dict(os.environ, NNGRADE_AUTOGRADER_ROOT=str(root), NNGRADE_AUTOGRADER_NNGRADE=str(NNGRADE), **variables)
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    results: dict[str, Any] = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    return results


def test_zip_has_the_scripts_at_its_root_and_only_package_files(tmp_path: Path) -> None:
    with zipfile.ZipFile(build(tmp_path)) as archive:
        members = {info.filename: info for info in archive.infolist()}
        config = json.loads(archive.read(CONFIG_NAME))
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(members[script].external_attr >> 16) == 0o755
    for needed in ("nngrade/pyproject.toml", "nngrade/README.md", "nngrade/graders/assignments/cs231n-a2.toml",
                   "nngrade/graders/report/templates/report.md.j2", "nngrade/reference/__init__.py"):
        assert needed in members
    for name in members:
        parts = name.split("/")
        assert not {"tests", ".git", "out", "__pycache__", "submissions", ".venv"} & set(parts), name
        assert not name.endswith(".pyc")
    assert config["assignment"] == "cs231n-a2" and config["visibility"] == "visible"


def test_setup_sh_is_valid_bash_and_installs_no_torch(tmp_path: Path) -> None:
    with zipfile.ZipFile(build(tmp_path, "--python-version", "3.12")) as archive:
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
    for name, text in (("setup.sh", setup), ("run_autograder", run)):
        (tmp_path / name).write_text(text)
        assert subprocess.run(["bash", "-n", str(tmp_path / name)], check=False).returncode == 0
    assert "bubblewrap python3-numpy python3-seccomp" in setup
    assert 'PYTHON_VERSION="3.12"' in setup
    commands = [line for line in setup.splitlines() if not line.lstrip().startswith("#")]
    assert not any("torch" in line or "[test]" in line for line in commands)  # torch is test-only


def test_bad_python_version_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_main, ["gradescope", "build", "--assignment", "cs231n-a2", "--out",
                                           str(tmp_path / "a.zip"), "--python-version", "3.11; rm -rf /"])
    assert result.exit_code != 0 and not (tmp_path / "a.zip").exists()


def test_correct_submission_gets_full_marks_in_valid_results(tmp_path: Path) -> None:
    root = autograder_root(tmp_path, build(tmp_path), CORRECT)
    results = run_autograder(root)
    assert_valid_gradescope(results)
    report = json.loads((root / "results" / "report.json").read_text())
    assert report["assignment"] == "cs231n-a2"
    assert [t["name"] for t in results["tests"]] == [f["name"] for f in report["functions"]]
    assert len(results["tests"]) > 20  # every function of the assignment, not a subset
    assert results["score"] == pytest.approx(report["max_score"]) and report["max_score"] > 0
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in results["tests"])
    assert results["output_format"] == "md" and all(t["output_format"] == "md" for t in results["tests"])
    assert {t["visibility"] for t in results["tests"]} == {"visible"}
    for artifact in ("report.html", "report.md", "report.json", "junit.xml"):
        assert (root / "results" / artifact).stat().st_size > 0
    assert report["score"] == results["score"]


def test_the_bank_setup_sh_builds_is_the_one_a_first_grading_builds_and_is_replayed(tmp_path: Path) -> None:
    """Gradescope grades every submission from the image setup.sh built: the bank built there holds exactly the
    files (same names, same bytes) the first grading would have written, and grading then builds none."""
    bundle = build(tmp_path)
    warmed_root = autograder_root(tmp_path / "warmed", bundle, CORRECT)
    bank = warmed_root / "nngrade-cases"
    env = dict(os.environ, NNGRADE_CASE_BANK=str(bank))
    done = subprocess.run([str(NNGRADE), "gradescope", "warm", "--root", str(warmed_root)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    built = {p.relative_to(bank): (p.read_bytes(), p.stat().st_mtime_ns) for p in bank.rglob("*.bank")}
    assert f"{len(built)} functions built, 0 already there, 0 not banked" in done.stdout and len(built) > 20
    results = run_autograder(warmed_root, NNGRADE_CASE_BANK=str(bank))
    assert all(t["score"] == t["max_score"] for t in results["tests"])
    after = {p.relative_to(bank): (p.read_bytes(), p.stat().st_mtime_ns) for p in bank.rglob("*.bank")}
    assert after == built  # every function replayed from the bank, nothing rebuilt or added
    cold_root = autograder_root(tmp_path / "cold", bundle, CORRECT)
    cold = cold_root / "nngrade-cases"
    assert run_autograder(cold_root, NNGRADE_CASE_BANK=str(cold))["score"] == results["score"]
    assert {p.relative_to(cold): p.read_bytes() for p in cold.rglob("*.bank")} == {
        path: content for path, (content, _) in built.items()}


def test_buggy_submission_loses_points_in_the_right_tests(tmp_path: Path) -> None:
    # The correct submission above with affine_backward's db averaged instead of summed over the batch.
    buggy = derive(EXAMPLES_DIR, "gradescope-affine-mean",
                   {"base": "cs231n-correct-vectorised", "patch": [
                       {"file": "assignment2/cs231n/layers.py", "old": "    db = dout.sum(axis=0)\n",
                        "new": "    db = dout.mean(axis=0)\n"}]})
    root = autograder_root(tmp_path, build(tmp_path, "--visibility", "after_published"), buggy / "assignment2")
    results = run_autograder(root)
    assert_valid_gradescope(results)
    failed = {t["name"]: t for t in results["tests"] if t["status"] == "failed"}
    layers = {"affine_backward", "affine_relu_backward"}
    # A network built on the buggy layer loses points with it (DESIGN.md, "one bug costs points once").
    assert layers <= set(failed) <= layers | {"FullyConnectedNet", "ThreeLayerConvNet", "TwoLayerNet"}
    for test in (failed[name] for name in layers):
        assert 0 < test["score"] < test["max_score"]
        assert "**db**" in test["output"] and "### Diagnosis" in test["output"]
        assert "factor" in test["output"]
    assert results["score"] < sum(t["max_score"] for t in results["tests"])
    assert {t["visibility"] for t in results["tests"]} == {"after_published"}
    assert results["visibility"] == "after_published"


def _outside_fences(markdown: str) -> str:
    """The Markdown's lines that are not inside a fenced code block (a fence closes only with as many
    backticks as opened it)."""
    kept, fence = [], ""
    for line in markdown.split("\n"):
        stripped = line.strip()
        if fence:
            fence = "" if stripped == fence else fence
        elif stripped.startswith("```"):
            fence = stripped[: len(stripped) - len(stripped.lstrip("`"))]
        else:
            kept.append(line)
    return "\n".join(kept)


def test_markdown_output_escapes_student_text() -> None:
    results = gradescope_results(build_view(make_report([hostile_function()])), output_format="md")
    assert_valid_gradescope(results)
    output = results["tests"][0]["output"]
    prose = _outside_fences(output)
    assert "Diagnosis" in prose and "Counterexample" in prose
    name = "**" + md_text(hostile_function()["checks"][0]["name"]) + "**"  # bold, its punctuation escaped
    assert name in prose
    assert "<script>" not in prose and "- \\<script\\>" in prose  # escaped prose
    assert "**bold**" not in prose
    assert "````python" in output  # the repro prints ``` so its fence is longer
    assert "\x1b" not in output and "\u202e" not in output


def test_a_submission_that_cannot_be_graded_still_gets_results(tmp_path: Path) -> None:
    root = autograder_root(tmp_path, build(tmp_path), CORRECT)
    shutil.rmtree(root / "submission")
    (root / "submission").write_bytes(b"PK\x03\x04 not a zip")
    results = run_autograder(root)
    assert_valid_gradescope(results)
    assert results["score"] == 0.0 and results["tests"] == []
    assert "could not be graded" in results["output"]
