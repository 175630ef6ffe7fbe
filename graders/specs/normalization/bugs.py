"""The normalisation layers' known bugs and the diagnoses that name them.

Batch norm's forward bugs are data: one ``BatchNormBug`` each (graders/specs/kit/batchnorm.py, the model the
book's BatchNormalization shares), recognised when the student's failing outputs equal the buggy forward's.
The backwards' bugs are whole factors (the count of values behind each statistic missing or applied twice,
dgamma averaged); layer and group norm have one bug model each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graders.specs.base import Case, CaseRun, Diagnosis
from graders.specs.kit.batchnorm import BatchNormBug, Convention, Outputs, batchnorm_diagnosis
from graders.specs.kit.detectors import close, scaled_diagnosis, variant_diagnosis
from graders.specs.kit.rules import as_numeric
from graders.specs.normalization.cases import DEFAULT_EPS, bn_settings, eps_of
from graders.specs.normalization.grading import TRAINED_PARAM, stored_lookup
from reference.functional import normalization as NORM

#: cs231n's batch norm: eps and momentum from bn_param, a 4-D input normalised per channel.
CS231N = Convention(settings=bn_settings, default_eps=DEFAULT_EPS, flattening="per_channel")


def _as_program_outputs(case: Case, outputs: Outputs) -> dict[str, Any]:
    """A buggy forward's outputs as the program fetches them: the running statistics in bn_param's snapshot."""
    trained = {**case["bn_param"], "running_mean": outputs["running_mean"], "running_var": outputs["running_var"]}
    return {"out": outputs["out"], "out_test": outputs["out_test"], TRAINED_PARAM: trained}


def _bn_bug(name: str, sentence: str, bug: BatchNormBug, outputs: Sequence[str]) -> Diagnosis:
    return batchnorm_diagnosis(name, sentence, convention=CS231N, readings=((bug, tuple(outputs)),),
                               lookup=stored_lookup, as_outputs=_as_program_outputs)


def _running_stats_missing(runs: Sequence[CaseRun]) -> bool:
    return any(
        r.failed_on("running_mean", "running_var")
        and any(stored_lookup(r, k) is None for k in ("running_mean", "running_var"))
        for r in runs
    )


BATCHNORM_FORWARD_DIAGNOSES = (
    _bn_bug(
        "momentum swapped",
        "The running statistics use the momentum the wrong way round: the update is "
        "running = momentum * running + (1 - momentum) * batch, so momentum 0.9 keeps 90% of the old value.",
        BatchNormBug(momentum_swapped=True),
        ("running_mean", "running_var"),
    ),
    _bn_bug(
        "unbiased running variance",
        "running_var is built from the unbiased variance (divided by N - 1); cs231n uses the biased batch "
        "variance (divided by N), the same one used to normalise.",
        BatchNormBug(unbiased_running_var=True),
        ("running_var",),
    ),
    _bn_bug(
        "normalised with the unbiased variance",
        "x is normalised with the unbiased variance (divided by N - 1, as np.var(..., ddof=1) or "
        "pandas compute it); batch norm divides by N: use np.var(x, axis=0) or the mean of the squared "
        "deviations.",
        BatchNormBug(unbiased_variance=True),
        ("out",),
    ),
    Diagnosis(
        "running statistics not stored",
        "bn_param holds no running_mean / running_var after the calls: write the updated running statistics "
        "back into bn_param (bn_param['running_mean'] = ...) so the next call and test mode can use them.",
        _running_stats_missing,
        reads=("running_mean", "running_var"),
        bug=lambda case: {TRAINED_PARAM: dict(case["bn_param"])},
    ),
    _bn_bug(
        "running statistics restarted",
        "The running statistics start again from zero on every call: read them from bn_param "
        "(bn_param.get('running_mean', zeros)) and update what is there.",
        BatchNormBug(restarts_running_stats=True),
        ("running_mean", "running_var"),
    ),
    _bn_bug(
        "test mode uses batch statistics",
        "In test mode the output is normalised with the test batch's own mean and variance; it must use the "
        "running mean and variance accumulated in train mode.",
        BatchNormBug(test_uses_batch_stats=True),
        ("out_test",),
    ),
    _bn_bug(
        "eps ignored",
        "The output matches normalising by sqrt(var) without eps: divide by sqrt(var + eps).",
        BatchNormBug(eps="ignored"),
        ("out",),
    ),
    _bn_bug(
        "eps outside the square root",
        "The output matches (x - mean) / (sqrt(var) + eps): eps belongs inside the square root, "
        "sqrt(var + eps).",
        BatchNormBug(eps="outside"),
        ("out",),
    ),
    _bn_bug(
        "eps from bn_param ignored",
        "The output matches eps = 1e-5 although bn_param sets another eps: read it with "
        "bn_param.get('eps', 1e-5).",
        BatchNormBug(eps="default"),
        ("out",),
    ),
)

SPATIAL_RESHAPE = _bn_bug(
    "channels not moved last",
    "The output matches reshaping x (N, C, H, W) straight to (N*H*W, C), which mixes channels: move the "
    "channel axis last first (x.transpose(0, 2, 3, 1).reshape(-1, C)) and undo both afterwards.",
    BatchNormBug(spatial_plain_reshape=True),
    ("out",),
)


# ---------------------------------------------------------------- backwards: whole factors
def count_diagnoses(*, count: Callable[[Case], float], what: str,
                    reference: Callable[[Case], dict[str, Any]]) -> tuple[Diagnosis, ...]:
    """dx off by the number of values behind each statistic (``count``, in words ``what``), or dgamma / dbeta
    averaged instead of summed; ``reference`` is the spec's expected (the bugs scale it)."""
    return (
        scaled_diagnosis(
            "dx off by the count",
            f"dx is {what} times too large: the 1/{what} of the mean (and of the variance) is missing from "
            "some term of the backward pass.",
            ("dx",),
            count,
            reference=reference,
        ),
        scaled_diagnosis(
            "dx divided by the count",
            f"dx is {what} times too small: the 1/{what} was applied twice.",
            ("dx",),
            lambda case: 1.0 / count(case),
            reference=reference,
        ),
        scaled_diagnosis(
            "dgamma averaged",
            f"dgamma / dbeta are {what} times too small: they are sums over the {what} values, not means.",
            ("dgamma", "dbeta"),
            lambda case: 1.0 / count(case),
            reference=reference,
        ),
    )


def rows(case: Case) -> float:
    return float(case["x"].shape[0])


def pixels(case: Case) -> float:
    n, _, h, w = case["x"].shape
    return float(n * h * w)


def features(case: Case) -> float:
    return float(case["x"].shape[1])


def group_size(case: Case) -> float:
    _, c, h, w = case["x"].shape
    return float(c // case["G"] * h * w)


# ---------------------------------------------------------------- layer and group norm
def _layernorm_as_batchnorm(case: Case) -> dict[str, Any]:
    out, _, _, _ = NORM.batchnorm_train(case["x"], case["gamma"], case["beta"], eps_of(case["ln_param"]))
    return {"out": out}


LAYERNORM_OVER_BATCH = variant_diagnosis(
    "layer norm over the batch",
    "The output is normalised over the batch (per feature, as batch norm does); layer norm normalises each "
    "example over its own features.",
    _layernorm_as_batchnorm,
    ("out",),
)


def _dgamma_flat(runs: Sequence[CaseRun]) -> bool:
    for run in runs:
        if not run.failed_on("dgamma", "dbeta"):
            continue
        for name in ("dgamma", "dbeta"):
            got, want = as_numeric(run.actual.get(name)), np.asarray(run.expected[name])
            if got is not None and got.shape == (want.size,) and close(got, want.reshape(-1)):
                return True
    return False


def _flat_gradients(reference: Callable[[Case], dict[str, Any]]) -> Callable[[Case], dict[str, Any]]:
    return lambda case: {name: np.asarray(reference(case)[name]).reshape(-1) for name in ("dgamma", "dbeta")}


def groupnorm_flat_dgamma(reference: Callable[[Case], dict[str, Any]]) -> Diagnosis:
    return Diagnosis(
        "dgamma of shape (C,)",
        "dgamma / dbeta have shape (C,) with the right values: group norm's gamma and beta have shape "
        "(1, C, 1, 1), so sum with keepdims=True (or reshape) to return gradients of that shape.",
        _dgamma_flat,
        reads=("dgamma", "dbeta"),
        bug=_flat_gradients(reference),
    )
