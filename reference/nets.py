"""The book's two-layer network (ch. 5, ``two_layer_net.py``) and a reproducible training loop for it.

``TwoLayerNet`` keeps the book's interface: ``params`` (W1 b1 W2 b2), the ``layers`` OrderedDict
(Affine1, Relu1, Affine2), ``lastLayer`` (SoftmaxWithLoss), ``predict``, ``loss``, ``accuracy``,
``numerical_gradient`` and ``gradient``. The book's training loop updates ``params[key] -= lr * grad`` in
place, which the layers see because they hold the same arrays; the reference also re-binds the layers to
``params`` before every forward, so a loop that *replaces* ``params[key]`` works too.

``train_two_layer_net`` differs from the book's ``train_neuralnet.py`` in one deliberate way: mini-batches
come from an epoch-wise shuffle (every example exactly once per epoch) instead of independent draws with
replacement, and all randomness comes from one ``np.random.default_rng(seed)``, so a seed fixes the run.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from reference.gradcheck import numerical_gradient as _numerical_gradient
from reference.layers import Affine, Relu, SoftmaxWithLoss

__all__ = ["TwoLayerNet", "epoch_batches", "train_two_layer_net"]

_PARAM_LAYERS = (("W1", "b1", "Affine1"), ("W2", "b2", "Affine2"))


class TwoLayerNet:
    """Affine -> ReLU -> Affine -> softmax with cross-entropy, weights drawn N(0, weight_init_std^2).

    Without ``rng`` the weights come from NumPy's global state like the book's ``np.random.randn`` (so
    ``np.random.seed`` reproduces the book's network); with ``rng`` from that Generator.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        rng: np.random.Generator | None = None,
    ) -> None:
        def normal(rows: int, cols: int) -> np.ndarray:
            return rng.standard_normal((rows, cols)) if rng is not None else np.random.randn(rows, cols)

        self.params: dict[str, np.ndarray] = {
            "W1": weight_init_std * normal(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * normal(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }
        self.layers: OrderedDict[str, Affine | Relu] = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def _affine(self, name: str) -> Affine:
        layer = self.layers[name]
        assert isinstance(layer, Affine)
        return layer

    def _bind_params(self) -> None:
        """Point the affine layers at the current ``params`` arrays (they may have been replaced)."""
        for w, b, name in _PARAM_LAYERS:
            layer = self._affine(name)
            layer.W, layer.b = self.params[w], self.params[b]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scores (before softmax), one row per example."""
        self._bind_params()
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """Mean cross-entropy of the batch; ``t`` one-hot or labels."""
        return self.lastLayer.forward(self.predict(x), t)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """Fraction of examples whose highest score is the true class (``t`` one-hot or labels)."""
        predicted = np.argmax(self.predict(x), axis=1)
        labels = np.asarray(t)
        if labels.ndim != 1:
            labels = np.argmax(labels, axis=1)
        return float(np.sum(predicted == labels)) / float(np.shape(x)[0])

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray, h: float = 1e-4) -> dict[str, np.ndarray]:
        """Central-difference gradients of the loss for every parameter (slow; for checking ``gradient``)."""

        def loss_of_params(_: np.ndarray) -> float:
            return self.loss(x, t)

        return {
            key: _numerical_gradient(loss_of_params, self.params[key], h) for key in ("W1", "b1", "W2", "b2")
        }

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Back-propagated gradients of the loss; ``lastLayer.loss`` holds the loss of this forward pass."""
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        grads: dict[str, np.ndarray] = {}
        for w, b, name in _PARAM_LAYERS:
            layer = self._affine(name)
            assert layer.dW is not None and layer.db is not None
            grads[w], grads[b] = layer.dW, layer.db
        return grads


def epoch_batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Index arrays of the mini-batches of ONE epoch over ``n`` examples, in a fresh random order.

    Every index in ``range(n)`` appears exactly once; all batches have ``batch_size`` indices except the last,
    which holds the remainder when ``batch_size`` does not divide ``n``. Each call draws a new permutation
    from ``rng``, so consecutive epochs are shuffled differently.
    """
    if n < 0:
        raise ValueError(f"the number of examples must be >= 0, got {n}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def _accuracy_in_chunks(net: TwoLayerNet, x: np.ndarray, t: np.ndarray, chunk: int = 10000) -> float:
    """``net.accuracy`` over a large set without a full-size float64 copy of ``x`` in memory at once."""
    if len(x) == 0:
        return float("nan")
    correct = 0.0
    for start in range(0, len(x), chunk):
        rows = np.asarray(x[start : start + chunk], dtype=np.float64)
        correct += net.accuracy(rows, t[start : start + chunk]) * len(rows)
    return correct / len(x)


def _number_of_classes(*targets: np.ndarray) -> int:
    first = np.asarray(targets[0])
    if first.ndim == 2:
        return int(first.shape[1])
    return int(max(int(np.max(t)) for t in targets if np.size(t))) + 1


def train_two_layer_net(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    t_test: np.ndarray,
    iters: int = 10000,
    batch_size: int = 100,
    lr: float = 0.1,
    hidden: int = 50,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Train a ``TwoLayerNet`` by plain SGD on epoch-shuffled mini-batches; return the learning curves.

    ``train_loss`` has one entry per iteration (the mini-batch loss computed for that iteration's gradient,
    i.e. before its update). ``train_acc`` and ``test_acc`` are measured after every full epoch and once more
    at the end when the last epoch is partial, so there are ``ceil(iters / batches_per_epoch)`` of each.
    Inputs are flattened to rows; targets are labels or one-hot rows. The same ``seed`` gives the same run.
    """
    if iters < 0:
        raise ValueError(f"iters must be >= 0, got {iters}")
    x_train = np.asarray(x_train).reshape(len(x_train), -1)
    x_test = np.asarray(x_test).reshape(len(x_test), -1)
    if len(x_train) != len(t_train) or len(x_test) != len(t_test):
        raise ValueError(
            f"inputs and targets disagree: x_train {len(x_train)} vs t_train {len(t_train)}, "
            f"x_test {len(x_test)} vs t_test {len(t_test)}"
        )
    if len(x_train) == 0:
        raise ValueError("x_train holds no examples")
    rng = np.random.default_rng(seed)
    net = TwoLayerNet(x_train.shape[1], hidden, _number_of_classes(t_train, t_test), rng=rng)
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "test_acc": []}
    done = 0
    while done < iters:
        for batch in epoch_batches(len(x_train), batch_size, rng):
            # float64 rows like the weights: a mixed float32/float64 product misses the fast BLAS path.
            grads = net.gradient(x_train[batch].astype(np.float64), t_train[batch])
            assert net.lastLayer.loss is not None
            history["train_loss"].append(float(net.lastLayer.loss))
            for key, grad in grads.items():
                net.params[key] -= lr * grad
            done += 1
            if done == iters:
                break
        history["train_acc"].append(_accuracy_in_chunks(net, x_train, t_train))
        history["test_acc"].append(_accuracy_in_chunks(net, x_test, t_test))
    return history
