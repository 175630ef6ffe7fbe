"""The convolution specs' inputs: the notebook's own checks, realistic sizes, the domain, what the property cases
must reach, and what the reference rejects.

The property cases are kit/windows.py's ``conv_cases`` (geometry drawn first, so every example and every shrink
is a valid convolution). cs231n's cases keep ``(H + 2 pad - HH) % stride == 0`` on both axes, as the hand-out
lets students assume; the extras (dilated 2-D and 1-D convolution) follow torch's floor semantics, so their
cases also reach sizes that do not divide.
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
    conv_divides,
    conv_dout_shape,
    conv_geometry,
    dout_fits,
    out_size,
)


# ---------------------------------------------------------------- cs231n's conv layer
def conv_notebook() -> list[NamedCase]:
    """The notebook's two checks, with its own inputs."""
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    forward = {
        "x": np.linspace(-0.1, 0.5, num=int(np.prod(x_shape))).reshape(x_shape),
        "w": np.linspace(-0.2, 0.3, num=int(np.prod(w_shape))).reshape(w_shape),
        "b": np.linspace(-0.1, 0.2, num=3),
        "dout": np.random.RandomState(231).randn(2, 3, 2, 2),
        "conv_param": {"stride": 2, "pad": 1},
    }
    rng = np.random.RandomState(231)
    backward = {
        "x": rng.randn(4, 3, 5, 5),
        "w": rng.randn(2, 3, 3, 3),
        "b": rng.randn(2),
        "dout": rng.randn(4, 2, 5, 5),
        "conv_param": {"stride": 1, "pad": 1},
    }
    return [
        NamedCase("notebook: conv_forward_naive x (2, 3, 4, 4), w (3, 3, 4, 4), stride 2 pad 1, linspace", forward),
        NamedCase("notebook: conv_backward_naive x (4, 3, 5, 5), w (2, 3, 3, 3), dout (4, 2, 5, 5), stride 1 "
                  "pad 1, seed 231", backward),
    ]


def conv_scale() -> list[Case]:
    """CIFAR-sized images: x (2, 3, 32, 32) through 8 filters of 3x3 (stride 1, pad 1, the notebook's
    ConvNet layer), and through 8 filters of 4x4 with stride 2 and pad 1 (a downsampling layer whose windows
    tile the padded input, as the hand-out lets students assume).

    Why not 4 images and 16 filters: a student's loops over n, f, i, j and c take 1.7 s for the forward
    alone there (the backward's program runs the forward too); these take about 0.4 s and 0.1 s.
    """
    x = S.standard_normal(2314, (2, 3, 32, 32), name="x")
    cases = []
    for i, (kernel, stride, pad) in enumerate(((3, 1, 1), (4, 2, 1))):
        size = out_size(32, kernel, stride, pad)
        cases.append({
            "x": x,
            "w": S.standard_normal(2314, (8, 3, kernel, kernel), 0.1, name=f"w{i}"),
            "b": S.standard_normal(2314, (8,), name=f"b{i}"),
            "dout": S.standard_normal(2314, (2, 8, size, size), name=f"dout{i}"),
            "conv_param": {"stride": stride, "pad": pad},
        })
    return cases


def conv_domain(case: Case) -> bool:
    """Integer output sizes (the hand-out's assumption) and a dout of the output's shape."""
    return conv_divides(case) and dout_fits(conv_dout_shape)(case)


def _x(case: Case) -> tuple[int, ...]:
    return tuple(case["x"].shape)


def _w(case: Case) -> tuple[int, ...]:
    return tuple(case["w"].shape)


#: Both traditions' cases reach these.
PADDED_STRIDES = Reach("pad > 0 with stride > 1",
                       lambda case: conv_geometry(case)[1] > 0 and conv_geometry(case)[0] > 1)
MANY_CHANNELS = Reach("N > 1, C = 3, F = 3", lambda case: _x(case)[0] > 1 and _x(case)[1] == 3 and _w(case)[0] == 3)

CONV_REACHES = (
    Reach("pad 0", lambda case: conv_geometry(case)[1] == 0),
    PADDED_STRIDES,
    Reach("non-square kernel", lambda case: _w(case)[2] != _w(case)[3]),
    Reach("non-square input", lambda case: _x(case)[2] != _x(case)[3]),
    Reach("N = 1", lambda case: _x(case)[0] == 1),
    MANY_CHANNELS,
)


def describe_conv(case: Case) -> str:
    geometry = case.get("conv_param") or {k: case[k] for k in ("stride", "pad", "dilation") if k in case}
    settings = ", ".join(f"{k} {v}" for k, v in geometry.items())
    return f"x {tuple(case['x'].shape)}, w {tuple(case['w'].shape)}, {settings}"


# ---------------------------------------------------------------- the extras: dilated 2-D and 1-D convolution
def extras_cases(spatial_dims: int) -> Callable[[], st.SearchStrategy[Case]]:
    """Dilation up to 3 (2-D) or 2 (1-D), sizes that need not divide, inputs up to 11 (2-D) or 14 (1-D)."""
    two = spatial_dims == 2
    return lambda: conv_cases(spatial_dims=spatial_dims, max_kernel=3 if two else 4, max_dilation=3 if two else 2,
                              divisible=False, limit=11 if two else 14)


def extras_notebook(spatial_dims: int) -> Callable[[], list[NamedCase]]:
    """One hand-picked case per extra: dilation 2 with stride 2 and padding, sizes that do not divide."""

    def notebook() -> list[NamedCase]:
        rng = np.random.RandomState(231)
        out: tuple[int, ...]
        if spatial_dims == 2:
            x, w = rng.randn(2, 3, 9, 8), rng.randn(4, 3, 3, 2)
            out = (out_size(9, 5, 2, 1), out_size(8, 3, 2, 1))
        else:
            x, w = rng.randn(2, 3, 12), rng.randn(4, 3, 3)
            out = (out_size(12, 5, 2, 1),)
        case = {"x": x, "w": w, "b": rng.randn(4), "dout": rng.randn(2, 4, *out), "stride": 2, "pad": 1,
                "dilation": 2}
        label = (f"hand-picked: x {x.shape}, w {w.shape}, dilation 2, stride 2, pad 1 (sizes that do not divide), "
                 "seed 231")
        return [NamedCase(label, case)]

    return notebook


def extras_scale(spatial_dims: int) -> Callable[[], list[Case]]:
    """One realistic size per extra: 16 filters of 3x3 with dilation 2 on (2, 3, 32, 32) images; 16 filters of
    5 with dilation 2 and stride 2 on (4, 8, 128) sequences."""

    def scale() -> list[Case]:
        x_shape: tuple[int, ...]
        w_shape: tuple[int, ...]
        if spatial_dims == 2:
            x_shape, w_shape, (stride, pad, dilation) = (2, 3, 32, 32), (16, 3, 3, 3), (1, 2, 2)
            out: tuple[int, ...] = (out_size(32, 5, 1, 2),) * 2
        else:
            x_shape, w_shape, (stride, pad, dilation) = (4, 8, 128), (16, 8, 5), (2, 4, 2)
            out = (out_size(128, 9, 2, 4),)
        return [{
            "x": S.standard_normal(2315, x_shape, name="x"),
            "w": S.standard_normal(2315, w_shape, 0.1, name="w"),
            "b": S.standard_normal(2315, (16,), name="b"),
            "dout": S.standard_normal(2315, (x_shape[0], 16, *out), name="dout"),
            "stride": stride,
            "pad": pad,
            "dilation": dilation,
        }]

    return scale


def _does_not_divide(case: Case) -> bool:
    stride, pad, dilation = conv_geometry(case)
    extents = (dilation * (k - 1) + 1 for k in _w(case)[2:])
    return any((s + 2 * pad - e) % stride != 0 for s, e in zip(_x(case)[2:], extents, strict=True))


EXTRAS_REACHES = (
    Reach("dilation > 1", lambda case: conv_geometry(case)[2] > 1),
    Reach("a size that does not divide", _does_not_divide),
    PADDED_STRIDES,
    MANY_CHANNELS,
)


# ---------------------------------------------------------------- what the reference rejects
def _conv_case(x: tuple[int, ...], w: tuple[int, ...], b: tuple[int, ...], *, dout: tuple[int, ...] = (1, 1, 1, 1),
               cs231n: bool, **geometry: Any) -> Case:
    """An error case of zeros (the values do not matter): geometry in ``conv_param`` for cs231n's layer, as
    the extras' own keys otherwise (stride 1, pad 0, dilation 1 unless given)."""
    settings = {"stride": 1, "pad": 0, **geometry}
    arrays = {"x": np.zeros(x), "w": np.zeros(w), "b": np.zeros(b), "dout": np.zeros(dout)}
    if cs231n:
        return {**arrays, "conv_param": settings}
    return {**arrays, "dilation": 1, **settings}


def conv_errors(*, cs231n: bool) -> tuple[ErrorCase, ...]:
    """Bad shapes and settings a 2-D convolution's forward rejects, each with a ValueError naming it."""
    good = {"x": (1, 1, 5, 5), "w": (1, 1, 3, 3), "b": (1,)}

    def case(**changes: Any) -> Case:
        shapes = {k: changes.pop(k, v) for k, v in good.items()}
        return _conv_case(shapes["x"], shapes["w"], shapes["b"], cs231n=cs231n, **changes)

    return (
        ErrorCase("x is not 4-D", case(x=(2, 3, 5), w=(2, 3, 3, 3), b=(2,)), ValueError,
                  r"x must be 4-D .* got shape \(2, 3, 5\)"),
        ErrorCase("w is not 4-D", case(x=(2, 3, 5, 5), w=(2, 3, 3), b=(2,)), ValueError,
                  r"w must be 4-D .* got shape \(2, 3, 3\)"),
        ErrorCase("x and w disagree on the channels", case(x=(2, 3, 5, 5), w=(2, 4, 3, 3), b=(2,)), ValueError,
                  r"channels disagree: x \(2, 3, 5, 5\)"),
        ErrorCase("b is not one bias per filter", case(x=(2, 3, 5, 5), w=(2, 3, 3, 3), b=(3,)), ValueError,
                  r"b must have shape \(2,\).* got \(3,\)"),
        ErrorCase("stride 0", case(stride=0), ValueError, r"stride must be >= 1, got 0"),
        ErrorCase("a negative pad", case(pad=-1), ValueError, r"pad must be >= 0, got -1"),
        ErrorCase("a stride that is not an integer", case(stride=1.5), ValueError, r"stride must be an integer"),
        ErrorCase("a pad that is a bool", case(pad=True), ValueError, r"pad must be an integer"),
        ErrorCase("a kernel taller than the padded input", case(x=(1, 1, 2, 5)), ValueError,
                  r"x \(1, 1, 2, 5\), w \(1, 1, 3, 3\): kernel size 3 does not fit .* axis 0: "
                  r"input size 2 \+ 2 \* pad 0"),
    )


def conv_param_errors() -> tuple[ErrorCase, ...]:
    """What cs231n's conv layer rejects: the convolution's bad inputs and a conv_param without its pad."""
    no_pad = {**_conv_case((1, 1, 4, 4), (1, 1, 3, 3), (1,), cs231n=True), "conv_param": {"stride": 1}}
    return (*conv_errors(cs231n=True), ErrorCase("conv_param without pad", no_pad, ValueError, r"missing \['pad'\]"))


def dout_errors(*, cs231n: bool) -> tuple[ErrorCase, ...]:
    """A dout that is not the output's shape (a backward's own input)."""
    case = _conv_case((1, 1, 5, 5), (1, 1, 3, 3), (1,), dout=(1, 1, 2, 2), cs231n=cs231n, pad=1)
    return (ErrorCase("dout is not the output's shape", case, ValueError,
                      r"dout has shape \(1, 1, 2, 2\), expected \(1, 1, 5, 5\)"),)


def conv2d_dilated_errors() -> tuple[ErrorCase, ...]:
    dilated = _conv_case((1, 1, 5, 5), (1, 1, 3, 3), (1,), cs231n=False, dilation=3)
    return (*conv_errors(cs231n=False), *dout_errors(cs231n=False),
            ErrorCase("a dilated kernel wider than the input", dilated, ValueError,
                      r"kernel size 3 \(dilation 3 spreads it over 7\) does not fit"))


def conv1d_errors() -> tuple[ErrorCase, ...]:
    return (
        ErrorCase("x is not 3-D", _conv_case((2, 3, 5, 5), (2, 3, 3), (2,), cs231n=False), ValueError,
                  r"x must be 3-D \(N, C, L\)"),
        ErrorCase("a pad for two axes", _conv_case((2, 3, 5), (2, 3, 3), (2,), cs231n=False, pad=(1, 1)),
                  ValueError, r"pad must be an int or 1 ints"),
    )
