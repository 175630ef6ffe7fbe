"""Finite-difference gradients: the book's ``numerical_gradient`` and cs231n's ``eval_numerical_gradient*``.

All of them are the same central difference ``(g(x + h e_i) - g(x - h e_i)) / 2h`` taken element by element
of ``x`` *in place*: the function being differentiated usually reads ``x`` through a closure (a layer's
weights, a network's params), so perturbing a copy would change nothing. The loop therefore lives in one
place, :func:`_central_differences`, which also restores every element it touched, even if the function
raises. The variants differ only in the default step and in how an evaluation becomes a number.

Use float64 and a step near 1e-5 for checks (float32 differences are too noisy for batchnorm-sized
gradients); the book's default step is 1e-4.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["numerical_gradient", "eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"]


def _central_differences(
    evaluate: Callable[[], Any],
    x: np.ndarray,
    h: float,
    contract: Callable[[np.ndarray], float],
    verbose: bool = False,
) -> npt.NDArray[np.floating]:
    """d contract(evaluate()) / dx, by central differences, perturbing ``x`` in place one element at a time.

    ``evaluate`` is called with ``x`` perturbed (it must read ``x``, directly or through a closure);
    ``contract`` turns the *difference* of two evaluations into a number. Differencing before contracting
    keeps precision when the evaluations are large arrays that nearly cancel. The first evaluation is
    copied because a function may return a buffer it reuses on the next call.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        kind = type(x).__name__ if not isinstance(x, np.ndarray) else f"array of {x.dtype}"
        raise ValueError(f"finite differences need a floating-point NumPy array to perturb, got {kind}")
    if not x.flags.writeable:
        raise ValueError("finite differences perturb x in place, but x is read-only")
    grad = np.zeros_like(x)
    iterator = np.nditer(x, flags=["multi_index"])  # only for the indices: writes go through x[index]
    for _ in iterator:
        index = iterator.multi_index
        original = x[index].copy()
        try:
            x[index] = original + h
            plus = np.array(evaluate(), dtype=np.float64, copy=True)
            x[index] = original - h
            minus = np.asarray(evaluate(), dtype=np.float64)
        finally:
            x[index] = original
        grad[index] = contract(plus - minus) / (2.0 * h)
        if verbose:
            print(index, grad[index])
    return grad


def _scalar(difference: np.ndarray) -> float:
    if difference.size != 1:
        raise ValueError(f"the function must return a scalar, got an array of shape {difference.shape}")
    return float(difference.reshape(()))


def numerical_gradient(f: Callable[[np.ndarray], Any], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """The book's numerical gradient of a scalar ``f(x)`` for ``x`` of any shape (default step 1e-4).

    Like the book, ``f`` receives ``x`` itself; a ``lambda W: net.loss(x, t)`` that ignores its argument
    works because ``x`` is perturbed in place. ``x`` is left exactly as it was.
    """
    return _central_differences(lambda: f(x), x, h, _scalar)


def eval_numerical_gradient(
    f: Callable[[np.ndarray], Any], x: np.ndarray, verbose: bool = False, h: float = 1e-5
) -> np.ndarray:
    """cs231n's gradient of a scalar ``f(x)`` (positional order ``f, x, verbose, h`` as in the assignment)."""
    return _central_differences(lambda: f(x), x, h, _scalar, verbose=verbose)


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], Any], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """cs231n's gradient of ``sum(f(x) * df)``: what a backward pass returns for the upstream gradient ``df``.

    Use a random ``df``: a constant one makes some true gradients (batchnorm's dx) vanish.
    """
    upstream = np.asarray(df, dtype=np.float64)

    def contract(difference: np.ndarray) -> float:
        if difference.shape != upstream.shape:
            raise ValueError(f"f(x) has shape {difference.shape} but df has shape {upstream.shape}")
        return float(np.sum(difference * upstream))

    return _central_differences(lambda: f(x), x, h, contract)


def rel_error(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """cs231n's relative error: max |x - y| / max(1e-8, |x| + |y|), elementwise then the maximum.

    Near zero the 1e-8 floor turns it into an absolute error; graders compare with explicit atol/rtol.
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
