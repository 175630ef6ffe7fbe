"""cs231n assignment 2 ``optim.py``: the hand-out's update rules, ``next_w, config = rule(w, dw, config=None)``.

Every rule fills the hand-out's defaults into the config, carries its state (velocity, cache, m, v, t) from one
call to the next through the returned config, and returns ``(next_w, config)``, as ``Solver._step`` expects:
it stores the returned config and passes it to the next call. The math is reference.functional.optim's.

Defaults (2019+ hand-out, unchanged since 2016): sgd learning_rate 1e-2; sgd_momentum learning_rate 1e-2,
momentum 0.9, velocity zeros; rmsprop learning_rate 1e-2, decay_rate 0.99, epsilon 1e-8, cache zeros; adam
learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8, m and v zeros, t 0, with t advanced before the bias
correction (the 2019 skeleton says so in a NOTE; the 2016-17 notebooks' expected values already assume it).

The hand-out's skeleton writes the defaults and the state into the caller's dict and returns that same dict;
these return a new dict and leave the caller's as it was (a trusted reference never writes into its inputs).
Both behave alike in a training loop, which only ever uses the returned config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reference.functional import optim as O

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "DEFAULTS"]

#: The hand-out's hyper-parameter defaults per rule (the state defaults are zeros of w's shape, and t = 0).
DEFAULTS: dict[str, dict[str, float]] = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}


def _filled(rule: str, config: Mapping[str, Any] | None) -> dict[str, Any]:
    """A new config: the caller's entries over the rule's defaults."""
    return {**DEFAULTS[rule], **(dict(config) if config is not None else {})}


def _hyper(rule: str, config: Mapping[str, Any]) -> dict[str, float]:
    return {name: float(config[name]) for name in DEFAULTS[rule]}


def sgd(w: np.ndarray, dw: np.ndarray, config: Mapping[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Vanilla stochastic gradient descent: ``w - learning_rate * dw``."""
    config = _filled("sgd", config)
    return O.sgd_step(w, dw, **_hyper("sgd", config)), config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: Mapping[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """SGD with momentum; the state is ``config['velocity']`` (zeros of w's shape when absent)."""
    config = _filled("sgd_momentum", config)
    velocity = config.get("velocity", np.zeros_like(w))
    next_w, config["velocity"] = O.momentum_step(w, dw, velocity, **_hyper("sgd_momentum", config))
    return next_w, config


def rmsprop(
    w: np.ndarray, dw: np.ndarray, config: Mapping[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """RMSProp; the state is ``config['cache']``, the moving average of squared gradients."""
    config = _filled("rmsprop", config)
    cache = config.get("cache", np.zeros_like(w))
    next_w, config["cache"] = O.rmsprop_step(w, dw, cache, **_hyper("rmsprop", config))
    return next_w, config


def adam(w: np.ndarray, dw: np.ndarray, config: Mapping[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Adam; the state is ``config['m']``, ``config['v']`` (uncorrected moments) and ``config['t']`` (steps
    taken, advanced before the bias correction)."""
    config = _filled("adam", config)
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    t = config.get("t", 0)
    next_w, config["m"], config["v"], config["t"] = O.adam_step(w, dw, m, v, t, **_hyper("adam", config))
    return next_w, config
