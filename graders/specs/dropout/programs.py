"""What the worker runs for a dropout case, and the reference's answers to it.

The forward calls dropout_forward four times (train mode twice with the same dropout_param, once with another
seed, then test mode). The backward runs the student's own forward as a setup step (when it raises, the case
says nothing about the backward) and passes its cache to dropout_backward, in both modes. No hand-out cache
is tried: the starter code's ``(dropout_param, mask)`` leaves open whether ``mask`` holds the 1 / p, so a
backward right for one reading would be wrong for the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graders.specs.base import Case
from graders.specs.dropout.cases import PIs
from graders.specs.program import Input, Item, Program, Result, as_setup, call
from reference import cs231n as R

#: The forward's train-mode outputs: the first call, the same dropout_param again, another seed.
TRAIN_OUTPUTS = ("out", "out_again", "out_other")
#: The forward's calls in order: step, output, the dropout_param it is given.
_FORWARD_CALLS = (("train", "out", "dropout_param"), ("again", "out_again", "dropout_param"),
                  ("other", "out_other", "other_param"), ("test", "out_test", "test_param"))


def forward_calls(case: Case) -> Program:
    """Train mode twice with the same dropout_param (same seed), once with another seed, then test mode."""
    return Program(
        steps=tuple(call(step, "layers", "dropout_forward", Input("x"), Input(param))
                    for step, _, param in _FORWARD_CALLS),
        outputs={output: Item(Result(step), 0) for step, output, _ in _FORWARD_CALLS},
    )


def backward_calls(case: Case) -> Program:
    """The student's backward through their own train-mode and test-mode forward caches."""
    return Program(
        steps=(
            as_setup(call("train", "layers", "dropout_forward", Input("x"), Input("dropout_param"))),
            call("bwd", "layers", "dropout_backward", Input("dout"), Item(Result("train"), 1)),
            as_setup(call("test", "layers", "dropout_forward", Input("x"), Input("test_param"))),
            call("bwd_test", "layers", "dropout_backward", Input("dout"), Item(Result("test"), 1)),
        ),
        outputs={"out": Item(Result("train"), 0), "dx": Result("bwd"), "dx_test": Result("bwd_test")},
    )


def as_keep(param: Mapping[str, Any], p_is: PIs) -> dict[str, Any]:
    """The hand-out's dropout_param in the reference's convention (p = keep probability)."""
    return {**param, "p": param["p"] if p_is == "keep" else 1.0 - param["p"]}


def forward_reference(p_is: PIs) -> Callable[[Case], dict[str, Any]]:
    """The reference's outputs of :func:`forward_calls`."""

    def expected(case: Case) -> dict[str, Any]:
        return {output: R.dropout_forward(case["x"], as_keep(case[param], p_is))[0]
                for _, output, param in _FORWARD_CALLS}

    return expected


def backward_reference(p_is: PIs) -> Callable[[Case], dict[str, Any]]:
    """The reference's outputs of :func:`backward_calls`."""

    def expected(case: Case) -> dict[str, Any]:
        out, cache = R.dropout_forward(case["x"], as_keep(case["dropout_param"], p_is))
        _, test_cache = R.dropout_forward(case["x"], as_keep(case["test_param"], p_is))
        return {"out": out, "dx": R.dropout_backward(case["dout"], cache),
                "dx_test": R.dropout_backward(case["dout"], test_cache)}

    return expected
