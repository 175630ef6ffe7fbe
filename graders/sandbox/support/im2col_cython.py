"""A NumPy stand-in for CS231n's compiled ``im2col_cython`` extension.

The course hands out ``fast_layers.py``, which imports ``im2col_cython``/``col2im_cython``/``col2im_6d_cython``
from a Cython module that students compile themselves. A submission holds only Python sources, so without a
stand-in the sandwiches in ``layer_utils.py`` (which call the fast layers) could not run. The grader stages this
file as ``<package>/im2col_cython.py`` when the submission references the extension and has no such module,
and says so in the report. Same signatures and array layouts as the extension:

  im2col_cython(x, field_height, field_width, padding, stride) -> cols (C*fh*fw, out_h*out_w*N)
      rows ordered (c, ky, kx); columns ordered (oy, ox, n), n fastest
  col2im_cython(cols, N, C, H, W, field_height, field_width, padding, stride) -> x (N, C, H, W), overlaps summed
  col2im_6d_cython(cols, N, C, H, W, HH, WW, pad, stride) -> x, from cols (C, HH, WW, N, out_h, out_w)
"""

from __future__ import annotations

import numpy as np


def _out_size(size: int, field: int, padding: int, stride: int) -> int:
    return (size + 2 * padding - field) // stride + 1


def _windows(x_padded: np.ndarray, fh: int, fw: int, stride: int, out_h: int, out_w: int) -> np.ndarray:
    """(N, C, fh, fw, out_h, out_w) view: entry [n, c, ky, kx, oy, ox] = x_padded[n, c, oy*s + ky, ox*s + kx]."""
    n, c = x_padded.shape[:2]
    sn, sc, sh, sw = x_padded.strides
    return np.lib.stride_tricks.as_strided(
        x_padded, shape=(n, c, fh, fw, out_h, out_w), strides=(sn, sc, sh, sw, stride * sh, stride * sw),
        writeable=False,
    )


def im2col_cython(x: np.ndarray, field_height: int, field_width: int, padding: int, stride: int) -> np.ndarray:
    n, c, h, w = x.shape
    out_h, out_w = _out_size(h, field_height, padding, stride), _out_size(w, field_width, padding, stride)
    x_padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="constant")
    windows = _windows(x_padded, field_height, field_width, stride, out_h, out_w)
    # (N, C, fh, fw, oy, ox) -> (C, fh, fw, oy, ox, N)
    return np.ascontiguousarray(windows.transpose(1, 2, 3, 4, 5, 0)).reshape(c * field_height * field_width, -1)


def _accumulate(cols6: np.ndarray, n: int, c: int, h: int, w: int, fh: int, fw: int, padding: int,
                stride: int) -> np.ndarray:
    """Sum cols6[c, ky, kx, n, oy, ox] into x_padded[n, c, oy*s + ky, ox*s + kx] and crop the padding."""
    out_h, out_w = cols6.shape[4], cols6.shape[5]
    x_padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols6.dtype)
    for ky in range(fh):
        for kx in range(fw):
            rows = slice(ky, ky + stride * (out_h - 1) + 1, stride)
            columns = slice(kx, kx + stride * (out_w - 1) + 1, stride)
            x_padded[:, :, rows, columns] += cols6[:, ky, kx].transpose(1, 0, 2, 3)
    return x_padded[:, :, padding : padding + h, padding : padding + w]


def col2im_cython(cols: np.ndarray, N: int, C: int, H: int, W: int, field_height: int, field_width: int,
                  padding: int, stride: int) -> np.ndarray:
    out_h, out_w = _out_size(H, field_height, padding, stride), _out_size(W, field_width, padding, stride)
    cols6 = cols.reshape(C, field_height, field_width, out_h, out_w, N).transpose(0, 1, 2, 5, 3, 4)
    return _accumulate(cols6, N, C, H, W, field_height, field_width, padding, stride)


def col2im_6d_cython(cols: np.ndarray, N: int, C: int, H: int, W: int, HH: int, WW: int, pad: int,
                     stride: int) -> np.ndarray:
    return _accumulate(cols, N, C, H, W, HH, WW, pad, stride)
