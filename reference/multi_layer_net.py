"""The book's fully connected network of any depth (ch. 6, ``common/multi_layer_net.py``).

``MultiLayerNet(input_size, hidden_size_list, output_size, activation='relu', weight_init_std='relu',
weight_decay_lambda=0)``: Affine -> activation for each hidden size, then Affine -> SoftmaxWithLoss.

* Initial weights: N(0, scale^2) with scale ``sqrt(2 / fan_in)`` for 'relu' or 'he' (He), ``sqrt(1 / fan_in)``
  for 'sigmoid' or 'xavier' (Xavier, as the book simplifies it), else the number given; biases zeros.
* ``loss`` adds weight decay ``0.5 * weight_decay_lambda * sum(W**2)`` over every weight matrix (not the
  biases); ``gradient`` backpropagates and adds ``weight_decay_lambda * W`` to each weight's gradient (the
  book's later printings; early ones left it out of ``gradient``, which then disagrees with ``loss``).
* ``accuracy`` takes labels or one-hot rows. ``numerical_gradient`` is the book's central difference (h = 1e-4)
  of ``loss`` for every parameter.

Like :class:`reference.nets.TwoLayerNet`, the layers are re-bound to ``params`` before every forward pass, so a
training loop that replaces ``params[key]`` works as well as one that updates it in place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reference.gradcheck import numerical_gradient as _numerical_gradient
from reference.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss

__all__ = ["MultiLayerNet", "init_scale"]


def init_scale(weight_init_std: float | str, fan_in: int) -> float:
    """The standard deviation of a layer's initial weights, as the book chooses it."""
    name = str(weight_init_std).lower()
    if name in ("relu", "he"):
        return float(np.sqrt(2.0 / fan_in))
    if name in ("sigmoid", "xavier"):
        return float(np.sqrt(1.0 / fan_in))
    return float(weight_init_std)


class MultiLayerNet:
    """Affine -> activation (one per hidden size) -> Affine -> softmax with cross-entropy, plus weight decay.

    MultiLayerNetExtend adds its batch-norm and dropout layers around each hidden activation through
    ``_hidden_forward``/``_hidden_backward`` and ``_bind_params``; the rest is this class's."""

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: float | str = "relu", weight_decay_lambda: float = 0,
                 rng: np.random.Generator | None = None) -> None:
        if activation not in ("relu", "sigmoid"):
            raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
        sizes = [input_size, *hidden_size_list, output_size]
        self.hidden_layer_num = len(hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.params: dict[str, np.ndarray] = {}
        for i in range(1, len(sizes)):
            shape = (sizes[i - 1], sizes[i])
            draw = rng.standard_normal(shape) if rng is not None else np.random.randn(*shape)
            self.params[f"W{i}"] = init_scale(weight_init_std, sizes[i - 1]) * draw
            self.params[f"b{i}"] = np.zeros(sizes[i])
        self.activations = [Relu() if activation == "relu" else Sigmoid() for _ in hidden_size_list]
        self.affines = [Affine(self.params[f"W{i}"], self.params[f"b{i}"]) for i in range(1, len(sizes))]
        self.last_layer = SoftmaxWithLoss()

    @property
    def depth(self) -> int:
        """The number of Affine layers."""
        return self.hidden_layer_num + 1

    def _bind_params(self) -> None:
        for i, affine in enumerate(self.affines, 1):
            affine.W, affine.b = self.params[f"W{i}"], self.params[f"b{i}"]

    def _hidden_forward(self, i: int, x: np.ndarray, train_flg: bool) -> np.ndarray:
        """What follows hidden layer ``i``'s Affine: its activation."""
        return self.activations[i - 1].forward(x)

    def _hidden_backward(self, i: int, dout: np.ndarray) -> np.ndarray:
        return self.activations[i - 1].backward(dout)

    def _forward(self, x: np.ndarray, train_flg: bool) -> np.ndarray:
        self._bind_params()
        for i, affine in enumerate(self.affines, 1):
            x = affine.forward(x)
            if i <= self.hidden_layer_num:
                x = self._hidden_forward(i, x, train_flg)
        return x

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._forward(x, False)

    def weight_decay(self) -> float:
        return sum(0.5 * self.weight_decay_lambda * float(np.sum(self.params[f"W{i}"] ** 2))
                   for i in range(1, self.depth + 1))

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        return float(self.last_layer.forward(self.predict(x), t)) + self.weight_decay()

    def _train_loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The loss that gradient and numerical_gradient differentiate."""
        return self.loss(x, t)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        labels = np.asarray(t)
        if labels.ndim != 1:
            labels = np.argmax(labels, axis=1)
        return float(np.sum(np.argmax(self.predict(x), axis=1) == labels)) / float(np.shape(x)[0])

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray, h: float = 1e-4) -> dict[str, np.ndarray]:
        def loss_of_params(_: np.ndarray) -> float:
            return self._train_loss(x, t)

        return {key: _numerical_gradient(loss_of_params, self.params[key], h) for key in self.params}

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        self._train_loss(x, t)
        dout = self.last_layer.backward(1)
        for i in range(self.depth, 0, -1):
            if i <= self.hidden_layer_num:
                dout = self._hidden_backward(i, dout)
            dout = self.affines[i - 1].backward(dout)
        grads: dict[str, np.ndarray] = {}
        for i, affine in enumerate(self.affines, 1):
            assert affine.dW is not None and affine.db is not None
            grads[f"W{i}"] = affine.dW + self.weight_decay_lambda * self.params[f"W{i}"]
            grads[f"b{i}"] = affine.db
        return grads
