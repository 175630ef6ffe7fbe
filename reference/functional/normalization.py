"""Batch, layer, group and spatial batch normalisation: the math written once.

Every normaliser here is the same two steps:

1. *standardise* columns: ``xhat = (x - mean) / sqrt(var + eps)`` with the mean and the biased variance
   taken over axis 0 (the batch, for batch norm);
2. *scale and shift*: ``out = gamma * xhat + beta`` with ``gamma``/``beta`` broadcast against ``out``.

The variants only choose what a "column" is. Batch norm standardises the (N, D) input itself; layer norm
standardises ``x.T`` (each example over its features); group norm standardises the transpose of
``x.reshape(N * G, -1)`` (each example's group of channels over channels and pixels); spatial batch norm is
batch norm on ``x`` moved to channels-last rows (N * H * W, C). So a bug fixed in step 1 is fixed everywhere.

eps sits *inside* the square root (cs231n, the book and torch agree); the running-statistics update is
``momentum * running + (1 - momentum) * batch`` (cs231n's and the book's momentum 0.9 is torch's 0.1), and the
running variance is the biased batch variance (torch keeps the unbiased one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Standardized",
    "BatchNormCache",
    "LayerNormCache",
    "GroupNormCache",
    "standardize",
    "standardize_backward",
    "standardize_backward_staged",
    "scale_shift_backward",
    "batchnorm_train",
    "batchnorm_eval",
    "update_running",
    "batchnorm_backward",
    "batchnorm_backward_staged",
    "layernorm",
    "layernorm_backward",
    "groupnorm",
    "groupnorm_backward",
    "channels_last_rows",
    "channels_first_from_rows",
]


# ---------------------------------------------------------------- step 1: standardise columns
@dataclass(frozen=True)
class Standardized:
    """What the backward pass needs from ``standardize``: the centred input and 1 / sqrt(var + eps)."""

    centered: np.ndarray
    inv_std: np.ndarray
    xhat: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float


def standardize(x: np.ndarray, eps: float) -> Standardized:
    """Standardise each column of a 2-D ``x`` with its own mean and biased variance (over axis 0)."""
    if x.ndim != 2:
        raise ValueError(f"standardize needs a 2-D array (rows, columns), got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError("cannot normalise over an empty axis: need at least one row")
    mean = x.mean(axis=0)
    centered = x - mean
    var = np.mean(centered * centered, axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    return Standardized(centered, inv_std, centered * inv_std, mean, var, eps)


def standardize_backward(dxhat: np.ndarray, s: Standardized) -> np.ndarray:
    """dx from dxhat in closed form: inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).

    The derivation folds the gradient paths through the mean and the variance into two column means.
    """
    mean_d = dxhat.mean(axis=0)
    mean_dx = np.mean(dxhat * s.xhat, axis=0)
    return s.inv_std * (dxhat - mean_d - s.xhat * mean_dx)


def standardize_backward_staged(dxhat: np.ndarray, s: Standardized) -> np.ndarray:
    """dx from dxhat by walking the computational graph backwards, one node at a time.

    Graph: mean = sum(x)/n; c = x - mean; var = sum(c^2)/n; std = sqrt(var + eps); inv = 1/std; xhat = c*inv.
    Algebraically equal to :func:`standardize_backward`; kept separate because cs231n asks for both.
    """
    n = dxhat.shape[0]
    std = 1.0 / s.inv_std
    d_inv = np.sum(dxhat * s.centered, axis=0)
    d_centered = dxhat * s.inv_std
    d_std = -d_inv / (std * std)
    d_var = 0.5 * d_std / std
    d_centered = d_centered + 2.0 * s.centered * (d_var / n)
    d_mean = -np.sum(d_centered, axis=0)
    return d_centered + d_mean / n


# ---------------------------------------------------------------- step 2: scale and shift
def _sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes along which a parameter of ``shape`` was broadcast to ``grad``'s shape."""
    lead = grad.ndim - len(shape)
    summed = grad.sum(axis=tuple(range(lead))) if lead else grad
    axes = tuple(i for i, size in enumerate(shape) if size == 1 and summed.shape[i] != 1)
    return summed.sum(axis=axes, keepdims=True) if axes else summed


def _check_affine_params(gamma: np.ndarray, beta: np.ndarray, shape: tuple[int, ...], what: str) -> None:
    for name, value in (("gamma", gamma), ("beta", beta)):
        if value.shape != shape:
            raise ValueError(f"{name} must have shape {shape} for {what}, got shape {value.shape}")


def scale_shift_backward(
    dout: np.ndarray, xhat: np.ndarray, gamma: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dxhat, dgamma, dbeta) of ``out = gamma * xhat + beta``; dgamma and dbeta take gamma's shape."""
    if dout.shape != xhat.shape:
        raise ValueError(f"dout has shape {dout.shape} but the forward output had shape {xhat.shape}")
    return dout * gamma, _sum_to_shape(dout * xhat, gamma.shape), _sum_to_shape(dout, gamma.shape)


# ---------------------------------------------------------------- batch normalisation
@dataclass(frozen=True)
class BatchNormCache:
    standardized: Standardized
    gamma: np.ndarray


def _as_rows(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{what} needs a 2-D input (N, D), got shape {x.shape}")
    return x


def batchnorm_train(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, BatchNormCache]:
    """Train-mode batch norm of (N, D) ``x``: (out, batch mean, biased batch variance, cache)."""
    x = _as_rows(x, "batch normalisation")
    gamma, beta = np.asarray(gamma), np.asarray(beta)
    _check_affine_params(gamma, beta, (x.shape[1],), f"x with {x.shape[1]} features")
    s = standardize(x, eps)
    return gamma * s.xhat + beta, s.mean, s.var, BatchNormCache(s, gamma)


def batchnorm_eval(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float,
) -> np.ndarray:
    """Test-mode batch norm: normalise with the running statistics instead of the batch's own."""
    x = _as_rows(x, "batch normalisation")
    gamma, beta = np.asarray(gamma), np.asarray(beta)
    d = x.shape[1]
    _check_affine_params(gamma, beta, (d,), f"x with {d} features")
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        if np.shape(value) != (d,):
            raise ValueError(f"{name} must have shape ({d},), got shape {np.shape(value)}")
    return gamma * ((x - running_mean) / np.sqrt(running_var + eps)) + beta


def update_running(running: np.ndarray, batch: np.ndarray, momentum: float) -> np.ndarray:
    """The exponential moving average ``momentum * running + (1 - momentum) * batch`` (a new array)."""
    return momentum * running + (1.0 - momentum) * batch


def batchnorm_backward(dout: np.ndarray, cache: BatchNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dgamma, dbeta) of train-mode batch norm, dx in closed form."""
    dxhat, dgamma, dbeta = scale_shift_backward(dout, cache.standardized.xhat, cache.gamma)
    return standardize_backward(dxhat, cache.standardized), dgamma, dbeta


def batchnorm_backward_staged(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dgamma, dbeta) of train-mode batch norm, dx through the staged computational graph."""
    dxhat, dgamma, dbeta = scale_shift_backward(dout, cache.standardized.xhat, cache.gamma)
    return standardize_backward_staged(dxhat, cache.standardized), dgamma, dbeta


# ---------------------------------------------------------------- layer normalisation
@dataclass(frozen=True)
class LayerNormCache:
    standardized: Standardized  # of x.T: one column per example
    gamma: np.ndarray


def layernorm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> tuple[np.ndarray, LayerNormCache]:
    """Layer norm of (N, D) ``x``: each example standardised over its D features, then gamma * xhat + beta."""
    x = _as_rows(x, "layer normalisation")
    gamma, beta = np.asarray(gamma), np.asarray(beta)
    _check_affine_params(gamma, beta, (x.shape[1],), f"x with {x.shape[1]} features")
    s = standardize(x.T, eps)
    return gamma * s.xhat.T + beta, LayerNormCache(s, gamma)


def layernorm_backward(dout: np.ndarray, cache: LayerNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dgamma, dbeta) of :func:`layernorm`."""
    dxhat, dgamma, dbeta = scale_shift_backward(dout, cache.standardized.xhat.T, cache.gamma)
    return standardize_backward(dxhat.T, cache.standardized).T, dgamma, dbeta


# ---------------------------------------------------------------- group normalisation
@dataclass(frozen=True)
class GroupNormCache:
    standardized: Standardized  # of x.reshape(N * G, -1).T: one column per (example, group)
    gamma: np.ndarray
    shape: tuple[int, ...]


def groupnorm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, groups: int, eps: float
) -> tuple[np.ndarray, GroupNormCache]:
    """Group norm of (N, C, H, W) ``x``: each example's G groups of C/G consecutive channels standardised over
    their channels and pixels, then scaled and shifted per channel by gamma, beta of shape (1, C, 1, 1)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"group normalisation needs a 4-D input (N, C, H, W), got shape {x.shape}")
    n, c = x.shape[:2]
    if not isinstance(groups, (int, np.integer)) or groups < 1 or c % groups:
        raise ValueError(f"the number of groups G={groups!r} must be a positive divisor of C={c}")
    gamma, beta = np.asarray(gamma), np.asarray(beta)
    _check_affine_params(gamma, beta, (1, c, 1, 1), f"x with C={c} channels")
    s = standardize(x.reshape(n * int(groups), -1).T, eps)
    return gamma * s.xhat.T.reshape(x.shape) + beta, GroupNormCache(s, gamma, x.shape)


def groupnorm_backward(dout: np.ndarray, cache: GroupNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dgamma, dbeta) of :func:`groupnorm`; dgamma and dbeta have gamma's shape (1, C, 1, 1)."""
    s = cache.standardized
    dxhat, dgamma, dbeta = scale_shift_backward(dout, s.xhat.T.reshape(cache.shape), cache.gamma)
    dx = standardize_backward(dxhat.reshape(s.xhat.shape[1], -1).T, s).T.reshape(cache.shape)
    return dx, dgamma, dbeta


# ---------------------------------------------------------------- spatial (per-channel) layout
def channels_last_rows(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N * H * W, C): one row per pixel, one column per channel (what spatial batch norm
    normalises). Moving C last *before* reshaping is what keeps each column a single channel."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"spatial normalisation needs a 4-D input (N, C, H, W), got shape {x.shape}")
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def channels_first_from_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`channels_last_rows` for an input of ``shape`` (N, C, H, W)."""
    n, c, h, w = shape
    return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)
