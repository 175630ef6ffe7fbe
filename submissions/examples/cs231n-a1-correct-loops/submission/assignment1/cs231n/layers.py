from builtins import range
import numpy as np


def affine_forward(x, w, b):
    """Computes the forward pass for an affine (fully connected) layer.

    x: (N, d_1, ..., d_k), w: (D, M), b: (M,)
    Returns out (N, M) and cache (x, w, b).
    """
    out = None
    # flatten every example into one row, D = d_1 * ... * d_k
    N = x.shape[0]
    x_rows = x.reshape(N, -1)
    out = x_rows.dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass for an affine layer. Returns dx (same shape as x), dw, db."""
    x, w, b = cache
    dx, dw, db = None, None, None
    N = x.shape[0]
    x_rows = x.reshape(N, -1)

    dx = dout.dot(w.T)          # (N, D)
    dx = dx.reshape(x.shape)    # back to (N, d1, ..., dk)
    dw = x_rows.T.dot(dout)     # (D, M)
    db = np.sum(dout, axis=0)   # (M,)
    return dx, dw, db


def relu_forward(x):
    """Forward pass for ReLU. Returns out and cache = x."""
    out = None
    out = x.copy()
    out[out < 0] = 0
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """Backward pass for ReLU.

    I just zero the upstream gradient where the input was negative
    (x == 0 counts as "on", the subgradient there can be anything in [0, 1]).
    """
    dx, x = None, cache
    dout[x < 0] = 0    # reuse dout's memory, no need for a new array
    dx = dout
    return dx


def softmax_loss(x, y):
    """Softmax loss and gradient. x: (N, C) scores, y: (N,) labels. Returns (loss, dx)."""
    loss, dx = None, None
    N = x.shape[0]

    # subtract the max of each row first, otherwise exp blows up for big scores
    shifted = x - np.max(x, axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    sums = np.sum(exp_scores, axis=1, keepdims=True)
    probs = exp_scores / sums
    log_probs = shifted - np.log(sums)

    loss = 0.0
    for i in range(N):
        loss -= log_probs[i, y[i]]
    loss /= N

    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def svm_loss(x, y):
    """Multiclass SVM loss and gradient. x: (N, C) scores, y: (N,) labels. Returns (loss, dx)."""
    loss, dx = None, None
    N, C = x.shape
    loss = 0.0
    dx = np.zeros_like(x)
    for i in range(N):
        for j in range(C):
            if j == y[i]:
                continue
            margin = x[i, j] - x[i, y[i]] + 1.0
            if margin > 0:
                loss += margin
                dx[i, j] += 1.0
                dx[i, y[i]] -= 1.0
    loss /= N
    dx /= N
    return loss, dx
