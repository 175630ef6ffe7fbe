"""cs231n assignment 2 ``classifiers/cnn.py``: ``ThreeLayerConvNet``, on the reference layers.

The network is ``conv - relu - 2x2 max pool - affine - relu - affine - softmax``: the convolution keeps the
input's height and width (stride 1, pad ``(filter_size - 1) // 2``, an odd filter size) and the pool (2x2,
stride 2) halves them, so ``W2`` has ``num_filters * H/2 * W/2`` rows. Parameters ``W1, b1, W2, b2, W3, b3``
live in ``self.params``; ``loss(X)`` returns the scores, ``loss(X, y)`` returns ``(loss, grads)`` with the L2
penalty ``0.5 * reg * sum(W**2)`` over the three weights, as the hand-out's notebook expects. The forward pass
reads ``self.params`` at call time (the grader writes its case's parameters into it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference.cs231n.layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from reference.cs231n.layers import affine_backward, affine_forward, softmax_loss

POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}
WEIGHTS = ("W1", "W2", "W3")


class ThreeLayerConvNet:
    """The hand-out's constructor signature; ``rng`` (not the hand-out's) draws the initial weights."""

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: Any = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        c, h, w = input_dim
        draw = rng if rng is not None else np.random.default_rng()
        self.reg = reg
        self.dtype = dtype
        self.filter_size = filter_size
        self.params: dict[str, np.ndarray] = {
            "W1": weight_scale * draw.standard_normal((num_filters, c, filter_size, filter_size)),
            "b1": np.zeros(num_filters),
            "W2": weight_scale * draw.standard_normal((num_filters * (h // 2) * (w // 2), hidden_dim)),
            "b2": np.zeros(hidden_dim),
            "W3": weight_scale * draw.standard_normal((hidden_dim, num_classes)),
            "b3": np.zeros(num_classes),
        }
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        """Scores (N, C) when ``y`` is None; else ``(loss, grads)`` with a gradient per parameter."""
        X = np.asarray(X).astype(self.dtype)
        p = self.params
        conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}
        pooled, pool_cache = conv_relu_pool_forward(X, p["W1"], p["b1"], conv_param, dict(POOL_PARAM))
        hidden, hidden_cache = affine_relu_forward(pooled, p["W2"], p["b2"])
        scores, scores_cache = affine_forward(hidden, p["W3"], p["b3"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(float(np.sum(p[k] * p[k])) for k in WEIGHTS)
        grads: dict[str, np.ndarray] = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, pool_cache)
        for k in WEIGHTS:
            grads[k] = grads[k] + self.reg * p[k]
        return loss, grads
