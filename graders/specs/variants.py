"""Diagnosis by bug model: "your outputs are exactly what the reference gives with this known bug".

A spec-specific detector names a bug by re-running trusted math with the bug put in (momentum swapped, a sum
where a mean belongs, eps outside the square root) and checking that the student's failing outputs match that
*variant* on every failing case where the variant differs from the right answer. Matching a whole array to
tight tolerances is strong evidence; a sentence is only given when at least one case tells the two apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graders.checks import as_numeric
from graders.specs.base import Case, CaseRun, Diagnosis

#: The variant's outputs for a case, or None when the bug would give the right answer on it.
VariantFn = Callable[[Case], Mapping[str, Any] | None]
#: How to read output ``name`` from what the student returned (default: ``run.actual[name]``).
Lookup = Callable[[CaseRun, str], Any]


def plain_lookup(run: CaseRun, name: str) -> Any:
    return run.actual.get(name)


def close(actual: Any, expected: Any, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """True when ``actual`` is a numeric array of ``expected``'s shape that is allclose to it."""
    got = as_numeric(actual)
    if got is None:
        return False
    want = np.asarray(expected, dtype=np.float64)
    if got.size == 1 and want.size == 1:
        got, want = got.reshape(()), want.reshape(())
    return got.shape == want.shape and bool(np.allclose(got.astype(np.float64), want, rtol=rtol, atol=atol))


def failed_on(run: CaseRun, checks: Sequence[str]) -> bool:
    """The run raised nothing and at least one of ``checks`` failed on it (CaseRun.failed_on)."""
    return run.failed_on(*checks)


def matches_variant(
    runs: Sequence[CaseRun],
    variant: VariantFn,
    outputs: Sequence[str],
    checks: Sequence[str] | None = None,
    lookup: Lookup = plain_lookup,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> bool:
    """Every run failing one of ``checks`` (default: the checks named like ``outputs``) on which the variant
    differs from the reference has ``outputs`` equal to the variant's, and there is at least one such run."""
    judged = tuple(checks) if checks is not None else tuple(outputs)
    seen = False
    for run in runs:
        if not failed_on(run, judged):
            continue
        buggy = variant(run.case)
        if buggy is None:
            continue
        if all(close(buggy[o], run.expected[o], rtol, atol) for o in outputs if o in run.expected):
            continue
        if not all(close(lookup(run, o), buggy[o], rtol, atol) for o in outputs):
            return False
        seen = True
    return seen


def variant_diagnosis(
    name: str,
    sentence: str,
    variant: VariantFn,
    outputs: Sequence[str],
    checks: Sequence[str] | None = None,
    lookup: Lookup = plain_lookup,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> Diagnosis:
    """A Diagnosis that applies when the failing outputs match ``variant`` (see :func:`matches_variant`)."""
    return Diagnosis(
        name,
        sentence,
        lambda runs: matches_variant(runs, variant, outputs, checks, lookup, rtol, atol),
    )


def scaled_diagnosis(
    name: str, sentence: str, outputs: Sequence[str], factor: Callable[[Case], float], rtol: float = 1e-6
) -> Diagnosis:
    """Applies when, on every run failing one of ``outputs``, each failing output equals the reference's
    times ``factor(case)`` (e.g. N for "summed instead of averaged"), and some run has factor != 1."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        seen = False
        for run in runs:
            if not failed_on(run, outputs):
                continue
            k = factor(run.case)
            if abs(k - 1.0) < 1e-12:
                continue
            for o in outputs:
                verdict = run.verdicts.get(o)
                if verdict is None or verdict.passed:
                    continue
                scaled = np.asarray(run.expected[o], dtype=np.float64) * k
                if not close(run.actual.get(o), scaled, rtol, 1e-10):
                    return False
            seen = True
        return seen

    return Diagnosis(name, sentence, applies)
