"""The book's MultiLayerNet (reference/multi_layer_net.py) where torch does not reach: its own numerical_gradient
against backpropagation with weight decay, the He and Xavier scales of __init__, and labels or one-hot t alike.
(predict, loss and gradient against torch autograd and finite differences are generated from the spec.)
"""

from __future__ import annotations

import numpy as np
import pytest

from reference.multi_layer_net import MultiLayerNet, init_scale

RNG = np.random.default_rng(12)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_numerical_gradient_agrees_with_backpropagation(activation: str) -> None:
    net = MultiLayerNet(5, [4, 3], 3, activation=activation, weight_decay_lambda=0.3, rng=RNG)
    x, t = RNG.standard_normal((4, 5)), np.array([0, 2, 1, 2])
    analytic, numeric = net.gradient(x, t), net.numerical_gradient(x, t)
    for key, value in analytic.items():
        np.testing.assert_allclose(value, numeric[key], rtol=1e-4, atol=1e-5, err_msg=key)


@pytest.mark.parametrize(("option", "gain"), [("relu", 2.0), ("He", 2.0), ("sigmoid", 1.0), ("xavier", 1.0)])
def test_initial_scales(option: str, gain: float) -> None:
    net = MultiLayerNet(400, [300], 200, weight_init_std=option, rng=RNG)
    for key, fan_in in (("W1", 400), ("W2", 300)):
        assert init_scale(option, fan_in) == pytest.approx(np.sqrt(gain / fan_in))
        assert float(np.std(net.params[key])) == pytest.approx(np.sqrt(gain / fan_in), rel=0.02)
    assert not np.any(net.params["b1"]) and init_scale(0.01, 400) == 0.01


def test_accuracy_takes_labels_or_one_hot() -> None:
    net = MultiLayerNet(4, [3], 3, rng=RNG)
    x, t = RNG.standard_normal((6, 4)), RNG.integers(0, 3, size=6)
    assert net.accuracy(x, t) == net.accuracy(x, np.eye(3)[t])
