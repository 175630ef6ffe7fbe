"""How the normalisation layers are run and judged: batch norm's notebook-style program, the checks, and the
reference's answers.

Batch norm's forward is graded the way the notebook uses it: several train-mode calls that share ONE
``bn_param`` dict (the worker passes the same object to every step, as a notebook cell would), then the dict
is switched to test mode with ``bn_param.update({"mode": "test"})`` and called once more. The checks are the
first train output, the running mean and variance the student left in ``bn_param``, and the test-mode output.

Conventions accepted besides the reference's: test mode may normalise with eps outside the square root,
(x - running_mean) / (sqrt(running_var) + eps) (no hand-out says where eps goes in test mode, and both forms
are common in students' and published code); the size-1 shapes that compare_arrays accepts with a warning
((1, D) running statistics, dgamma / dbeta summed with keepdims=True).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from graders.specs.base import Case, CaseRun, Check, CompareFn, Verdict
from graders.specs.kit.rules import as_numeric, broadcast_form, compare_arrays
from graders.specs.kit.tolerances import NORMALISED_GRADIENTS, PRODUCT_SUMS, SMALL_GRADIENTS
from graders.specs.normalization.cases import DEFAULT_EPS
from graders.specs.program import Input, Item, Program, Result, call, method
from reference.functional import normalization as NORM

LayerFn = Callable[..., tuple[np.ndarray, Any]]
#: The output holding the snapshot of bn_param taken after the train-mode calls.
TRAINED_PARAM = "bn_param_after_train"
#: The reference's test-mode output with eps outside the square root, an accepted convention.
OUT_TEST_EPS_OUTSIDE = "out_test_eps_outside"


# ---------------------------------------------------------------- batch norm's forward program
def batchnorm_forward_program(name: str) -> Callable[[Case], Program]:
    """Train-mode calls on xs[0], xs[1], ... with one shared bn_param, then test mode on x_test.

    The running statistics are read from a snapshot of bn_param (``bn_param.copy()``) taken right after the
    train calls, so a test-mode call that rewrites them cannot hide what training left there.
    """

    def program(case: Case) -> Program:
        params = (Input("gamma"), Input("beta"), Input("bn_param"))
        steps: list[Any] = [
            call(f"train{t}", "layers", name, Item(Input("xs"), t), *params) for t in range(len(case["xs"]))
        ]
        steps.append(method("snapshot", Input("bn_param"), "copy"))
        steps.append(method("switch_to_test", Input("bn_param"), "update", Input("to_test")))
        steps.append(call("test", "layers", name, Input("x_test"), *params))
        return Program(
            steps=tuple(steps),
            outputs={
                "out": Item(Result("train0"), 0),
                TRAINED_PARAM: Result("snapshot"),
                "out_test": Item(Result("test"), 0),
            },
        )

    return program


# ---------------------------------------------------------------- checks
def forward_checks() -> tuple[Check, ...]:
    return (
        Check("out", tol=PRODUCT_SUMS, description="train-mode output of the first call"),
        Check(
            "running_mean",
            tol=SMALL_GRADIENTS,
            compare=stored_in(TRAINED_PARAM, "bn_param"),
            description="bn_param['running_mean'] after the train calls: m * running + (1 - m) * mean",
        ),
        Check(
            "running_var",
            tol=SMALL_GRADIENTS,
            compare=stored_in(TRAINED_PARAM, "bn_param"),
            description="bn_param['running_var'] after the train calls, from the biased batch variance",
        ),
        Check(
            "out_test",
            tol=PRODUCT_SUMS,
            compare=either_eps_placement,
            description="test-mode output, using the running statistics (eps inside or outside the square root)",
        ),
    )


def gradient_checks() -> tuple[Check, ...]:
    return (Check("dx", tol=NORMALISED_GRADIENTS), Check("dgamma", tol=PRODUCT_SUMS), Check("dbeta", tol=PRODUCT_SUMS))


def stored_in(output: str, param: str) -> CompareFn:
    """Compare the entry named like the check in the student's ``param`` dict, fetched as ``output``."""

    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        stored = actual.get(output)
        key = check.name
        if not isinstance(stored, Mapping):
            return Verdict(False, f"{param} could not be read back after the calls")
        if key not in stored:
            return Verdict(
                False,
                f"{param}[{key!r}] was never set: store the running statistics into {param} on every call",
            )
        return compare_arrays(f"{param}[{key!r}]", stored[key], expected[key], check.atol, check.rtol)

    return compare


def either_eps_placement(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check
                         ) -> Verdict:
    """The test-mode output, normalised with sqrt(running_var + eps) or with sqrt(running_var) + eps.

    Why both: no hand-out edition says where eps goes in test mode (the notebook only checks that the test
    outputs have roughly zero mean and unit std), both forms are common in real code, and they differ by about
    eps / sqrt(var) relative, far above the check's tolerance. The train-mode output gets no such latitude:
    the 2019+ hand-out sends students to the paper, which divides by sqrt(var + eps), no edition says
    otherwise, and the backward the student writes differentiates that train-mode formula.
    """
    verdict = compare_arrays("out_test", actual.get("out_test"), expected["out_test"], check.atol, check.rtol)
    if verdict.passed or OUT_TEST_EPS_OUTSIDE not in expected:
        return verdict
    other = compare_arrays("out_test", actual.get("out_test"), expected[OUT_TEST_EPS_OUTSIDE], check.atol,
                           check.rtol)
    return other if other.passed else verdict


def stored_lookup(run: CaseRun, name: str) -> Any:
    """Read an output for diagnosis: running statistics live in the student's bn_param. A running statistic
    kept as (1, D) is read as (D,), as the check accepts it: a bug model then still recognises its values."""
    if not name.startswith("running_"):
        return run.actual.get(name)
    stored = run.actual.get(TRAINED_PARAM)
    value = stored.get(name) if isinstance(stored, Mapping) else None
    array, want = as_numeric(value), run.expected.get(name)
    if array is not None and want is not None and array.shape != np.shape(want) and (
            broadcast_form(array.shape) == broadcast_form(np.shape(want))):
        return array.reshape(np.shape(want))
    return value


# ---------------------------------------------------------------- the reference's answers
def batchnorm_forward_expected(forward: LayerFn) -> Callable[[Case], dict[str, Any]]:
    """The reference through the program's calls; its bn_param after the train calls is ``TRAINED_PARAM``,
    as the program fetches the student's."""

    def expected(case: Case) -> dict[str, Any]:
        param = copy.deepcopy(case["bn_param"])
        outs = [forward(x, case["gamma"], case["beta"], param)[0] for x in case["xs"]]
        trained = dict(param)
        param.update(case["to_test"])
        out_test = forward(case["x_test"], case["gamma"], case["beta"], param)[0]
        return {
            "out": outs[0],
            "running_mean": param["running_mean"],
            "running_var": param["running_var"],
            "out_test": out_test,
            OUT_TEST_EPS_OUTSIDE: eps_outside_test_output(case, param),
            TRAINED_PARAM: trained,
        }

    return expected


def eps_outside_test_output(case: Case, param: Mapping[str, Any]) -> np.ndarray:
    """gamma * (x_test - running_mean) / (sqrt(running_var) + eps) + beta with the reference's running
    statistics in ``param``, per feature (2-D) or per channel (spatial)."""
    x = np.asarray(case["x_test"])
    rows = NORM.channels_last_rows(x) if x.ndim == 4 else x
    eps = param.get("eps", DEFAULT_EPS)
    normalized = (rows - param["running_mean"]) / (np.sqrt(param["running_var"]) + eps)
    out = case["gamma"] * normalized + case["beta"]
    return NORM.channels_first_from_rows(out, x.shape) if x.ndim == 4 else out


def backward_expected(*, forward: LayerFn, backward: Callable[..., Any], args: tuple[str, ...]
                      ) -> Callable[[Case], dict[str, Any]]:
    """Run the reference forward on the case's ``args`` (dicts copied) and its backward on ``dout``."""

    def expected(case: Case) -> dict[str, Any]:
        out, cache = forward(*(copy.deepcopy(case[a]) for a in args))
        dx, dgamma, dbeta = backward(case["dout"], cache)
        return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}

    return expected


def forward_of(expected: Callable[[Case], dict[str, Any]]) -> Callable[[Case], dict[str, Any]]:
    """Only the forward's ``out`` of a backward's answers."""
    return lambda case: {"out": expected(case)["out"]}
