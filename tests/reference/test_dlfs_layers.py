"""The book's layer classes (reference.layers via reference.dlfs): gradients, state, pinned differences.

Gradients are checked against central finite differences in float64 with a random upstream ``dout``; inputs
keep away from ReLU's kink and max-pool ties so the finite differences are meaningful.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from reference import dlfs
from reference.dlfs import (
    Affine,
    BatchNormalization,
    Convolution,
    Dropout,
    Pooling,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)
from reference.gradcheck import eval_numerical_gradient_array

ATOL, RTOL = 1e-7, 1e-5


def rng_for(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values with |x| in [0.1, 2]: no ReLU kink within a finite-difference step."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 2.0, size=shape)


def tie_free(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Distinct values 0.1 apart (a shuffled, centred ramp): no max-pool ties, none near each other."""
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) - size / 2) * 0.1


def check_close(actual: np.ndarray | None, expected: np.ndarray) -> None:
    assert actual is not None
    np.testing.assert_allclose(actual, expected, atol=ATOL, rtol=RTOL)


@pytest.fixture
def restore_global_random_state() -> Iterator[None]:
    """Tests that seed NumPy's global state (as the book does) leave it as they found it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def test_public_face_exports() -> None:
    for name in dlfs.__all__:
        assert hasattr(dlfs, name), name
    expected = {
        "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization", "Convolution",
        "Pooling", "sigmoid", "softmax", "cross_entropy_error", "numerical_gradient", "im2col", "col2im",
        "load_mnist", "TwoLayerNet", "train_two_layer_net",
    }  # fmt: skip
    assert expected <= set(dlfs.__all__)


# ---------------------------------------------------------------- Relu, Sigmoid


@pytest.mark.parametrize("shape", [(4,), (3, 5), (2, 3, 2, 2)])
def test_relu_forward_backward(shape: tuple[int, ...]) -> None:
    rng = rng_for(0)
    x, dout = away_from_zero(rng, shape), rng.standard_normal(shape)
    layer = Relu()
    out = layer.forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    np.testing.assert_array_equal(layer.mask, x <= 0)
    dx = layer.backward(dout)
    check_close(dx, eval_numerical_gradient_array(Relu().forward, x, dout))


def test_relu_backward_leaves_dout_alone() -> None:
    """The book's Relu.backward zeroes ``dout`` in place and returns it; the reference returns a new array."""
    rng = rng_for(1)
    x, dout = away_from_zero(rng, (6, 4)), rng.standard_normal((6, 4))
    before = dout.copy()
    layer = Relu()
    layer.forward(x)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dout, before)
    assert not np.shares_memory(dx, dout)
    np.testing.assert_array_equal(dx, np.where(x > 0, before, 0.0))


def test_relu_gradient_at_zero_is_zero() -> None:
    layer = Relu()
    layer.forward(np.array([[-1.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(layer.backward(np.array([[5.0, 5.0, 5.0]])), [[0.0, 0.0, 5.0]])


def test_relu_backward_ignores_later_changes_to_x() -> None:
    x = np.array([[-1.0, 2.0]])
    layer = Relu()
    layer.forward(x)
    x *= -1  # the caller reuses its buffer
    np.testing.assert_array_equal(layer.backward(np.ones((1, 2))), [[0.0, 1.0]])


def test_sigmoid_forward_backward() -> None:
    rng = rng_for(2)
    x, dout = rng.standard_normal((5, 3)) * 3, rng.standard_normal((5, 3))
    layer = Sigmoid()
    out = layer.forward(x)
    check_close(out, 1 / (1 + np.exp(-x)))
    np.testing.assert_array_equal(layer.out, out)
    check_close(layer.backward(dout), eval_numerical_gradient_array(Sigmoid().forward, x, dout))


# ---------------------------------------------------------------- Affine


@given(
    n=st.integers(1, 4),
    feature_shape=st.sampled_from([(5,), (2, 3), (2, 2, 3)]),
    m=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_affine_gradients_any_input_rank(n: int, feature_shape: tuple[int, ...], m: int, seed: int) -> None:
    rng = rng_for(seed)
    x = rng.standard_normal((n, *feature_shape))
    d = int(np.prod(feature_shape))
    w, b, dout = rng.standard_normal((d, m)), rng.standard_normal(m), rng.standard_normal((n, m))
    layer = Affine(w, b)
    out = layer.forward(x)
    check_close(out, x.reshape(n, d) @ w + b)
    dx = layer.backward(dout)
    assert dx.shape == x.shape  # the book restores the 4-D shape after flattening
    dw, db = np.array(layer.dW), np.array(layer.db)
    probe = Affine(w, b)  # holds w and b by reference: perturbing them in place changes its output
    check_close(dx, eval_numerical_gradient_array(probe.forward, x, dout))
    check_close(dw, eval_numerical_gradient_array(lambda _: probe.forward(x), w, dout))
    check_close(db, eval_numerical_gradient_array(lambda _: probe.forward(x), b, dout))


def test_affine_sees_in_place_weight_updates() -> None:
    w, b = np.ones((3, 2)), np.zeros(2)
    layer = Affine(w, b)
    x = np.ones((1, 3))
    np.testing.assert_array_equal(layer.forward(x), [[3.0, 3.0]])
    w -= 0.5  # the book's training loop: params[key] -= lr * grad
    b += 1.0
    np.testing.assert_array_equal(layer.forward(x), [[2.5, 2.5]])


# ---------------------------------------------------------------- SoftmaxWithLoss


def test_softmax_with_loss_labels_and_one_hot() -> None:
    rng = rng_for(3)
    x = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    one_hot = np.eye(4)[labels]
    y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    book_loss = -np.sum(np.log(y[np.arange(6), labels] + 1e-7)) / 6
    by_label, by_one_hot = SoftmaxWithLoss(), SoftmaxWithLoss()
    assert by_label.forward(x, labels) == pytest.approx(book_loss, rel=1e-12)
    assert by_one_hot.forward(x, one_hot) == pytest.approx(book_loss, rel=1e-12)
    check_close(by_label.backward(), (y - one_hot) / 6)
    check_close(by_one_hot.backward(), (y - one_hot) / 6)


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss_gradient_and_dout(one_hot: bool) -> None:
    rng = rng_for(4)
    x = rng.standard_normal((5, 3))
    labels = rng.integers(0, 3, 5)
    t = np.eye(3)[labels] if one_hot else labels
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    numeric = eval_numerical_gradient_array(
        lambda v: np.array(SoftmaxWithLoss().forward(v, t)), x, np.array(1.0)
    )
    # The loss has 1e-7 inside the log, the gradient is that of the loss without it: rtol 1e-5 covers that.
    np.testing.assert_allclose(layer.backward(), numeric, rtol=1e-5, atol=1e-9)
    # The reference scales by dout (the book ignores its dout argument).
    np.testing.assert_allclose(layer.backward(2.5), 2.5 * layer.backward(1), rtol=1e-15)


def test_softmax_with_loss_single_example() -> None:
    x = np.array([1.0, 2.0, 0.5])
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, np.array([0.0, 1.0, 0.0]))
    y = np.exp(x) / np.exp(x).sum()
    assert loss == pytest.approx(-np.log(y[1] + 1e-7))
    check_close(layer.backward(), y - np.array([0.0, 1.0, 0.0]))


def test_softmax_with_loss_large_logits_are_finite() -> None:
    layer = SoftmaxWithLoss()
    loss = layer.forward(np.array([[1000.0, 0.0, -1000.0]]), np.array([0]))
    assert np.isfinite(loss) and loss == pytest.approx(-np.log(1 + 1e-7))
    assert np.all(np.isfinite(layer.backward()))


# ---------------------------------------------------------------- Dropout


def test_dropout_test_mode_scales_by_keep() -> None:
    x = rng_for(5).standard_normal((4, 7))
    layer = Dropout(dropout_ratio=0.3)
    np.testing.assert_allclose(layer.forward(x, train_flg=False), x * 0.7, rtol=1e-15)
    dout = rng_for(6).standard_normal((4, 7))
    np.testing.assert_allclose(layer.backward(dout), dout * 0.7, rtol=1e-15)


def test_dropout_train_mode_mask_consistency(restore_global_random_state: None) -> None:
    np.random.seed(0)
    x = rng_for(7).standard_normal((200, 500))
    dout = rng_for(8).standard_normal((200, 500))
    layer = Dropout(dropout_ratio=0.3)
    out = layer.forward(x, train_flg=True)
    mask = layer.mask
    assert mask is not None and mask.dtype == np.bool_ and mask.shape == x.shape
    np.testing.assert_array_equal(out, x * mask)  # not inverted: kept units pass unchanged
    np.testing.assert_array_equal(layer.backward(dout), dout * mask)
    assert abs(mask.mean() - 0.7) < 0.01  # 100,000 draws: the standard deviation is 0.0015
    layer.forward(x, train_flg=True)
    assert layer.mask is not None and not np.array_equal(layer.mask, mask)  # a fresh mask every call


def test_dropout_reproduces_the_books_mask_with_np_random_seed(restore_global_random_state: None) -> None:
    x = np.ones((3, 50))
    np.random.seed(42)
    out = Dropout(0.5).forward(x)
    np.random.seed(42)
    book_mask = np.random.rand(*x.shape) > 0.5
    np.testing.assert_array_equal(out, x * book_mask)


def test_dropout_rejects_a_ratio_without_keep() -> None:
    with pytest.raises(ValueError):
        Dropout(dropout_ratio=1.0)


# ---------------------------------------------------------------- BatchNormalization


@pytest.mark.parametrize("shape", [(5, 4), (4, 2, 3, 2)], ids=["2d", "4d"])
def test_batchnorm_train_gradients(shape: tuple[int, ...]) -> None:
    rng = rng_for(9)
    d = int(np.prod(shape[1:]))
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.uniform(0.5, 1.5, d), rng.standard_normal(d)
    dout = rng.standard_normal(shape)
    layer = BatchNormalization(gamma, beta)
    out = layer.forward(x, train_flg=True)
    rows = x.reshape(shape[0], -1)
    xhat = (rows - rows.mean(0)) / np.sqrt(rows.var(0) + 1e-6)  # per activation, biased variance, eps 1e-6
    check_close(out, (gamma * xhat + beta).reshape(shape))
    dx = layer.backward(dout)
    assert dx.shape == shape
    dgamma, dbeta = np.array(layer.dgamma), np.array(layer.dbeta)
    probe = BatchNormalization(gamma, beta)

    def forward(_: np.ndarray) -> np.ndarray:
        return probe.forward(x, train_flg=True)

    check_close(dx, eval_numerical_gradient_array(lambda v: probe.forward(v, True), x, dout))
    check_close(dgamma, eval_numerical_gradient_array(forward, gamma, dout))
    check_close(dbeta, eval_numerical_gradient_array(forward, beta, dout))


@pytest.mark.parametrize("momentum", [0.9, 0.5])
def test_batchnorm_running_statistics_then_test_mode(momentum: float) -> None:
    rng = rng_for(10)
    gamma, beta = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    layer = BatchNormalization(gamma, beta, momentum=momentum)
    running_mean, running_var = np.zeros(3), np.zeros(3)
    for _ in range(5):
        batch = rng.standard_normal((8, 3)) * [1.0, 2.0, 0.5] + [0.0, -1.0, 3.0]
        layer.forward(batch, train_flg=True)
        running_mean = momentum * running_mean + (1 - momentum) * batch.mean(axis=0)
        running_var = momentum * running_var + (1 - momentum) * batch.var(axis=0)  # biased
    check_close(layer.running_mean, running_mean)
    check_close(layer.running_var, running_var)
    x = rng.standard_normal((4, 3))
    out = layer.forward(x, train_flg=False)
    check_close(out, gamma * (x - running_mean) / np.sqrt(running_var + 1e-6) + beta)
    check_close(layer.running_mean, running_mean)  # test mode leaves the statistics alone


def test_batchnorm_test_mode_backward() -> None:
    """After a test-mode forward the gradient is that of the running-statistics map, not of the last batch."""
    rng = rng_for(16)
    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)
    mean, var = rng.standard_normal(4), rng.uniform(0.5, 2.0, 4)
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    layer = BatchNormalization(gamma, beta, momentum=1.0, running_mean=mean, running_var=var)
    layer.forward(rng.standard_normal((5, 4)), train_flg=True)  # momentum 1: running stats stay put
    layer.forward(x, train_flg=False)
    dx = layer.backward(dout)
    dgamma, dbeta = np.array(layer.dgamma), np.array(layer.dbeta)
    probe = BatchNormalization(gamma, beta, running_mean=mean, running_var=var)

    def forward(_: np.ndarray) -> np.ndarray:
        return probe.forward(x, train_flg=False)

    check_close(dx, eval_numerical_gradient_array(lambda v: probe.forward(v, False), x, dout))
    check_close(dgamma, eval_numerical_gradient_array(forward, gamma, dout))
    check_close(dbeta, eval_numerical_gradient_array(forward, beta, dout))


def test_batchnorm_eps_is_the_books_1e_minus_6() -> None:
    layer = BatchNormalization(np.ones(2), np.zeros(2), running_mean=np.zeros(2), running_var=np.zeros(2))
    out = layer.forward(np.array([[1.0, -2.0]]), train_flg=False)
    np.testing.assert_allclose(out, [[1.0 / np.sqrt(1e-6), -2.0 / np.sqrt(1e-6)]], rtol=1e-12)


def test_batchnorm_on_4d_is_per_activation_not_per_channel() -> None:
    rng = rng_for(11)
    x = rng.standard_normal((6, 2, 2, 2))
    out = BatchNormalization(np.ones(8), np.zeros(8)).forward(x)
    per_activation = out.reshape(6, 8)
    check_close(per_activation.mean(axis=0), np.zeros(8))
    check_close(per_activation.var(axis=0), x.reshape(6, 8).var(0) / (x.reshape(6, 8).var(0) + 1e-6))


def test_batchnorm_book_attributes() -> None:
    x = rng_for(12).standard_normal((5, 3))
    layer = BatchNormalization(np.ones(3), np.zeros(3))
    layer.forward(x)
    assert layer.batch_size == 5
    check_close(layer.xc, x - x.mean(0))
    check_close(layer.std, np.sqrt(x.var(0) + 1e-6))


# ---------------------------------------------------------------- Convolution


def cross_correlate(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """An independent direct convolution for the test: pad with zeros, take strided windows, contract."""
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("ncijpq,fcpq->nfij", windows, w) + b[None, :, None, None]


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad",
    [
        ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1),
        ((1, 2, 7, 6), (3, 2, 3, 2), 2, 1),
        ((2, 1, 6, 5), (2, 1, 2, 3), 2, 0),
    ],
)
def test_convolution_forward_backward(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: int, pad: int
) -> None:
    rng = rng_for(13)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    layer = Convolution(w, b, stride=stride, pad=pad)
    out = layer.forward(x)
    check_close(out, cross_correlate(x, w, b, stride, pad))
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    dw, db = np.array(layer.dW), np.array(layer.db)
    probe = Convolution(w, b, stride=stride, pad=pad)
    check_close(dx, eval_numerical_gradient_array(probe.forward, x, dout))
    check_close(dw, eval_numerical_gradient_array(lambda _: probe.forward(x), w, dout))
    check_close(db, eval_numerical_gradient_array(lambda _: probe.forward(x), b, dout))


# ---------------------------------------------------------------- Pooling


def max_pool_with_explicit_inf_padding(x: np.ndarray, ph: int, pw: int, stride: int, pad: int) -> np.ndarray:
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    return sliding_window_view(padded, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride].max(axis=(4, 5))


@pytest.mark.parametrize(
    "x_shape, pool, stride, pad",
    [
        ((2, 3, 4, 4), (2, 2), 2, 0),
        ((2, 2, 5, 5), (2, 2), 1, 0),  # overlapping windows
        ((1, 2, 5, 6), (3, 2), 2, 1),  # non-square, stride > 1 with pad > 0
        ((2, 1, 4, 4), (2, 2), 2, 1),
    ],
)
def test_pooling_forward_backward(
    x_shape: tuple[int, ...], pool: tuple[int, int], stride: int, pad: int
) -> None:
    rng = rng_for(14)
    x = tie_free(rng, x_shape)
    layer = Pooling(*pool, stride=stride, pad=pad)
    out = layer.forward(x)
    np.testing.assert_array_equal(out, max_pool_with_explicit_inf_padding(x, *pool, stride, pad))
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    check_close(dx, eval_numerical_gradient_array(Pooling(*pool, stride=stride, pad=pad).forward, x, dout))


def test_pooling_with_pad_differs_from_the_book() -> None:
    """Pinned: the book's Pooling sizes its output as if pad were 0 and pads with zeros; the reference pads
    with -inf and counts the padding, like torch."""
    x = tie_free(rng_for(15), (1, 1, 4, 4)) - 100.0  # all negative: a zero pad would win the border
    pool, stride, pad = 2, 2, 1
    out = Pooling(pool, pool, stride=stride, pad=pad).forward(x)
    assert out.shape == (1, 1, 3, 3)  # 1 + (4 + 2 - 2) // 2
    assert np.all(out < 0)
    np.testing.assert_array_equal(out, max_pool_with_explicit_inf_padding(x, pool, pool, stride, pad))
    # The book: out_h = 1 + (H - pool_h) / stride = 2, but im2col with pad = 1 yields 3 x 3 windows, so its
    # reshape to (N, out_h, out_w, C) cannot succeed.
    book_out_h = int(1 + (4 - pool) / stride)
    columns = dlfs.im2col(x, pool, pool, stride, pad).reshape(-1, pool * pool)
    with pytest.raises(ValueError):
        np.max(columns, axis=1).reshape(1, book_out_h, book_out_h, 1)
    # and im2col's zero padding would have produced 0 at the corners instead of the real maxima.
    assert np.max(columns, axis=1)[0] == 0.0 and out[0, 0, 0, 0] == x[0, 0, 0, 0]


def test_pooling_rejects_pad_over_half_the_pool() -> None:
    with pytest.raises(ValueError, match="pad"):
        Pooling(2, 2, stride=2, pad=2).forward(np.zeros((1, 1, 4, 4)))


@pytest.mark.parametrize("layer", [Relu(), Sigmoid(), Affine(np.ones((2, 2)), np.zeros(2)), SoftmaxWithLoss(),
                                   Dropout(), BatchNormalization(np.ones(2), np.zeros(2)),
                                   Convolution(np.ones((1, 1, 1, 1)), np.zeros(1)), Pooling(1, 1)],
                         ids=lambda layer: type(layer).__name__)  # fmt: skip
def test_backward_before_forward_is_an_error(layer: object) -> None:
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.ones((1, 2)))  # type: ignore[attr-defined]
