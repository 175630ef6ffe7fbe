"""Fast conv / pool layers built on the compiled im2col extension.

Run `python setup.py build_ext --inplace` in the cs231n folder first, otherwise calling these fails.
(I have not managed to build it yet.)
"""
import numpy as np

try:
    from .im2col_cython import im2col_cython, col2im_cython
except ImportError:
    print("im2col_cython is not compiled: the fast conv layers will not work")


def conv_forward_fast(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    cols = im2col_cython(x, HH, WW, pad, stride)
    out = (w.reshape(F, -1) @ cols + b.reshape(-1, 1)).reshape(F, H_out, W_out, N).transpose(3, 0, 1, 2)
    cache = (x, w, b, conv_param, cols)
    return out, cache


def conv_backward_fast(dout, cache):
    x, w, b, conv_param, cols = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    db = dout.sum(axis=(0, 2, 3))
    dout_r = dout.transpose(1, 2, 3, 0).reshape(F, -1)
    dw = (dout_r @ cols.T).reshape(w.shape)
    dcols = w.reshape(F, -1).T @ dout_r
    dx = col2im_cython(dcols, N, C, H, W, HH, WW, pad, stride)
    return dx, dw, db


def max_pool_forward_fast(x, pool_param):
    # TODO: the reshape trick for non-overlapping windows
    raise NotImplementedError


def max_pool_backward_fast(dout, cache):
    raise NotImplementedError
