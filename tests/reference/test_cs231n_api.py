"""The public face ``reference.cs231n`` and the functional math behind it: names and conventions.

The generated registry tests compare the reference with torch and finite differences, and check the error
inputs each spec declares (``Spec.errors``, tests/reference/test_spec_fields.py); these tests pin what those
cannot see: the assignment's conventions (defaults, dict updates, seeds, the meaning of p) and identities such
as "a sandwich is the composition of its parts".
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference import cs231n as R
from reference.cs231n import layers as L
from reference.functional import activations as A
from reference.functional import dropout as DO
from reference.functional import losses as LOSS
from reference.functional import normalization as NORM


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- public face
def test_every_public_name_is_exported_and_callable() -> None:
    expected = {
        "affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss", "svm_loss",
        "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward",
        "layernorm_backward", "dropout_forward", "dropout_backward", "spatial_batchnorm_forward",
        "spatial_batchnorm_backward", "spatial_groupnorm_forward", "spatial_groupnorm_backward",
        "conv_forward_naive", "conv_backward_naive", "conv_forward_fast", "conv_backward_fast",
        "max_pool_forward_naive", "max_pool_backward_naive",
        "max_pool_forward_fast", "max_pool_backward_fast",
        "affine_relu_forward", "affine_relu_backward", "conv_relu_forward", "conv_relu_backward",
        "conv_bn_relu_forward", "conv_bn_relu_backward", "conv_relu_pool_forward", "conv_relu_pool_backward",
    }  # fmt: skip
    assert set(R.__all__) == expected
    assert all(callable(getattr(R, name)) for name in expected)


# ---------------------------------------------------------------- batch-norm conventions
def batch(seed: int = 0, n: int = 6, d: int = 3, scale: float = 2.0, shift: float = 1.0) -> np.ndarray:
    return scale * rng(seed).standard_normal((n, d)) + shift


def test_batchnorm_default_eps_is_1e_5_inside_the_square_root() -> None:
    x = 0.003 * rng(1).standard_normal((8, 3))  # variance ~1e-5: eps changes the output visibly
    out, _ = R.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    want = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    assert not np.allclose(out, (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-3), rtol=1e-3)


def test_batchnorm_momentum_09_keeps_90_percent_of_the_running_value() -> None:
    param: dict = {"mode": "train"}
    x1, x2 = batch(1), batch(2)
    R.batchnorm_forward(x1, np.ones(3), np.zeros(3), param)
    np.testing.assert_allclose(param["running_mean"], 0.1 * x1.mean(axis=0), rtol=1e-12)
    R.batchnorm_forward(x2, np.ones(3), np.zeros(3), param)
    np.testing.assert_allclose(
        param["running_mean"], 0.9 * 0.1 * x1.mean(axis=0) + 0.1 * x2.mean(axis=0), rtol=1e-12
    )


def test_batchnorm_custom_momentum_and_biased_running_variance() -> None:
    param: dict = {"mode": "train", "momentum": 0.7, "running_var": np.full(3, 2.0)}
    x = batch(3)
    R.batchnorm_forward(x, np.ones(3), np.zeros(3), param)
    np.testing.assert_allclose(param["running_var"], 0.7 * 2.0 + 0.3 * x.var(axis=0, ddof=0), rtol=1e-12)


def test_bn_param_is_updated_in_place_with_zeros_of_the_input_dtype() -> None:
    param: dict = {"mode": "test"}
    x = batch(4).astype(np.float32)
    out, _ = R.batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), param)
    assert param["running_mean"].dtype == np.float32 and param["running_var"].dtype == np.float32
    np.testing.assert_array_equal(param["running_mean"], np.zeros(3))
    assert out.dtype == np.float32


def test_test_mode_uses_the_running_statistics_after_train_mode() -> None:
    param: dict = {"mode": "train", "eps": 1e-3}
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.5, -0.5, 0.0])
    for seed in range(5):
        R.batchnorm_forward(batch(seed), gamma, beta, param)
    param["mode"] = "test"
    x = batch(9)
    out, _ = R.batchnorm_forward(x, gamma, beta, param)
    want = gamma * (x - param["running_mean"]) / np.sqrt(param["running_var"] + 1e-3) + beta
    np.testing.assert_allclose(out, want, rtol=1e-12)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 8), d=st.integers(1, 5))
def test_batchnorm_backward_alt_equals_the_staged_backward(seed: int, n: int, d: int) -> None:
    g = rng(seed)
    x = g.uniform(0.5, 3) * g.standard_normal((n, d)) + g.uniform(-5, 5)
    _, cache = R.batchnorm_forward(x, g.standard_normal(d), g.standard_normal(d), {"mode": "train"})
    dout = g.standard_normal((n, d))
    for staged, closed in zip(
        R.batchnorm_backward(dout, cache), R.batchnorm_backward_alt(dout, cache), strict=True
    ):
        np.testing.assert_allclose(staged, closed, rtol=1e-9, atol=1e-12)


def test_spatial_batchnorm_is_batchnorm_per_channel() -> None:
    x = 3 * rng(5).standard_normal((2, 3, 4, 5)) + 2
    out, _ = R.spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-12, atol=1e-12)


def test_layernorm_is_batchnorm_of_the_transpose() -> None:
    x = batch(6, n=4, d=7)
    ln, _ = R.layernorm_forward(x, np.ones(7), np.zeros(7), {"eps": 1e-4})
    bn, _, _, _ = NORM.batchnorm_train(x.T, np.ones(4), np.zeros(4), 1e-4)
    np.testing.assert_allclose(ln, bn.T, rtol=1e-12, atol=1e-12)


def test_groupnorm_gradients_of_gamma_keep_its_shape_and_g1_is_layernorm() -> None:
    x = 2 * rng(7).standard_normal((2, 4, 3, 3)) + 1
    gamma, beta = np.ones((1, 4, 1, 1)), np.zeros((1, 4, 1, 1))
    out, cache = R.spatial_groupnorm_forward(x, gamma, beta, 1, {})
    ln, _ = R.layernorm_forward(x.reshape(2, -1), np.ones(36), np.zeros(36), {})
    np.testing.assert_allclose(out.reshape(2, -1), ln, rtol=1e-12, atol=1e-12)
    _, dgamma, dbeta = R.spatial_groupnorm_backward(rng(8).standard_normal(x.shape), cache)
    assert dgamma.shape == (1, 4, 1, 1) and dbeta.shape == (1, 4, 1, 1)


# ---------------------------------------------------------------- dropout conventions
def test_dropout_p_is_the_keep_probability_and_kept_units_are_scaled() -> None:
    x = rng(1).uniform(1.0, 2.0, (400, 400))
    out, _ = R.dropout_forward(x, {"mode": "train", "p": 0.3})
    kept = out != 0
    assert abs(kept.mean() - 0.3) < 0.01
    np.testing.assert_allclose(out[kept], x[kept] / 0.3, rtol=1e-12)


def test_dropout_seed_reproduces_the_mask_of_np_random_seed_without_touching_global_state() -> None:
    x = rng(2).uniform(1.0, 2.0, (50, 60))
    param = {"mode": "train", "p": 0.6, "seed": 123}
    np.random.seed(7)
    first, _ = R.dropout_forward(x, param)
    second, _ = R.dropout_forward(x, param)
    after = np.random.rand()
    np.random.seed(7)
    assert after == np.random.rand()  # the global stream was not reseeded or advanced
    np.testing.assert_array_equal(first, second)
    np.random.seed(123)
    assignment_mask = (np.random.rand(*x.shape) < 0.6) / 0.6
    np.testing.assert_array_equal(first, x * assignment_mask)
    other, _ = R.dropout_forward(x, {**param, "seed": 124})
    assert not np.array_equal(first, other)


def test_dropout_test_mode_is_the_identity_and_backward_uses_the_mask() -> None:
    x, dout = rng(3).standard_normal((20, 30)), rng(4).standard_normal((20, 30))
    out, cache = R.dropout_forward(x, {"mode": "test", "p": 0.4})
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(R.dropout_backward(dout, cache), dout)
    out, cache = R.dropout_forward(x, {"mode": "train", "p": 0.4, "seed": 1})
    np.testing.assert_allclose(R.dropout_backward(dout, cache), dout * out / x, rtol=1e-12)


def test_book_dropout_is_not_inverted_and_scales_at_test_time() -> None:
    x = rng(5).uniform(1.0, 2.0, (300, 300))
    out, mask = DO.dropout(
        x, 0.2, rate_is="drop", inverted=False, rng=np.random.RandomState(0), keep_when="above"
    )
    assert mask is not None and set(np.unique(mask)) == {0.0, 1.0}
    np.random.seed(0)
    np.testing.assert_array_equal(mask, np.random.rand(*x.shape) > 0.2)
    test_out, _ = DO.dropout(x, 0.2, rate_is="drop", inverted=False, train=False)
    np.testing.assert_allclose(test_out, 0.8 * x)
    np.testing.assert_array_equal(DO.dropout_grad(x, mask, inverted=False), x * mask)


# ---------------------------------------------------------------- losses and activations
@given(
    seed=st.integers(0, 2**32 - 1),
    shift=st.floats(-1000.0, 1000.0),
    n=st.integers(1, 5),
    c=st.integers(2, 6),
)
def test_softmax_loss_is_invariant_to_shifting_the_logits(seed: int, shift: float, n: int, c: int) -> None:
    g = rng(seed)
    x, y = 5 * g.standard_normal((n, c)), g.integers(0, c, n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        loss, dx = R.softmax_loss(x, y)
        shifted_loss, shifted_dx = R.softmax_loss(x + shift, y)
    assert np.isfinite(shifted_loss) and np.all(np.isfinite(shifted_dx))
    np.testing.assert_allclose(shifted_loss, loss, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(shifted_dx, dx, rtol=1e-7, atol=1e-12)


def test_softmax_and_log_softmax_along_the_last_axis_for_1d_and_2d() -> None:
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    p = LOSS.softmax(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[1], 1 / 3)
    np.testing.assert_allclose(LOSS.softmax(x[0]), p[0])
    np.testing.assert_allclose(LOSS.log_softmax(x), np.log(p))


def test_svm_loss_matches_its_definition() -> None:
    x = np.array([[3.0, 1.0, 2.5], [0.0, 2.0, -1.0]])
    y = np.array([0, 2])
    # example 0: margins 1-3+1 = -1 -> 0, 2.5-3+1 = 0.5; example 1: 0+1+1 = 2, 2+1+1 = 4
    loss, dx = R.svm_loss(x, y)
    assert loss == pytest.approx((0.5 + 2 + 4) / 2)
    np.testing.assert_allclose(dx, np.array([[-1, 0, 1], [1, 1, -2]]) / 2)


def test_cross_entropy_error_book_conventions() -> None:
    y = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]])
    labels = np.array([1, 0])
    want = -(np.log(0.7 + 1e-7) + np.log(0.5 + 1e-7)) / 2
    assert LOSS.cross_entropy_error(y, labels) == pytest.approx(want)
    assert LOSS.cross_entropy_error(y, np.eye(3)[labels]) == pytest.approx(want)
    assert LOSS.cross_entropy_error(y[0], np.eye(3)[1]) == pytest.approx(-np.log(0.7 + 1e-7))
    assert LOSS.cross_entropy_error(y[0], np.array(1)) == pytest.approx(-np.log(0.7 + 1e-7))


def test_sigmoid_is_stable_for_large_inputs_and_relu_grad_is_0_at_0() -> None:
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = A.sigmoid(x)
    np.testing.assert_allclose(s, [0.0, 1 / (1 + np.exp(30)), 0.5, 1 / (1 + np.exp(-30)), 1.0], rtol=1e-12)
    np.testing.assert_allclose(A.sigmoid_grad(np.ones(5), s), s * (1 - s))
    np.testing.assert_array_equal(A.relu_grad(np.ones(3), np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0])


def test_svm_loss_is_c_times_torch_multi_margin_loss() -> None:
    """The fact behind the svm spec's torch adapter: torch also averages the hinge terms over C."""
    torch = pytest.importorskip("torch")
    x, y = rng(9).standard_normal((6, 5)), rng(10).integers(0, 5, 6)
    ours, _ = R.svm_loss(x, y)
    theirs = torch.nn.functional.multi_margin_loss(torch.tensor(x), torch.tensor(y), p=1, margin=1.0)
    assert ours == pytest.approx(5 * float(theirs), rel=1e-12)


# ---------------------------------------------------------------- sandwiches are compositions
CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def assert_all_equal(got: tuple, want: tuple) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_affine_relu_is_affine_then_relu() -> None:
    g = rng(11)
    x, w, b, dout = (
        g.standard_normal((3, 2, 2)),
        g.standard_normal((4, 5)),
        g.standard_normal(5),
        g.standard_normal((3, 5)),
    )
    out, cache = R.affine_relu_forward(x, w, b)
    a, affine_cache = R.affine_forward(x, w, b)
    want, relu_cache = R.relu_forward(a)
    np.testing.assert_array_equal(out, want)
    assert_all_equal(
        R.affine_relu_backward(dout, cache),
        R.affine_backward(R.relu_backward(dout, relu_cache), affine_cache),
    )


def test_conv_relu_pool_is_the_fast_conv_then_relu_then_pool() -> None:
    g = rng(12)
    x, w, b, dout = (
        g.standard_normal((2, 3, 6, 6)),
        g.standard_normal((2, 3, 3, 3)),
        g.standard_normal(2),
        g.standard_normal((2, 2, 3, 3)),
    )
    out, cache = R.conv_relu_pool_forward(x, w, b, CONV, POOL)
    a, conv_cache = R.conv_forward_fast(x, w, b, CONV)
    s, relu_cache = R.relu_forward(a)
    want, pool_cache = R.max_pool_forward_fast(s, POOL)
    np.testing.assert_array_equal(out, want)
    da = R.relu_backward(R.max_pool_backward_fast(dout, pool_cache), relu_cache)
    assert_all_equal(R.conv_relu_pool_backward(dout, cache), R.conv_backward_fast(da, conv_cache))


def test_conv_relu_and_conv_bn_relu_are_their_compositions() -> None:
    g = rng(13)
    x, w, b, dout = (
        g.standard_normal((2, 3, 5, 5)),
        g.standard_normal((4, 3, 3, 3)),
        g.standard_normal(4),
        g.standard_normal((2, 4, 5, 5)),
    )
    gamma, beta = g.standard_normal(4), g.standard_normal(4)
    out, cache = R.conv_relu_forward(x, w, b, CONV)
    a, conv_cache = R.conv_forward_fast(x, w, b, CONV)
    np.testing.assert_array_equal(out, np.maximum(a, 0))
    assert_all_equal(
        R.conv_relu_backward(dout, cache), R.conv_backward_fast(R.relu_backward(dout, a), conv_cache)
    )

    param: dict = {"mode": "train"}
    out, cache = R.conv_bn_relu_forward(x, w, b, gamma, beta, CONV, param)
    an, bn_cache = R.spatial_batchnorm_forward(a, gamma, beta, {"mode": "train"})
    np.testing.assert_array_equal(out, np.maximum(an, 0))
    assert "running_mean" in param  # the sandwich passes bn_param through to batch norm
    da, dgamma, dbeta = R.spatial_batchnorm_backward(R.relu_backward(dout, an), bn_cache)
    assert_all_equal(
        R.conv_bn_relu_backward(dout, cache), (*R.conv_backward_fast(da, conv_cache), dgamma, dbeta)
    )


def test_layers_module_functions_are_the_public_ones() -> None:
    assert R.batchnorm_forward is L.batchnorm_forward and R.dropout_backward is L.dropout_backward
