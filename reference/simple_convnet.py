"""The book's simple convolutional network (ch. 7, ``ch07/simple_convnet.py``).

``SimpleConvNet(input_dim=(1, 28, 28), conv_param={'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1},
hidden_size=100, output_size=10, weight_init_std=0.01)``: Conv1 -> Relu1 -> Pool1 (2x2, stride 2) -> Affine1 ->
Relu2 -> Affine2, then SoftmaxWithLoss.

* Parameters ``W1`` (filter_num, C, fs, fs), ``b1``, ``W2`` (filter_num * (conv_out / 2)**2, hidden_size), ``b2``,
  ``W3`` (hidden_size, output_size), ``b3``; weights ``weight_init_std * N(0, 1)``, biases zeros. Like the book,
  the input is taken as square (its size is ``input_dim[1]``) and the convolution's output size as even: the
  book's ``int(filter_num * (conv_out / 2) * (conv_out / 2))`` gives another W2 otherwise.
* ``accuracy(x, t, batch_size=100)`` predicts in chunks of ``batch_size`` and counts every example. The book's loop
  runs ``int(N / batch_size)`` chunks, so it leaves out a remainder (and returns 0 for fewer than ``batch_size``
  examples); both agree when ``batch_size`` divides N, the only inputs a grader may use.
* ``numerical_gradient`` is the book's central difference (h = 1e-4) of ``loss`` for every parameter.

As :class:`reference.multi_layer_net.MultiLayerNet`, the layers are re-bound to ``params`` before every forward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from reference.gradcheck import numerical_gradient as _numerical_gradient
from reference.layers import Affine, Convolution, Pooling, Relu, SoftmaxWithLoss

__all__ = ["DEFAULT_CONV_PARAM", "SimpleConvNet", "pooled_size"]

DEFAULT_CONV_PARAM: Mapping[str, int] = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


def pooled_size(input_dim: Sequence[int], conv_param: Mapping[str, int]) -> int:
    """Rows of W2: filter_num times the pooled map's area, for a square input and an even conv output."""
    size, fs = int(input_dim[1]), int(conv_param["filter_size"])
    pad, stride = int(conv_param["pad"]), int(conv_param["stride"])
    if (size + 2 * pad - fs) % stride:
        raise ValueError(f"the filter does not tile the input: ({size} + 2 * {pad} - {fs}) % {stride} != 0")
    conv = (size + 2 * pad - fs) // stride + 1
    if conv % 2:
        raise ValueError(f"the convolution's output size {conv} is odd: 2x2 pooling needs an even size")
    return int(conv_param["filter_num"]) * (conv // 2) ** 2


class SimpleConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax with cross-entropy."""

    def __init__(self, input_dim: Sequence[int] = (1, 28, 28), conv_param: Mapping[str, int] | None = None,
                 hidden_size: int = 100, output_size: int = 10, weight_init_std: float = 0.01,
                 rng: np.random.Generator | None = None) -> None:
        conv_param = dict(DEFAULT_CONV_PARAM if conv_param is None else conv_param)
        fn, fs = int(conv_param["filter_num"]), int(conv_param["filter_size"])
        shapes = {"W1": (fn, int(input_dim[0]), fs, fs), "W2": (pooled_size(input_dim, conv_param), hidden_size),
                  "W3": (hidden_size, output_size)}
        self.params: dict[str, np.ndarray] = {}
        for i, (key, shape) in enumerate(shapes.items(), 1):
            draw = rng.standard_normal(shape) if rng is not None else np.random.randn(*shape)
            self.params[key] = weight_init_std * draw
            self.params[f"b{i}"] = np.zeros(shape[0] if key == "W1" else shape[1])
        self.conv = Convolution(self.params["W1"], self.params["b1"], conv_param["stride"], conv_param["pad"])
        self.pool = Pooling(2, 2, stride=2)
        self.relus = (Relu(), Relu())
        self.affines = (Affine(self.params["W2"], self.params["b2"]), Affine(self.params["W3"], self.params["b3"]))
        self.last_layer = SoftmaxWithLoss()

    def _bind_params(self) -> None:
        self.conv.W, self.conv.b = self.params["W1"], self.params["b1"]
        for affine, i in zip(self.affines, (2, 3), strict=True):
            affine.W, affine.b = self.params[f"W{i}"], self.params[f"b{i}"]

    def predict(self, x: np.ndarray) -> np.ndarray:
        self._bind_params()
        out = self.pool.forward(self.relus[0].forward(self.conv.forward(x)))
        return self.affines[1].forward(self.relus[1].forward(self.affines[0].forward(out)))

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        return float(self.last_layer.forward(self.predict(x), t))

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 100) -> float:
        labels = np.asarray(t)
        if labels.ndim != 1:
            labels = np.argmax(labels, axis=1)
        correct = 0
        for start in range(0, len(x), batch_size):
            scores = self.predict(x[start:start + batch_size])
            correct += int(np.sum(np.argmax(scores, axis=1) == labels[start:start + batch_size]))
        return correct / float(len(x))

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray, h: float = 1e-4) -> dict[str, np.ndarray]:
        def loss_of_params(_: np.ndarray) -> float:
            return self.loss(x, t)

        return {key: _numerical_gradient(loss_of_params, self.params[key], h) for key in PARAMS}

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        self.loss(x, t)
        dout = self.affines[0].backward(self.relus[1].backward(self.affines[1].backward(self.last_layer.backward(1))))
        self.conv.backward(self.relus[0].backward(self.pool.backward(dout)))
        found = ((self.conv.dW, self.conv.db), *((a.dW, a.db) for a in self.affines))
        grads: dict[str, np.ndarray] = {}
        for i, (dw, db) in enumerate(found, 1):
            assert dw is not None and db is not None
            grads[f"W{i}"], grads[f"b{i}"] = dw, db
        return grads
