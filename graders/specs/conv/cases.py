"""The convolution specs' inputs: the notebook's own checks, realistic sizes, the domain, what the property cases
must reach, and what the reference rejects.

The property cases are kit/windows.py's ``conv_cases`` (geometry drawn first, so every example and every shrink
is a valid convolution). cs231n's cases keep ``(H + 2 pad - HH) % stride == 0`` on both axes, as the hand-out
lets students assume. (The dilated 2-D and 1-D layers are the extras assignment's: graders/specs/extras/.)
"""

from __future__ import annotations

import numpy as np

from graders.specs import strategies as S
from graders.specs.base import Case, ErrorCase, NamedCase, Reach
from graders.specs.kit.windows import (
    conv_divides,
    conv_dout_shape,
    conv_error_case,
    conv_errors,
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


# ---------------------------------------------------------------- what the reference rejects
def conv_param_errors() -> tuple[ErrorCase, ...]:
    """What cs231n's conv layer rejects: the convolution's bad inputs and a conv_param without its pad."""
    no_pad = {**conv_error_case((1, 1, 4, 4), (1, 1, 3, 3), (1,)), "conv_param": {"stride": 1}}
    return (*conv_errors(), ErrorCase("conv_param without pad", no_pad, ValueError, r"missing \['pad'\]"))
