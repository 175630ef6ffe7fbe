"""Softmax, classification losses and their gradients with respect to the scores.

Everything here is stable for large logits: softmax and log-softmax subtract the row maximum first (the
result is unchanged because softmax is invariant to adding a constant to a row), so logits of 1e3 give
finite, exact results where a naive ``exp(x) / sum(exp(x))`` returns inf / inf = NaN.

Conventions: cs231n's losses are means over the N examples and take integer labels; the book's
``cross_entropy_error`` takes probabilities (not logits), one-hot or label targets, and adds 1e-7 inside
the log.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "softmax",
    "log_softmax",
    "check_labels",
    "softmax_loss",
    "svm_loss",
    "cross_entropy_error",
]


def _floating(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _shifted(x: np.ndarray) -> np.ndarray:
    """x minus its maximum along the last axis: every entry <= 0, so exp never overflows."""
    x = _floating(x)
    if x.ndim < 1:
        raise ValueError("softmax needs at least one axis of scores, got a scalar")
    return x - np.max(x, axis=-1, keepdims=True)


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax along the last axis (a 1-D vector of scores, or one row per example)."""
    e = np.exp(_shifted(x))
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """log(softmax(x)) along the last axis, computed without forming tiny probabilities first."""
    s = _shifted(x)
    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))


def check_labels(y: np.ndarray, n: int, classes: int) -> np.ndarray:
    """``y`` as a 1-D integer array of ``n`` labels in [0, classes), or a ValueError saying what is wrong."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one per example, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= classes):
        bad = int(y[(y < 0) | (y >= classes)][0])
        raise ValueError(
            f"label {bad} is out of range: labels must lie in [0, {classes}) for {classes} classes"
        )
    return y


def _scores_and_labels(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = _floating(x)
    if x.ndim != 2:
        raise ValueError(f"scores x must be 2-D (N, C), got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError("scores x must hold at least one example (N >= 1)")
    return x, check_labels(y, x.shape[0], x.shape[1])


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(x) against labels y, and its gradient dx = (softmax(x) - onehot) / N."""
    x, y = _scores_and_labels(x, y)
    n = x.shape[0]
    rows = np.arange(n)
    log_p = log_softmax(x)
    loss = -float(np.sum(log_p[rows, y])) / n
    dx = np.exp(log_p)
    dx[rows, y] -= 1.0
    dx /= n
    return loss, dx


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Multiclass hinge loss: mean over examples of sum over j != y of max(0, x_j - x_y + 1), and dx.

    Each positive margin adds +1 to its own class's gradient and -1 to the correct class's.
    """
    x, y = _scores_and_labels(x, y)
    n = x.shape[0]
    rows = np.arange(n)
    margins = x - x[rows, y][:, None] + 1.0
    margins[rows, y] = 0.0
    active = margins > 0
    loss = float(np.sum(margins[active])) / n
    dx = active.astype(x.dtype)
    dx[rows, y] -= active.sum(axis=1)
    dx /= n
    return loss, dx


def cross_entropy_error(y: np.ndarray, t: np.ndarray, eps: float = 1e-7) -> float:
    """The book's cross-entropy of probabilities ``y`` against targets ``t``: -sum(log(y[true] + eps)) / N.

    A 1-D ``y`` is one example. ``t`` is one-hot when it has as many entries as ``y`` (it is turned into
    labels by argmax, as the book does), else it holds one integer label per example.
    """
    probs = _floating(y)
    if probs.ndim == 1:
        probs = probs.reshape(1, -1)
    if probs.ndim != 2:
        raise ValueError(f"y must be 1-D (C,) or 2-D (N, C) probabilities, got shape {np.shape(y)}")
    targets = np.asarray(t)
    n = probs.shape[0]
    if targets.size == probs.size:
        labels = targets.reshape(probs.shape).argmax(axis=1)
    else:
        labels = check_labels(targets.reshape(-1), n, probs.shape[1]) if targets.size == n else None
        if labels is None:
            raise ValueError(
                f"t must be one-hot with y's {probs.size} entries or hold {n} labels, "
                f"got shape {targets.shape}"
            )
    return -float(np.sum(np.log(probs[np.arange(n), labels] + eps))) / n
