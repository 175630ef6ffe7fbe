"""The NumPy stand-in for CS231n's compiled im2col extension: the layouts it promises, and adjointness."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from graders.sandbox.support import im2col_cython as shim


@st.composite
def geometries(draw: st.DrawFn) -> tuple[np.ndarray, int, int, int, int]:
    fh, fw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pad, stride = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    out_h, out_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = (out_h - 1) * stride + fh - 2 * pad
    w = (out_w - 1) * stride + fw - 2 * pad
    if h < 1 or w < 1:
        h, w, pad = (out_h - 1) * stride + fh, (out_w - 1) * stride + fw, 0
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = np.random.default_rng(draw(st.integers(0, 2**31))).standard_normal((n, c, h, w))
    return x, fh, fw, pad, stride


def brute_im2col(x: np.ndarray, fh: int, fw: int, pad: int, stride: int) -> np.ndarray:
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out_h, out_w = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    cols = np.zeros((c * fh * fw, out_h * out_w * n))
    for ci in range(c):
        for ky in range(fh):
            for kx in range(fw):
                for oy in range(out_h):
                    for ox in range(out_w):
                        for ni in range(n):
                            cols[ci * fh * fw + ky * fw + kx, (oy * out_w + ox) * n + ni] = xp[
                                ni, ci, oy * stride + ky, ox * stride + kx
                            ]
    return cols


@given(geometries())
def test_im2col_layout_matches_the_extension(geometry: tuple[np.ndarray, int, int, int, int]) -> None:
    x, fh, fw, pad, stride = geometry
    np.testing.assert_array_equal(
        shim.im2col_cython(x, fh, fw, pad, stride), brute_im2col(x, fh, fw, pad, stride)
    )


@given(geometries(), st.integers(0, 2**31))
def test_col2im_is_the_adjoint_of_im2col(geometry: tuple[np.ndarray, int, int, int, int], seed: int) -> None:
    x, fh, fw, pad, stride = geometry
    n, c, h, w = x.shape
    cols = shim.im2col_cython(x, fh, fw, pad, stride)
    other = np.random.default_rng(seed).standard_normal(cols.shape)
    back = shim.col2im_cython(other, n, c, h, w, fh, fw, pad, stride)
    assert np.isclose(np.vdot(cols, other), np.vdot(x, back))
    out_h, out_w = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    six = other.reshape(c, fh, fw, out_h, out_w, n).transpose(0, 1, 2, 5, 3, 4)
    np.testing.assert_allclose(
        shim.col2im_6d_cython(np.ascontiguousarray(six), n, c, h, w, fh, fw, pad, stride), back
    )
