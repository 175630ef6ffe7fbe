"""What the grading machine provides besides the spec: functions handed to student code, data sets' folders.

``SoftmaxNet`` is the network the worker hands a student's Trainer (the support module's own class, so the
reference run of the same training in the grading process uses the very code the worker runs).

Families reach the rest of the grader only through the kit; these two are the grader's, not a spec's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from graders.sandbox.support import nngrade_support as SUPPORT
from graders.sandbox.support.nngrade_support import SoftmaxNet

__all__ = ["SUPPORT_FUNCTIONS", "SoftmaxNet", "mnist_dir"]

#: The functions the worker hands to student code that takes a function argument (the book's
#: numerical_gradient), by name, each with its exact gradient (graders/sandbox/support/nngrade_support.py).
SUPPORT_FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray]]] = {
    "quadratic": (SUPPORT.quadratic, SUPPORT.quadratic_grad),
    "wavy": (SUPPORT.wavy, SUPPORT.wavy_grad),
}


def mnist_dir() -> Path | None:
    """The folder holding the four MNIST files on this machine, or None (graders.datasets.mnist_dir, looked up
    at each call: importing graders.datasets pulls in the submission staging code, which a spec module need
    not load until a reference reads MNIST)."""
    from graders import datasets

    return datasets.mnist_dir()
