"""Running an update rule over a case's steps in trusted code (the reference, and each bug model the same way),
and the rule that judges a value after every step.

The outputs are named as the program names its snapshots (graders/specs/kit/programs.py's ``step_output``):
``next_w``, ``velocity`` after the first step, ``next_w_2``, ``velocity_2`` after the second, and so on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graders.specs.base import Case, Check, CompareFn, Outputs, Tol, Verdict
from graders.specs.kit.programs import step_output
from graders.specs.kit.rules import compare_arrays

#: ``next_w, config = rule(w, dw, config)``: the hand-out's signature, the reference's and every bug model's.
UpdateRule = Callable[[np.ndarray, np.ndarray, Any], tuple[np.ndarray, Mapping[str, Any]]]


def stepped(rule: UpdateRule, state: Sequence[str]) -> Callable[[Case], dict[str, Any]]:
    """The outputs of ``rule`` over the case's steps: next_w and each ``state`` entry of the returned config
    after every step, each call given the previous call's results."""

    def outputs(case: Case) -> dict[str, Any]:
        w, config = case["w"], case["config"]
        result: dict[str, Any] = {}
        with np.errstate(all="ignore"):  # a bug model may divide by zero (bias correction with t = 0)
            for k, dw in enumerate(case["dws"], 1):
                w, config = rule(w, dw, config)
                result[step_output("next_w", k)] = np.array(w, copy=True)
                for key in state:
                    value = config[key]
                    result[step_output(key, k)] = np.array(value, copy=True) if isinstance(value, np.ndarray) else value
        return result

    return outputs


def every_step_or(name: str, accepted: Callable[[Case], dict[str, Any]], warning: str) -> CompareFn:
    """``every_step``, and where that fails, the same against an accepted variant's outputs (``accepted``: an
    algebraically equivalent ordering that rounds differently where eps matters): a pass with ``warning``."""
    plain = every_step(name)

    def rule(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
        verdict = plain(case, actual, expected, check)
        if verdict.passed:
            return verdict
        if plain(case, actual, accepted(case), check).passed:
            return Verdict(True, warning=warning)
        return verdict

    return rule


def every_step(name: str) -> CompareFn:
    """A check's rule: the value ``name`` after every step of the case, compared within the check's tolerance
    with the reference's; the message says after which step it first differs."""

    def rule(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
        steps = len(case["dws"])
        for k in range(1, steps + 1):
            key = step_output(name, k)
            if key not in actual:
                return Verdict(False, f"{key} was not produced: the call of step {k} of {steps} (or a read of its "
                                      "result) raised")
            verdict = compare_arrays(key, actual[key], expected[key], check.atol, check.rtol)
            if not verdict.passed:
                where = f"after step {k} of {steps}: " if steps > 1 else ""
                return Verdict(False, where + verdict.message, verdict.where, verdict.where_label)
            if verdict.warning:
                return Verdict(True, warning=verdict.warning)
        return Verdict(True)

    return rule


#: The most steps a case takes (the cases' domain says so): a check names the outputs of every step, so that
#: the reference tests compare every step with torch's.
MAX_STEPS = 5


def state_check(name: str, *, tol: Tol, points: float, description: str,
                accepted: Callable[[Case], dict[str, Any]] | None = None, warning: str = "") -> Check:
    """A check of ``name`` after every step (next_w or one entry of the returned config); with ``accepted``,
    an equivalent ordering's outputs also pass (see :func:`every_step_or`)."""
    outputs = tuple(step_output(name, k) for k in range(1, MAX_STEPS + 1))
    rule = every_step(name) if accepted is None else every_step_or(name, accepted, warning)
    return Check(name, outputs, tol=tol, points=points, compare=rule, description=description)
