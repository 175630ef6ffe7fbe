"""First-order update rules, written once: plain SGD, SGD with momentum, RMSProp and Adam.

Each rule is a pure function of the parameter, its gradient and the optimizer's state, returning the next
parameter and the next state as new arrays (nothing is written into the arguments). The hand-outs' faces
(``reference.cs231n.optim``) hold the config dicts and their defaults; here every hyper-parameter is explicit.

Conventions pinned (the cs231n hand-out's, which are also the papers'):
  * momentum keeps a *velocity* that includes the learning rate: ``v = momentum * v - lr * dw``, ``w + v``.
    torch.optim.SGD keeps a buffer without it (``b = momentum * b + dw``, ``w - lr * b``); with a constant
    learning rate the two give the same parameters, and ``v = -lr * b``.
  * RMSProp and Adam add ``epsilon`` *outside* the square root: ``dw / (sqrt(cache) + eps)``, as torch does.
  * Adam advances the step count ``t`` *before* the bias correction: the first step uses ``1 - beta ** 1``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sgd_step", "momentum_step", "rmsprop_step", "adam_step", "check_state"]


def check_state(w: np.ndarray, dw: np.ndarray, **state: np.ndarray) -> None:
    """ValueError unless ``dw`` and every state array have ``w``'s shape: an update rule is elementwise, and
    broadcasting a state of another shape would silently give the parameter a new shape."""
    for name, value in {"dw": dw, **state}.items():
        if np.shape(value) != np.shape(w):
            raise ValueError(f"{name} has shape {np.shape(value)}, but w has shape {np.shape(w)}")


def _unit_interval(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")


def _positive(name: str, value: float) -> None:
    if not value > 0.0:
        raise ValueError(f"{name} must be positive, got {value}")


def sgd_step(w: np.ndarray, dw: np.ndarray, *, learning_rate: float) -> np.ndarray:
    """``w - learning_rate * dw``."""
    check_state(w, dw)
    return w - learning_rate * dw


def momentum_step(
    w: np.ndarray, dw: np.ndarray, velocity: np.ndarray, *, learning_rate: float, momentum: float
) -> tuple[np.ndarray, np.ndarray]:
    """(next_w, next_velocity): ``v = momentum * v - learning_rate * dw``, then ``w + v``."""
    check_state(w, dw, velocity=velocity)
    _unit_interval("momentum", momentum)
    next_velocity = momentum * velocity - learning_rate * dw
    return w + next_velocity, next_velocity


def rmsprop_step(
    w: np.ndarray, dw: np.ndarray, cache: np.ndarray, *, learning_rate: float, decay_rate: float, epsilon: float
) -> tuple[np.ndarray, np.ndarray]:
    """(next_w, next_cache): ``cache = decay * cache + (1 - decay) * dw ** 2``, then
    ``w - lr * dw / (sqrt(cache) + eps)`` with the *new* cache."""
    check_state(w, dw, cache=cache)
    _unit_interval("decay_rate", decay_rate)
    _positive("epsilon", epsilon)
    if np.any(cache < 0):
        raise ValueError("cache holds a running mean of squares: it cannot be negative")
    next_cache = decay_rate * cache + (1.0 - decay_rate) * dw * dw
    return w - learning_rate * dw / (np.sqrt(next_cache) + epsilon), next_cache


def adam_step(
    w: np.ndarray,
    dw: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    *,
    learning_rate: float,
    beta1: float,
    beta2: float,
    epsilon: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(next_w, next_m, next_v, next_t): ``t + 1`` first, then the moments, their bias correction by
    ``1 - beta ** (t + 1)`` and ``w - lr * m_hat / (sqrt(v_hat) + eps)``. The stored m and v are the
    uncorrected moving averages."""
    check_state(w, dw, m=m, v=v)
    _unit_interval("beta1", beta1)
    _unit_interval("beta2", beta2)
    _positive("epsilon", epsilon)
    if np.any(v < 0):
        raise ValueError("v holds a moving average of squares: it cannot be negative")
    if int(t) != t or t < 0:
        raise ValueError(f"t counts the steps taken: a whole number >= 0, got {t!r}")
    next_t = int(t) + 1
    next_m = beta1 * m + (1.0 - beta1) * dw
    next_v = beta2 * v + (1.0 - beta2) * dw * dw
    m_hat = next_m / (1.0 - beta1**next_t)
    v_hat = next_v / (1.0 - beta2**next_t)
    return w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), next_m, next_v, next_t
