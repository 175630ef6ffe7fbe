"""TwoLayerNet (backprop vs numerical gradients, parameter updates), the epoch iterator, the training loop."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference import layers as layers_module
from reference.dlfs import TwoLayerNet, epoch_batches, load_mnist, train_two_layer_net
from reference.functional.losses import cross_entropy_error


@pytest.fixture
def restore_global_random_state() -> Iterator[None]:
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def small_problem(seed: int, one_hot: bool) -> tuple[TwoLayerNet, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    net = TwoLayerNet(8, 5, 3, weight_init_std=0.1, rng=rng)
    x = rng.standard_normal((4, 8))
    labels = rng.integers(0, 3, 4)
    return net, x, (np.eye(3)[labels] if one_hot else labels)


def normwise_relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||): not inflated by single entries that cancel to nearly 0."""
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


def check_gradients(seed: int, one_hot: bool, tolerance: float) -> None:
    net, x, t = small_problem(seed, one_hot)
    hidden = x @ net.params["W1"] + net.params["b1"]
    # Domain guard: a pre-activation within h * max|x| (about 4e-4) of 0 puts ReLU's kink inside a step.
    assert np.min(np.abs(hidden)) > 1e-3
    analytic = net.gradient(x, t)
    numeric = net.numerical_gradient(x, t)
    assert set(analytic) == set(numeric) == {"W1", "b1", "W2", "b2"}
    for key in analytic:
        assert analytic[key].shape == net.params[key].shape
        assert normwise_relative_error(analytic[key], numeric[key]) < tolerance, key
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("one_hot", [False, True], ids=["labels", "one-hot"])
@pytest.mark.parametrize("seed", range(5))
def test_backprop_equals_numerical_gradient(seed: int, one_hot: bool) -> None:
    """The book's gradient check. The loss has 1e-7 inside its log, backprop differentiates the loss without
    it; that gap is about 1e-7 / (2 y_true), 1.5e-7 here, under the 1e-6 bound."""
    check_gradients(seed, one_hot, tolerance=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_backprop_is_exact_without_the_log_guard(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the 1e-7 guard removed from the loss, only finite-difference error remains (h = 1e-4)."""
    monkeypatch.setattr(layers_module, "cross_entropy_error", partial(cross_entropy_error, eps=0.0))
    check_gradients(seed, one_hot=False, tolerance=1e-8)


def test_numerical_gradient_leaves_params_unchanged() -> None:
    net, x, t = small_problem(3, one_hot=False)
    before = {key: value.copy() for key, value in net.params.items()}
    net.numerical_gradient(x, t)
    for key, value in net.params.items():
        np.testing.assert_array_equal(value, before[key])


def manual_scores(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]


def test_layers_follow_in_place_and_replaced_params() -> None:
    net, x, t = small_problem(4, one_hot=False)
    grads = net.gradient(x, t)
    for key in ("W1", "b1", "W2", "b2"):
        net.params[key] -= 0.5 * grads[key]  # the book's update: in place
    np.testing.assert_allclose(net.predict(x), manual_scores(net.params, x), rtol=1e-12)
    net.params["W2"] = net.params["W2"] * 2.0  # a loop that rebinds instead
    np.testing.assert_allclose(net.predict(x), manual_scores(net.params, x), rtol=1e-12)


def test_loss_and_accuracy() -> None:
    net, x, labels = small_problem(5, one_hot=False)
    scores = manual_scores(net.params, x)
    probs = np.exp(scores - scores.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    assert net.loss(x, labels) == pytest.approx(-np.mean(np.log(probs[np.arange(4), labels] + 1e-7)))
    expected = float(np.mean(scores.argmax(1) == labels))
    assert net.accuracy(x, labels) == expected
    assert net.accuracy(x, np.eye(3)[labels]) == expected
    assert net.accuracy(x, scores.argmax(1)) == 1.0


def test_default_init_uses_the_global_state_like_the_book(restore_global_random_state: None) -> None:
    np.random.seed(7)
    net = TwoLayerNet(6, 4, 2, weight_init_std=0.01)
    np.random.seed(7)
    w1 = 0.01 * np.random.randn(6, 4)
    w2 = 0.01 * np.random.randn(4, 2)
    np.testing.assert_array_equal(net.params["W1"], w1)
    np.testing.assert_array_equal(net.params["W2"], w2)
    np.testing.assert_array_equal(net.params["b1"], np.zeros(4))
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]


# ---------------------------------------------------------------- epoch_batches


@given(n=st.integers(0, 200), batch_size=st.integers(1, 64), seed=st.integers(0, 2**32 - 1))
def test_each_epoch_covers_every_index_exactly_once(n: int, batch_size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    orders = []
    for _ in range(3):
        batches = list(epoch_batches(n, batch_size, rng))
        assert len(batches) == math.ceil(n / batch_size)
        assert all(len(batch) == batch_size for batch in batches[:-1])
        if batches:
            assert len(batches[-1]) == (n % batch_size or batch_size)
        order = np.concatenate(batches) if batches else np.array([], dtype=int)
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
        orders.append(order)
    if n >= 20:  # two equal permutations of 20 items: probability 1 / 20!
        assert not np.array_equal(orders[0], orders[1])


def test_epoch_batches_rejects_bad_sizes() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="batch_size"):
        list(epoch_batches(10, 0, rng))
    with pytest.raises(ValueError, match="examples"):
        list(epoch_batches(-1, 5, rng))


# ---------------------------------------------------------------- train_two_layer_net


def blobs(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian clusters in 6 dimensions."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.array([[3, 0, 0, 0, 0, 0], [0, 3, 0, 0, 0, 0], [0, 0, 3, 0, 0, 0]], dtype=float)
    return (centres[labels] + 0.5 * rng.standard_normal((n, 6))).astype(np.float32), labels.astype(np.uint8)


@pytest.mark.parametrize("iters, evaluations", [(6, 2), (7, 3), (1, 1), (0, 0)])
def test_training_history_lengths(iters: int, evaluations: int) -> None:
    x, t = blobs(0, 50)  # 50 examples in batches of 20: 3 batches per epoch
    history = train_two_layer_net(x, t, x[:10], t[:10], iters=iters, batch_size=20, lr=0.1, hidden=4)
    assert len(history["train_loss"]) == iters
    assert len(history["train_acc"]) == len(history["test_acc"]) == evaluations


def test_training_is_deterministic_for_a_seed_and_learns() -> None:
    x_train, t_train = blobs(1, 300)
    x_test, t_test = blobs(2, 100)
    kwargs: dict[str, Any] = dict(iters=300, batch_size=32, lr=0.5, hidden=8)
    first = train_two_layer_net(x_train, t_train, x_test, t_test, seed=3, **kwargs)
    second = train_two_layer_net(x_train, t_train, x_test, t_test, seed=3, **kwargs)
    other = train_two_layer_net(x_train, t_train, x_test, t_test, seed=4, **kwargs)
    assert first == second
    assert first["train_loss"] != other["train_loss"]
    assert np.mean(first["train_loss"][-20:]) < 0.5 * np.mean(first["train_loss"][:20])
    assert first["test_acc"][-1] > 0.9


def test_training_accepts_one_hot_targets_and_images() -> None:
    x, t = blobs(5, 60)
    images = x.reshape(60, 1, 2, 3)
    by_label = train_two_layer_net(images, t, images, t, iters=10, batch_size=16, hidden=4)
    by_one_hot = train_two_layer_net(
        images, np.eye(3)[t], images, np.eye(3)[t], iters=10, batch_size=16, hidden=4
    )
    np.testing.assert_allclose(by_label["train_loss"], by_one_hot["train_loss"], rtol=1e-12)
    assert by_label["test_acc"] == by_one_hot["test_acc"]


@pytest.mark.slow
def test_book_run_on_real_mnist_reaches_97_percent(mnist_dir) -> None:
    """The book's ch. 5 run: hidden 50, lr 0.1, batch 100, 10,000 iterations (about 17 epochs).

    The margin is small and seed-dependent: seeds 0-4 measured 0.9706, 0.9684, 0.9703, 0.9711, 0.9718 final
    test accuracy. Seed 0 is the pinned run; a change in how randomness is consumed can move it by ~0.002.
    """
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True, data_dir=mnist_dir)
    start = time.perf_counter()
    history = train_two_layer_net(
        x_train, t_train, x_test, t_test, iters=10000, batch_size=100, lr=0.1, hidden=50
    )
    elapsed = time.perf_counter() - start
    print(f"book run: {elapsed:.1f} s, test accuracy {history['test_acc'][-1]:.4f}")
    assert len(history["train_loss"]) == 10000
    assert len(history["test_acc"]) == math.ceil(10000 / 600)
    assert history["test_acc"][-1] >= 0.97
    assert history["train_acc"][-1] >= 0.97
