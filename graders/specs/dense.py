"""Specs of cs231n's affine and ReLU layers (the pattern other topic modules follow).

Each factory returns a Spec. Forward and backward are separate gradable functions: the backward's program runs
the student's own forward first and hands its cache to the student's backward.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.checks import compare_arrays
from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, CompareFn, Diagnosis, GradientCheck, Spec, Verdict
from graders.specs.program import Expr, Input, Item, Program, Result, call
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
    """Run the student's forward, then their backward on ``dout`` and their own cache; fetch each gradient."""

    def program(case: Case) -> Program:
        steps = (
            call("fwd", module, forward, *(Input(a) for a in args)),
            call("bwd", module, backward, Input("dout"), Item(Result("fwd"), 1)),
        )
        outputs: dict[str, Expr]
        if len(grads) == 1:
            outputs = {grads[0]: Result("bwd")}
        else:
            outputs = {g: Item(Result("bwd"), i) for i, g in enumerate(grads)}
        return Program(steps=steps, outputs=outputs)

    return program


def with_inputs_after(program: Callable[[Case], Program], *names: str) -> Callable[[Case], Program]:
    """``program`` that also fetches the inputs ``names`` after every step ran, as ``<name>_after``.

    Why: the worker hands every step the same input objects, so what comes back is what the caller holds
    after the call. A forward that writes into its input (``out = x; out[out < 0] = 0``) changes the caller's
    array and, when the cache keeps ``x``, what the backward pass sees.
    """

    def fetching(case: Case) -> Program:
        inner = program(case)
        outputs = dict(inner.outputs)
        outputs.update({f"{name}_after": Input(name) for name in names})
        return Program(steps=inner.steps, outputs=outputs)

    return fetching


def modified_inputs(case: Case, actual: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """The inputs among ``names`` whose ``<name>_after`` output differs from the case's value."""
    changed = []
    for name in names:
        after = actual.get(f"{name}_after")
        if not isinstance(after, np.ndarray):
            continue
        if after.shape != case[name].shape or not np.array_equal(after, case[name]):
            changed.append(name)
    return changed


def output_and_intact_inputs(function: str, *names: str) -> CompareFn:
    """Allclose on the check's output, and the inputs ``names`` left as they were (``with_inputs_after``)."""

    def rule(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        output = check.output_names[0]
        verdict = compare_arrays(output, actual.get(output), expected[output], check.atol, check.rtol)
        if not verdict.passed:
            return verdict
        changed = modified_inputs(case, actual, names)
        if changed:
            return Verdict(
                False,
                f"{output} is right, but {function} changed its input {', '.join(changed)} in place: the "
                "caller's array (and a cache holding it) no longer holds the input",
            )
        return Verdict(True)

    return rule


def input_modified_diagnosis(function: str, name: str, remedy: str) -> Diagnosis:
    def applies(runs: Sequence[CaseRun]) -> bool:
        return any(r.error is None and modified_inputs(r.case, r.actual, (name,)) for r in runs)

    return Diagnosis(
        f"{name} modified in place",
        f"{function} writes into its input {name}: the caller's array changes, and so does anything that "
        f"kept a reference to it (such as a cache for the backward pass). {remedy}",
        applies,
    )


# ---------------------------------------------------------------- specs
def affine_forward() -> Spec:
    return Spec(
        name="affine_forward",
        module="layers",
        api="function",
        cases=affine_cases,
        fixed_cases=affine_fixed,
        program=forward_program("layers", "affine_forward", "x", "w", "b"),
        expected=affine_expected,
        torch_expected=affine_torch,
        checks=(Check("out", atol=1e-9, rtol=1e-7, description="forward output x.reshape(N, -1) @ w + b"),),
        read_only=("x", "w", "b"),
        dtype_preserving=True,
    )


def affine_backward() -> Spec:
    scalar = weighted_sum(R.affine_forward, "x", "w", "b")
    return Spec(
        name="affine_backward",
        module="layers",
        api="function",
        cases=affine_cases,
        fixed_cases=affine_fixed,
        program=backward_program(
            "layers", "affine_forward", "affine_backward", ("x", "w", "b"), ("dx", "dw", "db")
        ),
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


def relu_forward() -> Spec:
    return Spec(
        name="relu_forward",
        module="layers",
        api="function",
        cases=relu_cases,
        fixed_cases=relu_fixed,
        program=with_inputs_after(forward_program("layers", "relu_forward", "x"), "x"),
        expected=relu_expected,
        torch_expected=relu_torch,
        checks=(
            Check(
                "out",
                atol=0.0,
                rtol=0.0,
                compare=output_and_intact_inputs("relu_forward", "x"),
                description="max(0, x), leaving x as it was",
            ),
        ),
        diagnoses=(
            input_modified_diagnosis(
                "relu_forward",
                "x",
                "Copy before writing (out = x.copy()) or compute a new array (np.maximum(x, 0)).",
            ),
        ),
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
        program=backward_program("layers", "relu_forward", "relu_backward", ("x",), ("dx",)),
        expected=relu_expected,
        torch_expected=relu_torch,
        checks=(Check("dx", atol=0.0, rtol=0.0, description="dout where x > 0, else 0"),),
        gradients=(GradientCheck("dx", "x", weighted_sum(R.relu_forward, "x")),),
        depends_on=("relu_forward",),
        read_only=("x", "dout"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "affine_forward": affine_forward,
    "affine_backward": affine_backward,
    "relu_forward": relu_forward,
    "relu_backward": relu_backward,
}
