"""``nngrade gradescope build``: the zip Gradescope's autograder specification asks for.

Layout (https://gradescope-autograders.readthedocs.io/en/latest/specs/): ``setup.sh`` and ``run_autograder``
at the zip's root; Gradescope unpacks the zip into ``/autograder/source``, runs setup.sh once when it builds
the image, and runs run_autograder for every submission, which must write ``/autograder/results/results.json``.
Beside the two scripts: ``nngrade/`` (a copy of the package files: pyproject.toml, README.md, graders/,
reference/; never tests, .git, out or caches), ``nngrade-autograder.json`` (what to grade and how) and, for a
course's own functions, ``course-specs/<n>/`` (a copy of each ``--specs`` folder, see graders/courses.py).

WHY a copy of the source and not ``pip install nngrade``: the image must grade with exactly the grader the
course tested, offline from any index nngrade may not be on. WHY the zip is reproducible (fixed timestamps,
sorted members): rebuilding an unchanged bundle gives the same bytes, so a course can tell whether a re-upload
is needed.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from graders import assignment as assignments

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The package files copied into the bundle (what ``pip install`` needs), relative to the project root.
PACKAGE_FILES = ("pyproject.toml", "README.md")
PACKAGE_DIRS = ("graders", "reference")
SKIPPED_PARTS = frozenset({"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
SOURCE_DIR = "nngrade"
COURSE_SPECS_DIR = "course-specs"
CONFIG_NAME = "nngrade-autograder.json"
BUNDLED_ASSIGNMENT = "assignment.toml"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
EXECUTABLE = 0o100755
REGULAR = 0o100644
_PYTHON_VERSION = re.compile(r"3\.\d{1,2}")


class BundleError(ValueError):
    """A bundle that cannot be built as asked (bad option, missing project file)."""


@dataclass(frozen=True)
class AutograderConfig:
    """What run_autograder grades with; written to nngrade-autograder.json."""

    assignment: str  # a built-in assignment's name, or BUNDLED_ASSIGNMENT (a file in the bundle's root)
    seed: int = 0
    profile: str = "standard"
    budget_s: float = 600.0
    visibility: str = "visible"
    #: course spec folders inside the bundle (``course-specs/<n>``), registered before grading
    specs: tuple[str, ...] = ()


SETUP_SH = """#!/usr/bin/env bash
# Runs once, as root, when Gradescope builds the autograder image (written by `nngrade gradescope build`).
set -euo pipefail
PYTHON_VERSION="{python_version}"
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
ROOT="${{NNGRADE_AUTOGRADER_ROOT:-/autograder}}"
VENV="$ROOT/nngrade-venv"

# The strict sandbox's packages (bubblewrap, the workers' NumPy, libseccomp's binding): best effort, since
# grading still works without them and the report says which isolation layers were active. Never torch.
export DEBIAN_FRONTEND=noninteractive
apt-get update || true
apt-get install -y --no-install-recommends bubblewrap python3-numpy python3-seccomp || true

PYTHON="python${{PYTHON_VERSION}}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends "python${{PYTHON_VERSION}}" "python${{PYTHON_VERSION}}-venv" || true
fi
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "setup.sh: python${{PYTHON_VERSION}} is not available on this image; using python3" >&2
    PYTHON=python3
fi
apt-get install -y --no-install-recommends "python${{PYTHON_VERSION}}-venv" python3-venv || true

# A virtual environment: Ubuntu's own Python refuses system-wide pip installs (PEP 668).
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
"$VENV/bin/python" -m pip install "$SOURCE/{source_dir}"
"$VENV/bin/nngrade" --version

# The case bank (each function's cases and the reference's answers for this bundle's seed and profile), built
# into the image so that no student's grading pays for it (run_autograder names the same folder); only root
# may enter it. Without it each submission builds what it needs: slower, same grades.
export NNGRADE_CASE_BANK="${{NNGRADE_CASE_BANK:-$ROOT/nngrade-cases}}"
install -d -m 0700 "$NNGRADE_CASE_BANK"
"$VENV/bin/nngrade" gradescope warm --root "$ROOT" || echo "setup.sh: the case bank could not be built" >&2
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Runs for every submission (written by `nngrade gradescope build`). NNGRADE_AUTOGRADER_ROOT replaces
# /autograder (tests run it in a temporary folder); NNGRADE_AUTOGRADER_NNGRADE names the nngrade to run.
set -euo pipefail
ROOT="${NNGRADE_AUTOGRADER_ROOT:-/autograder}"
NNGRADE="${NNGRADE_AUTOGRADER_NNGRADE:-$ROOT/nngrade-venv/bin/nngrade}"
export NNGRADE_CASE_BANK="${NNGRADE_CASE_BANK:-$ROOT/nngrade-cases}"  # filled by setup.sh
cd "$ROOT"
exec "$NNGRADE" gradescope run --root "$ROOT"
"""


def _package_files(project: Path) -> Iterator[tuple[Path, str]]:
    """(file, name inside the zip) for every package file, sorted; caches and compiled files left out."""
    for name in PACKAGE_FILES:
        if not (project / name).is_file():
            raise BundleError(f"{project / name} not found: build the bundle from an nngrade source tree")
        yield project / name, f"{SOURCE_DIR}/{name}"
    for folder in PACKAGE_DIRS:
        for path in sorted((project / folder).rglob("*")):
            relative = path.relative_to(project)
            if (path.is_symlink() or not path.is_file() or SKIPPED_PARTS & set(relative.parts)
                    or path.suffix in SKIPPED_SUFFIXES):
                continue
            yield path, f"{SOURCE_DIR}/{relative.as_posix()}"


def _course_files(folders: tuple[Path, ...]) -> Iterator[tuple[Path, str]]:
    """(file, name inside the zip) for each --specs folder's files, under course-specs/<n>/ (links skipped)."""
    for index, folder in enumerate(folders):
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if (path.is_symlink() or not path.is_file() or SKIPPED_PARTS & set(relative.parts)
                    or path.suffix in SKIPPED_SUFFIXES):
                continue
            yield path, f"{COURSE_SPECS_DIR}/{index}/{relative.as_posix()}"


def _member(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def build_bundle(
    assignment: str,
    out: Path,
    *,
    python_version: str = "3.11",
    config: AutograderConfig | None = None,
    project: Path = PROJECT_ROOT,
    specs: tuple[Path, ...] = (),
) -> Path:
    """Write the autograder zip to ``out`` for ``assignment`` (a built-in name, a course's, or a .toml file) and
    return it. ``specs``: the course spec folders the assignment needs, copied into the bundle."""
    if not _PYTHON_VERSION.fullmatch(python_version):
        raise BundleError(f"--python-version {python_version!r}: expected 3.N, e.g. 3.11")
    assignments.load(assignment)  # fails early, with the usual message, on an unknown or broken assignment
    is_file = assignment.endswith(".toml")
    if not is_file and not (assignments.ASSIGNMENTS_DIR / f"{assignment}.toml").exists() and not specs:
        raise BundleError(f"{assignment} is a course's own assignment: give its spec folder with --specs so that "
                          "the bundle carries it (Gradescope's image has only what the zip holds)")
    settings = config or AutograderConfig(assignment=assignment)
    settings = AutograderConfig(**{
        **asdict(settings), "assignment": BUNDLED_ASSIGNMENT if is_file else assignment,
        "specs": tuple(f"{COURSE_SPECS_DIR}/{index}" for index in range(len(specs))),
    })
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    with zipfile.ZipFile(partial, "w") as archive:
        archive.writestr(_member("setup.sh", EXECUTABLE),
                         SETUP_SH.format(python_version=python_version, source_dir=SOURCE_DIR))
        archive.writestr(_member("run_autograder", EXECUTABLE), RUN_AUTOGRADER)
        archive.writestr(_member(CONFIG_NAME, REGULAR), json.dumps(asdict(settings), indent=2) + "\n")
        if is_file:
            archive.writestr(_member(BUNDLED_ASSIGNMENT, REGULAR), Path(assignment).read_bytes())
        for path, name in (*_package_files(project), *_course_files(specs)):
            archive.writestr(_member(name, REGULAR), path.read_bytes())
    shutil.move(partial, out)
    return out
