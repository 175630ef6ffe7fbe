"""Spec of the book's ``SoftmaxWithLoss`` layer (common/layers.py).

It is judged on ordinary scores (offsets within +-50: the large ones are softmax's robustness check, not this
layer's, so a softmax without the max shift costs points once); its loss is accepted with the book's 1e-7
inside the log or without it (an exact log-softmax). ``backward(1)`` returns ``(y - t) / N``: it is called with
``dout = 1`` only, as the book's networks do. The robustness check "zero_probability" (a true class whose
softmax probability underflows to 0) charges an infinite loss to the layer only when the student's own
cross_entropy_error, which the book's layer calls, stays finite on the same probabilities.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, Check, CompareFn, GradientCheck, NamedCase, Reach, Robustness, Spec, Verdict
from graders.specs.dlfs.common import PROBABILITY_FLOOR, one_hot
from graders.specs.kit.detectors import scaled_diagnosis
from graders.specs.kit.rules import as_numeric, compare_arrays
from graders.specs.kit.shifted import finite
from graders.specs.kit.tolerances import BOOK_LOSS, SMALL_GRADIENTS
from graders.specs.kit.torch import torch_one_thread
from graders.specs.program import Call, Const, Expr, Input, Program, Result, call, method
from reference import dlfs as D
from reference.functional.losses import softmax_loss as exact_softmax_loss


def softmax_with_loss_spec() -> Spec:
    return Spec(
        name="SoftmaxWithLoss",
        module="layers",
        api="class",
        domain=_ordinary_loss_case,
        cases=softmax_with_loss_cases,
        reaches=(Reach("a batch of one (N = 1)", lambda case: case["x"].shape[0] == 1),
                 Reach("several classes (C >= 5)", lambda case: case["x"].shape[1] >= 5),
                 Reach("scores offset beyond +-10", lambda case: float(np.min(np.abs(case["x"]))) > 10)),
        notebook=softmax_with_loss_notebook,
        scale=softmax_with_loss_scale,
        program=softmax_with_loss_program,
        expected=softmax_with_loss_expected,
        torch_expected=torch_softmax_with_loss,
        checks=(
            Check("loss_onehot", tol=BOOK_LOSS, compare=book_or_exact("onehot"),
                  description="forward(x, t) with one-hot t: mean cross-entropy (with the book's 1e-7 or without)"),
            Check("loss_labels", tol=BOOK_LOSS, compare=book_or_exact("labels"),
                  description="forward(x, t) with integer labels t"),
            Check("dx_onehot", tol=SMALL_GRADIENTS, description="backward(1): (softmax(x) - t) / N"),
            Check("dx_labels", tol=SMALL_GRADIENTS, description="backward(1) after labels: the same gradient"),
        ),
        gradients=(
            GradientCheck("dx_onehot", "x", _loss_without_delta),
            GradientCheck("dx_labels", "x", _loss_without_delta),
        ),
        diagnoses=(SOFTMAX_NOT_DIVIDED,),
        robustness=(SOFTMAX_WITH_LOSS_ZERO_PROBABILITY,),
        convention="book: loss = cross_entropy_error(softmax(x), t) with 1e-7 (or an exact log-softmax); "
        "backward(dout=1) = (y - t) / N",
        read_only=("x", "t_onehot", "t_labels"),
    )


# ---------------------------------------------------------------- cases
def _ordinary_loss_case(case: Case) -> bool:
    """t one-hot of the labels; every true-class probability at least PROBABILITY_FLOOR (so that the book's
    1e-7 moves the loss by less than BOOK_LOSS's atol)."""
    x, labels = case["x"], case["t_labels"]
    if not np.array_equal(case["t_onehot"], one_hot(labels, x.shape[1])):
        return False
    return float(np.min(D.softmax(x)[np.arange(len(labels)), labels])) >= PROBABILITY_FLOOR


@st.composite
def softmax_with_loss_cases(draw: st.DrawFn) -> Case:
    """Scores (N, C), within a row spread by at most 3 (every probability >= e^-3 / C), offset by at most
    +-50 (ordinary scores: the large ones are softmax's robustness check, not this layer's)."""
    n, c = draw(S.dims(1, 6)), draw(S.dims(2, 8))
    spread = draw(st.sampled_from([0.01, 0.5, 1.5]))
    offset = draw(st.one_of(st.just(0.0), S.floats(-50.0, 50.0)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    labels = rng.integers(0, c, size=n).astype(np.int64)
    return {
        "x": rng.uniform(-spread, spread, (n, c)) + offset,
        "t_onehot": one_hot(labels, c),
        "t_labels": labels,
    }


def softmax_with_loss_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(231)
    labels = np.array([2, 7, 0], dtype=np.int64)
    single = np.array([1], dtype=np.int64)
    return [
        NamedCase("not the book's: a batch of 3 over the 10 digit classes, scores uniform in +-1.5 (seed 231)",
                  {"x": rng.uniform(-1.5, 1.5, (3, 10)), "t_onehot": one_hot(labels, 10), "t_labels": labels}),
        NamedCase("book ch. 3: a = [0.3, 2.9, 4.0] as one example of class 1",
                  {"x": np.array([[0.3, 2.9, 4.0]]), "t_onehot": one_hot(single, 3), "t_labels": single}),
    ]


def softmax_with_loss_scale() -> list[Case]:
    """A minibatch of the book's MNIST training: 100 images, 10 classes."""
    rng = np.random.default_rng(5100)
    labels = rng.integers(0, 10, size=100).astype(np.int64)
    return [{"x": rng.uniform(-1.5, 1.5, (100, 10)), "t_onehot": one_hot(labels, 10), "t_labels": labels}]


# ---------------------------------------------------------------- robustness cases, program, reference
#: The case key of the (reference) softmax of a zero_probability case's scores: the program hands it to the
#: student's own cross_entropy_error too (see :func:`book_or_exact`).
PROBABILITIES = "y_softmax"


def zero_probability_cases() -> list[Case]:
    """One example each (a mean/sum slip, charged by the main checks, shows nothing here) whose true class
    sits 800 below the maximum score: its softmax probability underflows to exactly 0."""
    rng = np.random.RandomState(800)
    cases = []
    for c, label in ((10, 4), (3, 0)):
        x = rng.uniform(-1.5, 1.5, (1, c))
        x[0, label] = x.max() - 800.0
        labels = np.array([label], dtype=np.int64)
        cases.append({"x": x, "t_onehot": one_hot(labels, c), "t_labels": labels, PROBABILITIES: D.softmax(x)})
    return cases


def softmax_with_loss_program(case: Case) -> Program:
    """One layer with one-hot t, one with labels: forward(x, t), then backward(1) as the book's networks
    call it. On a zero_probability case, also the student's own cross_entropy_error of the same probabilities
    (``ce_onehot``, ``ce_labels``; last, so that if it raises the layer's outputs are still judged)."""
    steps: list[Call] = []
    outputs: dict[str, Expr] = {}
    for kind in ("onehot", "labels"):
        layer = f"with_{kind}"
        steps += [
            call(layer, "layers", "SoftmaxWithLoss"),
            method(f"loss_{kind}", Result(layer), "forward", Input("x"), Input(f"t_{kind}")),
            method(f"dx_{kind}", Result(layer), "backward", Const(1)),
        ]
        outputs.update({f"loss_{kind}": Result(f"loss_{kind}"), f"dx_{kind}": Result(f"dx_{kind}")})
    if PROBABILITIES in case:
        for kind in ("onehot", "labels"):
            steps.append(call(f"ce_{kind}", "functions", "cross_entropy_error", Input(PROBABILITIES),
                              Input(f"t_{kind}")))
            outputs[f"ce_{kind}"] = Result(f"ce_{kind}")
    return Program(steps=tuple(steps), outputs=outputs)


def softmax_with_loss_expected(case: Case) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for kind in ("onehot", "labels"):
        layer = D.SoftmaxWithLoss()
        result[f"loss_{kind}"] = layer.forward(case["x"], case[f"t_{kind}"])
        result[f"dx_{kind}"] = layer.backward(1)
    return result


def torch_softmax_with_loss(case: Case) -> dict[str, Any]:
    """The book's loss (-log(softmax + 1e-7), mean) and torch's gradient of the exact mean cross-entropy (what
    the book's backward returns)."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    x = torch.tensor(case["x"], requires_grad=True)
    labels = torch.tensor(case["t_labels"])
    book = F.nll_loss(torch.log(torch.softmax(x.detach(), dim=1) + 1e-7), labels)
    loss = F.cross_entropy(x, labels)
    loss.backward()
    assert x.grad is not None
    value, grad = float(book.item()), x.grad.numpy()
    return {"loss_onehot": value, "loss_labels": value, "dx_onehot": grad, "dx_labels": grad}


def _loss_without_delta(case: Case) -> float:
    """The mean cross-entropy without the book's guard: what backward's (y - t) / N is the gradient of."""
    return exact_softmax_loss(case["x"], case["t_labels"])[0]


def book_or_exact(kind: str) -> CompareFn:
    """The loss with the book's 1e-7 (the reference) or the exact one (a log-softmax, or the book's code
    before its 2017 errata): on the main cases the two are within LOSS_ATOL, on a zero_probability case 16.1
    against 800 per example. An inf there that the student's own cross_entropy_error gives too on the same
    probabilities is that function's (its own robustness check charges it), not this layer's."""
    name = f"loss_{kind}"

    def rule(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        if name not in actual:
            return Verdict(False, f"{name} was not produced")
        verdict = compare_arrays(name, actual[name], expected[name], check.atol, check.rtol)
        if verdict.passed:
            return verdict
        if compare_arrays(name, actual[name], _loss_without_delta(case), check.atol, check.rtol).passed:
            return Verdict(True)
        own = as_numeric(actual.get(f"ce_{kind}"))
        inherited = PROBABILITIES in case and own is not None and not finite(own) and not finite(actual[name])
        return Verdict(True) if inherited else verdict

    return rule


# ---------------------------------------------------------------- diagnoses
def _batch(case: Case) -> float:
    return float(case["x"].shape[0])


def _undivided(case: Case) -> dict[str, Any]:
    """The reference's gradients times N (not divided by the batch size)."""
    right = softmax_with_loss_expected(case)
    return {k: right[k] * _batch(case) for k in ("dx_onehot", "dx_labels")}


SOFTMAX_NOT_DIVIDED = dataclasses.replace(
    scaled_diagnosis(
        "backward not divided by the batch size",
        "dx is N times too large: the loss is the mean over the batch, so backward returns "
        "(y - t) / batch_size (batch_size = t.shape[0]).",
        ("dx_onehot", "dx_labels"),
        _batch,
    ),
    reads=("dx_onehot", "dx_labels"),
    bug=_undivided,
)
SOFTMAX_WITH_LOSS_ZERO_PROBABILITY = Robustness(
    "zero_probability",
    "a true class whose softmax probability underflows to 0 (its score 800 below the maximum) gives a finite "
    "loss: the book's 16.1 (1e-7 inside the log) or the exact value of a log-softmax",
    "The loss is infinite (or NaN) when the true class's softmax probability underflows to 0 (its score far "
    "below the others): keep the book's 1e-7 inside the log, or compute the log-softmax directly.",
    cases=zero_probability_cases,
    checks=("loss_onehot", "loss_labels"),
)
