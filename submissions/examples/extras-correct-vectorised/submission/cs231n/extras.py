"""Extras, vectorised: strided views of the dilated windows and einsum; the backward adds dout back one kernel
tap at a time."""
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _settings(conv_param):
    return conv_param['stride'], conv_param['pad'], conv_param['dilation']


def _pad(x, pad):
    """Zero padding on both sides of every spatial axis."""
    return np.pad(x, [(0, 0), (0, 0)] + [(pad, pad)] * (x.ndim - 2))


def _dilated_windows(x_pad, kernel, stride, dilation):
    """A view (N, C, *out, *kernel) of every window: window o holds x_pad[..., o*stride + k*dilation]."""
    spans = tuple(dilation * (k - 1) + 1 for k in kernel)
    axes = tuple(range(2, x_pad.ndim))
    view = sliding_window_view(x_pad, spans, axis=axes)
    starts = (slice(None, None, stride),) * len(kernel)
    taps = (slice(None, None, dilation),) * len(kernel)
    return view[(slice(None), slice(None)) + starts + taps]


def _forward(x, w, b, conv_param):
    stride, pad, dilation = _settings(conv_param)
    windows = _dilated_windows(_pad(x, pad), w.shape[2:], stride, dilation)
    if x.ndim == 4:
        out = np.einsum('ncijpq,fcpq->nfij', windows, w)
    else:
        out = np.einsum('ncip,fcp->nfi', windows, w)
    out = out + b.reshape((1, -1) + (1,) * (x.ndim - 2))
    return out, (x, w, b, conv_param)


def _backward(dout, cache):
    x, w, b, conv_param = cache
    stride, pad, dilation = _settings(conv_param)
    x_pad = _pad(x, pad)
    windows = _dilated_windows(x_pad, w.shape[2:], stride, dilation)
    spatial = tuple(range(2, dout.ndim))
    db = dout.sum(axis=(0,) + spatial)
    dx_pad = np.zeros(x_pad.shape, dtype=np.result_type(dout, w))
    if x.ndim == 4:
        dw = np.einsum('ncijpq,nfij->fcpq', windows, dout)
        H_out, W_out = dout.shape[2:]
        for p in range(w.shape[2]):
            for q in range(w.shape[3]):
                rows = slice(p * dilation, p * dilation + stride * (H_out - 1) + 1, stride)
                cols = slice(q * dilation, q * dilation + stride * (W_out - 1) + 1, stride)
                dx_pad[:, :, rows, cols] += np.einsum('nfij,fc->ncij', dout, w[:, :, p, q])
        H, W = x.shape[2:]
        dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    else:
        dw = np.einsum('ncip,nfi->fcp', windows, dout)
        L_out = dout.shape[2]
        for k in range(w.shape[2]):
            taps = slice(k * dilation, k * dilation + stride * (L_out - 1) + 1, stride)
            dx_pad[:, :, taps] += np.einsum('nfi,fc->nci', dout, w[:, :, k])
        dx = dx_pad[:, :, pad:pad + x.shape[2]]
    return dx, dw, db


def conv2d_dilated_forward(x, w, b, conv_param):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride', 'pad', 'dilation'} -> (out, cache)."""
    return _forward(x, w, b, conv_param)


def conv2d_dilated_backward(dout, cache):
    """(dx, dw, db) of the dilated convolution."""
    return _backward(dout, cache)


def conv1d_forward(x, w, b, conv_param):
    """x (N, C, L), w (F, C, K), b (F,), conv_param {'stride', 'pad', 'dilation'} -> (out, cache)."""
    return _forward(x, w, b, conv_param)


def conv1d_backward(dout, cache):
    """(dx, dw, db) of the 1-D convolution."""
    return _backward(dout, cache)


def adapt_input_conv(in_chans, conv_weight):
    """timm's rule in float64: sum for one channel, tile and rescale for other counts, keep the dtype."""
    weight = np.asarray(conv_weight, dtype=np.float64)
    if in_chans == 1:
        adapted = weight.sum(axis=1, keepdims=True)
    elif in_chans == 3:
        adapted = weight.copy()
    else:
        copies = int(math.ceil(in_chans / 3))
        adapted = np.tile(weight, (1, copies, 1, 1))[:, :in_chans] * (3.0 / in_chans)
    return adapted.astype(conv_weight.dtype)
