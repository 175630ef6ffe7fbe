"""The convolution specs' diagnoses, each with the bug it names.

A diagnosis is attached only to the specs whose outputs it reads: the forward's ``out`` or the backward's
``dx``, ``dw`` and ``db`` (dw being off by a factor of N says nothing about a forward). Each carries its bug
model (``Diagnosis.bug``): the reference with that mistake put in, returning every output it changes
(tests/reference/test_spec_fields.py checks that the diagnosis fires on it and stays silent on the reference).
The detectors recompute the fast reference on a changed case (kit/windows.py's ``reference_outputs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graders.specs.base import Case, CaseRun, Diagnosis
from graders.specs.kit.detectors import WINDOW_ATOL, close, explained_by, off_by_batch_size, only_when
from graders.specs.kit.tolerances import CONV_SUMS
from graders.specs.kit.windows import conv_dout_shape, conv_settings, out_size, reference_outputs, with_param

Outputs = dict[str, Any]
#: The pads and strides a hard-coding student is found to have used (the notebook's values first).
HARDCODED_PADS = (1, 0, 2)
IGNORED_STRIDES = (1, 2)


def conv_diagnoses(*, backward: bool) -> tuple[Diagnosis, ...]:
    """The forward's six diagnoses, or the backward's eight (two read dw)."""
    outputs = ("dx", "dw", "db") if backward else ("out",)
    found = [
        Diagnosis(
            "breaks_when_pad_is_zero",
            "Breaks when pad = 0: slicing x[pad:-pad] is empty when pad is 0 (use x[pad:H + pad] instead).",
            only_when(lambda case: conv_settings(case)[1] == 0),
            reads=outputs,
            bug=empty_when_pad_is_zero,
        ),
        Diagnosis(
            "wrong_at_padded_border",
            "Wrong only at the padded border: the interior is right, so look at how the input is padded "
            "(zeros on all four sides, pad wide) and at what happens to the padding in the backward pass.",
            wrong_only_at_border,
            reads=("dx",) if backward else ("out",),
            bug=edge_padded,
        ),
    ]
    if backward:
        found.append(Diagnosis(
            "unpadded_at_wrong_offset",
            "dx is the padded input's gradient cut at the wrong place (shifted towards a border): remove pad "
            "rows and columns on every side, dx = dx_pad[:, :, pad:pad + H, pad:pad + W].",
            unpadded_at_wrong_offset,
            reads=("dx", "dw"),
            bug=cut_at_the_corner,
        ))
    found += [
        Diagnosis(
            "pad_hardcoded",
            "The pad is hard-coded: the results match a fixed pad, not conv_param['pad'].",
            pad_hardcoded,
            reads=outputs,
            bug=lambda case: with_geometry(case, "pad", HARDCODED_PADS[0]),
        ),
        Diagnosis(
            "stride_ignored",
            "The stride is ignored: the results match a convolution with a fixed stride, "
            "not conv_param['stride'].",
            stride_ignored,
            reads=outputs,
            bug=lambda case: with_geometry(case, "stride", IGNORED_STRIDES[0]),
        ),
        Diagnosis(
            "kernel_flipped",
            "The kernel is flipped: you computed a true convolution; the layer is a cross-correlation "
            "(w[f, c, ky, kx] multiplies x[..., i*stride + ky, j*stride + kx]).",
            explained_by(reference_outputs, flipped, flip_dw),
            reads=outputs,
            bug=lambda case: flip_dw(reference_outputs(flipped(case) or case)),
        ),
        Diagnosis(
            "missing_bias",
            "The bias is missing: out lacks + b[f], or db is not the sum of dout over N, H' and W'.",
            explained_by(reference_outputs, without_bias, no_db),
            reads=outputs,
            bug=lambda case: no_db(reference_outputs(without_bias(case))),
        ),
    ]
    if backward:
        found.append(Diagnosis(
            "dw_db_factor_n",
            "dw or db is off by a factor of N: sum over the batch, do not average (or average twice).",
            off_by_batch_size,
            reads=outputs,
            bug=averaged_over_the_batch,
        ))
    return tuple(found)


# ---------------------------------------------------------------- detectors
def _border_masks(case: Case) -> dict[str, np.ndarray]:
    """Where a padding bug can show: output positions whose window reaches into the padding ("out"), and input
    positions within ``pad`` of the edge ("dx")."""
    stride, pad = conv_settings(case)
    _, _, h, w = case["x"].shape
    hh, ww = case["w"].shape[2:]
    masks = {}
    out_rows = np.arange(out_size(h, hh, stride, pad)) * stride
    out_cols = np.arange(out_size(w, ww, stride, pad)) * stride
    masks["out"] = ((out_rows < pad) | (out_rows + hh > h + pad))[:, None] | (
        (out_cols < pad) | (out_cols + ww > w + pad)
    )[None, :]
    rows, cols = np.arange(h), np.arange(w)
    masks["dx"] = ((rows < pad) | (rows >= h - pad))[:, None] | ((cols < pad) | (cols >= w - pad))[None, :]
    return masks


def wrong_only_at_border(runs: Sequence[CaseRun]) -> bool:
    """Every wrong entry of out / dx lies where the padding matters, and the interior is right."""
    bad = [r for r in runs if r.failed]
    if not bad or any(r.error is not None or conv_settings(r.case)[1] == 0 for r in bad):
        return False
    evidence = 0
    for run in bad:
        masks = _border_masks(run.case)
        for name, border in masks.items():
            if not run.failed_on(name) or name not in run.actual:
                continue
            got, want = run.actual[name], np.asarray(run.expected[name])
            if not isinstance(got, np.ndarray) or got.shape != want.shape:
                return False
            if border.all():
                continue  # every position touches the padding: this run cannot tell border from interior
            wrong = ~np.isclose(got, want, rtol=CONV_SUMS.rtol, atol=CONV_SUMS.atol)
            if wrong[..., ~border].any():
                return False
            evidence += 1
    return evidence > 0


def unpadded_at_wrong_offset(runs: Sequence[CaseRun]) -> bool:
    """Every failing run's dx is an H x W window of the padded input's gradient, but not the centred one.

    How code that cuts the padding off from one side only (``dx_pad[:, :, :H, :W]``) fails: the gradient of
    the padded input is right, the crop is shifted.
    """
    bad = [r for r in runs if r.failed]
    if not bad:
        return False
    for run in bad:
        _, pad = conv_settings(run.case)
        got = run.actual.get("dx")
        if run.error is not None or pad == 0 or not isinstance(got, np.ndarray) or run.failed_on("dw"):
            return False
        h, w = run.case["x"].shape[2:]
        dx_pad = padded_gradient(run.case)
        offsets = [(i, j) for i in range(2 * pad + 1) for j in range(2 * pad + 1) if (i, j) != (pad, pad)]
        if not any(close(got, dx_pad[:, :, i : i + h, j : j + w], atol=WINDOW_ATOL) for i, j in offsets):
            return False
    return True


def pad_hardcoded(runs: Sequence[CaseRun]) -> bool:
    return any(
        explained_by(reference_outputs, with_param("conv_param", "pad", p, conv_dout_shape))(runs)
        for p in HARDCODED_PADS
    )


def stride_ignored(runs: Sequence[CaseRun]) -> bool:
    return any(
        explained_by(reference_outputs, with_param("conv_param", "stride", s, conv_dout_shape), crop=True)(runs)
        for s in IGNORED_STRIDES
    )


# ---------------------------------------------------------------- bug models
def padded_gradient(case: Case) -> np.ndarray:
    """The gradient with respect to the zero-padded input (N, C, H + 2 pad, W + 2 pad)."""
    stride, pad = conv_settings(case)
    padded = np.pad(case["x"], ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return np.asarray(reference_outputs({**case, "x": padded, "conv_param": {"stride": stride, "pad": 0}})["dx"])


def flipped(case: Case) -> Case | None:
    """The case with its kernel turned by 180 degrees (None for 1x1 kernels, which a flip leaves alone)."""
    if case["w"].shape[2] == 1 and case["w"].shape[3] == 1:
        return None
    return {**case, "w": np.ascontiguousarray(case["w"][:, :, ::-1, ::-1])}


def flip_dw(outputs: Outputs) -> Outputs:
    return {**outputs, "dw": outputs["dw"][:, :, ::-1, ::-1]}


def without_bias(case: Case) -> Case:
    return {**case, "b": np.zeros_like(case["b"])}


def no_db(outputs: Outputs) -> Outputs:
    return {**outputs, "db": np.zeros_like(outputs["db"])}


def empty_when_pad_is_zero(case: Case) -> Outputs:
    """``x_pad[:, :, pad:-pad, pad:-pad]`` with pad = 0: the backward's dx is empty, and a forward that fills its
    padded copy that way convolves zeros (out = b)."""
    if conv_settings(case)[1] != 0:
        return {}
    right = reference_outputs(case)
    n, c = case["x"].shape[:2]
    out = np.broadcast_to(case["b"][None, :, None, None], right["out"].shape).copy()
    return {"out": out, "dx": np.zeros((n, c, 0, 0))}


def edge_padded(case: Case) -> Outputs:
    """The layer with edge padding (np.pad's mode="edge") instead of zeros, in both passes."""
    stride, pad = conv_settings(case)
    if pad == 0:
        return {}
    x = case["x"]
    h, w = x.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")
    outputs = reference_outputs({**case, "x": padded, "conv_param": {"stride": stride, "pad": 0}})
    rows = np.clip(np.arange(h + 2 * pad) - pad, 0, h - 1)
    cols = np.clip(np.arange(w + 2 * pad) - pad, 0, w - 1)
    dx = np.zeros((h, w, *x.shape[:2]))  # edge padding's adjoint: each padded position adds to its source
    np.add.at(dx, (rows[:, None], cols[None, :]), np.moveaxis(outputs["dx"], (0, 1), (2, 3)))
    return {**outputs, "dx": np.moveaxis(dx, (2, 3), (0, 1))}


def cut_at_the_corner(case: Case) -> Outputs:
    """dx = dx_pad[:, :, :H, :W]: the padded input's gradient, cut from the top-left corner."""
    pad = conv_settings(case)[1]
    if pad == 0:
        return {}
    h, w = case["x"].shape[2:]
    return {"dx": padded_gradient(case)[:, :, :h, :w]}


def with_geometry(case: Case, key: str, value: int) -> Outputs:
    """The layer run with conv_param[key] fixed to ``value`` (dout cut or zero-extended to that output's shape,
    as loops over the wrong number of positions read it); nothing changes where the case has that value."""
    changed = with_param("conv_param", key, value, conv_dout_shape)(case)
    return {} if changed is None else reference_outputs(changed)


def averaged_over_the_batch(case: Case) -> Outputs:
    right = reference_outputs(case)
    n = case["x"].shape[0]
    return {"dw": right["dw"] / n, "db": right["db"] / n}
