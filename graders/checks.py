"""Comparing a result with the reference: an allclose rule with explicit tolerances and a useful message.

Why not cs231n's ``rel_error``: with its 1e-8 floor in the denominator it behaves like an absolute tolerance
near zero and hides where an array is wrong. Here every failure names the worst index, the expected and actual
values there, the tolerance, how many entries differ, and (for 4-D arrays) a 2-D map of where they differ.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np

from graders.sandbox.wire import Opaque
from graders.specs.base import Case, Check, Outputs, Verdict

_NUMERIC_KINDS = "biuf"
#: The assignment option ``strict_shapes``: a shape that differs only by size-1 axes fails instead of earning
#: the points with a warning. A context variable, so that every rule (custom ones included) sees it.
_STRICT_SHAPES: ContextVar[bool] = ContextVar("strict_shapes", default=False)


@contextlib.contextmanager
def strict_shapes(on: bool) -> Iterator[None]:
    token = _STRICT_SHAPES.set(on)
    try:
        yield
    finally:
        _STRICT_SHAPES.reset(token)


def value_role(name: str) -> str:
    """What a named value is, for messages: "the gradient dx", "the running statistic bn_param['running_mean']"."""
    if "running_" in name:
        return f"the running statistic {name}"
    if name.startswith("loss"):
        return f"the loss {name}" if name != "loss" else "the loss"
    bare = name.split("[")[0].split("_")[0]
    if len(bare) > 1 and bare[0] == "d" and bare[1:2].isalpha() and bare not in ("dropout", "data"):
        return f"the gradient {name}"
    return f"the output {name}"


def broadcast_form(shape: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` without its leading size-1 axes: two shapes with the same form broadcast alike against any
    array ((1, D) and (D,) do; (D, 1) and (D,) do not: subtracting one from the other gives (D, D))."""
    index = 0
    while index < len(shape) and shape[index] == 1:
        index += 1
    return tuple(shape[index:])


def _kind_name(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {tuple(value.shape)} and dtype {value.dtype}"
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    if isinstance(value, Opaque):
        return f"{value.text} ({value.type_name})" if value.type_name in ("ndarray", "list") else f"a {value.type_name}"
    return f"a {type(value).__name__}"


def as_numeric(value: Any) -> np.ndarray | None:
    """The value as a numeric array if it is a number or numeric array (not a list: students must return
    arrays where the hand-out says so), else None."""
    if isinstance(value, np.ndarray) and value.dtype.kind in _NUMERIC_KINDS:
        return value
    if isinstance(value, (bool, int, float, np.number)) and not isinstance(value, np.bool_):
        return np.asarray(value, dtype=np.float64)
    return None


def where_map(diff: np.ndarray) -> tuple[list[list[float]], str] | None:
    """A 2-D summary of |difference| for heat maps: the last two axes, max over the leading ones."""
    if diff.ndim < 2:
        return None
    lead = tuple(range(diff.ndim - 2))
    grid = diff.max(axis=lead) if lead else diff
    if grid.size > 64 * 64:
        return None
    label = "max |actual - expected| over the leading axes" if lead else "|actual - expected|"
    return [[float(v) for v in row] for row in grid], label


def compare_arrays(name: str, actual: Any, expected: Any, atol: float, rtol: float) -> Verdict:
    """allclose(actual, expected, atol, rtol) with a message a student can act on."""
    want = np.asarray(expected)
    got = as_numeric(actual)
    if got is None:
        return Verdict(False, f"{name}: expected {_kind_name(want)}, got {_kind_name(actual)}")
    if want.ndim == 0 and got.size == 1:
        got = got.reshape(())
    warning = ""
    if got.shape != want.shape:
        role = value_role(name)
        if broadcast_form(got.shape) != broadcast_form(want.shape) or _STRICT_SHAPES.get():
            return Verdict(False, f"{role} has shape {tuple(got.shape)}, expected {tuple(want.shape)}")
        warning = (f"{role} has shape {tuple(got.shape)} where {tuple(want.shape)} is expected: the values are "
                   "right and only leading axes of size 1 differ, so it costs no points here; return the hand-out's "
                   "shape all the same (code that stores or stacks it may depend on it)")
        got = got.reshape(want.shape)
    got64 = got.astype(np.float64)
    want64 = want.astype(np.float64)
    if not np.all(np.isfinite(got64)) and np.all(np.isfinite(want64)):
        bad = int(np.count_nonzero(~np.isfinite(got64)))
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(got64))[0])
        return Verdict(False, f"{name} contains NaN or inf ({bad} entries, first at index {index})")
    diff = np.abs(got64 - want64)
    allowed = atol + rtol * np.abs(want64)
    over = diff > allowed
    if not np.any(over):
        return Verdict(True, warning=warning)
    excess = np.where(over, diff - allowed, -np.inf)
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.ndim else ()
    at = f" at index {tuple(int(i) for i in worst)}" if worst else ""
    message = (
        f"{name} differs{at}: expected {want64[worst]:.6g}, got {got64[worst]:.6g} "
        f"(atol {atol:g}, rtol {rtol:g}); {int(over.sum())} of {over.size} entries differ"
    )
    heat = where_map(diff)
    if heat is None:
        return Verdict(False, message)
    return Verdict(False, message, where=heat[0], where_label=f"{heat[1]} ({name})")


def run_check(check: Check, case: Case, actual: Outputs, expected: Outputs) -> Verdict:
    """Apply one check: its custom rule, or allclose on each of its outputs (first failure wins; the warnings
    of passing outputs are kept)."""
    if check.compare is not None:
        return check.compare(case, actual, expected, check)
    warnings = []
    for output in check.output_names:
        if output not in actual:
            return Verdict(False, f"{output} was not produced")
        verdict = compare_arrays(output, actual[output], expected[output], check.atol, check.rtol)
        if not verdict.passed:
            return verdict
        if verdict.warning:
            warnings.append(verdict.warning)
    return Verdict(True, warning="; ".join(warnings))
