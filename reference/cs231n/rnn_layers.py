"""cs231n assignment 3's ``rnn_layers.py`` (2019-2022 hand-outs), in NumPy: the trusted answers.

Conventions the hand-out pins (the signatures and shapes are its own):

* vanilla RNN step: ``next_h = tanh(x @ Wx + prev_h @ Wh + b)``; x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H),
  b (H,). A sequence runs the step over x (N, T, D) from h0 and returns every hidden state, h (N, T, H);
  its backward takes the upstream gradient of every hidden state, dh (N, T, H), and returns dh0 as well.
* word embedding: ``out = W[x]`` for integer x (N, T) and W (V, D); the backward accumulates over repeated
  words (``np.add.at``), since one row of W may feed many positions.
* LSTM step: ``a = x @ Wx + prev_h @ Wh + b`` with Wx (D, 4H), cut into four blocks of H in the order
  i, f, o, g; ``i, f, o = sigmoid(.)``, ``g = tanh(.)``; ``next_c = f * prev_c + i * g``,
  ``next_h = o * tanh(next_c)``. A sequence starts from h0 and a zero cell state c0.
* temporal affine: x (N, T, D) @ w (D, M) + b per time step; its cache is ``(x, w, b, out)``.
* temporal softmax loss: x (N, T, V) scores, y (N, T) labels, mask (N, T) booleans; the loss is the
  cross-entropy summed over the unmasked steps and divided by N (not by N * T, nor by the mask's count).

Caches are this module's own tuples (the hand-out leaves their layout to the student, except the temporal
affine layer's): a backward here takes only what its forward here returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Cache = tuple[Any, ...]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """A logistic sigmoid that never overflows: exp of a non-positive number only."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ---------------------------------------------------------------- vanilla RNN
def rnn_step_forward(x: np.ndarray, prev_h: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                     b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """One tanh step: next_h (N, H)."""
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h: np.ndarray, cache: Cache) -> tuple[np.ndarray, ...]:
    """(dx, dprev_h, dWx, dWh, db) of one step; tanh' = 1 - tanh**2, read off the stored output."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1.0 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Every hidden state of a sequence x (N, T, D) from h0: h (N, T, H)."""
    n, t, _ = x.shape
    h = np.zeros((n, t, h0.shape[1]), dtype=np.result_type(x, h0, Wx))
    steps = []
    prev = h0
    for k in range(t):
        prev, step = rnn_step_forward(x[:, k], prev, Wx, Wh, b)
        h[:, k] = prev
        steps.append(step)
    return h, (steps,)


def rnn_backward(dh: np.ndarray, cache: Cache) -> tuple[np.ndarray, ...]:
    """(dx, dh0, dWx, dWh, db): back through time, each state's gradient its own upstream plus what the next
    step sends back through Wh."""
    (steps,) = cache
    x0, _, Wx, Wh, _ = steps[0]
    n, t, _ = dh.shape
    dtype = np.result_type(dh, Wx)
    dx = np.zeros((n, t, x0.shape[1]), dtype=dtype)
    dWx, dWh, db = np.zeros(Wx.shape, dtype=dtype), np.zeros(Wh.shape, dtype=dtype), np.zeros(Wx.shape[1], dtype)
    carried = np.zeros(dh[:, 0].shape, dtype=dtype)
    for k in reversed(range(t)):
        dx[:, k], carried, dWx_k, dWh_k, db_k = rnn_step_backward(dh[:, k] + carried, steps[k])
        dWx, dWh, db = dWx + dWx_k, dWh + dWh_k, db + db_k
    return dx, carried, dWx, dWh, db


# ---------------------------------------------------------------- word embedding
def word_embedding_forward(x: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, Cache]:
    """The rows of W named by the integer words x (N, T): out (N, T, D)."""
    return W[x], (x, W.shape)


def word_embedding_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """dW (V, D): every position's upstream gradient added to its word's row (repeats accumulate)."""
    x, shape = cache
    dW = np.zeros(shape, dtype=dout.dtype)
    np.add.at(dW, x, dout)
    return dW


# ---------------------------------------------------------------- LSTM
def lstm_step_forward(x: np.ndarray, prev_h: np.ndarray, prev_c: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                      b: np.ndarray) -> tuple[np.ndarray, np.ndarray, Cache]:
    """One LSTM step, gates i, f, o, g along the 4H axis: (next_h, next_c, cache)."""
    hidden = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = (sigmoid(a[:, k * hidden:(k + 1) * hidden]) for k in range(3))
    g = np.tanh(a[:, 3 * hidden:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_step_backward(dnext_h: np.ndarray, dnext_c: np.ndarray, cache: Cache) -> tuple[np.ndarray, ...]:
    """(dx, dprev_h, dprev_c, dWx, dWh, db) of one step: the cell's gradient is its own upstream plus what
    flows in through next_h = o * tanh(next_c)."""
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1.0 - tanh_c ** 2)
    da = np.concatenate([
        dc * g * i * (1.0 - i),
        dc * prev_c * f * (1.0 - f),
        dnext_h * tanh_c * o * (1.0 - o),
        dc * i * (1.0 - g ** 2),
    ], axis=1)
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                 b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Every hidden state of a sequence from h0 and a zero cell state: h (N, T, H)."""
    n, t, _ = x.shape
    h = np.zeros((n, t, h0.shape[1]), dtype=np.result_type(x, h0, Wx))
    prev_h, prev_c = h0, np.zeros_like(h0)
    steps = []
    for k in range(t):
        prev_h, prev_c, step = lstm_step_forward(x[:, k], prev_h, prev_c, Wx, Wh, b)
        h[:, k] = prev_h
        steps.append(step)
    return h, (steps,)


def lstm_backward(dh: np.ndarray, cache: Cache) -> tuple[np.ndarray, ...]:
    """(dx, dh0, dWx, dWh, db): back through time carrying both the hidden state's and the cell's gradient
    (the last cell state has no upstream gradient of its own)."""
    (steps,) = cache
    x0, _, _, Wx, Wh = steps[0][:5]
    n, t, _ = dh.shape
    dtype = np.result_type(dh, Wx)
    dx = np.zeros((n, t, x0.shape[1]), dtype=dtype)
    dWx, dWh, db = np.zeros(Wx.shape, dtype=dtype), np.zeros(Wh.shape, dtype=dtype), np.zeros(Wx.shape[1], dtype)
    carried_h = np.zeros(dh[:, 0].shape, dtype=dtype)
    carried_c = np.zeros(dh[:, 0].shape, dtype=dtype)
    for k in reversed(range(t)):
        dx[:, k], carried_h, carried_c, dWx_k, dWh_k, db_k = lstm_step_backward(dh[:, k] + carried_h, carried_c,
                                                                               steps[k])
        dWx, dWh, db = dWx + dWx_k, dWh + dWh_k, db + db_k
    return dx, carried_h, dWx, dWh, db


# ---------------------------------------------------------------- temporal affine and loss
def temporal_affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """x (N, T, D) @ w (D, M) + b at every time step: out (N, T, M); the hand-out's cache (x, w, b, out)."""
    out = np.einsum("ntd,dm->ntm", x, w) + b
    return out, (x, w, b, out)


def temporal_affine_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db), the weights' gradients summed over examples and time steps."""
    x, w, _, _ = cache
    return np.einsum("ntm,dm->ntd", dout, w), np.einsum("ntd,ntm->dm", x, dout), dout.sum(axis=(0, 1))


def temporal_softmax_loss(x: np.ndarray, y: np.ndarray, mask: np.ndarray,
                          verbose: bool = False) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy at every unmasked step, summed and divided by N: (loss, dx)."""
    n = x.shape[0]
    shifted = x - x.max(axis=2, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_p, y[..., None], axis=2)[..., 0]
    weight = mask.astype(np.float64)
    loss = -float(np.sum(picked * weight)) / n
    dx = np.exp(log_p)
    np.put_along_axis(dx, y[..., None], np.take_along_axis(dx, y[..., None], axis=2) - 1.0, axis=2)
    dx *= weight[..., None] / n
    if verbose:
        print("dx shape:", dx.shape)
    return loss, dx
