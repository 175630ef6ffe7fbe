"""Convolution layers as pure math (no caches): forward and gradients, 2-D and 1-D.

"Convolution" here is what every deep-learning library computes, a cross-correlation:
``out[n, f, i, j] = b[f] + sum_{c, ky, kx} w[f, c, ky, kx] * xpad[n, c, i*s + ky*d, j*s + kx*d]``, with zero
padding, floor semantics on sizes that do not divide evenly, and optional dilation ``d``.

Two independent implementations, so each checks the other:
  * :func:`conv2d` / :func:`conv2d_grads`: im2col and one matrix product each way (the "fast" path);
  * :func:`conv2d_loops` / :func:`conv2d_grads_loops`: loops over output positions, a direct reading of the
    formula above (the "naive" path).
:func:`conv1d` and :func:`conv1d_grads` are the 2-D code on a unit-height image, not a second copy of it.
All argument checking is in :func:`conv_output_shape`.
"""

from __future__ import annotations

import numpy as np

from reference.functional.im2col import (
    IntOrTuple,
    add_windows,
    as_tuple,
    pad_spatial,
    window_output_shape,
    windows,
)

__all__ = [
    "conv_output_shape",
    "conv2d",
    "conv2d_grads",
    "conv2d_loops",
    "conv2d_grads_loops",
    "conv1d",
    "conv1d_grads",
]

_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)"}
_KERNEL_LAYOUT = {1: "(F, C, K)", 2: "(F, C, HH, WW)"}


def conv_output_shape(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    dout: np.ndarray | None = None,
    spatial_dims: int = 2,
) -> tuple[int, ...]:
    """Validate a convolution's arguments and return its output's spatial shape.

    The one place where conv inputs are checked: x and w have ``2 + spatial_dims`` axes, channels agree, b has
    shape (F,), stride >= 1, pad >= 0, dilation >= 1, the dilated kernel fits in the padded input, and
    ``dout`` (for gradients) has the output's shape. Any violation is a ValueError naming the shapes.
    """
    ndim = 2 + spatial_dims
    x_shape, w_shape = np.shape(x), np.shape(w)
    if len(x_shape) != ndim:
        raise ValueError(f"x must be {ndim}-D {_LAYOUT[spatial_dims]}, got shape {x_shape}")
    if len(w_shape) != ndim:
        raise ValueError(f"w must be {ndim}-D {_KERNEL_LAYOUT[spatial_dims]}, got shape {w_shape}")
    if x_shape[1] != w_shape[1]:
        raise ValueError(
            f"channels disagree: x {x_shape} has C = {x_shape[1]}, w {w_shape} expects C = {w_shape[1]}"
        )
    filters = w_shape[0]
    if b is not None and np.shape(b) != (filters,):
        raise ValueError(
            f"b must have shape ({filters},) (one bias per filter of w {w_shape}), got {np.shape(b)}"
        )
    try:
        out = window_output_shape(x_shape[2:], w_shape[2:], stride, pad, dilation)
    except ValueError as exc:
        raise ValueError(f"x {x_shape}, w {w_shape}: {exc}") from None
    if dout is not None:
        want = (x_shape[0], filters, *out)
        if np.shape(dout) != want:
            raise ValueError(
                f"dout has shape {np.shape(dout)}, expected {want} for x {x_shape}, w {w_shape}, "
                f"stride {stride}, pad {pad}, dilation {dilation}"
            )
    return out


# ---------------------------------------------------------------- 2-D, im2col path
def _columns(
    x: np.ndarray, w: np.ndarray, stride: IntOrTuple, pad: IntOrTuple, dilation: IntOrTuple
) -> np.ndarray:
    """im2col in a per-image, channel-major layout: ``(N, C*HH*WW, out_h*out_w)``.

    Same windows as :func:`~reference.functional.im2col.im2col`, transposed so that
    ``w.reshape(F, -1) @ cols`` lands directly in ``(N, F, out_h*out_w)`` order (no transpose of the output)
    and the backward's column gradient reshapes into kernel taps without a copy.
    """
    n, c, hh, ww = x.shape[0], x.shape[1], w.shape[2], w.shape[3]
    view = windows(pad_spatial(x, pad), (hh, ww), stride, dilation)
    out_h, out_w = view.shape[2:4]
    return view.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * hh * ww, out_h * out_w)


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> np.ndarray:
    """Cross-correlation of ``x (N, C, H, W)`` with ``w (F, C, HH, WW)``, plus ``b (F,)``: ``(N, F, oh, ow)``.

    ``out[n, f] = b[f] + w[f].reshape(-1) @ cols[n]`` with ``cols`` the channel-major im2col of x.
    """
    out_h, out_w = conv_output_shape(x, w, b, stride, pad, dilation)
    n, f = x.shape[0], w.shape[0]
    out = np.matmul(w.reshape(f, -1), _columns(x, w, stride, pad, dilation))
    out = out.astype(np.result_type(out, b), copy=False)
    out += b.reshape(f, 1)
    return out.reshape(n, f, out_h, out_w)


def conv2d_grads(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dw, db)`` of ``sum(conv2d(x, w, b) * dout)``.

    Per image, with ``cols`` its im2col matrix and ``D`` its dout as ``(F, out_h*out_w)``:
    ``dw = sum D cols^T``, ``dx = col2im(w^T D)`` (col2im, here :func:`add_windows`, is im2col's adjoint) and
    ``db`` sums dout over everything but F.
    """
    out_h, out_w = conv_output_shape(x, w, None, stride, pad, dilation, dout=dout)
    n, c, hh, ww = x.shape[0], x.shape[1], w.shape[2], w.shape[3]
    f = w.shape[0]
    d_rows = dout.reshape(n, f, out_h * out_w)
    w_rows = w.reshape(f, -1)
    cols = _columns(x, w, stride, pad, dilation)
    dw = np.matmul(d_rows, cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    d_cols = np.matmul(w_rows.T, d_rows).reshape(n, c, hh, ww, out_h, out_w)
    dx = add_windows(d_cols.transpose(0, 1, 4, 5, 2, 3), x.shape, stride, pad, dilation)
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


# ---------------------------------------------------------------- 2-D, loop path
def _window(
    i: int, j: int, kernel: tuple[int, int], stride: tuple[int, ...], dilation: tuple[int, ...]
) -> tuple[slice, slice]:
    """Row and column slices of output position (i, j)'s window in the padded input."""
    (sh, sw), (dh, dw), (hh, ww) = stride, dilation, kernel
    return (slice(i * sh, i * sh + dh * (hh - 1) + 1, dh), slice(j * sw, j * sw + dw * (ww - 1) + 1, dw))


def conv2d_loops(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> np.ndarray:
    """Same as :func:`conv2d`, one output element at a time (slow; for cross-checks and small inputs)."""
    out_h, out_w = conv_output_shape(x, w, b, stride, pad, dilation)
    n_images, filters = x.shape[0], w.shape[0]
    strides, dilations = as_tuple(stride, 2, "stride"), as_tuple(dilation, 2, "dilation")
    padded = pad_spatial(x, pad)
    out = np.zeros((n_images, filters, out_h, out_w), dtype=np.result_type(x, w, b))
    for n in range(n_images):
        for f in range(filters):
            for i in range(out_h):
                for j in range(out_w):
                    rows, cols = _window(i, j, (w.shape[2], w.shape[3]), strides, dilations)
                    out[n, f, i, j] = np.sum(padded[n, :, rows, cols] * w[f]) + b[f]
    return out


def conv2d_grads_loops(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same as :func:`conv2d_grads`: each output element sends ``dout * w`` back to its window of the padded
    input and ``dout * window`` to dw; padding's share is cut off at the end."""
    out_h, out_w = conv_output_shape(x, w, None, stride, pad, dilation, dout=dout)
    n_images, filters = x.shape[0], w.shape[0]
    strides, dilations = as_tuple(stride, 2, "stride"), as_tuple(dilation, 2, "dilation")
    ph, pw = as_tuple(pad, 2, "pad")
    padded = pad_spatial(x, pad)
    dtype = np.result_type(dout, x, w)
    d_padded = np.zeros(padded.shape, dtype=dtype)
    dw = np.zeros(w.shape, dtype=dtype)
    db = np.zeros(filters, dtype=dtype)
    for n in range(n_images):
        for f in range(filters):
            for i in range(out_h):
                for j in range(out_w):
                    rows, cols = _window(i, j, (w.shape[2], w.shape[3]), strides, dilations)
                    g = dout[n, f, i, j]
                    d_padded[n, :, rows, cols] += g * w[f]
                    dw[f] += g * padded[n, :, rows, cols]
                    db[f] += g
    dx = d_padded[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]
    return np.ascontiguousarray(dx), dw, db


# ---------------------------------------------------------------- 1-D as 2-D with unit height
def _as_2d(stride: IntOrTuple, pad: IntOrTuple, dilation: IntOrTuple) -> dict[str, tuple[int, int]]:
    """A 1-D conv's settings for the 2-D code: nothing happens along the unit height axis."""
    (s,), (p,), (d,) = (
        as_tuple(v, 1, name) for v, name in ((stride, "stride"), (pad, "pad"), (dilation, "dilation"))
    )
    return {"stride": (1, s), "pad": (0, p), "dilation": (1, d)}


def conv1d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> np.ndarray:
    """1-D cross-correlation of ``x (N, C, L)`` with ``w (F, C, K)`` plus ``b (F,)``: ``(N, F, L_out)``."""
    conv_output_shape(x, w, b, stride, pad, dilation, spatial_dims=1)
    return conv2d(x[:, :, None, :], w[:, :, None, :], b, **_as_2d(stride, pad, dilation))[:, :, 0, :]


def conv1d_grads(
    dout: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    stride: IntOrTuple = 1,
    pad: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dw, db)`` of ``sum(conv1d(x, w, b) * dout)``."""
    conv_output_shape(x, w, None, stride, pad, dilation, dout=dout, spatial_dims=1)
    dx, dw, db = conv2d_grads(
        dout[:, :, None, :], x[:, :, None, :], w[:, :, None, :], **_as_2d(stride, pad, dilation)
    )
    return dx[:, :, 0, :], dw[:, :, 0, :], db
