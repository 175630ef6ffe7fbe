"""cs231n assignment 1 (2016-2019) ``classifiers/neural_net.py``: ``TwoLayerNet`` written out in NumPy (that
hand-out has no layers.py).

``TwoLayerNet(input_size, hidden_size, output_size, std=1e-4)``: ``W1`` (D, H) and ``W2`` (H, C) drawn as
``std * randn``, ``b1``, ``b2`` zeros. ``loss(X, y=None, reg=0.0)``: the scores, or ``(loss, grads)`` with the
mean softmax cross-entropy plus ``l2 * reg * (sum(W1**2) + sum(W2**2))``. The skeleton says only "L2
regularization for W1 and W2"; the notebook's number decides the factor: spring 2017 (to 2019) checks
``net.loss(X, y, reg=0.05)`` against 1.30378789133, which is ``reg * sum(W * W)`` (``l2 = 1``), where winter
2016 checked the same number at reg 0.1, i.e. ``0.5 * reg`` (``l2 = 0.5``). ``predict(X)`` is the argmax of the
scores; ``train`` runs minibatch SGD with the hand-out's defaults and per-epoch learning-rate decay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference.cs231n.linear import L2_2019


class TwoLayerNet:
    """The hand-out's signature; ``l2`` (the regulariser's factor) and ``rng`` are the reference's own."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, std: float = 1e-4,
                 l2: float = L2_2019, rng: np.random.Generator | None = None) -> None:
        self.rng = rng if rng is not None else np.random.default_rng()
        self.l2 = l2
        self.params: dict[str, np.ndarray] = {
            "W1": std * self.rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": std * self.rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }

    def scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hidden activations (N, H), class scores (N, C))."""
        hidden = np.maximum(X @ self.params["W1"] + self.params["b1"], 0.0)
        return hidden, hidden @ self.params["W2"] + self.params["b2"]

    def loss(self, X: np.ndarray, y: np.ndarray | None = None, reg: float = 0.0) -> Any:
        """Scores (N, C) when ``y`` is None; else ``(loss, grads)`` with a gradient per parameter."""
        hidden, scores = self.scores(X)
        if y is None:
            return scores
        n = X.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        rows = np.arange(n)
        W1, W2 = self.params["W1"], self.params["W2"]
        loss = -float(np.mean(log_probs[rows, y])) + self.l2 * reg * (float(np.sum(W1 * W1)) + float(np.sum(W2 * W2)))
        dscores = np.exp(log_probs)
        dscores[rows, y] -= 1.0
        dscores /= n
        dhidden = (dscores @ W2.T) * (hidden > 0)
        grads = {
            "W1": X.T @ dhidden + 2.0 * self.l2 * reg * W1,
            "b1": dhidden.sum(axis=0),
            "W2": hidden.T @ dscores + 2.0 * self.l2 * reg * W2,
            "b2": dscores.sum(axis=0),
        }
        return loss, grads

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The class of highest score for each row (the first on a tie, as np.argmax)."""
        return np.argmax(self.scores(X)[1], axis=1)

    def train(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
              learning_rate: float = 1e-3, learning_rate_decay: float = 0.95, reg: float = 5e-6,
              num_iters: int = 100, batch_size: int = 200, verbose: bool = False) -> dict[str, list[float]]:
        """Minibatch SGD (batches drawn with replacement); every epoch the accuracies are recorded and the
        learning rate decays."""
        per_epoch = max(X.shape[0] // batch_size, 1)
        history: dict[str, list[float]] = {"loss_history": [], "train_acc_history": [], "val_acc_history": []}
        for it in range(num_iters):
            batch = self.rng.choice(X.shape[0], batch_size)
            loss, grads = self.loss(X[batch], y[batch], reg=reg)
            history["loss_history"].append(loss)
            for name, grad in grads.items():
                self.params[name] = self.params[name] - learning_rate * grad
            if it % per_epoch == 0:
                history["train_acc_history"].append(float(np.mean(self.predict(X[batch]) == y[batch])))
                history["val_acc_history"].append(float(np.mean(self.predict(X_val) == y_val)))
                learning_rate *= learning_rate_decay
        return history
