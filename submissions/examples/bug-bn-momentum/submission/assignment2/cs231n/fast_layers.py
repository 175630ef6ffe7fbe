"""My own "fast" conv and pooling layers.

The course version needs a compiled Cython extension (im2col_cython) that I could not build on my laptop,
so these do the same thing in plain numpy: instead of looping over every output pixel they loop over the
(small) kernel offsets and handle all images / output pixels at once with strided slices.
Same API and same caches as the naive versions in layers.py.
"""
import numpy as np


def conv_forward_fast(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")

    out = np.zeros((N, H_out, W_out, F))
    for di in range(HH):
        for dj in range(WW):
            # x_pad values seen by kernel entry (di, dj) for every output position: (N, C, H_out, W_out)
            patch = x_pad[:, :, di:di + stride * (H_out - 1) + 1:stride, dj:dj + stride * (W_out - 1) + 1:stride]
            out += np.tensordot(patch, w[:, :, di, dj], axes=([1], [1]))  # (N, H_out, W_out, F)
    out = out.transpose(0, 3, 1, 2) + b.reshape(1, F, 1, 1)
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_fast(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")

    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)
    db = dout.sum(axis=(0, 2, 3))
    for di in range(HH):
        for dj in range(WW):
            rows = slice(di, di + stride * (H_out - 1) + 1, stride)
            cols = slice(dj, dj + stride * (W_out - 1) + 1, stride)
            patch = x_pad[:, :, rows, cols]
            dw[:, :, di, dj] = np.tensordot(dout, patch, axes=([0, 2, 3], [0, 2, 3]))  # (F, C)
            # one kernel offset never hits the same input pixel twice, so += on the slice is safe
            dx_pad[:, :, rows, cols] += np.tensordot(dout, w[:, :, di, dj], axes=([1], [0])).transpose(0, 3, 1, 2)
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_fast(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride

    # every window's values along a last axis: (N, C, H_out, W_out, ph * pw)
    windows = np.empty((N, C, H_out, W_out, ph * pw), dtype=x.dtype)
    for di in range(ph):
        for dj in range(pw):
            windows[..., di * pw + dj] = x[:, :, di:di + stride * (H_out - 1) + 1:stride,
                                           dj:dj + stride * (W_out - 1) + 1:stride]
    out = windows.max(axis=-1)
    argmax = windows.argmax(axis=-1)   # first max of each window
    cache = (x, pool_param, argmax)
    return out, cache


def max_pool_backward_fast(dout, cache):
    x, pool_param, argmax = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    _, _, H_out, W_out = dout.shape
    dx = np.zeros(x.shape)
    for di in range(ph):
        for dj in range(pw):
            picked = argmax == di * pw + dj
            dx[:, :, di:di + stride * (H_out - 1) + 1:stride, dj:dj + stride * (W_out - 1) + 1:stride] += dout * picked
    return dx
