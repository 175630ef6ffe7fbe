"""Sliding windows over images: the geometry of conv and pool layers, and the book's ``im2col``/``col2im``.

Everything that slides a kernel over an image needs the same three things, so they live here once:

* :func:`window_output_shape` validates stride/pad/dilation against the (padded) input and returns the
  output size with floor semantics, ``out = (size + 2 pad - dilation (k - 1) - 1) // stride + 1`` (rows or
  columns the last window cannot reach are ignored, as in the book, cs231n and torch);
* :func:`windows` returns every window of a padded image as a strided *view* (no copy, no Python loop over
  positions), shaped ``(N, C, out_h, out_w, kh, kw)``, and :func:`add_windows` is its adjoint (the scatter-add
  every backward needs);
* :func:`im2col` / :func:`col2im` lay the windows out as a matrix and back, with the book's (DLfS) layout:
  rows ordered ``(n, out_y, out_x)``, columns ordered ``(c, ky, kx)``. ``col2im`` *adds* overlapping
  contributions, which makes it the adjoint (transpose) of ``im2col`` -- exactly what a conv backward needs.

Stride, pad and dilation accept an int (both axes) or a per-axis pair; a 1-D conv is a 2-D conv with a unit
height and no vertical padding, so the pair form is what lets it reuse this code.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "IntOrTuple",
    "as_tuple",
    "window_output_shape",
    "pad_spatial",
    "windows",
    "add_windows",
    "im2col",
    "col2im",
]

#: An int applied to every spatial axis, or one int per axis.
IntOrTuple = int | Sequence[int]


def as_tuple(value: IntOrTuple, n: int, name: str) -> tuple[int, ...]:
    """``value`` as ``n`` Python ints (an int is repeated); ValueError for floats, bools or a wrong length."""
    items: list[Any] = list(value) if isinstance(value, (tuple, list, np.ndarray)) else [value]
    if len(items) == 1:
        items = items * n
    if len(items) != n:
        raise ValueError(f"{name} must be an int or {n} ints (one per spatial axis), got {value!r}")
    result = []
    for item in items:
        if isinstance(item, (bool, np.bool_)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        try:
            result.append(operator.index(item))
        except TypeError:
            raise ValueError(f"{name} must be an integer, got {value!r}") from None
    return tuple(result)


def window_output_shape(
    spatial_shape: Sequence[int],
    kernel: Sequence[int],
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    what: str = "kernel",
) -> tuple[int, ...]:
    """The output's spatial shape for windows of size ``kernel``; ValueError naming the geometry if invalid.

    Checks stride >= 1, pad >= 0, dilation >= 1, kernel >= 1, and that the dilated kernel fits in the padded
    input along every axis (otherwise there is no window at all and the output would be empty).
    """
    n = len(spatial_shape)
    if len(kernel) != n:
        raise ValueError(f"{what} has {len(kernel)} spatial sizes {tuple(kernel)}, input has {n}")
    strides = as_tuple(stride, n, "stride")
    pads = as_tuple(pad, n, "pad")
    dilations = as_tuple(dilation, n, "dilation")
    if any(s < 1 for s in strides):
        raise ValueError(f"stride must be >= 1, got {stride!r}")
    if any(p < 0 for p in pads):
        raise ValueError(f"pad must be >= 0, got {pad!r}")
    if any(d < 1 for d in dilations):
        raise ValueError(f"dilation must be >= 1, got {dilation!r}")
    if any(int(k) < 1 for k in kernel):
        raise ValueError(f"{what} size must be >= 1, got {tuple(int(k) for k in kernel)}")
    out = []
    for axis, (size, k, s, p, d) in enumerate(
        zip(spatial_shape, kernel, strides, pads, dilations, strict=True)
    ):
        extent = d * (int(k) - 1) + 1
        padded = int(size) + 2 * p
        if extent > padded:
            dilated = f" (dilation {d} spreads it over {extent})" if d > 1 else ""
            raise ValueError(
                f"{what} size {int(k)}{dilated} does not fit in the padded input along spatial axis {axis}: "
                f"input size {int(size)} + 2 * pad {p} = {padded} < {extent}"
            )
        out.append((padded - extent) // s + 1)
    return tuple(out)


def pad_spatial(x: np.ndarray, pad: IntOrTuple, value: float = 0.0) -> np.ndarray:
    """``x`` with its last two axes padded by ``pad`` (int or (pad_h, pad_w)) on both sides with ``value``."""
    ph, pw = as_tuple(pad, 2, "pad")
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="constant", constant_values=value)


def windows(
    padded: np.ndarray, kernel: Sequence[int], stride: IntOrTuple = 1, dilation: IntOrTuple = 1
) -> np.ndarray:
    """Read-only view of every window of an already padded ``(N, C, H, W)`` array: ``(N, C, oh, ow, kh, kw)``.

    A window of extent ``dilation * (k - 1) + 1`` slides with step 1 (``sliding_window_view``); taking every
    ``stride``-th position and every ``dilation``-th tap is then plain slicing, so nothing is copied.
    """
    kh, kw = (int(k) for k in kernel)
    sh, sw = as_tuple(stride, 2, "stride")
    dh, dw = as_tuple(dilation, 2, "dilation")
    extent = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    view = np.lib.stride_tricks.sliding_window_view(padded, extent, axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def _image_shape(shape: Sequence[int], what: str) -> tuple[int, int, int, int]:
    if len(shape) != 4:
        raise ValueError(f"{what} must be 4-D (N, C, H, W), got shape {tuple(shape)}")
    n, c, h, w = (int(s) for s in shape)
    return n, c, h, w


def im2col(
    input_data: np.ndarray,
    filter_h: int,
    filter_w: int,
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    *,
    dilation: IntOrTuple = 1,
) -> np.ndarray:
    """Every ``filter_h x filter_w`` window of ``(N, C, H, W)`` input as one row of a 2-D array.

    Shape ``(N * out_h * out_w, C * filter_h * filter_w)``; rows ordered ``(n, out_y, out_x)``, columns
    ``(c, ky, kx)`` (the book's layout, so ``col @ W.reshape(F, -1).T`` is a cross-correlation). Padding is
    zeros; sizes that do not divide evenly are floored. The result is a fresh array in ``input_data``'s dtype.
    """
    x = np.asarray(input_data)
    n, c, h, w = _image_shape(x.shape, "im2col input")
    out_h, out_w = window_output_shape((h, w), (filter_h, filter_w), stride, pad, dilation, what="filter")
    view = windows(pad_spatial(x, pad), (filter_h, filter_w), stride, dilation)
    col = view.transpose(0, 2, 3, 1, 4, 5).reshape(n * out_h * out_w, c * int(filter_h) * int(filter_w))
    return col if col.flags.owndata else col.copy()  # one window covering all of x reshapes to a view


def add_windows(
    taps: np.ndarray,
    input_shape: Sequence[int],
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> np.ndarray:
    """The adjoint of :func:`windows` on a padded input: add each window's values back where they came from.

    ``taps`` is shaped like ``windows``' result, ``(N, C, out_h, out_w, kh, kw)`` (any strides); values that
    land in the padding are dropped and overlapping windows *sum*, giving a gradient of ``input_shape``.
    One strided add per kernel tap ``(ky, kx)`` replaces a loop over output positions.
    """
    n, c, h, w = _image_shape(input_shape, "input_shape")
    _, _, out_h, out_w, kh, kw = taps.shape
    sh, sw = as_tuple(stride, 2, "stride")
    ph, pw = as_tuple(pad, 2, "pad")
    dh, dw = as_tuple(dilation, 2, "dilation")
    image = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=taps.dtype)
    for ky in range(kh):
        rows = slice(ky * dh, ky * dh + sh * (out_h - 1) + 1, sh)
        for kx in range(kw):
            cols = slice(kx * dw, kx * dw + sw * (out_w - 1) + 1, sw)
            image[:, :, rows, cols] += taps[:, :, :, :, ky, kx]
    return np.ascontiguousarray(image[:, :, ph : ph + h, pw : pw + w])


def col2im(
    col: np.ndarray,
    input_shape: Sequence[int],
    filter_h: int,
    filter_w: int,
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    *,
    dilation: IntOrTuple = 1,
) -> np.ndarray:
    """The adjoint of :func:`im2col`: scatter each row back onto its window, *summing* where windows overlap.

    ``<im2col(x), col> == <x, col2im(col)>`` for every ``x`` and ``col``; contributions that land in the
    padding are dropped.
    """
    n, c, h, w = _image_shape(input_shape, "col2im input_shape")
    fh, fw = int(filter_h), int(filter_w)
    out_h, out_w = window_output_shape((h, w), (fh, fw), stride, pad, dilation, what="filter")
    col = np.asarray(col)
    expected = (n * out_h * out_w, c * fh * fw)
    if col.shape != expected:
        raise ValueError(
            f"col has shape {tuple(col.shape)}, expected {expected} for input {(n, c, h, w)}, "
            f"filter {fh}x{fw}, output {out_h}x{out_w}"
        )
    taps = col.reshape(n, out_h, out_w, c, fh, fw).transpose(0, 3, 1, 2, 4, 5)
    return add_windows(taps, (n, c, h, w), stride, pad, dilation)
