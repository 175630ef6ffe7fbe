"""Specs of the book's ``common/functions.py``: ``sigmoid``, ``softmax`` and ``cross_entropy_error``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.checks import as_numeric
from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, Spec
from graders.specs.dlfs.common import OVERFLOW_LOGIT, one_hot
from graders.specs.program import Input, Program, Result, call
from graders.specs.torchutil import torch_one_thread
from graders.specs.variants import close, failed_on, matches_variant, scaled_diagnosis
from reference import dlfs as D


@st.composite
def sigmoid_cases(draw: st.DrawFn) -> Case:
    shape = draw(S.shapes_with(draw(st.integers(1, 3)), 1, 6))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0, 30.0]))
    return {"x": draw(S.seeded_arrays(shape, scale))}


def sigmoid_fixed() -> list[Case]:
    """The book's ch. 3 example, and scores where 1 / (1 + exp(-x)) saturates."""
    return [{"x": np.array([-1.0, 1.0, 2.0])}, {"x": np.array([[-40.0, -5.0, 0.0], [0.5, 5.0, 40.0]])}]


def function_program(name: str, *args: str) -> Callable[[Case], Program]:
    """``functions.name(*inputs)``, fetched as ``out``."""

    def program(case: Case) -> Program:
        return Program(steps=(call("y", "functions", name, *(Input(a) for a in args)),), outputs={"out": Result("y")})

    return program


def sigmoid_spec() -> Spec:
    def torch_sigmoid(case: Case) -> dict[str, Any]:
        torch = torch_one_thread()
        return {"out": torch.sigmoid(torch.tensor(case["x"])).numpy()}

    return Spec(
        name="sigmoid",
        module="functions",
        api="function",
        cases=sigmoid_cases,
        fixed_cases=sigmoid_fixed,
        program=function_program("sigmoid", "x"),
        expected=lambda case: {"out": D.sigmoid(case["x"])},
        torch_expected=torch_sigmoid,
        checks=(Check("out", atol=1e-12, rtol=1e-9, description="1 / (1 + exp(-x)), elementwise"),),
        convention="book: any shape, elementwise",
        read_only=("x",),
        dtype_preserving=True,
    )


@st.composite
def softmax_cases(draw: st.DrawFn) -> Case:
    """1-D (C,) or 2-D (N, C) scores; the spread within a row varies, and rows may sit near +-1000."""
    c = draw(S.dims(2, 8))
    shape = (c,) if draw(st.booleans()) else (draw(S.dims(1, 6)), c)
    spread = draw(st.sampled_from([0.01, 1.0, 5.0, 30.0]))
    offset = draw(st.one_of(st.just(0.0), S.floats(-1000.0, 1000.0)))
    return {"x": draw(S.seeded_arrays(shape, spread)) + offset}


def softmax_fixed() -> list[Case]:
    """The book's examples: a = [0.3, 2.9, 4.0], and [1010, 1000, 990] where a naive softmax gives nan."""
    return [
        {"x": np.array([0.3, 2.9, 4.0])},
        {"x": np.array([1010.0, 1000.0, 990.0])},
        {"x": np.array([[0.3, 2.9, 4.0], [1010.0, 1000.0, 990.0]])},
    ]


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


SOFTMAX_OVERFLOW = Diagnosis(
    "softmax overflow",
    "softmax gives NaN/inf when the scores are large (the book's [1010, 1000, 990]) although it is right for "
    "small ones: exp() overflows. Subtract the largest score (of each row) first; softmax does not change.",
    _overflow_only_at_large_logits,
)
SOFTMAX_WHOLE_BATCH = Diagnosis(
    "softmax over the whole batch",
    "For a 2-D input the result is one distribution over the whole batch: each row (example) must be "
    "normalised on its own (max and sum along axis=-1 with keepdims=True, or the transpose trick).",
    lambda runs: matches_variant(runs, _softmax_over_everything, ("out",)),
)


def softmax_spec() -> Spec:
    def torch_softmax(case: Case) -> dict[str, Any]:
        torch = torch_one_thread()
        return {"out": torch.softmax(torch.tensor(case["x"]), dim=-1).numpy()}

    return Spec(
        name="softmax",
        module="functions",
        api="function",
        cases=softmax_cases,
        fixed_cases=softmax_fixed,
        program=function_program("softmax", "x"),
        expected=lambda case: {"out": D.softmax(case["x"])},
        torch_expected=torch_softmax,
        checks=(
            Check(
                "out",
                atol=1e-12,
                rtol=1e-8,
                description="exp(x - max) / sum(exp(x - max)) along the last axis",
            ),
        ),
        diagnoses=(SOFTMAX_OVERFLOW, SOFTMAX_WHOLE_BATCH),
        convention="book: 1-D or 2-D (rows), stable for logits up to 1e3",
        read_only=("x",),
        dtype_preserving=True,
    )


@st.composite
def cross_entropy_cases(draw: st.DrawFn) -> Case:
    """y = softmax(scores) (1-D or 2-D), t one-hot or labels; sometimes the true class has probability 0."""
    c = draw(S.dims(2, 10))
    one_example = draw(st.booleans())
    n = 1 if one_example else draw(S.dims(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = D.softmax(rng.standard_normal((n, c)) * draw(st.sampled_from([0.5, 2.0, 6.0])))
    labels = rng.integers(0, c, size=n)
    if draw(st.booleans()):  # the book's reason for 1e-7: log(0) would be -inf
        y[np.arange(n), labels] = 0.0
        y /= y.sum(axis=1, keepdims=True)
    t = one_hot(labels, c) if draw(st.booleans()) else labels.astype(np.int64)
    if one_example:
        return {"y": y[0], "t": t[0] if t.ndim == 2 else t}
    return {"y": y, "t": t}


def cross_entropy_fixed() -> list[Case]:
    """The book's ch. 4 example: the right class 2 (0.51), a wrong guess 7 (2.30), a zero probability."""
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    return [
        {"y": y, "t": one_hot(np.array([2]), 10)[0]},
        {"y": y, "t": one_hot(np.array([7]), 10)[0]},
        {"y": np.stack([y, y]), "t": np.array([2, 3], dtype=np.int64)},
    ]


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


def _no_delta(runs: Sequence[CaseRun]) -> bool:
    """inf/NaN exactly on the cases with a zero true-class probability, or the formula without 1e-7."""
    bad = [r for r in runs if failed_on(r, ("out",))]
    if not bad:
        return False
    for run in bad:
        zero = bool(np.any(_true_probabilities(run.case) == 0.0))
        got = as_numeric(run.actual.get("out"))
        if got is None:
            return False
        if zero:
            if np.all(np.isfinite(got)):
                return False
        elif not close(got, _without_delta(run.case), rtol=1e-9, atol=1e-12):
            return False
    return True


def _batch_of(case: Case) -> float:
    return float(np.atleast_2d(case["y"]).shape[0])


CROSS_ENTROPY_NO_DELTA = Diagnosis(
    "no 1e-7 inside the log",
    "cross_entropy_error gives inf/NaN when the true class has probability 0 (or misses the book's tiny "
    "delta): compute -sum(log(y + 1e-7)) so that log(0) = -inf never happens.",
    _no_delta,
)
CROSS_ENTROPY_SUMMED = scaled_diagnosis(
    "cross entropy summed over the batch",
    "The loss is N times too large: divide the sum over the batch by the batch size N (a mean per example).",
    ("out",),
    _batch_of,
    rtol=1e-9,
)


def cross_entropy_spec() -> Spec:
    def torch_cross_entropy(case: Case) -> dict[str, Any]:
        torch = torch_one_thread()
        import torch.nn.functional as F

        y = torch.tensor(np.atleast_2d(case["y"]))
        labels = torch.tensor(_true_labels(case))
        return {"out": float(F.nll_loss(torch.log(y + 1e-7), labels).item())}

    return Spec(
        name="cross_entropy_error",
        module="functions",
        api="function",
        cases=cross_entropy_cases,
        fixed_cases=cross_entropy_fixed,
        program=function_program("cross_entropy_error", "y", "t"),
        expected=lambda case: {"out": D.cross_entropy_error(case["y"], case["t"])},
        torch_expected=torch_cross_entropy,
        checks=(
            Check(
                "out",
                atol=1e-12,
                rtol=1e-9,
                description="-sum(log(y[true] + 1e-7)) / N; 1-D y is a batch of one",
            ),
        ),
        diagnoses=(CROSS_ENTROPY_NO_DELTA, CROSS_ENTROPY_SUMMED),
        convention="book: 1e-7 inside the log; t one-hot or labels; 1-D y is one example",
        read_only=("y", "t"),
    )
