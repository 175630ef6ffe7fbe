"""cs231n assignment 2 ``classifiers/fc_net.py``: ``FullyConnectedNet`` (2019+ hand-out), on the reference layers.

The network is ``{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax``. Parameters
``W1..WL``, ``b1..bL`` and, with a normalization, ``gamma1..gamma(L-1)``, ``beta1..beta(L-1)`` live in
``self.params``; ``loss(X)`` returns the scores (test mode), ``loss(X, y)`` returns ``(loss, grads)`` (train
mode) with the L2 penalty ``0.5 * reg * sum(W**2)`` over the weights only, as the hand-out's notebook expects.
The forward pass reads ``self.params`` at call time, so parameters written into it in place or replaced are
both used (the grader writes its case's parameters into it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from reference.cs231n.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)
from reference.cs231n.two_layer_net import TwoLayerNet

__all__ = ["FullyConnectedNet", "TwoLayerNet"]  # the hand-out's fc_net.py holds both (A1 2020+, A2 2019)

NORMALIZATIONS = (None, "batchnorm", "layernorm")


class FullyConnectedNet:
    """The hand-out's constructor signature; ``dropout_keep_ratio`` is the keep probability (1: no dropout)."""

    def __init__(
        self,
        hidden_dims: Sequence[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout_keep_ratio: float = 1,
        normalization: str | None = None,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype: Any = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        draw = rng if rng is not None else np.random.default_rng()
        dims = [input_dim, *hidden_dims, num_classes]
        self.params: dict[str, np.ndarray] = {}
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = weight_scale * draw.standard_normal((dims[i - 1], dims[i]))
            self.params[f"b{i}"] = np.zeros(dims[i])
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])
        self.dropout_param: dict[str, Any] = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params: list[dict[str, Any]] = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        elif normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X: np.ndarray, y: np.ndarray | None = None,
             dropout_masks: Sequence[np.ndarray] | None = None) -> Any:
        """Scores (N, C) when ``y`` is None; else ``(loss, grads)`` with a gradient per parameter.

        ``dropout_masks`` (not the hand-out's): in train mode, the multiplier each hidden layer's dropout applies
        (keep mask over the keep probability), instead of masks drawn by ``dropout_forward``. The grader passes
        the masks the student's own dropout layer draws for the same seed, so that a network is judged on what
        it does with them, whichever correct way its dropout draws them."""
        X = np.asarray(X).astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        out = X.reshape(X.shape[0], -1)
        caches: list[tuple[Any, ...]] = []
        for i in range(1, self.num_layers):
            out, affine_cache = affine_forward(out, self.params[f"W{i}"], self.params[f"b{i}"])
            norm_cache = None
            if self.normalization == "batchnorm":
                out, norm_cache = batchnorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                                    self.bn_params[i - 1])
            elif self.normalization == "layernorm":
                out, norm_cache = layernorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                                    self.bn_params[i - 1])
            out, relu_cache = relu_forward(out)
            drop_cache = None
            if self.use_dropout and dropout_masks is not None and mode == "train":
                mask = np.asarray(dropout_masks[i - 1])
                out, drop_cache = out * mask, ({"mode": "train"}, mask)
            elif self.use_dropout:
                out, drop_cache = dropout_forward(out, self.dropout_param)
            caches.append((affine_cache, norm_cache, relu_cache, drop_cache))
        last = self.num_layers
        scores, last_cache = affine_forward(out, self.params[f"W{last}"], self.params[f"b{last}"])
        if y is None:
            return scores

        loss, dout = softmax_loss(scores, y)
        weights = [self.params[f"W{i}"] for i in range(1, last + 1)]
        loss += 0.5 * self.reg * sum(float(np.sum(w * w)) for w in weights)
        grads: dict[str, np.ndarray] = {}
        dout, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dout, last_cache)
        for i in range(last - 1, 0, -1):
            affine_cache, norm_cache, relu_cache, drop_cache = caches[i - 1]
            if self.use_dropout:
                dout = dropout_backward(dout, drop_cache)
            dout = relu_backward(dout, relu_cache)
            if self.normalization == "batchnorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dout, norm_cache)
            elif self.normalization == "layernorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dout, norm_cache)
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, affine_cache)
        for i in range(1, last + 1):
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * self.params[f"W{i}"]
        return loss, grads
