"""Specs of cs231n's max-pool layers: max_pool_forward/backward, naive and fast.

Inputs are tie-free (a permutation of evenly spaced values plus jitter): with ties the subgradient is not
unique, so a correct student who splits the gradient among tied maxima would be marked wrong, and finite
differences split it too. Geometry is drawn first and the input size derived from it, keeping the hand-out's
assumption ``(H - pool_height) % stride == 0`` and ``(W - pool_width) % stride == 0`` in every example,
shrunk ones included. The domain states both promises; the reaches name the geometries that matter
(non-square pools, overlapping windows, strides larger than the pool, N = 1 and N > 1).

Declarations first, then cases, diagnoses with their bug models, and the truth; the forward/backward pair is
built by kit/layer_specs.py (shared with the conv and dense layers), the geometry is kit/windows.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, ErrorCase, GradientCheck, NamedCase, Reach, Spec
from graders.specs.kit.detectors import both, only_when
from graders.specs.kit.gradients import weighted
from graders.specs.kit.layer_specs import LayerInputs, backward_spec, forward_spec
from graders.specs.kit.programs import packed
from graders.specs.kit.tolerances import PRODUCT_SUMS
from graders.specs.kit.windows import (
    MAX_SIZE,
    Geometry,
    clipped_pool,
    dout_fits,
    geometry_bug,
    input_size,
    pool_divides,
    pool_dout_shape,
    pool_settings,
    tie_free,
    torch_pool,
    window_maxima_unique,
)
from reference.cs231n import conv as R
from reference.functional.im2col import add_windows, windows


def max_pool_forward_naive() -> Spec:
    """cs231n's max_pool_forward_naive(x, pool_param) -> (out, cache); the reference loops over windows."""
    return forward_spec(layer=LAYER, name="max_pool_forward_naive", module="layers",
                        expected=pool_expected(R.max_pool_forward_naive, R.max_pool_backward_naive), check=OUT,
                        diagnoses=pool_diagnoses(backward=False), errors=pool_errors())


def max_pool_backward_naive() -> Spec:
    """cs231n's max_pool_backward_naive(dout, cache) -> dx, after the student's own forward, or with the
    hand-out's cache (x, pool_param) where that fails."""
    return backward_spec(layer=LAYER, name="max_pool_backward_naive", module="layers",
                         forward_name="max_pool_forward_naive",
                         expected=pool_expected(R.max_pool_forward_naive, R.max_pool_backward_naive),
                         checks=(DX,), gradients=(GradientCheck("dx", "x", pool_scalar),),
                         diagnoses=pool_diagnoses(backward=True), errors=dout_errors(),
                         handout_cache=packed(*POOL_ARGS))


def max_pool_forward_fast() -> Spec:
    """fast_layers' max_pool_forward_fast: the same function as the naive one (strided-view reference)."""
    return forward_spec(layer=LAYER, name="max_pool_forward_fast", module="fast_layers",
                        expected=pool_expected(R.max_pool_forward_fast, R.max_pool_backward_fast), check=OUT,
                        diagnoses=pool_diagnoses(backward=False), errors=pool_errors(),
                        same_as="max_pool_forward_naive")


def max_pool_backward_fast() -> Spec:
    """fast_layers' max_pool_backward_fast; no hand-out cache (fast_layers' caches hold what the student's
    forward computed)."""
    return backward_spec(layer=LAYER, name="max_pool_backward_fast", module="fast_layers",
                         forward_name="max_pool_forward_fast",
                         expected=pool_expected(R.max_pool_forward_fast, R.max_pool_backward_fast),
                         checks=(DX,), gradients=(GradientCheck("dx", "x", pool_scalar),),
                         diagnoses=pool_diagnoses(backward=True), errors=dout_errors(),
                         same_as="max_pool_backward_naive")


FACTORIES: dict[str, Callable[..., Spec]] = {
    "max_pool_forward_naive": max_pool_forward_naive,
    "max_pool_backward_naive": max_pool_backward_naive,
    "max_pool_forward_fast": max_pool_forward_fast,
    "max_pool_backward_fast": max_pool_backward_fast,
}


# ---------------------------------------------------------------- what the declarations share
POOL_ARGS = ("x", "pool_param")
OUT = Check("out", tol=PRODUCT_SUMS, description="out (N, C, H', W'): the maximum of each window")
DX = Check("dx", tol=PRODUCT_SUMS, description="dout routed to each window's maximum, summed on overlaps")


def pool_domain(case: Case) -> bool:
    """Windows that tile the input (the hand-out's assumption), a dout of the output's shape, and a unique
    maximum in every window."""
    return pool_divides(case) and dout_fits(pool_dout_shape)(case) and window_maxima_unique(case)


def _geometry(case: Case) -> tuple[int, int, int, int]:
    """(N, pool_height, pool_width, stride)."""
    return (case["x"].shape[0], *pool_settings(case))


POOL_REACHES = (
    Reach("non-square pool", lambda case: _geometry(case)[1] != _geometry(case)[2]),
    Reach("overlapping windows", lambda case: _geometry(case)[3] < min(_geometry(case)[1:3])),
    Reach("stride > pool size", lambda case: _geometry(case)[3] > max(_geometry(case)[1:3])),
    Reach("N = 1", lambda case: _geometry(case)[0] == 1),
    Reach("N > 1", lambda case: _geometry(case)[0] > 1),
)


# ---------------------------------------------------------------- cases
@st.composite
def pool_cases(draw: st.DrawFn) -> Case:
    """x (tie-free), dout and pool_param: pool sizes 1..4 per axis, stride 1..3, H and W up to 9."""
    n, c = draw(S.dims(1, 3)), draw(S.dims(1, 3))
    stride = draw(st.integers(1, 3))
    ph, pw = draw(S.dims(1, 4)), draw(S.dims(1, 4))
    h = draw(input_size(ph, stride, 0, MAX_SIZE))
    w = draw(input_size(pw, stride, 0, MAX_SIZE))
    out_h, out_w = (h - ph) // stride + 1, (w - pw) // stride + 1
    return {
        "x": draw(S.tie_free_arrays((n, c, h, w))),
        "dout": draw(S.seeded_arrays((n, c, out_h, out_w), name="dout")),
        "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride},
    }


def pool_notebook() -> list[NamedCase]:
    """The notebook's two checks, with its own inputs (randn ties only with probability 0)."""
    x_shape = (2, 3, 4, 4)
    two_by_two = {"pool_height": 2, "pool_width": 2, "stride": 2}
    forward = {
        "x": np.linspace(-0.3, 0.4, num=int(np.prod(x_shape))).reshape(x_shape),
        "dout": np.random.RandomState(231).randn(2, 3, 2, 2),
        "pool_param": dict(two_by_two),
    }
    rng = np.random.RandomState(231)
    backward = {"x": rng.randn(3, 2, 8, 8), "dout": rng.randn(3, 2, 4, 4), "pool_param": dict(two_by_two)}
    return [
        NamedCase("notebook: max_pool_forward_naive x (2, 3, 4, 4), 2x2 pool stride 2, linspace", forward),
        NamedCase("notebook: max_pool_backward_naive x (3, 2, 8, 8), dout (3, 2, 4, 4), 2x2 pool stride 2, "
                  "seed 231", backward),
    ]


def pool_scale() -> list[Case]:
    """A conv layer's activations at CIFAR size: x (4, 16, 32, 32), the notebook's 2x2 pool with stride 2."""
    return [{
        "x": tie_free((4, 16, 32, 32), seed=2316),
        "dout": S.standard_normal(2317, (4, 16, 16, 16), name="dout"),
        "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2},
    }]


def describe_pool(case: Case) -> str:
    ph, pw, stride = pool_settings(case)
    return f"x {tuple(case['x'].shape)}, pool {ph}x{pw}, stride {stride}"


LAYER = LayerInputs(
    args=POOL_ARGS,
    cases=pool_cases,
    notebook=pool_notebook,
    scale=pool_scale,
    domain=pool_domain,
    reaches=POOL_REACHES,
    torch_expected=torch_pool,
    describe=describe_pool,
    convention="no padding; cases keep (H - pool_height) % stride == 0 and (W - pool_width) % stride == 0 (the "
               "hand-out's assumption); tie-free inputs, so first-max and split-among-maxima gradients agree",
)


# ---------------------------------------------------------------- what the reference rejects
def _pool_case(x: tuple[int, ...], *, dout: tuple[int, ...] = (1, 1, 1, 1), **pool_param: int) -> Case:
    return {"x": np.zeros(x), "dout": np.zeros(dout), "pool_param": pool_param}


def pool_errors() -> tuple[ErrorCase, ...]:
    """Bad inputs a max pool's forward rejects, each with a ValueError naming the problem."""
    return (
        ErrorCase("x is not 4-D", _pool_case((3, 5, 5), pool_height=2, pool_width=2, stride=2), ValueError,
                  r"x must be 4-D"),
        ErrorCase("a pool taller than the input", _pool_case((1, 1, 3, 5), pool_height=4, pool_width=2, stride=1),
                  ValueError, r"pool size 4 does not fit .* axis 0"),
        ErrorCase("stride 0", _pool_case((1, 1, 6, 6), pool_height=2, pool_width=2, stride=0), ValueError,
                  r"stride must be >= 1"),
        ErrorCase("pool_param without pool_width", _pool_case((1, 1, 4, 4), pool_height=2, stride=2), ValueError,
                  r"pool_param is missing \['pool_width'\]"),
    )


def dout_errors() -> tuple[ErrorCase, ...]:
    """A dout that is not the output's shape (the backward's own input)."""
    case = _pool_case((1, 1, 6, 6), dout=(1, 1, 2, 2), pool_height=2, pool_width=2, stride=2)
    return (ErrorCase("dout is not the output's shape", case, ValueError,
                      r"dout has shape \(1, 1, 2, 2\), expected \(1, 1, 3, 3\)"),)


# ---------------------------------------------------------------- diagnoses
def pool_diagnoses(*, backward: bool) -> tuple[Diagnosis, ...]:
    """The geometry bugs, read from out (forward) or dx (backward); the backward also names overwritten
    overlaps."""
    reads = ("dx",) if backward else ("out",)
    found = []
    if backward:
        found.append(Diagnosis(
            "overlap_overwritten",
            "Overlapping windows overwrite each other's gradient: dx[...] = ... where it must be dx[...] += ... "
            "(wrong only where windows overlap, i.e. stride < pool size).",
            both(only_when(_overlapping, strict=False), wrong_only_where_windows_overlap),
            reads=reads,
            bug=overwritten_on_overlaps,
        ))
    found += [
        Diagnosis(
            "pool_height_width_swapped",
            "Pool height and width are swapped: it fails only for non-square pools (pool_height != pool_width).",
            geometry_bug(swapped),
            reads=reads,
            bug=lambda case: pooled_with(case, swapped(case)),
        ),
        Diagnosis(
            "pool_assumed_square",
            "The pool is treated as square: one of pool_height / pool_width is used for both sides, so it "
            "fails only for non-square pools.",
            lambda runs: any(geometry_bug(buggy)(runs) for buggy in SQUARED),
            reads=reads,
            bug=lambda case: pooled_with(case, SQUARED[0](case)),
        ),
        Diagnosis(
            "pool_stride_ignored",
            "The stride is ignored: the results match pooling with a fixed stride, not pool_param['stride'].",
            lambda runs: any(geometry_bug(buggy)(runs) for buggy in FIXED_STRIDES),
            reads=reads,
            bug=lambda case: pooled_with(case, FIXED_STRIDES[0](case)),
        ),
    ]
    return tuple(found)


def _overlapping(case: Case) -> bool:
    ph, pw, stride = pool_settings(case)
    return stride < ph or stride < pw


def _coverage(case: Case) -> np.ndarray:
    """How many pooling windows contain each input position."""
    ph, pw, stride = pool_settings(case)
    ones = np.ones((1, 1, *case["x"].shape[2:]))
    return add_windows(np.ones_like(windows(ones, (ph, pw), stride)), ones.shape, stride)[0, 0]


def wrong_only_where_windows_overlap(runs: Sequence[CaseRun]) -> bool:
    """Every wrong dx entry lies in more than one window (where contributions must add up)."""
    evidence = 0
    for run in (r for r in runs if r.failed):
        got = run.actual.get("dx")
        want = np.asarray(run.expected["dx"])
        if run.error is not None or not isinstance(got, np.ndarray) or got.shape != want.shape:
            return False
        wrong = ~np.isclose(got, want, rtol=PRODUCT_SUMS.rtol, atol=PRODUCT_SUMS.atol)
        if wrong[..., _coverage(run.case) < 2].any():
            return False
        evidence += int(run.failed_on("dx"))
    return evidence > 0


def swapped(case: Case) -> Geometry:
    ph, pw, stride = pool_settings(case)
    return pw, ph, stride


#: pool_height used for the width too, or pool_width for the height.
SQUARED: tuple[Callable[[Case], Geometry], ...] = (
    lambda case: (pool_settings(case)[0], pool_settings(case)[0], pool_settings(case)[2]),
    lambda case: (pool_settings(case)[1], pool_settings(case)[1], pool_settings(case)[2]),
)
#: The stride replaced by 1, by 2 (the notebook's value) or by one of the pool sizes.
FIXED_STRIDES: tuple[Callable[[Case], Geometry], ...] = (
    lambda case: (*pool_settings(case)[:2], 1),
    lambda case: (*pool_settings(case)[:2], 2),
    lambda case: (*pool_settings(case)[:2], pool_settings(case)[0]),
    lambda case: (*pool_settings(case)[:2], pool_settings(case)[1]),
)


# ---------------------------------------------------------------- bug models
def pooled_with(case: Case, geometry: Geometry) -> dict[str, np.ndarray]:
    """out and dx of loops over the right output positions with windows of the wrong ``geometry``."""
    return clipped_pool(case, geometry, case["dout"].shape[2:])


def overwritten_on_overlaps(case: Case) -> dict[str, np.ndarray]:
    """dx of loops that assign each window's gradient (dx[window] = ...) instead of adding it."""
    ph, pw, stride = pool_settings(case)
    x, dout = case["x"], case["dout"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + ph), slice(j * stride, j * stride + pw)
            window = x[:, :, rows, cols]
            dx[:, :, rows, cols] = (window == window.max(axis=(2, 3), keepdims=True)) * dout[:, :, i, j, None, None]
    return {"dx": dx}


# ---------------------------------------------------------------- reference
def pool_expected(forward: Callable[..., Any], backward: Callable[..., Any]) -> Callable[[Case], dict[str, Any]]:
    def expected(case: Case) -> dict[str, Any]:
        out, cache = forward(case["x"], case["pool_param"])
        return {"out": out, "dx": backward(case["dout"], cache)}

    return expected


#: sum(max_pool(x) * dout), the scalar whose gradient the backward computes.
pool_scalar = weighted(lambda case: R.max_pool_forward_fast(case["x"], case["pool_param"])[0])
