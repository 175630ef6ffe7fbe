"""Dropout mask rules and detectors, whatever the hand-out calls its probability.

cs231n's ``dropout_param['p']`` (the keep probability since 2018, the drop probability before) and the book's
``dropout_ratio`` (the drop probability) are the same rules with the keep probability read differently: every
rule and detector here takes ``keep_of`` (case -> keep probability) where it needs it. Inputs stay at least
0.5 away from zero (:func:`away_from_zero`), so a kept unit is never 0 and the mask can be read off the output.
The statistics behind the rules (tail bounds with a stated false-alarm rate) are graders/specs/kit/maskstats.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, CompareFn, Verdict
from graders.specs.kit import maskstats as M
from graders.specs.kit.detectors import Detector
from graders.specs.kit.rules import array_of_shape, as_numeric, compare_arrays

#: Standard deviations of the binomial keep count within which two keep rates count as indistinguishable (only
#: for diagnoses: the checks use maskstats' bounds).
SIGMAS = 6.0
KeepOf = Callable[[Case], float]


# ---------------------------------------------------------------- cases
def away_from_zero(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Entries with |x| in [0.5, 3] and random signs: a dropped unit (0) is never confused with a kept one."""
    return S.signed_uniform_arrays(shape, 0.5, 3.0)


def units_away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A fixed array like :func:`away_from_zero`'s: |x| in [0.5, 3] with random signs."""
    return rng.uniform(0.5, 3.0, shape) * rng.choice([-1.0, 1.0], shape)


def signed_units(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """:func:`units_away_from_zero` of ``default_rng(seed)``, remembered with the call that rebuilds it, so that a
    repro script of a large case prints that call instead of zeros (on zeros no mask can be read)."""
    array = units_away_from_zero(np.random.default_rng(seed), shape)
    return S.remember(array, f"(lambda rng: rng.uniform(0.5, 3.0, {shape!r}) * rng.choice([-1.0, 1.0], {shape!r}))"
                             f"(np.random.default_rng({seed}))")


#: The property tier's largest mask: small cases (shrinkable, cheap) that can flag only gross patterns; the
#: statistics come from the notebook's and the scale tier's large cases.
MAX_ROWS, MAX_COLUMNS = 40, 60


def small_shape() -> st.SearchStrategy[tuple[int, int]]:
    """2-D (N, D) of the property tier: up to MAX_ROWS x MAX_COLUMNS."""
    return st.tuples(st.integers(1, MAX_ROWS), st.integers(1, MAX_COLUMNS))


# ---------------------------------------------------------------- reading the mask
def keep_tolerance(keep: float, size: int) -> float:
    """|keep rate - keep probability| within which two keep probabilities are indistinguishable (SIGMAS
    binomial standard deviations plus one unit): diagnoses use it to tell keep from 1 - keep."""
    return SIGMAS * float(np.sqrt(keep * (1.0 - keep) / size)) + 1.0 / size


def kept_mask(case: Case, actual: Mapping[str, Any], name: str) -> np.ndarray | Verdict:
    """Which units output ``name`` kept (x is never near 0, so a kept unit is never 0)."""
    value = array_of_shape(actual, name, case["x"].shape)
    return value if isinstance(value, Verdict) else value != 0


def train_out(run: CaseRun, name: str = "out") -> np.ndarray | None:
    """Output ``name`` of a run as float64, if it is a numeric array of x's shape (for detectors)."""
    out = as_numeric(run.actual.get(name))
    return out.astype(np.float64) if out is not None and out.shape == run.case["x"].shape else None


def nothing_kept(kept: np.ndarray, keep: float) -> Verdict | None:
    """For a rule about the kept units (their scale): None when some unit was kept. When none was, a pass if a
    correct mask keeps nothing at this size often enough (a small case: the keep-count bounds include 0), else
    the failing verdict, so that a rule judging kept units never fails a correct mask on a small case."""
    if np.any(kept):
        return None
    low, _ = M.keep_count_bounds(kept.size, keep)
    if low <= 0:
        return Verdict(True)
    return Verdict(False, "out is all zeros: no unit was kept, so the scaling cannot be checked")


# ---------------------------------------------------------------- rules
def keep_count_rule(keep_of: KeepOf, meaning: Callable[[Case], str]) -> CompareFn:
    """The kept count of ``out`` within the binomial tail bounds of size * keep (maskstats.FALSE_ALARM);
    ``meaning`` says in words where the keep probability comes from."""

    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        kept = kept_mask(case, actual, "out")
        if isinstance(kept, Verdict):
            return kept
        keep = keep_of(case)
        low, high = M.keep_count_bounds(kept.size, keep)
        count = int(np.count_nonzero(kept))
        if low <= count <= high:
            return Verdict(True)
        return Verdict(
            False,
            f"out keeps {count / kept.size:.4f} of the units; with {meaning(case)} the keep rate should be "
            f"{keep:.4f}, between {low / kept.size:.4f} and {high / kept.size:.4f} for {kept.size} units",
        )

    return compare


def uniform_rule(name: str = "out") -> CompareFn:
    """The mask of output ``name`` keeps units at its own rate in every row, column, the even positions and
    neighbouring pairs (maskstats.uniformity_failures)."""

    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        kept = kept_mask(case, actual, name)
        if isinstance(kept, Verdict):
            return kept
        failing, total = M.uniformity_failures(kept)
        worst = M.worst_failure(failing)
        if worst is None:
            return Verdict(True)
        more = f" ({len(failing) - 1} more of the {total} position tests fail too)" if len(failing) > 1 else ""
        return Verdict(
            False,
            f"the mask of {name} is not spread uniformly over the positions: {worst.sentence()}{more}; each unit "
            "must be kept independently with the same probability",
        )

    return compare


def fresh_mask_rule(first: str, second: str, how: Callable[[Case], str]) -> CompareFn:
    """The masks of outputs ``first`` and ``second`` overlap as two independent random masks do; ``how`` says
    how the two were drawn (two seeds, two calls)."""

    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        one = kept_mask(case, actual, first)
        if isinstance(one, Verdict):
            return one
        two = kept_mask(case, actual, second)
        if isinstance(two, Verdict):
            return two
        test = M.overlap_test(one, two)
        if not test.failed:
            return Verdict(True)
        same = " (the very same mask)" if np.array_equal(one, two) else ""
        return Verdict(False, f"{how(case)} gave masks that are not independent{same}: {test.sentence()}")

    return compare


def shape_rule(names: tuple[str, ...]) -> CompareFn:
    """Every output in ``names`` is a numeric array of x's shape (robust:any_shape judges it on a 4-D x)."""

    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        for name in names:
            value = array_of_shape(actual, name, case["x"].shape)
            if isinstance(value, Verdict):
                return value
        return Verdict(True)

    return compare


def masked_gradient_rule(
    case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check
) -> Verdict:
    """dx = dout * (out / x): the upstream gradient through the same mask and scale as the forward."""
    out = array_of_shape(actual, "out", case["x"].shape)
    if isinstance(out, Verdict):
        return Verdict(False, f"the forward output needed to read the mask: {out.message}")
    return compare_arrays("dx", actual.get("dx"), case["dout"] * (out / case["x"]), check.atol, check.rtol)


# ---------------------------------------------------------------- detectors
def rate_is_complement(keep_of: KeepOf) -> Detector:
    """The keep rate matches 1 - keep probability (the probability read the wrong way round) on every failing
    keep-rate run whose two readings can be told apart, and there is such a run."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        seen = False
        for run in runs:
            out = train_out(run)
            if not run.failed_on("keep_rate") or out is None:
                continue
            keep = keep_of(run.case)
            tol = keep_tolerance(keep, out.size)
            if abs(2.0 * keep - 1.0) <= 3.0 * tol:
                continue
            if abs(np.count_nonzero(out) / out.size - (1.0 - keep)) > tol:
                return False
            seen = True
        return seen

    return applies


def identical_masks(first: str, second: str, check: str) -> Detector:
    """On every run failing ``check``, outputs ``first`` and ``second`` have the very same mask."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        seen = False
        for run in runs:
            if not run.failed_on(check):
                continue
            one, two = train_out(run, first), train_out(run, second)
            if one is None or two is None or not np.array_equal(one != 0, two != 0):
                return False
            seen = True
        return seen

    return applies


def _one_random_row(run: CaseRun, name: str) -> bool:
    """Every example of the batch has the same mask, and that mask on its own looks random (so the bug is
    sharing it, not a fixed pattern such as every other unit)."""
    out = train_out(run, name)
    if out is None or out.ndim < 2 or out.shape[0] < 2:
        return False
    rows = (out != 0).reshape(out.shape[0], -1)
    return bool(np.all(rows == rows[0])) and not M.uniformity_failures(rows[0])[0]


def shared_by_batch(name: str = "out") -> Detector:
    """On every run failing ``uniform``, one random mask repeated for every example of the batch."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        bad = [r for r in runs if r.failed_on("uniform")]
        return bool(bad) and all(_one_random_row(r, name) for r in bad)

    return applies


def patterned(name: str = "out") -> Detector:
    """``uniform`` failed on some run whose mask is not one random mask repeated over the batch."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        return any(r.failed_on("uniform") and not _one_random_row(r, name) for r in runs)

    return applies


def patterned_sentence(draw: str) -> str:
    """What to tell a student whose mask is not uniform; ``draw`` is the hand-out's way to draw a mask."""
    return ("The mask keeps some positions far more often than others (for example the first p * size units, or "
            "every other unit): a dropout mask keeps each unit independently with the same probability, e.g. "
            f"{draw}.")


def shared_sentence(draw: str) -> str:
    """What to tell a student whose batch shares one mask."""
    return (f"Every example of the batch gets the same mask: draw the mask with x's full shape ({draw}), not "
            "x.shape[1:], so each example drops its own units.")
