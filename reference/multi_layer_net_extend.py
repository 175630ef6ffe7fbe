"""The book's extended fully connected network (ch. 6, ``common/multi_layer_net_extend.py``).

``MultiLayerNetExtend(input_size, hidden_size_list, output_size, activation='relu', weight_init_std='relu',
weight_decay_lambda=0, use_dropout=False, dropout_ration=0.5, use_batchnorm=False)`` (the book spells the
dropout argument ``dropout_ration``): per hidden layer Affine -> [BatchNormalization] -> activation ->
[Dropout], then Affine -> SoftmaxWithLoss.

* Initial weights and weight decay as :class:`reference.multi_layer_net.MultiLayerNet`; with batch norm,
  ``gamma<i>`` (ones) and ``beta<i>`` (zeros) for each hidden layer, held by the layers like the weights.
* ``predict(x, train_flg=False)`` and ``loss(x, t, train_flg=False)``: the flag reaches the batch-norm layers
  (batch statistics and running averages in train mode) and the dropout layers (random masks in train mode,
  ``* (1 - dropout_ration)`` in test mode). ``accuracy`` predicts in test mode; ``gradient`` and
  ``numerical_gradient`` differentiate the train-mode loss (each of its calls draws new dropout masks, as the
  book's does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reference.gradcheck import numerical_gradient as _numerical_gradient
from reference.layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss
from reference.multi_layer_net import init_scale

__all__ = ["MultiLayerNetExtend"]


class MultiLayerNetExtend:
    """MultiLayerNet with optional batch normalisation before and dropout after each hidden activation."""

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: float | str = "relu", weight_decay_lambda: float = 0,
                 use_dropout: bool = False, dropout_ration: float = 0.5, use_batchnorm: bool = False,
                 rng: np.random.Generator | None = None) -> None:
        if activation not in ("relu", "sigmoid"):
            raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
        sizes = [input_size, *hidden_size_list, output_size]
        self.hidden_layer_num = len(hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.use_dropout, self.use_batchnorm = use_dropout, use_batchnorm
        self.params: dict[str, np.ndarray] = {}
        for i in range(1, len(sizes)):
            shape = (sizes[i - 1], sizes[i])
            draw = rng.standard_normal(shape) if rng is not None else np.random.randn(*shape)
            self.params[f"W{i}"] = init_scale(weight_init_std, sizes[i - 1]) * draw
            self.params[f"b{i}"] = np.zeros(sizes[i])
        self.affines = [Affine(self.params[f"W{i}"], self.params[f"b{i}"]) for i in range(1, len(sizes))]
        self.norms: list[BatchNormalization] = []
        if use_batchnorm:
            for i, size in enumerate(hidden_size_list, 1):
                self.params[f"gamma{i}"], self.params[f"beta{i}"] = np.ones(size), np.zeros(size)
                self.norms.append(BatchNormalization(self.params[f"gamma{i}"], self.params[f"beta{i}"]))
        self.activations = [Relu() if activation == "relu" else Sigmoid() for _ in hidden_size_list]
        self.dropouts = [Dropout(dropout_ration) for _ in hidden_size_list] if use_dropout else []
        self.last_layer = SoftmaxWithLoss()

    @property
    def depth(self) -> int:
        """The number of Affine layers."""
        return self.hidden_layer_num + 1

    def _bind_params(self) -> None:
        for i, affine in enumerate(self.affines, 1):
            affine.W, affine.b = self.params[f"W{i}"], self.params[f"b{i}"]
        for i, norm in enumerate(self.norms, 1):
            norm.gamma, norm.beta = self.params[f"gamma{i}"], self.params[f"beta{i}"]

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self._bind_params()
        for i, affine in enumerate(self.affines, 1):
            x = affine.forward(x)
            if i > self.hidden_layer_num:
                break
            if self.norms:
                x = self.norms[i - 1].forward(x, train_flg)
            x = self.activations[i - 1].forward(x)
            if self.dropouts:
                x = self.dropouts[i - 1].forward(x, train_flg)
        return x

    def weight_decay(self) -> float:
        return sum(0.5 * self.weight_decay_lambda * float(np.sum(self.params[f"W{i}"] ** 2))
                   for i in range(1, self.depth + 1))

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        return float(self.last_layer.forward(self.predict(x, train_flg), t)) + self.weight_decay()

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        labels = np.asarray(t)
        if labels.ndim != 1:
            labels = np.argmax(labels, axis=1)
        return float(np.sum(np.argmax(self.predict(x, train_flg=False), axis=1) == labels)) / float(np.shape(x)[0])

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray, h: float = 1e-4) -> dict[str, np.ndarray]:
        def loss_of_params(_: np.ndarray) -> float:
            return self.loss(x, t, train_flg=True)

        return {key: _numerical_gradient(loss_of_params, self.params[key], h) for key in self.params}

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for i in range(self.depth, 0, -1):
            if i <= self.hidden_layer_num:
                if self.dropouts:
                    dout = self.dropouts[i - 1].backward(dout)
                dout = self.activations[i - 1].backward(dout)
                if self.norms:
                    dout = self.norms[i - 1].backward(dout)
            dout = self.affines[i - 1].backward(dout)
        grads: dict[str, np.ndarray] = {}
        for i, affine in enumerate(self.affines, 1):
            assert affine.dW is not None and affine.db is not None
            grads[f"W{i}"] = affine.dW + self.weight_decay_lambda * self.params[f"W{i}"]
            grads[f"b{i}"] = affine.db
        for i, norm in enumerate(self.norms, 1):
            assert norm.dgamma is not None and norm.dbeta is not None
            grads[f"gamma{i}"], grads[f"beta{i}"] = norm.dgamma, norm.dbeta
        return grads
