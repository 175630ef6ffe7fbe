"""The cases of the update rules: what a case holds, the three tiers, the domain, what the cases reach and what
the reference rejects.

A case is ``w`` (the parameter), ``dws`` (a stack of gradients, one per step: the program calls the rule
``len(dws)`` times) and ``config`` (None, as the Solver's first call without ``optim_config``; or a dict with
some hyper-parameters and, sometimes, the state earlier steps left). Gradients come at one of three scales per
case: 1, 1e-2 and 1e-5. On the smallest the root of the squared average is near sqrt(eps), which is where the
placement of eps shows (1e-5 gradients are what a rarely active unit's weights get).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, ErrorCase, NamedCase, Reach
from graders.specs.kit.cases import with_options
from graders.specs.optim.steps import MAX_STEPS
from reference.cs231n.optim import DEFAULTS

#: Per-case gradient scales: ordinary, small, and small enough that eps placement shows.
GRADIENT_SCALES = (1.0, 1e-2, 1e-5)
#: Gradients this small make sqrt(cache) comparable with sqrt(epsilon) (see the module docstring).
SMALL_GRADIENT = 1e-4


@dataclass(frozen=True)
class Rule:
    """What the cases of one update rule need: the hyper-parameters a config may give (values to draw from,
    the range the reference accepts), the state arrays it carries and how to draw them, and its scalar
    state (Adam's t)."""

    name: str
    hyper: Mapping[str, tuple[float, ...]]
    #: state array -> how to build earlier steps' value from a standard normal array of w's shape
    state: Mapping[str, Callable[[np.ndarray], np.ndarray]]
    scalars: tuple[str, ...] = ()

    @property
    def keys(self) -> set[str]:
        return {*self.hyper, *self.state, *self.scalars}


LEARNING_RATES = (1e-2, 1e-3, 1e-1, 5e-4)
MOMENTUM = Rule("sgd_momentum", {"learning_rate": LEARNING_RATES, "momentum": (0.9, 0.5, 0.99)},
                {"velocity": lambda z: 1e-2 * z})
RMSPROP = Rule("rmsprop", {"learning_rate": LEARNING_RATES, "decay_rate": (0.99, 0.9, 0.5), "epsilon": (1e-8, 1e-6)},
               {"cache": lambda z: 1e-2 * z * z})
ADAM = Rule("adam", {"learning_rate": LEARNING_RATES, "beta1": (0.9, 0.5, 0.8), "beta2": (0.999, 0.99, 0.9),
                     "epsilon": (1e-8, 1e-6)},
            {"m": lambda z: 1e-2 * z, "v": lambda z: 1e-4 * z * z}, scalars=("t",))


# ---------------------------------------------------------------- property cases
def cases_of(rule: Rule) -> Callable[[], st.SearchStrategy[Case]]:
    """Property cases of ``rule``: w of 1 to 4 axes (1 to 5 each), 1 to 4 steps, a config that is None or
    gives some hyper-parameters and, sometimes, the state of earlier steps."""
    return lambda: _optimizer_cases(rule)


@st.composite
def _optimizer_cases(draw: st.DrawFn, rule: Rule) -> Case:
    shape = draw(S.shapes_with(draw(st.integers(1, 4)), 1, 5))
    steps = draw(st.integers(1, 4))
    scale = draw(S.one_of_values(GRADIENT_SCALES))
    case: Case = {
        "w": draw(S.seeded_arrays(shape, name="w")),
        "dws": draw(S.seeded_arrays((steps, *shape), scale, name="dws")),
        "config": None,
    }
    if draw(st.booleans()):
        options = {key: draw(st.none() | S.one_of_values(values)) for key, values in rule.hyper.items()}
        config: dict[str, Any] = with_options({}, **options)
        if draw(st.booleans()):
            for key, build in rule.state.items():
                config[key] = build(draw(S.seeded_arrays(shape, name=key)))
            for key in rule.scalars:
                config[key] = draw(st.integers(0, 50))
        case["config"] = config
    return case


# ---------------------------------------------------------------- notebook and scale cases
def _linspace(low: float, high: float) -> np.ndarray:
    """The notebook's test arrays: N, D = 4, 5 evenly spaced values."""
    return np.linspace(low, high, num=20).reshape(4, 5)


def _notebook_inputs() -> tuple[np.ndarray, np.ndarray]:
    return _linspace(-0.4, 0.6), _linspace(-0.6, 0.4)


def _from_defaults(rule: Rule) -> NamedCase:
    """Five steps from config None (the hand-out's defaults), gradients shrinking as training goes."""
    w, dw = _notebook_inputs()
    dws = np.stack([dw * 0.5**k for k in range(5)])
    return NamedCase(f"five {rule.name} steps from config None (the hand-out's defaults), linspace w and dw",
                     {"w": w, "dws": dws, "config": None})


def momentum_notebook() -> list[NamedCase]:
    w, dw = _notebook_inputs()
    case = {"w": w, "dws": dw[None], "config": {"learning_rate": 1e-3, "velocity": _linspace(0.6, 0.9)}}
    return [NamedCase("notebook: sgd_momentum, N, D = 4, 5 linspace, learning_rate 1e-3, given velocity", case),
            _from_defaults(MOMENTUM)]


def rmsprop_notebook() -> list[NamedCase]:
    w, dw = _notebook_inputs()
    case = {"w": w, "dws": dw[None], "config": {"learning_rate": 1e-2, "cache": _linspace(0.6, 0.9)}}
    return [NamedCase("notebook: rmsprop, N, D = 4, 5 linspace, learning_rate 1e-2, given cache", case),
            _from_defaults(RMSPROP)]


def adam_notebook() -> list[NamedCase]:
    w, dw = _notebook_inputs()
    config = {"learning_rate": 1e-2, "m": _linspace(0.6, 0.9), "v": _linspace(0.7, 0.5), "t": 5}
    return [NamedCase("notebook: adam, N, D = 4, 5 linspace, learning_rate 1e-2, given m, v and t = 5",
                      {"w": w, "dws": dw[None], "config": config}),
            _from_defaults(ADAM)]


def scale_of(rule: Rule) -> Callable[[], list[Case]]:
    """A hidden layer's weights (512, 100) for four steps, config giving only the learning rate (what the
    Solver passes as optim_config)."""

    def scale() -> list[Case]:
        seed = 2320 + len(rule.name)
        return [{
            "w": S.standard_normal(seed, (512, 100), 1e-2, name="w"),
            "dws": S.standard_normal(seed, (4, 512, 100), 1e-3, name="dws"),
            "config": {"learning_rate": 1e-3},
        }]

    return scale


# ---------------------------------------------------------------- domain and reach
def domain_of(rule: Rule) -> Callable[[Case], bool]:
    """dws is a stack of 1 to MAX_STEPS gradients of w's shape; config is None or holds only the rule's keys,
    hyper-parameters in range (rates in (0, 1), epsilon > 0), state of w's shape, squared averages >= 0, t a
    count >= 0."""

    def domain(case: Case) -> bool:
        w, dws, config = case["w"], case["dws"], case["config"]
        if dws.ndim != w.ndim + 1 or dws.shape[1:] != w.shape or not 1 <= len(dws) <= MAX_STEPS:
            return False
        if config is None:
            return True
        if not set(config) <= rule.keys or not all(0.0 < config[k] < 1.0 for k in rule.hyper if k in config):
            return False
        if any(np.shape(config[k]) != w.shape for k in rule.state if k in config):
            return False
        squares = [config[k] for k in ("cache", "v") if k in config]
        counts = [config[k] for k in rule.scalars if k in config]
        return all(np.all(s >= 0) for s in squares) and all(isinstance(t, int) and t >= 0 for t in counts)

    return domain


def _given(*keys: str) -> Callable[[Case], bool]:
    return lambda case: case["config"] is not None and all(k in case["config"] for k in keys)


def reaches_of(rule: Rule) -> tuple[Reach, ...]:
    state = tuple(rule.state) + rule.scalars
    return (
        Reach("config None (the hand-out's defaults)", lambda case: case["config"] is None),
        Reach("a config giving every hyper-parameter", _given(*rule.hyper)),
        Reach("a config carrying earlier steps' state", _given(*state)),
        Reach("three steps or more", lambda case: len(case["dws"]) >= 3),
        Reach("small gradients from zero state (where eps placement shows)",
              lambda case: bool(np.max(np.abs(case["dws"])) < SMALL_GRADIENT)
              and not any(_given(k)(case) for k in state)),
    )


# ---------------------------------------------------------------- what the reference rejects
def errors_of(rule: Rule) -> tuple[ErrorCase, ...]:
    """A gradient or a state array of another shape than w; a rate of 1; and the rule's own impossible
    states (a negative squared average, a negative step count)."""
    w, dw = _notebook_inputs()
    key = next(iter(rule.state))
    rate = next(k for k in rule.hyper if k != "learning_rate")
    errors = [
        ErrorCase("dw of another shape than w", {"w": w, "dws": dw.T[None], "config": None}, ValueError,
                  r"dw has shape \(5, 4\), but w has shape \(4, 5\)"),
        ErrorCase(f"{key} of another shape than w", {"w": w, "dws": dw[None], "config": {key: np.zeros(5)}},
                  ValueError, rf"{key} has shape \(5,\), but w has shape \(4, 5\)"),
        ErrorCase(f"{rate} = 1", {"w": w, "dws": dw[None], "config": {rate: 1.0}}, ValueError,
                  rf"{rate} must lie in \[0, 1\)"),
    ]
    squared = next((k for k in ("cache", "v") if k in rule.state), None)
    if squared is not None:
        negative = {"w": w, "dws": dw[None], "config": {squared: -np.ones((4, 5))}}
        errors.append(ErrorCase(f"a negative {squared}", negative, ValueError, "cannot be negative"))
    if rule.scalars:
        errors.append(ErrorCase("a negative step count t", {"w": w, "dws": dw[None], "config": {"t": -1}},
                                ValueError, "t counts the steps"))
    return tuple(errors)


def hyper_parameters(rule: Rule, config: Mapping[str, Any] | None) -> dict[str, float]:
    """The hyper-parameters a step runs with: the config's over the hand-out's defaults."""
    given = config or {}
    return {key: float(given.get(key, default)) for key, default in DEFAULTS[rule.name].items()}
