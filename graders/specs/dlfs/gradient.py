"""Spec of the book's ``common/gradient.py``: ``numerical_gradient(f, x)``.

``f`` is a smooth, separable function staged beside the worker (graders/sandbox/support/nngrade_support.py),
whose exact gradient the grader knows; x is 1-D, 2-D or 4-D with every |x| in [0.4, 1.2], where both staged
functions curve (a one-sided difference is visibly off) and none has a kink.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, NamedCase, Reach, Spec, Verdict
from graders.specs.dlfs.common import BOOK_H
from graders.specs.kit.detectors import fails_only_when
from graders.specs.kit.resources import SUPPORT_FUNCTIONS
from graders.specs.kit.rules import as_numeric, compare_arrays
from graders.specs.kit.tolerances import CENTRAL_DIFFERENCE, RESTORED
from graders.specs.program import Func, Input, Program, Result, call

#: Every |x| lies in this range: sin and cos (the "wavy" function) both stay far from 0 there.
LOW, HIGH = 0.4, 1.2


def numerical_gradient_spec() -> Spec:
    return Spec(
        name="numerical_gradient",
        module="gradient",
        api="function",
        domain=_away_from_kinks,
        cases=numerical_gradient_cases,
        reaches=(Reach("1-D x", lambda case: case["x"].ndim == 1), Reach("4-D x", lambda case: case["x"].ndim == 4),
                 *(_uses(name) for name in sorted(SUPPORT_FUNCTIONS))),
        notebook=numerical_gradient_notebook,
        scale=numerical_gradient_scale,
        program=numerical_gradient_program,
        expected=numerical_gradient_expected,
        checks=(
            Check("grad", tol=CENTRAL_DIFFERENCE, points=3.0,
                  description="df/dx for x of any shape: central differences (h = 1e-4) pass, one-sided do not"),
            Check("x_restored", tol=RESTORED, compare=_x_restored_rule,
                  description="x holds its original values afterwards"),
        ),
        gradients=(GradientCheck("grad", "x", _f_of),),
        diagnoses=(NUMERICAL_ONE_SIDED, NUMERICAL_NOT_RESTORED, NUMERICAL_LOW_RANK_ONLY),
        convention="book: numerical_gradient(f, x), central difference h = 1e-4, perturbs x in place and restores it",
        read_only=("x",),
        verified_by=("exact gradients of the staged support functions (finite differences check them), "
            "and the reference numerical_gradient passing this spec (tests/graders/test_dlfs_specs.py)"),
    )


# ---------------------------------------------------------------- cases
def _away_from_kinks(case: Case) -> bool:
    """A staged f; x 1-D, 2-D or 4-D with every |x| at least LOW, and at most HIGH for the wavy function (the
    quadratic curves alike everywhere: the book's point (3, 4) is in its domain)."""
    x = np.abs(case["x"])
    return (case["f"] in SUPPORT_FUNCTIONS and case["x"].ndim in (1, 2, 4) and bool(np.all(x >= LOW))
            and (case["f"] == "quadratic" or bool(np.all(x <= HIGH))))


def _uses(name: str) -> Reach:
    return Reach(f"the staged {name}", lambda case: case["f"] == name)


@st.composite
def numerical_gradient_cases(draw: st.DrawFn) -> Case:
    ndim = draw(st.sampled_from([1, 2, 4]))
    high = {1: 10, 2: 5, 4: 3}[ndim]
    shape = draw(S.shapes_with(ndim, 1, high))
    return {"f": draw(st.sampled_from(sorted(SUPPORT_FUNCTIONS))), "x": draw(S.signed_uniform_arrays(shape, LOW, HIGH))}


def numerical_gradient_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(231)
    weight = rng.uniform(LOW, HIGH, (2, 2, 3, 3)) * rng.choice([-1.0, 1.0], (2, 2, 3, 3))
    return [
        NamedCase("book ch. 4: the point (3, 4), with a staged quadratic in place of function_2",
                  {"f": "quadratic", "x": np.array([3.0, 4.0])}),
        NamedCase("not the book's: the staged wavy function at a 2 x 3 point",
                  {"f": "wavy", "x": np.array([[0.5, -0.8, 1.1], [-0.6, 0.9, -1.2]])}),
        NamedCase("not the book's: a small conv layer's 4-D weight (2, 2, 3, 3), wavy", {"f": "wavy", "x": weight}),
    ]


def numerical_gradient_scale() -> list[Case]:
    """A layer's weights as the book's networks pass them: W (10, 10), 100 entries (200 calls of f), and a
    conv layer's 4-D W (4, 3, 3, 3) of 108 entries."""
    rng = np.random.default_rng(2323)

    def away_from_kinks(shape: tuple[int, ...]) -> np.ndarray:
        return rng.uniform(LOW, HIGH, shape) * rng.choice(np.array([-1.0, 1.0]), shape)

    return [{"f": "wavy", "x": away_from_kinks((10, 10))}, {"f": "quadratic", "x": away_from_kinks((4, 3, 3, 3))}]


# ---------------------------------------------------------------- program and reference
def numerical_gradient_program(case: Case) -> Program:
    """``gradient.numerical_gradient(f, x)`` with a staged smooth ``f``; x is fetched back afterwards."""
    return Program(
        steps=(call("grad", "gradient", "numerical_gradient", Func("nngrade_support", case["f"]), Input("x")),),
        outputs={"grad": Result("grad"), "x_after": Input("x")},
    )


def numerical_gradient_expected(case: Case) -> dict[str, Any]:
    """The exact gradient (central differences agree with it to ~1e-9), and x unchanged."""
    return {"grad": SUPPORT_FUNCTIONS[case["f"]][1](case["x"]), "x_after": case["x"]}


def _f_of(case: Case) -> float:
    return SUPPORT_FUNCTIONS[case["f"]][0](case["x"])


def _x_restored_rule(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
    verdict = compare_arrays("x after the call", actual.get("x_after"), case["x"], check.atol, check.rtol)
    if verdict.passed:
        return verdict
    return Verdict(False, f"numerical_gradient changed x: {verdict.message}")


# ---------------------------------------------------------------- diagnoses and their bug models
def _second_derivative(case: Case) -> np.ndarray:
    """d^2 f / dx_i^2 of the (separable) support function, by central differences of its exact gradient."""
    grad = SUPPORT_FUNCTIONS[case["f"]][1]
    step = 1e-5
    return (grad(case["x"] + step) - grad(case["x"] - step)) / (2.0 * step)


def _one_sided_step(run: CaseRun) -> float | None:
    """The step h with grad - exact = (h / 2) f'' on every entry (forward difference: h > 0, backward: h < 0)
    or None."""
    got = as_numeric(run.actual.get("grad"))
    want = np.asarray(run.expected["grad"])
    if got is None or got.shape != want.shape:
        return None
    curvature = _second_derivative(run.case)
    usable = np.abs(curvature) > 0.1
    if not np.any(usable):
        return None
    steps = 2.0 * (got.astype(np.float64) - want)[usable] / curvature[usable]
    h = float(np.median(steps))
    if not 1e-8 < abs(h) < 0.1 or not np.allclose(steps, h, rtol=0.05, atol=0.0):
        return None
    return h


def _one_sided(runs: Sequence[CaseRun]) -> bool:
    bad = [r for r in runs if r.failed_on("grad")]
    return bool(bad) and all(_one_sided_step(r) is not None for r in bad)


def _forward_difference(case: Case) -> dict[str, Any]:
    """(f(x + h) - f(x)) / h entry by entry, with the book's h (the function is separable: one entry at a
    time, as the book's loop perturbs them)."""
    f, x = SUPPORT_FUNCTIONS[case["f"]][0], np.array(case["x"], dtype=np.float64)
    grad = np.empty_like(x)
    for index in np.ndindex(x.shape):
        moved = x.copy()
        moved[index] += BOOK_H
        grad[index] = (f(moved) - f(x)) / BOOK_H
    return {"grad": grad}


def _x_not_restored(runs: Sequence[CaseRun]) -> bool:
    return any(r.failed_on("x_restored") for r in runs)


def _only_low_rank(case: Case) -> dict[str, Any]:
    """A loop over two axes only: right for 1-D and 2-D x, nothing computed for a 4-D one."""
    exact = numerical_gradient_expected(case)["grad"]
    return {"grad": exact if case["x"].ndim <= 2 else np.zeros_like(exact)}


NUMERICAL_ONE_SIDED = Diagnosis(
    "one-sided difference",
    "The gradient matches a one-sided difference (f(x + h) - f(x)) / h: use the central difference "
    "(f(x + h) - f(x - h)) / (2 * h), whose error is O(h^2) instead of O(h).",
    _one_sided,
    reads=("grad",),
    bug=_forward_difference,
)
NUMERICAL_NOT_RESTORED = Diagnosis(
    "x not restored",
    "x is left changed after numerical_gradient: put each element back (x[idx] = tmp_val) after its two "
    "evaluations; in a network x is a weight matrix, and the perturbation would stay in the model.",
    _x_not_restored,
    reads=("x_after",),
    bug=lambda case: {"x_after": case["x"] - BOOK_H},  # each entry left at its last evaluation, x - h
)
NUMERICAL_LOW_RANK_ONLY = Diagnosis(
    "only 1-D / 2-D x",
    "It fails only for x with more than 2 axes (a conv layer's 4-D weights): iterate over every index of any "
    "shape, e.g. with np.nditer(x, flags=['multi_index']) or np.ndindex(x.shape).",
    fails_only_when(lambda case: np.ndim(case["x"]) > 2),
    reads=("grad",),
    bug=_only_low_rank,
)
