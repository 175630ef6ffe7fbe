"""What the assignment-1 specs share: the module keys (an assignment maps them to the hand-out's files), the
hand-out's L2 conventions as a factory option, and CIFAR-like pixel data.

The notebooks feed CIFAR-10 images as float64 arrays of integer pixel values 0..255 (mean-subtracted for the
linear classifiers, with a bias column of ones appended). The grader's "notebook" cases are the same kind of
data in miniature (4x4x3 images); scale cases use full 32x32x3 rows.
"""

from __future__ import annotations

import numpy as np

from reference.cs231n.linear import L2_2016, L2_2019

KNN_MODULE = "k_nearest_neighbor"
SVM_MODULE = "linear_svm"
SOFTMAX_MODULE = "softmax"
CLASSIFIER_MODULE = "linear_classifier"
NET_MODULE = "fc_net"
NEURAL_NET_MODULE = "neural_net"  # the 2016-2019 hand-out's classifiers/neural_net.py

#: The factory option ``l2``: the factor of reg * sum(W * W) in the loss, by hand-out. Spring 2017 to 2019 and
#: the 2019+ linear losses write reg * np.sum(W * W) ("2017" and "2019" are the same convention); winter 2016
#: wrote 0.5 * reg (its notebook's two-layer net check: reg 0.1, where 2017's is 0.05 for the same loss).
L2_CONVENTIONS = {"2019": L2_2019, "2017": L2_2019, "2016": L2_2016}


def l2_factor(l2: str) -> float:
    """The L2 factor of a convention name ("2017", "2019": reg * sum(W * W); "2016": 0.5 * reg * sum(W * W))."""
    try:
        return L2_CONVENTIONS[l2]
    except KeyError:
        raise ValueError(f"l2 must be one of {sorted(L2_CONVENTIONS)}, got {l2!r}") from None


def l2_sentence(factor: float) -> str:
    """How the convention is written in the hand-out, for check descriptions and diagnoses."""
    return "reg * np.sum(W * W)" if factor == 1.0 else "0.5 * reg * np.sum(W * W)"


def pixels(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """n images of d integer pixel values 0..255, as float64 (how the notebooks load CIFAR-10)."""
    return rng.integers(0, 256, size=(n, d)).astype(np.float64)


def preprocessed(images: np.ndarray) -> np.ndarray:
    """The linear classifiers' preprocessing: subtract the mean image, append a bias column of ones."""
    centred = images - images.mean(axis=0)
    return np.hstack([centred, np.ones((images.shape[0], 1))])
