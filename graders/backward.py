"""Second chances for a backward pass: it is judged on its own, never zeroed by its forward.

A backward is graded through the student's own forward and its cache. When that fails a check on a case (or
the forward raised, leaving nothing to judge), two other ways are tried, each only where it applies:

* **the hand-out's cache** (affine, ReLU, conv, max-pool, whose starter code builds ``cache = (x, w, b)`` and
  the like): the student's backward is called with that cache built from the case. What it computes from a
  right cache earns its points, whatever the student's forward does.
* **finite differences of the student's own forward** (batch, layer and group norm, the sandwiches: the cache
  is the student's own layout; a network's gradients, against its own loss: the layers it calls are the
  student's): when that forward is close to the reference's, a backward that is the gradient
  of what the forward computes earns its points, which is what the hand-out's notebook checks. A made-up
  forward far from the reference's earns nothing this way.

A check then passes on a case when any way passes, and the run records which way (``CaseRun.judged_by``): the
report says so. These requests run only for failing cases, so correct code pays nothing for them.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from graders.checks import as_numeric, compare_arrays
from graders.evaluate import judge
from graders.sandbox.session import RunReply
from graders.specs.base import Case, CaseRun, OwnGradient, Spec, Verdict
from graders.specs.program import Program, merged, renamed, setup_steps


class _Runs(Protocol):
    def run_program(self, program: Program, case: Case, expected: Any = None, return_inputs: tuple[str, ...] = (),
                    timeout: float | None = None) -> RunReply: ...


class _Counts(Protocol):
    student_s: float


class FunctionGrader(Protocol):
    """What a second chance needs of the grader: the spec, a way to run programs, the time account."""

    @property
    def spec(self) -> Spec: ...

    @property
    def session(self) -> _Runs: ...

    @property
    def outcome(self) -> _Counts: ...

HANDOUT = "the hand-out's cache"
OWN_FORWARD = OwnGradient.label  # the default: a layer's backward judged by its own forward
#: why each way of judging spares the student's points (the report's note, graders/function_report.py); an
#: OwnGradient's own ``spares`` for its ``label``
SPARES = {HANDOUT: "a mistake in the forward does not cost {name} its points"}
#: Floors of the tolerance when comparing with a finite-difference gradient (h = 1e-5 in float64 is accurate to
#: about 1e-8 relative on these smooth functions; the floors leave room for that, not for a wrong formula).
FD_ATOL = 1e-6
FD_RTOL = 1e-5


def second_chances(grader: FunctionGrader, run: CaseRun, case: Case, expected: Mapping[str, Any],
                   timeout: float | None) -> CaseRun:
    """``run`` with each failing check re-judged the other ways this spec allows."""
    spec = grader.spec
    if run.unjudged is None and not run.failed:
        return run
    if spec.handout_program is not None:
        run = with_handout_cache(grader, run, case, expected, timeout)
    if spec.own_gradient is not None and run.unjudged is None and run.failed:
        run = with_own_gradient(grader, spec.own_gradient, run, case, expected, timeout)
    return run


def with_handout_cache(grader: FunctionGrader, run: CaseRun, case: Case, expected: Mapping[str, Any],
                       timeout: float | None) -> CaseRun:
    spec = grader.spec
    assert spec.handout_program is not None
    program, handout_case = spec.handout_program(case)
    reply = grader.session.run_program(program, handout_case, dict(expected), (), timeout)
    grader.outcome.student_s += reply.student_s
    other = judge(spec, case, expected, reply.outputs, reply.error, setup_steps(program))
    if other.unjudged is not None:
        return run
    if run.unjudged is not None:
        if other.error is not None:
            # The student's own forward raised, and their backward raised on the hand-out's layout too (written
            # for a cache of their own, or not written): the case still cannot be held against the backward.
            reason = f"{run.unjudged}, and with the hand-out's cache {spec.name} raised {other.error}"
            return dataclasses.replace(run, unjudged=reason)
        return dataclasses.replace(other, judged_by={name: HANDOUT for name in other.verdicts})
    verdicts, judged_by = dict(run.verdicts), dict(run.judged_by)
    for name, verdict in other.verdicts.items():
        if verdict.passed and not verdicts[name].passed:
            verdicts[name] = verdict
            judged_by[name] = HANDOUT
    return dataclasses.replace(run, verdicts=verdicts, judged_by=judged_by)


def close_to(actual: np.ndarray, reference: np.ndarray, closeness: float) -> bool:
    """``actual`` within ``closeness`` of ``reference``, relative to the reference's largest magnitude."""
    scale = max(1.0, float(np.max(np.abs(reference)))) if reference.size else 1.0
    return bool(np.all(np.isfinite(actual))) and float(np.max(np.abs(actual - reference), initial=0.0)) <= (
        closeness * scale)


def rejudged_checks(spec: Spec, own: OwnGradient, run: CaseRun, case: Case) -> dict[str, list[str]]:
    """The failing checks finite differences may re-judge (every output of the check is a gradient of
    ``own.wrt``), each with its gradient outputs whose input the case has (a network's ``grads`` check covers
    every parameter name, a case only some)."""
    found: dict[str, list[str]] = {}
    for check in spec.checks:
        verdict = run.verdicts.get(check.name)
        if verdict is None or verdict.passed or not all(o in own.wrt for o in check.output_names):
            continue
        present = [o for o in check.output_names if own.wrt[o] in case]
        if present:
            found[check.name] = present
    return found


def with_own_gradient(grader: FunctionGrader, own: OwnGradient, run: CaseRun, case: Case,
                      expected: Mapping[str, Any], timeout: float | None) -> CaseRun:
    checks = rejudged_checks(grader.spec, own, run, case)
    if not checks:
        return run
    if own.reference is not None:
        expected = own.reference(case, run.actual, expected)
    references: dict[str, np.ndarray] = {}
    for output, _ in own.pairs:
        out, reference = as_numeric(run.actual.get(output)), expected.get(output)
        if out is None or reference is None:
            return run
        references[output] = np.asarray(reference, dtype=np.float64)
        if out.shape != references[output].shape or not close_to(out.astype(np.float64), references[output],
                                                                  own.closeness):
            return run
    names = fitting(list(checks), [sum(len(perturbed_entries(own, case, g)) for g in checks[c]) for c in checks],
                    own.max_entries)
    wanted = [g for c in names for g in checks[c]]
    if not wanted:
        return run
    gradients = own_forward_gradients(grader, own, case, wanted, references, timeout)
    if gradients is None:
        return run
    verdicts, judged_by = dict(run.verdicts), dict(run.judged_by)
    for name in names:
        check = grader.spec.check(name)
        warnings = []
        for output in checks[name]:
            scale = max(1.0, float(np.max(np.abs(gradients[output]), initial=0.0)))
            actual, numeric = run.actual.get(output), gradients[output]
            entries = perturbed_entries(own, case, output)
            if len(entries) < numeric.size:  # a sample of the entries was perturbed: compare those
                got = as_numeric(actual)
                if got is None or got.shape != numeric.shape:
                    break
                where = tuple(np.array(entries).T)
                actual, numeric = got[where], numeric[where]
            verdict = compare_arrays(output, actual, numeric, max(check.atol, FD_ATOL * scale),
                                     max(check.rtol, FD_RTOL))
            if not verdict.passed:
                break
            warnings += [verdict.warning] if verdict.warning else []
        else:
            verdicts[name] = Verdict(True, warning=" ".join(warnings))
            judged_by[name] = own.label
    return dataclasses.replace(run, verdicts=verdicts, judged_by=judged_by)


def fitting(names: list[str], sizes: list[int], budget: int) -> list[str]:
    """The names, in order, whose sizes fit together within ``budget`` (a small dgamma is re-judged even when
    the case's dx is too large for finite differences)."""
    kept, used = [], 0
    for name, size in zip(names, sizes, strict=True):
        if used + size <= budget:
            kept.append(name)
            used += size
    return kept


def perturbed_entries(own: OwnGradient, case: Case, name: str) -> list[tuple[int, ...]]:
    """The entries of ``name``'s input that finite differences perturb: all, or ``own.sample`` evenly spread."""
    entries = list(np.ndindex(np.shape(case[own.wrt[name]])))
    if own.sample and len(entries) > own.sample:
        return [entries[i] for i in np.linspace(0, len(entries) - 1, own.sample).round().astype(int)]
    return entries


def own_forward_gradients(grader: FunctionGrader, own: OwnGradient, case: Case, wanted: list[str],
                          references: Mapping[str, np.ndarray], timeout: float | None,
                          ) -> dict[str, np.ndarray] | None:
    """Central differences of sum(forward(case) * dout) (summed over ``own.pairs``) for each wanted gradient,
    from one worker request that runs the student's forward on every perturbed input; None when that forward
    raised or returned junk."""
    base = own.forward(case)
    programs: list[Program] = []
    inputs: dict[str, Any] = {}
    plan: list[tuple[str, tuple[int, ...], float, str]] = []
    for name in wanted:
        source = own.wrt[name]
        for index in perturbed_entries(own, case, name):
            for sign in (1.0, -1.0):
                suffix = f"#{len(programs)}"
                perturbed = copy.deepcopy(case)
                perturbed[source] = np.array(case[source], dtype=np.float64, copy=True)
                perturbed[source][index] += sign * own.h
                programs.append(renamed(base, suffix))
                inputs.update({key + suffix: value for key, value in perturbed.items()})
                plan.append((name, index, sign, suffix))
    sizes = {f"{output}{p[3]}": references[output] for p in plan for output, _ in own.pairs}
    reply = grader.session.run_program(merged(programs), inputs, sizes, (), timeout)
    grader.outcome.student_s += reply.student_s
    if reply.error is not None or reply.outputs is None:
        return None
    # an empty upstream key: the output is the scalar itself (a network's loss), of any size-1 shape
    upstream = {output: np.asarray(case[key] if key else 1.0, dtype=np.float64) for output, key in own.pairs}
    gradients = {name: np.zeros(np.shape(case[own.wrt[name]])) for name in wanted}
    for name, index, sign, suffix in plan:
        total = 0.0
        for output, dout in upstream.items():
            value = as_numeric(reply.outputs.get(f"{output}{suffix}"))
            if value is not None and dout.ndim == 0 and value.size == 1:
                value = value.reshape(())
            if value is None or value.shape != dout.shape:
                return None
            total += float(np.sum(value.astype(np.float64) * dout))
        gradients[name][index] += sign * total / (2.0 * own.h)
    return gradients
