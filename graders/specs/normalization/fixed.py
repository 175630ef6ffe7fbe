"""The normalisation layers' fixed cases: the notebook's own checks, realistic sizes, and inputs to reject.

Notebook cases rebuild the hand-out notebook's inputs with its generator (``np.random.seed(231)``), named so
a report can say which one failed. Scale cases: N = 64 and D = 100, and (8, 16, 16, 16) images. Those of the
backwards use a large spread (std 200 .. 600) with the default eps, so an eps slip stays below the checks'
tolerances there: these cases are too large for the finite differences of the student's forward
(OwnGradient.max_entries), and they are there for size-dependent bugs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graders.specs import strategies as S
from graders.specs.base import Case, ErrorCase, NamedCase

NOTEBOOK_SEED = 231
#: Per-feature std of the forwards' scale cases: activations of a realistic size.
FORWARD_SPREAD = (1.0, 10.0)
#: Per-feature std of the backwards' scale cases: with the default eps, an eps slip (eps left out, eps outside
#: the square root: eps / std <= 5e-8) changes their values by less than the checks' tolerances (rtol 1e-7 for
#: dgamma). Without this, a backward that is the exact gradient of a forward with such a slip would lose its
#: points here for the forward's bug.
BACKWARD_SPREAD = (200.0, 600.0)
SCALE_SEED = 2310
TO_TEST = {"mode": "test"}


# ---------------------------------------------------------------- notebook
def _notebook_activations(rng: np.random.RandomState, batches: int) -> np.ndarray:
    """The notebook's batch-norm inputs: relu(X W1) W2 for X (200, 50), W1 (50, 60), W2 (60, 3)."""
    w1, w2 = rng.randn(50, 60), rng.randn(60, 3)
    return np.stack([np.maximum(0, rng.randn(200, 50) @ w1) @ w2 for _ in range(batches)])


def batchnorm_forward_notebook() -> list[NamedCase]:
    activations = _notebook_activations(np.random.RandomState(NOTEBOOK_SEED), 6)
    return [NamedCase(
        "notebook: batchnorm_forward, 5 train batches then a test batch of relu(X W1) W2, N=200 D=3, seed 231",
        {"xs": activations[:5], "x_test": activations[5], "gamma": np.array([1.0, 2.0, 3.0]),
         "beta": np.array([11.0, 12.0, 13.0]), "bn_param": {"mode": "train"}, "to_test": dict(TO_TEST)},
    )]


def spatial_batchnorm_forward_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(NOTEBOOK_SEED)
    xs = 4 * rng.randn(3, 2, 3, 4, 5) + 10
    return [NamedCase(
        "notebook: spatial_batchnorm_forward, 3 train batches then a test batch of 4 randn + 10, "
        "N=2 C=3 H=4 W=5, seed 231",
        {"xs": xs, "x_test": 4 * rng.randn(2, 3, 4, 5) + 10, "gamma": np.array([3.0, 4.0, 5.0]),
         "beta": np.array([6.0, 7.0, 8.0]), "bn_param": {"mode": "train"}, "to_test": dict(TO_TEST)},
    )]


def _gradient_check(shape: tuple[int, ...], param_shape: tuple[int, ...]) -> Case:
    """The notebook's gradient-check inputs: x = 5 * randn + 12, gaussian gamma, beta and dout (seed 231)."""
    rng = np.random.RandomState(NOTEBOOK_SEED)
    return {"x": 5 * rng.randn(*shape) + 12, "gamma": rng.randn(*param_shape), "beta": rng.randn(*param_shape),
            "dout": rng.randn(*shape)}


def batchnorm_backward_notebook() -> list[NamedCase]:
    return [NamedCase("notebook: batchnorm gradient check, x = 5 randn + 12, N=4 D=5, seed 231",
                      {**_gradient_check((4, 5), (5,)), "bn_param": {"mode": "train"}})]


def spatial_batchnorm_backward_notebook() -> list[NamedCase]:
    return [NamedCase("notebook: spatial batchnorm gradient check, x = 5 randn + 12, N=2 C=3 H=4 W=5, seed 231",
                      {**_gradient_check((2, 3, 4, 5), (3,)), "bn_param": {"mode": "train"}})]


def layernorm_notebook() -> list[NamedCase]:
    return [NamedCase("notebook: layernorm gradient check, x = 5 randn + 12, N=4 D=5, seed 231",
                      {**_gradient_check((4, 5), (5,)), "ln_param": {}})]


def groupnorm_notebook() -> list[NamedCase]:
    return [NamedCase("notebook: groupnorm gradient check, x = 5 randn + 12, N=2 C=6 H=4 W=5, G=2, seed 231",
                      {**_gradient_check((2, 6, 4, 5), (1, 6, 1, 1)), "G": 2, "gn_param": {}})]


# ---------------------------------------------------------------- scale (realistic sizes)
def _spread(seed: int, shape: tuple[int, ...], axis: int, spread: tuple[float, float], name: str) -> np.ndarray:
    """Gaussian values of ``shape`` with a std drawn from ``spread`` and a shift from [-10, 10] per index along
    ``axis`` (per feature, channel or example: whatever the layer normalises separately). The std and shift
    depend on the seed only, so batches drawn under other names share their features' scales."""
    size = shape[axis]
    layout = [1] * len(shape)
    layout[axis] = size
    rng = np.random.default_rng(seed)
    std = rng.uniform(*spread, size=size).reshape(layout)
    shift = rng.uniform(-10.0, 10.0, size=size).reshape(layout)
    return std * S.standard_normal(seed, shape, name=name) + shift


def _affine(seed: int, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    return {"gamma": 1.0 + S.standard_normal(seed, shape, 0.5, name="gamma"),
            "beta": S.standard_normal(seed, shape, name="beta")}


def _image_or_rows(spatial: bool) -> tuple[int, ...]:
    return (8, 16, 16, 16) if spatial else (64, 100)


def batchnorm_forward_scale(spatial: bool) -> list[Case]:
    """Three train batches and a test batch: (64, 100), or (8, 16, 16, 16) images for spatial batch norm."""
    shape = _image_or_rows(spatial)
    return [{
        "xs": np.stack([_spread(SCALE_SEED, shape, 1, FORWARD_SPREAD, f"xs[{t}]") for t in range(3)]),
        "x_test": _spread(SCALE_SEED, shape, 1, FORWARD_SPREAD, "x_test"),
        **_affine(SCALE_SEED, (shape[1],)),
        "bn_param": {"mode": "train"},
        "to_test": dict(TO_TEST),
    }]


def batchnorm_backward_scale(spatial: bool) -> list[Case]:
    seed, shape = SCALE_SEED + 1, _image_or_rows(spatial)
    return [{"x": _spread(seed, shape, 1, BACKWARD_SPREAD, "x"), **_affine(seed, (shape[1],)),
             "bn_param": {"mode": "train"}, "dout": S.standard_normal(seed, shape, name="dout")}]


def layernorm_scale(spread: tuple[float, float]) -> Callable[[], list[Case]]:
    """(64, 100): every example (row) with its own spread."""

    def cases() -> list[Case]:
        seed, shape = SCALE_SEED + 2, (64, 100)
        return [{"x": _spread(seed, shape, 0, spread, "x"), **_affine(seed, (100,)), "ln_param": {},
                 "dout": S.standard_normal(seed, shape, name="dout")}]

    return cases


def groupnorm_scale(spread: tuple[float, float]) -> Callable[[], list[Case]]:
    """(8, 16, 16, 16) in 4 groups of 4 channels, every channel with its own spread."""

    def cases() -> list[Case]:
        seed, shape = SCALE_SEED + 3, (8, 16, 16, 16)
        return [{"x": _spread(seed, shape, 1, spread, "x"), **_affine(seed, (1, 16, 1, 1)), "G": 4, "gn_param": {},
                 "dout": S.standard_normal(seed, shape, name="dout")}]

    return cases


# ---------------------------------------------------------------- inputs the reference rejects
def _batchnorm_forward_case(spatial: bool, **changes: Any) -> Case:
    """A whole forward case (4 features or channels) with ``changes`` applied."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 3, 3) if spatial else (5, 4))
    return {"xs": x[None], "x_test": x, "gamma": np.ones(4), "beta": np.zeros(4), "bn_param": {"mode": "train"},
            "to_test": dict(TO_TEST), **changes}


def batchnorm_forward_errors(spatial: bool) -> tuple[ErrorCase, ...]:
    return (
        ErrorCase("gamma of the wrong shape", _batchnorm_forward_case(spatial, gamma=np.ones(3)), ValueError,
                  r"gamma must have shape \(4,\).*got shape \(3,\)"),
        ErrorCase("bn_param['mode'] neither 'train' nor 'test'",
                  _batchnorm_forward_case(spatial, bn_param={"mode": "eval"}), ValueError,
                  r"bn_param\['mode'\] must be 'train' or 'test', got 'eval'", handout_raises=True),
        ErrorCase("running statistics of the wrong shape",
                  _batchnorm_forward_case(spatial, bn_param={"mode": "train", "running_mean": np.zeros(3)}),
                  ValueError, r"bn_param\['running_mean'\] has shape \(3,\), expected \(4,\)"),
    )


def batchnorm_backward_errors(spatial: bool) -> tuple[ErrorCase, ...]:
    """A backward given the cache of a test-mode forward (the case's bn_param in test mode)."""
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 3) if spatial else (5, 4))
    case = {"x": x, "gamma": np.ones(4), "beta": np.zeros(4), "bn_param": {"mode": "test"}, "dout": np.ones(x.shape)}
    return (ErrorCase("the cache of a test-mode forward", case, ValueError, "train-mode forward"),)


def layernorm_errors() -> tuple[ErrorCase, ...]:
    x = np.random.default_rng(0).standard_normal((5, 4))
    case = {"x": x, "gamma": np.ones(4), "beta": np.zeros((1, 4)), "ln_param": {}, "dout": np.ones(x.shape)}
    return (ErrorCase("beta of shape (1, D)", case, ValueError, r"beta must have shape \(4,\)"),)


def groupnorm_errors() -> tuple[ErrorCase, ...]:
    x = np.random.default_rng(0).standard_normal((2, 6, 3, 3))
    affine = {"gamma": np.ones((1, 6, 1, 1)), "beta": np.zeros((1, 6, 1, 1))}
    case = {"x": x, **affine, "G": 2, "gn_param": {}, "dout": np.ones(x.shape)}
    return (
        ErrorCase("gamma of shape (C,)", {**case, "gamma": np.ones(6)}, ValueError,
                  r"gamma must have shape \(1, 6, 1, 1\)"),
        ErrorCase("G not dividing C", {**case, "G": 4}, ValueError, "G=4 must be a positive divisor of C=6"),
    )
