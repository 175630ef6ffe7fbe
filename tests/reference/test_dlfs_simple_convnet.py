"""The book's SimpleConvNet (reference/simple_convnet.py) where torch does not reach: its own numerical_gradient
against backpropagation, accuracy over chunks (a remainder counted), W2's size from pad and stride, and the
inputs the book's sizing cannot take. (predict, loss and gradient against torch autograd and finite differences
are generated from the spec.)
"""

from __future__ import annotations

import numpy as np
import pytest

from reference.simple_convnet import SimpleConvNet, pooled_size

RNG = np.random.default_rng(7)


def test_numerical_gradient_agrees_with_backpropagation() -> None:
    net = SimpleConvNet((2, 7, 7), {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 2}, 4, 3,
                        weight_init_std=0.5, rng=RNG)
    x, t = RNG.standard_normal((2, 2, 7, 7)), np.array([0, 2])
    analytic, numeric = net.gradient(x, t), net.numerical_gradient(x, t)
    assert set(analytic) == set(numeric) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    for key, value in analytic.items():
        np.testing.assert_allclose(value, numeric[key], rtol=1e-4, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("n", [7, 100, 250])
def test_accuracy_counts_every_example_whatever_the_chunk(n: int) -> None:
    net = SimpleConvNet((1, 6, 6), {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1}, 5, 3,
                        weight_init_std=0.5, rng=RNG)
    x, t = RNG.standard_normal((n, 1, 6, 6)), RNG.integers(0, 3, size=n)
    whole = float(np.mean(np.argmax(net.predict(x), axis=1) == t))
    assert net.accuracy(x, t) == pytest.approx(whole, abs=1e-12)
    assert net.accuracy(x, t, batch_size=3) == pytest.approx(whole, abs=1e-12)
    assert net.accuracy(x, np.eye(3)[t]) == pytest.approx(whole, abs=1e-12)


def test_w2_rows_follow_pad_and_stride() -> None:
    # (13 + 2 - 5) // 2 + 1 = 6, pooled to 3 x 3, times 8 filters
    assert pooled_size((3, 13, 13), {"filter_num": 8, "filter_size": 5, "pad": 1, "stride": 2}) == 72
    # the book's defaults on MNIST: 24 x 24 conv output, 12 x 12 pooled, 30 filters
    net = SimpleConvNet(rng=RNG)
    assert net.params["W1"].shape == (30, 1, 5, 5) and net.params["W2"].shape == (4320, 100)
    assert net.params["W3"].shape == (100, 10) and not np.any(net.params["b2"])


@pytest.mark.parametrize(("size", "param", "match"), [
    (8, {"filter_num": 1, "filter_size": 3, "pad": 0, "stride": 2}, "does not tile"),
    (7, {"filter_num": 1, "filter_size": 3, "pad": 0, "stride": 1}, "odd"),
])
def test_sizes_the_book_cannot_take_are_rejected(size: int, param: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        pooled_size((1, size, size), param)
