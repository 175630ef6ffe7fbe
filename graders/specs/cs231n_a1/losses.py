"""Specs of ``linear_svm.py`` and ``softmax.py``: ``svm_loss_naive``, ``svm_loss_vectorized``,
``softmax_loss_naive`` and ``softmax_loss_vectorized``, each ``(W, X, y, reg) -> (loss, dW)``.

Every function is judged on its own against the reference (the notebook's "naive and vectorized agree" is then
implied). The loss is the data loss averaged over the N examples plus ``l2 * reg * sum(W * W)``: the factory
option ``l2`` is "2019" (``reg * np.sum(W * W)``, the 2019+ skeleton's own line, gradient ``2 * reg * W``) or
"2016" (``0.5 * reg``, gradient ``reg * W``; "2017" is the same as "2019").

Domains: W (D, C) with D >= C, X (N, D), y in [0, C), reg in {0, 0.1, 2.5}. SVM cases keep every margin
``s_j - s_y + 1`` at least 0.01 from the hinge's kink (a wrong-class score is moved by changing X along W's
pseudo-inverse, which moves that score alone), so dW is unique and finite differences agree with it. Softmax
cases keep scores ordinary (|s| <= 40, the correct class at most 20 below its row's maximum), where a softmax
without the max shift is exact; the robustness check ``large_scores`` adds +-1000 to every score (through the
bias row of W, reg 0) and asks for the same loss and dW, judged by shift invariance so that a loss that is
wrong anyway is not charged twice.
"""

from __future__ import annotations

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
    GradientCheck,
    NamedCase,
    Outputs,
    Reach,
    Robustness,
    Spec,
    Verdict,
)
from graders.specs.cs231n_a1.common import (
    SOFTMAX_MODULE,
    SVM_MODULE,
    l2_factor,
    l2_sentence,
    pixels,
    preprocessed,
)
from graders.specs.kit.detectors import variant_diagnosis
from graders.specs.kit.rules import compare_arrays
from graders.specs.kit.shifted import finite
from graders.specs.kit.tolerances import LINEAR_GRADIENTS, LOSS_FINITE_DIFFERENCES, PRODUCT_SUMS
from graders.specs.kit.torch import torch_one_thread
from graders.specs.program import Call, Expr, Input, Item, Program, Result, call
from reference.cs231n import linear as R

LinearLoss = Callable[..., tuple[float, np.ndarray]]

#: How far every hinge margin stays from its kink.
MARGIN_GAP = 0.01
#: Softmax main domain: scores within +-40, the correct class at most 20 below its row's maximum.
MAX_SCORE, MAX_GAP = 40.0, 20.0
#: The large-score robustness cases' offsets (beyond exp's range, 709).
LARGE_OFFSETS = (1000.0, -1000.0)
#: The case key of W without the large offset (the program calls the student's function on it too).
ORDINARY = "W_ordinary"
REGS = (0.0, 0.1, 2.5)


# ---------------------------------------------------------------- specs
def svm_loss_naive(*, l2: str = "2019") -> Spec:
    return _svm("svm_loss_naive", l2)


def svm_loss_vectorized(*, l2: str = "2019") -> Spec:
    return _svm("svm_loss_vectorized", l2)


def softmax_loss_naive(*, l2: str = "2019") -> Spec:
    return _softmax("softmax_loss_naive", l2)


def softmax_loss_vectorized(*, l2: str = "2019") -> Spec:
    return _softmax("softmax_loss_vectorized", l2)


FACTORIES: dict[str, Callable[..., Spec]] = {
    "svm_loss_naive": svm_loss_naive,
    "svm_loss_vectorized": svm_loss_vectorized,
    "softmax_loss_naive": softmax_loss_naive,
    "softmax_loss_vectorized": softmax_loss_vectorized,
}


def _svm(name: str, l2: str) -> Spec:
    factor = l2_factor(l2)
    return _loss_spec(
        name=name, module=SVM_MODULE, kind="svm", factor=factor,
        loss_description=f"mean over N of sum_(j != y) max(0, s_j - s_y + 1), plus {l2_sentence(factor)}",
        domain=_off_the_hinge,
        reaches=(*_REACHES,
                 Reach("a positive margin", lambda case: bool(np.any(_margins(case) > 0))),
                 Reach("a negative margin", lambda case: bool(np.any(_margins(case) < 0)))),
        robustness=(),
        extra_diagnoses=(_correct_class_counted(factor),),
        convention=f"cs231n A1: W (D, C), X (N, D), margin 1, mean over N, {l2_sentence(factor)}",
    )


def _softmax(name: str, l2: str) -> Spec:
    factor = l2_factor(l2)
    return _loss_spec(
        name=name, module=SOFTMAX_MODULE, kind="softmax", factor=factor,
        loss_description=f"mean cross-entropy of softmax(X @ W), plus {l2_sentence(factor)}",
        domain=_ordinary_scores,
        reaches=(*_REACHES, Reach("scores beyond +-10", lambda case: float(np.max(np.abs(_scores(case)))) > 10)),
        robustness=(LARGE_SCORES,),
        extra_diagnoses=(_onehot_missing(factor), OVERFLOW),
        convention=f"cs231n A1: W (D, C), X (N, D), mean over N, {l2_sentence(factor)}; robust to scores of "
                   "1e3 (a separate check)",
    )


def _loss_spec(*, name: str, module: str, kind: str, factor: float, loss_description: str,
               extra_diagnoses: tuple[Diagnosis, ...], **fields: Any) -> Spec:
    reference = _reference(kind, factor)
    return Spec(
        name=name,
        module=module,
        api="function",
        cases=_cases(kind),
        notebook=_notebook(kind),
        scale=_scale(kind),
        describe=_describe,
        program=_program(name, module),
        expected=_expected(reference),
        torch_expected=_torch(kind, factor),
        gradients=(GradientCheck("dW", "W", lambda case: float(reference(case)[0]), tol=LOSS_FINITE_DIFFERENCES),),
        checks=(
            Check("loss", tol=PRODUCT_SUMS, compare=_or_shift_invariant("loss"), description=loss_description),
            Check("dW", tol=LINEAR_GRADIENTS, compare=_or_shift_invariant("dW"),
                  description=f"the gradient of the loss wrt W, (D, C): X.T @ dscores / N plus "
                              f"{2 * factor:g} * reg * W"),
        ),
        diagnoses=(*_reg_diagnoses(reference, factor), *_batch_diagnoses(reference, factor), *extra_diagnoses),
        read_only=("W", "X", "y"),
        **fields,
    )


# ---------------------------------------------------------------- reference, torch, program
def _reference(kind: str, factor: float) -> Callable[[Case], tuple[float, np.ndarray]]:
    loss: LinearLoss = R.svm_loss_vectorized if kind == "svm" else R.softmax_loss_vectorized
    return lambda case: loss(case["W"], case["X"], case["y"], case["reg"], factor)


def _expected(reference: Callable[[Case], tuple[float, np.ndarray]]) -> Callable[[Case], dict[str, Any]]:
    def expected(case: Case) -> dict[str, Any]:
        loss, dW = reference(case)
        return {"loss": loss, "dW": dW}

    return expected


def _torch(kind: str, factor: float) -> Callable[[Case], dict[str, Any]]:
    def adapter(case: Case) -> dict[str, Any]:
        torch = torch_one_thread()
        import torch.nn.functional as F

        W = torch.tensor(case["W"], requires_grad=True)
        scores = torch.tensor(case["X"]) @ W
        y = torch.tensor(case["y"])
        # multi_margin_loss also averages the hinge terms over the C classes: times C undoes that.
        data = (F.cross_entropy(scores, y) if kind == "softmax"
                else scores.shape[1] * F.multi_margin_loss(scores, y, p=1, margin=1.0))
        loss = data + factor * case["reg"] * (W * W).sum()
        loss.backward()
        assert W.grad is not None
        return {"loss": float(loss.item()), "dW": W.grad.numpy()}

    return adapter


def _program(name: str, module: str) -> Callable[[Case], Program]:
    """``module.name(W, X, y, reg)``; on a large-score case also on W without the offset (``*_ordinary``)."""

    def program(case: Case) -> Program:
        steps: list[Call] = [call("loss", module, name, Input("W"), Input("X"), Input("y"), Input("reg"))]
        outputs: dict[str, Expr] = {"loss": Item(Result("loss"), 0), "dW": Item(Result("loss"), 1)}
        if ORDINARY in case:
            steps.append(call("ordinary", module, name, Input(ORDINARY), Input("X"), Input("y"), Input("reg")))
            outputs.update({"loss_ordinary": Item(Result("ordinary"), 0), "dW_ordinary": Item(Result("ordinary"), 1)})
        return Program(steps=tuple(steps), outputs=outputs)

    return program


def _or_shift_invariant(name: str) -> Callable[[Case, Outputs, Outputs, Check], Verdict]:
    """Allclose to the reference; on a large-score case (reg 0: the loss and dW do not change with the offset)
    also right when finite and equal to the student's own output without the offset."""

    def rule(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
        if name not in actual:
            return Verdict(False, f"{name} was not produced")
        verdict = compare_arrays(name, actual[name], expected[name], check.atol, check.rtol)
        own = actual.get(name + "_ordinary")
        if verdict.passed or ORDINARY not in case or not finite(own) or not finite(actual[name]):
            return verdict
        return Verdict(True) if compare_arrays(name, actual[name], own, check.atol, check.rtol).passed else verdict

    return rule


def _describe(case: Case) -> str:
    n, d = np.shape(case["X"])
    text = f"W ({d}, {np.shape(case['W'])[1]}), X ({n}, {d}), reg {case['reg']:g}"
    if ORDINARY in case:
        offset = float(np.mean(_scores(case) - case["X"] @ case[ORDINARY]))
        text += f" (every score offset by {offset:+g} through W's bias row)"
    return text


# ---------------------------------------------------------------- domains and reaches
def _scores(case: Case) -> np.ndarray:
    return np.asarray(case["X"] @ case["W"])


def _labels_in_range(case: Case) -> bool:
    y, c = case["y"], np.shape(case["W"])[1]
    return y.shape == (np.shape(case["X"])[0],) and y.dtype.kind == "i" and bool(np.all((y >= 0) & (y < c)))


def _margins(case: Case) -> np.ndarray:
    """The hinge margins s_j - s_y + 1 of the wrong classes j (flattened)."""
    scores, y = _scores(case), case["y"]
    rows = np.arange(len(y))
    margins = scores - scores[rows, y][:, None] + 1.0
    wrong = np.ones_like(margins, dtype=bool)
    wrong[rows, y] = False
    return margins[wrong]


def _off_the_hinge(case: Case) -> bool:
    return _labels_in_range(case) and bool(np.all(np.abs(_margins(case)) >= MARGIN_GAP * (1 - 1e-6)))


def _ordinary_scores(case: Case) -> bool:
    if not _labels_in_range(case):
        return False
    scores, y = _scores(case), case["y"]
    gaps = scores.max(axis=1) - scores[np.arange(len(y)), y]
    return float(np.max(np.abs(scores))) <= MAX_SCORE and float(np.max(gaps)) <= MAX_GAP


_REACHES = (
    Reach("one example (N = 1)", lambda case: np.shape(case["X"])[0] == 1),
    Reach("several examples (N >= 4)", lambda case: np.shape(case["X"])[0] >= 4),
    Reach("regularised (reg > 0)", lambda case: case["reg"] > 0),
    Reach("unregularised (reg = 0)", lambda case: case["reg"] == 0),
)


# ---------------------------------------------------------------- cases
def push_off_hinge(W: np.ndarray, X: np.ndarray, y: np.ndarray, gap: float = MARGIN_GAP) -> np.ndarray:
    """X changed so that every wrong-class score whose margin is within ``gap`` of 0 moves 2 * gap away from it.

    A score change T (N, C) is made by X + T @ pinv(W) (W (D, C) of full column rank: pinv(W) @ W = I), so a
    wrong-class score moves alone and no other margin changes."""
    scores = X @ W
    rows = np.arange(X.shape[0])
    margins = scores - scores[rows, y][:, None] + 1.0
    near = np.abs(margins) < gap
    near[rows, y] = False
    shift = np.where(near, np.where(margins >= 0, 2.0 * gap, -2.0 * gap), 0.0)
    return np.asarray(X + shift @ np.linalg.pinv(W))


def _build(rng: np.random.Generator, kind: str, n: int, d: int, c: int, reg: float, spread: float) -> Case:
    W = rng.standard_normal((d, c)) * spread / np.sqrt(d)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, size=n).astype(np.int64)
    if kind == "svm":
        X = push_off_hinge(W, X, y)
    return {"W": W, "X": X, "y": y, "reg": reg}


def _cases(kind: str) -> Callable[[], st.SearchStrategy[Case]]:
    valid = _off_the_hinge if kind == "svm" else _ordinary_scores

    @st.composite
    def cases(draw: st.DrawFn) -> Case:
        n = draw(S.dims(1, 8))
        c = draw(S.dims(2, 6))
        d = draw(st.integers(c, c + 5))
        reg = draw(st.sampled_from(REGS))
        spread = draw(st.sampled_from([0.3, 1.0, 3.0] if kind == "svm" else [0.1, 1.0, 4.0]))
        return draw(S.seeded_until(lambda rng: _build(rng, kind, n, d, c, reg, spread), valid))

    return cases


def _cifar_like(seed: int, n: int, side: int, reg: float, kind: str) -> Case:
    """The notebook's setting: mean-subtracted pixels with a bias column, 10 classes, W = 0.0001 * randn."""
    rng = np.random.default_rng(seed)
    X = preprocessed(pixels(rng, n, side * side * 3))
    W = 0.0001 * rng.standard_normal((X.shape[1], 10))
    y = rng.integers(0, 10, size=n).astype(np.int64)
    if kind == "svm":
        X = push_off_hinge(W, X, y)
    return {"W": W, "X": X, "y": y, "reg": reg}


def _notebook(kind: str) -> Callable[[], list[NamedCase]]:
    def notebook() -> list[NamedCase]:
        found = [NamedCase(f"notebook: W = 0.0001 * randn, {n} mean-subtracted 4x4x3 images with a bias column, "
                           f"10 classes, reg {reg:g} (the notebook's check on a smaller dev set)",
                           _cifar_like(231 + i, n, 4, reg, kind))
                 for i, (n, reg) in enumerate(((50, 5e-6), (50, 5e1)))]
        rng = np.random.default_rng(232)
        trained = _build(rng, kind, 7, 8, 5, 0.1, 3.0)
        if kind != "svm":
            trained["W"] = np.clip(trained["W"], -1.5, 1.5)
        found.append(NamedCase("not the notebook's: 7 examples, 5 classes, scores spread like a trained "
                               "classifier's, reg 0.1", trained))
        return found

    return notebook


def _scale(kind: str) -> Callable[[], list[Case]]:
    return lambda: [_cifar_like(2310 if kind == "svm" else 2311, 100, 32, 2.5e4 * 1e-4, kind)]


# ---------------------------------------------------------------- robustness: large scores (softmax)
def large_score_cases() -> list[Case]:
    """Ordinary cases with a bias column (reg 0), every score offset by +1000 or -1000 through W's bias row:
    the loss and dW are the same as without the offset."""
    cases = []
    for k, offset in enumerate(LARGE_OFFSETS):
        rng = np.random.default_rng(1000 + k)
        X = np.hstack([rng.standard_normal((6, 4)), np.ones((6, 1))])
        W = rng.standard_normal((5, 4))
        W[-1] = 0.0
        shifted = W.copy()
        shifted[-1] += offset
        cases.append({"W": shifted, "X": X, "y": rng.integers(0, 4, size=6).astype(np.int64), "reg": 0.0,
                      ORDINARY: W})
    return cases


LARGE_SCORES = Robustness(
    "large_scores",
    "scores offset by +-1000 (beyond exp's range) give the same loss and dW as without the offset",
    "Scores of about +-1000 give a wrong loss or dW, while adding a constant to every score of a row must not "
    "change softmax at all: subtract each row's maximum score before exponentiating.",
    cases=large_score_cases,
)


def _overflow_only_at_large_scores(runs: Sequence[CaseRun]) -> bool:
    """NaN or inf on some large-score case, never on an ordinary one."""

    def overflows(run: CaseRun) -> bool:
        return run.error is None and not all(finite(run.actual.get(k)) for k in ("loss", "dW"))

    large = [r for r in runs if ORDINARY in r.case]
    small = [r for r in runs if ORDINARY not in r.case]
    return any(overflows(r) for r in large) and not any(overflows(r) for r in small)


OVERFLOW = Diagnosis(
    "softmax overflow",
    "The loss or dW turns into NaN/inf when the scores are large (|s| > 700) although it is right for ordinary "
    "scores: exp() overflows. Subtract each row's maximum score before exponentiating; softmax is unchanged by "
    "that shift.",
    _overflow_only_at_large_scores,
    reads=("loss", "dW"),
)


# ---------------------------------------------------------------- diagnoses
Reference = Callable[[Case], tuple[float, np.ndarray]]


def _parts(reference: Reference, factor: float, case: Case) -> tuple[float, np.ndarray, float, np.ndarray]:
    """(data loss, data dW, L2 loss, L2 dW) of the reference on ``case``."""
    loss, dW = reference(case)
    W, reg = case["W"], float(case["reg"])
    reg_loss, reg_grad = factor * reg * float(np.sum(W * W)), 2.0 * factor * reg * W
    return loss - reg_loss, dW - reg_grad, reg_loss, reg_grad


def _variant(reference: Reference, factor: float, *, data_loss: float = 1.0, data_grad: float = 1.0,
             reg_loss: float = 1.0, reg_grad: float = 1.0, batch: bool = False, needs_reg: bool = True,
             ) -> Callable[[Case], dict[str, Any] | None]:
    """The reference with its parts scaled: the data parts by N (``batch``) or by the given factors, the L2
    parts by theirs. None where the variant equals the right answer (reg 0 for an L2 slip, N = 1)."""

    def variant(case: Case) -> dict[str, Any] | None:
        if (needs_reg and case["reg"] == 0) or (batch and np.shape(case["X"])[0] == 1):
            return None
        loss, dW, l2_loss, l2_grad = _parts(reference, factor, case)
        n = float(np.shape(case["X"])[0]) if batch else 1.0
        return {"loss": data_loss * n * loss + reg_loss * l2_loss, "dW": data_grad * n * dW + reg_grad * l2_grad}

    return variant


def _reg_diagnoses(reference: Reference, factor: float) -> tuple[Diagnosis, ...]:
    other = 0.5 if factor == 1.0 else 1.0
    written = l2_sentence(factor)
    return (
        variant_diagnosis(
            "L2 gradient halved",
            f"The regularisation part of dW is half of what it should be: the derivative of {written} is "
            f"{2 * factor:g} * reg * W.",
            _variant(reference, factor, reg_grad=0.5), ("dW",), ("dW",)),
        variant_diagnosis(
            "L2 gradient missing",
            f"dW has no regularisation part: add the gradient of {written}, {2 * factor:g} * reg * W.",
            _variant(reference, factor, reg_grad=0.0), ("dW",), ("dW",)),
        variant_diagnosis(
            "L2 loss missing",
            f"The loss has no regularisation term: add {written}.",
            _variant(reference, factor, reg_loss=0.0), ("loss",), ("loss",)),
        variant_diagnosis(
            "other year's L2 convention",
            f"The loss and dW follow the other hand-out's L2 convention ({l2_sentence(other)}, gradient "
            f"{2 * other:g} * reg * W); this assignment's is {written}, gradient {2 * factor:g} * reg * W.",
            _variant(reference, factor, reg_loss=other / factor, reg_grad=other / factor), ("loss", "dW")),
    )


def _batch_diagnoses(reference: Reference, factor: float) -> tuple[Diagnosis, ...]:
    summed = _variant(reference, factor, batch=True, needs_reg=False)
    return (
        variant_diagnosis(
            "loss summed over the batch",
            "The data loss is N times too large: average the per-example losses over the N examples (divide the "
            "sum by N) before adding the regularisation.",
            summed, ("loss",)),
        variant_diagnosis(
            "dW not averaged",
            "dW's data part is N times too large: divide the summed per-example gradients by N (as the loss is "
            "averaged) before adding the regularisation's gradient.",
            summed, ("dW",)),
    )


def _correct_class_counted(factor: float) -> Diagnosis:
    """The j == y term (max(0, s_y - s_y + 1) = 1) kept in the hinge sum: the loss exactly 1 too large. (Its
    gradient, +x and -x at column y, cancels, so dW stays right.)"""
    reference = _reference("svm", factor)

    def variant(case: Case) -> dict[str, Any]:
        return {"loss": reference(case)[0] + 1.0}

    return variant_diagnosis(
        "correct class counted in the hinge",
        "The loss is exactly 1 too large: the sum over classes must skip the correct class j = y[i] (its margin "
        "s_y - s_y + 1 is always 1).",
        variant, ("loss",))


def _onehot_missing(factor: float) -> Diagnosis:
    """dW built from the probabilities alone: X.T @ p / N, the -1 at each correct class left out."""
    reference = _reference("softmax", factor)

    def variant(case: Case) -> dict[str, Any]:
        loss, dW = reference(case)
        onehot = np.zeros((np.shape(case["X"])[0], np.shape(case["W"])[1]))
        onehot[np.arange(len(case["y"])), case["y"]] = 1.0
        return {"dW": dW + case["X"].T @ onehot / np.shape(case["X"])[0]}

    return variant_diagnosis(
        "correct-class term missing from dW",
        "dW misses the -1 of each correct class: the gradient of the cross-entropy wrt the scores is p - onehot(y) "
        "(averaged over N), not p alone.",
        variant, ("dW",))


