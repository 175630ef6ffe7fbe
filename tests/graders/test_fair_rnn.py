"""Fair verdicts for rnn_layers.py's backwards: one bug costs points once.

The hand-out leaves a recurrent layer's cache to the student, so a backward whose gradients differ from the
reference's is re-judged against finite differences of the student's own forward (OwnGradient). An LSTM step has
two outputs: the scalar differentiated must weight next_h by dnext_h and next_c by dnext_c, or a right backward
fails and a backward that ignores dnext_c passes. The students here are the reference with a small slip in the
forward (every pre-activation shifted by 1e-3): its backward, the reference's on that forward's cache, is the
exact gradient of the slipped forward.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from graders.backward import OWN_FORWARD
from graders.sandbox.inprocess import run_case
from graders.specs import registry
from graders.specs.base import CaseRun
from reference.cs231n import rnn_layers as R

SLIP = 1e-3


def student(**functions: Callable[..., Any]) -> dict[str, Any]:
    """The reference's rnn_layers with every forward's pre-activation shifted by SLIP, and ``functions``
    replacing some of it."""
    module = types.SimpleNamespace(
        rnn_step_forward=lambda x, h, Wx, Wh, b: R.rnn_step_forward(x, h, Wx, Wh, b + SLIP),
        rnn_step_backward=R.rnn_step_backward,
        rnn_forward=lambda x, h0, Wx, Wh, b: R.rnn_forward(x, h0, Wx, Wh, b + SLIP),
        rnn_backward=R.rnn_backward,
        lstm_step_forward=lambda x, h, c, Wx, Wh, b: R.lstm_step_forward(x, h, c, Wx, Wh, b + SLIP),
        lstm_step_backward=R.lstm_step_backward,
        lstm_forward=lambda x, h0, Wx, Wh, b: R.lstm_forward(x, h0, Wx, Wh, b + SLIP),
        lstm_backward=R.lstm_backward,
    )
    for name, fn in functions.items():
        setattr(module, name, fn)
    return {"rnn_layers": module}


def runs(name: str, modules: dict[str, Any]) -> list[CaseRun]:
    spec = registry.get(name)
    return [run_case(spec, copy.deepcopy(case), modules) for case in spec.fixed_cases()]


def failures(found: Sequence[CaseRun]) -> list[str]:
    return [f"{n}: {v.message}" for r in found for n, v in r.verdicts.items() if not v.passed]


@pytest.mark.parametrize("name", ["rnn_step_backward", "rnn_backward", "lstm_step_backward", "lstm_backward"])
def test_a_forward_slip_costs_the_backward_nothing(name: str) -> None:
    found = runs(name, student())
    assert not failures(found), failures(found)
    assert any(OWN_FORWARD in r.judged_by.values() for r in found), "the slip should need the second chance"


@pytest.mark.parametrize("name", ["rnn_step_forward", "lstm_step_forward", "rnn_forward", "lstm_forward"])
def test_the_slipped_forward_loses_its_points(name: str) -> None:
    assert failures(runs(name, student()))


def test_an_lstm_step_backward_that_ignores_dnext_c_fails_against_its_own_forward() -> None:
    """The finite differences weight next_c by dnext_c: dropping it is not the gradient of the forward."""
    ignoring = student(lstm_step_backward=lambda dh, dc, cache: R.lstm_step_backward(dh, np.zeros_like(dc), cache))
    found = runs("lstm_step_backward", ignoring)
    assert failures(found)
    assert not any(r.judged_by for r in found)


def test_a_wrong_rnn_step_backward_is_not_rescued_by_its_forward() -> None:
    def linear_tanh(dnext_h: np.ndarray, cache: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
        x, prev_h, Wx, Wh, next_h = cache
        return R.rnn_step_backward(dnext_h * (1 - next_h) / (1 - next_h ** 2), cache)

    found = runs("rnn_step_backward", student(rnn_step_backward=linear_tanh))
    assert {name for r in found for name, v in r.verdicts.items() if not v.passed} >= {"dx", "dWx"}


@pytest.mark.parametrize("name", ["rnn_step_backward", "rnn_backward", "lstm_step_backward", "lstm_backward"])
def test_the_notebook_gradients_fit_the_finite_difference_budget(name: str) -> None:
    """Every gradient of the notebook's cases is re-judged (they fit OwnGradient.max_entries together); no
    LSTM gradient of the scale tier is (its forwards' caches would take about a gigabyte in one request)."""
    spec = registry.get(name)
    assert spec.own_gradient is not None
    for case in spec.fixed_cases():
        sizes = [np.size(case[source]) for source in spec.own_gradient.wrt.values()]
        assert sum(sizes) <= spec.own_gradient.max_entries, sizes
    if name.startswith("lstm"):
        for case in spec.scale_cases():
            sizes = [np.size(case[source]) for source in spec.own_gradient.wrt.values()]
            assert min(sizes) > spec.own_gradient.max_entries, sizes
