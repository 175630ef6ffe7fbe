"""Spec of the book's ``common/gradient.py``: ``numerical_gradient(f, x)``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.checks import as_numeric, compare_arrays
from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, Spec, Verdict
from graders.specs.dlfs.common import SUPPORT_FUNCTIONS, fails_only_when
from graders.specs.program import Func, Input, Program, Result, call
from graders.specs.variants import failed_on


def _away_from_kinks(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Entries with |x| in [0.4, 1.2] and random signs: sin and cos both stay far from 0 there, so a one-sided
    difference is visibly off for "wavy" as well as "quadratic"."""
    return S.signed_uniform_arrays(shape, 0.4, 1.2)


@st.composite
def numerical_gradient_cases(draw: st.DrawFn) -> Case:
    ndim = draw(st.sampled_from([1, 2, 4]))
    high = {1: 10, 2: 5, 4: 3}[ndim]
    shape = draw(S.shapes_with(ndim, 1, high))
    return {"f": draw(st.sampled_from(sorted(SUPPORT_FUNCTIONS))), "x": draw(_away_from_kinks(shape))}


def numerical_gradient_fixed() -> list[Case]:
    """The book's ch. 4 point (3, 4) for a sum of squares, and a 4-D weight of a small conv layer."""
    rng = np.random.RandomState(231)
    return [
        {"f": "quadratic", "x": np.array([3.0, 4.0])},
        {"f": "wavy", "x": np.array([[0.5, -0.8, 1.1], [-0.6, 0.9, -1.2]])},
        {"f": "wavy", "x": rng.uniform(0.4, 1.2, (2, 2, 3, 3)) * rng.choice([-1.0, 1.0], (2, 2, 3, 3))},
    ]


def numerical_gradient_scale() -> list[Case]:
    """A layer's weights as the book's networks pass them: W (10, 10), 100 entries (200 calls of f), and a
    conv layer's 4-D W (4, 3, 3, 3) of 108 entries."""
    rng = np.random.default_rng(2323)

    def away_from_kinks(shape: tuple[int, ...]) -> np.ndarray:
        return rng.uniform(0.4, 1.2, shape) * rng.choice(np.array([-1.0, 1.0]), shape)

    return [{"f": "wavy", "x": away_from_kinks((10, 10))}, {"f": "quadratic", "x": away_from_kinks((4, 3, 3, 3))}]


def numerical_gradient_program(case: Case) -> Program:
    """``gradient.numerical_gradient(f, x)`` with a staged smooth ``f``; x is fetched back afterwards."""
    return Program(
        steps=(call("grad", "gradient", "numerical_gradient", Func("nngrade_support", case["f"]), Input("x")),),
        outputs={"grad": Result("grad"), "x_after": Input("x")},
    )


def numerical_gradient_expected(case: Case) -> dict[str, Any]:
    """The exact gradient (central differences agree with it to ~1e-9), and x unchanged."""
    return {"grad": SUPPORT_FUNCTIONS[case["f"]][1](case["x"]), "x_after": case["x"]}


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
    bad = [r for r in runs if failed_on(r, ("grad",))]
    return bool(bad) and all(_one_sided_step(r) is not None for r in bad)


def _x_not_restored(runs: Sequence[CaseRun]) -> bool:
    return any(failed_on(r, ("x_restored",)) for r in runs)


NUMERICAL_ONE_SIDED = Diagnosis(
    "one-sided difference",
    "The gradient matches a one-sided difference (f(x + h) - f(x)) / h: use the central difference "
    "(f(x + h) - f(x - h)) / (2 * h), whose error is O(h^2) instead of O(h).",
    _one_sided,
)
NUMERICAL_NOT_RESTORED = Diagnosis(
    "x not restored",
    "x is left changed after numerical_gradient: put each element back (x[idx] = tmp_val) after its two "
    "evaluations; in a network x is a weight matrix, and the perturbation would stay in the model.",
    _x_not_restored,
)
NUMERICAL_LOW_RANK_ONLY = Diagnosis(
    "only 1-D / 2-D x",
    "It fails only for x with more than 2 axes (a conv layer's 4-D weights): iterate over every index of any "
    "shape, e.g. with np.nditer(x, flags=['multi_index']) or np.ndindex(x.shape).",
    fails_only_when(lambda case: np.ndim(case["x"]) > 2),
)


def _x_restored_rule(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
    verdict = compare_arrays("x after the call", actual.get("x_after"), case["x"], check.atol, check.rtol)
    if verdict.passed:
        return verdict
    return Verdict(False, f"numerical_gradient changed x: {verdict.message}")


def numerical_gradient_spec() -> Spec:
    def f_of(case: Case) -> float:
        return SUPPORT_FUNCTIONS[case["f"]][0](case["x"])

    return Spec(
        name="numerical_gradient",
        module="gradient",
        api="function",
        cases=numerical_gradient_cases,
        fixed_cases=numerical_gradient_fixed,
        scale_cases=numerical_gradient_scale,
        program=numerical_gradient_program,
        expected=numerical_gradient_expected,
        checks=(
            Check(
                "grad",
                atol=1e-6,
                rtol=1e-6,
                points=3.0,
                description="df/dx for x of any shape: central differences (h = 1e-4) pass, one-sided do not",
            ),
            Check(
                "x_restored",
                atol=1e-12,
                rtol=1e-12,
                compare=_x_restored_rule,
                description="x holds its original values afterwards",
            ),
        ),
        gradients=(GradientCheck("grad", "x", f_of),),
        diagnoses=(NUMERICAL_ONE_SIDED, NUMERICAL_NOT_RESTORED, NUMERICAL_LOW_RANK_ONLY),
        convention="book: numerical_gradient(f, x), central difference h = 1e-4, perturbs x in place and restores it",
        read_only=("x",),
        extra={
            "verified_by": "exact gradients of the staged support functions (finite differences check them), "
            "and the reference numerical_gradient passing this spec (tests/graders/test_dlfs_specs.py)"
        },
    )
