"""The book's MultiLayerNetExtend (reference/multi_layer_net_extend.py) where torch does not reach: its own
numerical_gradient against backpropagation with batch norm, test-mode dropout as a (1 - ratio) scaling of every
hidden layer, test-mode batch norm from the running averages, and __init__'s gamma and beta. (The train-mode
predict, loss and gradients against torch autograd and finite differences are generated from the spec.)
"""

from __future__ import annotations

import numpy as np
import pytest

from reference.multi_layer_net import MultiLayerNet
from reference.multi_layer_net_extend import MultiLayerNetExtend

RNG = np.random.default_rng(16)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_numerical_gradient_agrees_with_backpropagation_with_batchnorm(activation: str) -> None:
    net = MultiLayerNetExtend(5, [4, 3], 3, activation, "he", 0.2, False, 0.5, True, rng=RNG)
    for key in net.params:
        if key.startswith(("gamma", "beta", "b")):
            net.params[key][...] = (1.0 if key.startswith("gamma") else 0.0) + 0.2 * RNG.standard_normal(
                net.params[key].shape)
    x, t = RNG.standard_normal((6, 5)), np.array([0, 2, 1, 2, 0, 1])
    analytic, numeric = net.gradient(x, t), net.numerical_gradient(x, t)
    assert set(analytic) == set(numeric) == set(net.params)
    for key, value in analytic.items():
        np.testing.assert_allclose(value, numeric[key], rtol=1e-4, atol=1e-6, err_msg=key)


def test_without_extras_it_is_multi_layer_net() -> None:
    plain = MultiLayerNet(5, [4, 3], 3, weight_decay_lambda=0.1, rng=np.random.default_rng(1))
    extend = MultiLayerNetExtend(5, [4, 3], 3, weight_decay_lambda=0.1, rng=np.random.default_rng(1))
    x, t = RNG.standard_normal((4, 5)), np.array([0, 1, 2, 1])
    assert extend.loss(x, t, True) == pytest.approx(plain.loss(x, t), abs=1e-12)
    for key, value in plain.gradient(x, t).items():
        np.testing.assert_allclose(extend.gradient(x, t)[key], value, rtol=1e-12, atol=1e-15)


def test_test_mode_dropout_scales_every_hidden_layer() -> None:
    ratio = 0.3
    dropped = MultiLayerNetExtend(4, [5, 3], 2, "relu", "he", 0, True, ratio, False, rng=np.random.default_rng(2))
    x = RNG.standard_normal((3, 4))
    p = dropped.params
    h1 = np.maximum(x @ p["W1"] + p["b1"], 0) * (1 - ratio)
    h2 = np.maximum(h1 @ p["W2"] + p["b2"], 0) * (1 - ratio)
    np.testing.assert_allclose(dropped.predict(x), h2 @ p["W3"] + p["b3"], rtol=1e-12)


def test_test_mode_batchnorm_reads_the_running_averages() -> None:
    net = MultiLayerNetExtend(4, [3], 2, "relu", "he", 0, False, 0.5, True, rng=np.random.default_rng(3))
    x = RNG.standard_normal((6, 4))
    net.predict(x, True)  # one update with momentum 0.9
    a = x @ net.params["W1"] + net.params["b1"]
    normed = (a - 0.1 * a.mean(axis=0)) / np.sqrt(0.1 * a.var(axis=0) + 1e-6)
    want = np.maximum(normed, 0) @ net.params["W2"] + net.params["b2"]
    np.testing.assert_allclose(net.predict(x), want, rtol=1e-10)


def test_init_makes_gamma_ones_and_beta_zeros() -> None:
    net = MultiLayerNetExtend(6, [4, 3], 2, use_batchnorm=True, rng=RNG)
    assert sorted(net.params) == ["W1", "W2", "W3", "b1", "b2", "b3", "beta1", "beta2", "gamma1", "gamma2"]
    assert np.all(net.params["gamma2"] == 1) and net.params["gamma2"].shape == (3,) and not np.any(net.params["beta1"])
