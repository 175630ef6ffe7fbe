"""Constants and helpers shared by the book's specs (and by no other family: shared ones live in the kit)."""

from __future__ import annotations

import numpy as np

#: The book's step for numerical gradients (``h = 1e-4``).
BOOK_H = 1e-4
#: Logits beyond this overflow exp() in float64.
OVERFLOW_LOGIT = 709.0
#: Every true-class probability in SoftmaxWithLoss and TwoLayerNet cases stays above this, so the book's 1e-7
#: inside the log moves the loss by at most 1e-7 / floor (2e-5): code with or without it is within LOSS_ATOL.
PROBABILITY_FLOOR = 0.005
LOSS_ATOL = 5e-5
#: Hidden pre-activations of TwoLayerNet cases stay this far from ReLU's kink (finite differences move them by
#: at most h * |x| ~ 3e-4).
KINK_MARGIN = 0.05


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Float one-hot rows, as the book builds them (zeros with a single 1)."""
    return np.eye(classes)[labels]
