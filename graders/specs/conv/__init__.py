"""Specs of the convolution layers: cs231n's conv_forward/backward (naive and fast) and two reference-only
functions (dilated 2-D and 1-D convolution) that no assignment grades yet.

Declarations first; their inputs (notebook, property and scale cases, domain, reach, errors) are in
``cases``, the diagnoses and their bug models in ``bugs``, the torch twin in ``torch``. The forward/backward
pair is built by kit/layer_specs.py (shared with the pool and dense layers); the window geometry, shared with
the pool and book specs, is kit/windows.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graders.specs.base import Case, Check, ErrorCase, GradientCheck, Spec
from graders.specs.conv.bugs import conv_diagnoses
from graders.specs.conv.cases import (
    CONV_REACHES,
    EXTRAS_REACHES,
    conv1d_errors,
    conv2d_dilated_errors,
    conv_domain,
    conv_notebook,
    conv_param_errors,
    conv_scale,
    describe_conv,
    dout_errors,
    extras_cases,
    extras_notebook,
    extras_scale,
)
from graders.specs.conv.torch import torch_conv
from graders.specs.kit.gradients import weighted
from graders.specs.kit.layer_specs import LayerInputs, backward_spec, forward_spec
from graders.specs.kit.programs import packed
from graders.specs.kit.tolerances import CONV_SUMS
from graders.specs.kit.windows import CONV_ARGS, conv_cases, conv_dout_shape, conv_expected, dout_fits
from graders.specs.program import Expr, Input, Item, Program, Result, call
from reference.cs231n import conv as R
from reference.functional import conv as F


def conv_forward_naive() -> Spec:
    """cs231n's conv_forward_naive(x, w, b, conv_param) -> (out, cache); the reference loops over outputs."""
    return forward_spec(layer=LAYER, name="conv_forward_naive", module="layers",
                        expected=conv_expected(R.conv_forward_naive, R.conv_backward_naive), check=OUT,
                        diagnoses=conv_diagnoses(backward=False), errors=conv_param_errors())


def conv_backward_naive() -> Spec:
    """cs231n's conv_backward_naive(dout, cache) -> (dx, dw, db), after the student's own forward, or with
    the hand-out's cache (x, w, b, conv_param) where that fails."""
    return backward_spec(layer=LAYER, name="conv_backward_naive", module="layers", forward_name="conv_forward_naive",
                         expected=conv_expected(R.conv_forward_naive, R.conv_backward_naive), checks=GRADIENTS,
                         gradients=gradient_checks(), diagnoses=conv_diagnoses(backward=True),
                         errors=dout_errors(cs231n=True), handout_cache=packed(*CONV_ARGS))


def conv_forward_fast() -> Spec:
    """fast_layers' conv_forward_fast: the same function as the naive one (the reference uses im2col)."""
    return forward_spec(layer=LAYER, name="conv_forward_fast", module="fast_layers",
                        expected=conv_expected(R.conv_forward_fast, R.conv_backward_fast), check=OUT,
                        diagnoses=conv_diagnoses(backward=False), errors=conv_param_errors(),
                        same_as="conv_forward_naive")


def conv_backward_fast() -> Spec:
    """fast_layers' conv_backward_fast; no hand-out cache (fast_layers' cache also holds x_cols, which the
    student's forward computes)."""
    return backward_spec(layer=LAYER, name="conv_backward_fast", module="fast_layers",
                         forward_name="conv_forward_fast",
                         expected=conv_expected(R.conv_forward_fast, R.conv_backward_fast), checks=GRADIENTS,
                         gradients=gradient_checks(), diagnoses=conv_diagnoses(backward=True),
                         errors=dout_errors(cs231n=True), same_as="conv_backward_naive")


def conv2d_dilated() -> Spec:
    """Reference-only: conv2d(x, w, b, stride, pad, dilation) and conv2d_grads(dout, x, w, stride, pad,
    dilation), checked against torch.nn.functional.conv2d(dilation=...)."""
    return extra_spec(name="conv2d_dilated", spatial_dims=2, forward="conv2d", gradients="conv2d_grads",
                      description="dilated cross-correlation (N, F, H', W')", errors=conv2d_dilated_errors())


def conv1d() -> Spec:
    """Reference-only: conv1d(x (N, C, L), w (F, C, K), b, stride, pad, dilation) and its gradients, checked
    against torch.nn.functional.conv1d."""
    return extra_spec(name="conv1d", spatial_dims=1, forward="conv1d", gradients="conv1d_grads",
                      description="1-D cross-correlation (N, F, L')", errors=conv1d_errors())


FACTORIES: dict[str, Callable[..., Spec]] = {
    "conv_forward_naive": conv_forward_naive,
    "conv_backward_naive": conv_backward_naive,
    "conv_forward_fast": conv_forward_fast,
    "conv_backward_fast": conv_backward_fast,
    "conv2d_dilated": conv2d_dilated,
    "conv1d": conv1d,
}


# ---------------------------------------------------------------- what the declarations share
CONVENTION = (
    "cross-correlation, w (F, C, HH, WW), zero padding; cases keep (H + 2 pad - HH) % stride == 0 and "
    "(W + 2 pad - WW) % stride == 0 (the hand-out lets students assume integer output sizes)"
)
LAYER = LayerInputs(
    args=CONV_ARGS,
    cases=conv_cases,
    notebook=conv_notebook,
    scale=conv_scale,
    domain=conv_domain,
    reaches=CONV_REACHES,
    torch_expected=torch_conv,
    describe=describe_conv,
    convention=CONVENTION,
)
OUT = Check("out", tol=CONV_SUMS, description="out (N, F, H', W'), H' = 1 + (H + 2 pad - HH) // stride")
GRADIENTS = (
    Check("dx", tol=CONV_SUMS, description="gradient wrt x (N, C, H, W)"),
    Check("dw", tol=CONV_SUMS, description="gradient wrt w (F, C, HH, WW), summed over the batch"),
    Check("db", tol=CONV_SUMS, description="gradient wrt b (F,): dout summed over N, H', W'"),
)


def gradient_checks() -> tuple[GradientCheck, ...]:
    """dx, dw and db against finite differences of sum(conv(x, w, b) * dout) (the fast reference)."""
    return tuple(GradientCheck(c.name, c.name[1:], conv_scalar) for c in GRADIENTS)


def conv_out(case: Case) -> np.ndarray:
    """conv(x, w, b) by the fast reference (finite differences evaluate it twice per input element)."""
    if "conv_param" in case:
        return np.asarray(R.conv_forward_fast(*(case[a] for a in CONV_ARGS))[0])
    conv = F.conv2d if case["x"].ndim == 4 else F.conv1d
    return conv(case["x"], case["w"], case["b"], case["stride"], case["pad"], case["dilation"])


#: sum(conv(x, w, b) * dout), the scalar whose gradient the backward computes.
conv_scalar = weighted(conv_out)


# ---------------------------------------------------------------- the extras
def extra_spec(*, name: str, spatial_dims: int, forward: str, gradients: str, description: str,
               errors: tuple[ErrorCase, ...]) -> Spec:
    """``extras.<forward>`` and ``extras.<gradients>`` as one spec: out and every gradient, floor semantics."""
    layout = "(N, C, H, W)" if spatial_dims == 2 else "(N, C, L)"
    return Spec(
        name=name,
        module="extras",
        api="function",
        convention="cross-correlation, zero padding, dilation; floor semantics on sizes that do not divide",
        domain=dout_fits(conv_dout_shape),
        cases=extras_cases(spatial_dims),
        reaches=EXTRAS_REACHES,
        notebook=extras_notebook(spatial_dims),
        scale=extras_scale(spatial_dims),
        errors=errors,
        describe=describe_conv,
        expected=extras_expected(spatial_dims),
        torch_expected=torch_conv,
        gradients=gradient_checks(),
        program=extras_program(forward, gradients),
        checks=(
            Check("out", tol=CONV_SUMS, description=description),
            Check("dx", tol=CONV_SUMS, description=f"gradient wrt x {layout}"),
            Check("dw", tol=CONV_SUMS),
            Check("db", tol=CONV_SUMS),
        ),
        read_only=("x", "w", "b", "dout"),
        dtype_preserving=True,
    )


def extras_expected(spatial_dims: int) -> Callable[[Case], dict[str, Any]]:
    """The reference's out and gradients (a 2-D spec calls the 2-D functions whatever the case's shapes, so a
    case of the wrong rank is rejected by the function the spec is about)."""
    conv, grads = (F.conv2d, F.conv2d_grads) if spatial_dims == 2 else (F.conv1d, F.conv1d_grads)

    def expected(case: Case) -> dict[str, Any]:
        geometry = (case["stride"], case["pad"], case["dilation"])
        out = conv(case["x"], case["w"], case["b"], *geometry)
        dx, dw, db = grads(case["dout"], case["x"], case["w"], *geometry)
        return {"out": out, "dx": dx, "dw": dw, "db": db}

    return expected


def extras_program(forward: str, gradients: str) -> Callable[[Case], Program]:
    """``extras.<forward>(x, w, b, stride=, pad=, dilation=)`` and ``extras.<gradients>(dout, x, w, ...)``."""

    def program(case: Case) -> Program:
        geometry = {k: Input(k) for k in ("stride", "pad", "dilation")}
        steps = (
            call("fwd", "extras", forward, Input("x"), Input("w"), Input("b"), **geometry),
            call("bwd", "extras", gradients, Input("dout"), Input("x"), Input("w"), **geometry),
        )
        outputs: dict[str, Expr] = {"out": Result("fwd")}
        outputs.update({c.name: Item(Result("bwd"), i) for i, c in enumerate(GRADIENTS)})
        return Program(steps=steps, outputs=outputs)

    return program
