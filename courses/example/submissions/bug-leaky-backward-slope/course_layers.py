"""Homework 3 (example course): a leaky ReLU and a naive dilated convolution."""

import numpy as np


def leaky_relu_forward(x, alpha):
    out = np.where(x > 0, x, alpha * x)
    return out, (x, alpha)


def leaky_relu_backward(dout, cache):
    x, alpha = cache
    dx = dout.copy()
    dx[x < 0] = dout[x < 0]  # the slope for negative x is left at 1
    return dx


def dilated_conv_forward_naive(x, w, b, conv_param):
    stride, pad, dil = conv_param["stride"], conv_param["pad"], conv_param["dilation"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    span_h, span_w = dil * (HH - 1) + 1, dil * (WW - 1) + 1
    H_out = 1 + (H + 2 * pad - span_h) // stride
    W_out = 1 + (W + 2 * pad - span_w) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = i * stride, j * stride
                    window = xp[n, :, top:top + span_h:dil, left:left + span_w:dil]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def dilated_conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad, dil = conv_param["stride"], conv_param["pad"], conv_param["dilation"]
    N, F, H_out, W_out = dout.shape
    _, _, HH, WW = w.shape
    span_h, span_w = dil * (HH - 1) + 1, dil * (WW - 1) + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = i * stride, j * stride
                    rows, cols = slice(top, top + span_h, dil), slice(left, left + span_w, dil)
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, db
