"""Specs of the book's ``common/functions.py``: ``sigmoid``, ``softmax`` and ``cross_entropy_error``.

The book's exercises decide the main checks: ordinary scores for softmax (|x| < 200, where the book's
chapter-3 softmax without the max shift is exact), and true classes of non-zero probability for
cross_entropy_error, where its value with the 1e-7 inside the log (the book since its December 2017 errata)
and without it (before) are both accepted. The corners are small robustness checks: "large_scores" (the
book's [1010, 1000, 990] and batches offset by +-1000, judged by shift invariance: graders/specs/kit/shifted.py)
and "zero_probability" (a true class of probability exactly 0: the book's 1e-7 keeps the loss finite).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, NamedCase, Reach, Robustness, Spec, Verdict
from graders.specs.dlfs.common import OVERFLOW_LOGIT, one_hot
from graders.specs.kit import shifted
from graders.specs.kit.detectors import matches_variant, scaled_diagnosis
from graders.specs.kit.rules import as_numeric, compare_arrays
from graders.specs.kit.tolerances import ELEMENTWISE, ELEMENTWISE_NORMALISED
from graders.specs.kit.torch import torch_one_thread
from graders.specs.program import Call, Expr, Input, Program, Result, call
from reference import dlfs as D

#: Main-domain softmax scores are offset by at most this (every |x| stays below 200: exp() is far from
#: overflowing, so a softmax without the max shift is exact there).
ORDINARY_OFFSET = 50.0
ORDINARY_LIMIT = 200.0
#: Main-domain true classes sit at most this far below their row's maximum score (cross_entropy_error's
#: cases): probability above exp(-10) / 10 > 4e-6, so log(y), log(y + 1e-7) and log(max(y, 1e-7)) are all
#: finite and the two conventions the check accepts are both defined.
TRUE_CLASS_GAP = 10.0


# ---------------------------------------------------------------- specs
def sigmoid_spec() -> Spec:
    return Spec(
        name="sigmoid",
        module="functions",
        api="function",
        domain=lambda case: 1 <= case["x"].ndim <= 3 and bool(np.all(np.isfinite(case["x"]))),
        cases=sigmoid_cases,
        reaches=(Reach("1-D x", lambda case: case["x"].ndim == 1), Reach("3-D x", lambda case: case["x"].ndim == 3),
                 Reach("saturating scores (|x| > 30)", lambda case: float(np.max(np.abs(case["x"]))) > 30)),
        notebook=sigmoid_notebook,
        scale=sigmoid_scale,
        program=function_program("sigmoid", "x"),
        expected=lambda case: {"out": D.sigmoid(case["x"])},
        torch_expected=torch_sigmoid,
        checks=(Check("out", tol=ELEMENTWISE, description="1 / (1 + exp(-x)), elementwise"),),
        convention="book: any shape, elementwise",
        read_only=("x",),
        dtype_preserving=True,
    )


def softmax_spec() -> Spec:
    return Spec(
        name="softmax",
        module="functions",
        api="function",
        domain=lambda case: case["x"].ndim in (1, 2) and float(np.max(np.abs(case["x"]))) <= ORDINARY_LIMIT,
        cases=softmax_cases,
        reaches=(Reach("1-D scores", lambda case: case["x"].ndim == 1),
                 Reach("a batch of several rows", lambda case: case["x"].ndim == 2 and case["x"].shape[0] >= 3),
                 Reach("scores offset beyond +-20", lambda case: float(np.min(np.abs(case["x"]))) > 20)),
        notebook=softmax_notebook,
        scale=softmax_scale,
        program=function_program("softmax", "x"),
        expected=lambda case: {"out": D.softmax(case["x"])},
        torch_expected=torch_softmax,
        checks=(
            Check("out", tol=ELEMENTWISE_NORMALISED, compare=shifted.or_shift_invariant("out"),
                  description="exp(x - max) / sum(exp(x - max)) along the last axis"),
        ),
        diagnoses=(SOFTMAX_OVERFLOW, SOFTMAX_WHOLE_BATCH),
        robustness=(SOFTMAX_LARGE_SCORES,),
        describe=shifted.describe,
        convention="book: 1-D or 2-D (rows); ordinary scores, and stable for logits of 1e3 (a separate check)",
        read_only=("x",),
        dtype_preserving=True,
    )


def cross_entropy_spec() -> Spec:
    return Spec(
        name="cross_entropy_error",
        module="functions",
        api="function",
        domain=lambda case: bool(np.all(_true_probabilities(case) > 0)),
        cases=cross_entropy_cases,
        reaches=(Reach("1-D y (one example)", lambda case: case["y"].ndim == 1),
                 Reach("one-hot t for a batch", lambda case: case["y"].ndim == 2 and case["t"].ndim == 2),
                 Reach("integer labels t for a batch of several",
                       lambda case: case["t"].dtype.kind == "i" and case["y"].ndim == 2 and len(case["y"]) >= 3)),
        notebook=cross_entropy_notebook,
        scale=cross_entropy_scale,
        program=function_program("cross_entropy_error", "y", "t"),
        expected=lambda case: {"out": D.cross_entropy_error(case["y"], case["t"])},
        torch_expected=torch_cross_entropy,
        checks=(
            Check("out", tol=ELEMENTWISE, compare=either_delta,
                  description="-sum(log(y[true] + 1e-7)) / N, or without the 1e-7; 1-D y is a batch of one"),
        ),
        diagnoses=(CROSS_ENTROPY_NO_DELTA, CROSS_ENTROPY_SUMMED),
        robustness=(ZERO_PROBABILITY,),
        convention="book: 1e-7 inside the log (or none: both are the book's); t one-hot or labels; 1-D y is "
        "one example",
        read_only=("y", "t"),
    )


def function_program(name: str, *args: str) -> Callable[[Case], Program]:
    """``functions.name(*inputs)``, fetched as ``out``; on a large-score case also on the ordinary scores
    (``out_ordinary``, see graders/specs/kit/shifted.py)."""

    def program(case: Case) -> Program:
        steps: list[Call] = [call("y", "functions", name, *(Input(a) for a in args))]
        outputs: dict[str, Expr] = {"out": Result("y")}
        if shifted.ORDINARY in case:
            ordinary = (shifted.ORDINARY if a == "x" else a for a in args)
            steps.append(call("ordinary", "functions", name, *(Input(a) for a in ordinary)))
            outputs["out" + shifted.SUFFIX] = Result("ordinary")
        return Program(steps=tuple(steps), outputs=outputs)

    return program


# ---------------------------------------------------------------- sigmoid
@st.composite
def sigmoid_cases(draw: st.DrawFn) -> Case:
    shape = draw(S.shapes_with(draw(st.integers(1, 3)), 1, 6))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0, 30.0]))
    return {"x": draw(S.seeded_arrays(shape, scale, name="x"))}


def sigmoid_notebook() -> list[NamedCase]:
    return [NamedCase("book ch. 3: x = [-1.0, 1.0, 2.0]", {"x": np.array([-1.0, 1.0, 2.0])}),
            NamedCase("not the book's: scores where 1 / (1 + exp(-x)) saturates (+-40)",
                      {"x": np.array([[-40.0, -5.0, 0.0], [0.5, 5.0, 40.0]])})]


def sigmoid_scale() -> list[Case]:
    """The hidden layer of the book's MNIST network: 100 images, 50 units."""
    return [{"x": S.standard_normal(3102, (100, 50), 3.0, name="x")}]


def torch_sigmoid(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    return {"out": torch.sigmoid(torch.tensor(case["x"])).numpy()}


# ---------------------------------------------------------------- softmax
@st.composite
def softmax_cases(draw: st.DrawFn) -> Case:
    """1-D (C,) or 2-D (N, C) ordinary scores: the spread within a row varies, offsets stay within +-50 and
    every |x| below 200, far from exp's range (the large scores are the robustness check's)."""
    c = draw(S.dims(2, 8))
    shape = (c,) if draw(st.booleans()) else (draw(S.dims(1, 6)), c)
    spread = draw(st.sampled_from([0.01, 1.0, 5.0, 30.0]))
    offset = draw(st.one_of(st.just(0.0), S.floats(-ORDINARY_OFFSET, ORDINARY_OFFSET)))
    return {"x": np.clip(draw(S.seeded_arrays(shape, spread, name="x")), -150.0, 150.0) + offset}


def softmax_notebook() -> list[NamedCase]:
    """The book's example (its [1010, 1000, 990] is the robustness check's)."""
    return [NamedCase("book ch. 3: a = [0.3, 2.9, 4.0]", {"x": np.array([0.3, 2.9, 4.0])}),
            NamedCase("not the book's: the book's a and [10, 0, -10] as a batch of two rows",
                      {"x": np.array([[0.3, 2.9, 4.0], [10.0, 0.0, -10.0]])})]


def softmax_scale() -> list[Case]:
    """The output layer of the book's MNIST network: 100 images, 10 classes."""
    return [{"x": S.standard_normal(3100, (100, 10), 3.0, name="x")}]


def softmax_large_cases() -> list[Case]:
    """The book's motivating example [1010, 1000, 990] (as a batch of one), and batches offset by +1000 and
    -1000: a softmax without the max shift gives inf / inf or 0 / 0 there. 2-D only and one offset per case,
    so that a 1-D slip or a softmax over the whole batch (both charged by the main check) does not show here."""
    rng = np.random.RandomState(1010)
    return [
        shifted.shifted_case(np.array([[10.0, 0.0, -10.0]]), 1000.0),
        shifted.shifted_case(3.0 * rng.randn(3, 4), 1000.0),
        shifted.shifted_case(3.0 * rng.randn(2, 5), -1000.0),
    ]


def torch_softmax(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    return {"out": torch.softmax(torch.tensor(case["x"]), dim=-1).numpy()}


def _overflows(value: Any) -> bool:
    got = as_numeric(value)
    return got is not None and not bool(np.all(np.isfinite(got)))


def _overflow_only_at_large_logits(runs: Sequence[CaseRun]) -> bool:
    """NaN/inf on a case with logits past exp's range, and never on a case with small logits."""
    large = [r for r in runs if r.error is None and np.max(np.abs(r.case["x"])) > OVERFLOW_LOGIT]
    small = [r for r in runs if r.error is None and np.max(np.abs(r.case["x"])) < OVERFLOW_LOGIT / 2]
    return any(_overflows(r.actual.get("out")) for r in large) and not any(
        _overflows(r.actual.get("out")) for r in small
    )


def _softmax_over_everything(case: Case) -> dict[str, Any] | None:
    """The first edition's 1-D softmax applied to a 2-D batch: one distribution over all N*C entries."""
    x = case["x"]
    if x.ndim != 2 or x.shape[0] == 1:
        return None
    e = np.exp(x - np.max(x))
    return {"out": e / np.sum(e)}


# No bug model: a softmax without the max shift is exact on every main case (only the robustness check's
# large scores show it).
SOFTMAX_OVERFLOW = Diagnosis(
    "softmax overflow",
    "softmax gives NaN/inf when the scores are large (the book's [1010, 1000, 990]) although it is right for "
    "small ones: exp() overflows. Subtract the largest score (of each row) first; softmax does not change.",
    _overflow_only_at_large_logits,
    reads=("out",),
)
SOFTMAX_WHOLE_BATCH = Diagnosis(
    "softmax over the whole batch",
    "For a 2-D input the result is one distribution over the whole batch: each row (example) must be "
    "normalised on its own (max and sum along axis=-1 with keepdims=True, or the transpose trick).",
    lambda runs: matches_variant(runs, _softmax_over_everything, ("out",)),
    reads=("out",),
    bug=lambda case: _softmax_over_everything(case) or {"out": D.softmax(case["x"])},
)
SOFTMAX_LARGE_SCORES = Robustness(
    "large_scores",
    "scores offset by +-1000 (the book's [1010, 1000, 990]) give the same softmax as without the offset",
    "Scores of about +-1000 (the book's [1010, 1000, 990]) give a wrong softmax, while adding a constant to "
    "a row of scores must not change it: the book's version handles any finite scores.",
    cases=softmax_large_cases,
)


# ---------------------------------------------------------------- cross_entropy_error
def _lift_true_class(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each true class's score raised to at least its row's maximum - TRUE_CLASS_GAP, so that its probability
    stays above exp(-10) / C > 4e-6."""
    rows = np.arange(len(labels))
    lifted = scores.copy()
    lifted[rows, labels] = np.maximum(lifted[rows, labels], lifted.max(axis=1) - TRUE_CLASS_GAP)
    return lifted


@st.composite
def cross_entropy_cases(draw: st.DrawFn) -> Case:
    """y = softmax(scores) (1-D or 2-D), t one-hot or labels; every true-class probability above 1e-6 (a zero
    one is the robustness check's)."""
    c = draw(S.dims(2, 10))
    one_example = draw(st.booleans())
    n = 1 if one_example else draw(S.dims(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    labels = rng.integers(0, c, size=n)
    scores = rng.standard_normal((n, c)) * draw(st.sampled_from([0.5, 2.0, 6.0]))
    y = D.softmax(_lift_true_class(scores, labels))
    t = one_hot(labels, c) if draw(st.booleans()) else labels.astype(np.int64)
    if one_example:
        return {"y": y[0], "t": t[0] if t.ndim == 2 else t}
    return {"y": y, "t": t}


#: The book's ch. 4 example: probabilities of the 10 digits, some exactly 0.
BOOK_Y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])


def cross_entropy_notebook() -> list[NamedCase]:
    return [
        NamedCase("book ch. 4: y of the 10 digits, one-hot t of the right class 2 (loss 0.51)",
                  {"y": BOOK_Y, "t": one_hot(np.array([2]), 10)[0]}),
        NamedCase("book ch. 4: the same y, one-hot t of a wrong class 7 (loss 2.30)",
                  {"y": BOOK_Y, "t": one_hot(np.array([7]), 10)[0]}),
        NamedCase("not the book's: both as a batch of two, integer labels [2, 7]",
                  {"y": np.stack([BOOK_Y, BOOK_Y]), "t": np.array([2, 7], dtype=np.int64)}),
    ]


def cross_entropy_scale() -> list[Case]:
    """A minibatch of the book's MNIST training: 100 softmax outputs over 10 digits, one-hot and labels."""
    rng = np.random.default_rng(3101)
    labels = rng.integers(0, 10, size=100)
    y = D.softmax(_lift_true_class(rng.standard_normal((100, 10)) * 2.0, labels))
    return [{"y": y, "t": one_hot(labels, 10)}, {"y": y, "t": labels.astype(np.int64)}]


def zero_probability_cases() -> list[Case]:
    """One example each (a (1, C) batch with an integer label: a mean/sum, 1-D or one-hot slip, which the
    main check charges, does not show here) whose true class has probability exactly 0: the book's y with
    label 3, and a softmax output with one entry underflowed to 0."""
    rng = np.random.RandomState(7)
    scores = rng.randn(1, 4)
    scores[0, 1] = scores.max() - 800.0  # exp(-800) underflows: probability exactly 0
    return [
        {"y": BOOK_Y.reshape(1, -1), "t": np.array([3], dtype=np.int64)},
        {"y": D.softmax(scores), "t": np.array([1], dtype=np.int64)},
    ]


def torch_cross_entropy(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    import torch.nn.functional as F

    y = torch.tensor(np.atleast_2d(case["y"]))
    labels = torch.tensor(_true_labels(case))
    return {"out": float(F.nll_loss(torch.log(y + 1e-7), labels).item())}


def _true_labels(case: Case) -> np.ndarray:
    """The index of the true class of each example: argmax of a one-hot t (told apart by size), or t."""
    y = np.atleast_2d(case["y"])
    t = np.asarray(case["t"])
    return (t.reshape(y.shape).argmax(axis=1) if t.size == y.size else t.reshape(-1)).astype(np.int64)


def _true_probabilities(case: Case) -> np.ndarray:
    y = np.atleast_2d(case["y"])
    return np.asarray(y[np.arange(y.shape[0]), _true_labels(case)])


def _without_delta(case: Case) -> float:
    """The book's loss without its 1e-7 (inf when a true-class probability is 0)."""
    p = _true_probabilities(case)
    with np.errstate(divide="ignore"):
        return -float(np.sum(np.log(p))) / p.size


def either_delta(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
    """Allclose to the book's loss with its 1e-7 (the reference), or to the loss without it (the book's code
    before its December 2017 errata): both are the book's. Where the latter is inf (a true class of
    probability 0, the robustness check's cases) only the former counts."""
    if "out" not in actual:
        return Verdict(False, "out was not produced")
    verdict = compare_arrays("out", actual["out"], expected["out"], check.atol, check.rtol)
    if verdict.passed:
        return verdict
    plain = _without_delta(case)
    if np.isfinite(plain) and compare_arrays("out", actual["out"], plain, check.atol, check.rtol).passed:
        return Verdict(True)
    return verdict


def _no_delta(runs: Sequence[CaseRun]) -> bool:
    """inf/NaN on the cases with a zero true-class probability, and on nothing else that fails."""
    bad = [r for r in runs if r.failed_on("out")]
    if not bad:
        return False
    for run in bad:
        if not np.any(_true_probabilities(run.case) == 0.0) or not _overflows(run.actual.get("out")):
            return False
    return True


def _batch_of(case: Case) -> float:
    return float(np.atleast_2d(case["y"]).shape[0])


# No bug model: without the delta the loss is right on every main case (either_delta accepts it); only the
# robustness check's zero probabilities show it.
CROSS_ENTROPY_NO_DELTA = Diagnosis(
    "no 1e-7 inside the log",
    "cross_entropy_error gives inf/NaN when the true class has probability 0: log(0) = -inf. The book adds a "
    "tiny delta inside the log, -sum(log(y + 1e-7)) / N, so that this never happens.",
    _no_delta,
    reads=("out",),
)
CROSS_ENTROPY_SUMMED = dataclasses.replace(
    scaled_diagnosis(
        "cross entropy summed over the batch",
        "The loss is N times too large: divide the sum over the batch by the batch size N (a mean per example).",
        ("out",),
        _batch_of,
        rtol=1e-9,
    ),
    reads=("out",),
    bug=lambda case: {"out": D.cross_entropy_error(case["y"], case["t"]) * _batch_of(case)},
)
ZERO_PROBABILITY = Robustness(
    "zero_probability",
    "a true class of probability exactly 0 gives the book's finite loss -log(1e-7) = 16.1, not inf",
    "A true class whose probability is exactly 0 gives an infinite loss (one such example makes a whole "
    "training run's loss inf): the book keeps the 1e-7 inside the log for this.",
    cases=zero_probability_cases,
)
