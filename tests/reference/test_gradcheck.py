"""Finite-difference helpers: known derivatives, any shape, x restored, the cs231n variants, rel_error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    numerical_gradient,
    rel_error,
)

SHAPES = [(5,), (3, 4), (2, 3, 2, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d", "4d"])
def test_square_gives_twice_x(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    grad = numerical_gradient(lambda a: np.sum(a**2), x)
    assert grad.shape == x.shape
    # (x+h)^2 - (x-h)^2 = 4xh exactly in exact arithmetic: only rounding remains.
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d", "4d"])
def test_x_is_restored_bit_for_bit(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(1).standard_normal(shape) * 1e3
    before = x.copy()
    numerical_gradient(lambda a: np.sum(np.sin(a)), x)
    eval_numerical_gradient(lambda a: np.sum(np.sin(a)), x)
    eval_numerical_gradient_array(np.sin, x, np.ones_like(x))
    np.testing.assert_array_equal(x, before)


def test_x_is_restored_when_f_raises() -> None:
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    before = x.copy()
    calls = 0

    def fails_on_third_call(a: np.ndarray) -> float:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("boom")
        return float(a.sum())

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(fails_on_third_call, x)
    np.testing.assert_array_equal(x, before)


def test_closure_that_ignores_its_argument_sees_the_perturbation() -> None:
    """The book's ``numerical_gradient(lambda W: net.loss(x, t), params['W1'])`` idiom."""
    weights = np.random.default_rng(2).standard_normal((3, 2))
    inputs = np.random.default_rng(3).standard_normal((4, 3))

    def loss(_: np.ndarray) -> float:
        return float(np.sum((inputs @ weights) ** 2))

    grad = numerical_gradient(loss, weights)
    np.testing.assert_allclose(grad, 2 * inputs.T @ (inputs @ weights), rtol=1e-6)


@given(
    x=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3),
        elements=st.floats(-3, 3, allow_nan=False),
    )
)
def test_sine_gradient_any_shape(x: np.ndarray) -> None:
    expected = np.cos(x)
    np.testing.assert_allclose(eval_numerical_gradient(lambda a: np.sum(np.sin(a)), x), expected, atol=1e-7)
    np.testing.assert_allclose(numerical_gradient(lambda a: np.sum(np.sin(a)), x), expected, atol=1e-6)


def test_array_variant_is_the_gradient_of_sum_f_times_df() -> None:
    rng = np.random.default_rng(4)
    x, w, df = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    np.testing.assert_allclose(eval_numerical_gradient_array(lambda a: a @ w, x, df), df @ w.T, rtol=1e-7)
    # 4-D, elementwise: d sum(tanh(x) * df) / dx = (1 - tanh(x)^2) * df.
    x4, df4 = rng.standard_normal((2, 3, 2, 2)), rng.standard_normal((2, 3, 2, 2))
    np.testing.assert_allclose(
        eval_numerical_gradient_array(np.tanh, x4, df4), (1 - np.tanh(x4) ** 2) * df4, rtol=1e-6, atol=1e-9
    )


def test_array_variant_copies_a_reused_output_buffer() -> None:
    """A function returning the same buffer each call must still give the right difference."""
    buffer = np.empty(3)

    def in_place_double(a: np.ndarray) -> np.ndarray:
        np.multiply(a, 2.0, out=buffer)
        return buffer

    x = np.array([1.0, -2.0, 0.5])
    df = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(eval_numerical_gradient_array(in_place_double, x, df), 2 * df, rtol=1e-8)


def test_verbose_prints_each_index(capsys: pytest.CaptureFixture[str]) -> None:
    eval_numerical_gradient(lambda a: float(np.sum(a)), np.zeros((2, 2)), verbose=True)
    assert capsys.readouterr().out.count("\n") == 4


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="floating-point"):
        numerical_gradient(lambda a: float(a.sum()), np.arange(3))
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda a: a * 2, np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        eval_numerical_gradient_array(lambda a: a * 2, np.ones(3), np.ones(4))
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        numerical_gradient(lambda a: float(a.sum()), frozen)


def test_rel_error() -> None:
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.array([0.0, 1.0]), np.array([0.0, 1.1])) == pytest.approx(0.1 / 2.1)
    # The 1e-8 floor: near zero it is an absolute error scaled by 1e8.
    assert rel_error(np.array([0.0]), np.array([1e-10])) == pytest.approx(1e-10 / 1e-8)
    with pytest.raises(ValueError, match="shapes"):
        rel_error(np.ones(2), np.ones(3))
