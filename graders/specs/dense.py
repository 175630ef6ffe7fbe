"""Specs of cs231n's affine and ReLU layers (the pattern other topic modules follow).

Each factory returns a Spec. Forward and backward are separate gradable functions: the backward's program runs
the student's own forward first (a setup step: when it raises, the case says nothing about the backward) and
hands its cache to the student's backward. Where the hand-out's starter code fixes the cache (affine
``(x, w, b)``, ReLU ``x``, conv ``(x, w, b, conv_param)``, max-pool ``(x, pool_param)``), the spec also has a
``handout_program`` calling the backward with that cache built from the case, so a wrong or raising forward
costs the backward nothing (see graders/backward.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import (
    Case,
    CaseRun,
    Check,
    Diagnosis,
    GradientCheck,
    Robustness,
    Spec,
)
from graders.specs.program import Expr, Input, Item, Pack, Program, Result, as_setup, call
from reference import cs231n as R


# ---------------------------------------------------------------- cases
@st.composite
def affine_cases(draw: st.DrawFn) -> Case:
    n = draw(S.dims(1, 4))
    feature_shape = draw(S.FEATURE_SHAPES)
    d = int(np.prod(feature_shape))
    m = draw(S.dims(1, 5))
    return {
        "x": draw(S.seeded_arrays((n, *feature_shape))),
        "w": draw(S.seeded_arrays((d, m))),
        "b": draw(S.seeded_arrays((m,))),
        "dout": draw(S.seeded_arrays((n, m))),
    }


def affine_fixed() -> list[Case]:
    """The notebook's shapes: 2 inputs of shape (4, 5, 6) to 3 outputs, and x (10, 2, 3) to 5 outputs (seed 231)."""
    rng = np.random.RandomState(231)
    small = {
        "x": np.linspace(-0.1, 0.5, num=2 * 120).reshape(2, 4, 5, 6),
        "w": np.linspace(-0.2, 0.3, num=120 * 3).reshape(120, 3),
        "b": np.linspace(-0.3, 0.1, num=3),
        "dout": rng.randn(2, 3),
    }
    notebook = {"x": rng.randn(10, 2, 3), "w": rng.randn(6, 5), "b": rng.randn(5), "dout": rng.randn(10, 5)}
    return [small, notebook]


@st.composite
def relu_cases(draw: st.DrawFn) -> Case:
    shape = draw(S.shapes_with(draw(st.integers(1, 4)), 1, 5))
    return {"x": draw(S.kink_free_arrays(shape)), "dout": draw(S.seeded_arrays(shape))}


def relu_fixed() -> list[Case]:
    rng = np.random.RandomState(231)
    return [{"x": rng.randn(10, 10), "dout": rng.randn(10, 10)}]


def affine_scale() -> list[Case]:
    """A CIFAR-10 batch into a hidden layer: x (64, 3, 32, 32) to 100 units (D = 3072)."""
    rng = np.random.default_rng(2312)
    return [{
        "x": rng.standard_normal((64, 3, 32, 32)),
        "w": rng.standard_normal((3 * 32 * 32, 100)) * 1e-2,
        "b": rng.standard_normal(100),
        "dout": rng.standard_normal((64, 100)),
    }]


def relu_scale() -> list[Case]:
    """A hidden layer's activations: (64, 100), every |x| clear of the kink at 0 (as the property cases)."""
    rng = np.random.default_rng(2313)
    x = rng.standard_normal((64, 100))
    x = np.where(np.abs(x) < 1e-3, np.copysign(2e-3, x), x)
    return [{"x": x, "dout": rng.standard_normal((64, 100))}]


# ---------------------------------------------------------------- reference and torch
def affine_expected(case: Case) -> dict[str, Any]:
    out, cache = R.affine_forward(case["x"], case["w"], case["b"])
    dx, dw, db = R.affine_backward(case["dout"], cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def affine_torch(case: Case) -> dict[str, Any]:
    import torch

    x, w, b = (torch.tensor(case[k], requires_grad=True) for k in ("x", "w", "b"))
    out = torch.nn.functional.linear(x.reshape(x.shape[0], -1), w.T, b)
    out.backward(torch.tensor(case["dout"]))
    assert x.grad is not None and w.grad is not None and b.grad is not None
    return {"out": out.detach().numpy(), "dx": x.grad.numpy(), "dw": w.grad.numpy(), "db": b.grad.numpy()}


def relu_expected(case: Case) -> dict[str, Any]:
    out, cache = R.relu_forward(case["x"])
    return {"out": out, "dx": R.relu_backward(case["dout"], cache)}


def relu_torch(case: Case) -> dict[str, Any]:
    import torch

    x = torch.tensor(case["x"], requires_grad=True)
    out = torch.relu(x)
    out.backward(torch.tensor(case["dout"]))
    assert x.grad is not None
    return {"out": out.detach().numpy(), "dx": x.grad.numpy()}


def weighted_sum(forward: Callable[..., Any], *names: str) -> Callable[[Case], float]:
    """sum(forward(*inputs)[0] * dout): the scalar whose gradient a backward computes."""

    def scalar(case: Case) -> float:
        out = forward(*(case[n] for n in names))[0]
        return float(np.sum(out * case["dout"]))

    return scalar


# ---------------------------------------------------------------- programs
def forward_program(module: str, forward: str, *args: str) -> Callable[[Case], Program]:
    """Run ``module.forward(*args)`` and fetch ``out`` (the first element of the returned pair)."""

    def program(case: Case) -> Program:
        return Program(
            steps=(call("fwd", module, forward, *(Input(a) for a in args)),),
            outputs={"out": Item(Result("fwd"), 0)},
        )

    return program


def backward_program(
    module: str, forward: str, backward: str, args: tuple[str, ...], grads: tuple[str, ...]
) -> Callable[[Case], Program]:
    """Run the student's forward (a setup step), then their backward on ``dout`` and their own cache; fetch
    each gradient."""

    def program(case: Case) -> Program:
        steps = (
            as_setup(call("fwd", module, forward, *(Input(a) for a in args))),
            call("bwd", module, backward, Input("dout"), Item(Result("fwd"), 1)),
        )
        return Program(steps=steps, outputs=gradient_outputs(grads))

    return program


def gradient_outputs(grads: tuple[str, ...]) -> dict[str, Expr]:
    """The names of a backward's result: the result itself for one gradient, else its items in order."""
    if len(grads) == 1:
        return {grads[0]: Result("bwd")}
    return {g: Item(Result("bwd"), i) for i, g in enumerate(grads)}


def handout_backward(
    module: str, backward: str, cache: Callable[[], Expr], grads: tuple[str, ...]
) -> Callable[[Case], tuple[Program, Case]]:
    """A ``Spec.handout_program``: the student's backward on ``dout`` and the cache the hand-out's forward
    builds (``cache()``, e.g. ``Pack((x, w, b))``), with no forward call at all. Why: the cs231n starter code
    fixes that cache, so a backward given it is judged on what it computes, whatever the student's forward
    does (wrong values, or an exception)."""

    def program(case: Case) -> tuple[Program, Case]:
        steps = (call("bwd", module, backward, Input("dout"), cache()),)
        return Program(steps=steps, outputs=gradient_outputs(grads)), case

    return program


def packed(*names: str) -> Callable[[], Expr]:
    """A hand-out cache that is the tuple of these case inputs, in order: ``(x, w, b)``."""
    return lambda: Pack(tuple(Input(n) for n in names))


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


# ---------------------------------------------------------------- diagnoses
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
)


# ---------------------------------------------------------------- specs
def affine_forward() -> Spec:
    return Spec(
        name="affine_forward",
        module="layers",
        api="function",
        cases=affine_cases,
        fixed_cases=affine_fixed,
        scale_cases=affine_scale,
        program=forward_program("layers", "affine_forward", "x", "w", "b"),
        expected=affine_expected,
        torch_expected=affine_torch,
        checks=(Check("out", atol=1e-9, rtol=1e-7, description="forward output x.reshape(N, -1) @ w + b"),),
        diagnoses=(AFFINE_BIAS_MISSING,),
        read_only=("x", "w", "b"),
        dtype_preserving=True,
    )


def affine_backward() -> Spec:
    scalar = weighted_sum(R.affine_forward, "x", "w", "b")
    grads = ("dx", "dw", "db")
    return Spec(
        name="affine_backward",
        module="layers",
        api="function",
        cases=affine_cases,
        fixed_cases=affine_fixed,
        scale_cases=affine_scale,
        program=backward_program("layers", "affine_forward", "affine_backward", ("x", "w", "b"), grads),
        handout_program=handout_backward("layers", "affine_backward", packed("x", "w", "b"), grads),
        expected=affine_expected,
        torch_expected=affine_torch,
        checks=(
            Check("dx", atol=1e-9, rtol=1e-7, description="gradient wrt x, in x's original shape"),
            Check("dw", atol=1e-9, rtol=1e-7),
            Check("db", atol=1e-9, rtol=1e-7),
        ),
        gradients=tuple(GradientCheck(g, v, scalar) for g, v in (("dx", "x"), ("dw", "w"), ("db", "b"))),
        depends_on=("affine_forward",),
        read_only=("x", "w", "b", "dout"),
    )


RELU_REMEDY = (
    "Here the cache is x itself: once x is clipped, a relu_backward that masks with x < 0 lets every gradient "
    "through. Copy before writing (out = x.copy()) or compute a new array (np.maximum(x, 0))."
)


def relu_forward() -> Spec:
    return Spec(
        name="relu_forward",
        module="layers",
        api="function",
        cases=relu_cases,
        fixed_cases=relu_fixed,
        scale_cases=relu_scale,
        program=forward_program("layers", "relu_forward", "x"),
        expected=relu_expected,
        torch_expected=relu_torch,
        checks=(Check("out", atol=0.0, rtol=0.0, description="max(0, x)"),),
        # `out = x; out[out < 0] = 0` has the right values but clips the caller's x (and the cache holding it):
        # a small robustness check of its own, not a failed forward
        robustness=(inputs_unchanged("relu_forward", "x", RELU_REMEDY),),
        read_only=("x",),
        dtype_preserving=True,
    )


def relu_backward() -> Spec:
    return Spec(
        name="relu_backward",
        module="layers",
        api="function",
        cases=relu_cases,
        fixed_cases=relu_fixed,
        scale_cases=relu_scale,
        program=backward_program("layers", "relu_forward", "relu_backward", ("x",), ("dx",)),
        handout_program=handout_backward("layers", "relu_backward", lambda: Input("x"), ("dx",)),
        expected=relu_expected,
        torch_expected=relu_torch,
        checks=(Check("dx", atol=0.0, rtol=0.0, description="dout where x > 0, else 0"),),
        gradients=(GradientCheck("dx", "x", weighted_sum(R.relu_forward, "x")),),
        depends_on=("relu_forward",),
        # correct code may zero dout in place (dout[x < 0] = 0 and return it): a warning, never points
        read_only=("x", "dout"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "affine_forward": affine_forward,
    "affine_backward": affine_backward,
    "relu_forward": relu_forward,
    "relu_backward": relu_backward,
}
