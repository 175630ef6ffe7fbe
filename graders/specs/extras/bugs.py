"""The extras' diagnoses, each with the bug it names (``Diagnosis.bug``: the reference with that mistake put in;
tests/reference/test_spec_fields.py checks that each fires on its bug and stays silent on the reference).

Convolutions: most bugs are the right layer run with a wrong geometry (dilation 1, stride and dilation swapped,
stride 1, pad counted once) or a wrong kernel or bias. :func:`bug_model` names one when every failing run that
answered has exactly the model's outputs, at least one does, and the bug shows on every failing case; a run
that raised says nothing (the buggy geometry often walks past the padded input), and neither does a case the
buggy geometry cannot convolve at all. adapt_input_conv: bug models of timm's rule (kit/detectors.py's
``variant_diagnosis``), compared at the float32 arithmetic the rule is computed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graders.specs.base import Case, CaseRun, Diagnosis
from graders.specs.extras.truth import adapted, conv_outputs
from graders.specs.kit.detectors import WINDOW_ATOL, Detector, close, fit, off_by_batch_size, variant_diagnosis
from graders.specs.kit.windows import conv_dout_shape, conv_geometry

Outputs = dict[str, Any]
#: A bug model: the buggy code's outputs on a case, or None where it has none to compare (its geometry does not
#: fit the input).
Model = Callable[[Case], Outputs | None]


# ---------------------------------------------------------------- convolutions
def conv_diagnoses(*, backward: bool) -> tuple[Diagnosis, ...]:
    """The forward's six diagnoses (they read out) or the backward's seven (dx, dw, db)."""
    reads = ("dx", "dw", "db") if backward else ("out",)
    found = [
        _diagnosis(
            "dilation_ignored",
            "The dilation is ignored: the results are an undilated convolution's. A kernel's taps are dilation "
            "apart: w[..., k] multiplies xpad[..., i*stride + k*dilation], so a window spans dilation*(K - 1) + 1 "
            "entries" + (" (in the backward too: dout goes back to that dilated window, and dw is taken from it)."
                         if backward else "."),
            geometry(lambda p: {**p, "dilation": 1}), reads, crop=not backward,
        ),
        _diagnosis(
            "stride_dilation_swapped",
            "Stride and dilation are swapped: the results are a convolution's with stride conv_param['dilation'] "
            "and dilation conv_param['stride']. The stride is the step between windows (i*stride), the dilation "
            "the step between a kernel's taps (k*dilation).",
            geometry(lambda p: {**p, "stride": p["dilation"], "dilation": p["stride"]}), reads, crop=not backward,
        ),
        _diagnosis(
            "stride_ignored",
            "The stride is ignored: the results match a convolution with stride 1; window i starts at i*stride.",
            geometry(lambda p: {**p, "stride": 1}), reads, crop=not backward,
        ),
        _diagnosis(
            "pad_counted_once",
            "The padding is counted once: the output has 1 + (L + pad - extent) // stride positions along an axis "
            "instead of 1 + (L + 2*pad - extent) // stride (extent = dilation*(K - 1) + 1). Pad zeros on both "
            "sides of every spatial axis, and size the output from the padded length.",
            pad_counted_once, reads,
        ),
        _diagnosis(
            "kernel_flipped",
            "The kernel is flipped: you computed a true convolution; the layer is a cross-correlation (w[..., k] "
            "multiplies xpad[..., i*stride + k*dilation], k counting up with the input position).",
            kernel_flipped, reads,
        ),
        _diagnosis(
            "missing_bias",
            "The bias is missing: out lacks + b[f], or db is not the sum of dout over N and every output position.",
            missing_bias, reads,
        ),
    ]
    if backward:
        found.append(Diagnosis(
            "dw_db_factor_n",
            "dw or db is off by a factor of N: sum over the batch, do not average (or average twice).",
            off_by_batch_size, reads=reads, bug=averaged_over_the_batch,
        ))
    return tuple(found)


def _diagnosis(name: str, sentence: str, model: Model, reads: tuple[str, ...], *, crop: bool = False) -> Diagnosis:
    """A Diagnosis naming ``model``'s bug, judged on ``reads`` and carrying the model (restricted to them)."""

    def bug(case: Case) -> Outputs:
        outputs = model(case) or {}
        return {k: v for k, v in outputs.items() if k in reads}

    return Diagnosis(name, sentence, bug_model(model, reads, crop=crop), reads=reads, bug=bug)


def bug_model(model: Model, reads: Sequence[str], *, crop: bool = False) -> Detector:
    """Every failing run that answered, where the model has outputs, has exactly them (``crop``: a forward's
    out may be the leading corner of the model's, loops over the right number of positions with the wrong
    windows); at least one such run; and no failing run on a case where the model gives the right answer."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        seen = False
        for run in (r for r in runs if r.failed):
            buggy = model(run.case)
            if buggy == {}:
                return False  # the bug would not show on this case: something else is wrong
            if buggy is None or run.error is not None or not run.actual:
                continue
            names = [k for k in reads if k in buggy and k in run.actual]
            if not names or not all(close(run.actual[k], buggy[k], atol=WINDOW_ATOL, crop=crop and k == "out")
                                    for k in names):
                return False
            seen = True
        return seen

    return applies


def _with_param(case: Case, conv_param: Mapping[str, Any]) -> Case | None:
    """The case with another conv_param and dout fitted to its output (cut or zero-extended, as loops over the
    right number of positions read it); None where that geometry does not fit the input."""
    changed = {**case, "conv_param": dict(conv_param)}
    try:
        shape = conv_dout_shape(changed)
    except ValueError:
        return None
    return {**changed, "dout": fit(case["dout"], shape)}


def geometry(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Model:
    """The layer run with ``change(conv_param)``: {} where that is the case's own geometry."""

    def model(case: Case) -> Outputs | None:
        params = change(dict(case["conv_param"]))
        if params == case["conv_param"]:
            return {}
        changed = _with_param(case, params)
        return None if changed is None else conv_outputs(changed)

    return model


def pad_counted_once(case: Case) -> Outputs | None:
    """Output positions counted with one pad: out is the right out's leading corner, and a backward that counts
    the same way leaves the gradient of every later position out."""
    stride, pad, dilation = conv_geometry(case)
    sizes = tuple((n + pad - dilation * (k - 1) - 1) // stride + 1
                  for n, k in zip(case["x"].shape[2:], case["w"].shape[2:], strict=True))
    full = tuple(case["dout"].shape[2:])
    if sizes == full:
        return {}
    if min(sizes) < 1:
        return None
    kept = np.zeros_like(case["dout"])
    corner = (slice(None), slice(None), *(slice(0, s) for s in sizes))
    kept[corner] = case["dout"][corner]
    outputs = conv_outputs({**case, "dout": kept})
    return {**outputs, "out": outputs["out"][corner]}


def _spatial(array: np.ndarray) -> tuple[int, ...]:
    return tuple(range(2, array.ndim))


def kernel_flipped(case: Case) -> Outputs | None:
    """A true convolution: the reference on the kernel turned around every spatial axis (dw turned back)."""
    w = case["w"]
    if all(k == 1 for k in w.shape[2:]):
        return {}
    outputs = conv_outputs({**case, "w": np.ascontiguousarray(np.flip(w, _spatial(w)))})
    return {**outputs, "dw": np.flip(outputs["dw"], _spatial(w))}


def missing_bias(case: Case) -> Outputs:
    """out without + b, and db = 0."""
    outputs = conv_outputs({**case, "b": np.zeros_like(case["b"])})
    return {**outputs, "db": np.zeros_like(outputs["db"])}


def averaged_over_the_batch(case: Case) -> Outputs:
    n = case["x"].shape[0]
    if n == 1:
        return {}
    right = conv_outputs(case)
    return {"dw": right["dw"] / n, "db": right["db"] / n}


# ---------------------------------------------------------------- adapt_input_conv
#: How close a student's weight must be to a bug model's: the rule is computed in float32 (timm's), a student's
#: float64 arithmetic differs by ~1e-7 relative; every bug here changes entries by whole factors or moves them.
ADAPT_RTOL, ADAPT_ATOL = 1e-5, 1e-6


def _tiled(case: Case, scale: float, *, repeat: bool = False) -> np.ndarray:
    """The RGB weight spread over in_chans channels (cyclically, or each channel repeated), times ``scale``."""
    w = case["conv_weight"].astype(np.float64)
    c = case["in_chans"]
    copies = -(-c // 3)
    spread = np.repeat(w, copies, axis=1) if repeat else np.tile(w, (1, copies, 1, 1))
    return spread[:, :c] * scale


def _tiling(make: Callable[[Case], np.ndarray]) -> Callable[[Case], dict[str, Any] | None]:
    """A bug of the tiling branch (in_chans other than 1 and 3): None on the other branches."""
    return lambda case: None if case["in_chans"] in (1, 3) else {"weight": make(case)}


def _grey(make: Callable[[np.ndarray], np.ndarray]) -> Callable[[Case], dict[str, Any] | None]:
    """A bug of the in_chans = 1 branch: None on the others."""
    return lambda case: None if case["in_chans"] != 1 else {"weight": make(case["conv_weight"].astype(np.float64))}


def adapt_diagnoses() -> tuple[Diagnosis, ...]:
    reads = ("weight",)
    return (
        variant_diagnosis(
            "no_rescale",
            "The 3 / in_chans rescaling is missing: the RGB filters tiled over in_chans channels must be multiplied "
            "by 3 / in_chans, so that an input whose every channel carries an RGB-like signal keeps the "
            "activation's size.",
            _tiling(lambda case: _tiled(case, 1.0)), reads, rtol=ADAPT_RTOL, atol=ADAPT_ATOL),
        variant_diagnosis(
            "rescale_inverted",
            "The rescaling is upside down: multiply the tiled filters by 3 / in_chans, not in_chans / 3.",
            _tiling(lambda case: _tiled(case, case["in_chans"] / 3)), reads, rtol=ADAPT_RTOL, atol=ADAPT_ATOL),
        variant_diagnosis(
            "repeated_not_tiled",
            "The channels are repeated, not tiled: adapted channel j must be RGB channel j % 3 (R, G, B, R, G, B, "
            "..., np.tile), not each channel repeated in place (R, R, G, G, ..., np.repeat).",
            _tiling(lambda case: _tiled(case, 3 / case["in_chans"], repeat=True)), reads,
            rtol=ADAPT_RTOL, atol=ADAPT_ATOL),
        variant_diagnosis(
            "grey_averaged",
            "For in_chans = 1 the RGB filters are averaged; timm sums them (w.sum(axis=1, keepdims=True)), so a "
            "grey image gives the response the original filters give to it replicated on R, G and B.",
            _grey(lambda w: w.mean(axis=1, keepdims=True)), reads, rtol=ADAPT_RTOL, atol=ADAPT_ATOL),
        variant_diagnosis(
            "grey_tiled",
            "in_chans = 1 went through the tiling branch (the red filter times 3); for one channel timm sums the "
            "RGB filters instead: w.sum(axis=1, keepdims=True).",
            _grey(lambda w: w[:, :1] * 3.0), reads, rtol=ADAPT_RTOL, atol=ADAPT_ATOL),
        Diagnosis(
            "dtype_changed",
            "The adapted weight's dtype is not conv_weight's: cast the result back (timm computes in float32 and "
            "returns the weight in the dtype it was given).",
            dtype_changed, reads=reads, bug=as_other_dtype,
        ),
    )


def dtype_changed(runs: Sequence[CaseRun]) -> bool:
    """Some run's dtype check failed on a weight of the right values."""
    return any(r.failed_on("dtype") and not r.failed_on("weight") for r in runs)


def as_other_dtype(case: Case) -> Outputs:
    """The right weight in float64 where conv_weight is float32 and the other way round."""
    weight = case["conv_weight"]
    other = np.float64 if weight.dtype == np.float32 else np.float32
    return {"weight": np.asarray(adapted(case)["weight"]).astype(other)}
