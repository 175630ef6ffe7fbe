"""Functions the grader hands to student code that takes a function argument (the book's numerical_gradient),
and ``snapshot``, which a program calls to keep a value as it was after a step.

Staged into every worker beside worker_main.py and importable there as ``nngrade_support``; the grading process
imports the same file to know the exact gradients. Smooth, with no kinks, and with gradients that differ from
entry to entry so that a gradient written into the wrong place is caught. NumPy only, no nngrade imports.
"""

from __future__ import annotations

import numpy as np


def _weights(x: np.ndarray) -> np.ndarray:
    return np.linspace(0.5, 1.5, num=x.size).reshape(x.shape)


def quadratic(x: np.ndarray) -> float:
    """sum(0.5 * w * x**2 + 0.3 * x): gradient w * x + 0.3 (central differences are exact here)."""
    return float(np.sum(0.5 * _weights(x) * x**2 + 0.3 * x))


def quadratic_grad(x: np.ndarray) -> np.ndarray:
    return _weights(x) * x + 0.3


def wavy(x: np.ndarray) -> float:
    """sum(w * sin(x)): gradient w * cos(x); curved enough that a forward difference is visibly off."""
    return float(np.sum(_weights(x) * np.sin(x)))


def wavy_grad(x: np.ndarray) -> np.ndarray:
    return _weights(x) * np.cos(x)


def snapshot(value: object, *keys: object) -> object:
    """A deep copy of ``value``, or of ``value[key]`` for each key in turn (None when one is missing): what a
    program keeps of a step's result before a later step can change it in place (an update rule's ``w -= ...``,
    the config dict it updates and returns). None stays None, so a rule that returns None is told so."""
    import copy

    for key in keys:
        try:
            value = value[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    return copy.deepcopy(value)


def set_param(params: object, key: str, value: np.ndarray) -> None:
    """``params[key] = value``: written into the array already there when it has ``value``'s shape (a network
    that kept a reference to it sees the new values), put in its place otherwise, so that an ``__init__`` that
    made that parameter with a wrong shape costs the ``__init__`` check alone, not every method called after."""
    current = params.get(key) if isinstance(params, dict) else None
    if isinstance(current, np.ndarray) and current.shape == np.shape(value):
        current[...] = value
    else:
        params[key] = np.array(value, copy=True)  # type: ignore[index]


def dropout_probe(dropout_forward: object, net: object, shape: list[int]) -> object:
    """What the student's ``dropout_forward`` makes of ones of ``shape`` with the network's own
    ``dropout_param`` in train mode: the multiplier (keep mask over the keep probability) a hidden layer of that
    shape gets from the same seed. A network with dropout is then judged on what it does with its own masks,
    whichever correct way its dropout draws them. None when the network keeps no ``dropout_param`` dict."""
    param = getattr(net, "dropout_param", None)
    if not isinstance(param, dict):
        return None
    return dropout_forward(np.ones(tuple(shape)), {**param, "mode": "train"})[0]  # type: ignore[operator]


def seed_numpy(seed: int) -> None:
    """Seed NumPy's global generator, which a student's ``np.random.choice`` draws from: a program calls it first
    so that the same case gives the same draws (the checks never depend on which draws those are)."""
    np.random.seed(seed)


def softmax_loss(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of X @ W plus reg * sum(W * W), and its gradient: the loss the grader's
    linear classifier trains with (the grader knows it exactly, so it can tell which step was taken)."""
    scores = X @ W
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    rows = np.arange(X.shape[0])
    loss = -float(np.mean(log_probs[rows, y])) + reg * float(np.sum(W * W))
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1.0
    return loss, X.T @ dscores / X.shape[0] + 2.0 * reg * W


def linear_classifier(base: type, W: np.ndarray) -> object:
    """An instance of a subclass of the student's ``LinearClassifier`` whose ``loss`` is :func:`softmax_loss`
    and whose ``W`` starts as a copy of ``W``: the student's ``train`` and ``predict`` are judged on their own,
    whatever their svm and softmax losses do."""

    class GradedClassifier(base):
        def loss(self, X_batch: np.ndarray, y_batch: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
            return softmax_loss(self.W, X_batch, y_batch, reg)

    classifier = GradedClassifier()
    classifier.W = np.array(W, dtype=np.float64)
    return classifier


class SoftmaxNet:
    """A one-layer softmax classifier with the book's network interface (``params`` W and b, ``loss``,
    ``gradient``, ``accuracy``, ``predict``; ``t`` as labels), handed to a student's ``Trainer`` so that the
    trainer is judged on its own loop, whatever the student's networks do. Every method reads ``self.params`` at
    call time, so an optimizer that updates the arrays in place and one that replaces them both train it. The
    grading process trains this same class with reference/trainer.py's Trainer for the expected values (through
    graders/specs/kit/resources.py)."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.params = {"W": np.array(W, dtype=np.float64), "b": np.array(b, dtype=np.float64)}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.params["W"] + self.params["b"]

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        scores = self.predict(x)
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        p = self._probabilities(x)
        return float(-np.mean(np.log(p[np.arange(len(p)), np.asarray(t)])))

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        d = self._probabilities(x)
        d[np.arange(len(d)), np.asarray(t)] -= 1.0
        d /= len(d)
        return {"W": np.asarray(x, dtype=np.float64).T @ d, "b": d.sum(axis=0)}

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        return float(np.mean(np.argmax(self.predict(x), axis=1) == np.asarray(t)))
