"""A failing check's values as numbers, for arrays small enough to read: expected, got, and which entries differ.

WHY: a shrunk counterexample is often a 1x1 or 1x3 array. A heat map of it is a solid square with overlapping
tick labels; the student needs the numbers, side by side, with the wrong entries marked. Past
:data:`MAX_ENTRIES` entries a list of numbers stops being readable and the heat map (the check's ``where``)
says more, so only small arrays get a ``values`` entry in report.json:

    {"output": str, "shape": [int], "expected": [float], "got": [float], "differs": [bool],
     "atol": float, "rtol": float}

``expected``/``got`` are flattened in C order (``shape`` restores them); ``differs`` applies the check's own
tolerance (``|got - expected| > atol + rtol * |expected|``, NaN and inf where the other is not the same).
Only checks that compare values with a tolerance get it: a custom comparison (a keep rate, a seed) is not
about entry-by-entry equality.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graders.specs.base import CaseRun, Check

MAX_ENTRIES = 30


def _array(value: Any) -> np.ndarray | None:
    if value is None:  # a missing return: the message says "got None"; NumPy would read it as NaN
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    return array


def small_values(check: Check, run: CaseRun) -> dict[str, Any] | None:
    """The ``values`` entry of ``check`` on the case ``run``, or None (no tolerance, not a numeric array of
    the expected shape, or more than :data:`MAX_ENTRIES` entries)."""
    if check.tol is None or check.compare is not None or run.error is not None:
        return None
    name = check.output_names[0]
    if name not in run.expected or name not in run.actual:
        return None
    expected, got = _array(run.expected[name]), _array(run.actual[name])
    if expected is None or got is None or got.shape != expected.shape or not 0 < expected.size <= MAX_ENTRIES:
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.isclose(got, expected, atol=check.atol, rtol=check.rtol, equal_nan=True)
    if close.all():
        return None  # the check failed on something else (a dtype, a second output): its message says what
    return {
        "output": name,
        "shape": list(expected.shape),
        "expected": expected.ravel().tolist(),
        "got": got.ravel().tolist(),
        "differs": (~close).ravel().tolist(),
        "atol": check.atol,
        "rtol": check.rtol,
    }
