"""`nngrade batch` given one student's submission instead of a class folder says so before grading."""

from __future__ import annotations

from pathlib import Path

from graders.batch.discover import discover, one_submission_warning

PATHS = ["cs231n/layers.py", "layers.py", "cs231n/layer_utils.py", "layer_utils.py"]


def write(root: Path, relpath: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("def relu_forward(x):\n    return x, x\n")


def warning_for(class_dir: Path) -> str | None:
    return one_submission_warning(class_dir, discover(class_dir).entries, PATHS)


def test_a_submission_given_as_the_class_folder_is_named(tmp_path: Path) -> None:
    write(tmp_path, "cs231n/layers.py")
    write(tmp_path, "notebook.ipynb")
    warning = warning_for(tmp_path)
    assert warning is not None and "holds cs231n/layers.py" in warning and "nngrade grade" in warning


def test_a_single_entry_holding_the_modules_is_named(tmp_path: Path) -> None:
    write(tmp_path, "assignment2/cs231n/layers.py")
    warning = warning_for(tmp_path)
    assert warning is not None and "single entry, assignment2" in warning


def test_a_class_folder_gets_no_warning(tmp_path: Path) -> None:
    for student in ("alice", "bob"):
        write(tmp_path, f"{student}/cs231n/layers.py")
    write(tmp_path, "carol.py")
    assert warning_for(tmp_path) is None


def test_one_student_whose_entry_is_a_file_gets_no_warning(tmp_path: Path) -> None:
    write(tmp_path, "alice.py")
    assert warning_for(tmp_path) is None


def test_a_link_to_a_module_does_not_count(tmp_path: Path) -> None:
    write(tmp_path / "elsewhere", "cs231n/layers.py")
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "cs231n").mkdir()
    (tmp_path / "class" / "cs231n" / "layers.py").symlink_to(tmp_path / "elsewhere" / "cs231n" / "layers.py")
    write(tmp_path / "class", "alice.py")
    assert warning_for(tmp_path / "class") is None
