"""Specs of the convolution layers: cs231n's conv_forward/backward (naive and fast) and two reference-only
functions (dilated 2-D and 1-D convolution) that no assignment grades yet.

Cases draw the *geometry first* (stride, pad, kernel, number of output positions) and derive the input size
from it, so every example -- shrunk ones included -- is a valid convolution. The cs231n cases keep
``(H + 2 pad - HH) % stride == 0`` (and the same for W): the hand-out lets students assume integer output
sizes. The extras follow floor semantics (torch's), so their cases also reach sizes that do not divide.

The diagnosis helpers (``failed``, ``fit``, ``only_when``, ``both``) are shared with the pool specs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, Spec
from graders.specs.dense import backward_program, forward_program, handout_backward, packed
from graders.specs.program import Expr, Input, Item, Program, Result, call
from reference.cs231n import conv as R
from reference.functional import conv as F

#: Upper bound on H and W of generated inputs: keeps the students' loop implementations fast.
MAX_SIZE = 9
CONV_ARGS = ("x", "w", "b", "conv_param")
GRADS = ("dx", "dw", "db")
#: float64 code written differently (loops, einsum, im2col) agrees to ~1e-14 on these magnitudes (outputs are
#: sums of up to 48 products of N(0, 1) values); a real bug is off by far more.
ATOL, RTOL = 1e-8, 1e-7


# ---------------------------------------------------------------- geometry and cases
def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@st.composite
def input_size(
    draw: st.DrawFn, extent: int, stride: int, pad: int, limit: int = MAX_SIZE, divisible: bool = True
) -> int:
    """An input size >= 1 (and <= limit) for a window of ``extent`` with this stride and pad.

    Drawn as "smallest valid size + a number of extra output positions (+ a remainder the floor discards)",
    so every draw and every shrink is valid. With ``divisible`` the last window ends exactly at the padded
    border: ``(size + 2 pad - extent) % stride == 0``.
    """
    fewest_outputs = max(1, _ceil_div(2 * pad + 1 - extent, stride) + 1)
    smallest = (fewest_outputs - 1) * stride + extent - 2 * pad
    size = smallest + stride * draw(st.integers(0, max(0, (limit - smallest) // stride)))
    if not divisible:
        size += draw(st.integers(0, max(0, min(stride - 1, limit - size))))
    return size


def _output_size(size: int, extent: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - extent) // stride + 1


@st.composite
def conv_cases(
    draw: st.DrawFn,
    spatial_dims: int = 2,
    max_kernel: int = 4,
    max_dilation: int = 1,
    divisible: bool = True,
    limit: int = MAX_SIZE,
) -> Case:
    """x, w, b, dout and the geometry of one convolution.

    Reaches pad = 0 and pad > 0 with stride > 1, kernels that are not square (HH != WW), inputs that are not
    square, N = 1 and N > 1, and C, F from 1 to 3 (stride 1..3, pad 0..2, kernel 1..max_kernel per axis).
    """
    n, c, f = draw(S.dims(1, 3)), draw(S.dims(1, 3)), draw(S.dims(1, 3))
    stride = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 2))
    dilation = draw(st.integers(1, max_dilation))
    kernel = tuple(draw(S.dims(1, max_kernel)) for _ in range(spatial_dims))
    extents = [dilation * (k - 1) + 1 for k in kernel]
    sizes = tuple(draw(input_size(e, stride, pad, limit, divisible)) for e in extents)
    outputs = tuple(_output_size(s, e, stride, pad) for s, e in zip(sizes, extents, strict=True))
    case: Case = {
        "x": draw(S.seeded_arrays((n, c, *sizes))),
        "w": draw(S.seeded_arrays((f, c, *kernel))),
        "b": draw(S.seeded_arrays((f,))),
        "dout": draw(S.seeded_arrays((n, f, *outputs))),
    }
    if max_dilation == 1 and spatial_dims == 2:
        case["conv_param"] = {"stride": stride, "pad": pad}
    else:
        case.update(stride=stride, pad=pad, dilation=dilation)
    return case


def conv_fixed() -> list[Case]:
    """The notebook's two checks: the forward on linspace data (x (2,3,4,4), w (3,3,4,4), stride 2, pad 1),
    and the backward on seed-231 Gaussians (x (4,3,5,5), w (2,3,3,3), dout (4,2,5,5), stride 1, pad 1)."""
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    forward = {
        "x": np.linspace(-0.1, 0.5, num=int(np.prod(x_shape))).reshape(x_shape),
        "w": np.linspace(-0.2, 0.3, num=int(np.prod(w_shape))).reshape(w_shape),
        "b": np.linspace(-0.1, 0.2, num=3),
        "dout": np.random.RandomState(231).randn(2, 3, 2, 2),
        "conv_param": {"stride": 2, "pad": 1},
    }
    rng = np.random.RandomState(231)
    backward = {
        "x": rng.randn(4, 3, 5, 5),
        "w": rng.randn(2, 3, 3, 3),
        "b": rng.randn(2),
        "dout": rng.randn(4, 2, 5, 5),
        "conv_param": {"stride": 1, "pad": 1},
    }
    return [forward, backward]


def conv_scale() -> list[Case]:
    """CIFAR-sized images: x (2, 3, 32, 32) through 8 filters of 3x3 (stride 1, pad 1, the notebook's
    ConvNet layer), and through 8 filters of 5x5 with stride 2 and pad 2.

    Why not 4 images and 16 filters: a student's loops over n, f, i, j and c take 1.7 s for the forward
    alone there (the backward's program runs the forward too); these take about 0.4 s and 0.1 s.
    """
    rng = np.random.default_rng(2314)
    x = rng.standard_normal((2, 3, 32, 32))
    cases = []
    for kernel, stride, pad in ((3, 1, 1), (5, 2, 2)):
        size = _output_size(32, kernel, stride, pad)
        cases.append({
            "x": x,
            "w": rng.standard_normal((8, 3, kernel, kernel)) * 0.1,
            "b": rng.standard_normal(8),
            "dout": rng.standard_normal((2, 8, size, size)),
            "conv_param": {"stride": stride, "pad": pad},
        })
    return cases


def extras_scale(spatial_dims: int) -> Callable[[], list[Case]]:
    """One realistic size per extra: 16 filters of 3x3 with dilation 2 on (2, 3, 32, 32) images; 16 filters of
    5 with dilation 2 and stride 2 on (4, 8, 128) sequences."""

    def scale() -> list[Case]:
        rng = np.random.default_rng(2315)
        if spatial_dims == 2:
            x, w, geometry = rng.standard_normal((2, 3, 32, 32)), rng.standard_normal((16, 3, 3, 3)), (1, 2, 2)
            out: tuple[int, ...] = (_output_size(32, 5, 1, 2),) * 2
        else:
            x, w, geometry = rng.standard_normal((4, 8, 128)), rng.standard_normal((16, 8, 5)), (2, 4, 2)
            out = (_output_size(128, 9, 2, 4),)
        stride, pad, dilation = geometry
        return [{
            "x": x,
            "w": w * 0.1,
            "b": rng.standard_normal(16),
            "dout": rng.standard_normal((x.shape[0], 16, *out)),
            "stride": stride,
            "pad": pad,
            "dilation": dilation,
        }]

    return scale


def extras_fixed(spatial_dims: int) -> Callable[[], list[Case]]:
    """One hand-picked case per extra: dilation 2 with stride 2 and padding, sizes that do not divide."""

    def fixed() -> list[Case]:
        rng = np.random.RandomState(231)
        out: tuple[int, ...]
        if spatial_dims == 2:
            x, w = rng.randn(2, 3, 9, 8), rng.randn(4, 3, 3, 2)
            out = (_output_size(9, 5, 2, 1), _output_size(8, 3, 2, 1))
        else:
            x, w = rng.randn(2, 3, 12), rng.randn(4, 3, 3)
            out = (_output_size(12, 5, 2, 1),)
        return [
            {
                "x": x,
                "w": w,
                "b": rng.randn(4),
                "dout": rng.randn(2, 4, *out),
                "stride": 2,
                "pad": 1,
                "dilation": 2,
            }
        ]

    return fixed


def describe_conv(case: Case) -> str:
    geometry = case.get("conv_param") or {k: case[k] for k in ("stride", "pad", "dilation") if k in case}
    settings = ", ".join(f"{k} {v}" for k, v in geometry.items())
    return f"x {tuple(case['x'].shape)}, w {tuple(case['w'].shape)}, {settings}"


# ---------------------------------------------------------------- reference and torch
def _settings(case: Case) -> tuple[int, int]:
    return int(case["conv_param"]["stride"]), int(case["conv_param"]["pad"])


def conv_expected(
    forward: Callable[..., Any], backward: Callable[..., Any]
) -> Callable[[Case], dict[str, Any]]:
    """Reference outputs of a cs231n-style forward/backward pair: out, dx, dw, db."""

    def expected(case: Case) -> dict[str, Any]:
        out, cache = forward(*(case[a] for a in CONV_ARGS))
        dx, dw, db = backward(case["dout"], cache)
        return {"out": out, "dx": dx, "dw": dw, "db": db}

    return expected


#: The fast reference, for detectors that recompute the answer on a modified case (many times, so fast).
reference_outputs = conv_expected(R.conv_forward_fast, R.conv_backward_fast)


def extras_expected(case: Case) -> dict[str, Any]:
    conv, grads = (F.conv2d, F.conv2d_grads) if case["x"].ndim == 4 else (F.conv1d, F.conv1d_grads)
    geometry = (case["stride"], case["pad"], case["dilation"])
    out = conv(case["x"], case["w"], case["b"], *geometry)
    dx, dw, db = grads(case["dout"], case["x"], case["w"], *geometry)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def torch_conv(case: Case) -> dict[str, Any]:
    import torch

    x, w, b = (torch.tensor(case[k], requires_grad=True) for k in ("x", "w", "b"))
    if "conv_param" in case:
        stride, pad = _settings(case)
        dilation = 1
    else:
        stride, pad, dilation = case["stride"], case["pad"], case["dilation"]
    conv = torch.nn.functional.conv2d if x.ndim == 4 else torch.nn.functional.conv1d
    out = conv(x, w, b, stride=stride, padding=pad, dilation=dilation)
    out.backward(torch.tensor(case["dout"]))
    assert x.grad is not None and w.grad is not None and b.grad is not None
    return {"out": out.detach().numpy(), "dx": x.grad.numpy(), "dw": w.grad.numpy(), "db": b.grad.numpy()}


def conv_scalar(case: Case) -> float:
    """sum(conv(x, w, b) * dout), the scalar whose gradient the backward computes (fast forward: it is
    evaluated twice per input element by finite differences)."""
    if "conv_param" in case:
        out = R.conv_forward_fast(*(case[a] for a in CONV_ARGS))[0]
    else:
        out = extras_expected_forward(case)
    return float(np.sum(out * case["dout"]))


def extras_expected_forward(case: Case) -> np.ndarray:
    conv = F.conv2d if case["x"].ndim == 4 else F.conv1d
    return conv(case["x"], case["w"], case["b"], case["stride"], case["pad"], case["dilation"])


# ---------------------------------------------------------------- diagnosis helpers (shared with pool)
def failed(run: CaseRun) -> bool:
    return run.failed


def failed_check(run: CaseRun, name: str) -> bool:
    """A judged run that raised, or whose check ``name`` failed."""
    verdict = run.verdicts.get(name)
    return run.unjudged is None and (run.error is not None or (verdict is not None and not verdict.passed))


def fit(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``array`` cropped or zero-extended at the high end of each axis to ``shape``.

    How a loop over ``range(out_h)`` sees an upstream gradient of another shape: missing positions give
    nothing, extra ones are never read.
    """
    result = np.zeros(tuple(shape), dtype=array.dtype)
    common = tuple(slice(0, min(a, b)) for a, b in zip(array.shape, shape, strict=True))
    result[common] = array[common]
    return result


def close_to(actual: Any, expected: np.ndarray, crop: bool) -> bool:
    """``actual`` is a non-empty numeric array equal to ``expected`` (or, with ``crop``, to its top-left
    corner)."""
    got = np.asarray(actual) if isinstance(actual, np.ndarray) else None
    if got is None or got.dtype.kind not in "biuf" or got.size == 0:
        return False
    want = np.asarray(expected)
    if crop and got.ndim == want.ndim and all(g <= e for g, e in zip(got.shape, want.shape, strict=True)):
        want = want[tuple(slice(0, g) for g in got.shape)]
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-6, atol=1e-8))


def explained_by(
    reference: Callable[[Case], Mapping[str, Any]],
    variant: Callable[[Case], Case | None],
    transform: Callable[[dict[str, Any]], dict[str, Any]] = lambda outputs: outputs,
    crop: bool = False,
) -> Callable[[Sequence[CaseRun]], bool]:
    """A detector: every failing run's outputs equal the reference computed on ``variant(case)``.

    ``variant`` returns the case as the buggy code effectively sees it (a flipped kernel, pad forced to 1,
    ...) or None when the bug cannot explain that case; ``transform`` maps the reference's outputs to what the
    buggy code returns (e.g. db = 0); ``crop`` accepts a forward ``out`` that is the top-left corner of the
    variant's (code that sizes the output right but walks the input with the wrong step).
    """

    def explained(run: CaseRun) -> bool:
        changed = variant(run.case)
        if changed is None or not run.actual:
            return False
        try:
            want = transform(dict(reference(changed)))
        except (ValueError, IndexError):
            return False
        shared = [k for k in run.actual if k in want]
        return bool(shared) and all(close_to(run.actual[k], want[k], crop and k == "out") for k in shared)

    def applies(runs: Sequence[CaseRun]) -> bool:
        bad = [r for r in runs if failed(r)]
        if not bad:
            return False
        return all(explained(r) for r in bad)

    return applies


def only_when(condition: Callable[[Case], bool], strict: bool = True) -> Callable[[Sequence[CaseRun]], bool]:
    """A detector: runs fail only when ``condition(case)`` holds, and some run without it passes.

    ``strict`` also demands that every run with the condition fails (a bug that shows on every such case);
    without it, such a run may pass (a bug that needs the condition and some luck, e.g. two overlapping
    windows sharing their maximum).
    """

    def applies(runs: Sequence[CaseRun]) -> bool:
        bad = [r for r in runs if failed(r)]
        good = [r for r in runs if not failed(r)]
        if not bad or not all(condition(r.case) for r in bad):
            return False
        if strict and any(condition(r.case) for r in good):
            return False
        return any(not condition(r.case) for r in good)

    return applies


def both(*detectors: Callable[[Sequence[CaseRun]], bool]) -> Callable[[Sequence[CaseRun]], bool]:
    return lambda runs: all(d(runs) for d in detectors)


def with_param(
    param_name: str, key: str, value: int, dout_shape: Callable[[Case], tuple[int, ...]]
) -> Callable[[Case], Case | None]:
    """A variant for :func:`explained_by`: ``case[param_name][key]`` replaced by ``value`` and dout fitted to
    the new output shape; None where the case already has that value (the bug would not show) or the changed
    geometry is invalid."""

    def variant(case: Case) -> Case | None:
        params = dict(case[param_name])
        if params[key] == value:
            return None
        params[key] = value
        changed = {**case, param_name: params}
        try:
            shape = dout_shape(changed)
        except ValueError:
            return None
        return {**changed, "dout": fit(case["dout"], shape)}

    return variant


def conv_dout_shape(case: Case) -> tuple[int, ...]:
    stride, pad = _settings(case)
    return (
        case["x"].shape[0],
        case["w"].shape[0],
        *F.conv_output_shape(case["x"], case["w"], None, stride, pad),
    )


# ---------------------------------------------------------------- conv diagnoses
def _border_masks(case: Case) -> dict[str, np.ndarray]:
    """Where a padding bug can show: output positions whose window reaches into the padding ("out"), and input
    positions within ``pad`` of the edge ("dx")."""
    stride, pad = _settings(case)
    _, _, h, w = case["x"].shape
    hh, ww = case["w"].shape[2:]
    masks = {}
    out_rows = np.arange(_output_size(h, hh, stride, pad)) * stride
    out_cols = np.arange(_output_size(w, ww, stride, pad)) * stride
    masks["out"] = ((out_rows < pad) | (out_rows + hh > h + pad))[:, None] | (
        (out_cols < pad) | (out_cols + ww > w + pad)
    )[None, :]
    rows, cols = np.arange(h), np.arange(w)
    masks["dx"] = ((rows < pad) | (rows >= h - pad))[:, None] | ((cols < pad) | (cols >= w - pad))[None, :]
    return masks


def wrong_only_at_border(runs: Sequence[CaseRun]) -> bool:
    """Every wrong entry of out / dx lies where the padding matters, and the interior is right."""
    bad = [r for r in runs if failed(r)]
    if not bad or any(r.error is not None or _settings(r.case)[1] == 0 for r in bad):
        return False
    evidence = 0
    for run in bad:
        masks = _border_masks(run.case)
        for name, border in masks.items():
            if not failed_check(run, name) or name not in run.actual:
                continue
            got, want = run.actual[name], np.asarray(run.expected[name])
            if not isinstance(got, np.ndarray) or got.shape != want.shape:
                return False
            if border.all():
                continue  # every position touches the padding: this run cannot tell border from interior
            wrong = ~np.isclose(got, want, rtol=RTOL, atol=ATOL)
            if wrong[..., ~border].any():
                return False
            evidence += 1
    return evidence > 0


def _flipped(case: Case) -> Case | None:
    if case["w"].shape[2] == 1 and case["w"].shape[3] == 1:
        return None
    return {**case, "w": np.ascontiguousarray(case["w"][:, :, ::-1, ::-1])}


def _flip_dw(outputs: dict[str, Any]) -> dict[str, Any]:
    return {**outputs, "dw": outputs["dw"][:, :, ::-1, ::-1]}


def _without_bias(case: Case) -> Case:
    return {**case, "b": np.zeros_like(case["b"])}


def _no_db(outputs: dict[str, Any]) -> dict[str, Any]:
    return {**outputs, "db": np.zeros_like(outputs["db"])}


def _pad_hardcoded(runs: Sequence[CaseRun]) -> bool:
    return any(
        explained_by(reference_outputs, with_param("conv_param", "pad", p, conv_dout_shape))(runs)
        for p in (1, 0, 2)
    )


def _stride_ignored(runs: Sequence[CaseRun]) -> bool:
    return any(
        explained_by(reference_outputs, with_param("conv_param", "stride", s, conv_dout_shape), crop=True)(
            runs
        )
        for s in (1, 2)
    )


def _factor_n(runs: Sequence[CaseRun]) -> bool:
    """dw or db (whichever fails) is N or 1/N times the right one, on every failing run (all with N > 1)."""
    bad = [r for r in runs if failed(r)]
    if not bad:
        return False
    for run in bad:
        n = run.case["x"].shape[0]
        names = [g for g in ("dw", "db") if failed_check(run, g)]
        if n == 1 or run.error is not None or not names or failed_check(run, "dx"):
            return False
        for name in names:
            want = np.asarray(run.expected[name])
            if not (
                close_to(run.actual.get(name), want * n, False)
                or close_to(run.actual.get(name), want / n, False)
            ):
                return False
    return True


def _unpadded_at_wrong_offset(runs: Sequence[CaseRun]) -> bool:
    """Every failing run's dx is an H x W window of the padded input's gradient, but not the centred one.

    How code that cuts the padding off from one side only (``dx_pad[:, :, :H, :W]``) fails: the gradient of
    the padded input is right, the crop is shifted.
    """
    bad = [r for r in runs if failed(r)]
    if not bad:
        return False
    for run in bad:
        stride, pad = _settings(run.case)
        got = run.actual.get("dx")
        if run.error is not None or pad == 0 or not isinstance(got, np.ndarray) or failed_check(run, "dw"):
            return False
        x = run.case["x"]
        h, w = x.shape[2:]
        padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        unpadded = {**run.case, "x": padded, "conv_param": {"stride": stride, "pad": 0}}
        dx_pad = reference_outputs(unpadded)["dx"]
        offsets = [(i, j) for i in range(2 * pad + 1) for j in range(2 * pad + 1) if (i, j) != (pad, pad)]
        if not any(close_to(got, dx_pad[:, :, i : i + h, j : j + w], False) for i, j in offsets):
            return False
    return True


def conv_diagnoses() -> tuple[Diagnosis, ...]:
    return (
        Diagnosis(
            "breaks_when_pad_is_zero",
            "Breaks when pad = 0: slicing x[pad:-pad] is empty when pad is 0 (use x[pad:H + pad] instead).",
            only_when(lambda case: _settings(case)[1] == 0),
        ),
        Diagnosis(
            "wrong_at_padded_border",
            "Wrong only at the padded border: the interior is right, so look at how the input is padded "
            "(zeros on all four sides, pad wide) and at what happens to the padding in the backward pass.",
            wrong_only_at_border,
        ),
        Diagnosis(
            "unpadded_at_wrong_offset",
            "dx is the padded input's gradient cut at the wrong place (shifted towards a border): remove pad "
            "rows and columns on every side, dx = dx_pad[:, :, pad:pad + H, pad:pad + W].",
            _unpadded_at_wrong_offset,
        ),
        Diagnosis(
            "pad_hardcoded",
            "The pad is hard-coded: the results match a fixed pad, not conv_param['pad'].",
            _pad_hardcoded,
        ),
        Diagnosis(
            "stride_ignored",
            "The stride is ignored: the results match a convolution with a fixed stride, "
            "not conv_param['stride'].",
            _stride_ignored,
        ),
        Diagnosis(
            "kernel_flipped",
            "The kernel is flipped: you computed a true convolution; the layer is a cross-correlation "
            "(w[f, c, ky, kx] multiplies x[..., i*stride + ky, j*stride + kx]).",
            explained_by(reference_outputs, _flipped, _flip_dw),
        ),
        Diagnosis(
            "missing_bias",
            "The bias is missing: out lacks + b[f], or db is not the sum of dout over N, H' and W'.",
            explained_by(reference_outputs, _without_bias, _no_db),
        ),
        Diagnosis(
            "dw_db_factor_n",
            "dw or db is off by a factor of N: sum over the batch, do not average (or average twice).",
            _factor_n,
        ),
    )


# ---------------------------------------------------------------- programs
def extras_program(forward: str, gradients: str) -> Callable[[Case], Program]:
    """``extras.<forward>(x, w, b, stride=, pad=, dilation=)`` and ``extras.<gradients>(dout, x, w, ...)``."""

    def program(case: Case) -> Program:
        geometry = {k: Input(k) for k in ("stride", "pad", "dilation")}
        steps = (
            call("fwd", "extras", forward, Input("x"), Input("w"), Input("b"), **geometry),
            call("bwd", "extras", gradients, Input("dout"), Input("x"), Input("w"), **geometry),
        )
        outputs: dict[str, Expr] = {"out": Result("fwd")}
        outputs.update({g: Item(Result("bwd"), i) for i, g in enumerate(GRADS)})
        return Program(steps=steps, outputs=outputs)

    return program


# ---------------------------------------------------------------- specs
CONVENTION = (
    "cross-correlation, w (F, C, HH, WW), zero padding; cases keep (H + 2 pad - HH) % stride == 0 and "
    "(W + 2 pad - WW) % stride == 0 (the hand-out lets students assume integer output sizes)"
)


def _conv_forward(
    name: str,
    module: str,
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    same_as: str | None = None,
) -> Spec:
    return Spec(
        name=name,
        module=module,
        api="function",
        cases=conv_cases,
        fixed_cases=conv_fixed,
        scale_cases=conv_scale,
        program=forward_program(module, name, *CONV_ARGS),
        expected=conv_expected(forward, backward),
        torch_expected=torch_conv,
        checks=(
            Check(
                "out",
                atol=ATOL,
                rtol=RTOL,
                description="out (N, F, H', W'), H' = 1 + (H + 2 pad - HH) // stride",
            ),
        ),
        diagnoses=conv_diagnoses(),
        describe=describe_conv,
        convention=CONVENTION,
        same_as=same_as,
        read_only=CONV_ARGS,
        dtype_preserving=True,
    )


def _conv_backward(
    name: str,
    module: str,
    forward_name: str,
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    same_as: str | None = None,
    handout_cache: bool = False,
) -> Spec:
    """``handout_cache``: the hand-out fixes the forward's cache as ``(x, w, b, conv_param)`` (the naive
    layer; fast_layers' cache also holds x_cols, which the student's forward computes)."""
    return Spec(
        name=name,
        module=module,
        api="function",
        cases=conv_cases,
        fixed_cases=conv_fixed,
        scale_cases=conv_scale,
        program=backward_program(module, forward_name, name, CONV_ARGS, GRADS),
        handout_program=handout_backward(module, name, packed(*CONV_ARGS), GRADS) if handout_cache else None,
        expected=conv_expected(forward, backward),
        torch_expected=torch_conv,
        checks=(
            Check("dx", atol=ATOL, rtol=RTOL, description="gradient wrt x (N, C, H, W)"),
            Check(
                "dw", atol=ATOL, rtol=RTOL, description="gradient wrt w (F, C, HH, WW), summed over the batch"
            ),
            Check("db", atol=ATOL, rtol=RTOL, description="gradient wrt b (F,): dout summed over N, H', W'"),
        ),
        gradients=tuple(
            GradientCheck(g, v, conv_scalar) for g, v in zip(GRADS, ("x", "w", "b"), strict=True)
        ),
        diagnoses=conv_diagnoses(),
        describe=describe_conv,
        depends_on=(forward_name,),
        convention=CONVENTION,
        same_as=same_as,
        read_only=(*CONV_ARGS, "dout"),
    )


def conv_forward_naive() -> Spec:
    """cs231n's conv_forward_naive(x, w, b, conv_param) -> (out, cache); the reference loops over outputs."""
    return _conv_forward("conv_forward_naive", "layers", R.conv_forward_naive, R.conv_backward_naive)


def conv_backward_naive() -> Spec:
    """cs231n's conv_backward_naive(dout, cache) -> (dx, dw, db), after the student's own forward, or with
    the hand-out's cache (x, w, b, conv_param) where that fails."""
    return _conv_backward(
        "conv_backward_naive",
        "layers",
        "conv_forward_naive",
        R.conv_forward_naive,
        R.conv_backward_naive,
        handout_cache=True,
    )


def conv_forward_fast() -> Spec:
    """fast_layers' conv_forward_fast: the same function as the naive one (the reference uses im2col)."""
    return _conv_forward(
        "conv_forward_fast",
        "fast_layers",
        R.conv_forward_fast,
        R.conv_backward_fast,
        same_as="conv_forward_naive",
    )


def conv_backward_fast() -> Spec:
    return _conv_backward(
        "conv_backward_fast",
        "fast_layers",
        "conv_forward_fast",
        R.conv_forward_fast,
        R.conv_backward_fast,
        same_as="conv_backward_naive",
    )


def _extra(name: str, spatial_dims: int, forward: str, gradients: str, description: str) -> Spec:
    layout = "(N, C, H, W)" if spatial_dims == 2 else "(N, C, L)"
    return Spec(
        name=name,
        module="extras",
        api="function",
        cases=lambda: conv_cases(
            spatial_dims=spatial_dims,
            max_kernel=3 if spatial_dims == 2 else 4,
            max_dilation=3 if spatial_dims == 2 else 2,
            divisible=False,
            limit=11 if spatial_dims == 2 else 14,
        ),
        fixed_cases=extras_fixed(spatial_dims),
        scale_cases=extras_scale(spatial_dims),
        program=extras_program(forward, gradients),
        expected=extras_expected,
        torch_expected=torch_conv,
        checks=(
            Check("out", atol=ATOL, rtol=RTOL, description=description),
            Check("dx", atol=ATOL, rtol=RTOL, description=f"gradient wrt x {layout}"),
            Check("dw", atol=ATOL, rtol=RTOL),
            Check("db", atol=ATOL, rtol=RTOL),
        ),
        gradients=tuple(
            GradientCheck(g, v, conv_scalar) for g, v in zip(GRADS, ("x", "w", "b"), strict=True)
        ),
        describe=describe_conv,
        convention="cross-correlation, zero padding, dilation; floor semantics on sizes that do not divide",
        read_only=("x", "w", "b", "dout"),
        dtype_preserving=True,
    )


def conv2d_dilated() -> Spec:
    """Reference-only: conv2d(x, w, b, stride, pad, dilation) and conv2d_grads(dout, x, w, stride, pad,
    dilation), checked against torch.nn.functional.conv2d(dilation=...)."""
    return _extra("conv2d_dilated", 2, "conv2d", "conv2d_grads", "dilated cross-correlation (N, F, H', W')")


def conv1d() -> Spec:
    """Reference-only: conv1d(x (N, C, L), w (F, C, K), b, stride, pad, dilation) and its gradients, checked
    against torch.nn.functional.conv1d."""
    return _extra("conv1d", 1, "conv1d", "conv1d_grads", "1-D cross-correlation (N, F, L')")


FACTORIES: dict[str, Callable[..., Spec]] = {
    "conv_forward_naive": conv_forward_naive,
    "conv_backward_naive": conv_backward_naive,
    "conv_forward_fast": conv_forward_fast,
    "conv_backward_fast": conv_backward_fast,
    "conv2d_dilated": conv2d_dilated,
    "conv1d": conv1d,
}
