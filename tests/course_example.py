"""The repository's worked example of a course's own functions (courses/example), for the tests."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from graders.specs.base import Spec

COURSE_ROOT = Path(__file__).resolve().parents[1] / "courses" / "example"
COURSE_PACKAGE = COURSE_ROOT / "nngrade_example_course"
COURSE_SUBMISSIONS = COURSE_ROOT / "submissions"
COURSE_ASSIGNMENT = "example-course"


def example_course_specs() -> dict[str, Spec]:
    """The example course's specs by name, imported the way an installed course package is (so the reference
    tests check them against torch and finite differences like the built-in ones)."""
    if str(COURSE_ROOT) not in sys.path:
        sys.path.append(str(COURSE_ROOT))
    package = importlib.import_module("nngrade_example_course")
    return {name: factory() for name, factory in package.FACTORIES.items()}
