"""The registry: every gradable function's spec, found by name.

Spec modules (``graders/specs/<topic>.py``) each expose ``FACTORIES: dict[str, Callable[..., Spec]]``.
A factory takes keyword options for conventions that differ between hand-outs (for example dropout's ``p``
meaning keep or drop probability), so a year variant of an assignment is a few words in a data file, not code.
A course's own specs (graders/courses.py: an installed course package or a ``--specs`` folder) join the same
registry after the built-in ones, under names of their own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from graders import courses
from graders.specs.base import Spec

#: Topic modules that contribute specs. Order is the order of ``all_specs``.
SPEC_MODULES: tuple[str, ...] = (
    "graders.specs.dense",
    "graders.specs.losses",
    "graders.specs.normalization",
    "graders.specs.dropout",
    "graders.specs.conv",
    "graders.specs.pool",
    "graders.specs.sandwiches",
    "graders.specs.optim",
    "graders.specs.fc_net",
    "graders.specs.cnn",
    "graders.specs.cs231n_a1",
    "graders.specs.rnn",
    "graders.specs.captioning",
    "graders.specs.extras",
    "graders.specs.dlfs",
)


@cache
def factories() -> dict[str, Callable[..., Spec]]:
    found: dict[str, Callable[..., Spec]] = {}
    for module_name in SPEC_MODULES:
        # a module that does not exist is an error: a renamed family must not leave its tests silently empty
        module = importlib.import_module(module_name)
        if not hasattr(module, "FACTORIES"):
            raise RuntimeError(f"{module_name} declares no FACTORIES")
        for name, factory in module.FACTORIES.items():
            if name in found:
                raise RuntimeError(f"spec {name!r} declared twice (second time in {module_name})")
            found[name] = factory
    built_in = set(found)
    for name, origin, factory in courses.factories():
        if name in found:
            where = "a built-in spec" if name in built_in else "another course spec"
            raise courses.CourseError(f"{origin}: spec {name!r} is already {where}; a course names its own")
        found[name] = factory
    return found


def get(name: str, **options: Any) -> Spec:
    """The spec of ``name`` under the given convention options."""
    try:
        factory = factories()[name]
    except KeyError:
        raise KeyError(f"no spec named {name!r}; known: {', '.join(sorted(factories()))}") from None
    return factory(**options)


def all_specs() -> Iterator[Spec]:
    """Every spec with its default options (what the reference tests iterate over)."""
    for factory in factories().values():
        yield factory()
