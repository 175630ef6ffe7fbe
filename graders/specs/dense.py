"""Specs of cs231n's affine and ReLU layers.

Forward and backward are separate gradable functions, built by kit/layer_specs.py: the backward runs the
student's own forward first, and also has a ``handout_program`` calling it with the cache the hand-out fixes
(affine ``(x, w, b)``, ReLU ``x``), so a wrong or raising forward costs the backward nothing. Declarations
first, then cases, diagnoses and the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, ErrorCase, GradientCheck, NamedCase, Reach, Spec
from graders.specs.kit.gradients import weighted_sum
from graders.specs.kit.layer_specs import LayerInputs, backward_spec, forward_spec
from graders.specs.kit.programs import packed
from graders.specs.kit.rules import inputs_unchanged
from graders.specs.kit.tolerances import EXACT, PRODUCT_SUMS
from graders.specs.kit.torch import grads_of, torch_autograd
from graders.specs.program import Input
from reference import cs231n as R


def affine_forward() -> Spec:
    """cs231n's affine_forward(x, w, b) -> (out, cache): x reshaped to (N, D) rows, times w, plus b."""
    return forward_spec(layer=AFFINE, name="affine_forward", module="layers", expected=affine_expected,
                        check=Check("out", tol=PRODUCT_SUMS, description="forward output x.reshape(N, -1) @ w + b"),
                        diagnoses=(AFFINE_BIAS_MISSING,), errors=affine_errors())


def affine_backward() -> Spec:
    """cs231n's affine_backward(dout, cache) -> (dx, dw, db), dx in x's original shape."""
    scalar = weighted_sum(R.affine_forward, *AFFINE.args)
    return backward_spec(
        layer=AFFINE, name="affine_backward", module="layers", forward_name="affine_forward",
        expected=affine_expected,
        checks=(
            Check("dx", tol=PRODUCT_SUMS, description="gradient wrt x, in x's original shape"),
            Check("dw", tol=PRODUCT_SUMS),
            Check("db", tol=PRODUCT_SUMS),
        ),
        gradients=tuple(GradientCheck(g, v, scalar) for g, v in (("dx", "x"), ("dw", "w"), ("db", "b"))),
        handout_cache=packed(*AFFINE.args),
    )


def relu_forward() -> Spec:
    """cs231n's relu_forward(x) -> (out, cache) with out = max(0, x)."""
    return forward_spec(
        layer=RELU, name="relu_forward", module="layers", expected=relu_expected,
        check=Check("out", tol=EXACT, description="max(0, x)"),
        # `out = x; out[out < 0] = 0` has the right values but clips the caller's x (and the cache holding it):
        # a small robustness check of its own, not a failed forward
        robustness=(inputs_unchanged("relu_forward", "x", RELU_REMEDY),),
    )


def relu_backward() -> Spec:
    """cs231n's relu_backward(dout, cache) -> dx. Correct code may zero dout in place (dout[x < 0] = 0 and
    return it): dout is read-only, so that is a warning, never points."""
    return backward_spec(
        layer=RELU, name="relu_backward", module="layers", forward_name="relu_forward", expected=relu_expected,
        checks=(Check("dx", tol=EXACT, description="dout where x > 0, else 0"),),
        gradients=(GradientCheck("dx", "x", weighted_sum(R.relu_forward, "x")),),
        handout_cache=lambda: Input("x"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "affine_forward": affine_forward,
    "affine_backward": affine_backward,
    "relu_forward": relu_forward,
    "relu_backward": relu_backward,
}


# ---------------------------------------------------------------- affine
@st.composite
def affine_cases(draw: st.DrawFn) -> Case:
    """1 to 4 examples of 1 to 3 feature axes (1 to 4 each) onto 1 to 5 outputs."""
    n = draw(S.dims(1, 4))
    feature_shape = draw(S.FEATURE_SHAPES)
    d = int(np.prod(feature_shape))
    m = draw(S.dims(1, 5))
    return {
        "x": draw(S.seeded_arrays((n, *feature_shape), name="x")),
        "w": draw(S.seeded_arrays((d, m), name="w")),
        "b": draw(S.seeded_arrays((m,), name="b")),
        "dout": draw(S.seeded_arrays((n, m), name="dout")),
    }


def affine_notebook() -> list[NamedCase]:
    """The notebook's two checks, with its own inputs."""
    rng = np.random.RandomState(231)
    forward = {
        "x": np.linspace(-0.1, 0.5, num=2 * 120).reshape(2, 4, 5, 6),
        "w": np.linspace(-0.2, 0.3, num=120 * 3).reshape(120, 3),
        "b": np.linspace(-0.3, 0.1, num=3),
        "dout": rng.randn(2, 3),
    }
    backward = {"x": rng.randn(10, 2, 3), "w": rng.randn(6, 5), "b": rng.randn(5), "dout": rng.randn(10, 5)}
    return [
        NamedCase("notebook: affine_forward x (2, 4, 5, 6) to 3 outputs, linspace", forward),
        NamedCase("notebook: affine_backward x (10, 2, 3) to 5 outputs, seed 231", backward),
    ]


def affine_scale() -> list[Case]:
    """A CIFAR-10 batch into a hidden layer: x (64, 3, 32, 32) to 100 units (D = 3072)."""
    return [{
        "x": S.standard_normal(2312, (64, 3, 32, 32), name="x"),
        "w": S.standard_normal(2312, (3 * 32 * 32, 100), 1e-2, name="w"),
        "b": S.standard_normal(2312, (100,), name="b"),
        "dout": S.standard_normal(2312, (64, 100), name="dout"),
    }]


def affine_domain(case: Case) -> bool:
    """w has one row per feature of an example (the product of x's axes after the first), b one entry per
    output, dout one row per example."""
    x, w = case["x"], case["w"]
    return (w.shape == (int(np.prod(x.shape[1:])), w.shape[1]) and case["b"].shape == (w.shape[1],)
            and case["dout"].shape == (x.shape[0], w.shape[1]))


def affine_errors() -> tuple[ErrorCase, ...]:
    """Shapes the reference rejects, each with a ValueError naming them."""
    return (
        ErrorCase("w rows do not match the features of x",
                  {"x": np.ones((2, 3, 4)), "w": np.ones((10, 5)), "b": np.ones(5), "dout": np.ones((2, 5))},
                  ValueError, r"w has 10 rows but each example of x has 12 features"),
        ErrorCase("b is a row, not a vector",
                  {"x": np.ones((2, 3)), "w": np.ones((3, 5)), "b": np.ones((1, 5)), "dout": np.ones((2, 5))},
                  ValueError, r"b must have shape \(5,\).*got shape \(1, 5\)"),
    )


def _feature_axes(k: int) -> Callable[[Case], bool]:
    return lambda case: case["x"].ndim == k + 1


def affine_expected(case: Case) -> dict[str, Any]:
    out, cache = R.affine_forward(case["x"], case["w"], case["b"])
    dx, dw, db = R.affine_backward(case["dout"], cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def affine_torch(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    return torch_autograd(case, grads_of("x", "w", "b"), lambda x, w, b: F.linear(x.reshape(x.shape[0], -1), w.T, b))


AFFINE = LayerInputs(
    args=("x", "w", "b"),
    cases=affine_cases,
    notebook=affine_notebook,
    scale=affine_scale,
    domain=affine_domain,
    reaches=tuple(Reach(f"x with {k} feature axes", _feature_axes(k)) for k in (1, 2, 3)),
    torch_expected=affine_torch,
)


def _without_bias(run: CaseRun) -> bool:
    """The run's out is x.reshape(N, -1) @ w: right but for the bias (and the bias is not ~0 here)."""
    got = run.actual.get("out")
    b = np.asarray(run.case["b"])
    if run.error is not None or not isinstance(got, np.ndarray) or float(np.max(np.abs(b), initial=0.0)) < 1e-6:
        return False
    x = np.asarray(run.case["x"])
    want = x.reshape(x.shape[0], -1) @ np.asarray(run.case["w"])
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-7, atol=1e-9))


def _bias_missing(runs: Sequence[CaseRun]) -> bool:
    bad = [r for r in runs if r.failed]
    return bool(bad) and all(_without_bias(r) for r in bad)


AFFINE_BIAS_MISSING = Diagnosis(
    "missing_bias",
    "The bias is missing: out equals x.reshape(N, -1) @ w exactly; add + b (broadcast over the rows).",
    _bias_missing,
    reads=("out",),
    bug=lambda case: {"out": case["x"].reshape(case["x"].shape[0], -1) @ case["w"]},
)


# ---------------------------------------------------------------- ReLU
#: Smallest |x| of every ReLU case: finite differences (h = 1e-5) never straddle the kink at 0.
KINK_MARGIN = 1e-3


@st.composite
def relu_cases(draw: st.DrawFn) -> Case:
    """x of 1 to 4 axes (1 to 5 each), every |x| >= KINK_MARGIN; dout of x's shape."""
    shape = draw(S.shapes_with(draw(st.integers(1, 4)), 1, 5))
    return {"x": draw(S.kink_free_arrays(shape, KINK_MARGIN)), "dout": draw(S.seeded_arrays(shape, name="dout"))}


def relu_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(231)
    case = {"x": rng.randn(10, 10), "dout": rng.randn(10, 10)}
    return [NamedCase("notebook: relu_backward x (10, 10), seed 231", case)]


def relu_scale() -> list[Case]:
    """A hidden layer's activations: (64, 100), every |x| clear of the kink at 0 (as the property cases)."""
    x = np.random.default_rng(2313).standard_normal((64, 100))
    x = np.where(np.abs(x) < KINK_MARGIN, np.copysign(2 * KINK_MARGIN, x), x)
    return [{"x": x, "dout": S.standard_normal(2313, (64, 100), name="dout")}]


def relu_domain(case: Case) -> bool:
    """Kink-free: every |x| >= KINK_MARGIN; dout of x's shape."""
    return bool(np.min(np.abs(case["x"]), initial=np.inf) >= KINK_MARGIN) and case["dout"].shape == case["x"].shape


def relu_expected(case: Case) -> dict[str, Any]:
    out, cache = R.relu_forward(case["x"])
    return {"out": out, "dx": R.relu_backward(case["dout"], cache)}


def relu_torch(case: Case) -> dict[str, Any]:
    import torch

    return torch_autograd(case, grads_of("x"), torch.relu)


RELU = LayerInputs(
    args=("x",),
    cases=relu_cases,
    notebook=relu_notebook,
    scale=relu_scale,
    domain=relu_domain,
    reaches=(
        Reach("1-D x", lambda case: case["x"].ndim == 1),
        Reach("4-D x", lambda case: case["x"].ndim == 4),
        Reach("x of both signs", lambda case: bool((case["x"] > 0).any() and (case["x"] < 0).any())),
    ),
    torch_expected=relu_torch,
)
RELU_REMEDY = (
    "Here the cache is x itself: once x is clipped, a relu_backward that masks with x < 0 lets every gradient "
    "through. Copy before writing (out = x.copy()) or compute a new array (np.maximum(x, 0))."
)
