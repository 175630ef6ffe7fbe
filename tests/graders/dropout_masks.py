"""Student-style dropout_forward functions for the fairness tests: the cs231n starter code's shape (the global
generator reseeded from ``dropout_param['seed']``, inverted dropout) with the 0/1 keep-mask drawn by a function
of the test's choosing, and the correct ways to draw one (each must get full marks wherever dropout is graded:
the dropout layer itself, tests/graders/test_fair_dropout.py, and a network built on it,
tests/graders/test_fair_networks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: A keep-mask drawer: (shape, keep probability p, the dropout_param's seed or None) -> 0/1 array of shape.
Mask = Callable[[tuple[int, ...], float, "int | None"], np.ndarray]


def forward_with(mask: Mask, two_d: bool = False) -> Callable[..., tuple[np.ndarray, Any]]:
    """A dropout_forward in the starter code's shape whose keep-mask (0/1) comes from ``mask`` (``two_d``: one
    that only handles 2-D inputs, unpacking ``n, d = x.shape``)."""

    def dropout_forward(x: np.ndarray, dropout_param: dict[str, Any]) -> tuple[np.ndarray, Any]:
        p, mode = dropout_param["p"], dropout_param["mode"]
        if "seed" in dropout_param:
            np.random.seed(dropout_param["seed"])
        if mode == "test":
            return x, (dropout_param, None)
        shape = x.shape
        if two_d:
            n, d = x.shape
            shape = (n, d)
        scaled = mask(shape, p, dropout_param.get("seed")) / p
        return (x * scaled).astype(x.dtype, copy=False), (dropout_param, scaled)

    return dropout_forward


def rand_mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
    return (np.random.rand(*shape) < p).astype(float)


def binomial_mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
    return np.random.binomial(1, p, size=shape).astype(float)


def generator_mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < p).astype(float)


def generator_binomial_mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
    return np.random.default_rng(seed).binomial(1, p, size=shape).astype(float)


def choice_mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
    """Exactly round(p * size) units kept, chosen without replacement."""
    size = int(np.prod(shape))
    mask = np.zeros(size)
    mask[np.random.choice(size, int(round(p * size)), replace=False)] = 1.0
    return mask.reshape(shape)
