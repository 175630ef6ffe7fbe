"""Specs of cs231n's dropout: rules about the mask, not equality with one particular mask.

A correct dropout may draw its mask with ``np.random.rand(...) < p``, ``np.random.binomial``, a Generator, a
fixed count with ``np.random.choice``, in any order: only the distribution and the consistency are graded.

The hand-out's domain is 2-D input (N, D): the notebook calls dropout on x of shape (500, 500), and the network
applies it after affine layers. Its docstring says "x: input data, of any shape": that is a separate, small
robustness check (``robust:any_shape``, on a 4-D x), so a dropout written with ``N, D = x.shape`` is exact on
the hand-out's domain and loses only that.

Tiers: the notebook's check (x = randn(500, 500) + 10, p in 0.25, 0.4, 0.7, seed 123); property cases (N, D)
with N, D in [200, 300] (40,000 to 90,000 units: enough for the statistics) with random p and seeds; one scale
case, the hidden layer of the notebook's regularisation experiment ((100, 500), p = 0.5); robustness on
(8, 16, 16, 20).

  forward:  keep_rate: the kept count is within the binomial tail bounds of N * D * keep;
            scale: every kept entry is x scaled by exactly 1 / keep (inverted dropout), every other entry is 0;
            same_seed: two calls with the same ``dropout_param`` (same seed) give the same output;
            seed_varies: a call with another seed gives a new mask, as independent of the first as two random
            masks (their overlap is about keep^2 of the units, not keep);
            uniform: every row and column, the even positions and neighbouring pairs keep units at the
            mask's own rate (no "first p * size units", no "every other unit", no one mask for the batch);
            test_identity: test mode returns x unchanged.
            The three statistical checks fail a correct mask with probability below 1e-7 each on a case
            (Chernoff-Hoeffding bounds on the binomial and hypergeometric tails, no normal approximation, the
            uniform check's budget split over its tests: graders/specs/maskstats.py), so below 1e-5 for a whole
            grading of a correct submission.
  backward: dx = dout * out / x, i.e. the upstream gradient through the student's own forward mask (x is kept at
            least 0.5 away from 0 so the mask can be read off the output); test mode: dx = dout. Judged on its
            own: whatever the forward computes, the backward must pass dout through that same mask, and the
            forward calls are setup steps (a forward that raises leaves the case unjudged). No hand-out cache is
            tried: the starter code's ``(dropout_param, mask)`` leaves open whether ``mask`` holds the 1 / p, so
            a backward right for one reading is wrong for the other. Its cases are small (no statistics are
            needed): the notebook's gradient check (10, 10) with p = 0.2, property cases up to (40, 60), the
            scale case of the forward.

Both have a check ``shape`` worth no points on the hand-out's domain (every output has x's shape): it is what
``robust:any_shape`` judges on a 4-D x, so that a 2-D-only dropout loses that check alone and a bug of the
main checks (a patterned mask, a scaled test mode) is not blamed on the shape as well.

Factory option ``p_is``: "keep" (cs231n since 2018, the default) or "drop" (2016-17 hand-outs), the meaning
of ``dropout_param['p']``. The reference is checked against the same rules (and torch against them in the
tests), so these specs are marked ``verified_by: "mask identities"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st

from graders.checks import as_numeric, compare_arrays
from graders.specs import maskstats as M
from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, CompareFn, Diagnosis, Robustness, Spec, Verdict
from graders.specs.program import Input, Item, Program, Result, as_setup, call
from graders.specs.variants import failed_on
from reference import cs231n as R

PIs = Literal["keep", "drop"]
#: Standard deviations of the binomial keep count within which two keep rates count as indistinguishable (only
#: for diagnoses: the checks use maskstats' bounds).
SIGMAS = 6.0
#: The notebook's seed, and the second seed of the notebook cases.
NOTEBOOK_SEED = 123
OTHER_SEED = 321


# ---------------------------------------------------------------- cases
def away_from_zero(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Entries with |x| in [0.5, 3] and random signs: a dropped unit (0) is never confused with a kept one."""
    return S.signed_uniform_arrays(shape, 0.5, 3.0)


def statistical_shape() -> st.SearchStrategy[tuple[int, int]]:
    """2-D (N, D) with 40,000 to 90,000 units: a keep-rate resolution of 1.5% or better, rows and columns of
    200 units or more."""
    return st.tuples(st.integers(200, 300), st.integers(200, 300))


def _small_shape() -> st.SearchStrategy[tuple[int, int]]:
    """2-D (N, D) for the backward, which reads the mask off the forward's output and needs no statistics."""
    return st.tuples(st.integers(1, 40), st.integers(1, 60))


def params(p: float, seed: int, other_seed: int) -> dict[str, dict[str, Any]]:
    """The dropout_params of one case: train mode, train mode with another seed, test mode."""
    return {
        "dropout_param": {"mode": "train", "p": p, "seed": seed},
        "other_param": {"mode": "train", "p": p, "seed": other_seed},
        "test_param": {"mode": "test", "p": p},
    }


def _cases_of(shapes: st.SearchStrategy[tuple[int, int]]) -> Callable[[], st.SearchStrategy[Case]]:
    """Cases of the given shapes with random p and two different seeds (and a dout: the forward's cases serve
    the backward's tests too)."""

    @st.composite
    def cases(draw: st.DrawFn) -> Case:
        shape = draw(shapes)
        seed = draw(st.integers(0, 2**31 - 2))
        other = (seed + draw(st.integers(1, 2**31 - 2))) % (2**31 - 1)
        return {
            "x": draw(away_from_zero(shape)),
            "dout": draw(S.seeded_arrays(shape)),
            **params(draw(S.floats(0.05, 0.95)), seed, other),
        }

    return cases


dropout_cases = _cases_of(statistical_shape())
backward_cases = _cases_of(_small_shape())


def _case(x: np.ndarray, dout: np.ndarray, p: float, seed: int, other_seed: int) -> Case:
    return {"x": x, "dout": dout, **params(p, seed, other_seed)}


def dropout_fixed() -> list[Case]:
    """The notebook's check: x = randn(500, 500) + 10 for p in 0.25, 0.4, 0.7, seed 123 (and 321); with a dout,
    so that a backward can run on them too."""
    rng = np.random.RandomState(231)
    x = rng.randn(500, 500) + 10
    dout = rng.randn(500, 500)
    return [_case(x, dout, p, NOTEBOOK_SEED, OTHER_SEED) for p in (0.25, 0.4, 0.7)]


def backward_fixed() -> list[Case]:
    """The notebook's gradient check of the backward: x = randn(10, 10) + 10, p = 0.2, seed 123."""
    rng = np.random.RandomState(231)
    x = rng.randn(10, 10) + 10
    return [_case(x, rng.randn(10, 10), 0.2, NOTEBOOK_SEED, OTHER_SEED)]


def dropout_scale() -> list[Case]:
    """The notebook's regularisation experiment: hidden layer of 500 units, batches of 100, p = 0.5."""
    rng = np.random.default_rng(500)
    x = rng.uniform(0.5, 3.0, (100, 500)) * rng.choice([-1.0, 1.0], (100, 500))
    return [_case(x, rng.standard_normal((100, 500)), 0.5, 0, 1)]


def any_shape_cases() -> list[Case]:
    """A 4-D x (N, C, H, W) of 40,960 units, e.g. dropout after a convolution (robust:any_shape)."""
    rng = np.random.default_rng(4)
    shape = (8, 16, 16, 20)
    x = rng.uniform(0.5, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
    return [_case(x, rng.standard_normal(shape), 0.6, 7, 8)]


def small_any_shape_cases() -> list[Case]:
    """A small 4-D x for the backward's robust:any_shape."""
    rng = np.random.default_rng(5)
    shape = (4, 3, 5, 6)
    x = rng.uniform(0.5, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
    return [_case(x, rng.standard_normal(shape), 0.6, 7, 8)]


# ---------------------------------------------------------------- reference
def keep_probability(case: Case, p_is: PIs) -> float:
    p = float(case["dropout_param"]["p"])
    return p if p_is == "keep" else 1.0 - p


def _as_keep(param: Mapping[str, Any], p_is: PIs) -> dict[str, Any]:
    """The hand-out's dropout_param in the reference's convention (p = keep probability)."""
    return {**param, "p": param["p"] if p_is == "keep" else 1.0 - param["p"]}


def forward_expected(p_is: PIs) -> Callable[[Case], dict[str, Any]]:
    def expected(case: Case) -> dict[str, Any]:
        def run(param: str) -> np.ndarray:
            return R.dropout_forward(case["x"], _as_keep(case[param], p_is))[0]

        return {"out": run("dropout_param"), "out_again": run("dropout_param"), "out_other": run("other_param"),
                "out_test": run("test_param")}

    return expected


def backward_expected(p_is: PIs) -> Callable[[Case], dict[str, Any]]:
    def expected(case: Case) -> dict[str, Any]:
        out, cache = R.dropout_forward(case["x"], _as_keep(case["dropout_param"], p_is))
        test_out, test_cache = R.dropout_forward(case["x"], _as_keep(case["test_param"], p_is))
        return {
            "out": out,
            "dx": R.dropout_backward(case["dout"], cache),
            "dx_test": R.dropout_backward(case["dout"], test_cache),
        }

    return expected


# ---------------------------------------------------------------- programs
def forward_program(case: Case) -> Program:
    """Train mode twice with the same dropout_param (same seed), once with another seed, then test mode."""
    return Program(
        steps=(
            call("train", "layers", "dropout_forward", Input("x"), Input("dropout_param")),
            call("again", "layers", "dropout_forward", Input("x"), Input("dropout_param")),
            call("other", "layers", "dropout_forward", Input("x"), Input("other_param")),
            call("test", "layers", "dropout_forward", Input("x"), Input("test_param")),
        ),
        outputs={
            "out": Item(Result("train"), 0),
            "out_again": Item(Result("again"), 0),
            "out_other": Item(Result("other"), 0),
            "out_test": Item(Result("test"), 0),
        },
    )


def backward_program(case: Case) -> Program:
    """The student's backward through their own train-mode and test-mode forward caches (the forward calls are
    setup: when they raise, the case says nothing about the backward)."""
    return Program(
        steps=(
            as_setup(call("train", "layers", "dropout_forward", Input("x"), Input("dropout_param"))),
            call("bwd", "layers", "dropout_backward", Input("dout"), Item(Result("train"), 1)),
            as_setup(call("test", "layers", "dropout_forward", Input("x"), Input("test_param"))),
            call("bwd_test", "layers", "dropout_backward", Input("dout"), Item(Result("test"), 1)),
        ),
        outputs={"out": Item(Result("train"), 0), "dx": Result("bwd"), "dx_test": Result("bwd_test")},
    )


# ---------------------------------------------------------------- rules
def keep_tolerance(keep: float, size: int) -> float:
    """|keep rate - keep probability| within which two keep probabilities are indistinguishable (SIGMAS
    binomial standard deviations plus one unit): diagnoses use it to tell keep from 1 - keep."""
    return SIGMAS * float(np.sqrt(keep * (1.0 - keep) / size)) + 1.0 / size


def array_like_x(case: Case, actual: Mapping[str, Any], name: str) -> np.ndarray | Verdict:
    """The student's output ``name`` as a float64 array of x's shape, or a failing verdict saying why not."""
    if name not in actual:
        return Verdict(False, f"{name} was not produced")
    value = as_numeric(actual.get(name))
    x = case["x"]
    if value is None:
        return Verdict(
            False, f"{name}: expected an array of shape {x.shape}, got {type(actual.get(name)).__name__}"
        )
    if value.shape != x.shape:
        return Verdict(False, f"{name} has shape {tuple(value.shape)}, expected {x.shape}")
    return value.astype(np.float64)


def kept_mask(case: Case, actual: Mapping[str, Any], name: str) -> np.ndarray | Verdict:
    """Which units output ``name`` kept (x is never near 0, so a kept unit is never 0)."""
    value = array_like_x(case, actual, name)
    return value if isinstance(value, Verdict) else value != 0


def keep_count_rule(keep_of: Callable[[Case], float], meaning: Callable[[Case], str]) -> CompareFn:
    """The kept count of ``out`` within the binomial tail bounds of size * keep (maskstats.FALSE_ALARM)."""

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


def keep_rate_rule(p_is: PIs) -> CompareFn:
    def meaning(case: Case) -> str:
        return f"dropout_param['p'] = {case['dropout_param']['p']:.4g} ({p_is} probability)"

    return keep_count_rule(lambda case: keep_probability(case, p_is), meaning)


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


def _two_seeds(case: Case) -> str:
    return (f"dropout_param with seed {case['dropout_param'].get('seed')} and with seed "
            f"{case['other_param'].get('seed')}")


def scale_rule(p_is: PIs) -> CompareFn:
    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        out = array_like_x(case, actual, "out")
        if isinstance(out, Verdict):
            return out
        kept = out != 0
        if not np.any(kept):
            return Verdict(False, "out is all zeros: no unit was kept, so the scaling cannot be checked")
        want = 1.0 / keep_probability(case, p_is)
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


def same_seed_rule(
    case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check
) -> Verdict:
    first = array_like_x(case, actual, "out")
    second = array_like_x(case, actual, "out_again")
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


def shape_rule(names: tuple[str, ...]) -> CompareFn:
    """Every output in ``names`` is a numeric array of x's shape (robust:any_shape judges it on a 4-D x)."""

    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        for name in names:
            value = array_like_x(case, actual, name)
            if isinstance(value, Verdict):
                return value
        return Verdict(True)

    return compare


def equals_rule(name: str, reference: str) -> CompareFn:
    """``actual[name]`` equals the case input ``reference`` (test mode is the identity)."""

    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        return compare_arrays(name, actual.get(name), case[reference], check.atol, check.rtol)

    return compare


def masked_gradient_rule(
    case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check
) -> Verdict:
    """dx = dout * (out / x): the upstream gradient through the same mask and scale as the forward."""
    out = array_like_x(case, actual, "out")
    if isinstance(out, Verdict):
        return Verdict(False, f"the forward output needed to read the mask: {out.message}")
    return compare_arrays("dx", actual.get("dx"), case["dout"] * (out / case["x"]), check.atol, check.rtol)


# ---------------------------------------------------------------- diagnoses
def _train_out(run: CaseRun, name: str = "out") -> np.ndarray | None:
    out = as_numeric(run.actual.get(name))
    return out.astype(np.float64) if out is not None and out.shape == run.case["x"].shape else None


def _not_inverted(runs: Sequence[CaseRun]) -> bool:
    """Kept units pass unchanged (out == x where kept) on failing scale checks."""
    seen = False
    for run in runs:
        out = _train_out(run)
        if not failed_on(run, ("scale",)) or out is None:
            continue
        kept = out != 0
        if not np.any(kept) or not np.allclose(out[kept], run.case["x"][kept], rtol=1e-7, atol=0.0):
            return False
        seen = True
    return seen


def _rate_is_complement(p_is: PIs) -> Callable[[Sequence[CaseRun]], bool]:
    """The keep rate matches 1 - keep probability on failing keep-rate checks that tell the two apart."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        seen = False
        for run in runs:
            out = _train_out(run)
            if not failed_on(run, ("keep_rate",)) or out is None:
                continue
            keep = keep_probability(run.case, p_is)
            tol = keep_tolerance(keep, out.size)
            if abs(2.0 * keep - 1.0) <= 3.0 * tol:
                continue
            if abs(np.count_nonzero(out) / out.size - (1.0 - keep)) > tol:
                return False
            seen = True
        return seen

    return applies


def _seed_ignored(runs: Sequence[CaseRun]) -> bool:
    return any(
        failed_on(r, ("same_seed",)) and "different outputs" in r.verdicts["same_seed"].message for r in runs
    )


def identical_masks(first: str, second: str, check: str) -> Callable[[Sequence[CaseRun]], bool]:
    """On every run failing ``check``, outputs ``first`` and ``second`` have the very same mask."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        seen = False
        for run in runs:
            if not failed_on(run, (check,)):
                continue
            one, two = _train_out(run, first), _train_out(run, second)
            if one is None or two is None or not np.array_equal(one != 0, two != 0):
                return False
            seen = True
        return seen

    return applies


def _one_random_row(run: CaseRun, name: str) -> bool:
    """Every example of the batch has the same mask, and that mask on its own looks random (so the bug is
    sharing it, not a fixed pattern such as every other unit)."""
    out = _train_out(run, name)
    if out is None or out.ndim < 2 or out.shape[0] < 2:
        return False
    rows = (out != 0).reshape(out.shape[0], -1)
    return bool(np.all(rows == rows[0])) and not M.uniformity_failures(rows[0])[0]


def shared_by_batch(name: str = "out") -> Callable[[Sequence[CaseRun]], bool]:
    """On every run failing ``uniform``, one random mask repeated for every example of the batch."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        bad = [r for r in runs if failed_on(r, ("uniform",))]
        return bool(bad) and all(_one_random_row(r, name) for r in bad)

    return applies


def patterned(name: str = "out") -> Callable[[Sequence[CaseRun]], bool]:
    """``uniform`` failed on some run whose mask is not one random mask repeated over the batch."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        return any(failed_on(r, ("uniform",)) and not _one_random_row(r, name) for r in runs)

    return applies


def _mask_not_applied(runs: Sequence[CaseRun]) -> bool:
    bad = [r for r in runs if failed_on(r, ("dx",))]
    return bool(bad) and all(
        np.array_equal(np.asarray(r.actual.get("dx"), dtype=np.float64), r.case["dout"]) for r in bad
    )


def patterned_sentence(draw: str) -> str:
    """What to tell a student whose mask is not uniform; ``draw`` is the hand-out's way to draw a mask."""
    return ("The mask keeps some positions far more often than others (for example the first p * size units, or "
            "every other unit): a dropout mask keeps each unit independently with the same probability, e.g. "
            f"{draw}.")


def shared_sentence(draw: str) -> str:
    """What to tell a student whose batch shares one mask."""
    return (f"Every example of the batch gets the same mask: draw the mask with x's full shape ({draw}), not "
            "x.shape[1:], so each example drops its own units.")


CS231N_DRAW = "np.random.rand(*x.shape) < p"


def forward_diagnoses(p_is: PIs) -> tuple[Diagnosis, ...]:
    meaning = "keep" if p_is == "keep" else "drop"
    other = "drop" if p_is == "keep" else "keep"
    return (
        Diagnosis(
            "not inverted",
            "Kept units come out unchanged: cs231n's dropout is inverted, so in train mode divide the kept "
            "units by the keep probability (then test mode needs no scaling).",
            _not_inverted,
        ),
        Diagnosis(
            f"p taken as {other} probability",
            f"The keep rate matches 1 - p: in this hand-out dropout_param['p'] is the probability to "
            f"{meaning} a unit, but the code treats it as the probability to {other} one.",
            _rate_is_complement(p_is),
        ),
        Diagnosis(
            "seed ignored",
            "The same dropout_param gives a different mask on every call: when a 'seed' is given, call "
            "np.random.seed(dropout_param['seed']) before drawing the mask (the notebook's gradient check "
            "depends on it).",
            _seed_ignored,
        ),
        Diagnosis(
            "same mask for every seed",
            "Two different seeds give the very same mask: seed with dropout_param['seed'] itself (not a fixed "
            "number) and then draw the mask at random; a fixed pattern is not dropout.",
            identical_masks("out", "out_other", "seed_varies"),
        ),
        Diagnosis("mask shared by the batch", shared_sentence(CS231N_DRAW), shared_by_batch()),
        Diagnosis("mask not uniform", patterned_sentence(CS231N_DRAW), patterned()),
    )


MASK_NOT_APPLIED = Diagnosis(
    "mask not applied in backward",
    "dx equals dout in train mode: the backward pass must multiply dout by the same mask (and scale) that "
    "the forward pass applied.",
    _mask_not_applied,
)

SHAPE_CHECK = Check(
    "shape",
    points=0.0,
    compare=shape_rule(("out", "out_again", "out_other", "out_test")),
    description="every output has x's shape (scored on a 4-D x: robust:any_shape)",
)
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


# ---------------------------------------------------------------- specs
def _convention(p_is: PIs) -> str:
    return (f"dropout_param['p'] = {p_is} probability; inverted; 'seed' makes the mask reproducible; 2-D x "
            "(any shape: robustness)")


def dropout_forward(p_is: PIs = "keep") -> Spec:
    return Spec(
        name="dropout_forward",
        module="layers",
        api="function",
        cases=dropout_cases,
        fixed_cases=dropout_fixed,
        scale_cases=dropout_scale,
        program=forward_program,
        expected=forward_expected(p_is),
        checks=(
            Check(
                "keep_rate",
                compare=keep_rate_rule(p_is),
                description="the fraction of kept units is the keep probability (binomial tail bounds)",
            ),
            Check(
                "scale", atol=0.0, rtol=1e-7, compare=scale_rule(p_is), description="kept units are x / keep"
            ),
            Check("same_seed", compare=same_seed_rule, description="the same seed gives the same output"),
            Check(
                "seed_varies",
                compare=fresh_mask_rule("out", "out_other", _two_seeds),
                description="another seed gives a new mask, independent of the first (overlap about keep^2)",
            ),
            Check(
                "uniform",
                compare=uniform_rule("out"),
                description="rows, columns, even positions and neighbours keep units at the mask's own rate",
            ),
            Check(
                "test_identity",
                atol=0.0,
                rtol=1e-12,
                compare=equals_rule("out_test", "x"),
                description="test mode returns x",
            ),
            SHAPE_CHECK,
        ),
        diagnoses=forward_diagnoses(p_is),
        convention=_convention(p_is),
        read_only=("x",),
        dtype_preserving=True,
        max_examples=4,
        robustness=(FORWARD_ANY_SHAPE,),
        extra={"verified_by": "mask identities", "p_is": p_is},
    )


def dropout_backward(p_is: PIs = "keep") -> Spec:
    return Spec(
        name="dropout_backward",
        module="layers",
        api="function",
        cases=backward_cases,
        fixed_cases=backward_fixed,
        scale_cases=dropout_scale,
        program=backward_program,
        expected=backward_expected(p_is),
        checks=(
            Check(
                "dx",
                atol=1e-12,
                rtol=1e-7,
                compare=masked_gradient_rule,
                description="dout through the forward's mask: dout * out / x",
            ),
            Check(
                "dx_test",
                atol=0.0,
                rtol=1e-12,
                compare=equals_rule("dx_test", "dout"),
                description="test mode passes dout through",
            ),
            Check("shape", points=0.0, compare=shape_rule(("dx", "dx_test")),
                  description="dx has dout's shape in both modes (scored on a 4-D dout: robust:any_shape)"),
        ),
        diagnoses=(MASK_NOT_APPLIED,),
        convention=_convention(p_is),
        depends_on=("dropout_forward",),
        read_only=("x", "dout"),
        max_examples=8,
        robustness=(BACKWARD_ANY_SHAPE,),
        extra={"verified_by": "mask identities", "p_is": p_is},
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "dropout_forward": dropout_forward,
    "dropout_backward": dropout_backward,
}
