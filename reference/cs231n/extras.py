"""The extras assignment's hand-out functions (``extras.py``): dilated 2-D convolution, 1-D convolution and
timm's ``adapt_input_conv``, in cs231n's calling convention.

Thin adapters, as :mod:`reference.cs231n.conv` is for the plain conv layer: a parameter dict in, ``(out,
cache)`` out, a backward taking ``(dout, cache)``, onto the math in :mod:`reference.functional.conv` (im2col,
floor semantics on sizes that do not divide, as torch) and :mod:`reference.timm`. The cache is ``(x, w, b,
conv_param)``, the same as the conv layer's, so a grader can call a student's backward with it.

conv_param must hold ``stride``, ``pad`` and ``dilation`` (one int each, the same on every spatial axis): the
hand-out says so, and a missing key is a ValueError rather than a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reference.functional import conv as C
from reference.timm import adapt_input_conv

__all__ = [
    "adapt_input_conv",
    "conv1d_backward",
    "conv1d_forward",
    "conv2d_dilated_backward",
    "conv2d_dilated_forward",
]

ConvCache = tuple[np.ndarray, np.ndarray, np.ndarray, Mapping[str, Any]]
GEOMETRY = ("stride", "pad", "dilation")


def _geometry(conv_param: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """(stride, pad, dilation) of conv_param; ValueError naming any key that is missing."""
    if not isinstance(conv_param, Mapping):
        raise ValueError(f"conv_param must be a dict with keys {list(GEOMETRY)}, got {type(conv_param).__name__}")
    missing = [k for k in GEOMETRY if k not in conv_param]
    if missing:
        raise ValueError(f"conv_param is missing {missing} (it has {sorted(conv_param)})")
    return conv_param["stride"], conv_param["pad"], conv_param["dilation"]


def conv2d_dilated_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping[str, Any]
) -> tuple[np.ndarray, ConvCache]:
    """Dilated conv forward: x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride', 'pad', 'dilation'}.

    ``out[n, f, i, j] = b[f] + sum_{c, ky, kx} w[f, c, ky, kx] * xpad[n, c, i*stride + ky*dilation,
    j*stride + kx*dilation]``, out (N, F, H', W') with ``H' = 1 + (H + 2 pad - dilation (HH - 1) - 1) // stride``.
    Returns out and the cache (x, w, b, conv_param).
    """
    stride, pad, dilation = _geometry(conv_param)
    return C.conv2d(x, w, b, stride, pad, dilation), (x, w, b, conv_param)


def conv2d_dilated_backward(dout: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) of the dilated conv layer for upstream ``dout`` (N, F, H', W') and the forward's cache."""
    x, w, _, conv_param = cache
    return C.conv2d_grads(dout, x, w, *_geometry(conv_param))


def conv1d_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping[str, Any]
) -> tuple[np.ndarray, ConvCache]:
    """1-D conv forward: x (N, C, L), w (F, C, K), b (F,), conv_param {'stride', 'pad', 'dilation'}.

    ``out[n, f, i] = b[f] + sum_{c, k} w[f, c, k] * xpad[n, c, i*stride + k*dilation]``, out (N, F, L') with
    ``L' = 1 + (L + 2 pad - dilation (K - 1) - 1) // stride``. Returns out and the cache (x, w, b, conv_param).
    """
    stride, pad, dilation = _geometry(conv_param)
    return C.conv1d(x, w, b, stride, pad, dilation), (x, w, b, conv_param)


def conv1d_backward(dout: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) of the 1-D conv layer for upstream ``dout`` (N, F, L') and the forward's cache."""
    x, w, _, conv_param = cache
    return C.conv1d_grads(dout, x, w, *_geometry(conv_param))
