"""Assignment 1's two-layer nets (reference/cs231n/two_layer_net.py and neural_net.py) against the numbers their
notebooks print, which is what pins each hand-out's L2 convention: the 2020+ fc_net notebook's loss at reg 0 and
1.0 (0.5 * reg), and the 2016-2019 neural_net notebook's toy loss 1.30378789133, checked at reg 0.05 from spring
2017 (reg * sum(W**2)) and at reg 0.1 in winter 2016 (0.5 * reg). Also: the spec's l2 option picks the factor,
and predict is the argmax of the scores."""

from __future__ import annotations

import numpy as np
import pytest

from graders.specs import registry
from reference.cs231n.linear import L2_2016, L2_2019
from reference.cs231n.neural_net import TwoLayerNet as NeuralNet
from reference.cs231n.two_layer_net import TwoLayerNet as FcNet

#: The 2016-2019 notebook's correct_scores of its toy model.
TOY_SCORES = np.array([[-0.81233741, -1.27654624, -0.70335995], [-0.17129677, -1.18803311, -0.47310444],
                       [-0.51590475, -1.01354314, -0.8504215], [-0.15419291, -0.48629638, -0.52901952],
                       [-0.00618733, -0.12435261, -0.15226949]])
TOY_LOSS = 1.30378789133


def toy_net(l2: float) -> tuple[NeuralNet, np.ndarray, np.ndarray]:
    """np.random.seed(0); TwoLayerNet(4, 10, 3, std=1e-1); np.random.seed(1); X = 10 * randn(5, 4)."""
    net = NeuralNet(4, 10, 3, std=1e-1, l2=l2)
    draws = np.random.RandomState(0)
    net.params["W1"] = 1e-1 * draws.randn(4, 10)
    net.params["W2"] = 1e-1 * draws.randn(10, 3)
    return net, 10 * np.random.RandomState(1).randn(5, 4), np.array([0, 1, 2, 2, 1])


def test_the_neural_net_toy_model_gives_the_notebooks_scores() -> None:
    net, X, _ = toy_net(L2_2019)
    np.testing.assert_allclose(net.loss(X), TOY_SCORES, atol=1e-8)
    np.testing.assert_array_equal(net.predict(X), TOY_SCORES.argmax(axis=1))


@pytest.mark.parametrize("l2,reg", [(L2_2019, 0.05), (L2_2016, 0.1)])
def test_each_year_gives_the_notebooks_loss_at_its_own_reg(l2: float, reg: float) -> None:
    net, X, y = toy_net(l2)
    assert net.loss(X, y, reg=reg)[0] == pytest.approx(TOY_LOSS, abs=1e-10)
    other = 0.1 if reg == 0.05 else 0.05
    assert net.loss(X, y, reg=other)[0] != pytest.approx(TOY_LOSS, abs=1e-4)


def test_the_fc_net_notebook_losses_need_the_half() -> None:
    n, d, h, c = 3, 5, 50, 7
    net = FcNet(input_dim=d, hidden_dim=h, num_classes=c, weight_scale=1e-3)
    net.params["W1"] = np.linspace(-0.7, 0.3, num=d * h).reshape(d, h)
    net.params["b1"] = np.linspace(-0.1, 0.9, num=h)
    net.params["W2"] = np.linspace(-0.3, 0.4, num=h * c).reshape(h, c)
    net.params["b2"] = np.linspace(-0.9, 0.1, num=c)
    X, y = np.linspace(-5.5, 4.5, num=n * d).reshape(d, n).T, np.asarray([0, 5, 1])
    assert net.loss(X, y)[0] == pytest.approx(3.4702243556, abs=1e-9)
    net.reg = 1.0
    assert net.loss(X, y)[0] == pytest.approx(26.5948426952, abs=1e-9)


def test_the_fresh_nets_follow_their_scale_and_start_biases_at_zero() -> None:
    for net in (FcNet(200, 100, 50, weight_scale=0.05, rng=np.random.default_rng(3)),
                NeuralNet(200, 100, 50, std=0.05, rng=np.random.default_rng(3))):
        weights = np.concatenate([net.params["W1"].ravel(), net.params["W2"].ravel()])
        assert np.std(weights) == pytest.approx(0.05, rel=0.03)
        assert not np.any(net.params["b1"]) and not np.any(net.params["b2"])


def test_the_spec_option_picks_the_notebook_case_and_its_loss() -> None:
    for l2, reg in (("2017", 0.05), ("2016", 0.1)):
        spec = registry.get("TwoLayerNet (neural_net.py)", l2=l2)
        toy = spec.fixed_cases()[0]
        assert toy["reg"] == reg
        assert spec.expected(toy)["loss"] == pytest.approx(TOY_LOSS, abs=1e-10)
    with pytest.raises(ValueError, match="l2 must be one of"):
        registry.get("TwoLayerNet (neural_net.py)", l2="2018")
