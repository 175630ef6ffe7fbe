"""Convolution and pooling window geometry, shared by cs231n's layers (conv/, pool.py), the extras' dilated and
1-D layers (extras/) and the book's (dlfs/convolution.py, dlfs/util.py).

Cases draw the *geometry first* (stride, pad, kernel, number of output positions) and derive the input size
from it, so every example -- shrunk ones included -- is a valid window arrangement. Pooling inputs are
tie-free (:func:`tie_free`, strategies.tie_free_arrays), so the subgradient of a maximum is unique. The domain
predicates here (:func:`dout_fits`, :func:`conv_divides`, :func:`pool_divides`, :func:`window_maxima_unique`)
state those promises for ``Spec.domain``. The bug models recompute the reference on a changed geometry
(:func:`with_param`, :func:`clipped_pool`) for the detectors of graders/specs/kit/detectors.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, ErrorCase
from graders.specs.kit.detectors import WINDOW_ATOL, Detector, close, fit, only_when
from graders.specs.kit.torch import torch_autograd
from reference.cs231n import conv as R
from reference.functional import conv as F
from reference.functional import pool as P
from reference.functional.im2col import windows

#: Upper bound on H and W of generated inputs: keeps the students' loop implementations fast.
MAX_SIZE = 9
#: The arguments of cs231n's conv_forward, in order.
CONV_ARGS = ("x", "w", "b", "conv_param")
#: (pool_height, pool_width, stride).
Geometry = tuple[int, int, int]


# ---------------------------------------------------------------- sizes
def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def out_size(size: int, extent: int, stride: int, pad: int) -> int:
    """Output positions of a window of ``extent`` along one axis: floor, as torch and the book's int
    truncation (the same as the exact size where the geometry divides)."""
    return (size + 2 * pad - extent) // stride + 1


@st.composite
def input_size(
    draw: st.DrawFn, extent: int, stride: int, pad: int, limit: int = MAX_SIZE, divisible: bool = True
) -> int:
    """An input size >= 1 (and <= limit) for a window of ``extent`` with this stride and pad.

    Drawn as "smallest valid size + a number of extra output positions (+ a remainder the floor discards)",
    so every draw and every shrink is valid. With ``divisible`` the last window ends exactly at the padded
    border: ``(size + 2 pad - extent) % stride == 0``.
    """
    fewest_outputs = max(1, _ceil_div(2 * pad + 1 - extent, stride) + 1)
    smallest = (fewest_outputs - 1) * stride + extent - 2 * pad
    size = smallest + stride * draw(st.integers(0, max(0, (limit - smallest) // stride)))
    if not divisible:
        size += draw(st.integers(0, max(0, min(stride - 1, limit - size))))
    return size


def conv_settings(case: Case) -> tuple[int, int]:
    """(stride, pad) of a case's ``conv_param``."""
    return int(case["conv_param"]["stride"]), int(case["conv_param"]["pad"])


def pool_settings(case: Case) -> Geometry:
    """(pool_height, pool_width, stride) of a case's ``pool_param``."""
    p = case["pool_param"]
    return int(p["pool_height"]), int(p["pool_width"]), int(p["stride"])


def conv_geometry(case: Case) -> tuple[int, int, int]:
    """(stride, pad, dilation) of a convolution case's ``conv_param`` (dilation 1 where it has none, as in
    cs231n's layer)."""
    stride, pad = conv_settings(case)
    return stride, pad, int(case["conv_param"].get("dilation", 1))


def conv_dout_shape(case: Case) -> tuple[int, ...]:
    """(N, F, *spatial output) of the case's convolution, 1-D or 2-D (ValueError if the geometry is invalid)."""
    stride, pad, dilation = conv_geometry(case)
    x, w = case["x"], case["w"]
    spatial = F.conv_output_shape(x, w, None, stride, pad, dilation, spatial_dims=x.ndim - 2)
    return (x.shape[0], w.shape[0], *spatial)


def pool_dout_shape(case: Case) -> tuple[int, ...]:
    """(N, C, H', W') of the case's max pool, floored (ValueError if the geometry is invalid)."""
    ph, pw, stride = pool_settings(case)
    return (*case["x"].shape[:2], *P.pool_output_shape(case["x"], ph, pw, stride))


# ---------------------------------------------------------------- domains
#: Smallest gap between a pooling window's maximum and its runner-up in every case: central differences with
#: h = 1e-5 never change which entry is the maximum (that needs a gap below 2h), and neither does rounding.
TIE_MARGIN = 1e-4


def dout_fits(shape_of: Callable[[Case], tuple[int, ...]]) -> Callable[[Case], bool]:
    """A domain predicate: the geometry is valid and ``dout`` has the output's shape (``shape_of(case)``)."""

    def fits(case: Case) -> bool:
        try:
            return tuple(case["dout"].shape) == tuple(shape_of(case))
        except ValueError:
            return False

    return fits


def _divides(sizes: Sequence[int], extents: Sequence[int], stride: int, pad: int) -> bool:
    return all((s + 2 * pad - e) % stride == 0 for s, e in zip(sizes, extents, strict=True))


def conv_divides(case: Case) -> bool:
    """The windows tile the padded input exactly, ``(H + 2 pad - HH) % stride == 0`` on both axes: cs231n lets
    students assume integer output sizes (its notebook's conv_forward_naive says so)."""
    stride, pad = conv_settings(case)
    return _divides(case["x"].shape[2:], case["w"].shape[2:], stride, pad)


def pool_divides(case: Case) -> bool:
    """``(H - pool_height) % stride == 0`` and the same for W: cs231n's max-pool assumption."""
    ph, pw, stride = pool_settings(case)
    return _divides(case["x"].shape[2:], (ph, pw), stride, 0)


def window_maxima_unique(case: Case, margin: float = TIE_MARGIN) -> bool:
    """Every pooling window's maximum beats its runner-up by ``margin`` (a single-entry window trivially): the
    subgradient is unique, and first-max and split-among-maxima gradients agree."""
    ph, pw, stride = pool_settings(case)
    if ph * pw == 1:
        return True
    taps = windows(case["x"], (ph, pw), stride)
    ranked = np.sort(taps.reshape(*taps.shape[:4], -1), axis=-1)
    return bool(np.all(ranked[..., -1] - ranked[..., -2] >= margin))


def relu_pool_clear(s: np.ndarray, margin: float) -> bool:
    """Every 2x2 window (stride 2) of a ReLU output ``s`` (N, C, H, W) with a positive maximum has it ``margin``
    above the runner-up: a network's conv - relu - pool is then smooth where it is differenced. All-zero
    windows are harmless: every candidate's ReLU input is negative, so its gradient is 0 whichever wins."""
    n, c, h, w = s.shape
    ranked = np.sort(s.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(-1, 4), axis=1)
    return bool(np.all((ranked[:, -1] <= 0) | (ranked[:, -1] - ranked[:, -2] >= margin)))


# ---------------------------------------------------------------- cases
@st.composite
def conv_cases(
    draw: st.DrawFn,
    spatial_dims: int = 2,
    max_kernel: int = 4,
    max_dilation: int = 1,
    divisible: bool = True,
    limit: int = MAX_SIZE,
) -> Case:
    """x, w, b, dout and the geometry of one convolution.

    Reaches pad = 0 and pad > 0 with stride > 1, kernels that are not square (HH != WW), inputs that are not
    square, N = 1 and N > 1, and C, F from 1 to 3 (stride 1..3, pad 0..2, kernel 1..max_kernel per axis).
    The geometry is in ``conv_param``: ``{'stride', 'pad'}`` for 2-D cases without dilation (cs231n's layer),
    ``{'stride', 'pad', 'dilation'}`` for the others (the extras assignment's layers).
    """
    n, c, f = draw(S.dims(1, 3)), draw(S.dims(1, 3)), draw(S.dims(1, 3))
    stride = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 2))
    dilation = draw(st.integers(1, max_dilation))
    kernel = tuple(draw(S.dims(1, max_kernel)) for _ in range(spatial_dims))
    extents = [dilation * (k - 1) + 1 for k in kernel]
    sizes = tuple(draw(input_size(e, stride, pad, limit, divisible)) for e in extents)
    outputs = tuple(out_size(s, e, stride, pad) for s, e in zip(sizes, extents, strict=True))
    case: Case = {
        "x": draw(S.seeded_arrays((n, c, *sizes), name="x")),
        "w": draw(S.seeded_arrays((f, c, *kernel), name="w")),
        "b": draw(S.seeded_arrays((f,), name="b")),
        "dout": draw(S.seeded_arrays((n, f, *outputs), name="dout")),
    }
    case["conv_param"] = {"stride": stride, "pad": pad}
    if max_dilation > 1 or spatial_dims != 2:
        case["conv_param"]["dilation"] = dilation
    return case


def tie_free(shape: tuple[int, ...], seed: int, spacing: float = 1e-3, jitter: float = 1e-4) -> np.ndarray:
    """A fixed tie-free array (the property cases' construction, S.tie_free_arrays): a permutation of evenly
    spaced values plus a jitter below half the spacing, so every two entries differ by at least 0.8e-3.
    The spacing is small so that 65,536 entries stay within about +-33."""
    size = int(np.prod(shape))
    rng = np.random.default_rng(seed)
    base = (rng.permutation(size) - (size - 1) / 2.0) * spacing
    return (base + rng.uniform(-jitter, jitter, size)).reshape(shape)


# ---------------------------------------------------------------- reference and torch
def conv_expected(
    forward: Callable[..., Any], backward: Callable[..., Any]
) -> Callable[[Case], dict[str, Any]]:
    """Reference outputs of a cs231n-style forward/backward pair: out, dx, dw, db."""

    def expected(case: Case) -> dict[str, Any]:
        out, cache = forward(*(case[a] for a in CONV_ARGS))
        dx, dw, db = backward(case["dout"], cache)
        return {"out": out, "dx": dx, "dw": dw, "db": db}

    return expected


#: The fast reference, for detectors that recompute the answer on a modified case (many times, so fast).
reference_outputs = conv_expected(R.conv_forward_fast, R.conv_backward_fast)


def torch_conv(case: Case) -> dict[str, Any]:
    """out, dx, dw and db of torch's conv2d or conv1d (by x's rank) with the case's conv_param, dilation
    included."""
    import torch.nn.functional as TF

    stride, pad, dilation = conv_geometry(case)
    conv = TF.conv2d if case["x"].ndim == 4 else TF.conv1d
    return torch_autograd(
        case, (("x", "dx"), ("w", "dw"), ("b", "db")),
        lambda x, w, b: conv(x, w, b, stride=stride, padding=pad, dilation=dilation),
    )


def describe_conv(case: Case) -> str:
    """One line for a report: the shapes of x and w and every conv_param setting."""
    settings = ", ".join(f"{k} {v}" for k, v in case["conv_param"].items())
    return f"x {tuple(case['x'].shape)}, w {tuple(case['w'].shape)}, {settings}"


def torch_pool(case: Case) -> dict[str, Any]:
    """out and dx of torch's max_pool2d with the case's pool_param."""
    import torch.nn.functional as TF

    ph, pw, stride = pool_settings(case)
    return torch_autograd(case, (("x", "dx"),), lambda x: TF.max_pool2d(x, (ph, pw), stride=stride))


# ---------------------------------------------------------------- geometry bug models
def with_param(
    param_name: str, key: str, value: int, dout_shape: Callable[[Case], tuple[int, ...]]
) -> Callable[[Case], Case | None]:
    """A variant for :func:`~graders.specs.kit.detectors.explained_by`: ``case[param_name][key]`` replaced by
    ``value`` and dout fitted to the new output shape; None where the case already has that value (the bug
    would not show) or the changed geometry is invalid."""

    def variant(case: Case) -> Case | None:
        params = dict(case[param_name])
        if params[key] == value:
            return None
        params[key] = value
        changed = {**case, param_name: params}
        try:
            shape = dout_shape(changed)
        except ValueError:
            return None
        return {**changed, "dout": fit(case["dout"], shape)}

    return variant


def clipped_pool(case: Case, geometry: Geometry, positions: Sequence[int]) -> dict[str, np.ndarray]:
    """out and dx of loop code that visits ``positions`` output positions with the windows of ``geometry``
    (pool_height, pool_width, stride), clipped at the input's edge the way NumPy slicing clips them.

    Buggy geometry (swapped pool sizes, a wrong stride) rarely crashes: a loop over ``range(out_h)`` or over
    dout's shape just reads shorter windows near the edge. Extending x with -inf reproduces exactly that.
    """
    ph, pw, stride = geometry
    x = case["x"]
    n, c, h, w = x.shape
    oh, ow = positions
    # at least one window tall and wide: code that finds no window gives an empty result, not an error
    tall, wide = max(h, (oh - 1) * stride + ph, ph), max(w, (ow - 1) * stride + pw, pw)
    extended = np.full((n, c, tall, wide), -np.inf)
    extended[:, :, :h, :w] = x
    full = P.max_pool2d(extended, ph, pw, stride)
    dx = P.max_pool2d_grads(fit(case["dout"], full.shape), extended, ph, pw, stride)
    return {"out": full[:, :, :oh, :ow], "dx": dx[:, :, :h, :w]}


def geometry_bug(buggy: Callable[[Case], Geometry]) -> Detector:
    """A detector for code that pools with ``buggy(case)`` instead of the case's geometry.

    Runs fail only where the two geometries differ (and one run where they agree passes), and every failing
    run that returned something has exactly the outputs loops with the buggy geometry produce (others may
    have crashed on a window past the edge); at least one must. Every, not some: on a tiny input two wrong
    geometries can clip to the same windows, and one such run must not name the wrong bug.
    """

    def differs(case: Case) -> bool:
        return buggy(case) != pool_settings(case)

    def explained(run: CaseRun) -> bool:
        if run.error is not None or not run.actual:
            return False
        for name, got in run.actual.items():
            if not isinstance(got, np.ndarray) or got.ndim != 4:
                return False
            positions = got.shape[2:] if name == "out" else run.case["dout"].shape[2:]
            want = clipped_pool(run.case, buggy(run.case), positions).get(name)
            if want is None or not np.all(np.isfinite(want)):
                return False
            if not (close(got, want, atol=WINDOW_ATOL) or got.shape == want.shape and got.size == 0):
                return False  # (an empty result is what the buggy loops give when no window fits)
        return True

    def applies(runs: Sequence[CaseRun]) -> bool:
        answered = [r for r in runs if r.failed and r.error is None]
        if not answered or not only_when(differs, strict=False)(runs):
            return False
        return all(explained(r) for r in answered)

    return applies


# ---------------------------------------------------------------- what a convolution rejects
def conv_error_case(x: tuple[int, ...], w: tuple[int, ...], b: tuple[int, ...], *,
                    dout: tuple[int, ...] = (1, 1, 1, 1), **settings: Any) -> Case:
    """An error case of zeros (the values do not matter), ``settings`` in its conv_param (stride 1 and pad 0
    unless given; a ``dilation`` only where given)."""
    arrays = {"x": np.zeros(x), "w": np.zeros(w), "b": np.zeros(b), "dout": np.zeros(dout)}
    return {**arrays, "conv_param": {"stride": 1, "pad": 0, **settings}}


def conv_errors(**settings: Any) -> tuple[ErrorCase, ...]:
    """Bad shapes and settings a 2-D convolution's forward rejects, each with a ValueError naming it;
    ``settings`` go into every case's conv_param (``dilation=1`` for a layer that requires the key)."""
    good = {"x": (1, 1, 5, 5), "w": (1, 1, 3, 3), "b": (1,)}

    def case(**changes: Any) -> Case:
        shapes = {k: changes.pop(k, v) for k, v in good.items()}
        return conv_error_case(shapes["x"], shapes["w"], shapes["b"], **{**settings, **changes})

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


def dout_errors(**settings: Any) -> tuple[ErrorCase, ...]:
    """A dout that is not the output's shape (a backward's own input)."""
    case = conv_error_case((1, 1, 5, 5), (1, 1, 3, 3), (1,), dout=(1, 1, 2, 2), **{"pad": 1, **settings})
    return (ErrorCase("dout is not the output's shape", case, ValueError,
                      r"dout has shape \(1, 1, 2, 2\), expected \(1, 1, 5, 5\)"),)
