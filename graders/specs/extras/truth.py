"""The extras' right answers: the reference's outputs for a case, the scalar its gradients differentiate, and the
adapted weight.

One function per layer serves the spec's ``expected`` and the bug models of bugs.py (which recompute it on a
changed case, many times: it is the im2col reference, not the loops).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graders.specs.base import Case
from graders.specs.kit.gradients import weighted
from reference.cs231n import extras as R

CONV_ARGS = ("x", "w", "b", "conv_param")


def conv_outputs(case: Case) -> dict[str, Any]:
    """out, dx, dw and db of the layer x's rank names (4-D: dilated 2-D, 3-D: 1-D) on the case."""
    forward, backward = ((R.conv2d_dilated_forward, R.conv2d_dilated_backward) if np.ndim(case["x"]) == 4
                         else (R.conv1d_forward, R.conv1d_backward))
    out, cache = forward(*(case[a] for a in CONV_ARGS))
    dx, dw, db = backward(case["dout"], cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def conv2d_outputs(case: Case) -> dict[str, Any]:
    """The dilated 2-D layer's outputs whatever x's rank (so a case of the wrong rank is rejected by it)."""
    out, cache = R.conv2d_dilated_forward(*(case[a] for a in CONV_ARGS))
    dx, dw, db = R.conv2d_dilated_backward(case["dout"], cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def conv1d_outputs(case: Case) -> dict[str, Any]:
    """The 1-D layer's outputs whatever x's rank."""
    out, cache = R.conv1d_forward(*(case[a] for a in CONV_ARGS))
    dx, dw, db = R.conv1d_backward(case["dout"], cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def conv_out(case: Case) -> np.ndarray:
    """The forward alone (finite differences evaluate it twice per input entry)."""
    forward = R.conv2d_dilated_forward if np.ndim(case["x"]) == 4 else R.conv1d_forward
    return forward(*(case[a] for a in CONV_ARGS))[0]


#: sum(conv(x, w, b) * dout): what dx, dw and db are the gradient of (finite differences of the reference).
conv_scalar = weighted(conv_out)


def adapted(case: Case) -> dict[str, Any]:
    """The reference's adapted weight."""
    return {"weight": R.adapt_input_conv(case["in_chans"], case["conv_weight"])}
