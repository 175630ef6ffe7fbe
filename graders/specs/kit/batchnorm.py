"""Batch norm's bug model, one for both traditions: cs231n's ``batchnorm_forward`` and
``spatial_batchnorm_forward`` (graders/specs/normalization/) and the book's ``BatchNormalization``
(graders/specs/dlfs/batchnorm.py).

A known bug is data (:class:`BatchNormBug`; its default instance is the correct layer) and
:func:`buggy_forward` runs the layer the way the hand-out grades it (several train-mode batches, then one
test-mode batch) with that bug put in. What differs between hand-outs is a :class:`Convention`: where eps and
momentum come from (cs231n's ``bn_param``, the book's constructor and constant), and how a 4-D input becomes
rows (cs231n: one column per channel; the book: one column per activation, ``x.reshape(N, -1)``).
:func:`batchnorm_diagnosis` turns a bug (or several readings of one) into a ``Diagnosis`` whose ``bug`` is
that buggy forward, so the registry test can check that the detector fires on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from graders.specs.base import Case, CaseRun, Diagnosis
from graders.specs.kit.detectors import Lookup, matches_variant, plain_lookup
from reference.functional import normalization as NORM

#: Where eps goes: inside the square root (right), left out, outside the square root, or the hand-out's
#: default used although the case sets another.
EpsBug = Literal["inside", "ignored", "outside", "default"]
#: How an input becomes the rows whose columns are normalised: "per_channel" (cs231n: a 2-D x as it is, a 4-D
#: x one column per channel) or "per_activation" (the book: ``x.reshape(N, -1)``).
Flattening = Literal["per_channel", "per_activation"]
#: The outputs of :func:`buggy_forward`.
Outputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class BatchNormBug:
    """One known way to get batch norm's forward wrong; the default instance is the correct layer."""

    momentum_swapped: bool = False
    unbiased_running_var: bool = False
    #: the unbiased variance (ddof=1) used everywhere: to normalise and in the running variance
    unbiased_variance: bool = False
    restarts_running_stats: bool = False
    test_uses_batch_stats: bool = False
    eps: EpsBug = "inside"
    #: a 4-D (N, C, H, W) x reshaped straight to (N*H*W, C), mixing channels (per-channel flattening only)
    spatial_plain_reshape: bool = False


@dataclass(frozen=True)
class Convention:
    """What a hand-out's batch norm reads and how it lays out its input."""

    #: (eps, momentum) the case asks for, defaults filled in.
    settings: Callable[[Case], tuple[float, float]]
    #: The eps a layer uses when it ignores the one the case sets (``BatchNormBug(eps="default")``).
    default_eps: float
    flattening: Flattening


def _normalize(rows: np.ndarray, mean: np.ndarray, var: np.ndarray, eps: float, bug: EpsBug,
               default_eps: float) -> np.ndarray:
    centered = rows - mean
    if bug == "ignored":
        return centered / np.sqrt(var)
    if bug == "outside":
        return centered / (np.sqrt(var) + eps)
    return centered / np.sqrt(var + (default_eps if bug == "default" else eps))


def buggy_forward(case: Case, bug: BatchNormBug, convention: Convention) -> Outputs:
    """What a batch-norm forward with ``bug`` returns on a forward case (train batches ``xs``, test batch
    ``x_test``, ``gamma``, ``beta``): the first train output, the running statistics after the train calls,
    and the test output."""
    eps, momentum = convention.settings(case)
    if bug.momentum_swapped:
        momentum = 1.0 - momentum
    gamma, beta = case["gamma"], case["beta"]
    width = gamma.shape[0]
    per_activation = convention.flattening == "per_activation"
    plain = bug.spatial_plain_reshape

    def to_rows(x: np.ndarray) -> np.ndarray:
        if per_activation:
            return x.reshape(x.shape[0], -1)
        if x.ndim == 2:
            return x
        return x.reshape(-1, width) if plain else NORM.channels_last_rows(x)

    def from_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        if per_activation or len(shape) == 2 or plain:
            return rows.reshape(shape)
        return NORM.channels_first_from_rows(rows, shape)

    def normalize(rows: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        return _normalize(rows, mean, var, eps, bug.eps, convention.default_eps)

    running_mean, running_var = np.zeros(width), np.zeros(width)
    outs = []
    for x in case["xs"]:
        rows = to_rows(x)
        mean, var = rows.mean(axis=0), rows.var(axis=0, ddof=1 if bug.unbiased_variance else 0)
        outs.append(from_rows(gamma * normalize(rows, mean, var) + beta, x.shape))
        if bug.unbiased_running_var:
            var = var * rows.shape[0] / (rows.shape[0] - 1)
        if bug.restarts_running_stats:
            running_mean, running_var = np.zeros(width), np.zeros(width)
        running_mean = momentum * running_mean + (1.0 - momentum) * mean
        running_var = momentum * running_var + (1.0 - momentum) * var
    rows = to_rows(case["x_test"])
    if bug.test_uses_batch_stats:
        normalized = normalize(rows, rows.mean(axis=0), rows.var(axis=0))
    else:
        normalized = normalize(rows, running_mean, running_var)
    return {
        "out": outs[0],
        "running_mean": running_mean,
        "running_var": running_var,
        "out_test": from_rows(gamma * normalized + beta, case["x_test"].shape),
    }


def batchnorm_diagnosis(
    name: str,
    sentence: str,
    *,
    convention: Convention,
    readings: Sequence[tuple[BatchNormBug, Sequence[str]]],
    lookup: Lookup = plain_lookup,
    as_outputs: Callable[[Case, Outputs], Mapping[str, Any]] = lambda case, outputs: outputs,
) -> Diagnosis:
    """Applies when the failing outputs match one of ``readings`` (a bug and the outputs it is recognised by:
    one bug can show in all its outputs, or only in some, when the test-mode branch is separate code).

    ``lookup`` reads an output from what the student returned; ``as_outputs`` lays the buggy forward's outputs
    out the way the spec's program returns them (the diagnosis's ``bug``, after the first reading)."""

    def variant(bug: BatchNormBug) -> Callable[[Case], Outputs]:
        return lambda case: buggy_forward(case, bug, convention)

    def applies(runs: Sequence[CaseRun]) -> bool:
        return any(matches_variant(runs, variant(bug), outputs, lookup=lookup) for bug, outputs in readings)

    first = readings[0][0]
    reads = tuple(dict.fromkeys(o for _, outputs in readings for o in outputs))
    return Diagnosis(name, sentence, applies, reads=reads,
                     bug=lambda case: as_outputs(case, buggy_forward(case, first, convention)))
