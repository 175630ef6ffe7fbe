"""The extras' inputs: hand-picked, property and scale cases, the domain, what the cases must reach, and what the
reference rejects.

Convolutions: kit/windows.py's ``conv_cases`` (geometry drawn first, so every example and every shrink is a
valid convolution) with dilation and sizes that need not divide (the hand-out follows torch's floor), every
setting in ``conv_param``. adapt_input_conv: an RGB weight (O, 3, kh, kw) in float32 or float64 and a number
of input channels from 1 to 8, so every branch of timm's rule is reached (1 sums, 3 copies, the others tile
and rescale; 2 cuts the tiling short, 6 is a whole number of tiles).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, ErrorCase, NamedCase, Reach
from graders.specs.kit.windows import (
    conv_cases,
    conv_dout_shape,
    conv_error_case,
    conv_errors,
    conv_geometry,
    dout_errors,
    dout_fits,
    out_size,
)

#: The hand-out's conv_param keys, every one required.
GEOMETRY = ("stride", "pad", "dilation")


# ---------------------------------------------------------------- convolutions
def conv_property_cases(spatial_dims: int) -> Callable[[], st.SearchStrategy[Case]]:
    """Dilation up to 3, sizes that need not divide, inputs up to 11 (2-D) or 14 (1-D): small
    enough for a student's five nested loops."""
    two = spatial_dims == 2
    return lambda: conv_cases(spatial_dims=spatial_dims, max_kernel=3 if two else 4, max_dilation=3,
                              divisible=False, limit=11 if two else 14)


def conv_domain(case: Case) -> bool:
    """Every conv_param key given, a valid geometry, and a dout of the output's shape."""
    return set(GEOMETRY) <= set(case["conv_param"]) and dout_fits(conv_dout_shape)(case)


def _case(rng: np.random.RandomState, x: tuple[int, ...], w: tuple[int, ...], stride: int, pad: int,
          dilation: int) -> Case:
    """x, w, b and a dout of the output's shape from ``rng``, in that order."""
    case: Case = {"x": rng.randn(*x), "w": rng.randn(*w), "b": rng.randn(w[0]),
                  "conv_param": {"stride": stride, "pad": pad, "dilation": dilation}}
    case["dout"] = rng.randn(*conv_dout_shape(case))
    return case


def conv_notebook(spatial_dims: int) -> Callable[[], list[NamedCase]]:
    """Two hand-picked cases per layer: dilation 2 with stride 2 and padding on sizes that do not divide, and a
    plain convolution (dilation 1), which tells a bug in the dilation from one elsewhere."""

    def notebook() -> list[NamedCase]:
        rng = np.random.RandomState(231)
        shapes: list[tuple[tuple[int, ...], tuple[int, ...]]]
        if spatial_dims == 2:
            shapes = [((2, 3, 9, 8), (4, 3, 3, 2)), ((2, 3, 5, 5), (2, 3, 3, 3))]
        else:
            shapes = [((2, 3, 12), (4, 3, 3)), ((2, 3, 7), (2, 3, 3))]
        (x1, w1), (x2, w2) = shapes
        return [
            NamedCase(f"hand-picked: x {x1}, w {w1}, stride 2, pad 1, dilation 2 (sizes that do not divide), "
                      "seed 231", _case(rng, x1, w1, 2, 1, 2)),
            NamedCase(f"hand-picked: x {x2}, w {w2}, stride 1, pad 1, dilation 1 (a plain convolution), seed 231",
                      _case(rng, x2, w2, 1, 1, 1)),
        ]

    return notebook


def conv_scale(spatial_dims: int) -> Callable[[], list[Case]]:
    """One realistic size per layer: 16 filters of 3x3 with dilation 2 on (2, 3, 32, 32) images; 16 filters of
    5 with dilation 2 and stride 2 on (4, 8, 128) sequences."""

    def scale() -> list[Case]:
        x_shape: tuple[int, ...]
        w_shape: tuple[int, ...]
        out: tuple[int, ...]
        if spatial_dims == 2:
            x_shape, w_shape, (stride, pad, dilation) = (2, 3, 32, 32), (16, 3, 3, 3), (1, 2, 2)
            out = (out_size(32, 5, 1, 2),) * 2
        else:
            x_shape, w_shape, (stride, pad, dilation) = (4, 8, 128), (16, 8, 5), (2, 4, 2)
            out = (out_size(128, 9, 2, 4),)
        return [{
            "x": S.standard_normal(2316, x_shape, name="x"),
            "w": S.standard_normal(2316, w_shape, 0.1, name="w"),
            "b": S.standard_normal(2316, (16,), name="b"),
            "dout": S.standard_normal(2316, (x_shape[0], 16, *out), name="dout"),
            "conv_param": {"stride": stride, "pad": pad, "dilation": dilation},
        }]

    return scale


def _extents(case: Case) -> list[int]:
    dilation = conv_geometry(case)[2]
    return [dilation * (k - 1) + 1 for k in case["w"].shape[2:]]


def _does_not_divide(case: Case) -> bool:
    stride, pad, _ = conv_geometry(case)
    return any((s + 2 * pad - e) % stride != 0 for s, e in zip(case["x"].shape[2:], _extents(case), strict=True))


def _stride_and_dilation_differ(case: Case) -> bool:
    stride, _, dilation = conv_geometry(case)
    return stride > 1 and dilation > 1 and stride != dilation


def _three_channels(case: Case) -> bool:
    return case["x"].shape[0] > 1 and case["x"].shape[1] == 3 and case["w"].shape[0] == 3


CONV_REACHES = (
    Reach("dilation > 1", lambda case: conv_geometry(case)[2] > 1),
    Reach("dilation 1", lambda case: conv_geometry(case)[2] == 1),
    Reach("stride > 1 and dilation > 1, different", _stride_and_dilation_differ),
    Reach("a size that does not divide", _does_not_divide),
    Reach("pad > 0 with stride > 1", lambda case: conv_geometry(case)[1] > 0 and conv_geometry(case)[0] > 1),
    Reach("pad 0", lambda case: conv_geometry(case)[1] == 0),
    Reach("N > 1, C = 3, F = 3", _three_channels),
)


def conv2d_errors() -> tuple[ErrorCase, ...]:
    """A 2-D convolution's bad inputs, a conv_param without its dilation, and a dilated kernel that does not fit."""
    no_dilation = conv_error_case((1, 1, 5, 5), (1, 1, 3, 3), (1,))
    too_wide = conv_error_case((1, 1, 5, 5), (1, 1, 3, 3), (1,), dilation=3)
    return (
        *conv_errors(dilation=1),
        ErrorCase("conv_param without dilation", no_dilation, ValueError, r"missing \['dilation'\]"),
        ErrorCase("a dilated kernel wider than the input", too_wide, ValueError,
                  r"kernel size 3 \(dilation 3 spreads it over 7\) does not fit"),
        ErrorCase("dilation 0", conv_error_case((1, 1, 5, 5), (1, 1, 3, 3), (1,), dilation=0), ValueError,
                  r"dilation must be >= 1, got 0"),
    )


def conv2d_dout_errors() -> tuple[ErrorCase, ...]:
    return dout_errors(dilation=1)


def conv1d_errors() -> tuple[ErrorCase, ...]:
    """What a 1-D convolution rejects: an image for x, a pad for two axes, a conv_param without its dilation."""
    return (
        ErrorCase("x is not 3-D", conv_error_case((2, 3, 5, 5), (2, 3, 3), (2,), dilation=1), ValueError,
                  r"x must be 3-D \(N, C, L\)"),
        ErrorCase("a pad for two axes", conv_error_case((2, 3, 5), (2, 3, 3), (2,), pad=(1, 1), dilation=1),
                  ValueError, r"pad must be an int or 1 ints"),
        ErrorCase("conv_param without dilation", conv_error_case((2, 3, 5), (2, 3, 3), (2,)), ValueError,
                  r"missing \['dilation'\]"),
    )


def conv1d_dout_errors() -> tuple[ErrorCase, ...]:
    case = conv_error_case((1, 1, 5), (1, 1, 3), (1,), dout=(1, 1, 2), pad=1, dilation=1)
    return (ErrorCase("dout is not the output's shape", case, ValueError,
                      r"dout has shape \(1, 1, 2\), expected \(1, 1, 5\)"),)


# ---------------------------------------------------------------- adapt_input_conv
DTYPES = (np.float32, np.float64)


def _weight(array: np.ndarray, dtype: Any) -> np.ndarray:
    """A drawn weight in ``dtype``, remembered with the cast for repro scripts."""
    cast = array.astype(dtype)
    recipe = S.recipe_of(array)
    return S.remember(cast, f"{recipe}.astype(np.{np.dtype(dtype).name})") if recipe else cast


@st.composite
def adapt_cases(draw: st.DrawFn) -> Case:
    """in_chans 1..8 and an RGB weight (O 1..4, kernel 1..3 per axis) in float32 or float64."""
    out_channels, kh, kw = draw(S.dims(1, 4)), draw(S.dims(1, 3)), draw(S.dims(1, 3))
    dtype = draw(st.sampled_from(DTYPES))
    weight = draw(S.seeded_arrays((out_channels, 3, kh, kw), name="conv_weight"))
    return {"in_chans": draw(st.integers(1, 8)), "conv_weight": _weight(weight, dtype)}


def adapt_notebook() -> list[NamedCase]:
    """One case per branch of the rule, on a (8, 3, 3, 3) weight (seed 231)."""
    rng = np.random.RandomState(231)
    w32 = rng.randn(8, 3, 3, 3).astype(np.float32)
    w64 = rng.randn(8, 3, 3, 3)
    return [
        NamedCase("hand-picked: in_chans 1 (a grey-scale input), float32 weight (8, 3, 3, 3), seed 231",
                  {"in_chans": 1, "conv_weight": w32}),
        NamedCase("hand-picked: in_chans 4 (RGB + near infrared), float32 weight (8, 3, 3, 3), seed 231",
                  {"in_chans": 4, "conv_weight": w32}),
        NamedCase("hand-picked: in_chans 2, float64 weight (8, 3, 3, 3), seed 231",
                  {"in_chans": 2, "conv_weight": w64}),
        NamedCase("hand-picked: in_chans 3 (unchanged), float64 weight (8, 3, 3, 3), seed 231",
                  {"in_chans": 3, "conv_weight": w64}),
    ]


def adapt_scale() -> list[Case]:
    """A ResNet stem's weight (64, 3, 7, 7) in float32, adapted to 1 and to 5 channels."""
    weight = _weight(S.standard_normal(2317, (64, 3, 7, 7), 0.1, name="conv_weight"), np.float32)
    return [{"in_chans": 1, "conv_weight": weight}, {"in_chans": 5, "conv_weight": weight}]


def adapt_domain(case: Case) -> bool:
    """An RGB weight (O, 3, kh, kw) in float32 or float64 and in_chans >= 1 (the hand-out's domain; timm's
    space-to-depth weights with more than 3 channels are not part of it)."""
    weight = case["conv_weight"]
    return (weight.ndim == 4 and weight.shape[1] == 3 and weight.dtype in DTYPES
            and isinstance(case["in_chans"], int) and case["in_chans"] >= 1)


ADAPT_REACHES = (
    Reach("in_chans 1", lambda case: case["in_chans"] == 1),
    Reach("in_chans 3", lambda case: case["in_chans"] == 3),
    Reach("in_chans 2 (the tiling cut short)", lambda case: case["in_chans"] == 2),
    Reach("in_chans > 3, not a multiple of 3", lambda case: case["in_chans"] > 3 and case["in_chans"] % 3 != 0),
    Reach("in_chans 6 (two whole tiles)", lambda case: case["in_chans"] == 6),
    Reach("a float32 weight", lambda case: case["conv_weight"].dtype == np.float32),
    Reach("a float64 weight", lambda case: case["conv_weight"].dtype == np.float64),
)


def adapt_errors() -> tuple[ErrorCase, ...]:
    """What the reference rejects as timm does (NotImplementedError) or more plainly (ValueError)."""
    rgb = np.zeros((2, 3, 3, 3), np.float32)
    return (
        ErrorCase("a weight that is not 4-D", {"in_chans": 1, "conv_weight": np.zeros((2, 3, 3), np.float32)},
                  ValueError, r"4-D conv weight"),
        ErrorCase("in_chans 0", {"in_chans": 0, "conv_weight": rgb}, ValueError, r"in_chans must be at least 1"),
        ErrorCase("tiling a weight that is not RGB", {"in_chans": 2, "conv_weight": np.zeros((2, 6, 3, 3), np.float32)},
                  NotImplementedError, r"Weight format not supported by conversion"),
    )
