"""Specs of cs231n's dropout: rules about the mask, not equality with one particular mask.

A correct dropout may draw its mask with ``np.random.rand(...) < p``, ``np.random.binomial``, a Generator, in
any order: only the distribution and the consistency are graded.

  forward:  the keep rate is within a binomial tolerance of the keep probability (x has >= 40 000 entries);
            every kept entry is x scaled by exactly 1 / keep (inverted dropout), every other entry is 0;
            two calls with the same ``dropout_param`` (same seed) give the same output;
            test mode returns x unchanged.
  backward: dx = dout * out / x, i.e. the upstream gradient through the student's own forward mask
            (x is kept at least 0.5 away from 0 so the mask can be read off the output); test mode: dx = dout.

Factory option ``p_is``: "keep" (cs231n since 2018, the default) or "drop" (2016-17 hand-outs), the meaning
of ``dropout_param['p']``. The reference is checked against the same rules (and torch against them in the
tests), so these specs are marked ``verified_by: "mask identities"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st

from graders.checks import as_numeric, compare_arrays
from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, CompareFn, Diagnosis, Spec, Verdict
from graders.specs.program import Input, Item, Program, Result, call
from graders.specs.variants import failed_on
from reference import cs231n as R

PIs = Literal["keep", "drop"]
#: Standard deviations of the binomial keep count allowed between the keep rate and the keep probability.
SIGMAS = 6.0


# ---------------------------------------------------------------- cases
def _away_from_zero(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Entries with |x| in [0.5, 3] and random signs: a dropped unit (0) is never confused with a kept one."""
    return S.signed_uniform_arrays(shape, 0.5, 3.0)


def _large_shape() -> st.SearchStrategy[tuple[int, ...]]:
    """2-D (N, D) or 4-D (N, C, H, W) shapes with at least 40 000 entries (a 1% keep-rate resolution)."""
    flat = st.tuples(st.integers(200, 500), st.integers(200, 500))
    spatial = st.tuples(st.integers(10, 16), st.integers(16, 24), st.integers(16, 20), st.integers(16, 20))
    return st.one_of(flat, spatial)


@st.composite
def dropout_cases(draw: st.DrawFn) -> Case:
    shape = draw(_large_shape())
    p = draw(S.floats(0.05, 0.95))
    return {
        "x": draw(_away_from_zero(shape)),
        "dout": draw(S.seeded_arrays(shape)),
        "dropout_param": {"mode": "train", "p": p, "seed": draw(st.integers(0, 2**31 - 1))},
        "test_param": {"mode": "test", "p": p},
    }


def dropout_fixed() -> list[Case]:
    """The notebook's check: x = randn(500, 500) + 10 for p in 0.25, 0.4, 0.7, seed 123."""
    rng = np.random.RandomState(231)
    x = rng.randn(500, 500) + 10
    dout = rng.randn(500, 500)
    return [
        {
            "x": x,
            "dout": dout,
            "dropout_param": {"mode": "train", "p": p, "seed": 123},
            "test_param": {"mode": "test", "p": p},
        }
        for p in (0.25, 0.4, 0.7)
    ]


# ---------------------------------------------------------------- reference
def keep_probability(case: Case, p_is: PIs) -> float:
    p = float(case["dropout_param"]["p"])
    return p if p_is == "keep" else 1.0 - p


def _as_keep(param: Mapping[str, Any], p_is: PIs) -> dict[str, Any]:
    """The hand-out's dropout_param in the reference's convention (p = keep probability)."""
    return {**param, "p": param["p"] if p_is == "keep" else 1.0 - param["p"]}


def forward_expected(p_is: PIs) -> Callable[[Case], dict[str, Any]]:
    def expected(case: Case) -> dict[str, Any]:
        x = case["x"]
        out, _ = R.dropout_forward(x, _as_keep(case["dropout_param"], p_is))
        again, _ = R.dropout_forward(x, _as_keep(case["dropout_param"], p_is))
        test, _ = R.dropout_forward(x, _as_keep(case["test_param"], p_is))
        return {"out": out, "out_again": again, "out_test": test}

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
    """Train mode twice with the same dropout_param (same seed), then test mode."""
    return Program(
        steps=(
            call("train", "layers", "dropout_forward", Input("x"), Input("dropout_param")),
            call("again", "layers", "dropout_forward", Input("x"), Input("dropout_param")),
            call("test", "layers", "dropout_forward", Input("x"), Input("test_param")),
        ),
        outputs={
            "out": Item(Result("train"), 0),
            "out_again": Item(Result("again"), 0),
            "out_test": Item(Result("test"), 0),
        },
    )


def backward_program(case: Case) -> Program:
    """The student's backward through their own train-mode and test-mode forward caches."""
    return Program(
        steps=(
            call("train", "layers", "dropout_forward", Input("x"), Input("dropout_param")),
            call("bwd", "layers", "dropout_backward", Input("dout"), Item(Result("train"), 1)),
            call("test", "layers", "dropout_forward", Input("x"), Input("test_param")),
            call("bwd_test", "layers", "dropout_backward", Input("dout"), Item(Result("test"), 1)),
        ),
        outputs={"out": Item(Result("train"), 0), "dx": Result("bwd"), "dx_test": Result("bwd_test")},
    )


# ---------------------------------------------------------------- rules
def keep_tolerance(keep: float, size: int) -> float:
    """Allowed |keep rate - keep probability|: SIGMAS binomial standard deviations plus one unit."""
    return SIGMAS * math.sqrt(keep * (1.0 - keep) / size) + 1.0 / size


def _array_like_x(case: Case, actual: Mapping[str, Any], name: str) -> np.ndarray | Verdict:
    """The student's output ``name`` as a float64 array of x's shape, or a failing verdict saying why not."""
    value = as_numeric(actual.get(name))
    x = case["x"]
    if value is None:
        return Verdict(
            False, f"{name}: expected an array of shape {x.shape}, got {type(actual.get(name)).__name__}"
        )
    if value.shape != x.shape:
        return Verdict(False, f"{name} has shape {tuple(value.shape)}, expected {x.shape}")
    return value.astype(np.float64)


def keep_rate_rule(p_is: PIs) -> CompareFn:
    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        out = _array_like_x(case, actual, "out")
        if isinstance(out, Verdict):
            return out
        keep = keep_probability(case, p_is)
        rate = np.count_nonzero(out) / out.size
        tol = keep_tolerance(keep, out.size)
        if abs(rate - keep) <= tol:
            return Verdict(True)
        p = case["dropout_param"]["p"]
        return Verdict(
            False,
            f"out keeps {rate:.4f} of the units; with dropout_param['p'] = {p:.4g} ({p_is} probability) the "
            f"keep rate should be {keep:.4f} +- {tol:.4f}",
        )

    return compare


def scale_rule(p_is: PIs) -> CompareFn:
    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        out = _array_like_x(case, actual, "out")
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
    first = _array_like_x(case, actual, "out")
    second = _array_like_x(case, actual, "out_again")
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


def masked_gradient_rule(
    case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check
) -> Verdict:
    """dx = dout * (out / x): the upstream gradient through the same mask and scale as the forward."""
    out = _array_like_x(case, actual, "out")
    if isinstance(out, Verdict):
        return Verdict(False, f"the forward output needed to read the mask: {out.message}")
    return compare_arrays("dx", actual.get("dx"), case["dout"] * (out / case["x"]), check.atol, check.rtol)


# ---------------------------------------------------------------- diagnoses
def _train_out(run: CaseRun) -> np.ndarray | None:
    out = as_numeric(run.actual.get("out"))
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


def _mask_not_applied(runs: Sequence[CaseRun]) -> bool:
    bad = [r for r in runs if failed_on(r, ("dx",))]
    return bool(bad) and all(
        np.array_equal(np.asarray(r.actual.get("dx"), dtype=np.float64), r.case["dout"]) for r in bad
    )


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
    )


MASK_NOT_APPLIED = Diagnosis(
    "mask not applied in backward",
    "dx equals dout in train mode: the backward pass must multiply dout by the same mask (and scale) that "
    "the forward pass applied.",
    _mask_not_applied,
)


# ---------------------------------------------------------------- specs
def _convention(p_is: PIs) -> str:
    return f"dropout_param['p'] = {p_is} probability; inverted; 'seed' makes the mask reproducible"


def dropout_forward(p_is: PIs = "keep") -> Spec:
    return Spec(
        name="dropout_forward",
        module="layers",
        api="function",
        cases=dropout_cases,
        fixed_cases=dropout_fixed,
        program=forward_program,
        expected=forward_expected(p_is),
        checks=(
            Check(
                "keep_rate",
                compare=keep_rate_rule(p_is),
                description=f"fraction of kept units within {SIGMAS:g} binomial sigmas of the keep rate",
            ),
            Check(
                "scale", atol=0.0, rtol=1e-7, compare=scale_rule(p_is), description="kept units are x / keep"
            ),
            Check("same_seed", compare=same_seed_rule, description="the same seed gives the same output"),
            Check(
                "test_identity",
                atol=0.0,
                rtol=1e-12,
                compare=equals_rule("out_test", "x"),
                description="test mode returns x",
            ),
        ),
        diagnoses=forward_diagnoses(p_is),
        convention=_convention(p_is),
        read_only=("x",),
        dtype_preserving=True,
        max_examples=6,
        extra={"verified_by": "mask identities", "p_is": p_is},
    )


def dropout_backward(p_is: PIs = "keep") -> Spec:
    return Spec(
        name="dropout_backward",
        module="layers",
        api="function",
        cases=dropout_cases,
        fixed_cases=dropout_fixed,
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
        ),
        diagnoses=(MASK_NOT_APPLIED,),
        convention=_convention(p_is),
        depends_on=("dropout_forward",),
        read_only=("x", "dout"),
        max_examples=6,
        extra={"verified_by": "mask identities", "p_is": p_is},
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "dropout_forward": dropout_forward,
    "dropout_backward": dropout_backward,
}
