"""Specs of the extras assignment (``extras.py``): a dilated 2-D conv layer, a 1-D conv layer and timm's
``adapt_input_conv``, in cs231n's calling convention.

The hand-out (graders/assignments/extras.toml says it in full):

* ``conv2d_dilated_forward(x, w, b, conv_param) -> (out, cache)``: x (N, C, H, W), w (F, C, HH, WW), b (F,),
  conv_param {'stride', 'pad', 'dilation'}; out (N, F, H', W'), ``H' = 1 + (H + 2 pad - dilation (HH - 1) - 1)
  // stride`` (floor, as torch: sizes need not divide); ``conv2d_dilated_backward(dout, cache) -> (dx, dw, db)``.
* ``conv1d_forward(x, w, b, conv_param) -> (out, cache)``: x (N, C, L), w (F, C, K), the same conv_param and
  floor; ``conv1d_backward(dout, cache) -> (dx, dw, db)``.
* ``adapt_input_conv(in_chans, conv_weight) -> weight``: an RGB weight (O, 3, kh, kw) for in_chans input
  channels: 1 sums the RGB filters, 3 keeps them, any other count tiles them cyclically to in_chans channels
  and scales by 3 / in_chans; the result keeps conv_weight's dtype.

The conv pairs are built by kit/layer_specs.py as cs231n's conv layer is (a backward judged through the
student's own forward, and again with the hand-out's cache ``(x, w, b, conv_param)``); cases, geometry, the
torch twin and the inputs a convolution rejects are kit/windows.py's. Modules: cases.py (the tiers, domain,
reach, errors), truth.py (the reference's outputs), bugs.py (diagnoses and their bug models).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from graders.specs.base import Case, Check, GradientCheck, Spec, Verdict
from graders.specs.extras import cases as C
from graders.specs.extras.bugs import adapt_diagnoses, conv_diagnoses
from graders.specs.extras.truth import CONV_ARGS, adapted, conv1d_outputs, conv2d_outputs, conv_scalar
from graders.specs.kit.layer_specs import LayerInputs, backward_spec, forward_spec
from graders.specs.kit.programs import packed
from graders.specs.kit.tolerances import CONV_SUMS, FLOAT32_RULE
from graders.specs.kit.windows import describe_conv, torch_conv
from graders.specs.program import Input, Program, Result, call

MODULE = "extras"


def conv2d_dilated_forward() -> Spec:
    """extras.conv2d_dilated_forward(x, w, b, conv_param) -> (out, cache)."""
    return forward_spec(layer=LAYER_2D, name="conv2d_dilated_forward", module=MODULE, expected=conv2d_outputs,
                        check=Check("out", tol=CONV_SUMS, description="out (N, F, H', W'), H' = 1 + (H + 2 pad - "
                                                                      "dilation (HH - 1) - 1) // stride"),
                        diagnoses=conv_diagnoses(backward=False), errors=C.conv2d_errors())


def conv2d_dilated_backward() -> Spec:
    """extras.conv2d_dilated_backward(dout, cache) -> (dx, dw, db), after the student's own forward, or with the
    hand-out's cache (x, w, b, conv_param) where that fails."""
    return backward_spec(layer=LAYER_2D, name="conv2d_dilated_backward", module=MODULE,
                         forward_name="conv2d_dilated_forward", expected=conv2d_outputs,
                         checks=gradient_checks("(N, C, H, W)", "(F, C, HH, WW)"), gradients=GRADIENTS,
                         diagnoses=conv_diagnoses(backward=True), errors=C.conv2d_dout_errors(),
                         handout_cache=packed(*CONV_ARGS))


def conv1d_forward() -> Spec:
    """extras.conv1d_forward(x, w, b, conv_param) -> (out, cache)."""
    return forward_spec(layer=LAYER_1D, name="conv1d_forward", module=MODULE, expected=conv1d_outputs,
                        check=Check("out", tol=CONV_SUMS, description="out (N, F, L'), L' = 1 + (L + 2 pad - "
                                                                      "dilation (K - 1) - 1) // stride"),
                        diagnoses=conv_diagnoses(backward=False), errors=C.conv1d_errors())


def conv1d_backward() -> Spec:
    """extras.conv1d_backward(dout, cache) -> (dx, dw, db), after the student's own forward, or with the
    hand-out's cache."""
    return backward_spec(layer=LAYER_1D, name="conv1d_backward", module=MODULE, forward_name="conv1d_forward",
                         expected=conv1d_outputs, checks=gradient_checks("(N, C, L)", "(F, C, K)"),
                         gradients=GRADIENTS, diagnoses=conv_diagnoses(backward=True),
                         errors=C.conv1d_dout_errors(), handout_cache=packed(*CONV_ARGS))


def adapt_input_conv() -> Spec:
    """extras.adapt_input_conv(in_chans, conv_weight) -> weight, timm's rule."""
    return Spec(
        name="adapt_input_conv",
        module=MODULE,
        api="function",
        convention="timm's rule: in_chans 1 sums the RGB filters, 3 keeps them, others tile them cyclically "
                   "and scale by 3 / in_chans; conv_weight's dtype kept",
        verified_by="a direct NumPy statement of timm's rule, and the response identities "
                    "(tests/reference/test_extras.py, tests/reference/test_timm.py)",
        domain=C.adapt_domain,
        cases=C.adapt_cases,
        reaches=C.ADAPT_REACHES,
        notebook=C.adapt_notebook,
        scale=C.adapt_scale,
        errors=C.adapt_errors(),
        describe=describe_adapt,
        expected=adapted,
        program=adapt_program,
        checks=(
            Check("weight", tol=FLOAT32_RULE, points=3.0,
                  description="the adapted weight (O, in_chans, kh, kw)"),
            Check("dtype", ("weight",), compare=same_dtype, points=1.0,
                  description="the adapted weight keeps conv_weight's dtype"),
        ),
        diagnoses=adapt_diagnoses(),
        read_only=("conv_weight",),
        dtype_preserving=True,
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "conv2d_dilated_forward": conv2d_dilated_forward,
    "conv2d_dilated_backward": conv2d_dilated_backward,
    "conv1d_forward": conv1d_forward,
    "conv1d_backward": conv1d_backward,
    "adapt_input_conv": adapt_input_conv,
}


# ---------------------------------------------------------------- what the declarations share
CONVENTION = ("cross-correlation, zero padding, dilation; conv_param {'stride', 'pad', 'dilation'}; floor on sizes "
              "that do not divide (as torch); cache (x, w, b, conv_param)")


def _layer(spatial_dims: int) -> LayerInputs:
    return LayerInputs(
        args=CONV_ARGS,
        cases=C.conv_property_cases(spatial_dims),
        notebook=C.conv_notebook(spatial_dims),
        scale=C.conv_scale(spatial_dims),
        domain=C.conv_domain,
        reaches=C.CONV_REACHES,
        torch_expected=torch_conv,
        describe=describe_conv,
        convention=CONVENTION,
    )


LAYER_2D = _layer(2)
LAYER_1D = _layer(1)
GRADIENTS = tuple(GradientCheck(g, g[1:], conv_scalar) for g in ("dx", "dw", "db"))


def gradient_checks(x_layout: str, w_layout: str) -> tuple[Check, ...]:
    return (
        Check("dx", tol=CONV_SUMS, description=f"gradient wrt x {x_layout}"),
        Check("dw", tol=CONV_SUMS, description=f"gradient wrt w {w_layout}, summed over the batch"),
        Check("db", tol=CONV_SUMS, description="gradient wrt b (F,): dout summed over N and every output position"),
    )


def adapt_program(case: Case) -> Program:
    """``weight = extras.adapt_input_conv(in_chans, conv_weight)``."""
    return Program(steps=(call("adapt", MODULE, "adapt_input_conv", Input("in_chans"), Input("conv_weight")),),
                   outputs={"weight": Result("adapt")})


def describe_adapt(case: Case) -> str:
    weight = case["conv_weight"]
    return f"in_chans {case['in_chans']}, conv_weight {tuple(weight.shape)} {weight.dtype}"


def same_dtype(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
    """The dtype check: the adapted weight keeps conv_weight's dtype (its values are the weight check's)."""
    got = actual.get("weight")
    want = np.asarray(case["conv_weight"]).dtype
    if not isinstance(got, np.ndarray):
        return Verdict(False, f"weight: expected an array of dtype {want}, got {type(got).__name__}")
    if got.dtype != want:
        return Verdict(False, f"weight has dtype {got.dtype}, expected {want} (conv_weight's dtype)")
    return Verdict(True)

