"""Specs of cs231n's max-pool layers: max_pool_forward/backward, naive and fast.

Inputs are tie-free (a permutation of evenly spaced values plus jitter): with ties the subgradient is not
unique, so a correct student who splits the gradient among tied maxima would be marked wrong, and finite
differences split it too. Geometry is drawn first and the input size derived from it, keeping the hand-out's
assumption ``(H - pool_height) % stride == 0`` and ``(W - pool_width) % stride == 0`` in every example,
shrunk ones included. The cases reach non-square pools, overlapping windows (stride < pool size), strides
larger than the pool (skipped inputs), N = 1 and N > 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, Spec
from graders.specs.conv import (
    both,
    close_to,
    failed,
    failed_check,
    fit,
    input_size,
    only_when,
)
from graders.specs.dense import backward_program, forward_program, handout_backward, packed
from reference.cs231n import conv as R
from reference.functional import pool as P
from reference.functional.im2col import add_windows, windows
from reference.functional.pool import pool_output_shape

#: Upper bound on H and W of generated inputs: keeps the students' loop implementations fast.
MAX_SIZE = 9
POOL_ARGS = ("x", "pool_param")
#: max-pool outputs are input entries and dx entries sums of a few dout entries: any correct code is exact
#: or within an ulp or two; a wrong window is off by at least the tie-free spacing.
ATOL, RTOL = 1e-9, 1e-7


# ---------------------------------------------------------------- cases
def _settings(case: Case) -> tuple[int, int, int]:
    p = case["pool_param"]
    return int(p["pool_height"]), int(p["pool_width"]), int(p["stride"])


def pool_dout_shape(case: Case) -> tuple[int, ...]:
    """(N, C, H', W') of the case's geometry (ValueError if the geometry is invalid)."""
    ph, pw, stride = _settings(case)
    return (*case["x"].shape[:2], *pool_output_shape(case["x"], ph, pw, stride))


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
        "dout": draw(S.seeded_arrays((n, c, out_h, out_w))),
        "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride},
    }


def pool_fixed() -> list[Case]:
    """The notebook's checks: forward on linspace x (2,3,4,4), backward on seed-231 x (3,2,8,8),
    dout (3,2,4,4); both 2x2 pools with stride 2 (randn ties only with probability 0)."""
    x_shape = (2, 3, 4, 4)
    forward = {
        "x": np.linspace(-0.3, 0.4, num=int(np.prod(x_shape))).reshape(x_shape),
        "dout": np.random.RandomState(231).randn(2, 3, 2, 2),
        "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2},
    }
    rng = np.random.RandomState(231)
    backward = {
        "x": rng.randn(3, 2, 8, 8),
        "dout": rng.randn(3, 2, 4, 4),
        "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2},
    }
    return [forward, backward]


def tie_free(shape: tuple[int, ...], seed: int, spacing: float = 1e-3, jitter: float = 1e-4) -> np.ndarray:
    """A fixed tie-free array (the property cases' construction, S.tie_free_arrays): a permutation of evenly
    spaced values plus a jitter below half the spacing, so every two entries differ by at least 0.8e-3.
    The spacing is small so that 65,536 entries stay within about +-33."""
    size = int(np.prod(shape))
    rng = np.random.default_rng(seed)
    base = (rng.permutation(size) - (size - 1) / 2.0) * spacing
    return (base + rng.uniform(-jitter, jitter, size)).reshape(shape)


def pool_scale() -> list[Case]:
    """A conv layer's activations at CIFAR size: x (4, 16, 32, 32), the notebook's 2x2 pool with stride 2."""
    return [{
        "x": tie_free((4, 16, 32, 32), seed=2316),
        "dout": np.random.default_rng(2317).standard_normal((4, 16, 16, 16)),
        "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2},
    }]


def describe_pool(case: Case) -> str:
    ph, pw, stride = _settings(case)
    return f"x {tuple(case['x'].shape)}, pool {ph}x{pw}, stride {stride}"


# ---------------------------------------------------------------- reference and torch
def pool_expected(
    forward: Callable[..., Any], backward: Callable[..., Any]
) -> Callable[[Case], dict[str, Any]]:
    def expected(case: Case) -> dict[str, Any]:
        out, cache = forward(case["x"], case["pool_param"])
        return {"out": out, "dx": backward(case["dout"], cache)}

    return expected


def torch_pool(case: Case) -> dict[str, Any]:
    import torch

    ph, pw, stride = _settings(case)
    x = torch.tensor(case["x"], requires_grad=True)
    out = torch.nn.functional.max_pool2d(x, (ph, pw), stride=stride)
    out.backward(torch.tensor(case["dout"]))
    assert x.grad is not None
    return {"out": out.detach().numpy(), "dx": x.grad.numpy()}


def pool_scalar(case: Case) -> float:
    """sum(max_pool(x) * dout), the scalar whose gradient the backward computes."""
    return float(np.sum(R.max_pool_forward_fast(case["x"], case["pool_param"])[0] * case["dout"]))


# ---------------------------------------------------------------- diagnoses
def _overlapping(case: Case) -> bool:
    ph, pw, stride = _settings(case)
    return stride < ph or stride < pw


def _coverage(case: Case) -> np.ndarray:
    """How many pooling windows contain each input position."""
    ph, pw, stride = _settings(case)
    ones = np.ones((1, 1, *case["x"].shape[2:]))
    return add_windows(np.ones_like(windows(ones, (ph, pw), stride)), ones.shape, stride)[0, 0]


def wrong_only_where_windows_overlap(runs: Sequence[CaseRun]) -> bool:
    """Every wrong dx entry lies in more than one window (where contributions must add up)."""
    evidence = 0
    for run in (r for r in runs if failed(r)):
        got = run.actual.get("dx")
        want = np.asarray(run.expected["dx"])
        if run.error is not None or not isinstance(got, np.ndarray) or got.shape != want.shape:
            return False
        wrong = ~np.isclose(got, want, rtol=RTOL, atol=ATOL)
        if wrong[..., _coverage(run.case) < 2].any():
            return False
        evidence += int(failed_check(run, "dx"))
    return evidence > 0


Geometry = tuple[int, int, int]


def clipped_pool(case: Case, geometry: Geometry, positions: tuple[int, ...]) -> dict[str, np.ndarray]:
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


def geometry_bug(buggy: Callable[[Case], Geometry]) -> Callable[[Sequence[CaseRun]], bool]:
    """A detector for code that pools with ``buggy(case)`` instead of the case's geometry.

    Runs fail only where the two geometries differ (and one run where they agree passes), and every failing
    run that returned something has exactly the outputs loops with the buggy geometry produce (others may
    have crashed on a window past the edge); at least one must. Every, not some: on a tiny input two wrong
    geometries can clip to the same windows, and one such run must not name the wrong bug.
    """

    def differs(case: Case) -> bool:
        return buggy(case) != _settings(case)

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
            if not (close_to(got, want, crop=False) or got.shape == want.shape and got.size == 0):
                return False  # (an empty result is what the buggy loops give when no window fits)
        return True

    def applies(runs: Sequence[CaseRun]) -> bool:
        answered = [r for r in runs if failed(r) and r.error is None]
        if not answered or not only_when(differs, strict=False)(runs):
            return False
        return all(explained(r) for r in answered)

    return applies


def _swapped(case: Case) -> Geometry:
    ph, pw, stride = _settings(case)
    return pw, ph, stride


def _square_pool(runs: Sequence[CaseRun]) -> bool:
    """pool_height used for the width too, or pool_width for the height."""
    candidates: list[Callable[[Case], Geometry]] = [
        lambda case: (_settings(case)[0], _settings(case)[0], _settings(case)[2]),
        lambda case: (_settings(case)[1], _settings(case)[1], _settings(case)[2]),
    ]
    return any(geometry_bug(buggy)(runs) for buggy in candidates)


def _stride_ignored(runs: Sequence[CaseRun]) -> bool:
    """The stride replaced by 1, by 2 (the notebook's value) or by one of the pool sizes."""
    candidates: list[Callable[[Case], Geometry]] = [
        lambda case: (*_settings(case)[:2], 1),
        lambda case: (*_settings(case)[:2], 2),
        lambda case: (*_settings(case)[:2], _settings(case)[0]),
        lambda case: (*_settings(case)[:2], _settings(case)[1]),
    ]
    return any(geometry_bug(buggy)(runs) for buggy in candidates)


def pool_diagnoses(backward: bool) -> tuple[Diagnosis, ...]:
    found = []
    if backward:
        found.append(
            Diagnosis(
                "overlap_overwritten",
                "Overlapping windows overwrite each other's gradient: dx[...] = ... where it must be "
                "dx[...] += ... "
                "(wrong only where windows overlap, i.e. stride < pool size).",
                both(only_when(_overlapping, strict=False), wrong_only_where_windows_overlap),
            )
        )
    found += [
        Diagnosis(
            "pool_height_width_swapped",
            "Pool height and width are swapped: it fails only for non-square pools "
            "(pool_height != pool_width).",
            geometry_bug(_swapped),
        ),
        Diagnosis(
            "pool_assumed_square",
            "The pool is treated as square: one of pool_height / pool_width is used for both sides, so it "
            "fails only for non-square pools.",
            _square_pool,
        ),
        Diagnosis(
            "pool_stride_ignored",
            "The stride is ignored: the results match pooling with a fixed stride, not pool_param['stride'].",
            _stride_ignored,
        ),
    ]
    return tuple(found)


# ---------------------------------------------------------------- specs
CONVENTION = (
    "no padding; cases keep (H - pool_height) % stride == 0 and (W - pool_width) % stride == 0 "
    "(the hand-out's "
    "assumption); tie-free inputs, so first-max and split-among-maxima gradients agree"
)


def _forward(
    name: str,
    module: str,
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    same_as: str | None = None,
) -> Spec:
    return Spec(
        name=name,
        module=module,
        api="function",
        cases=pool_cases,
        fixed_cases=pool_fixed,
        scale_cases=pool_scale,
        program=forward_program(module, name, *POOL_ARGS),
        expected=pool_expected(forward, backward),
        torch_expected=torch_pool,
        checks=(
            Check("out", atol=ATOL, rtol=RTOL, description="out (N, C, H', W'): the maximum of each window"),
        ),
        diagnoses=pool_diagnoses(backward=False),
        describe=describe_pool,
        convention=CONVENTION,
        same_as=same_as,
        read_only=POOL_ARGS,
        dtype_preserving=True,
    )


def _backward(
    name: str,
    module: str,
    forward_name: str,
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    same_as: str | None = None,
    handout_cache: bool = False,
) -> Spec:
    """``handout_cache``: the hand-out fixes the forward's cache as ``(x, pool_param)`` (the naive layer;
    fast_layers' caches hold what the student's forward computed)."""
    return Spec(
        name=name,
        module=module,
        api="function",
        cases=pool_cases,
        fixed_cases=pool_fixed,
        scale_cases=pool_scale,
        program=backward_program(module, forward_name, name, POOL_ARGS, ("dx",)),
        handout_program=handout_backward(module, name, packed(*POOL_ARGS), ("dx",)) if handout_cache else None,
        expected=pool_expected(forward, backward),
        torch_expected=torch_pool,
        checks=(
            Check(
                "dx",
                atol=ATOL,
                rtol=RTOL,
                description="dout routed to each window's maximum, summed on overlaps",
            ),
        ),
        gradients=(GradientCheck("dx", "x", pool_scalar),),
        diagnoses=pool_diagnoses(backward=True),
        describe=describe_pool,
        depends_on=(forward_name,),
        convention=CONVENTION,
        same_as=same_as,
        read_only=(*POOL_ARGS, "dout"),
    )


def max_pool_forward_naive() -> Spec:
    """cs231n's max_pool_forward_naive(x, pool_param) -> (out, cache); the reference loops over windows."""
    return _forward("max_pool_forward_naive", "layers", R.max_pool_forward_naive, R.max_pool_backward_naive)


def max_pool_backward_naive() -> Spec:
    """cs231n's max_pool_backward_naive(dout, cache) -> dx, after the student's own forward, or with the
    hand-out's cache (x, pool_param) where that fails."""
    return _backward(
        "max_pool_backward_naive",
        "layers",
        "max_pool_forward_naive",
        R.max_pool_forward_naive,
        R.max_pool_backward_naive,
        handout_cache=True,
    )


def max_pool_forward_fast() -> Spec:
    """fast_layers' max_pool_forward_fast: the same function as the naive one (strided-view reference)."""
    return _forward(
        "max_pool_forward_fast",
        "fast_layers",
        R.max_pool_forward_fast,
        R.max_pool_backward_fast,
        same_as="max_pool_forward_naive",
    )


def max_pool_backward_fast() -> Spec:
    return _backward(
        "max_pool_backward_fast",
        "fast_layers",
        "max_pool_forward_fast",
        R.max_pool_forward_fast,
        R.max_pool_backward_fast,
        same_as="max_pool_backward_naive",
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "max_pool_forward_naive": max_pool_forward_naive,
    "max_pool_backward_naive": max_pool_backward_naive,
    "max_pool_forward_fast": max_pool_forward_fast,
    "max_pool_backward_fast": max_pool_backward_fast,
}
