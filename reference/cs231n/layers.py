"""cs231n assignment 2 ``layers.py``: the hand-out's names, signatures and return values (2019+ conventions).

Each function is a thin adapter from the assignment's calling convention (``(out, cache)`` pairs, parameter
dicts such as ``bn_param`` that the layer reads *and writes*) to the math in :mod:`reference.functional`.
Caches are opaque: only the matching backward function reads them.

Conventions pinned here (see the design's conventions table):
  * ``bn_param``: ``mode`` is 'train' or 'test' (required), ``eps`` defaults to 1e-5, ``momentum`` to 0.9
    meaning ``running = momentum * running + (1 - momentum) * batch``; the running mean and *biased* running
    variance are stored into the dict after every call, starting from zeros of x's feature size and dtype.
  * ``dropout_param``: ``p`` is the *keep* probability, dropout is inverted, ``seed`` (optional) makes the
    mask reproducible exactly as ``np.random.seed(seed)`` before drawing would, without touching NumPy's
    global random state.
  * group norm's gamma, beta, dgamma and dbeta have shape (1, C, 1, 1).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import numpy as np

from reference.functional import activations as A
from reference.functional import dense as D
from reference.functional import dropout as DO
from reference.functional import losses as L
from reference.functional import normalization as NORM

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "softmax_loss",
    "svm_loss",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_forward",
    "layernorm_backward",
    "dropout_forward",
    "dropout_backward",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
]

DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.9

Grads3 = tuple[np.ndarray, np.ndarray, np.ndarray]


# ---------------------------------------------------------------- affine and ReLU
def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """out = x.reshape(N, -1) @ w + b for x (N, d_1, ..., d_k), w (D, M), b (M,); cache (x, w, b)."""
    return D.affine(x, w, b), (x, w, b)


def affine_backward(dout: np.ndarray, cache: Any) -> Grads3:
    """(dx, dw, db) for upstream dout (N, M); dx has x's original shape."""
    x, w, _ = cache
    return D.affine_grads(dout, x, w)


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """max(0, x); cache x."""
    return A.relu(x), x


def relu_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dout where the forward input was > 0, else 0."""
    return A.relu_grad(dout, cache)


# ---------------------------------------------------------------- losses
def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(loss, dx): mean softmax cross-entropy of scores x (N, C) against labels y (N,) in [0, C)."""
    return L.softmax_loss(x, y)


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(loss, dx): mean multiclass hinge loss (margin 1) of scores x (N, C) against labels y (N,)."""
    return L.svm_loss(x, y)


# ---------------------------------------------------------------- parameter dicts
def _param_dict(param: Any, name: str) -> MutableMapping[str, Any]:
    if not isinstance(param, MutableMapping):
        raise ValueError(f"{name} must be a dict, got {type(param).__name__}")
    return param


def _mode(param: MutableMapping[str, Any], name: str) -> str:
    mode = param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError(f"{name}['mode'] must be 'train' or 'test', got {mode!r}")
    return str(mode)


def _running_stat(bn_param: MutableMapping[str, Any], key: str, x: np.ndarray) -> np.ndarray:
    """bn_param[key], or zeros of x's feature size and dtype when the dict has none yet."""
    d = x.shape[1]
    value = bn_param.get(key)
    if value is None:
        return np.zeros(d, dtype=x.dtype)
    value = np.asarray(value)
    if value.shape != (d,):
        raise ValueError(
            f"bn_param[{key!r}] has shape {value.shape}, expected ({d},) for x of shape {x.shape}"
        )
    return value


# ---------------------------------------------------------------- batch normalisation
def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: MutableMapping[str, Any]
) -> tuple[np.ndarray, Any]:
    """Batch norm of x (N, D) with gamma, beta (D,). Train mode normalises with the batch statistics and
    updates the running ones; test mode normalises with the running ones. Both store the running mean and
    variance into ``bn_param``. The cache (train mode only) feeds :func:`batchnorm_backward`."""
    bn_param = _param_dict(bn_param, "bn_param")
    mode = _mode(bn_param, "bn_param")
    eps = float(bn_param.get("eps", DEFAULT_EPS))
    momentum = float(bn_param.get("momentum", DEFAULT_MOMENTUM))
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"batchnorm_forward needs x of shape (N, D), got shape {x.shape}")
    running_mean = _running_stat(bn_param, "running_mean", x)
    running_var = _running_stat(bn_param, "running_var", x)
    cache: Any = None
    if mode == "train":
        out, mean, var, cache = NORM.batchnorm_train(x, gamma, beta, eps)
        running_mean = NORM.update_running(running_mean, mean, momentum)
        running_var = NORM.update_running(running_var, var, momentum)
    else:
        out = NORM.batchnorm_eval(x, gamma, beta, running_mean, running_var, eps)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def _train_cache(cache: Any, name: str) -> NORM.BatchNormCache:
    if not isinstance(cache, NORM.BatchNormCache):
        raise ValueError(f"{name} needs the cache of a train-mode forward pass")
    return cache


def batchnorm_backward(dout: np.ndarray, cache: Any) -> Grads3:
    """(dx, dgamma, dbeta), dx through the computational graph node by node."""
    return NORM.batchnorm_backward_staged(np.asarray(dout), _train_cache(cache, "batchnorm_backward"))


def batchnorm_backward_alt(dout: np.ndarray, cache: Any) -> Grads3:
    """(dx, dgamma, dbeta), dx in the simplified closed form; equal to :func:`batchnorm_backward`."""
    return NORM.batchnorm_backward(np.asarray(dout), _train_cache(cache, "batchnorm_backward_alt"))


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: MutableMapping[str, Any]
) -> tuple[np.ndarray, Any]:
    """Layer norm of x (N, D): each example normalised over its features; ``ln_param['eps']`` (1e-5)."""
    ln_param = _param_dict(ln_param, "ln_param")
    return NORM.layernorm(x, gamma, beta, float(ln_param.get("eps", DEFAULT_EPS)))


def layernorm_backward(dout: np.ndarray, cache: Any) -> Grads3:
    """(dx, dgamma, dbeta) of :func:`layernorm_forward`."""
    return NORM.layernorm_backward(np.asarray(dout), cache)


# ---------------------------------------------------------------- dropout
def dropout_forward(x: np.ndarray, dropout_param: MutableMapping[str, Any]) -> tuple[np.ndarray, Any]:
    """Inverted dropout keeping each unit with probability ``dropout_param['p']`` in train mode; identity in
    test mode. A ``seed`` entry makes the mask reproducible. Cache (dropout_param, mask)."""
    dropout_param = _param_dict(dropout_param, "dropout_param")
    if "p" not in dropout_param:
        raise ValueError("dropout_param needs 'p', the probability of keeping a unit")
    mode = _mode(dropout_param, "dropout_param")
    seed = dropout_param.get("seed")
    rng = np.random.RandomState(seed) if seed is not None else None
    out, mask = DO.dropout(x, dropout_param["p"], rate_is="keep", train=mode == "train", rng=rng)
    return out, (dropout_param, mask)


def dropout_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dout times the forward's mask in train mode; dout itself in test mode."""
    _, mask = cache
    return DO.dropout_grad(dout, mask)


# ---------------------------------------------------------------- spatial (per-channel) normalisation
def spatial_batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: MutableMapping[str, Any]
) -> tuple[np.ndarray, Any]:
    """Batch norm of x (N, C, H, W) per channel, gamma, beta (C,): :func:`batchnorm_forward` on the
    channels-last rows (N * H * W, C), with the same ``bn_param`` conventions."""
    x = np.asarray(x)
    out, cache = batchnorm_forward(NORM.channels_last_rows(x), gamma, beta, bn_param)
    return NORM.channels_first_from_rows(out, x.shape), (cache, x.shape)


def spatial_batchnorm_backward(dout: np.ndarray, cache: Any) -> Grads3:
    """(dx, dgamma, dbeta) of :func:`spatial_batchnorm_forward`; dgamma and dbeta have shape (C,)."""
    bn_cache, shape = cache
    dx, dgamma, dbeta = batchnorm_backward_alt(NORM.channels_last_rows(dout), bn_cache)
    return NORM.channels_first_from_rows(dx, shape), dgamma, dbeta


def spatial_groupnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, G: int, gn_param: MutableMapping[str, Any]
) -> tuple[np.ndarray, Any]:
    """Group norm of x (N, C, H, W) with G groups of consecutive channels; gamma, beta (1, C, 1, 1);
    ``gn_param['eps']`` (1e-5)."""
    gn_param = _param_dict(gn_param, "gn_param")
    return NORM.groupnorm(x, gamma, beta, G, float(gn_param.get("eps", DEFAULT_EPS)))


def spatial_groupnorm_backward(dout: np.ndarray, cache: Any) -> Grads3:
    """(dx, dgamma, dbeta) of :func:`spatial_groupnorm_forward`; dgamma and dbeta have shape (1, C, 1, 1)."""
    return NORM.groupnorm_backward(np.asarray(dout), cache)
