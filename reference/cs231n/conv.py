"""cs231n's convolution and max-pool layer functions (``layers.py`` naive and ``fast_layers.py`` names).

Thin adapters from the assignment's calling convention -- parameter dicts in, ``(out, cache)`` out, a backward
that takes ``(dout, cache)`` -- onto the math in :mod:`reference.functional.conv` and
:mod:`reference.functional.pool`. The naive functions run the loop implementations and the fast ones the
im2col / strided-view implementations, so comparing a naive spec with its fast twin compares two independent
codes. Caches hold the inputs and the parameter dict; a naive cache works with the fast backward and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reference.functional import conv as C
from reference.functional import pool as P

__all__ = [
    "conv_forward_naive",
    "conv_backward_naive",
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
]

ConvCache = tuple[np.ndarray, np.ndarray, np.ndarray, Mapping[str, Any]]
PoolCache = tuple[np.ndarray, Mapping[str, Any]]


def _settings(params: Mapping[str, Any], keys: tuple[str, ...], what: str) -> tuple[Any, ...]:
    """The values of ``keys`` in a cs231n parameter dict; ValueError naming any that is missing."""
    if not isinstance(params, Mapping):
        raise ValueError(f"{what} must be a dict with keys {list(keys)}, got {type(params).__name__}")
    missing = [k for k in keys if k not in params]
    if missing:
        raise ValueError(f"{what} is missing {missing} (it has {sorted(params)})")
    return tuple(params[k] for k in keys)


def _conv_settings(conv_param: Mapping[str, Any]) -> tuple[Any, Any]:
    stride, pad = _settings(conv_param, ("stride", "pad"), "conv_param")
    return stride, pad


def _pool_settings(pool_param: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    height, width, stride = _settings(pool_param, ("pool_height", "pool_width", "stride"), "pool_param")
    return height, width, stride


# ---------------------------------------------------------------- convolution
def conv_forward_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping[str, Any]
) -> tuple[np.ndarray, ConvCache]:
    """Conv layer forward: x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride', 'pad'}.

    Returns out (N, F, H', W') with ``H' = 1 + (H + 2 pad - HH) // stride``, and the cache
    (x, w, b, conv_param).
    """
    stride, pad = _conv_settings(conv_param)
    return C.conv2d_loops(x, w, b, stride, pad), (x, w, b, conv_param)


def conv_backward_naive(dout: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conv layer backward: (dx, dw, db) for upstream ``dout`` and the forward's cache."""
    x, w, _, conv_param = cache
    stride, pad = _conv_settings(conv_param)
    return C.conv2d_grads_loops(dout, x, w, stride, pad)


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: Mapping[str, Any]
) -> tuple[np.ndarray, ConvCache]:
    """:func:`conv_forward_naive` computed with im2col and one matrix product."""
    stride, pad = _conv_settings(conv_param)
    return C.conv2d(x, w, b, stride, pad), (x, w, b, conv_param)


def conv_backward_fast(dout: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`conv_backward_naive` computed with im2col / col2im."""
    x, w, _, conv_param = cache
    stride, pad = _conv_settings(conv_param)
    return C.conv2d_grads(dout, x, w, stride, pad)


# ---------------------------------------------------------------- max pooling
def max_pool_forward_naive(x: np.ndarray, pool_param: Mapping[str, Any]) -> tuple[np.ndarray, PoolCache]:
    """Max-pool forward: x (N, C, H, W), pool_param {'pool_height', 'pool_width', 'stride'}; no padding.

    Returns out (N, C, H', W') with ``H' = 1 + (H - pool_height) // stride`` and the cache (x, pool_param).
    """
    height, width, stride = _pool_settings(pool_param)
    return P.max_pool2d_loops(x, height, width, stride), (x, pool_param)


def max_pool_backward_naive(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Max-pool backward: dx, each dout element routed to its window's (first) maximum, summed on overlaps."""
    x, pool_param = cache
    height, width, stride = _pool_settings(pool_param)
    return P.max_pool2d_grads_loops(dout, x, height, width, stride)


def max_pool_forward_fast(x: np.ndarray, pool_param: Mapping[str, Any]) -> tuple[np.ndarray, PoolCache]:
    """:func:`max_pool_forward_naive` computed on a strided view of all windows at once."""
    height, width, stride = _pool_settings(pool_param)
    return P.max_pool2d(x, height, width, stride), (x, pool_param)


def max_pool_backward_fast(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """:func:`max_pool_backward_naive` computed without a loop over windows."""
    x, pool_param = cache
    height, width, stride = _pool_settings(pool_param)
    return P.max_pool2d_grads(dout, x, height, width, stride)
