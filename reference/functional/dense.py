"""The fully connected (affine) layer: ``out = x.reshape(N, -1) @ w + b`` and its gradients.

Both cs231n's ``affine_forward`` and the book's ``Affine`` accept a batch of any shape ``(N, d_1, ..., d_k)``
and treat each example as a flat vector of ``D = d_1 * ... * d_k`` features; the gradient with respect to
``x`` is handed back in ``x``'s own shape so the layer below never sees the flattening.
"""

from __future__ import annotations

import numpy as np

__all__ = ["flatten_batch", "affine", "affine_grads"]


def flatten_batch(x: np.ndarray) -> np.ndarray:
    """``x`` as a (N, D) matrix, one row per example (a view whenever NumPy can make one)."""
    if x.ndim < 1:
        raise ValueError(
            "an affine layer needs a batch: x must have at least one axis (N, ...), got a scalar"
        )
    return x.reshape(x.shape[0], -1)


def _check_weights(rows: np.ndarray, w: np.ndarray) -> None:
    if w.ndim != 2:
        raise ValueError(f"w must be a 2-D matrix (D, M), got shape {w.shape}")
    if rows.shape[1] != w.shape[0]:
        raise ValueError(
            f"w has {w.shape[0]} rows but each example of x has {rows.shape[1]} features "
            f"(x flattened to {rows.shape}); w must be ({rows.shape[1]}, M)"
        )


def affine(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``x.reshape(N, -1) @ w + b`` for x (N, ...), w (D, M), b (M,); the result is (N, M)."""
    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    rows = flatten_batch(x)
    _check_weights(rows, w)
    if b.shape != (w.shape[1],):
        raise ValueError(f"b must have shape ({w.shape[1]},) to match w {w.shape}, got shape {b.shape}")
    return rows @ w + b


def affine_grads(dout: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dw, db)`` of ``sum(affine(x, w, b) * dout)``; ``dx`` has ``x``'s shape."""
    dout, x, w = np.asarray(dout), np.asarray(x), np.asarray(w)
    rows = flatten_batch(x)
    _check_weights(rows, w)
    if dout.shape != (rows.shape[0], w.shape[1]):
        raise ValueError(f"dout must have the output's shape {(rows.shape[0], w.shape[1])}, got {dout.shape}")
    dx = (dout @ w.T).reshape(x.shape)
    dw = rows.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
