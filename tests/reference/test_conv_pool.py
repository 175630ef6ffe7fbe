"""Convolution and pooling: what the generated registry tests do not cover.

Error messages no spec exposes; im2col's layout (pinned by hand) and col2im being its adjoint; floor
semantics; max-pool's first-maximum rule and -inf padding; 1-D conv as a unit-height 2-D conv; the loop and
im2col paths agreeing where torch does not look (dilation, per-axis settings); the property cases staying small;
and the diagnoses on student-style loop code: each names its bug, and only there (every diagnosis also fires on
its declared ``bug`` in tests/reference/test_spec_fields.py).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graders.sandbox.inprocess import run_case
from graders.specs import conv as conv_specs
from graders.specs import pool as pool_specs
from graders.specs.base import Case, CaseRun, Spec
from graders.specs.kit import windows
from reference.cs231n import conv as R
from reference.functional import conv as C
from reference.functional import pool as P
from reference.functional.im2col import col2im, im2col

RNG = np.random.default_rng(231)


def randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


# ---------------------------------------------------------------- error inputs
# What a spec's reference rejects is declared on the spec (Spec.errors, checked by test_spec_fields.py); these
# are the reference's arguments no spec exposes (cs231n's max pool has no pad, the book's Pooling is graded
# with pad 0 only).
def test_a_pool_pad_over_half_the_pool_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"pad 2 is more than half the pool height 2"):
        P.max_pool2d(randn(1, 1, 6, 6), 2, 2, 2, pad=2)


@pytest.mark.parametrize("conv", [C.conv2d, C.conv2d_loops])
def test_both_conv_paths_validate_the_same_way(conv: Callable[..., np.ndarray]) -> None:
    with pytest.raises(ValueError, match="channels disagree"):
        conv(randn(1, 2, 4, 4), randn(1, 3, 2, 2), randn(1))


# ---------------------------------------------------------------- im2col / col2im
def test_im2col_layout_rows_n_oy_ox_and_columns_c_ky_kx() -> None:
    x = np.arange(18, dtype=float).reshape(1, 2, 3, 3)  # channel 0 holds 0..8, channel 1 holds 9..17
    expected = np.array(
        [
            [0, 1, 3, 4, 9, 10, 12, 13],  # (oy, ox) = (0, 0): c0 taps (ky, kx) row-major, then c1
            [1, 2, 4, 5, 10, 11, 13, 14],  # (0, 1)
            [3, 4, 6, 7, 12, 13, 15, 16],  # (1, 0)
            [4, 5, 7, 8, 13, 14, 16, 17],  # (1, 1)
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(im2col(x, 2, 2), expected)
    two_images = np.concatenate([x, x + 100.0])
    np.testing.assert_array_equal(im2col(two_images, 2, 2), np.vstack([expected, expected + 100.0]))


def test_im2col_pads_with_zeros_and_strides() -> None:
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    col = im2col(x, 2, 2, stride=1, pad=1)
    assert col.shape == (9, 4)
    np.testing.assert_array_equal(col[0], [0, 0, 0, 1])
    np.testing.assert_array_equal(col[4], [1, 2, 3, 4])
    np.testing.assert_array_equal(col[8], [4, 0, 0, 0])
    np.testing.assert_array_equal(
        im2col(x, 2, 2, stride=2, pad=1), [[0, 0, 0, 1], [0, 0, 2, 0], [0, 3, 0, 0], [4, 0, 0, 0]]
    )


def test_im2col_returns_a_fresh_writable_array_even_for_a_single_window() -> None:
    x = randn(1, 2, 3, 3)  # one 3x3 window covering all of x: the layout equals x's own memory
    col = im2col(x, 3, 3)
    np.testing.assert_array_equal(col, x.reshape(1, -1))
    assert col.flags.writeable and not np.shares_memory(col, x)


@st.composite
def window_geometries(draw: st.DrawFn) -> dict[str, Any]:
    """Any valid geometry: per-axis stride, pad and dilation, sizes that need not divide."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pad = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    sizes = tuple(
        draw(windows.input_size(d * (k - 1) + 1, s, p, limit=10, divisible=False))
        for k, s, p, d in zip(kernel, stride, pad, dilation, strict=True)
    )
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return {
        "shape": (n, c, *sizes),
        "kernel": kernel,
        "stride": stride,
        "pad": pad,
        "dilation": dilation,
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


@given(window_geometries())
def test_col2im_is_the_adjoint_of_im2col(g: dict[str, Any]) -> None:
    rng = np.random.default_rng(g["seed"])
    x = rng.standard_normal(g["shape"])
    settings = {"stride": g["stride"], "pad": g["pad"], "dilation": g["dilation"]}
    col = im2col(x, *g["kernel"], **settings)
    other = rng.standard_normal(col.shape)
    back = col2im(other, x.shape, *g["kernel"], **settings)
    assert back.shape == x.shape
    assert np.isclose(np.vdot(col, other), np.vdot(x, back), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- floor semantics
def test_sizes_that_do_not_divide_are_floored_and_the_rest_ignored() -> None:
    x, w, b = randn(2, 2, 6, 7), randn(3, 2, 2, 3), randn(3)
    # out = (6 - 2) // 3 + 1 = 2 rows and (7 - 3) // 3 + 1 = 2 columns; rows 5 and columns 6 are never read
    for conv in (C.conv2d, C.conv2d_loops):
        out = conv(x, w, b, stride=3)
        assert out.shape == (2, 3, 2, 2)
        np.testing.assert_allclose(out, conv(x[:, :, :5, :6], w, b, stride=3), rtol=1e-13, atol=1e-13)
    dout = randn(2, 3, 2, 2)
    for grads in (C.conv2d_grads, C.conv2d_grads_loops):
        dx, _, _ = grads(dout, x, w, stride=3)
        assert not dx[:, :, 5:, :].any() and not dx[:, :, :, 6:].any()
    assert im2col(x, 2, 3, stride=3).shape == (2 * 2 * 2, 2 * 2 * 3)
    pooled = P.max_pool2d(x, 2, 2, 2)  # (6 - 2) // 2 + 1 = 3, (7 - 2) // 2 + 1 = 3
    assert pooled.shape == (2, 2, 3, 3)
    np.testing.assert_array_equal(pooled, P.max_pool2d_loops(x[:, :, :, :6], 2, 2, 2))


# ---------------------------------------------------------------- max pool
POOL_GRADS = [P.max_pool2d_grads, P.max_pool2d_grads_loops]


@pytest.mark.parametrize("grads", POOL_GRADS)
def test_max_pool_ties_send_the_gradient_to_the_first_maximum(grads: Callable[..., np.ndarray]) -> None:
    x = np.array([[[[1.0, 5.0], [5.0, 5.0]]]])  # three tied maxima: the first in row-major order wins
    np.testing.assert_array_equal(grads(np.array([[[[2.0]]]]), x, 2, 2, 1), [[[[0.0, 2.0], [0.0, 0.0]]]])
    flat = np.zeros((1, 1, 3, 3))  # every window all ties; each sends its dout to its own top-left corner
    np.testing.assert_array_equal(
        grads(np.ones((1, 1, 2, 2)), flat, 2, 2, 1)[0, 0], [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    )


@pytest.mark.parametrize("grads", POOL_GRADS)
def test_overlapping_windows_accumulate(grads: Callable[..., np.ndarray]) -> None:
    x = np.array(
        [[[[0.0, 1.0, 0.0], [0.0, 9.0, 0.0], [0.0, 2.0, 0.0]]]]
    )  # 9 is the max of all four 2x2 windows
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = np.zeros_like(x)
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(grads(dout, x, 2, 2, 1), expected)


@pytest.mark.parametrize("pad", [1, (1, 0), (0, 1)])
@given(seed=st.integers(0, 2**32 - 1), stride=st.integers(1, 2))
def test_max_pool_padding_is_explicit_minus_infinity_padding(pad: Any, seed: int, stride: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, 5, 4)) - 10.0  # all negative: zero padding would win every border window
    ph, pw = (pad, pad) if isinstance(pad, int) else pad
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    for pool, grads in ((P.max_pool2d, P.max_pool2d_grads), (P.max_pool2d_loops, P.max_pool2d_grads_loops)):
        out = pool(x, 3, 2, stride, pad=pad)
        np.testing.assert_array_equal(out, pool(padded, 3, 2, stride))
        dout = rng.standard_normal(out.shape)
        through_padding = grads(dout, padded, 3, 2, stride)
        np.testing.assert_array_equal(
            grads(dout, x, 3, 2, stride, pad=pad), through_padding[:, :, ph : ph + 5, pw : pw + 4]
        )
        assert not through_padding[:, :, :ph].any() and not through_padding[:, :, :, :pw].any()


def test_float32_pooling_stays_float32() -> None:
    x = randn(2, 2, 4, 4).astype(np.float32)
    assert P.max_pool2d(x, 2, 2, 2, pad=1).dtype == np.float32
    assert P.max_pool2d_grads(np.ones((2, 2, 3, 3), np.float32), x, 2, 2, 2, pad=1).dtype == np.float32


# ---------------------------------------------------------------- the two conv paths, 1-D conv
@given(window_geometries())
def test_loop_and_im2col_paths_agree_with_dilation_and_per_axis_settings(g: dict[str, Any]) -> None:
    rng = np.random.default_rng(g["seed"])
    x = rng.standard_normal(g["shape"])
    w = rng.standard_normal((2, g["shape"][1], *g["kernel"]))
    b = rng.standard_normal(2)
    settings = (g["stride"], g["pad"], g["dilation"])
    out = C.conv2d(x, w, b, *settings)
    np.testing.assert_allclose(out, C.conv2d_loops(x, w, b, *settings), rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for fast, slow in zip(
        C.conv2d_grads(dout, x, w, *settings), C.conv2d_grads_loops(dout, x, w, *settings), strict=True
    ):
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)


@given(
    seed=st.integers(0, 2**32 - 1),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    dilation=st.integers(1, 2),
    k=st.integers(1, 3),
    extra=st.integers(0, 4),
)
def test_conv1d_is_conv2d_on_a_unit_height_image(
    seed: int, stride: int, pad: int, dilation: int, k: int, extra: int
) -> None:
    rng = np.random.default_rng(seed)
    length = max(1, dilation * (k - 1) + 1 - 2 * pad) + extra
    x, w, b = rng.standard_normal((2, 3, length)), rng.standard_normal((2, 3, k)), rng.standard_normal(2)
    # independent route: pad the sequence by hand and use the loop path with a 1 x K kernel
    as_image = np.pad(x, ((0, 0), (0, 0), (pad, pad)))[:, :, None, :]
    kernel = w[:, :, None, :]
    out = C.conv1d(x, w, b, stride, pad, dilation)
    np.testing.assert_allclose(
        out, C.conv2d_loops(as_image, kernel, b, stride, 0, dilation)[:, :, 0], rtol=1e-12, atol=1e-12
    )
    dout = rng.standard_normal(out.shape)
    dx, dw, db = C.conv1d_grads(dout, x, w, stride, pad, dilation)
    dx_image, dw_image, db_image = C.conv2d_grads_loops(
        dout[:, :, None, :], as_image, kernel, stride, 0, dilation
    )
    np.testing.assert_allclose(dx, dx_image[:, :, 0, pad : pad + length], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, dw_image[:, :, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, db_image, rtol=1e-12, atol=1e-12)


def test_naive_and_fast_caches_are_interchangeable() -> None:
    x, w, b, param = randn(2, 3, 5, 5), randn(2, 3, 3, 3), randn(2), {"stride": 2, "pad": 1}
    dout = randn(2, 2, 3, 3)
    _, naive_cache = R.conv_forward_naive(x, w, b, param)
    _, fast_cache = R.conv_forward_fast(x, w, b, param)
    for a, c in zip(
        R.conv_backward_fast(dout, naive_cache), R.conv_backward_naive(dout, fast_cache), strict=True
    ):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- the property cases stay small
# What the cases must reach and the domain they stay in are declared on the specs (Spec.reaches, Spec.domain,
# checked by test_spec_fields.py). The size bound is not part of the domain, since the scale cases are large.
@pytest.mark.parametrize("cases", [windows.conv_cases, pool_specs.pool_cases], ids=["conv", "pool"])
@given(data=st.data())
def test_property_cases_stay_small_for_student_loops(cases: Callable[[], Any], data: st.DataObject) -> None:
    h, w = data.draw(cases())["x"].shape[2:]
    assert 1 <= h <= windows.MAX_SIZE and 1 <= w <= windows.MAX_SIZE


# ---------------------------------------------------------------- diagnoses fire on their bug, and only there
def student_conv(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: int,
    pad: int,
    *,
    step: int | None = None,
    flip: bool = False,
    pad_mode: str = "constant",
    bias: bool = True,
) -> np.ndarray:
    """A plain student-style loop convolution with switches for the classic mistakes."""
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    out = np.zeros((n, f, 1 + (h + 2 * pad - hh) // stride, 1 + (wd + 2 * pad - ww) // stride))
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode=pad_mode)  # type: ignore[call-overload]
    kernel = w[:, :, ::-1, ::-1] if flip else w
    step = stride if step is None else step
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = xp[:, :, i * step : i * step + hh, j * step : j * step + ww]
            out[:, :, i, j] = np.tensordot(window, kernel, axes=([1, 2, 3], [1, 2, 3]))
    return out + b[None, :, None, None] if bias else out


def student_conv_backward(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    stride: int,
    pad: int,
    *,
    negative_slice: bool = False,
    dw_scale: float = 1.0,
    no_db: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _, _, h, wd = x.shape
    hh, ww = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww)
            dw += np.tensordot(dout[:, :, i, j], xp[:, :, rows, cols], axes=([0], [0]))
            dxp[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
    dx = dxp[:, :, pad:-pad, pad:-pad] if negative_slice else dxp[:, :, pad : pad + h, pad : pad + wd]
    db = np.zeros(w.shape[0]) if no_db else dout.sum(axis=(0, 2, 3))
    return dx, dw * dw_scale, db


def conv_module(
    forward: dict[str, Any] | None = None,
    backward: dict[str, Any] | None = None,
    fixed: dict[str, int] | None = None,
) -> dict[str, ModuleType]:
    """A layers module whose conv functions have the given mistakes; ``fixed`` overrides conv_param keys."""
    layers = ModuleType("layers")

    def settings(conv_param: dict[str, int]) -> tuple[int, int]:
        merged = {**conv_param, **(fixed or {})}
        return merged["stride"], merged["pad"]

    def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict[str, int]) -> Any:
        return student_conv(x, w, b, *settings(conv_param), **(forward or {})), (x, w, b, conv_param)

    def conv_backward_naive(dout: np.ndarray, cache: Any) -> Any:
        x, w, _, conv_param = cache
        return student_conv_backward(dout, x, w, *settings(conv_param), **(backward or {}))

    layers.conv_forward_naive = conv_forward_naive  # type: ignore[attr-defined]
    layers.conv_backward_naive = conv_backward_naive  # type: ignore[attr-defined]
    return {"layers": layers}


def conv_case(n: int, c: int, f: int, h: int, w: int, hh: int, ww: int, stride: int, pad: int) -> Case:
    assert (h + 2 * pad - hh) % stride == 0 and (w + 2 * pad - ww) % stride == 0
    out = ((h + 2 * pad - hh) // stride + 1, (w + 2 * pad - ww) // stride + 1)
    return {
        "x": randn(n, c, h, w),
        "w": randn(f, c, hh, ww),
        "b": randn(f),
        "dout": randn(n, f, *out),
        "conv_param": {"stride": stride, "pad": pad},
    }


def conv_evidence() -> list[Case]:
    """The notebook's cases and a spread of geometries, like a grading run's fixed and property cases."""
    return conv_specs.conv_forward_naive().fixed_cases() + [
        conv_case(2, 3, 2, 5, 5, 3, 3, 1, 1),
        conv_case(1, 2, 3, 7, 6, 3, 2, 2, 1),
        conv_case(2, 1, 2, 5, 4, 3, 2, 1, 0),
        conv_case(1, 2, 2, 6, 7, 2, 3, 2, 0),
        conv_case(3, 2, 1, 4, 4, 2, 2, 2, 1),
        conv_case(1, 1, 2, 3, 5, 1, 3, 1, 2),
        conv_case(1, 2, 2, 4, 4, 1, 1, 1, 0),
        conv_case(1, 1, 1, 1, 1, 1, 1, 1, 0),  # what shrinking ends at: one output, which every stride gives
    ]


def diagnosed(spec: Spec, modules: dict[str, ModuleType], cases: list[Case]) -> set[str]:
    runs: list[CaseRun] = [run_case(spec, case, modules) for case in cases]
    return {d.name for d in spec.diagnoses if d.applies(runs)}


CONV_BUGS: list[tuple[str, dict[str, ModuleType], set[str]]] = [
    ("conv_forward_naive", conv_module(), set()),
    ("conv_backward_naive", conv_module(), set()),
    ("conv_backward_naive", conv_module(backward={"negative_slice": True}), {"breaks_when_pad_is_zero"}),
    ("conv_forward_naive", conv_module(forward={"pad_mode": "edge"}), {"wrong_at_padded_border"}),
    ("conv_forward_naive", conv_module(fixed={"pad": 1}), {"pad_hardcoded"}),
    ("conv_forward_naive", conv_module(fixed={"stride": 1}), {"stride_ignored"}),
    ("conv_forward_naive", conv_module(forward={"step": 1}), {"stride_ignored"}),
    ("conv_forward_naive", conv_module(forward={"flip": True}), {"kernel_flipped"}),
    ("conv_forward_naive", conv_module(forward={"bias": False}), {"missing_bias"}),
    ("conv_backward_naive", conv_module(backward={"no_db": True}), {"missing_bias"}),
    ("conv_backward_naive", conv_module(backward={"dw_scale": 0.5}), set()),  # a factor, but not N
]


@pytest.mark.parametrize("spec_name, modules, names", CONV_BUGS)
def test_conv_diagnoses_name_the_bug(spec_name: str, modules: dict[str, ModuleType], names: set[str]) -> None:
    assert diagnosed(conv_specs.FACTORIES[spec_name](), modules, conv_evidence()) == names


def test_a_shrunk_counterexample_is_not_mistaken_for_another_bug() -> None:
    """Shrinking ends at one output position, which every stride and pad variant also gives; an empty dx
    (from x[pad:-pad] with pad = 0) must not "match" those variants."""
    tiny = conv_case(1, 1, 1, 1, 1, 1, 1, 1, 0)
    runs_on = conv_specs.conv_forward_naive().fixed_cases() + [tiny]
    bug = conv_module(backward={"negative_slice": True})
    assert diagnosed(conv_specs.conv_backward_naive(), bug, runs_on) == {"breaks_when_pad_is_zero"}


def test_conv_factor_n_is_diagnosed() -> None:
    cases = conv_evidence()
    layers = conv_module()["layers"]
    correct_backward = layers.conv_backward_naive

    def averaged(dout: np.ndarray, cache: Any) -> Any:
        dx, dw, db = correct_backward(dout, cache)
        return dx, dw / dout.shape[0], db / dout.shape[0]

    layers.conv_backward_naive = averaged  # type: ignore[attr-defined]
    assert diagnosed(conv_specs.conv_backward_naive(), {"layers": layers}, cases) == {"dw_db_factor_n"}


def student_pool(x: np.ndarray, ph: int, pw: int, stride: int) -> np.ndarray:
    n, c, h, w = x.shape
    out = np.zeros((n, c, 1 + (h - ph) // stride, 1 + (w - pw) // stride))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw].max(
                axis=(2, 3)
            )
    return out


def student_pool_backward(
    dout: np.ndarray, x: np.ndarray, ph: int, pw: int, stride: int, overwrite: bool
) -> np.ndarray:
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + ph), slice(j * stride, j * stride + pw)
            window = x[:, :, rows, cols]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            if overwrite:
                dx[:, :, rows, cols] = mask * dout[:, :, i, j][:, :, None, None]
            else:
                dx[:, :, rows, cols] += mask * dout[:, :, i, j][:, :, None, None]
    return dx


def pool_module(
    swap: bool = False, stride_from_pool: bool = False, overwrite: bool = False
) -> dict[str, ModuleType]:
    layers = ModuleType("layers")

    def settings(p: dict[str, int]) -> tuple[int, int, int]:
        ph, pw = (p["pool_width"], p["pool_height"]) if swap else (p["pool_height"], p["pool_width"])
        return ph, pw, p["pool_height"] if stride_from_pool else p["stride"]

    def max_pool_forward_naive(x: np.ndarray, pool_param: dict[str, int]) -> Any:
        return student_pool(x, *settings(pool_param)), (x, pool_param)

    def max_pool_backward_naive(dout: np.ndarray, cache: Any) -> np.ndarray:
        x, pool_param = cache
        return student_pool_backward(dout, x, *settings(pool_param), overwrite=overwrite)

    layers.max_pool_forward_naive = max_pool_forward_naive  # type: ignore[attr-defined]
    layers.max_pool_backward_naive = max_pool_backward_naive  # type: ignore[attr-defined]
    return {"layers": layers}


def pool_case(n: int, c: int, h: int, w: int, ph: int, pw: int, stride: int) -> Case:
    assert (h - ph) % stride == 0 and (w - pw) % stride == 0
    x = np.random.default_rng(h * 100 + w * 10 + ph).permutation(n * c * h * w).reshape(n, c, h, w) * 0.1
    out = ((h - ph) // stride + 1, (w - pw) // stride + 1)
    return {
        "x": x,
        "dout": randn(n, c, *out),
        "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride},
    }


def pool_evidence() -> list[Case]:
    return pool_specs.max_pool_forward_naive().fixed_cases() + [
        pool_case(2, 2, 4, 5, 2, 3, 1),
        pool_case(1, 3, 5, 5, 3, 3, 2),
        pool_case(2, 1, 6, 4, 2, 2, 2),
        pool_case(1, 2, 7, 2, 1, 2, 3),
        pool_case(2, 2, 7, 5, 3, 2, 1),
        pool_case(1, 1, 9, 8, 3, 2, 3),
    ]


POOL_BUGS: list[tuple[str, dict[str, ModuleType], set[str]]] = [
    ("max_pool_forward_naive", pool_module(), set()),
    ("max_pool_backward_naive", pool_module(), set()),
    ("max_pool_backward_naive", pool_module(overwrite=True), {"overlap_overwritten"}),
    ("max_pool_forward_naive", pool_module(swap=True), {"pool_height_width_swapped"}),
    ("max_pool_backward_naive", pool_module(swap=True), {"pool_height_width_swapped"}),
    ("max_pool_forward_naive", pool_module(stride_from_pool=True), {"pool_stride_ignored"}),
    ("max_pool_backward_naive", pool_module(stride_from_pool=True), {"pool_stride_ignored"}),
]


@pytest.mark.parametrize("spec_name, modules, names", POOL_BUGS)
def test_pool_diagnoses_name_the_bug(spec_name: str, modules: dict[str, ModuleType], names: set[str]) -> None:
    assert diagnosed(pool_specs.FACTORIES[spec_name](), modules, pool_evidence()) == names


def test_an_unrelated_bug_gets_no_specific_diagnosis() -> None:
    conv = conv_module()
    correct_forward = conv["layers"].conv_forward_naive

    def slightly_off(*args: Any) -> Any:
        out, cache = correct_forward(*args)
        return out + 1e-3 * np.cos(out), cache

    conv["layers"].conv_forward_naive = slightly_off  # type: ignore[attr-defined]
    assert diagnosed(conv_specs.conv_forward_naive(), conv, conv_evidence()) == set()
