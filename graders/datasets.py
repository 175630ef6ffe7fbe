"""Files the grader stages into a submission: data beside a student's loader, so that nothing is downloaded
while grading, and stand-ins for compiled course helpers that a submission of Python sources cannot carry.

The book's ``dataset/mnist.py`` looks for the IDX files in its own folder and downloads them when absent; the
grader copies the real files there first. Where the files come from: ``NNGRADE_MNIST_DIR``, else the
``shared/mnist`` folder beside this checkout, else the reference loader's cache directory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from graders.submission import Staged
from reference.data.mnist import ENV_VAR, default_data_dir

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "mnist"


def mnist_dir() -> Path | None:
    """The first folder holding all four MNIST files, or None."""
    candidates = [Path(os.environ[ENV_VAR])] if os.environ.get(ENV_VAR) else []
    candidates += [SHARED_MNIST, default_data_dir()]
    for folder in candidates:
        if all((folder / name).exists() for name in MNIST_FILES):
            return folder
    return None


def stage_data(staged: Staged, data: dict[str, dict[str, str]], missing: set[str] | None = None) -> list[str]:
    """Copy each data set named in the assignment's [data] table beside its module; returns warnings. The keys
    of modules whose data this machine lacks are added to ``missing``: their functions are not gradable here,
    through no fault of the student's."""
    warnings: list[str] = []
    for name, entry in data.items():
        if entry.get("source", name) != "mnist":
            warnings.append(f"unknown data set {name!r} in the assignment file")
            continue
        module = staged.modules.get(entry["next_to"])
        if module is None:
            continue
        source = mnist_dir()
        if source is None:
            warnings.append(f"MNIST files not found on the grading machine (set {ENV_VAR}); {module.relpath} "
                            "could not be graded")
            if missing is not None:
                missing.add(entry["next_to"])
            continue
        target = (staged.root / module.relpath).parent
        for file_name in MNIST_FILES:
            shutil.copyfile(source / file_name, target / file_name)
    return warnings


SUPPORT_DIR = Path(__file__).with_name("sandbox") / "support"


def stage_stand_ins(staged: Staged, stand_ins: dict[str, str]) -> list[str]:
    """For each compiled helper the submission imports but does not hold (e.g. ``im2col_cython``), put the
    grader's NumPy stand-in beside the named module; returns the warnings that say so."""
    warnings: list[str] = []
    sources = {p: p.read_text(errors="replace") for p in staged.root.rglob("*.py")}
    for helper, next_to in stand_ins.items():
        module = staged.modules.get(next_to)
        if module is None or not any(helper in text for text in sources.values()):
            continue
        target = (staged.root / module.relpath).parent / f"{helper}.py"
        if target.exists():
            continue
        shutil.copyfile(SUPPORT_DIR / f"{helper}.py", target)
        warnings.append(
            f"{helper} is a compiled extension that a submission cannot carry; the grader's NumPy stand-in "
            f"was used for it ({target.relative_to(staged.root)})."
        )
    return warnings
