"""The rules of cs231n's dropout that are not the kit's mask rules (graders/specs/kit/masks.py), and its
robustness checks.

  keep_rate     the kept count within the binomial tail bounds of size * keep (the kit's rule, with the
                meaning of p said in words);
  scale         every kept unit is x / keep exactly (inverted dropout), every other 0; a case where no unit
                was kept passes when a correct mask keeps nothing there often enough (a small case), so the
                rule never fails correct code on the small property cases;
  same_seed     two calls with the same dropout_param (same seed) give the same output;
  equals        test mode returns x (forward) and passes dout through (backward);
  any_shape     a 4-D x, judged by the check ``shape`` (no points on the 2-D main cases), so that a dropout
                written for 2-D input loses that check alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from graders.specs.base import Case, Check, CompareFn, Robustness, Verdict
from graders.specs.dropout.cases import PIs, any_shape_cases, keep_probability, small_any_shape_cases
from graders.specs.kit.masks import keep_count_rule, nothing_kept, shape_rule
from graders.specs.kit.rules import array_of_shape, compare_arrays


def keep_rate_rule(p_is: PIs) -> CompareFn:
    def meaning(case: Case) -> str:
        return f"dropout_param['p'] = {case['dropout_param']['p']:.4g} ({p_is} probability)"

    return keep_count_rule(lambda case: keep_probability(case, p_is), meaning)


def two_seeds(case: Case) -> str:
    """How the two masks of seed_varies were drawn, for its message."""
    return (f"dropout_param with seed {case['dropout_param'].get('seed')} and with seed "
            f"{case['other_param'].get('seed')}")


def scale_rule(p_is: PIs) -> CompareFn:
    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        out = array_of_shape(actual, "out", case["x"].shape)
        if isinstance(out, Verdict):
            return out
        kept = out != 0
        keep = keep_probability(case, p_is)
        none = nothing_kept(kept, keep)
        if none is not None:
            return none
        want = 1.0 / keep
        ratio = out[kept] / case["x"][kept]
        wrong = ~np.isclose(ratio, want, rtol=check.rtol, atol=check.atol)
        if not np.any(wrong):
            return Verdict(True)
        index = tuple(int(i) for i in np.argwhere(kept)[int(np.argmax(wrong))])
        return Verdict(
            False,
            f"kept units must be x / keep = x * {want:.6g} (inverted dropout); at index {index} out / x = "
            f"{ratio[np.argmax(wrong)]:.6g} ({int(wrong.sum())} of {int(kept.sum())} kept units differ)",
        )

    return compare


def same_seed_rule(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
    first = array_of_shape(actual, "out", case["x"].shape)
    second = array_of_shape(actual, "out_again", case["x"].shape)
    if isinstance(first, Verdict):
        return first
    if isinstance(second, Verdict):
        return second
    if np.array_equal(first, second, equal_nan=True):
        return Verdict(True)
    seed = case["dropout_param"].get("seed")
    return Verdict(
        False,
        f"two calls with the same dropout_param (seed {seed}) gave different outputs: when dropout_param "
        "has a 'seed', seed the mask with it (np.random.seed(dropout_param['seed']))",
    )


def equals_rule(name: str, reference: str) -> CompareFn:
    """``actual[name]`` equals the case input ``reference`` (test mode is the identity)."""

    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        return compare_arrays(name, actual.get(name), case[reference], check.atol, check.rtol)

    return compare


def shape_check(*outputs: str, description: str) -> Check:
    """The check ``shape``: no points on the 2-D main cases, judged on a 4-D x by robust:any_shape."""
    return Check("shape", points=0.0, compare=shape_rule(outputs), description=description)


FORWARD_ANY_SHAPE = Robustness(
    "any_shape",
    "runs on a 4-D x (N, C, H, W) and returns x's shape, as on the hand-out's 2-D x",
    "dropout_forward should accept x of any shape, as its docstring says: on a 4-D x it raised or returned an "
    "array of another shape. Draw the mask with x's own shape (np.random.rand(*x.shape) < p) rather than "
    "unpacking N, D = x.shape.",
    cases=any_shape_cases,
    checks=("shape",),
)
BACKWARD_ANY_SHAPE = Robustness(
    "any_shape",
    "runs on a 4-D dout (N, C, H, W) and returns dout's shape, as on the hand-out's 2-D dout",
    "dropout_backward should accept dout of any shape, as dropout_forward's docstring says: on a 4-D dout it "
    "raised or returned the wrong shape. Multiply dout by the cached mask as it is, without reshaping.",
    cases=small_any_shape_cases,
    checks=("shape",),
)
