"""The scalar a backward differentiates, for ``GradientCheck``: ``sum(out * dout)``.

A backward given the upstream gradient ``dout`` returns the gradient of ``sum(out * dout)`` with respect to
each input (out being the forward's output): the registry test checks the reference's gradients against
finite differences of that scalar, so a wrong reference cannot hide behind the torch comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graders.specs.base import Case


def weighted(out: Callable[[Case], Any], dout: str = "dout") -> Callable[[Case], float]:
    """sum(out(case) * case[dout]): the general form, for any way of computing the forward's output."""
    return lambda case: float(np.sum(out(case) * case[dout]))


def weighted_sum(forward: Callable[..., Any], *names: str) -> Callable[[Case], float]:
    """sum(forward(*inputs)[0] * dout), for a cs231n-style forward returning ``(out, cache)``; ``names`` are
    the case keys of its arguments, in order."""
    return weighted(lambda case: forward(*(case[n] for n in names))[0])
