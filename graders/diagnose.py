"""Naming bug patterns from the evidence: generic detectors that apply to every spec.

Spec modules add their own (``Spec.diagnoses``: flipped kernel, pad = 0 slicing, momentum swapped, ...).
Each detector looks at every case run of one function and returns a plain sentence for the student, or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graders.checks import as_numeric, value_role
from graders.specs.base import CaseRun, Spec


def failing(runs: Sequence[CaseRun]) -> list[CaseRun]:
    return [r for r in runs if r.failed]


def _pairs(runs: Sequence[CaseRun], output: str) -> list[tuple[CaseRun, np.ndarray, np.ndarray]]:
    pairs = []
    for run in runs:
        got = as_numeric(run.actual.get(output))
        want = run.expected.get(output)
        if got is None or want is None:
            continue
        want = np.asarray(want, dtype=np.float64)
        if got.shape == want.shape:
            pairs.append((run, got.astype(np.float64), want))
    return pairs


def constant_factor(runs: Sequence[CaseRun], output: str) -> float | None:
    """The factor k with actual == k * expected on every failing run of ``output``, if there is one."""
    factors = []
    for run, got, want in _pairs(failing(runs), output):
        verdict = run.verdicts.get(output)
        if verdict is not None and verdict.passed:
            continue
        scale = float(np.vdot(want, want))
        if scale < 1e-12:
            return None
        k = float(np.vdot(got, want)) / scale
        if not np.allclose(got, k * want, rtol=1e-6, atol=1e-9) or abs(k - 1.0) < 1e-6:
            return None
        factors.append((k, run))
    if not factors:
        return None
    return factors[0][0]


def factor_sentence(runs: Sequence[CaseRun], output: str) -> str | None:
    k = constant_factor(runs, output)
    if k is None or abs(k - 1.0) < 1e-3 or abs(k) < 1e-6:
        return None  # "a factor of 1" (e.g. eps left out) or "of 0" says nothing useful
    bad = failing(runs)
    sizes = {int(np.shape(r.case["x"])[0]) for r in bad if isinstance(r.case.get("x"), np.ndarray) and r.case["x"].ndim}
    scalar = all(np.ndim(np.asarray(r.expected.get(output, 0.0))) == 0 for r in bad)
    for n in sizes:
        if n > 1 and (abs(k - n) < 1e-6 * n or abs(k * n - 1) < 1e-6):
            direction = (
                "N times too large (a sum where a mean belongs?)"
                if k > 1
                else "N times too small (a mean where a sum belongs?)"
            )
            return f"{output} is off by a factor of the batch size N: {direction}"
    if scalar:
        return None  # any two numbers differ by "a constant factor": only N or 1/N is evidence
    return f"{output} is off by a constant factor of {k:.4g}; the formula is right up to scaling."


def nan_sentence(runs: Sequence[CaseRun], output: str) -> str | None:
    for run in failing(runs):
        verdict = run.verdicts.get(output)
        if verdict is not None and "NaN or inf" in verdict.message:
            return (
                f"{output} contains NaN or inf: look for exp() overflow (shift by the max first), "
                "log of 0, or a division by zero."
            )
    return None


def shape_sentence(runs: Sequence[CaseRun], output: str) -> str | None:
    for run in failing(runs):
        verdict = run.verdicts.get(output)
        if verdict is not None and " has shape " in verdict.message:
            why = (" (a gradient has exactly the shape of the value it is taken with respect to)"
                   if value_role(output).startswith("the gradient") else "")
            return f"{verdict.message}: check the shape of what you return{why}."
    return None


def transposed_sentence(runs: Sequence[CaseRun], output: str) -> str | None:
    for run in failing(runs):
        got = as_numeric(run.actual.get(output))
        want = run.expected.get(output)
        if got is None or want is None or got.ndim != 2 or np.ndim(want) != 2:
            continue
        want = np.asarray(want)
        if want.shape[0] != want.shape[1] and got.shape == want.T.shape and np.allclose(got, want.T):
            return f"{output} is the transpose of the right answer."
    return None


def none_sentence(runs: Sequence[CaseRun], output: str) -> str | None:
    for run in failing(runs):
        verdict = run.verdicts.get(output)
        if verdict is not None and ("got None" in verdict.message or "got None" in (run.error or "")):
            return (
                "The function returned None where the hand-out asks for a value: is the skeleton's `pass` still "
                "there, or a `return` missing?"
            )
    return None


#: Errors whose cause is a Python or NumPy version habit, not the layer's math: (text in the error, sentence).
VERSION_HABITS = (
    ("object cannot be interpreted as an integer",
     "A size computed with / is a float in Python 3 (range() and shapes need ints): use // for integer division."),
    ("has no attribute 'float'", "np.float was removed from NumPy: use float (or np.float64)."),
    ("has no attribute 'int'", "np.int was removed from NumPy: use int (or np.int64)."),
    ("has no attribute 'asscalar'", "np.asscalar was removed from NumPy: use .item()."),
    ("has no attribute 'bool'", "np.bool was removed from NumPy: use bool (or np.bool_)."),
)


def habit_sentence(runs: Sequence[CaseRun], output: str) -> str | None:
    for run in failing(runs):
        for needle, sentence in VERSION_HABITS:
            if needle in (run.error or ""):
                return sentence
    return None


GENERIC = (habit_sentence, none_sentence, nan_sentence, shape_sentence, transposed_sentence, factor_sentence)


def diagnose(spec: Spec, runs: Sequence[CaseRun], robust_runs: Sequence[CaseRun] = (),
             notes: list[str] | None = None) -> list[str]:
    """Every sentence that applies, spec-specific first, without repeats. The spec's own detectors see the
    robustness runs too (an overflow shows only at large scores); the generic ones only the main runs, whose
    failures the main checks charge (a robustness failure already has its own sentence).

    A detector that raises says nothing to the student (a grader's bug must not become their diagnosis), but
    it is not silent either: a line goes into ``notes``, which the report keeps as the function's grader notes.
    """
    everything = [*runs, *robust_runs]
    if not failing(everything):
        return []
    sentences: list[str] = []
    for known in spec.diagnoses:
        try:
            if known.applies(everything):
                sentences.append(known.sentence)
        except Exception as exc:  # a detector must never break grading
            _note(notes, f"diagnosis {known.name!r}", exc)
    if not failing(runs):
        return sentences
    for check in spec.checks:
        if all(r.verdicts.get(check.name) is None or r.verdicts[check.name].passed for r in runs):
            continue
        for output in check.output_names:
            for detector in GENERIC:
                try:
                    sentence = detector(runs, output)
                except Exception as exc:
                    _note(notes, f"generic diagnosis {detector.__name__} on {output!r}", exc)
                    sentence = None
                if sentence and sentence not in sentences:
                    sentences.append(sentence)
    return sentences


def _note(notes: list[str] | None, what: str, exc: Exception) -> None:
    if notes is not None:
        line = f"{what} could not be evaluated ({type(exc).__name__}: {exc}); it was left out"
        if line not in notes:
            notes.append(line)
