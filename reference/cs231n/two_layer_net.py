"""cs231n assignment 1 (2020+) ``classifiers/fc_net.py``: ``TwoLayerNet``, affine - relu - affine - softmax on
the reference layers.

Parameters ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,) live in ``self.params``: weights drawn from
N(0, weight_scale**2), biases zeros. ``loss(X)`` returns the scores; ``loss(X, y)`` returns ``(loss, grads)``
with the hand-out's L2 penalty ``0.5 * reg * (sum(W1**2) + sum(W2**2))`` (its skeleton asks for the factor 0.5
"to simplify the expressions for the gradient"; the notebook's reg 1.0 check, loss 26.5948426952, pins it). The
forward pass reads ``self.params`` and ``self.reg`` at call time, as the notebook changes ``model.reg`` and the
parameters after construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference.cs231n.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss


class TwoLayerNet:
    """The hand-out's constructor signature; ``rng`` (not the hand-out's) makes the initialisation reproducible."""

    def __init__(self, input_dim: int = 3 * 32 * 32, hidden_dim: int = 100, num_classes: int = 10,
                 weight_scale: float = 1e-3, reg: float = 0.0, rng: np.random.Generator | None = None) -> None:
        draw = rng if rng is not None else np.random.default_rng()
        self.reg = reg
        self.params: dict[str, np.ndarray] = {
            "W1": weight_scale * draw.standard_normal((input_dim, hidden_dim)),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * draw.standard_normal((hidden_dim, num_classes)),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        """Scores (N, C) when ``y`` is None; else ``(loss, grads)`` with a gradient per parameter."""
        hidden, first = affine_forward(X, self.params["W1"], self.params["b1"])
        active, relu = relu_forward(hidden)
        scores, second = affine_forward(active, self.params["W2"], self.params["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        W1, W2 = self.params["W1"], self.params["W2"]
        loss += 0.5 * self.reg * (float(np.sum(W1 * W1)) + float(np.sum(W2 * W2)))
        grads: dict[str, np.ndarray] = {}
        dactive, grads["W2"], grads["b2"] = affine_backward(dscores, second)
        _, grads["W1"], grads["b1"] = affine_backward(relu_backward(dactive, relu), first)
        grads["W1"] = grads["W1"] + self.reg * W1
        grads["W2"] = grads["W2"] + self.reg * W2
        return loss, grads
