"""Specs of the convolution layers: cs231n's conv_forward/backward (naive and fast). (The dilated 2-D and the
1-D layers are the extras assignment's, graders/specs/extras/.)

Declarations first; their inputs (notebook, property and scale cases, domain, reach) are in ``cases``, the
diagnoses and their bug models in ``bugs``. The forward/backward pair is built by kit/layer_specs.py (shared
with the pool and dense layers); the window geometry, the torch twin and the inputs every convolution rejects,
shared with the pool, book and extras specs, are kit/windows.py's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graders.specs.base import Case, Check, GradientCheck, Spec
from graders.specs.conv.bugs import conv_diagnoses
from graders.specs.conv.cases import CONV_REACHES, conv_domain, conv_notebook, conv_param_errors, conv_scale
from graders.specs.kit.gradients import weighted
from graders.specs.kit.layer_specs import LayerInputs, backward_spec, forward_spec
from graders.specs.kit.programs import packed
from graders.specs.kit.tolerances import CONV_SUMS
from graders.specs.kit.windows import CONV_ARGS, conv_cases, conv_expected, describe_conv, dout_errors, torch_conv
from reference.cs231n import conv as R


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
                         errors=dout_errors(), handout_cache=packed(*CONV_ARGS))


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
                         errors=dout_errors(), same_as="conv_backward_naive")


FACTORIES: dict[str, Callable[..., Spec]] = {
    "conv_forward_naive": conv_forward_naive,
    "conv_backward_naive": conv_backward_naive,
    "conv_forward_fast": conv_forward_fast,
    "conv_backward_fast": conv_backward_fast,
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
    return np.asarray(R.conv_forward_fast(*(case[a] for a in CONV_ARGS))[0])


#: sum(conv(x, w, b) * dout), the scalar whose gradient the backward computes.
conv_scalar = weighted(conv_out)
