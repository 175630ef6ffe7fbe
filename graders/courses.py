"""A course's own functions: spec modules and assignment files that live outside nngrade.

An instructor adds a function without forking nngrade by writing specs in the same vocabulary as
``graders/specs`` (:mod:`graders.specs.base`, the shared kit, :mod:`graders.specs.program`) in a *course source*:

* an installed package that declares an entry point in the group ``nngrade.courses`` whose value is a module,
  found by :func:`importlib.metadata.entry_points` (``pip install`` the course package and nngrade sees it);
* a folder given with ``--specs DIR``: each ``*.py`` file directly in it (not starting with ``_``) is imported
  as a module of a private package, so the files may import each other relatively (``from . import common``).

Each course module that exposes ``FACTORIES: dict[str, Callable[..., Spec]]`` contributes specs, exactly as a
family module of ``graders/specs`` does. Assignment files (``*.toml``, the format of ``graders/assignments``)
are read from the folder ``assignments/`` beside the module (or ``ASSIGNMENTS_DIR`` if the module sets it), and
for ``--specs DIR`` from ``DIR/assignments/`` and ``DIR`` itself.

WHY course code is trusted and student code is not: a course source is the instructor's code, chosen by the
instructor (an installed package, or a folder named on the command line); it runs only in the trusted grading
process, like nngrade's own specs: it describes calls (``graders.specs.program``) and computes the truth, and
the sandboxed worker, which runs the student's code, never imports it. A ``--specs`` folder inside the
submission or class folder being graded (or holding one) is refused (:func:`check_outside`), so a student
cannot hand in specs.

WHY an environment variable: the command line re-executes itself isolated, and ``nngrade batch`` and the
selftest grade in child processes; the folders given with ``--specs`` reach them as :data:`ENV_VARIABLE`
(absolute paths separated by ``os.pathsep``). The sandboxed worker gets an empty environment.

WHY names may not be reused: a course spec or assignment named like a built-in one would silently change what
``cs231n-a2`` grades; that is an error naming both sources.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

#: The entry-point group a course package declares its spec module in.
ENTRY_POINT_GROUP = "nngrade.courses"
#: Folders given with ``--specs``, passed on to the grader's own child processes.
ENV_VARIABLE = "NNGRADE_SPECS"


class CourseError(Exception):
    """A course source that cannot be used: missing, not importable, or declaring a name twice."""


@dataclass(frozen=True)
class CourseModule:
    """One imported course module: where it came from (for messages), and what it declares."""

    origin: str
    module: ModuleType

    @property
    def factories(self) -> dict[str, Callable[..., Any]]:
        found = getattr(self.module, "FACTORIES", {})
        if not isinstance(found, dict):
            raise CourseError(f"{self.origin}: FACTORIES must be a dict of spec name to factory")
        return found

    @property
    def assignment_dirs(self) -> list[Path]:
        configured = getattr(self.module, "ASSIGNMENTS_DIR", None)
        if configured is not None:
            return [Path(configured)]
        source = getattr(self.module, "__file__", None)
        return [Path(source).parent / "assignments"] if source else []


def folders() -> list[Path]:
    """The ``--specs`` folders of this process (from :data:`ENV_VARIABLE`)."""
    return [Path(p) for p in os.environ.get(ENV_VARIABLE, "").split(os.pathsep) if p]


def use_folders(paths: Iterable[Path]) -> None:
    """Add ``--specs`` folders for this process and its children, and forget what was loaded before."""
    known = folders()
    for path in paths:
        folder = Path(os.path.abspath(path))
        if not folder.is_dir():
            raise CourseError(f"--specs {path}: not a folder")
        if folder not in known:
            known.append(folder)
    os.environ[ENV_VARIABLE] = os.pathsep.join(str(p) for p in known)
    forget()


def forget() -> None:
    """Drop every cache that holds course specs, so the next lookup sees the current sources."""
    from graders import assignment, casebank
    from graders.specs import registry

    modules.cache_clear()
    registry.factories.cache_clear()
    assignment.load.cache_clear()
    casebank.code_fingerprint.cache_clear()


def check_outside(graded: Path) -> None:
    """Refuse a ``--specs`` folder that overlaps ``graded`` (a submission or class folder), either way round:
    inside it, its files are the students'; holding it, a submission could be one of its ``*.py`` files. Either
    would run student code in the trusted process."""
    graded = Path(os.path.realpath(graded))
    for folder in folders():
        real = Path(os.path.realpath(folder))
        if real == graded or graded in real.parents or real in graded.parents:
            raise CourseError(f"--specs {folder} overlaps {graded}, which is being graded: course specs and "
                              "students' hand-ins must live in separate folders")


@cache
def modules() -> tuple[CourseModule, ...]:
    """Every course module: installed packages' entry points first, then the ``--specs`` folders in order."""
    found: list[CourseModule] = []
    for point in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        origin = f"entry point {point.name} = {point.value}"
        try:
            loaded = point.load()
        except Exception as exc:  # noqa: BLE001 - any failure of the course's code is the course's error
            raise CourseError(f"{origin}: cannot be imported: {type(exc).__name__}: {exc}") from exc
        if not isinstance(loaded, ModuleType):
            raise CourseError(f"{origin}: must name a module, not {type(loaded).__name__}")
        found.append(CourseModule(origin, loaded))
    for folder in folders():
        found.extend(_folder_modules(folder))
    return tuple(found)


def _folder_modules(folder: Path) -> Iterator[CourseModule]:
    """The ``*.py`` files of a ``--specs`` folder, imported as modules of one private package."""
    if not folder.is_dir():
        raise CourseError(f"--specs {folder}: not a folder")
    package_name = "nngrade_course_" + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    package = sys.modules.get(package_name)
    if package is None:
        spec = importlib.util.spec_from_loader(package_name, loader=None, is_package=True)
        assert spec is not None
        package = importlib.util.module_from_spec(spec)
        package.__path__ = [str(folder)]
        sys.modules[package_name] = package
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_") or path.is_symlink():
            continue
        origin = f"--specs {path}"
        try:
            module = importlib.import_module(f"{package_name}.{path.stem}")
        except Exception as exc:  # noqa: BLE001 - any failure of the course's code is the course's error
            raise CourseError(f"{origin}: cannot be imported: {type(exc).__name__}: {exc}") from exc
        yield CourseModule(origin, module)


def factories() -> Iterator[tuple[str, str, Callable[..., Any]]]:
    """(spec name, origin, factory) of every course spec."""
    for course in modules():
        for name, factory in course.factories.items():
            yield name, course.origin, factory


def assignment_files() -> dict[str, Path]:
    """Course assignment files by assignment name (the file's stem); a name given twice is an error."""
    found: dict[str, Path] = {}
    dirs = [d for course in modules() for d in course.assignment_dirs]
    dirs += [d for folder in folders() for d in (folder / "assignments", folder)]
    for directory in dict.fromkeys(dirs):
        for path in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
            if path.stem in found and found[path.stem] != path:
                raise CourseError(f"assignment {path.stem!r} declared twice: {found[path.stem]} and {path}")
            found[path.stem] = path
    return found


def source_files() -> list[Path]:
    """The Python files of every course module (their hash joins the case bank's key: a changed course spec
    must not replay cases banked under the old one)."""
    files: list[Path] = []
    for course in modules():
        source = getattr(course.module, "__file__", None)
        if source is None:
            continue
        package = getattr(course.module, "__path__", None)
        root = Path(source).parent
        files.extend(sorted(root.rglob("*.py")) if package else [Path(source)])
    for folder in folders():
        files.extend(p for p in sorted(folder.glob("*.py")) if not p.is_symlink())
    return list(dict.fromkeys(files))
