# coding: utf-8
# Helpers for the convolution and pooling layers of chapter 7.
import numpy as np


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    return (input_size + 2 * pad - filter_size) // stride + 1


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Lay every filter window out as one row.

    input_data : (N, C, H, W)
    returns    : (N*out_h*out_w, C*filter_h*filter_w); row order (n, y, x), column order (c, ky, kx)
    """
    N, C, H, W = input_data.shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)

    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], 'constant')
    col = np.zeros((N, out_h, out_w, C, filter_h, filter_w))

    for i in range(out_h):
        top = i * stride
        for j in range(out_w):
            left = j * stride
            col[:, i, j, :, :, :] = img[:, :, top:top + filter_h, left:left + filter_w]

    return col.reshape(N * out_h * out_w, -1)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The reverse of im2col: put every row back on its window (overlapping windows add up)."""
    N, C, H, W = input_shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)

    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w)
    img = np.zeros((N, C, H + 2 * pad, W + 2 * pad))

    for i in range(out_h):
        top = i * stride
        for j in range(out_w):
            left = j * stride
            img[:, :, top:top + filter_h, left:left + filter_w] += col[:, i, j, :, :, :]

    return img[:, :, pad:H + pad, pad:W + pad]
