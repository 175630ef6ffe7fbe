"""Building blocks of custom check rules (``Check.compare``) and of the input-unchanged robustness check.

A rule that reads a student's output as an array starts with :func:`array_of_shape`, so every rule says "not
produced", "not an array" and "wrong shape" in the same words. The comparisons of graders/checks.py are
re-exported here: families take them from the kit, never from graders.checks directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from graders.checks import as_numeric, broadcast_form, compare_arrays
from graders.specs.base import Robustness, Verdict

__all__ = [
    "array_of_shape",
    "as_numeric",
    "broadcast_form",
    "compare_arrays",
    "input_modified_sentence",
    "inputs_unchanged",
]


def array_of_shape(actual: Mapping[str, Any], name: str, shape: tuple[int, ...]) -> np.ndarray | Verdict:
    """The student's output ``name`` as float64 of ``shape``, or a failing verdict saying why not."""
    if name not in actual:
        return Verdict(False, f"{name} was not produced")
    value = as_numeric(actual.get(name))
    if value is None:
        return Verdict(False, f"{name}: expected an array of shape {shape}, got {type(actual.get(name)).__name__}")
    if value.shape != shape:
        return Verdict(False, f"{name} has shape {tuple(value.shape)}, expected {shape}")
    return value.astype(np.float64)


def input_modified_sentence(function: str, name: str, remedy: str) -> str:
    """Why writing into an input matters, for the student."""
    return (f"{function} writes into its input {name}: the caller's array changes, and so does anything that "
            f"kept a reference to it (such as a cache for the backward pass). {remedy}")


def inputs_unchanged(function: str, name: str, remedy: str, weight: float = 0.25) -> Robustness:
    """The robustness check "inputs_unchanged": ``name`` comes back unmodified on every main case.

    A separate, small check and not part of the output's: the values are right, and the hand-out's notebook
    would not notice; but the caller's array changes, and so does a cache that keeps it. Its sentence (the
    diagnosis shown when it fails) says why that matters.
    """
    return Robustness(
        name="inputs_unchanged",
        description=f"{function} leaves its input {name} as it was (it returns a new array)",
        sentence=input_modified_sentence(function, name, remedy),
        unchanged=(name,),
        weight=weight,
    )
