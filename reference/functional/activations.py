"""Elementwise activations and their backward passes (ReLU, sigmoid).

ReLU's derivative at exactly 0 is taken as 0 (the mask is ``x > 0``), as cs231n, the book and torch do; any
value in [0, 1] is a valid subgradient there, which is why gradient checks keep inputs away from 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["relu", "relu_grad", "sigmoid", "sigmoid_grad"]


def _floating(x: np.ndarray) -> np.ndarray:
    """``x`` as a floating array, keeping float32/float64 as they are (integers become float64)."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _same_shape(dout: np.ndarray, x: np.ndarray, what: str) -> None:
    if dout.shape != x.shape:
        raise ValueError(f"dout has shape {dout.shape} but {what} has shape {x.shape}")


def relu(x: np.ndarray) -> np.ndarray:
    """max(0, x), elementwise, in x's dtype."""
    x = np.asarray(x)
    return np.maximum(x, np.zeros((), dtype=x.dtype))


def relu_grad(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dout`` where ``x > 0``, else 0 (also 0 at x == 0)."""
    dout, x = np.asarray(dout), np.asarray(x)
    _same_shape(dout, x, "x")
    return np.where(x > 0, dout, np.zeros((), dtype=dout.dtype))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of ``-|x|``.

    For x >= 0 it is 1 / (1 + e^{-x}); for x < 0 the algebraically equal e^{x} / (1 + e^{x}), so a logit of
    -1000 gives a tiny positive number instead of an overflow warning and 1 / inf.
    """
    x = _floating(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


def sigmoid_grad(dout: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Gradient through a sigmoid from its *output*: dout * out * (1 - out)."""
    dout, out = np.asarray(dout), np.asarray(out)
    _same_shape(dout, out, "out")
    return dout * (1.0 - out) * out
