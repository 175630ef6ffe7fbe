"""Specs of the book's ``common/util.py``: ``im2col`` and ``col2im``.

Declarations first, then the cases both share (a window geometry drawn first: filter, stride, pad, then sizes
that fit), each function's cases and diagnoses, and the program and torch twins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, ErrorCase, NamedCase, Reach, Spec
from graders.specs.kit.detectors import matches_variant
from graders.specs.kit.rules import as_numeric
from graders.specs.kit.tolerances import EXACT, OVERLAP_SUMS
from graders.specs.kit.torch import torch_one_thread
from graders.specs.kit.windows import input_size, out_size
from graders.specs.program import Input, Program, Result, call
from reference import dlfs as D


def im2col_spec() -> Spec:
    """``im2col(input_data, filter_h, filter_w, stride=1, pad=0)``: one row per window, channel first."""
    return Spec(
        name="im2col",
        module="util",
        api="function",
        convention="book: rows (n, oy, ox), columns (c, ky, kx); out = (H + 2 pad - fh) // stride + 1",
        domain=lambda case: geometry_fits(case, case["x"].shape),
        cases=im2col_cases,
        reaches=WINDOW_REACHES,
        notebook=im2col_notebook,
        scale=im2col_scale,
        errors=(ErrorCase("x is not 4-D", {"x": np.zeros((3, 5, 5)), "filter_h": 2, "filter_w": 2, "stride": 1,
                                           "pad": 0}, ValueError, r"im2col input must be 4-D"),),
        expected=lambda case: {"out": D.im2col(case["x"], *_geometry(case))},
        torch_expected=torch_im2col,
        program=util_program("im2col", ("x",)),
        checks=(
            Check("out", tol=EXACT,
                  description="(N*out_h*out_w, C*fh*fw): rows (n, oy, ox), columns (c, ky, kx), zero padding, floor"),
        ),
        diagnoses=(IM2COL_COLUMN_ORDER, IM2COL_CHANNEL_ROWS),
        read_only=("x",),
    )


def col2im_spec() -> Spec:
    """``col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0)``: im2col's adjoint."""
    bad_col = {"col": np.zeros((4, 5)), "input_shape": (1, 1, 3, 3), "filter_h": 2, "filter_w": 2, "stride": 1,
               "pad": 0}
    return Spec(
        name="col2im",
        module="util",
        api="function",
        convention="book: the adjoint of im2col (sums where windows overlap)",
        domain=lambda case: geometry_fits(case, case["input_shape"])
        and case["col"].shape == _col_shape(case, case["input_shape"]),
        cases=col2im_cases,
        reaches=WINDOW_REACHES,
        notebook=col2im_notebook,
        scale=col2im_scale,
        errors=(ErrorCase("col has the wrong shape", bad_col, ValueError,
                          r"col has shape \(4, 5\), expected \(4, 4\)"),),
        expected=lambda case: {"out": D.col2im(case["col"], case["input_shape"], *_geometry(case))},
        torch_expected=torch_col2im,
        program=util_program("col2im", ("col", "input_shape")),
        checks=(
            Check("out", tol=OVERLAP_SUMS,
                  description="(N, C, H, W): each row added back onto its window, overlaps summed, padding dropped"),
        ),
        diagnoses=(COL2IM_OVERWRITES,),
        read_only=("col",),
    )


# ---------------------------------------------------------------- the window geometry both share
GEOMETRY = ("filter_h", "filter_w", "stride", "pad")


@st.composite
def window_geometry(draw: st.DrawFn, max_size: int = 9) -> Case:
    """N, C, H, W, a filter (non-square allowed), stride 1-3, pad 0-2; sizes need not divide (floor)."""
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    fh, fw = draw(S.dims(1, 4)), draw(S.dims(1, 4))
    h = draw(input_size(fh, stride, pad, max_size, divisible=False))
    w = draw(input_size(fw, stride, pad, max_size, divisible=False))
    return {
        "shape": (draw(S.dims(1, 2)), draw(S.dims(1, 3)), h, w),
        "filter_h": fh,
        "filter_w": fw,
        "stride": stride,
        "pad": pad,
    }


def _geometry(case: Case) -> tuple[int, int, int, int]:
    return case["filter_h"], case["filter_w"], case["stride"], case["pad"]


def _col_shape(case: Case, shape: tuple[int, ...]) -> tuple[int, int]:
    n, c, h, w = shape
    oh = out_size(h, case["filter_h"], case["stride"], case["pad"])
    ow = out_size(w, case["filter_w"], case["stride"], case["pad"])
    return n * oh * ow, c * case["filter_h"] * case["filter_w"]


def geometry_fits(case: Case, shape: Sequence[int]) -> bool:
    """A 4-D image shape, stride >= 1 and 0 <= pad, and the filter fits in the padded image (one window at
    least on each axis)."""
    fh, fw, stride, pad = _geometry(case)
    return (len(shape) == 4 and stride >= 1 and pad >= 0
            and all(s + 2 * pad >= f for s, f in zip(shape[2:], (fh, fw), strict=True)))


def _image_shape(case: Case) -> tuple[int, ...]:
    return tuple(case["x"].shape) if "x" in case else tuple(case["input_shape"])


WINDOW_REACHES = (
    Reach("overlapping windows", lambda case: case["stride"] < max(case["filter_h"], case["filter_w"])),
    Reach("pad > 0 with stride > 1", lambda case: case["pad"] > 0 and case["stride"] > 1),
    Reach("non-square filter", lambda case: case["filter_h"] != case["filter_w"]),
    Reach("a size that does not divide", lambda case: any(
        (s + 2 * case["pad"] - f) % case["stride"] != 0
        for s, f in zip(_image_shape(case)[2:], (case["filter_h"], case["filter_w"]), strict=True))),
    Reach("C > 1", lambda case: _image_shape(case)[1] > 1),
)

#: MNIST sizes: SimpleConvNet's conv layer (20 images of 1x28x28, 5x5 filters) and its pool (8 images of
#: 30x24x24, 2x2 windows with stride 2), and CIFAR-sized images with pad 1.
SCALE_GEOMETRIES: tuple[tuple[tuple[int, int, int, int], int, int, int, int], ...] = (
    ((20, 1, 28, 28), 5, 5, 1, 0),
    ((8, 30, 24, 24), 2, 2, 2, 0),
    ((4, 3, 32, 32), 3, 3, 1, 1),
)


# ---------------------------------------------------------------- im2col
@st.composite
def im2col_cases(draw: st.DrawFn) -> Case:
    geometry = draw(window_geometry())
    shape = geometry.pop("shape")
    return {"x": draw(S.seeded_arrays(shape, name="x")), **geometry}


def im2col_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(231)
    geometry = {"filter_h": 5, "filter_w": 5, "stride": 1, "pad": 0}
    return [
        NamedCase("book ch. 7: x (1, 3, 7, 7), 5x5 filter, rand seed 231", {"x": rng.rand(1, 3, 7, 7), **geometry}),
        NamedCase("book ch. 7: x (10, 3, 7, 7), 5x5 filter, rand seed 231", {"x": rng.rand(10, 3, 7, 7), **geometry}),
        NamedCase("hand-picked: x (2, 2, 6, 5), 3x2 filter, stride 2 pad 1 (sizes that do not divide), seed 231",
                  {"x": rng.randn(2, 2, 6, 5), "filter_h": 3, "filter_w": 2, "stride": 2, "pad": 1}),
    ]


def im2col_scale() -> list[Case]:
    return [
        {"x": S.standard_normal(2321, shape, name=f"x{i}"), "filter_h": fh, "filter_w": fw, "stride": stride,
         "pad": pad}
        for i, (shape, fh, fw, stride, pad) in enumerate(SCALE_GEOMETRIES)
    ]


def _columns_ky_kx_c(case: Case) -> dict[str, Any] | None:
    """im2col with columns ordered (ky, kx, c) instead of the book's (c, ky, kx)."""
    x = case["x"]
    if x.shape[1] == 1:
        return None
    col = D.im2col(x, *_geometry(case))
    fh, fw = case["filter_h"], case["filter_w"]
    return {"out": col.reshape(col.shape[0], x.shape[1], fh, fw).transpose(0, 2, 3, 1).reshape(col.shape[0], -1)}


def _rows_per_channel(case: Case) -> dict[str, Any] | None:
    """A (N*C*oh*ow, fh*fw) layout: each channel's window on its own row (Pooling's reshape, one step
    early)."""
    x = case["x"]
    if x.shape[1] == 1:
        return None
    col = D.im2col(x, *_geometry(case))
    fh, fw = case["filter_h"], case["filter_w"]
    return {"out": col.reshape(-1, fh * fw)}


IM2COL_COLUMN_ORDER = Diagnosis(
    "im2col column order",
    "The columns are ordered (ky, kx, c): the book lays each window out channel first, (c, ky, kx), so that "
    "W.reshape(FN, -1) lines up with it (rows are (n, oy, ox)).",
    lambda runs: matches_variant(runs, _columns_ky_kx_c, ("out",)),
    reads=("out",),
    bug=lambda case: _columns_ky_kx_c(case) or {},
)
IM2COL_CHANNEL_ROWS = Diagnosis(
    "im2col channels on separate rows",
    "Each channel's window is on its own row: im2col returns one row per window of ALL channels, shape "
    "(N*out_h*out_w, C*filter_h*filter_w).",
    lambda runs: matches_variant(runs, _rows_per_channel, ("out",)),
    reads=("out",),
    bug=lambda case: _rows_per_channel(case) or {},
)


# ---------------------------------------------------------------- col2im
@st.composite
def col2im_cases(draw: st.DrawFn) -> Case:
    geometry = draw(window_geometry())
    shape = geometry.pop("shape")
    return {
        "col": draw(S.seeded_arrays(_col_shape(geometry, shape), name="col")),
        "input_shape": tuple(shape),
        **geometry,
    }


def col2im_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(231)
    book = {"col": rng.randn(9, 75), "input_shape": (1, 3, 7, 7), "filter_h": 5, "filter_w": 5, "stride": 1,
            "pad": 0}
    strided = {"col": rng.randn(18, 12), "input_shape": (2, 2, 6, 5), "filter_h": 3, "filter_w": 2, "stride": 2,
               "pad": 1}
    return [
        NamedCase("book ch. 7: col (9, 75) back to x (1, 3, 7, 7), 5x5 filter, seed 231", book),
        NamedCase("hand-picked: col (18, 12) back to x (2, 2, 6, 5), 3x2 filter, stride 2 pad 1, seed 231", strided),
    ]


def col2im_scale() -> list[Case]:
    cases = []
    for i, (shape, fh, fw, stride, pad) in enumerate(SCALE_GEOMETRIES):
        geometry = {"filter_h": fh, "filter_w": fw, "stride": stride, "pad": pad}
        col = S.standard_normal(2322, _col_shape(geometry, shape), name=f"col{i}")
        cases.append({"col": col, "input_shape": shape, **geometry})
    return cases


def _coverage(case: Case) -> np.ndarray:
    """How many windows cover each input position (col2im of all ones)."""
    fh, fw, stride, pad = _geometry(case)
    n, c, h, w = case["input_shape"]
    return np.asarray(D.col2im(np.ones(_col_shape(case, (n, c, h, w))), (n, c, h, w), fh, fw, stride, pad))


def _wrong_only_where_windows_overlap(runs: Sequence[CaseRun]) -> bool:
    evidence = False
    for run in runs:
        if not run.failed_on("out"):
            if run.error is not None:
                return False
            continue
        got = as_numeric(run.actual.get("out"))
        want = np.asarray(run.expected["out"])
        if got is None or got.shape != want.shape:
            return False
        wrong = ~np.isclose(got, want, rtol=1e-7, atol=1e-9)
        if wrong[_coverage(run.case) < 2].any():
            return False
        evidence = True
    return evidence


def _overwriting_col2im(case: Case) -> dict[str, Any]:
    """The book's col2im with ``img[...] = col[...]`` where it has ``+=``: each window overwrites the ones
    before it."""
    fh, fw, stride, pad = _geometry(case)
    n, c, h, w = case["input_shape"]
    oh, ow = out_size(h, fh, stride, pad), out_size(w, fw, stride, pad)
    col = case["col"].reshape(n, oh, ow, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
    for y in range(fh):
        for x in range(fw):
            img[:, :, y : y + stride * oh : stride, x : x + stride * ow : stride] = col[:, :, y, x, :, :]
    return {"out": img[:, :, pad : h + pad, pad : w + pad]}


COL2IM_OVERWRITES = Diagnosis(
    "col2im overwrites overlaps",
    "col2im is wrong only where windows overlap (stride < filter size): add each window back with += so that "
    "overlapping contributions sum (col2im must be the adjoint of im2col for the backward pass).",
    _wrong_only_where_windows_overlap,
    reads=("out",),
    bug=_overwriting_col2im,
)


# ---------------------------------------------------------------- program and torch
def util_program(name: str, first: tuple[str, ...]) -> Callable[[Case], Program]:
    """``util.name(*first, filter_h, filter_w, stride, pad)`` with the book's positional order."""

    def program(case: Case) -> Program:
        args = (*(Input(a) for a in first), *(Input(g) for g in GEOMETRY))
        return Program(steps=(call("result", "util", name, *args),), outputs={"out": Result("result")})

    return program


def torch_im2col(case: Case) -> dict[str, Any]:
    """torch's unfold gives (N, C*fh*fw, L) with columns (c, ky, kx) and L ordered (oy, ox): the book's layout
    once transposed."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    fh, fw, stride, pad = _geometry(case)
    blocks = F.unfold(torch.tensor(case["x"]), (fh, fw), padding=pad, stride=stride)
    return {"out": blocks.transpose(1, 2).reshape(-1, blocks.shape[1]).numpy()}


def torch_col2im(case: Case) -> dict[str, Any]:
    """torch's fold is unfold's adjoint: it sums overlapping windows, as col2im must."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    fh, fw, stride, pad = _geometry(case)
    n, c, h, w = case["input_shape"]
    col = torch.tensor(case["col"]).reshape(n, -1, c * fh * fw).transpose(1, 2)
    return {"out": F.fold(col, (h, w), (fh, fw), padding=pad, stride=stride).numpy()}
