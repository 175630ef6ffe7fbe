"""A course's own functions (graders/courses.py): the worked example in courses/example graded end to end through
``--specs`` and through an installed package's entry point, and the rules that keep course specs trusted-side only.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders import assignment as assignments
from graders import casebank, courses
from graders.specs import registry
from tests.course_example import COURSE_ASSIGNMENT, COURSE_PACKAGE, COURSE_ROOT, COURSE_SUBMISSIONS
from tests.graders.conftest import by_name, full_marks

COURSE_FUNCTIONS = ("leaky_relu_forward", "leaky_relu_backward", "dilated_conv_forward_naive",
                    "dilated_conv_backward_naive")


def nngrade(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess (its --specs registration changes the process's environment)."""
    env = {k: v for k, v in os.environ.items() if k != courses.ENV_VARIABLE}
    return subprocess.run([sys.executable, "-m", "graders", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False, env=env)


@pytest.fixture()
def no_course_state() -> Iterator[None]:
    """Each in-process test starts and ends with no course registered in this process (use_folders writes the
    environment itself, so monkeypatch would restore the test's folder afterwards)."""
    before = os.environ.pop(courses.ENV_VARIABLE, None)
    courses.forget()
    yield
    os.environ.pop(courses.ENV_VARIABLE, None)
    if before is not None:
        os.environ[courses.ENV_VARIABLE] = before
    courses.forget()


def grade(submission: Path, out: Path, *extra: str) -> dict:
    result = nngrade("grade", str(submission), "--specs", str(COURSE_PACKAGE), "--assignment", COURSE_ASSIGNMENT,
                     "--out", str(out), "--quiet", *extra, cwd=out.parent)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "report.json").read_text())


def test_assignments_lists_a_specs_folder_s_assignment(tmp_path: Path) -> None:
    result = nngrade("assignments", "--specs", str(COURSE_PACKAGE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listing = result.stdout[result.stdout.index(COURSE_ASSIGNMENT):]
    assert all(name in listing for name in COURSE_FUNCTIONS)
    assert "cs231n-a2" in result.stdout  # the built-in ones are still there


def test_the_example_course_s_correct_submission_gets_full_marks(tmp_path: Path) -> None:
    report = grade(COURSE_SUBMISSIONS / "correct", tmp_path / "out")
    functions = by_name(report)
    assert sorted(functions) == sorted(COURSE_FUNCTIONS)
    assert all(full_marks(f) for f in functions.values()), {n: f["status"] for n, f in functions.items()}


def test_a_bug_costs_points_at_its_function_with_the_course_s_diagnosis(tmp_path: Path) -> None:
    report = grade(COURSE_SUBMISSIONS / "bug-leaky-backward-slope", tmp_path / "out")
    functions = by_name(report)
    assert functions["leaky_relu_backward"]["score"] == 0
    assert any("slope there is alpha" in d for d in functions["leaky_relu_backward"]["diagnosis"])
    assert all(full_marks(f) for n, f in functions.items() if n != "leaky_relu_backward")


def test_batch_children_see_the_specs_folder(tmp_path: Path) -> None:
    """The batch grades in child processes: --specs must reach them."""
    class_dir = tmp_path / "class"
    for name in ("good", "buggy"):
        source = COURSE_SUBMISSIONS / ("correct" if name == "good" else "bug-leaky-backward-slope")
        shutil.copytree(source, class_dir / name)
    out = tmp_path / "out"
    result = nngrade("batch", str(class_dir), "--specs", str(COURSE_PACKAGE), "--assignment", COURSE_ASSIGNMENT,
                     "--out", str(out), "--jobs", "2", "--quiet", "--only", "leaky_relu_backward", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {row["student"]: row for row in csv.DictReader(
        io.StringIO((out / "gradebook.csv").read_bytes().decode("utf-8-sig"), newline=""))}
    assert float(rows["good"]["leaky_relu_backward"]) == 1.0
    assert float(rows["buggy"]["leaky_relu_backward"]) == 0.0


@pytest.mark.parametrize("where", ["specs inside the submission", "submission inside the specs folder"])
def test_specs_and_submission_must_not_overlap(tmp_path: Path, where: str) -> None:
    if where == "specs inside the submission":
        submission = tmp_path / "student"
        shutil.copytree(COURSE_SUBMISSIONS / "correct", submission)
        specs = shutil.copytree(COURSE_PACKAGE, submission / "specs")
        target = submission
    else:
        specs = shutil.copytree(COURSE_PACKAGE, tmp_path / "specs")
        target = specs / "course_layers.py"  # a student file that --specs would import as a spec module
        shutil.copy(COURSE_SUBMISSIONS / "correct" / "course_layers.py", target)
    result = nngrade("grade", str(target), "--specs", str(specs), "--assignment", COURSE_ASSIGNMENT,
                     "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert "overlaps" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_course_may_not_redefine_a_built_in_spec(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "mine.py").write_text(
        "from graders.specs.dense import relu_forward\nFACTORIES = {'relu_forward': relu_forward}\n")
    result = nngrade("assignments", "--specs", str(specs), cwd=tmp_path)
    assert result.returncode == 2
    assert "relu_forward" in result.stderr and "built-in" in result.stderr


def test_a_course_module_that_does_not_import_is_a_clear_usage_error(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "broken.py").write_text("import no_such_module_anywhere\n")
    result = nngrade("assignments", "--specs", str(specs), cwd=tmp_path)
    assert result.returncode == 2
    assert "broken.py" in result.stderr and "no_such_module_anywhere" in result.stderr


def test_an_installed_course_package_is_found_by_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_course_state: None
) -> None:
    """What `pip install ./courses/example` leaves behind, by hand: the package importable and a dist-info
    declaring the entry point."""
    site = tmp_path / "site"
    info = site / "nngrade_example_course-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nngrade-example-course\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[{courses.ENTRY_POINT_GROUP}]\nexample = nngrade_example_course\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(COURSE_ROOT))
    courses.forget()
    assert set(COURSE_FUNCTIONS) <= set(registry.factories())
    assert COURSE_ASSIGNMENT in assignments.available()
    loaded = assignments.load(COURSE_ASSIGNMENT)
    assert [f.spec.name for f in loaded.functions] == list(COURSE_FUNCTIONS)


def test_a_changed_course_spec_changes_the_case_bank_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_course_state: None
) -> None:
    before = casebank.code_fingerprint()
    specs = shutil.copytree(COURSE_PACKAGE, tmp_path / "specs")
    courses.use_folders([specs])
    with_course = casebank.code_fingerprint()
    (specs / "leaky_relu.py").write_text((specs / "leaky_relu.py").read_text() + "\n# a tolerance was changed\n")
    courses.forget()
    assert len({before, with_course, casebank.code_fingerprint()}) == 3


def test_a_gradescope_bundle_carries_the_course_s_specs(tmp_path: Path) -> None:
    from tests.graders.test_gradescope_bundle import autograder_root, run_autograder
    from tests.graders.test_report_gradescope import assert_valid_gradescope

    bundle = tmp_path / "autograder.zip"
    built = nngrade("gradescope", "build", "--assignment", COURSE_ASSIGNMENT, "--specs", str(COURSE_PACKAGE),
                    "--out", str(bundle), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    root = autograder_root(tmp_path, bundle, COURSE_SUBMISSIONS / "bug-leaky-backward-slope")
    results = run_autograder(root)
    assert_valid_gradescope(results)
    tests = {t["name"]: t for t in results["tests"]}
    assert sorted(tests) == sorted(COURSE_FUNCTIONS)
    assert tests["leaky_relu_backward"]["score"] == 0
    assert all(t["score"] == t["max_score"] for n, t in tests.items() if n != "leaky_relu_backward")


def test_a_bundle_of_an_installed_course_s_assignment_needs_its_folder(tmp_path: Path, no_course_state: None) -> None:
    """Known here through an installed package, the course would be missing on Gradescope's image."""
    from graders.gradescope.bundle import BundleError, build_bundle

    courses.use_folders([COURSE_PACKAGE])  # stands in for the entry point: known, but not given to the bundle
    with pytest.raises(BundleError, match="--specs"):
        build_bundle(COURSE_ASSIGNMENT, tmp_path / "autograder.zip")
    assert not (tmp_path / "autograder.zip").exists()
