"""The book's Trainer (reference/trainer.py): its counts (iter_per_epoch, max_iter, one accuracy per epoch
begun), the optimizer chosen by name, and the grader's SoftmaxNet (nngrade_support's: the student's Trainer
trains it in the worker, the spec's expected values come from the reference Trainer training the same class).
"""

from __future__ import annotations

import numpy as np
import pytest

from graders.sandbox.support.nngrade_support import SoftmaxNet
from reference.optimizer import Momentum
from reference.trainer import Trainer

RNG = np.random.default_rng(6)


def _data(n: int) -> tuple[np.ndarray, ...]:
    return RNG.standard_normal((n, 3)), RNG.integers(0, 2, size=n), RNG.standard_normal((4, 3)), RNG.integers(0, 2, 4)


def test_gradient_is_the_loss_derivative() -> None:
    net = SoftmaxNet(RNG.standard_normal((3, 2)), RNG.standard_normal(2))
    x, t = RNG.standard_normal((4, 3)), np.array([0, 1, 1, 0])
    h, W = 1e-6, net.params["W"]
    numeric = np.zeros_like(W)
    for idx in np.ndindex(*W.shape):
        W[idx] += h
        up = net.loss(x, t)
        W[idx] -= 2 * h
        numeric[idx] = (up - net.loss(x, t)) / (2 * h)
        W[idx] += h
    np.testing.assert_allclose(net.gradient(x, t)["W"], numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("n", "batch", "epochs", "max_iter", "evaluations"), [
    (6, 2, 2, 6, 2),    # 3 steps per epoch
    (6, 4, 2, 3, 1),    # 1.5 steps per epoch: int(2 * 1.5) = 3 steps; current_iter % 1.5 == 0 at step 0 only
    (2, 5, 3, 3, 3),    # a batch larger than the training set: one step per epoch
])
def test_counts(n: int, batch: int, epochs: int, max_iter: int, evaluations: int) -> None:
    x, t, xt, tt = _data(n)
    trainer = Trainer(SoftmaxNet(np.zeros((3, 2)), np.zeros(2)), x, t, xt, tt, epochs, batch, "sgd", {"lr": 0.1},
                      verbose=False, rng=RNG)
    trainer.train()
    assert trainer.max_iter == max_iter and len(trainer.train_loss_list) == max_iter
    assert len(trainer.train_acc_list) == len(trainer.test_acc_list) == evaluations


def test_repeated_rows_make_training_independent_of_the_draws() -> None:
    row = RNG.standard_normal(3)
    x, t = np.tile(row, (4, 1)), np.full(4, 1)
    finals = []
    for seed in (0, 1):
        net = SoftmaxNet(np.ones((3, 2)), np.zeros(2))
        Trainer(net, x, t, x, t, 2, 2, "Momentum", {"lr": 0.3, "momentum": 0.9}, verbose=False,
                rng=np.random.default_rng(seed)).train()
        finals.append(net.params["W"])
    np.testing.assert_array_equal(finals[0], finals[1])
    by_hand, params = Momentum(lr=0.3, momentum=0.9), {"W": np.ones((3, 2)), "b": np.zeros(2)}
    reference = SoftmaxNet(params["W"], params["b"])
    for _ in range(4):
        by_hand.update(reference.params, reference.gradient(x[:2], t[:2]))
    np.testing.assert_allclose(finals[0], reference.params["W"], rtol=1e-13)
