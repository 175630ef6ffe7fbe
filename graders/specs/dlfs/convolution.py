"""Specs of the book's ``Convolution`` and ``Pooling`` layers.

Both call the student's ``common/util.py`` (im2col, col2im), which is graded on its own: a bug there also
shows in these layers. The worker keeps what a program produced before a later step raised, so a col2im that
raises in ``backward`` costs Convolution its dx only (out, dW and db are computed before col2im is called).
Declarations first, then each layer's cases, program and diagnoses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, ErrorCase, GradientCheck, NamedCase, Reach, Spec
from graders.specs.kit.detectors import explained_by, fails_only_when
from graders.specs.kit.gradients import weighted
from graders.specs.kit.programs import layer_expected, layer_program
from graders.specs.kit.tolerances import CONV_SUMS, PRODUCT_SUMS
from graders.specs.kit.torch import torch_autograd
from graders.specs.kit.windows import (
    MAX_SIZE,
    Geometry,
    clipped_pool,
    conv_cases,
    conv_dout_shape,
    conv_settings,
    dout_fits,
    geometry_bug,
    input_size,
    out_size,
    pool_dout_shape,
    pool_settings,
    reference_outputs,
    tie_free,
    torch_pool,
    window_maxima_unique,
    with_param,
)
from graders.specs.program import Const, Input, Item, Program
from reference import dlfs as D


def convolution_spec() -> Spec:
    """``Convolution(W, b, stride, pad)``: forward, backward, then ``dW`` and ``db``."""
    scalar = weighted(lambda case: _make_convolution(case).forward(case["x"]))
    return Spec(
        name="Convolution",
        module="layers",
        api="class",
        convention="book: Convolution(W, b, stride, pad), cross-correlation, zero padding, floor on sizes "
        "that do not divide (int truncation)",
        # forward calls im2col and backward col2im: when those fail too, the report points at them first
        depends_on=("im2col", "col2im"),
        domain=dout_fits(conv_dout_shape),
        cases=lambda: conv_cases(divisible=False),
        reaches=CONVOLUTION_REACHES,
        notebook=convolution_notebook,
        scale=convolution_scale,
        errors=convolution_errors(),
        expected=layer_expected(_make_convolution, ("dW", "db")),
        torch_expected=torch_convolution,
        gradients=tuple(GradientCheck(g, v, scalar) for g, v in (("dx", "x"), ("dW", "w"), ("db", "b"))),
        program=convolution_program,
        checks=(
            Check("out", tol=CONV_SUMS, description="(N, FN, OH, OW), OH = 1 + (H + 2*pad - FH) // stride"),
            Check("dx", tol=CONV_SUMS, description="gradient with respect to x (N, C, H, W)"),
            Check("dW", tol=CONV_SUMS, description="self.dW (FN, C, FH, FW), summed over the batch"),
            Check("db", tol=CONV_SUMS, description="self.db (FN,): dout summed over N, OH, OW"),
        ),
        diagnoses=(CONV_STRIDE_IGNORED, CONV_PAD_IGNORED),
        read_only=("x", "w", "b", "dout"),
    )


def pooling_spec() -> Spec:
    """``Pooling(pool_h, pool_w, stride, pad=0)``: forward, then backward."""
    scalar = weighted(lambda case: _make_pooling(case).forward(case["x"]))
    return Spec(
        name="Pooling",
        module="layers",
        api="class",
        convention="book: Pooling(pool_h, pool_w, stride, pad) with pad = 0 only (the book's own Pooling "
        "ignores pad in its output size); floor on sizes that do not divide; tie-free inputs",
        depends_on=("im2col", "col2im"),
        domain=lambda case: dout_fits(pool_dout_shape)(case) and window_maxima_unique(case),
        cases=pooling_cases,
        reaches=POOLING_REACHES,
        notebook=pooling_notebook,
        scale=pooling_scale,
        errors=pooling_errors(),
        expected=layer_expected(_make_pooling),
        torch_expected=torch_pool,
        gradients=(GradientCheck("dx", "x", scalar),),
        program=pooling_program,
        checks=(
            Check("out", tol=PRODUCT_SUMS, description="(N, C, OH, OW): the maximum of each window"),
            Check("dx", tol=PRODUCT_SUMS, description="dout routed to each window's maximum, summed on overlaps"),
        ),
        diagnoses=(POOL_STRIDE_IGNORED,),
        read_only=("x", "dout"),
    )


# ---------------------------------------------------------------- Convolution: cases
def convolution_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(231)
    simple = {
        "x": rng.randn(2, 1, 12, 12),
        "w": 0.1 * rng.randn(3, 1, 5, 5),
        "b": np.zeros(3),
        "dout": rng.randn(2, 3, 8, 8),
        "conv_param": {"stride": 1, "pad": 0},
    }
    strided = {
        "x": rng.randn(2, 3, 6, 7),
        "w": rng.randn(2, 3, 3, 2),
        "b": rng.randn(2),
        "dout": rng.randn(2, 2, 3, 4),
        "conv_param": {"stride": 2, "pad": 1},
    }
    return [
        NamedCase("book ch. 7: SimpleConvNet's layer in small, 3 filters of 5x5 on x (2, 1, 12, 12), seed 231",
                  simple),
        NamedCase("hand-picked: x (2, 3, 6, 7), W (2, 3, 3, 2), stride 2 pad 1 (sizes that do not divide), "
                  "seed 231", strided),
    ]


def convolution_scale() -> list[Case]:
    """Realistic sizes: SimpleConvNet's first layer (30 filters of 5x5 on 1x28x28 MNIST images, here 8 of
    them), and 16 filters of 3x3 with pad 1 on (4, 3, 32, 32) CIFAR-sized images."""
    return [
        {
            "x": np.random.default_rng(2318).uniform(0.0, 1.0, (8, 1, 28, 28)),
            "w": S.standard_normal(2318, (30, 1, 5, 5), 0.01, name="w"),
            "b": np.zeros(30),
            "dout": S.standard_normal(2318, (8, 30, 24, 24), name="dout"),
            "conv_param": {"stride": 1, "pad": 0},
        },
        {
            "x": S.standard_normal(2324, (4, 3, 32, 32), name="x"),
            "w": S.standard_normal(2324, (16, 3, 3, 3), 0.1, name="w"),
            "b": S.standard_normal(2324, (16,), name="b"),
            "dout": S.standard_normal(2324, (4, 16, 32, 32), name="dout"),
            "conv_param": {"stride": 1, "pad": 1},
        },
    ]


def _does_not_divide(case: Case) -> bool:
    stride, pad = conv_settings(case)
    return any((s + 2 * pad - k) % stride != 0 for s, k in zip(case["x"].shape[2:], case["w"].shape[2:], strict=True))


CONVOLUTION_REACHES = (
    Reach("pad 0", lambda case: conv_settings(case)[1] == 0),
    Reach("pad > 0 with stride > 1", lambda case: conv_settings(case)[1] > 0 and conv_settings(case)[0] > 1),
    Reach("a size that does not divide", _does_not_divide),
    Reach("non-square kernel", lambda case: case["w"].shape[2] != case["w"].shape[3]),
)


def convolution_errors() -> tuple[ErrorCase, ...]:
    """Inputs the reference layer rejects (a ValueError naming the shapes)."""

    def case(x: tuple[int, ...], w: tuple[int, ...]) -> Case:
        return {"x": np.zeros(x), "w": np.zeros(w), "b": np.zeros(w[0]), "dout": np.zeros((1, 1, 1, 1)),
                "conv_param": {"stride": 1, "pad": 0}}

    return (
        ErrorCase("x and W disagree on the channels", case((2, 3, 5, 5), (2, 4, 3, 3)), ValueError,
                  r"channels disagree: x \(2, 3, 5, 5\)"),
        ErrorCase("a filter taller than the input", case((1, 1, 2, 5), (1, 1, 3, 3)), ValueError,
                  r"kernel size 3 does not fit .* axis 0"),
    )


# ---------------------------------------------------------------- Convolution: program, truth, diagnoses
def convolution_program(case: Case) -> Program:
    param = Input("conv_param")
    ctor = (Input("w"), Input("b"), Item(param, "stride"), Item(param, "pad"))
    return layer_program("Convolution", ctor, (Input("x"),), ("dW", "db"))


def _make_convolution(case: Case) -> Any:
    return D.Convolution(case["w"], case["b"], *conv_settings(case))


def torch_convolution(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    stride, pad = conv_settings(case)
    return torch_autograd(
        case,
        (("x", "dx"), ("w", "dW"), ("b", "db")),
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=pad),
    )


def _renamed_dw(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The cs231n names (dw) as the book's attribute (dW)."""
    renamed = dict(outputs)
    if "dw" in renamed:
        renamed["dW"] = renamed.pop("dw")
    return renamed


def _with_conv_param(key: str, value: int) -> Callable[[Case], dict[str, Any]]:
    """The bug model "conv_param[key] is always ``value``": the reference on that geometry (dout fitted to its
    output), in the book's names; nothing changes where the case has that value or the geometry is invalid."""
    variant = with_param("conv_param", key, value, conv_dout_shape)

    def bug(case: Case) -> dict[str, Any]:
        changed = variant(case)
        return {} if changed is None else _renamed_dw(reference_outputs(changed))

    return bug


def _conv_stride_ignored(runs: Sequence[CaseRun]) -> bool:
    variant = with_param("conv_param", "stride", 1, conv_dout_shape)
    matches = explained_by(reference_outputs, variant, _renamed_dw, crop=True)
    return matches(runs) or fails_only_when(lambda case: conv_settings(case)[0] > 1)(runs)


CONV_OUTPUTS = ("out", "dx", "dW", "db")
CONV_STRIDE_IGNORED = Diagnosis(
    "stride ignored",
    "It fails only when stride > 1 (or matches a stride of 1): use self.stride everywhere -- in "
    "out_h = 1 + (H + 2*pad - FH) // stride, and in the im2col and col2im calls.",
    _conv_stride_ignored,
    reads=CONV_OUTPUTS,
    bug=_with_conv_param("stride", 1),
)
CONV_PAD_IGNORED = Diagnosis(
    "pad ignored",
    "It fails only when pad > 0: use self.pad in out_h = 1 + (H + 2*pad - FH) // stride and pass it to "
    "im2col and col2im (which pad with zeros and crop the padding off again).",
    fails_only_when(lambda case: conv_settings(case)[1] > 0),
    reads=CONV_OUTPUTS,
    bug=_with_conv_param("pad", 0),
)


# ---------------------------------------------------------------- Pooling: cases
@st.composite
def pooling_cases(draw: st.DrawFn) -> Case:
    """Tie-free x; pool 1-4 per axis (non-square allowed), stride 1-3 (overlapping windows when smaller than
    the pool), pad 0, sizes that need not divide (floor, as the book's int truncation)."""
    n, c = draw(S.dims(1, 3)), draw(S.dims(1, 3))
    stride = draw(st.integers(1, 3))
    ph, pw = draw(S.dims(1, 4)), draw(S.dims(1, 4))
    h = draw(input_size(ph, stride, 0, MAX_SIZE, divisible=False))
    w = draw(input_size(pw, stride, 0, MAX_SIZE, divisible=False))
    return {
        "x": draw(S.tie_free_arrays((n, c, h, w))),
        "dout": draw(S.seeded_arrays((n, c, out_size(h, ph, stride, 0), out_size(w, pw, stride, 0)), name="dout")),
        "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride},
    }


def pooling_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(231)
    simple = {
        "x": rng.permutation(2 * 3 * 4 * 4).reshape(2, 3, 4, 4) * 0.1,
        "dout": rng.randn(2, 3, 2, 2),
        "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2},
    }
    overlapping = {
        "x": rng.permutation(2 * 5 * 6).reshape(1, 2, 5, 6) * 0.1,
        "dout": rng.randn(1, 2, 3, 5),
        "pool_param": {"pool_height": 3, "pool_width": 2, "stride": 1},
    }
    return [
        NamedCase("book ch. 7: SimpleConvNet's pool, 2x2 stride 2 on x (2, 3, 4, 4), a permutation, seed 231",
                  simple),
        NamedCase("hand-picked: overlapping 3x2 pool, stride 1 on x (1, 2, 5, 6), a permutation, seed 231",
                  overlapping),
    ]


def pooling_scale() -> list[Case]:
    """SimpleConvNet's pool (2x2, stride 2) on its conv layer's output: 8 images, 30 channels of 24x24
    (tie-free, as every pooling case)."""
    return [{
        "x": tie_free((8, 30, 24, 24), seed=2319),
        "dout": S.standard_normal(2320, (8, 30, 12, 12), name="dout"),
        "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2},
    }]


def _pool_does_not_divide(case: Case) -> bool:
    ph, pw, stride = pool_settings(case)
    return any((s - k) % stride != 0 for s, k in zip(case["x"].shape[2:], (ph, pw), strict=True))


POOLING_REACHES = (
    Reach("overlapping windows", lambda case: pool_settings(case)[2] < min(pool_settings(case)[:2])),
    Reach("stride > 1", lambda case: pool_settings(case)[2] > 1),
    Reach("non-square pool", lambda case: pool_settings(case)[0] != pool_settings(case)[1]),
    Reach("a size that does not divide", _pool_does_not_divide),
)


def pooling_errors() -> tuple[ErrorCase, ...]:
    """Inputs the reference layer rejects (a ValueError naming the problem)."""

    def case(x: tuple[int, ...], ph: int, pw: int, stride: int) -> Case:
        return {"x": np.zeros(x), "dout": np.zeros((1, 1, 1, 1)),
                "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride}}

    return (
        ErrorCase("x is not 4-D", case((3, 5, 5), 2, 2, 2), ValueError, r"x must be 4-D"),
        ErrorCase("a pool taller than the input", case((1, 1, 3, 5), 4, 2, 1), ValueError,
                  r"pool size 4 does not fit .* axis 0"),
    )


# ---------------------------------------------------------------- Pooling: program, truth, diagnoses
def pooling_program(case: Case) -> Program:
    param = Input("pool_param")
    ctor = (Item(param, "pool_height"), Item(param, "pool_width"), Item(param, "stride"), Const(0))
    return layer_program("Pooling", ctor, (Input("x"),))


def _make_pooling(case: Case) -> Any:
    return D.Pooling(*pool_settings(case), 0)


#: The strides a student who ignores self.stride is found to use: 1, or the pool height.
POOL_STRIDES: tuple[Callable[[Case], Geometry], ...] = (
    lambda case: (*pool_settings(case)[:2], 1),
    lambda case: (*pool_settings(case)[:2], pool_settings(case)[0]),
)


def _pool_stride_ignored(runs: Sequence[CaseRun]) -> bool:
    if any(geometry_bug(buggy)(runs) for buggy in POOL_STRIDES):
        return True
    return fails_only_when(lambda case: pool_settings(case)[2] > 1)(runs)


POOL_STRIDE_IGNORED = Diagnosis(
    "stride ignored",
    "It fails only when stride > 1 (or matches another stride): use self.stride in "
    "out_h = 1 + (H - pool_h) // stride, and in the im2col and col2im calls.",
    _pool_stride_ignored,
    reads=("out", "dx"),
    bug=lambda case: clipped_pool(case, POOL_STRIDES[0](case), case["dout"].shape[2:]),
)
