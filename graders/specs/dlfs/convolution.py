"""Specs of the book's ``Convolution`` and ``Pooling`` layers.

Both call the student's ``common/util.py`` (im2col, col2im), which is graded on its own: a bug there also
shows in these layers. The worker keeps what a program produced before a later step raised, so a col2im that
raises in ``backward`` costs Convolution its dx only (out, dW and db are computed before col2im is called).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, Spec
from graders.specs.conv import conv_cases, conv_dout_shape, explained_by, input_size, reference_outputs
from graders.specs.conv import with_param as conv_with_param
from graders.specs.dlfs.common import (
    fails_only_when,
    layer_expected,
    layer_program,
    out_size,
    torch_autograd,
    weighted,
)
from graders.specs.pool import geometry_bug, tie_free, torch_pool
from graders.specs.program import Const, Input, Item, Program
from reference import dlfs as D


def _conv_settings(case: Case) -> tuple[int, int]:
    return int(case["conv_param"]["stride"]), int(case["conv_param"]["pad"])


def convolution_program(case: Case) -> Program:
    param = Input("conv_param")
    ctor = (Input("w"), Input("b"), Item(param, "stride"), Item(param, "pad"))
    return layer_program("Convolution", ctor, (Input("x"),), ("dW", "db"))


def _make_convolution(case: Case) -> Any:
    return D.Convolution(case["w"], case["b"], *_conv_settings(case))


def _renamed_dw(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The cs231n names (dw) as the book's attribute (dW)."""
    renamed = dict(outputs)
    if "dw" in renamed:
        renamed["dW"] = renamed.pop("dw")
    return renamed


def torch_convolution(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    stride, pad = _conv_settings(case)
    return torch_autograd(
        case,
        (("x", "dx"), ("w", "dW"), ("b", "db")),
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=pad),
    )


def _conv_stride_ignored(runs: Sequence[CaseRun]) -> bool:
    variant = conv_with_param("conv_param", "stride", 1, conv_dout_shape)
    matches = explained_by(reference_outputs, variant, _renamed_dw, crop=True)
    return matches(runs) or fails_only_when(lambda case: _conv_settings(case)[0] > 1)(runs)


CONV_STRIDE_IGNORED = Diagnosis(
    "stride ignored",
    "It fails only when stride > 1 (or matches a stride of 1): use self.stride everywhere -- in "
    "out_h = 1 + (H + 2*pad - FH) // stride, and in the im2col and col2im calls.",
    _conv_stride_ignored,
)
CONV_PAD_IGNORED = Diagnosis(
    "pad ignored",
    "It fails only when pad > 0: use self.pad in out_h = 1 + (H + 2*pad - FH) // stride and pass it to "
    "im2col and col2im (which pad with zeros and crop the padding off again).",
    fails_only_when(lambda case: _conv_settings(case)[1] > 0),
)


def convolution_spec() -> Spec:
    scalar = weighted(lambda case: _make_convolution(case).forward(case["x"]))
    return Spec(
        name="Convolution",
        module="layers",
        api="class",
        cases=lambda: conv_cases(divisible=False),
        fixed_cases=convolution_fixed,
        scale_cases=convolution_scale,
        program=convolution_program,
        expected=layer_expected(_make_convolution, ("dW", "db")),
        torch_expected=torch_convolution,
        checks=(
            Check(
                "out",
                atol=1e-8,
                rtol=1e-7,
                description="(N, FN, OH, OW), OH = 1 + (H + 2*pad - FH) // stride",
            ),
            Check("dx", atol=1e-8, rtol=1e-7, description="gradient with respect to x (N, C, H, W)"),
            Check("dW", atol=1e-8, rtol=1e-7, description="self.dW (FN, C, FH, FW), summed over the batch"),
            Check("db", atol=1e-8, rtol=1e-7, description="self.db (FN,): dout summed over N, OH, OW"),
        ),
        gradients=tuple(GradientCheck(g, v, scalar) for g, v in (("dx", "x"), ("dW", "w"), ("db", "b"))),
        diagnoses=(CONV_STRIDE_IGNORED, CONV_PAD_IGNORED),
        # forward calls im2col and backward col2im: when those fail too, the report points at them first
        depends_on=("im2col", "col2im"),
        convention="book: Convolution(W, b, stride, pad), cross-correlation, zero padding, floor on sizes "
        "that do not divide (int truncation)",
        read_only=("x", "w", "b", "dout"),
    )


def convolution_fixed() -> list[Case]:
    """The book's ch. 7 SimpleConvNet layer (30 filters of 5x5 on 1x28x28, here 3 filters of 5x5 on 1x12x12),
    and stride 2 with pad 1 on a size that does not divide."""
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
    return [simple, strided]


def convolution_scale() -> list[Case]:
    """Realistic sizes: SimpleConvNet's first layer (30 filters of 5x5 on 1x28x28 MNIST images, here 8 of
    them), and 16 filters of 3x3 with pad 1 on (4, 3, 32, 32) CIFAR-sized images."""
    rng = np.random.default_rng(2318)
    return [
        {
            "x": rng.uniform(0.0, 1.0, (8, 1, 28, 28)),
            "w": 0.01 * rng.standard_normal((30, 1, 5, 5)),
            "b": np.zeros(30),
            "dout": rng.standard_normal((8, 30, 24, 24)),
            "conv_param": {"stride": 1, "pad": 0},
        },
        {
            "x": rng.standard_normal((4, 3, 32, 32)),
            "w": 0.1 * rng.standard_normal((16, 3, 3, 3)),
            "b": rng.standard_normal(16),
            "dout": rng.standard_normal((4, 16, 32, 32)),
            "conv_param": {"stride": 1, "pad": 1},
        },
    ]


POOL_MAX_SIZE = 9


@st.composite
def pooling_cases(draw: st.DrawFn) -> Case:
    """Tie-free x; pool 1-4 per axis (non-square allowed), stride 1-3 (overlapping windows when smaller than
    the pool), pad 0, sizes that need not divide (floor, as the book's int truncation)."""
    n, c = draw(S.dims(1, 3)), draw(S.dims(1, 3))
    stride = draw(st.integers(1, 3))
    ph, pw = draw(S.dims(1, 4)), draw(S.dims(1, 4))
    h = draw(input_size(ph, stride, 0, POOL_MAX_SIZE, divisible=False))
    w = draw(input_size(pw, stride, 0, POOL_MAX_SIZE, divisible=False))
    return {
        "x": draw(S.tie_free_arrays((n, c, h, w))),
        "dout": draw(S.seeded_arrays((n, c, out_size(h, ph, stride, 0), out_size(w, pw, stride, 0)))),
        "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride},
    }


def pooling_fixed() -> list[Case]:
    """The book's SimpleConvNet pool (2x2, stride 2), and an overlapping 3x2 pool with stride 1."""
    rng = np.random.RandomState(231)
    return [
        {
            "x": rng.permutation(2 * 3 * 4 * 4).reshape(2, 3, 4, 4) * 0.1,
            "dout": rng.randn(2, 3, 2, 2),
            "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2},
        },
        {
            "x": rng.permutation(2 * 5 * 6).reshape(1, 2, 5, 6) * 0.1,
            "dout": rng.randn(1, 2, 3, 5),
            "pool_param": {"pool_height": 3, "pool_width": 2, "stride": 1},
        },
    ]


def pooling_scale() -> list[Case]:
    """SimpleConvNet's pool (2x2, stride 2) on its conv layer's output: 8 images, 30 channels of 24x24
    (tie-free, as every pooling case)."""
    return [{
        "x": tie_free((8, 30, 24, 24), seed=2319),
        "dout": np.random.default_rng(2320).standard_normal((8, 30, 12, 12)),
        "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2},
    }]


def _pool_settings(case: Case) -> tuple[int, int, int]:
    p = case["pool_param"]
    return int(p["pool_height"]), int(p["pool_width"]), int(p["stride"])


def pooling_program(case: Case) -> Program:
    param = Input("pool_param")
    ctor = (Item(param, "pool_height"), Item(param, "pool_width"), Item(param, "stride"), Const(0))
    return layer_program("Pooling", ctor, (Input("x"),))


def _make_pooling(case: Case) -> Any:
    return D.Pooling(*_pool_settings(case), 0)


def _pool_stride_ignored(runs: Sequence[CaseRun]) -> bool:
    candidates: list[Callable[[Case], tuple[int, int, int]]] = [
        lambda case: (*_pool_settings(case)[:2], 1),
        lambda case: (*_pool_settings(case)[:2], _pool_settings(case)[0]),
    ]
    if any(geometry_bug(buggy)(runs) for buggy in candidates):
        return True
    return fails_only_when(lambda case: _pool_settings(case)[2] > 1)(runs)


POOL_STRIDE_IGNORED = Diagnosis(
    "stride ignored",
    "It fails only when stride > 1 (or matches another stride): use self.stride in "
    "out_h = 1 + (H - pool_h) // stride, and in the im2col and col2im calls.",
    _pool_stride_ignored,
)


def pooling_spec() -> Spec:
    scalar = weighted(lambda case: _make_pooling(case).forward(case["x"]))
    return Spec(
        name="Pooling",
        module="layers",
        api="class",
        cases=pooling_cases,
        fixed_cases=pooling_fixed,
        scale_cases=pooling_scale,
        program=pooling_program,
        expected=layer_expected(_make_pooling),
        torch_expected=torch_pool,
        checks=(
            Check("out", atol=1e-9, rtol=1e-7, description="(N, C, OH, OW): the maximum of each window"),
            Check(
                "dx",
                atol=1e-9,
                rtol=1e-7,
                description="dout routed to each window's maximum, summed on overlaps",
            ),
        ),
        gradients=(GradientCheck("dx", "x", scalar),),
        diagnoses=(POOL_STRIDE_IGNORED,),
        depends_on=("im2col", "col2im"),
        convention="book: Pooling(pool_h, pool_w, stride, pad) with pad = 0 only (the book's own Pooling "
        "ignores pad in its output size); floor on sizes that do not divide; tie-free inputs",
        read_only=("x", "dout"),
    )
