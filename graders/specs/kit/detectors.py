"""Building blocks of diagnoses (``Diagnosis.applies``): detectors that name a bug from the evidence.

Two kinds. A *bug model* re-runs trusted math with the bug put in (momentum swapped, a sum where a mean
belongs, eps outside the square root, a flipped kernel) and checks that the student's failing outputs match
that *variant* (:func:`matches_variant`, :func:`explained_by`). Matching a whole array to tight tolerances is
strong evidence; a sentence is only given when at least one case tells the variant and the right answer
apart. A *pattern* says where the runs fail: only when a condition of the case holds (:func:`only_when`).

What "failed" means is CaseRun's one rule (graders/specs/base.py): ``run.failed`` counts a call that raised,
``run.failed_on(*checks)`` does not (it asks what the outputs were, and a call that raised has none).
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
Detector = Callable[[Sequence[CaseRun]], bool]
#: Whether a student's value equals a bug model's (default: :func:`close` at the detector's tolerances).
Same = Callable[[Any, Any], bool]

#: How close a student's output must be to a bug model's to name the bug: far tighter than any other bug
#: moves the values, loose enough for another summation order of the same formula.
RTOL, ATOL = 1e-6, 1e-9
#: The absolute floor of the convolution and pooling detectors: their outputs are sums of up to ~50 products
#: of N(0, 1) values, so entries near zero carry rounding up to ~1e-14 times the terms' size.
WINDOW_ATOL = 1e-8


def plain_lookup(run: CaseRun, name: str) -> Any:
    return run.actual.get(name)


def close(actual: Any, expected: Any, rtol: float = RTOL, atol: float = ATOL, *, crop: bool = False,
          equal_nan: bool = False) -> bool:
    """True when ``actual`` is a non-empty numeric array (or number) of ``expected``'s shape, allclose to it:
    the one "close enough to name a bug" comparison.

    Two size-1 values compare as scalars whatever their shapes. With ``crop``, a smaller ``actual`` is
    compared with ``expected``'s leading corner (code that sizes its output right but walks the input with
    the wrong step fills only that corner). An empty array names no bug. With ``equal_nan``, NaN matches NaN
    (a bug model that divides by zero, as Adam's bias correction with t = 0 does).
    """
    got = as_numeric(actual)
    if got is None or got.size == 0:
        return False
    want = np.asarray(expected, dtype=np.float64)
    if got.size == 1 and want.size == 1:
        got, want = got.reshape(()), want.reshape(())
    if crop and got.ndim == want.ndim and all(g <= e for g, e in zip(got.shape, want.shape, strict=True)):
        want = want[tuple(slice(0, g) for g in got.shape)]
    return got.shape == want.shape and bool(np.allclose(got.astype(np.float64), want, rtol=rtol, atol=atol,
                                                        equal_nan=equal_nan))


def fit(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``array`` cropped or zero-extended at the high end of each axis to ``shape``.

    How a loop over ``range(out_h)`` sees an upstream gradient of another shape: missing positions give
    nothing, extra ones are never read.
    """
    result = np.zeros(tuple(shape), dtype=array.dtype)
    common = tuple(slice(0, min(a, b)) for a, b in zip(array.shape, shape, strict=True))
    result[common] = array[common]
    return result


# ---------------------------------------------------------------- bug models
def matches_variant(
    runs: Sequence[CaseRun],
    variant: VariantFn,
    outputs: Sequence[str] | None,
    checks: Sequence[str] | None = None,
    lookup: Lookup = plain_lookup,
    rtol: float = RTOL,
    atol: float = ATOL,
    *,
    same: Same | None = None,
) -> bool:
    """Every run failing one of ``checks`` (default: the checks named like ``outputs``) on which the variant
    differs from the reference has ``outputs`` equal to the variant's, and there is at least one such run.

    ``outputs`` None compares every output the variant gives (their names may depend on the case: one per
    step of an update rule); ``checks`` must then be given. ``same`` replaces the comparison."""
    if outputs is None and checks is None:
        raise ValueError("matches_variant: give the checks to judge when outputs is None")
    judged = tuple(checks) if checks is not None else tuple(outputs or ())
    equal = same if same is not None else (lambda actual, model: close(actual, model, rtol, atol))
    seen = False
    for run in runs:
        if not run.failed_on(*judged):
            continue
        buggy = variant(run.case)
        if buggy is None:
            continue
        names = tuple(outputs) if outputs is not None else tuple(buggy)
        if all(equal(buggy[o], run.expected[o]) for o in names if o in run.expected):
            continue
        if not all(equal(lookup(run, o), buggy[o]) for o in names):
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
    rtol: float = RTOL,
    atol: float = ATOL,
    *,
    bug: Callable[[Case], Mapping[str, Any]] | None = None,
) -> Diagnosis:
    """A Diagnosis that applies when the failing outputs match ``variant`` (see :func:`matches_variant`).

    It reads ``outputs``; its ``bug`` (what the registry test checks it fires on) is the variant itself, or
    ``bug`` where the student's outputs are laid out otherwise than the variant's (see ``lookup``)."""
    return Diagnosis(
        name,
        sentence,
        lambda runs: matches_variant(runs, variant, outputs, checks, lookup, rtol, atol),
        reads=tuple(outputs),
        bug=bug if bug is not None else lambda case: dict(variant(case) or {}),
    )


def scaled_diagnosis(
    name: str, sentence: str, outputs: Sequence[str], factor: Callable[[Case], float], rtol: float = RTOL,
    *, reference: Callable[[Case], Mapping[str, Any]] | None = None,
) -> Diagnosis:
    """Applies when, on every run failing one of ``outputs``, each failing output equals the reference's
    times ``factor(case)`` (e.g. N for "summed instead of averaged"), and some run has factor != 1.

    It reads ``outputs``; given the spec's ``reference`` (its ``expected``), its ``bug`` is those outputs
    scaled."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        seen = False
        for run in runs:
            if not run.failed_on(*outputs):
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

    def bug(case: Case) -> dict[str, Any]:
        assert reference is not None
        right = reference(case)
        return {o: np.asarray(right[o], dtype=np.float64) * factor(case) for o in outputs}

    return Diagnosis(name, sentence, applies, reads=tuple(outputs), bug=bug if reference is not None else None)


def explained_by(
    reference: Callable[[Case], Mapping[str, Any]],
    variant: Callable[[Case], Case | None],
    transform: Callable[[dict[str, Any]], dict[str, Any]] = lambda outputs: outputs,
    crop: bool = False,
    atol: float = WINDOW_ATOL,
) -> Detector:
    """A detector: every failing run's outputs equal the reference computed on ``variant(case)``.

    ``variant`` returns the case as the buggy code effectively sees it (a flipped kernel, pad forced to 1,
    ...) or None when the bug cannot explain that case; ``transform`` maps the reference's outputs to what the
    buggy code returns (e.g. db = 0); ``crop`` accepts a forward ``out`` that is the top-left corner of the
    variant's (code that sizes the output right but walks the input with the wrong step).
    """

    def explained(run: CaseRun) -> bool:
        changed = variant(run.case)
        if changed is None or not run.actual:
            return False
        try:
            want = transform(dict(reference(changed)))
        except (ValueError, IndexError):
            return False
        shared = [k for k in run.actual if k in want]
        return bool(shared) and all(
            close(run.actual[k], want[k], atol=atol, crop=crop and k == "out") for k in shared
        )

    def applies(runs: Sequence[CaseRun]) -> bool:
        bad = [r for r in runs if r.failed]
        if not bad:
            return False
        return all(explained(r) for r in bad)

    return applies


def off_by_batch_size(runs: Sequence[CaseRun]) -> bool:
    """A convolution backward's dw or db (whichever fails) is N or 1/N times the right one on every failing run
    (all with N > 1), dx right: the batch summed where the hand-out averages, or the other way round."""
    bad = [r for r in runs if r.failed]
    if not bad:
        return False
    for run in bad:
        n = run.case["x"].shape[0]
        names = [g for g in ("dw", "db") if run.failed_on(g)]
        if n == 1 or run.error is not None or not names or run.failed_on("dx"):
            return False
        for name in names:
            want = np.asarray(run.expected[name])
            if not any(close(run.actual.get(name), model, atol=WINDOW_ATOL) for model in (want * n, want / n)):
                return False
    return True


# ---------------------------------------------------------------- patterns
def only_when(condition: Callable[[Case], bool], strict: bool = True) -> Detector:
    """A detector: runs fail only when ``condition(case)`` holds, and some run without it passes.

    ``strict`` also demands that every run with the condition fails (a bug that shows on every such case);
    without it, such a run may pass (a bug that needs the condition and some luck, e.g. two overlapping
    windows sharing their maximum).
    """

    def applies(runs: Sequence[CaseRun]) -> bool:
        bad = [r for r in runs if r.failed]
        good = [r for r in runs if not r.failed]
        if not bad or not all(condition(r.case) for r in bad):
            return False
        if strict and any(condition(r.case) for r in good):
            return False
        return any(not condition(r.case) for r in good)

    return applies


def fails_only_when(condition: Callable[[Case], bool]) -> Detector:
    """Runs fail (or raise) only when ``condition`` holds, and some run without it passes."""
    return only_when(condition, strict=False)


def every_failing(check: str, holds: Callable[[CaseRun], bool], *, made: str) -> Detector:
    """Some run fails ``check`` with output ``made`` there, and every such run ``holds``. A run whose later calls
    raised counts too: ``check``'s outputs were fetched before them (a network's ``__init__`` net is built and
    read before its methods are called)."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        failing = [run for run in runs if run.unjudged is None and check in run.verdicts
                   and not run.verdicts[check].passed and run.actual.get(made) is not None]
        return bool(failing) and all(holds(run) for run in failing)

    return applies


def both(*detectors: Detector) -> Detector:
    """All of ``detectors`` apply."""
    return lambda runs: all(d(runs) for d in detectors)
