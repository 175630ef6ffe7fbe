"""The reference update rules against the hand-out notebook's own printed answers (FullyConnectedNets.ipynb,
2019+; the same numbers since 2016), and the facts the specs rely on: defaults, state carried across calls,
the caller's config left as it was, and torch's momentum buffer equal to -velocity / lr.

The notebook's criterion is cs231n's rel_error below about 1e-8 on answers printed to 8 decimals; here each entry
must agree to the printing's own precision (half a unit in the 8th decimal).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from graders.specs.optim.torch import momentum_torch
from reference.cs231n import optim as R

N, D = 4, 5
Rule = Callable[[np.ndarray, np.ndarray, Any], tuple[np.ndarray, dict[str, Any]]]


def linspace(low: float, high: float) -> np.ndarray:
    return np.linspace(low, high, num=N * D).reshape(N, D)


W, DW = linspace(-0.4, 0.6), linspace(-0.6, 0.4)


def assert_printed(actual: np.ndarray, printed: list[list[float]]) -> None:
    np.testing.assert_allclose(actual, np.asarray(printed), rtol=0, atol=5.000001e-9)


def test_sgd_momentum_matches_the_notebook() -> None:
    next_w, config = R.sgd_momentum(W, DW, {"learning_rate": 1e-3, "velocity": linspace(0.6, 0.9)})
    assert_printed(next_w, [
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    assert_printed(config["velocity"], [
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])


def test_rmsprop_matches_the_notebook() -> None:
    next_w, config = R.rmsprop(W, DW, {"learning_rate": 1e-2, "cache": linspace(0.6, 0.9)})
    assert_printed(next_w, [
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    assert_printed(config["cache"], [
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])


def test_adam_matches_the_notebook() -> None:
    given: dict[str, Any] = {"learning_rate": 1e-2, "m": linspace(0.6, 0.9), "v": linspace(0.7, 0.5), "t": 5}
    next_w, config = R.adam(W, DW, given)
    assert_printed(next_w, [
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    assert_printed(config["v"], [
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    assert_printed(config["m"], [
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    assert config["t"] == 6


def test_adam_advancing_t_after_the_correction_misses_the_notebook() -> None:
    """The notebook's check tells the two orders apart (the 2019 skeleton's NOTE exists for this)."""
    config = {"learning_rate": 1e-2, "m": linspace(0.6, 0.9), "v": linspace(0.7, 0.5), "t": 4}
    next_w, _ = R.adam(W, DW, config)  # t = 4 advanced to 5: what "t after" computes from t = 5
    assert not np.allclose(next_w[0, 0], -0.40094747, rtol=1e-6)


@pytest.mark.parametrize("rule, defaults, state", [
    (R.sgd_momentum, {"learning_rate": 1e-2, "momentum": 0.9}, {"velocity"}),
    (R.rmsprop, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}, {"cache"}),
    (R.adam, {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}, {"m", "v", "t"}),
])
def test_defaults_are_filled_in_and_returned(rule: Rule, defaults: dict[str, float], state: set[str]) -> None:
    _, config = rule(W, DW, None)
    assert {k: config[k] for k in defaults} == defaults
    assert set(config) == set(defaults) | state


@pytest.mark.parametrize("rule", [R.sgd_momentum, R.rmsprop, R.adam])
def test_the_callers_config_and_arrays_are_left_as_they_were(rule: Rule) -> None:
    config = {"learning_rate": 1e-3}
    w, dw = W.copy(), DW.copy()
    _, returned = rule(w, dw, config)
    assert config == {"learning_rate": 1e-3} and returned is not config
    np.testing.assert_array_equal(w, W)
    np.testing.assert_array_equal(dw, DW)


def test_state_is_carried_across_calls() -> None:
    """Two calls through the returned config equal Adam written out over two steps."""
    w1, config = R.adam(W, DW, None)
    w2, config = R.adam(w1, 0.5 * DW, config)
    m1, v1 = 0.1 * DW, 0.001 * DW**2
    m2, v2 = 0.9 * m1 + 0.1 * 0.5 * DW, 0.999 * v1 + 0.001 * 0.25 * DW**2
    expected = w1 - 1e-3 * (m2 / (1 - 0.9**2)) / (np.sqrt(v2 / (1 - 0.999**2)) + 1e-8)
    np.testing.assert_allclose(w2, expected, rtol=1e-12)
    assert config["t"] == 2


def test_torch_momentum_buffer_is_minus_velocity_over_lr() -> None:
    """With a constant learning rate, torch.optim.SGD's buffer convention gives cs231n's parameters, from zero
    velocity and from a given one."""
    dws = np.stack([DW, -0.3 * DW, 2.0 * DW])
    given: dict[str, Any] = {"learning_rate": 0.05, "momentum": 0.8, "velocity": linspace(-0.1, 0.2)}
    for config in (None, given):
        theirs = momentum_torch({"w": W, "dws": dws, "config": copy.deepcopy(config)})
        w: np.ndarray = W
        c: Any = config
        for k, dw in enumerate(dws, 1):
            w, c = R.sgd_momentum(w, dw, c)
            suffix = "" if k == 1 else f"_{k}"
            np.testing.assert_allclose(theirs["next_w" + suffix], w, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(theirs["velocity" + suffix], c["velocity"], rtol=1e-12, atol=1e-14)
