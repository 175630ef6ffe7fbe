"""The sandwiches' cases: kink-free property cases, the notebook's checks, realistic sizes; domain and reach.

A sandwich's kinks are its parts' kinks, and an input must stay clear of all of them for the gradient to be
unique (and for finite differences to find it):

  * ReLU: every ReLU input (the affine / conv / batch-norm output) has |value| >= MARGIN;
  * 2x2 max pool after the ReLU: in each window whose maximum is positive, the maximum beats the runner-up by
    at least MARGIN. Windows where the ReLU zeroed all four values are tied, but harmless: every candidate has
    a strictly negative pre-activation, so whichever the pool picks, the ReLU sends 0 back, and a small
    perturbation keeps all four at 0. So those windows are allowed and nothing is excluded from the checks;
  * batch norm inside conv-bn-ReLU: at least 3 values per channel and a per-channel variance of the conv
    output well above eps.

Inputs failing these are redrawn from the next seed (``strategies.seeded_until``). The convolution output of
conv-ReLU-pool has even height and width so the notebook's 2x2, stride 2 pooling tiles it. Scale cases only
need their kinks clear of rounding (SCALE_MARGIN): they are judged against the reference, never by finite
differences; the declared domain is that weaker margin, which every tier satisfies.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, NamedCase, Reach
from reference import cs231n as R
from reference.functional import normalization as NORM

#: Smallest |ReLU input| and smallest gap between a positive pool maximum and its runner-up.
MARGIN = 1e-3
#: The same for scale cases: judged against the reference only, so the kinks need only be clear of rounding.
SCALE_MARGIN = 1e-6
#: The conv output feeding batch norm keeps each channel's variance above this fraction of its typical size.
VARIANCE_FLOOR = 0.05
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}
NOTEBOOK_SEED = 231
SCALE_SEED = 2314

Arrays = tuple[np.ndarray, ...]


# ---------------------------------------------------------------- clear of kinks
def relu_inputs_clear(a: np.ndarray, margin: float = MARGIN) -> bool:
    return bool(np.min(np.abs(a)) >= margin)


def pool_windows_clear(s: np.ndarray, margin: float = MARGIN) -> bool:
    """Every 2x2 window (stride 2) of the ReLU output ``s`` with a positive maximum has a unique maximum,
    ``margin`` above the runner-up."""
    n, c, h, w = s.shape
    windows = s.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(-1, 4)
    ranked = np.sort(windows, axis=1)
    top, runner_up = ranked[:, -1], ranked[:, -2]
    return bool(np.all((top <= 0) | (top - runner_up >= margin)))


def channel_spread(a: np.ndarray, typical: float) -> bool:
    return bool(np.min(np.var(NORM.channels_last_rows(a), axis=0)) >= VARIANCE_FLOOR * typical)


def _affine_clear(margin: float = MARGIN) -> Callable[[Case], bool]:
    return lambda case: relu_inputs_clear(R.affine_forward(case["x"], case["w"], case["b"])[0], margin)


def _conv_clear(pool: bool, bn: bool, margin: float = MARGIN) -> Callable[[Case], bool]:
    """x, w, b (and gamma, beta) of the case clear of the sandwich's kinks (a pooled output tiles evenly)."""

    def ok(case: Case) -> bool:
        a = R.conv_forward_fast(case["x"], case["w"], case["b"], case["conv_param"])[0]
        if bn:
            if not channel_spread(a, float(np.prod(case["w"].shape[1:]))):
                return False
            a = R.spatial_batchnorm_forward(a, case["gamma"], case["beta"], {"mode": "train"})[0]
        if not relu_inputs_clear(a, margin):
            return False
        tiles = a.shape[2] % 2 == 0 and a.shape[3] % 2 == 0
        return not pool or (tiles and pool_windows_clear(np.maximum(a, 0), margin))

    return ok


# ---------------------------------------------------------------- property cases
def input_extent(outputs: int, kernel: int, stride: int, pad: int) -> int:
    """The input size giving exactly ``outputs`` positions, no remainder: (outputs - 1) stride + k - 2 pad."""
    return (outputs - 1) * stride + kernel - 2 * pad


def _outputs_with_valid_input(outputs: int, kernel: int, stride: int, pad: int, step: int) -> int:
    while input_extent(outputs, kernel, stride, pad) < 1:
        outputs += step
    return outputs


@st.composite
def affine_relu_cases(draw: st.DrawFn) -> Case:
    n = draw(S.dims(1, 4))
    features = draw(S.FEATURE_SHAPES)
    d, m = int(np.prod(features)), draw(S.dims(1, 6))

    def build(rng: np.random.Generator) -> Case:
        return {"x": rng.standard_normal((n, *features)), "w": rng.standard_normal((d, m)), "b": rng.standard_normal(m)}

    case = draw(S.seeded_until(build, _affine_clear()))
    return {**case, "dout": draw(S.seeded_arrays((n, m), name="dout"))}


@st.composite
def conv_sandwich_cases(draw: st.DrawFn, pool: bool = False, bn: bool = False) -> Case:
    """x, w, b (+ gamma, beta), conv_param (+ pool_param / bn_param) and dout for a conv sandwich.

    Reaches stride 1 and 2, pad 0 and 1, kernels 1..3 per axis (not only square), N = 1 and N > 1.
    """
    n, c, f = draw(S.dims(1, 3)), draw(S.dims(1, 3)), draw(S.dims(1, 3))
    stride, pad = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    kernel = (draw(S.dims(1, 3)), draw(S.dims(1, 3)))
    step = 2 if pool else 1
    wanted = [draw(st.sampled_from([2, 4])) if pool else draw(S.dims(1, 4)) for _ in kernel]
    outputs = [_outputs_with_valid_input(o, k, stride, pad, step) for o, k in zip(wanted, kernel, strict=True)]
    if bn and n * outputs[0] * outputs[1] < 3:
        n = 3
    size = tuple(input_extent(o, k, stride, pad) for o, k in zip(outputs, kernel, strict=True))
    params: Case = {"conv_param": {"stride": stride, "pad": pad}}
    if bn:
        params["bn_param"] = {"mode": "train"}
    if pool:
        params["pool_param"] = dict(POOL)

    def build(rng: np.random.Generator) -> Case:
        case: Case = {"x": rng.standard_normal((n, c, *size)), "w": rng.standard_normal((f, c, *kernel)),
                      "b": rng.standard_normal(f), **params}
        if bn:
            case.update(gamma=rng.standard_normal(f), beta=rng.standard_normal(f))
        return case

    case = draw(S.seeded_until(build, _conv_clear(pool, bn)))
    out_shape = (n, f, outputs[0] // 2, outputs[1] // 2) if pool else (n, f, *outputs)
    return {**case, "dout": draw(S.seeded_arrays(out_shape, name="dout"))}


# ---------------------------------------------------------------- notebook and scale cases
def _first_clear(label: str, make: Callable[[int], Case], ok: Callable[[Case], bool], seed: int) -> NamedCase:
    """The case of ``seed``, or of the first later seed whose case is clear of kinks; ``label`` names it
    (``{seed}`` is the seed used)."""
    for k in range(seed, seed + 100):
        case = make(k)
        if ok(case):
            return NamedCase(label.format(seed=k), case)
    raise RuntimeError("no kink-free fixed case in 100 seeds")  # pragma: no cover


def affine_relu_notebook() -> list[NamedCase]:
    def make(seed: int) -> Case:
        rng = np.random.RandomState(seed)
        return {"x": rng.randn(2, 3, 4), "w": rng.randn(12, 10), "b": rng.randn(10), "dout": rng.randn(2, 10)}

    return [_first_clear("notebook: affine_relu check, x (2, 3, 4) to 10 units, seed {seed}", make, _affine_clear(),
                         NOTEBOOK_SEED)]


def conv_notebook(*, size: int, pool: bool, bn: bool) -> Callable[[], list[NamedCase]]:
    """The notebook's sandwich check: x (2, 3, size, size), w (3, 3, 3, 3), stride 1, pad 1."""
    out = size // 2 if pool else size
    base = "conv_bn_relu" if bn else "conv_relu_pool" if pool else "conv_relu"
    label = (f"notebook: {base} check, x (2, 3, {size}, {size}), w (3, 3, 3, 3), stride 1 pad 1"
             + (", 2x2 pooling" if pool else "") + ", seed {seed}")

    def make(seed: int) -> Case:
        rng = np.random.RandomState(seed)
        case: Case = {"x": rng.randn(2, 3, size, size), "w": rng.randn(3, 3, 3, 3), "b": rng.randn(3),
                      "conv_param": {"stride": 1, "pad": 1}}
        if bn:
            case.update(gamma=rng.randn(3), beta=rng.randn(3), bn_param={"mode": "train"})
        if pool:
            case["pool_param"] = dict(POOL)
        case["dout"] = rng.randn(2, 3, out, out)
        return case

    return lambda: [_first_clear(label, make, _conv_clear(pool, bn), NOTEBOOK_SEED)]


def affine_relu_scale() -> list[Case]:
    """64 examples of shape (3, 8, 8) onto 100 units."""

    def make(seed: int) -> Case:
        return {"x": S.standard_normal(seed, (64, 3, 8, 8), name="x"),
                "w": S.standard_normal(seed, (192, 100), 1 / 8, name="w"),
                "b": S.standard_normal(seed, (100,), name="b"), "dout": S.standard_normal(seed, (64, 100), name="dout")}

    return [_first_clear("", make, _affine_clear(SCALE_MARGIN), SCALE_SEED).inputs]


def conv_scale(*, pool: bool, bn: bool) -> Callable[[], list[Case]]:
    """4 images (3, 32, 32), 16 filters 3x3, stride 1, pad 1 (then 2x2 pooling, or train-mode batch norm with
    an input spread of 100 so that eps is below 5e-8 of every channel's std)."""
    out = 16 if pool else 32

    def make(seed: int) -> Case:
        case: Case = {"x": S.standard_normal(seed, (4, 3, 32, 32), 100.0 if bn else 1.0, name="x"),
                      "w": S.standard_normal(seed, (16, 3, 3, 3), name="w"),
                      "b": S.standard_normal(seed, (16,), name="b"),
                      "conv_param": {"stride": 1, "pad": 1}}
        if bn:
            case.update(gamma=S.standard_normal(seed, (16,), name="gamma"),
                        beta=S.standard_normal(seed, (16,), name="beta"), bn_param={"mode": "train"})
        if pool:
            case["pool_param"] = dict(POOL)
        case["dout"] = S.standard_normal(seed, (4, 16, out, out), name="dout")
        return case

    return lambda: [_first_clear("", make, _conv_clear(pool, bn, SCALE_MARGIN), SCALE_SEED).inputs]


# ---------------------------------------------------------------- domain and reach
def _dout_fits(case: Case, out: np.ndarray) -> bool:
    return bool(case["dout"].shape == out.shape)


def affine_relu_domain(case: Case) -> bool:
    """Every ReLU input clear of 0 (by SCALE_MARGIN at least), dout of the output's shape."""
    out = R.affine_relu_forward(case["x"], case["w"], case["b"])[0]
    return _affine_clear(SCALE_MARGIN)(case) and _dout_fits(case, out)


def conv_domain(*, pool: bool, bn: bool) -> Callable[[Case], bool]:
    """Every kink cleared by SCALE_MARGIN at least, batch norm's channels spread, dout of the output's shape."""
    clear = _conv_clear(pool, bn, SCALE_MARGIN)

    def domain(case: Case) -> bool:
        if not clear(case):
            return False
        a = R.conv_forward_fast(case["x"], case["w"], case["b"], case["conv_param"])[0]
        shape = (*a.shape[:2], a.shape[2] // 2, a.shape[3] // 2) if pool else a.shape
        return bool(case["dout"].shape == shape)

    return domain


def _relu_both_ways(case: Case) -> bool:
    a = R.affine_forward(case["x"], case["w"], case["b"])[0]
    return bool(np.any(a < 0) and np.any(a > 0))


def _param(key: str, value: int) -> Callable[[Case], bool]:
    return lambda case: case["conv_param"][key] == value


AFFINE_RELU_REACHES = (
    Reach("x with several feature axes (flattened to rows)", lambda case: case["x"].ndim >= 3),
    Reach("several examples (N > 1)", lambda case: case["x"].shape[0] > 1),
    Reach("a ReLU that zeroes some values and passes others", _relu_both_ways),
)
CONV_REACHES = (
    Reach("stride 2", _param("stride", 2)),
    Reach("pad 1", _param("pad", 1)),
    Reach("stride 2 with pad 1", lambda case: _param("stride", 2)(case) and _param("pad", 1)(case)),
    Reach("a kernel that is not square", lambda case: case["w"].shape[2] != case["w"].shape[3]),
    Reach("several images (N > 1)", lambda case: case["x"].shape[0] > 1),
)
POOL_REACHES = (*CONV_REACHES, Reach("several pooling windows per image", lambda case: case["dout"][0, 0].size > 1))
