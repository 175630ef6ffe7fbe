"""Extras: dilated 2-D convolution, 1-D convolution and adapt_input_conv, written with explicit loops."""
import numpy as np


def conv2d_dilated_forward(x, w, b, conv_param):
    """Dilated convolution forward pass.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - w: filter weights of shape (F, C, HH, WW)
    - b: biases of shape (F,)
    - conv_param: dictionary with 'stride', 'pad' and 'dilation'

    Returns a tuple of:
    - out: output data of shape (N, F, H', W')
    - cache: (x, w, b, conv_param)
    """
    stride = conv_param['stride']
    pad = conv_param['pad']
    dilation = conv_param['dilation']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    span_h = dilation * (HH - 1) + 1   # rows covered by one dilated window
    span_w = dilation * (WW - 1) + 1
    H_out = (x_pad.shape[2] - span_h) // stride + 1
    W_out = (x_pad.shape[3] - span_w) // stride + 1

    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = i * stride, j * stride
                    window = x_pad[n, :, top:top + span_h:dilation, left:left + span_w:dilation]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]

    cache = (x, w, b, conv_param)
    return out, cache


def conv2d_dilated_backward(dout, cache):
    """Dilated convolution backward pass: returns (dx, dw, db)."""
    x, w, b, conv_param = cache
    stride = conv_param['stride']
    pad = conv_param['pad']
    dilation = conv_param['dilation']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    span_h = dilation * (HH - 1) + 1
    span_w = dilation * (WW - 1) + 1
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = i * stride, j * stride
                    rows = slice(top, top + span_h, dilation)
                    cols = slice(left, left + span_w, dilation)
                    g = dout[n, f, i, j]
                    dx_pad[n, :, rows, cols] += g * w[f]
                    dw[f] += g * x_pad[n, :, rows, cols]
                    db[f] += g

    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def conv1d_forward(x, w, b, conv_param):
    """1-D convolution forward pass.

    Inputs:
    - x: input data of shape (N, C, L)
    - w: filter weights of shape (F, C, K)
    - b: biases of shape (F,)
    - conv_param: dictionary with 'stride', 'pad' and 'dilation'

    Returns (out, cache) with out of shape (N, F, L') and cache (x, w, b, conv_param).
    """
    stride = conv_param['stride']
    pad = conv_param['pad']
    dilation = conv_param['dilation']
    N, C, L = x.shape
    F, _, K = w.shape

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad)), mode='constant')
    span = dilation * (K - 1) + 1
    L_out = (x_pad.shape[2] - span) // stride + 1

    out = np.zeros((N, F, L_out))
    for n in range(N):
        for f in range(F):
            for i in range(L_out):
                start = i * stride
                window = x_pad[n, :, start:start + span:dilation]
                out[n, f, i] = np.sum(window * w[f]) + b[f]

    cache = (x, w, b, conv_param)
    return out, cache


def conv1d_backward(dout, cache):
    """1-D convolution backward pass: returns (dx, dw, db)."""
    x, w, b, conv_param = cache
    stride = conv_param['stride']
    pad = conv_param['pad']
    dilation = conv_param['dilation']
    N, C, L = x.shape
    F, _, K = w.shape
    L_out = dout.shape[2]

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad)), mode='constant')
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    span = dilation * (K - 1) + 1
    for n in range(N):
        for f in range(F):
            for i in range(L_out):
                start = i * stride
                taps = slice(start, start + span, dilation)
                g = dout[n, f, i]
                dx_pad[n, :, taps] += g * w[f]
                dw[f] += g * x_pad[n, :, taps]
                db[f] += g

    dx = dx_pad[:, :, pad:pad + L]
    return dx, dw, db


def adapt_input_conv(in_chans, conv_weight):
    """Adapt an RGB conv weight (O, 3, kh, kw) to in_chans input channels, as timm does."""
    dtype = conv_weight.dtype
    weight = conv_weight.astype(np.float32)
    O, I, kh, kw = weight.shape
    if in_chans == 1:
        adapted = np.zeros((O, 1, kh, kw), dtype=np.float32)
        for c in range(I):
            adapted[:, 0] += weight[:, c]
    elif in_chans != 3:
        adapted = np.zeros((O, in_chans, kh, kw), dtype=np.float32)
        for c in range(in_chans):
            adapted[:, c] = weight[:, c % 3]
        adapted *= 3 / float(in_chans)
    else:
        adapted = weight.copy()
    return adapted.astype(dtype)
