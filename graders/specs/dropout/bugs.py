"""Known dropout bugs: each a detector over the evidence, the outputs it reads, and the buggy reference it
names (built from the reference's own masks, so that the generated test can check that the detector fires on
exactly that bug and stays silent on the right answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graders.specs.base import Case, CaseRun, Diagnosis
from graders.specs.dropout.cases import PIs, keep_probability
from graders.specs.dropout.programs import TRAIN_OUTPUTS, as_keep, forward_reference
from graders.specs.kit.masks import (
    identical_masks,
    patterned,
    patterned_sentence,
    rate_is_complement,
    shared_by_batch,
    shared_sentence,
    train_out,
)
from reference import cs231n as R

Bug = Callable[[Case], Mapping[str, Any]]
#: The hand-out's way to draw a mask, quoted in the sentences.
CS231N_DRAW = "np.random.rand(*x.shape) < p"


def forward_diagnoses(p_is: PIs) -> tuple[Diagnosis, ...]:
    other: PIs = "drop" if p_is == "keep" else "keep"
    return (
        Diagnosis(
            "not inverted",
            "Kept units come out unchanged: cs231n's dropout is inverted, so in train mode divide the kept "
            "units by the keep probability (then test mode needs no scaling).",
            _not_inverted, reads=("out",), bug=_unscaled(p_is)),
        Diagnosis(
            f"p taken as {other} probability",
            f"The keep rate matches 1 - p: in this hand-out dropout_param['p'] is the probability to "
            f"{p_is} a unit, but the code treats it as the probability to {other} one.",
            rate_is_complement(lambda case: keep_probability(case, p_is)), reads=("out",),
            bug=_train_outputs(forward_reference(other))),
        Diagnosis(
            "seed ignored",
            "The same dropout_param gives a different mask on every call: when a 'seed' is given, call "
            "np.random.seed(dropout_param['seed']) before drawing the mask (the notebook's gradient check "
            "depends on it).",
            _seed_ignored, reads=("out", "out_again"), bug=_reseeded(p_is)),
        Diagnosis(
            "same mask for every seed",
            "Two different seeds give the very same mask: seed with dropout_param['seed'] itself (not a fixed "
            "number) and then draw the mask at random; a fixed pattern is not dropout.",
            identical_masks("out", "out_other", "seed_varies"), reads=("out", "out_other"),
            bug=lambda case: {"out_other": forward_reference(p_is)(case)["out"]}),
        Diagnosis("mask shared by the batch", shared_sentence(CS231N_DRAW), shared_by_batch(), reads=("out",),
                  bug=_first_row_for_all(p_is)),
        Diagnosis("mask not uniform", patterned_sentence(CS231N_DRAW), patterned(), reads=("out",),
                  bug=_first_units(p_is)),
    )


def backward_diagnoses() -> tuple[Diagnosis, ...]:
    return (
        Diagnosis(
            "mask not applied in backward",
            "dx equals dout in train mode: the backward pass must multiply dout by the same mask (and scale) "
            "that the forward pass applied.",
            _mask_not_applied, reads=("dx",), bug=lambda case: {"dx": case["dout"].copy()}),
    )


# ---------------------------------------------------------------- detectors
def _not_inverted(runs: Sequence[CaseRun]) -> bool:
    """Kept units pass unchanged (out == x where kept) on every failing scale check, and some scale check
    fails."""
    seen = False
    for run in runs:
        out = train_out(run)
        if not run.failed_on("scale") or out is None:
            continue
        kept = out != 0
        if not np.any(kept) or not np.allclose(out[kept], run.case["x"][kept], rtol=1e-7, atol=0.0):
            return False
        seen = True
    return seen


def _seed_ignored(runs: Sequence[CaseRun]) -> bool:
    return any(r.failed_on("same_seed") and "different outputs" in r.verdicts["same_seed"].message for r in runs)


def _mask_not_applied(runs: Sequence[CaseRun]) -> bool:
    bad = [r for r in runs if r.failed_on("dx")]
    return bool(bad) and all(
        np.array_equal(np.asarray(r.actual.get("dx"), dtype=np.float64), r.case["dout"]) for r in bad)


# ---------------------------------------------------------------- bug models: the reference's masks, misused
def _train_outputs(reference: Callable[[Case], Mapping[str, Any]]) -> Bug:
    """The train-mode outputs of another reference (the other reading of p)."""
    return lambda case: {k: v for k, v in reference(case).items() if k in TRAIN_OUTPUTS}


def _remasked(p_is: PIs, mask: Callable[[Case, np.ndarray], np.ndarray], scale: Callable[[Case], float]) -> Bug:
    """Each train-mode output rebuilt as x * mask(case, the reference's kept units) * scale(case)."""

    def bug(case: Case) -> Mapping[str, Any]:
        right = forward_reference(p_is)(case)
        return {k: case["x"] * mask(case, right[k] != 0) * scale(case) for k in TRAIN_OUTPUTS}

    return bug


def _unscaled(p_is: PIs) -> Bug:
    """The reference's masks without the 1 / keep (not inverted)."""
    return _remasked(p_is, lambda case, kept: kept, lambda case: 1.0)


def _first_row_for_all(p_is: PIs) -> Bug:
    """The first example's mask for the whole batch (drawn with shape (1, D) and broadcast)."""
    return _remasked(p_is, lambda case, kept: kept[:1], lambda case: 1.0 / keep_probability(case, p_is))


def _first_units(p_is: PIs) -> Bug:
    """The first keep * size units kept, the same for every call."""

    def mask(case: Case, kept: np.ndarray) -> np.ndarray:
        return (np.arange(kept.size) < keep_probability(case, p_is) * kept.size).reshape(kept.shape)

    return _remasked(p_is, mask, lambda case: 1.0 / keep_probability(case, p_is))


def _reseeded(p_is: PIs) -> Bug:
    """The second call with the same dropout_param draws from another seed (the seed was not used)."""

    def bug(case: Case) -> Mapping[str, Any]:
        param = as_keep(case["dropout_param"], p_is)
        return {"out_again": R.dropout_forward(case["x"], {**param, "seed": param["seed"] + 1})[0]}

    return bug
