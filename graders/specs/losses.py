"""Specs of cs231n's classification losses: ``softmax_loss`` and (older hand-outs) ``svm_loss``.

Both return ``(loss, dx)`` averaged over the N examples. The hand-out's domain decides the main checks:
  * softmax: ordinary scores (|x| <= 40, every row's spread clipped so that the correct class sits at most 20
    below the row's maximum): exp() never overflows and the correct class's probability stays above 2e-10, so
    a softmax without the max shift, and a loss computed as log(p + 1e-20) or log(max(p, 1e-20)), are exact
    there, as they are on the notebook's scores;
  * svm: every margin ``x_j - x_y + 1`` kept at least 0.01 away from 0, the hinge's kink, so dx is unique
    and finite differences agree with it.
Outside it, two small robustness checks of softmax_loss: "large_scores" (scores offset by +-1000, judged by
shift invariance: graders/specs/kit/shifted.py) and "tiny_probabilities" (one example whose correct class sits 50
to 300 below the maximum, probability below 1e-18: the log of a probability plus a tiny epsilon caps the
loss there, a log-softmax does not).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import (
    Case,
    CaseRun,
    Check,
    Diagnosis,
    ErrorCase,
    GradientCheck,
    NamedCase,
    Reach,
    Robustness,
    Spec,
)
from graders.specs.kit import shifted
from graders.specs.kit.detectors import close, scaled_diagnosis
from graders.specs.kit.tolerances import LOSS_FINITE_DIFFERENCES, PRODUCT_SUMS, SMALL_GRADIENTS, SOFTMAX_GRADIENT
from graders.specs.kit.torch import torch_one_thread
from graders.specs.program import Call, Expr, Input, Item, Program, Result, call
from reference import cs231n as R

Loss = Callable[..., tuple[float, np.ndarray]]

#: Logits beyond this overflow exp() in float64 (exp(709.8) is the largest finite value).
OVERFLOW_LOGIT = 709.0
#: How far every hinge margin stays from its kink.
MARGIN_GAP = 0.01
#: Main-domain softmax scores: each row's spread is clipped to +-HALF_SPREAD (so the correct class sits at most
#: 2 * HALF_SPREAD = 20 below the maximum: probability >= exp(-20) / C > 2e-10), then offset by at most
#: +-ORDINARY_OFFSET.
HALF_SPREAD = 10.0
ORDINARY_OFFSET = 30.0
#: How far below its row's maximum the correct class sits in the tiny_probabilities cases (probability below
#: exp(-50) ~ 2e-22, and above float64's smallest normal number, so log(p) of a shifted softmax is exact).
TINY_GAPS = (50.0, 120.0, 300.0)


# ---------------------------------------------------------------- specs
def softmax_loss() -> Spec:
    return _loss_spec(
        name="softmax_loss",
        loss=R.softmax_loss,
        domain=_ordinary_softmax_case,
        cases=softmax_cases,
        reaches=SOFTMAX_REACHES,
        notebook=softmax_notebook,
        scale=softmax_scale,
        errors=_label_errors("softmax_loss"),
        checks=(
            Check("loss", tol=PRODUCT_SUMS, compare=shifted.or_shift_invariant("loss"),
                  description="mean cross-entropy of softmax(x) over the N examples"),
            Check("dx", tol=SOFTMAX_GRADIENT, compare=shifted.or_shift_invariant("dx"),
                  description="(softmax(x) - onehot(y)) / N"),
        ),
        diagnoses=(OVERFLOW, _summed(R.softmax_loss)),
        robustness=(LARGE_SCORES, TINY_PROBABILITIES),
        describe=shifted.describe,
        convention="cs231n: mean over N; ordinary scores (|x| <= 40); robust to logits of 1e3 and tiny "
        "probabilities (separate checks)",
    )


def svm_loss() -> Spec:
    return _loss_spec(
        name="svm_loss",
        loss=R.svm_loss,
        domain=_off_the_hinge,
        cases=svm_cases,
        reaches=SVM_REACHES,
        notebook=svm_notebook,
        scale=svm_scale,
        errors=_label_errors("svm_loss"),
        checks=(
            Check("loss", tol=PRODUCT_SUMS, description="mean over N of sum_{j != y} max(0, x_j - x_y + 1)"),
            Check("dx", tol=SMALL_GRADIENTS, description="+1/N per positive margin, minus their count at y"),
        ),
        diagnoses=(_summed(R.svm_loss), CORRECT_CLASS_COUNTED),
        convention="cs231n (pre-2019 hand-outs): margin 1, mean over N",
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "softmax_loss": softmax_loss,
    "svm_loss": svm_loss,
}


def _loss_spec(*, name: str, loss: Loss, **fields: Any) -> Spec:
    """What both losses share: one call returning (loss, dx), the reference, torch, finite differences of the
    loss, inputs left unchanged, float32 kept."""
    return Spec(
        name=name,
        module="layers",
        api="function",
        program=loss_program(name),
        expected=_loss_expected(loss),
        torch_expected=_torch_loss("softmax" if name == "softmax_loss" else "svm"),
        gradients=(GradientCheck("dx", "x", _loss_of(loss), tol=LOSS_FINITE_DIFFERENCES),),
        read_only=("x", "y"),
        dtype_preserving=True,
        **fields,
    )


# ---------------------------------------------------------------- domains, reach, errors
def _labels_in_range(case: Case) -> bool:
    y, (n, c) = case["y"], case["x"].shape
    return y.shape == (n,) and y.dtype.kind == "i" and bool(np.all((y >= 0) & (y < c)))


def _ordinary_softmax_case(case: Case) -> bool:
    """Labels in range; scores within +-40 with every correct class at most 20 below its row's maximum."""
    x, y = case["x"], case["y"]
    gaps = x.max(axis=1) - x[np.arange(len(y)), y] if _labels_in_range(case) else np.array([np.inf])
    return (_labels_in_range(case) and float(np.max(np.abs(x))) <= HALF_SPREAD + ORDINARY_OFFSET
            and float(np.max(gaps)) <= 2 * HALF_SPREAD)


def _margins(case: Case) -> np.ndarray:
    """The hinge margins x_j - x_y + 1 of the wrong classes j (flattened)."""
    x, y = case["x"], case["y"]
    rows = np.arange(len(y))
    margins = x - x[rows, y][:, None] + 1.0
    wrong = np.ones_like(margins, dtype=bool)
    wrong[rows, y] = False
    return margins[wrong]


def _off_the_hinge(case: Case) -> bool:
    """Labels in range; every margin at least MARGIN_GAP away from the hinge's kink (with rounding slack)."""
    return _labels_in_range(case) and bool(np.all(np.abs(_margins(case)) >= MARGIN_GAP * (1 - 1e-6)))


_REACHES = (
    Reach("a batch of one (N = 1)", lambda case: case["x"].shape[0] == 1),
    Reach("several examples (N >= 4)", lambda case: case["x"].shape[0] >= 4),
    Reach("several classes (C >= 5)", lambda case: case["x"].shape[1] >= 5),
)
SOFTMAX_REACHES = (*_REACHES, Reach("scores offset beyond +-10", lambda case: float(np.max(np.abs(case["x"]))) > 10))
SVM_REACHES = (
    *_REACHES,
    Reach("a positive margin (a hinge term counts)", lambda case: bool(np.any(_margins(case) > 0))),
    Reach("a negative margin (a hinge term is 0)", lambda case: bool(np.any(_margins(case) < 0))),
)


def _label_errors(name: str) -> tuple[ErrorCase, ...]:
    """Labels the reference rejects (the hand-out's skeleton does not check them)."""
    x = np.zeros((3, 4))

    def labels(*values: float) -> Case:
        return {"x": x, "y": np.array(values)}

    return (
        ErrorCase(f"{name}: label -1", labels(0, -1, 1), ValueError, r"label -1 is out of range.*\[0, 4\)"),
        ErrorCase(f"{name}: label 4 of 4 classes", labels(0, 4, 1), ValueError, r"label 4 is out of range.*\[0, 4\)"),
        ErrorCase(f"{name}: 2 labels for 3 examples", labels(0, 1), ValueError, r"labels must have shape \(3,\)"),
        ErrorCase(f"{name}: float labels", labels(0.0, 1.0, 2.0), ValueError, "labels must be integers"),
    )


# ---------------------------------------------------------------- property cases
def _labels(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return rng.integers(0, c, size=n).astype(np.int64)


def ordinary_scores(z: np.ndarray) -> np.ndarray:
    """Scores clipped to +-HALF_SPREAD: no correct class more than 20 below its row's maximum."""
    return np.clip(z, -HALF_SPREAD, HALF_SPREAD)


@st.composite
def softmax_cases(draw: st.DrawFn) -> Case:
    n = draw(S.dims(1, 6))
    c = draw(S.dims(2, 8))
    spread = draw(st.sampled_from([0.01, 1.0, 3.0, 6.0]))
    offset = draw(st.one_of(st.just(0.0), S.floats(-ORDINARY_OFFSET, ORDINARY_OFFSET)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return {"x": ordinary_scores(rng.standard_normal((n, c)) * spread) + offset, "y": _labels(rng, n, c)}


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


# ---------------------------------------------------------------- notebook and scale cases
#: The notebook's loss check (both losses): np.random.seed(231), 50 inputs of 10 classes, x = 0.001 * randn.
NOTEBOOK = "notebook: 50 examples of 10 classes, x = 0.001 * randn, seed 231"


def _notebook_scores(rng: np.random.RandomState) -> Case:
    return {"x": 0.001 * rng.randn(50, 10), "y": rng.randint(10, size=50).astype(np.int64)}


def softmax_notebook() -> list[NamedCase]:
    """The notebook's check, and (not the notebook's) scores spread like a trained net's."""
    rng = np.random.RandomState(231)
    notebook = _notebook_scores(rng)
    trained = {"x": ordinary_scores(3.0 * rng.randn(7, 5)), "y": rng.randint(5, size=7).astype(np.int64)}
    return [NamedCase(NOTEBOOK, notebook),
            NamedCase("not the notebook's: 7 examples of 5 classes, x = 3 * randn, as a trained net's", trained)]


def svm_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(231)
    notebook = _notebook_scores(rng)
    notebook["x"] = push_off_hinge(notebook["x"], notebook["y"])  # margins near 1: nothing moves
    return [NamedCase(NOTEBOOK, notebook)]


def _scale_scores(seed: int) -> Case:
    """A CIFAR-10 minibatch's scores: 100 examples, 10 classes, spread like a net in training."""
    x = ordinary_scores(S.standard_normal(seed, (100, 10), 2.5, name="x"))
    return {"x": x, "y": _labels(np.random.default_rng(seed), 100, 10)}


def softmax_scale() -> list[Case]:
    return [_scale_scores(2310)]


def svm_scale() -> list[Case]:
    case = _scale_scores(2311)
    case["x"] = push_off_hinge(case["x"], case["y"])
    return [case]


# ---------------------------------------------------------------- robustness cases
def large_score_cases() -> list[Case]:
    """Ordinary scores offset by +1000 (7 examples, 5 classes), by -1000, and by +1000, -1000 and +750 row by
    row: a softmax without the max shift gives inf / inf or 0 / 0 there."""
    rng = np.random.RandomState(1000)
    cases = []
    for (n, c), offset in (((7, 5), 1000.0), ((4, 6), -1000.0), ((3, 4), np.array([[1000.0], [-1000.0], [750.0]]))):
        ordinary = ordinary_scores(3.0 * rng.randn(n, c))
        cases.append(shifted.shifted_case(ordinary, offset, y=rng.randint(c, size=n).astype(np.int64)))
    return cases


def tiny_probability_cases() -> list[Case]:
    """One example each (so a mean/sum slip shows nothing here), its correct class 50, 120 and 300 below the
    row's maximum: probabilities from 2e-22 down to 5e-131."""
    rng = np.random.RandomState(18)
    cases = []
    for gap, c in zip(TINY_GAPS, (10, 5, 3), strict=True):
        x = rng.randn(1, c)
        y = rng.randint(c, size=1).astype(np.int64)
        x[0, y[0]] = np.max(x) - gap
        cases.append({"x": x, "y": y})
    return cases


LARGE_SCORES = Robustness(
    "large_scores",
    "scores offset by +-1000 (beyond exp's range) give the same loss and dx as without the offset",
    "Scores of about +-1000, far beyond the notebook's, give a wrong loss or dx, while adding a constant to a "
    "row of scores must not change softmax at all: a mature softmax handles any finite scores.",
    cases=large_score_cases,
)
#: Weight 0.125, half of large_scores': the notebook never reaches such probabilities, the gradient of a
#: log(p + eps) loss is still right, and only the loss's value is off. (With loss, dx, 0.25 and 0.125 the
#: split of 3 points also sums back to exactly 3 in floating point.)
TINY_PROBABILITIES = Robustness(
    "tiny_probabilities",
    "the loss stays exact when the correct class's probability is below 1e-18 (its score 50 to 300 below "
    "the row's maximum)",
    "The loss is wrong when the correct class's probability is tiny (below 1e-18): log(p + eps) or "
    "log(max(p, eps)) caps it near -log(eps). Compute the log-probabilities directly, shifted - "
    "log(sum(exp(shifted))), instead of taking the log of a probability.",
    cases=tiny_probability_cases,
    checks=("loss",),
    weight=0.125,
)


# ---------------------------------------------------------------- reference, torch, program
def _loss_expected(loss: Loss) -> Callable[[Case], dict[str, Any]]:
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


def _loss_of(loss: Loss) -> Callable[[Case], float]:
    return lambda case: float(loss(case["x"], case["y"])[0])


def loss_program(name: str) -> Callable[[Case], Program]:
    """Call ``layers.name(x, y)`` once and fetch both the loss and dx; on a large-score case call it on the
    ordinary scores too (fetched as loss_ordinary, dx_ordinary: see graders/specs/kit/shifted.py)."""

    def program(case: Case) -> Program:
        steps: list[Call] = [call("loss", "layers", name, Input("x"), Input("y"))]
        outputs: dict[str, Expr] = {"loss": Item(Result("loss"), 0), "dx": Item(Result("loss"), 1)}
        if shifted.ORDINARY in case:
            steps.append(call("ordinary", "layers", name, Input(shifted.ORDINARY), Input("y")))
            outputs.update({f"loss{shifted.SUFFIX}": Item(Result("ordinary"), 0),
                            f"dx{shifted.SUFFIX}": Item(Result("ordinary"), 1)})
        return Program(steps=tuple(steps), outputs=outputs)

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
    bad = [r for r in runs if r.failed_on("loss")]
    return bool(bad) and all(close(r.actual.get("loss"), float(r.expected["loss"]) + 1.0) for r in bad)


def _summed(loss: Loss) -> Diagnosis:
    """The loss and dx summed over the batch instead of averaged: the reference's times N."""

    def bug(case: Case) -> dict[str, Any]:
        value, dx = loss(case["x"], case["y"])
        return {"loss": value * _batch(case), "dx": dx * _batch(case)}

    diagnosis = scaled_diagnosis(
        "loss summed over the batch",
        "The loss (and/or dx) is N times too large: the loss is the mean over the N examples, so divide the sum "
        "by N, and divide dx by N as well.",
        ("loss", "dx"),
        _batch,
    )
    return dataclasses.replace(diagnosis, reads=("loss", "dx"), bug=bug)


# No bug model: a softmax without the max shift is exact on every main case, so only the large-score cases
# (a robustness check's, which the generated diagnosis test does not draw) show it.
OVERFLOW = Diagnosis(
    "softmax overflow",
    "The loss or dx turns into NaN/inf when the scores are large (|x| > 700) although it is right for small "
    "scores: exp() overflows. Subtract each row's maximum score before exponentiating; softmax is unchanged "
    "by that shift.",
    _overflow_only_at_large_logits,
    reads=("loss", "dx"),
)
CORRECT_CLASS_COUNTED = Diagnosis(
    "correct class counted in the hinge",
    "The loss is exactly 1 too large: the sum over classes must skip the correct class j = y (its margin "
    "x_y - x_y + 1 is always 1).",
    _correct_class_counted,
    reads=("loss",),
    bug=lambda case: {"loss": R.svm_loss(case["x"], case["y"])[0] + 1.0},
)
