"""rnn_layers.py vectorised: caches as dicts, einsum, np.add.at, tanh' from the pre-activation."""

import numpy as np


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    pre = x @ Wx + prev_h @ Wh + b
    next_h = np.tanh(pre)
    return next_h, {"x": x, "prev_h": prev_h, "Wx": Wx, "Wh": Wh, "pre": pre}


def rnn_step_backward(dnext_h, cache):
    dpre = dnext_h / np.cosh(cache["pre"]) ** 2
    return (dpre @ cache["Wx"].T, dpre @ cache["Wh"].T, cache["x"].T @ dpre, cache["prev_h"].T @ dpre,
            dpre.sum(0))


def rnn_forward(x, h0, Wx, Wh, b):
    states = [h0]
    caches = []
    for xt in np.moveaxis(x, 1, 0):
        h_next, c = rnn_step_forward(xt, states[-1], Wx, Wh, b)
        states.append(h_next)
        caches.append(c)
    return np.stack(states[1:], axis=1), {"steps": caches}


def rnn_backward(dh, cache):
    steps = cache["steps"]
    grads_x = []
    dWx = dWh = db = 0
    carry = np.zeros_like(dh[:, 0])
    for t in range(dh.shape[1] - 1, -1, -1):
        gx, carry, gWx, gWh, gb = rnn_step_backward(dh[:, t] + carry, steps[t])
        grads_x.append(gx)
        dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return np.stack(grads_x[::-1], axis=1), carry, dWx, dWh, db


def word_embedding_forward(x, W):
    return W[x], {"x": x, "V": W.shape[0]}


def word_embedding_backward(dout, cache):
    dW = np.zeros((cache["V"], dout.shape[-1]))
    np.add.at(dW, cache["x"], dout)
    return dW


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    ai, af, ao, ag = np.split(a, 4, axis=1)
    i, f, o, g = _sigmoid(ai), _sigmoid(af), _sigmoid(ao), np.tanh(ag)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    assert next_h.shape[1] == H
    cache = {"x": x, "prev_h": prev_h, "prev_c": prev_c, "Wx": Wx, "Wh": Wh, "gates": (i, f, o, g),
             "next_c": next_c}
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    i, f, o, g = cache["gates"]
    tc = np.tanh(cache["next_c"])
    dc = dnext_c + dnext_h * o * (1 - tc * tc)
    da = np.concatenate([dc * g * i * (1 - i), dc * cache["prev_c"] * f * (1 - f),
                         dnext_h * tc * o * (1 - o), dc * i * (1 - g * g)], axis=1)
    return (da @ cache["Wx"].T, da @ cache["Wh"].T, dc * f, cache["x"].T @ da, cache["prev_h"].T @ da,
            da.sum(axis=0))


def lstm_forward(x, h0, Wx, Wh, b):
    h, c = h0, np.zeros_like(h0)
    hs, caches = [], []
    for t in range(x.shape[1]):
        h, c, step = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        caches.append(step)
    return np.stack(hs, axis=1), caches


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.empty((N, T, cache[0]["x"].shape[1]))
    dWx = np.zeros_like(cache[0]["Wx"])
    dWh = np.zeros_like(cache[0]["Wh"])
    db = np.zeros(4 * H)
    dh_carry = np.zeros((N, H))
    dc_carry = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dh_carry, dc_carry, a, bb, c = lstm_step_backward(dh[:, t] + dh_carry, dc_carry, cache[t])
        dWx += a
        dWh += bb
        db += c
    return dx, dh_carry, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    out = np.einsum("ntd,dm->ntm", x, w) + b
    return out, (x, w, b, out)


def temporal_affine_backward(dout, cache):
    x, w, b, out = cache
    return np.einsum("ntm,dm->ntd", dout, w), np.einsum("ntd,ntm->dm", x, dout), dout.sum(axis=(0, 1))


def temporal_softmax_loss(x, y, mask, verbose=False):
    N = x.shape[0]
    z = x - x.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    m = mask.astype(x.dtype)
    loss = -(np.take_along_axis(logp, y[..., None], -1)[..., 0] * m).sum() / N
    dx = np.exp(logp)
    onehot = np.eye(x.shape[-1])[y]
    dx = (dx - onehot) * m[..., None] / N
    if verbose:
        print("dx", dx.shape)
    return loss, dx
