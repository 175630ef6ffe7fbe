"""Specs of cs231n's classification losses: ``softmax_loss`` and (older hand-outs) ``svm_loss``.

Both return ``(loss, dx)`` averaged over the N examples. The cases reach what notebook shapes miss:
  * softmax: logits offset by up to +-1000 (exp overflows past ~709, so a softmax without the max shift gives
    NaN there) while the spread within a row stays moderate, so the correct class's probability stays far
    above the float64 underflow and shift-then-log(prob) solutions remain exact;
  * svm: every margin ``x_j - x_y + 1`` kept at least 0.01 away from 0, the hinge's kink, so dx is unique
    and finite differences agree with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, Spec
from graders.specs.program import Input, Item, Program, Result, call
from graders.specs.torchutil import torch_one_thread
from graders.specs.variants import close, failed_on, scaled_diagnosis
from reference import cs231n as R

#: Logits beyond this overflow exp() in float64 (exp(709.8) is the largest finite value).
OVERFLOW_LOGIT = 709.0
#: How far every hinge margin stays from its kink.
MARGIN_GAP = 0.01


# ---------------------------------------------------------------- cases
def _labels(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return rng.integers(0, c, size=n).astype(np.int64)


@st.composite
def softmax_cases(draw: st.DrawFn) -> Case:
    n = draw(S.dims(1, 6))
    c = draw(S.dims(2, 8))
    spread = draw(st.sampled_from([0.01, 1.0, 5.0, 30.0]))
    offset = draw(st.one_of(st.just(0.0), S.floats(-1000.0, 1000.0)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((n, c)) * spread + offset, "y": _labels(rng, n, c)}


def push_off_hinge(x: np.ndarray, y: np.ndarray, gap: float = MARGIN_GAP) -> np.ndarray:
    """Move each wrong-class score whose margin x_j - x_y + 1 is within ``gap`` of 0 by 2 * gap away from it.

    Only x_j moves, and x_j appears in its own margin only, so no other margin changes.
    """
    x = x.copy()
    rows = np.arange(x.shape[0])
    margins = x - x[rows, y][:, None] + 1.0
    near = np.abs(margins) < gap
    near[rows, y] = False
    x[near] += np.where(margins[near] >= 0, 2.0 * gap, -2.0 * gap)
    return x


@st.composite
def svm_cases(draw: st.DrawFn) -> Case:
    n = draw(S.dims(1, 6))
    c = draw(S.dims(2, 8))
    spread = draw(st.sampled_from([0.3, 1.0, 3.0]))
    offset = draw(st.one_of(st.just(0.0), S.floats(-100.0, 100.0)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = _labels(rng, n, c)
    return {"x": push_off_hinge(rng.standard_normal((n, c)) * spread + offset, y), "y": y}


def _notebook_scores(rng: np.random.RandomState) -> Case:
    """The notebook's loss check: 50 inputs, 10 classes, scores 0.001 * randn."""
    return {"x": 0.001 * rng.randn(50, 10), "y": rng.randint(10, size=50).astype(np.int64)}


def softmax_fixed() -> list[Case]:
    rng = np.random.RandomState(231)
    notebook = _notebook_scores(rng)
    large = {"x": 3.0 * rng.randn(7, 5) + 1000.0, "y": rng.randint(5, size=7).astype(np.int64)}
    return [notebook, large]


def svm_fixed() -> list[Case]:
    rng = np.random.RandomState(231)
    notebook = _notebook_scores(rng)
    notebook["x"] = push_off_hinge(notebook["x"], notebook["y"])
    return [notebook]


# ---------------------------------------------------------------- reference and torch
def _loss_expected(loss: Callable[..., tuple[float, np.ndarray]]) -> Callable[[Case], dict[str, Any]]:
    def expected(case: Case) -> dict[str, Any]:
        value, dx = loss(case["x"], case["y"])
        return {"loss": value, "dx": dx}

    return expected


def _torch_loss(name: str) -> Callable[[Case], dict[str, Any]]:
    def adapter(case: Case) -> dict[str, Any]:
        torch = torch_one_thread()
        import torch.nn.functional as F

        x = torch.tensor(case["x"], requires_grad=True)
        y = torch.tensor(case["y"])
        # multi_margin_loss averages the hinge terms over the C classes too: multiplying by C undoes that.
        loss = F.cross_entropy(x, y) if name == "softmax" else x.shape[1] * F.multi_margin_loss(x, y, p=1, margin=1.0)
        loss.backward()
        assert x.grad is not None
        return {"loss": float(loss.item()), "dx": x.grad.numpy()}

    return adapter


def _loss_of(loss: Callable[..., tuple[float, np.ndarray]]) -> Callable[[Case], float]:
    return lambda case: float(loss(case["x"], case["y"])[0])


def loss_program(name: str) -> Callable[[Case], Program]:
    """Call ``layers.name(x, y)`` once and fetch both the loss and dx."""

    def program(case: Case) -> Program:
        return Program(
            steps=(call("loss", "layers", name, Input("x"), Input("y")),),
            outputs={"loss": Item(Result("loss"), 0), "dx": Item(Result("loss"), 1)},
        )

    return program


# ---------------------------------------------------------------- diagnoses
def _batch(case: Case) -> float:
    return float(np.shape(case["x"])[0])


def _overflows(run: CaseRun) -> bool:
    """The student's loss or dx is not finite."""
    for name in ("loss", "dx"):
        value = run.actual.get(name)
        try:
            if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
                return True
        except (TypeError, ValueError):
            continue
    return False


def _overflow_only_at_large_logits(runs: Sequence[CaseRun]) -> bool:
    """NaN/inf appears on some case with logits past exp's range, and never on a case with small logits."""
    large = [r for r in runs if r.error is None and np.max(np.abs(r.case["x"])) > OVERFLOW_LOGIT]
    small = [r for r in runs if r.error is None and np.max(np.abs(r.case["x"])) < OVERFLOW_LOGIT / 2]
    return any(_overflows(r) for r in large) and not any(_overflows(r) for r in small)


def _correct_class_counted(runs: Sequence[CaseRun]) -> bool:
    """svm loss one too large (the j == y term, max(0, 1) = 1, was not excluded) on every failing run."""
    bad = [r for r in runs if failed_on(r, ("loss",))]
    return bool(bad) and all(close(r.actual.get("loss"), float(r.expected["loss"]) + 1.0) for r in bad)


OVERFLOW = Diagnosis(
    "softmax overflow",
    "The loss or dx turns into NaN/inf when the scores are large (|x| > 700) although it is right for small "
    "scores: exp() overflows. Subtract each row's maximum score before exponentiating; softmax is unchanged "
    "by that shift.",
    _overflow_only_at_large_logits,
)
LOSS_SUMMED = scaled_diagnosis(
    "loss summed over the batch",
    "The loss (and/or dx) is N times too large: the loss is the mean over the N examples, so divide the sum "
    "by N, and divide dx by N as well.",
    ("loss", "dx"),
    _batch,
)
CORRECT_CLASS_COUNTED = Diagnosis(
    "correct class counted in the hinge",
    "The loss is exactly 1 too large: the sum over classes must skip the correct class j = y (its margin "
    "x_y - x_y + 1 is always 1).",
    _correct_class_counted,
)


# ---------------------------------------------------------------- specs
def _loss_spec(name: str, loss: Callable[..., tuple[float, np.ndarray]], **fields: Any) -> Spec:
    return Spec(
        name=name,
        module="layers",
        api="function",
        program=loss_program(name),
        expected=_loss_expected(loss),
        torch_expected=_torch_loss("softmax" if name == "softmax_loss" else "svm"),
        gradients=(GradientCheck("dx", "x", _loss_of(loss), atol=1e-6, rtol=1e-5),),
        read_only=("x", "y"),
        dtype_preserving=True,
        **fields,
    )


def softmax_loss() -> Spec:
    return _loss_spec(
        "softmax_loss",
        R.softmax_loss,
        cases=softmax_cases,
        fixed_cases=softmax_fixed,
        checks=(
            Check(
                "loss",
                atol=1e-9,
                rtol=1e-7,
                description="mean cross-entropy of softmax(x) over the N examples",
            ),
            Check("dx", atol=1e-10, rtol=1e-6, description="(softmax(x) - onehot(y)) / N"),
        ),
        diagnoses=(OVERFLOW, LOSS_SUMMED),
        convention="cs231n: mean over N; stable for logits up to 1e3",
    )


def svm_loss() -> Spec:
    return _loss_spec(
        "svm_loss",
        R.svm_loss,
        cases=svm_cases,
        fixed_cases=svm_fixed,
        checks=(
            Check(
                "loss", atol=1e-9, rtol=1e-7, description="mean over N of sum_{j != y} max(0, x_j - x_y + 1)"
            ),
            Check(
                "dx", atol=1e-10, rtol=1e-7, description="+1/N per positive margin, minus their count at y"
            ),
        ),
        diagnoses=(LOSS_SUMMED, CORRECT_CLASS_COUNTED),
        convention="cs231n (pre-2019 hand-outs): margin 1, mean over N",
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "softmax_loss": softmax_loss,
    "svm_loss": svm_loss,
}
