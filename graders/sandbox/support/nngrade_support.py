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
