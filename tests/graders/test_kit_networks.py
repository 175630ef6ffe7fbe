"""The network specs' shared rules (graders/specs/kit/networks.py): what __init__ made, judged by ``InitRule``
(names, shapes, starting values, the weights' spread weight by weight or pooled), and a returned dict of
gradients judged entry by entry, each in the words of the spec that uses it."""

from __future__ import annotations

import numpy as np
import pytest

from graders.specs.base import Check
from graders.specs.kit.networks import NOT_PRODUCED, InitRule, compare_entries, scale_argument
from graders.specs.kit.tolerances import NORMALISED_GRADIENTS

RNG = np.random.default_rng(5)
CHECK = Check("init", tol=NORMALISED_GRADIENTS)
#: A reference's init net: two weights of 0.01 * randn (600 and 400 entries), zero biases, a gamma of ones.
EXPECTED = {"init_W1": 0.01 * RNG.standard_normal((30, 20)), "init_b1": np.zeros(20),
            "init_gamma1": np.ones(20), "init_W2": 0.01 * RNG.standard_normal((20, 20)), "init_b2": np.zeros(20)}
CASE = {"weight_scale": 0.01}
STARTS = {"b": 0.0, "gamma": 1.0}


def per_weight(names: tuple[str, ...] | None = None, say_all: bool = False,
               made_no: str = "__init__ made no self.params[{name!r}]") -> InitRule:
    return InitRule(names=names, starts=STARTS, spread=scale_argument("weight_scale", rtol=0.15), made_no=made_no,
                    say_all=say_all)


def test_the_reference_passes_and_each_slip_is_said_at_its_parameter() -> None:
    rule = per_weight()
    assert rule(CASE, dict(EXPECTED), EXPECTED, CHECK).passed
    missing = rule(CASE, {k: v for k, v in EXPECTED.items() if k != "init_b2"}, EXPECTED, CHECK)
    assert not missing.passed and missing.message == "__init__ made no self.params['b2']"
    shape = rule(CASE, {**EXPECTED, "init_W2": np.zeros((21, 20))}, EXPECTED, CHECK)
    assert not shape.passed and "self.params['W2']" in shape.message and "(21, 20)" in shape.message
    gamma = rule(CASE, {**EXPECTED, "init_gamma1": np.zeros(20)}, EXPECTED, CHECK)
    assert gamma.message == "__init__: self.params['gamma1'] should start as ones"
    spread = rule(CASE, {**EXPECTED, "init_W1": 3 * EXPECTED["init_W1"]}, EXPECTED, CHECK)
    assert not spread.passed and spread.message.startswith("__init__: self.params['W1'] has standard deviation 0.0")
    assert spread.message.endswith("expected weight_scale = 0.01 (weight_scale * np.random.randn(...))")


def test_names_fix_the_order_judged_and_the_words_are_the_specs() -> None:
    both_wrong = {**EXPECTED, "init_b1": np.ones(20), "init_W1": None}
    assert per_weight()(CASE, both_wrong, EXPECTED, CHECK).message == "__init__ made no self.params['W1']"
    ordered = per_weight(names=("b1", "W1"), say_all=True, made_no="no {name!r} with use_batchnorm=True")
    assert ordered(CASE, both_wrong, EXPECTED, CHECK).message == "__init__: self.params['b1'] should start as all zeros"
    assert ordered(CASE, {**EXPECTED, "init_b1": None}, EXPECTED, CHECK).message == "no 'b1' with use_batchnorm=True"


def test_a_pooled_spread_judges_the_weights_together() -> None:
    pooled = InitRule(starts=STARTS, spread=scale_argument("weight_scale", rtol=0.15, pooled=True))
    # W1 a little wide and W2 a little narrow: off one by one, right together
    skewed = {**EXPECTED, "init_W1": 1.2 * EXPECTED["init_W1"], "init_W2": 0.75 * EXPECTED["init_W2"]}
    assert not per_weight()(CASE, skewed, EXPECTED, CHECK).passed
    assert pooled(CASE, skewed, EXPECTED, CHECK).passed
    wide = pooled(CASE, {**EXPECTED, "init_W1": 2 * EXPECTED["init_W1"]}, EXPECTED, CHECK)
    assert not wide.passed and wide.message.startswith("__init__: the weights' standard deviation is 0.0")


@pytest.mark.parametrize(("names", "first"), [(None, "dW"), (("db", "dW"), "db")])
def test_entries_are_judged_in_order_and_a_missing_one_in_the_specs_words(names: tuple[str, ...] | None,
                                                                         first: str) -> None:
    expected = {"grad_dW": np.ones(3), "grad_db": np.zeros(2), "loss": 1.0}
    check = Check("grads", tol=NORMALISED_GRADIENTS)
    assert compare_entries(dict(expected), expected, check, "grad_", names).passed
    both_off = {"grad_dW": 2 * np.ones(3), "grad_db": np.ones(2)}
    assert f"grad_{first}" in compare_entries(both_off, expected, check, "grad_", names).message
    missing = compare_entries({"grad_dW": np.ones(3)}, expected, check, "grad_", names, NOT_PRODUCED)
    assert missing.message == "grads['db'] was not produced"
