"""adapt_input_conv: the identities that make the adapted weights meaningful, dtypes and errors.

With conv(x, w) the valid cross-correlation and w of shape (O, 3, kh, kw):

* in_chans = 1: conv(g, adapt(1, w)) = conv([g, g, g], w) -- a grey image seen by the adapted filter
  responds like the grey image replicated on R, G, B seen by the original filter.
* space-to-depth stems (I = 3k, in_chans = 1): conv(y, adapt(1, w)) = conv(repeat(y, 3, axis=1), w), each of
  the k grey channels replicated on its group of 3.
* in_chans = C not in {1, 3}: feed channels [c0, c1, c2, c0, c1, c2, ...][:C]. Channel j of the RGB image
  then appears n_j = ceil((C - j) / 3) times, each with weight (3 / C) w_j, so
  conv(tiled, adapt(C, w)) = conv(rgb, w * s) with s_j = 3 n_j / C. When 3 divides C every s_j is 1 and the
  response equals the original RGB response.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from reference.timm import adapt_input_conv


def conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid cross-correlation in float64: x (N, C, H, W), w (O, C, kh, kw) -> (N, O, H-kh+1, W-kw+1)."""
    windows = sliding_window_view(x.astype(np.float64), w.shape[2:], axis=(2, 3))
    return np.einsum("ncijpq,ocpq->noij", windows, w.astype(np.float64))


def random_weight(seed: int, out_channels: int, in_channels: int, kh: int, kw: int) -> np.ndarray:
    # float32 weights: the adaptation computes in float32, so only its own rounding enters the comparison.
    return np.random.default_rng(seed).standard_normal((out_channels, in_channels, kh, kw)).astype(np.float32)


geometry = st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16))


@given(geometry=geometry)
def test_grey_image_identity(geometry: tuple[int, int, int, int]) -> None:
    out_channels, kh, kw, seed = geometry
    w = random_weight(seed, out_channels, 3, kh, kw)
    grey = np.random.default_rng(seed + 1).standard_normal((2, 1, kh + 3, kw + 2))
    adapted = adapt_input_conv(1, w)
    assert adapted.shape == (out_channels, 1, kh, kw)
    np.testing.assert_allclose(conv(grey, adapted), conv(np.repeat(grey, 3, axis=1), w), rtol=1e-5, atol=1e-5)


@given(groups=st.integers(2, 4), geometry=geometry)
def test_space_to_depth_identity(groups: int, geometry: tuple[int, int, int, int]) -> None:
    out_channels, kh, kw, seed = geometry
    w = random_weight(seed, out_channels, 3 * groups, kh, kw)
    grey = np.random.default_rng(seed + 2).standard_normal((2, groups, kh + 2, kw + 1))
    adapted = adapt_input_conv(1, w)
    assert adapted.shape == (out_channels, groups, kh, kw)
    np.testing.assert_allclose(conv(grey, adapted), conv(np.repeat(grey, 3, axis=1), w), rtol=1e-5, atol=1e-5)


@given(in_chans=st.integers(2, 10).filter(lambda c: c != 3), geometry=geometry)
def test_many_channel_identity(in_chans: int, geometry: tuple[int, int, int, int]) -> None:
    out_channels, kh, kw, seed = geometry
    w = random_weight(seed, out_channels, 3, kh, kw)
    rgb = np.random.default_rng(seed + 3).standard_normal((2, 3, kh + 2, kw + 2))
    tiled = rgb[:, [c % 3 for c in range(in_chans)]]
    adapted = adapt_input_conv(in_chans, w)
    assert adapted.shape == (out_channels, in_chans, kh, kw)
    occurrences = np.array([math.ceil((in_chans - j) / 3) for j in range(3)])
    scale = 3 * occurrences / in_chans
    expected = conv(rgb, w.astype(np.float64) * scale[None, :, None, None])
    np.testing.assert_allclose(conv(tiled, adapted), expected, rtol=1e-5, atol=1e-5)
    if in_chans % 3 == 0:
        np.testing.assert_allclose(conv(tiled, adapted), conv(rgb, w), rtol=1e-5, atol=1e-5)


def test_explicit_values() -> None:
    w = np.arange(1, 7, dtype=np.float32).reshape(1, 6, 1, 1)  # channels 1..6
    np.testing.assert_array_equal(adapt_input_conv(1, w[:, :3]).ravel(), [6.0])
    np.testing.assert_array_equal(adapt_input_conv(1, w).ravel(), [6.0, 15.0])  # groups (1,2,3), (4,5,6)
    np.testing.assert_allclose(adapt_input_conv(4, w[:, :3]).ravel(), np.array([1, 2, 3, 1]) * 0.75)
    np.testing.assert_allclose(adapt_input_conv(2, w[:, :3]).ravel(), [1.5, 3.0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("in_chans", [1, 2, 3, 4, 7])
def test_dtype_preserved_and_input_untouched(dtype: type, in_chans: int) -> None:
    w: np.ndarray = np.random.default_rng(5).standard_normal((4, 3, 3, 3)).astype(dtype)
    before = w.copy()
    adapted = adapt_input_conv(in_chans, w)
    assert adapted.dtype == np.dtype(dtype)
    assert adapted is not w
    np.testing.assert_array_equal(w, before)
    # The float32 computation, cast back: what timm returns.
    reference32 = adapt_input_conv(in_chans, w.astype(np.float32))
    np.testing.assert_array_equal(adapted, reference32.astype(dtype))


def test_three_channels_round_trip_through_float32() -> None:
    w64 = np.random.default_rng(6).standard_normal((2, 3, 2, 2))
    np.testing.assert_array_equal(adapt_input_conv(3, w64), w64.astype(np.float32).astype(np.float64))
    w32 = w64.astype(np.float32)
    np.testing.assert_array_equal(adapt_input_conv(3, w32), w32)


def test_float16_sums_in_float32() -> None:
    """2048 + 1 + 1 in half precision rounds to 2048 at each step; in float32 it is 2050, exact in float16."""
    w = np.array([2048.0, 1.0, 1.0], dtype=np.float16).reshape(1, 3, 1, 1)
    assert np.float16(np.float16(2048.0) + np.float16(1.0)) + np.float16(1.0) == 2048.0
    assert adapt_input_conv(1, w).item() == 2050.0


def test_unsupported_format_raises_like_timm() -> None:
    with pytest.raises(NotImplementedError, match=r"^Weight format not supported by conversion\.$"):
        adapt_input_conv(2, np.zeros((4, 6, 3, 3), np.float32))
    with pytest.raises(NotImplementedError, match="not supported"):
        adapt_input_conv(5, np.zeros((4, 1, 3, 3), np.float32))


def test_error_inputs() -> None:
    with pytest.raises(ValueError, match="multiple of 3"):
        adapt_input_conv(1, np.zeros((4, 4, 3, 3), np.float32))
    with pytest.raises(ValueError, match="4-D"):
        adapt_input_conv(1, np.zeros((4, 3, 3), np.float32))
    with pytest.raises(ValueError, match="in_chans"):
        adapt_input_conv(0, np.zeros((4, 3, 3, 3), np.float32))
