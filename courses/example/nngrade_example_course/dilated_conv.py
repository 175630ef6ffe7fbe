"""Specs of the course's dilated (atrous) convolution, in the hand-out's naive style:
``dilated_conv_forward_naive(x, w, b, conv_param) -> (out, cache)`` and
``dilated_conv_backward_naive(dout, cache) -> (dx, dw, db)``, with ``conv_param`` holding ``stride``, ``pad``
and ``dilation`` (kernel taps ``dilation`` apart: a 3x3 kernel with dilation 2 covers 5x5 pixels).

The truth is nngrade's public NumPy reference (:func:`reference.functional.conv.conv2d` and its gradients,
which take a dilation), cross-checked against ``torch.nn.functional.conv2d(dilation=...)`` by the course's
tests; a course may equally write its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, Check, GradientCheck, NamedCase, Reach, Spec
from graders.specs.kit.gradients import weighted
from graders.specs.kit.layer_specs import LayerInputs, backward_spec, forward_spec
from graders.specs.kit.programs import packed
from graders.specs.kit.tolerances import CONV_SUMS
from graders.specs.kit.torch import grads_of, torch_autograd
from reference.functional.conv import conv2d, conv2d_grads


def dilated_conv_forward_naive() -> Spec:
    return forward_spec(
        layer=DILATED_CONV, name="dilated_conv_forward_naive", module="course", expected=expected,
        check=Check("out", tol=CONV_SUMS, description="dilated cross-correlation (N, F, H', W')"),
    )


def dilated_conv_backward_naive() -> Spec:
    """Graded after the student's own forward, with a second chance on the hand-out's cache
    ``(x, w, b, conv_param)``."""
    return backward_spec(
        layer=DILATED_CONV, name="dilated_conv_backward_naive", module="course",
        forward_name="dilated_conv_forward_naive", expected=expected,
        checks=(Check("dx", tol=CONV_SUMS), Check("dw", tol=CONV_SUMS), Check("db", tol=CONV_SUMS)),
        gradients=tuple(GradientCheck(g, v, weighted(forward_out)) for g, v in (("dx", "x"), ("dw", "w"), ("db", "b"))),
        handout_cache=packed("x", "w", "b", "conv_param"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "dilated_conv_forward_naive": dilated_conv_forward_naive,
    "dilated_conv_backward_naive": dilated_conv_backward_naive,
}


# ---------------------------------------------------------------- the truth
def _geometry(case: Case) -> tuple[int, int, int]:
    param = case["conv_param"]
    return int(param["stride"]), int(param["pad"]), int(param["dilation"])


def forward_out(case: Case) -> np.ndarray:
    stride, pad, dilation = _geometry(case)
    return conv2d(case["x"], case["w"], case["b"], stride, pad, dilation)


def expected(case: Case) -> dict[str, Any]:
    stride, pad, dilation = _geometry(case)
    dx, dw, db = conv2d_grads(case["dout"], case["x"], case["w"], stride, pad, dilation)
    return {"out": forward_out(case), "dx": dx, "dw": dw, "db": db}


def torch_expected(case: Case) -> dict[str, Any]:
    import torch

    stride, pad, dilation = _geometry(case)
    return torch_autograd(case, grads_of("x", "w", "b"), lambda x, w, b: torch.nn.functional.conv2d(
        x, w, b, stride=stride, padding=pad, dilation=dilation))


# ---------------------------------------------------------------- cases
def _span(kernel: int, dilation: int) -> int:
    """Pixels one kernel row covers."""
    return dilation * (kernel - 1) + 1


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Up to 2 images of 1 to 3 channels, 1 to 3 filters of up to 3x3 taps, dilation 1 to 3, stride 1 or 2,
    pad 0 to 2, sizes chosen so every window fits exactly (the hand-out's assumption)."""
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    hh, ww = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, pad, dilation = draw(st.integers(1, 2)), draw(st.integers(0, 2)), draw(st.integers(1, 3))
    out_h, out_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h = max(1, (out_h - 1) * stride + _span(hh, dilation) - 2 * pad)
    w = max(1, (out_w - 1) * stride + _span(ww, dilation) - 2 * pad)
    case = {
        "x": draw(S.seeded_arrays((n, c, h, w), name="x")),
        "w": draw(S.seeded_arrays((f, c, hh, ww), name="w")),
        "b": draw(S.seeded_arrays((f,), name="b")),
        "conv_param": {"stride": stride, "pad": pad, "dilation": dilation},
    }
    shape = output_shape(case)
    return {**case, "dout": draw(S.seeded_arrays(shape, name="dout"))}


def output_shape(case: Case) -> tuple[int, int, int, int]:
    stride, pad, dilation = _geometry(case)
    n, _, h, w = case["x"].shape
    f, _, hh, ww = case["w"].shape
    return (n, f, (h + 2 * pad - _span(hh, dilation)) // stride + 1, (w + 2 * pad - _span(ww, dilation)) // stride + 1)


def notebook() -> list[NamedCase]:
    rng = np.random.default_rng(7)
    case = {"x": rng.standard_normal((2, 3, 9, 9)), "w": rng.standard_normal((4, 3, 3, 3)),
            "b": rng.standard_normal(4), "conv_param": {"stride": 1, "pad": 2, "dilation": 2}}
    return [NamedCase("hand-out: x (2, 3, 9, 9), 3x3 taps, dilation 2, pad 2",
                      {**case, "dout": rng.standard_normal(output_shape(case))})]


def scale() -> list[Case]:
    """A CIFAR-sized layer: x (2, 3, 32, 32), 8 filters of 3x3 taps with dilation 2 and pad 2."""
    case = {"x": S.standard_normal(11, (2, 3, 32, 32), name="x"),
            "w": S.standard_normal(11, (8, 3, 3, 3), 0.1, name="w"),
            "b": S.standard_normal(11, (8,), name="b"),
            "conv_param": {"stride": 1, "pad": 2, "dilation": 2}}
    return [{**case, "dout": S.standard_normal(11, output_shape(case), name="dout")}]


def domain(case: Case) -> bool:
    """Every window fits exactly, and dout has the output's shape."""
    stride, pad, dilation = _geometry(case)
    _, _, h, w = case["x"].shape
    _, _, hh, ww = case["w"].shape
    fits = all((size + 2 * pad - _span(k, dilation)) % stride == 0 and size + 2 * pad >= _span(k, dilation)
               for size, k in ((h, hh), (w, ww)))
    return fits and case["dout"].shape == output_shape(case)


DILATED_CONV = LayerInputs(
    args=("x", "w", "b", "conv_param"),
    cases=cases,
    notebook=notebook,
    scale=scale,
    domain=domain,
    reaches=(
        Reach("dilation > 1 with a kernel wider than 1",
              lambda case: _geometry(case)[2] > 1 and case["w"].shape[3] > 1),
        Reach("dilation > 1 with stride > 1 and pad > 0",
              lambda case: _geometry(case)[2] > 1 and _geometry(case)[0] > 1 and _geometry(case)[1] > 0),
    ),
    torch_expected=torch_expected,
    describe=lambda case: (f"x {tuple(case['x'].shape)}, w {tuple(case['w'].shape)}, "
                           + ", ".join(f"{k} {v}" for k, v in case["conv_param"].items())),
)
