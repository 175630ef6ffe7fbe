"""cs231n assignment 1 ``classifiers/linear_svm.py``, ``classifiers/softmax.py`` and ``linear_classifier.py``.

A linear classifier scores ``X @ W`` (X (N, D), W (D, C)); its loss is a data loss averaged over the N examples
plus the L2 penalty ``l2 * reg * sum(W * W)``. The hand-outs since spring 2017 write ``reg * np.sum(W * W)``
(``l2 = 1``, gradient ``2 * reg * W``; the spring 2017 skeleton's own line in svm_loss_naive, and its notebooks
halved every reg of 2016's: 5e1 for 1e2, 0.05 for 0.1 with the same correct_loss); the winter 2016 one wrote
``0.5 * reg * np.sum(W * W)`` (``l2 = 0.5``, gradient ``reg * W``). The naive and vectorized functions of the
hand-out compute the same thing, so the reference has one of each loss and the hand-out's two names for it. The
data losses are the scores losses of reference/functional/losses.py (hinge with margin 1 over j != y;
cross-entropy of a max-shifted softmax), so dW is ``X.T @ dscores``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reference.functional import losses as L

#: The factor of the L2 penalty in the hand-outs since spring 2017: ``reg * np.sum(W * W)``.
L2_2019 = 1.0
#: The winter 2016 hand-out's: ``0.5 * reg * np.sum(W * W)``.
L2_2016 = 0.5

ScoresLoss = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


def _linear_loss(scores_loss: ScoresLoss, W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float,
                 l2: float) -> tuple[float, np.ndarray]:
    if W.ndim != 2 or X.ndim != 2 or X.shape[1] != W.shape[0]:
        raise ValueError(f"W must be (D, C) and X (N, D), got W {W.shape} and X {X.shape}")
    data_loss, dscores = scores_loss(X @ W, y)
    loss = float(data_loss) + l2 * reg * float(np.sum(W * W))
    dW = X.T @ dscores + 2.0 * l2 * reg * W
    return loss, dW.astype(np.result_type(W, X), copy=False)


def svm_loss_vectorized(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float,
                        l2: float = L2_2019) -> tuple[float, np.ndarray]:
    """(loss, dW): mean over N of sum_{j != y_i} max(0, s_j - s_{y_i} + 1), plus l2 * reg * sum(W * W)."""
    return _linear_loss(L.svm_loss, W, X, y, reg, l2)


def softmax_loss_vectorized(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float,
                            l2: float = L2_2019) -> tuple[float, np.ndarray]:
    """(loss, dW): mean cross-entropy of softmax(X @ W), plus l2 * reg * sum(W * W)."""
    return _linear_loss(L.softmax_loss, W, X, y, reg, l2)


#: The naive versions compute the same values (the hand-out's notebook checks that they agree).
svm_loss_naive = svm_loss_vectorized
softmax_loss_naive = softmax_loss_vectorized


class LinearClassifier:
    """The hand-out's base class: ``W`` starts as None and is created by the first ``train``; ``loss`` is the
    subclass's (LinearSVM, Softmax).

    ``train`` draws each minibatch with ``rng.choice(N, batch_size)`` (with replacement, as the hand-out
    suggests); the grader never compares a student's W with this draw, only with a gradient step on whatever
    batch the student drew (graders/specs/cs231n_a1/classifier.py)."""

    l2 = L2_2019

    def __init__(self, rng: np.random.Generator | None = None) -> None:
        self.W: np.ndarray | None = None
        self.rng = rng if rng is not None else np.random.default_rng()

    def loss(self, X_batch: np.ndarray, y_batch: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def train(self, X: np.ndarray, y: np.ndarray, learning_rate: float = 1e-3, reg: float = 1e-5,
              num_iters: int = 100, batch_size: int = 200, verbose: bool = False) -> list[float]:
        num_train, dim = X.shape
        num_classes = int(np.max(y)) + 1
        if self.W is None:
            self.W = 0.001 * self.rng.standard_normal((dim, num_classes))
        history = []
        for _ in range(num_iters):
            batch = self.rng.choice(num_train, batch_size)
            loss, grad = self.loss(X[batch], y[batch], reg)
            history.append(loss)
            self.W = self.W - learning_rate * grad
        return history

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The class of highest score for each row of X (the first one on a tie, as np.argmax)."""
        if self.W is None:
            raise ValueError("predict before train: W is None")
        return np.argmax(X @ self.W, axis=1)


class LinearSVM(LinearClassifier):
    def loss(self, X_batch: np.ndarray, y_batch: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
        assert self.W is not None
        return svm_loss_vectorized(self.W, X_batch, y_batch, reg, self.l2)


class Softmax(LinearClassifier):
    def loss(self, X_batch: np.ndarray, y_batch: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
        assert self.W is not None
        return softmax_loss_vectorized(self.W, X_batch, y_batch, reg, self.l2)
