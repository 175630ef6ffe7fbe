"""Specs of the book's simple layer classes: ``Relu``, ``Sigmoid``, ``Affine`` and ``SoftmaxWithLoss``.

Each has a scale case of the book's MNIST network (100 images; 784 pixels into 50 hidden units for Affine).
SoftmaxWithLoss is judged on ordinary scores (offsets within +-50: the large ones are softmax's robustness
check, not this layer's, so a softmax without the max shift costs points once); its loss is accepted with the
book's 1e-7 inside the log or without it (an exact log-softmax). Its robustness check "zero_probability" (a
true class whose softmax probability underflows to 0) charges an infinite loss to the layer only when the
student's own cross_entropy_error, which the book's layer calls, stays finite on the same probabilities.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.checks import as_numeric, compare_arrays
from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, CompareFn, Diagnosis, GradientCheck, Robustness, Spec, Verdict
from graders.specs.dense import inputs_unchanged
from graders.specs.dlfs.common import (
    LOSS_ATOL,
    layer_expected,
    layer_program,
    one_hot,
    torch_autograd,
    weighted,
)
from graders.specs.program import Call, Const, Expr, Input, Program, Result, call, method
from graders.specs.shifted import finite
from graders.specs.torchutil import torch_one_thread
from graders.specs.variants import close, failed_on, scaled_diagnosis
from reference import dlfs as D
from reference.functional.losses import softmax_loss as exact_softmax_loss


@st.composite
def elementwise_cases(draw: st.DrawFn, kink_free: bool) -> Case:
    shape = draw(S.shapes_with(draw(st.integers(1, 4)), 1, 5))
    x = draw(S.kink_free_arrays(shape) if kink_free else S.seeded_arrays(shape, draw(st.sampled_from([1.0, 4.0]))))
    return {"x": x, "dout": draw(S.seeded_arrays(shape))}


def elementwise_fixed() -> list[Case]:
    """The book's ch. 5 mask example x = [[1.0, -0.5], [-2.0, 3.0]], and a (10, 10) batch."""
    rng = np.random.RandomState(231)
    return [
        {"x": np.array([[1.0, -0.5], [-2.0, 3.0]]), "dout": np.array([[0.3, -1.2], [0.7, 2.0]])},
        {"x": rng.randn(10, 10), "dout": rng.randn(10, 10)},
    ]


def elementwise_scale() -> list[Case]:
    """The hidden layer of the book's MNIST network: 100 images, 50 units (every |x| clear of ReLU's kink)."""
    rng = np.random.default_rng(5000)
    x = rng.standard_normal((100, 50))
    return [{"x": np.where(np.abs(x) < 1e-3, np.copysign(2e-3, x), x), "dout": rng.standard_normal((100, 50))}]


def _torch_activation(name: str) -> Callable[[Case], dict[str, Any]]:
    def adapter(case: Case) -> dict[str, Any]:
        torch = torch_one_thread()
        fn = torch.relu if name == "relu" else torch.sigmoid
        return torch_autograd(case, (("x", "dx"),), fn)

    return adapter


def _activation_spec(name: str, cls: str, make: Callable[[Case], Any], description: str, **fields: Any) -> Spec:
    return Spec(
        name=cls,
        module="layers",
        api="class",
        cases=lambda: elementwise_cases(kink_free=name == "relu"),
        fixed_cases=elementwise_fixed,
        scale_cases=elementwise_scale,
        program=lambda case: layer_program(cls, (), (Input("x"),)),
        expected=layer_expected(make),
        torch_expected=_torch_activation(name),
        checks=(
            Check("out", atol=1e-12, rtol=1e-9, description=description),
            Check("dx", atol=1e-12, rtol=1e-9, description="backward(dout): the gradient with respect to x"),
        ),
        gradients=(GradientCheck("dx", "x", weighted(lambda case: make(case).forward(case["x"]))),),
        **fields,
    )


def relu_spec() -> Spec:
    """The book's Relu. Its values decide the main checks; writing into x (``out = x`` then ``out[mask] = 0``
    clips the caller's x) costs only the small robustness check ``inputs_unchanged``, while backward may zero
    ``dout`` in place as the book does (a warning)."""
    spec = _activation_spec(
        "relu",
        "Relu",
        lambda case: D.Relu(),
        "forward: max(0, x)",
        convention="book: Relu() with forward(x) / backward(dout); the book zeroes dout in place (a warning here)",
        read_only=("x", "dout"),
    )
    remedy = "Copy before writing (out = x.copy(), as the book does) or use np.maximum."
    return dataclasses.replace(spec, robustness=(inputs_unchanged("Relu.forward", "x", remedy),))


def sigmoid_layer_spec() -> Spec:
    return _activation_spec(
        "sigmoid",
        "Sigmoid",
        lambda case: D.Sigmoid(),
        "forward: 1 / (1 + exp(-x)); backward: dout * out * (1 - out)",
        convention="book: Sigmoid() keeps its output for the backward pass",
        read_only=("x", "dout"),
    )


@st.composite
def affine_cases(draw: st.DrawFn) -> Case:
    """x (N, D) or (N, C, H[, W]) as after a conv layer; W (D, M), b (M,)."""
    n = draw(S.dims(1, 4))
    feature_shape = draw(S.FEATURE_SHAPES)
    d, m = int(np.prod(feature_shape)), draw(S.dims(1, 5))
    return {
        "x": draw(S.seeded_arrays((n, *feature_shape))),
        "W": draw(S.seeded_arrays((d, m))),
        "b": draw(S.seeded_arrays((m,))),
        "dout": draw(S.seeded_arrays((n, m))),
    }


def affine_fixed() -> list[Case]:
    """The book's 2-D example (X (2,), W (2, 3)) as a batch, and a conv-shaped input (2, 3, 4, 4)."""
    rng = np.random.RandomState(231)
    return [
        {"x": rng.rand(2, 2), "W": rng.rand(2, 3), "b": rng.rand(3), "dout": rng.randn(2, 3)},
        {"x": rng.randn(2, 3, 4, 4), "W": rng.randn(48, 5), "b": rng.randn(5), "dout": rng.randn(2, 5)},
    ]


def affine_scale() -> list[Case]:
    """The book's MNIST network: 100 images of 784 pixels into 50 hidden units, and a conv net's pooled maps
    (100, 30, 12, 12) into 100 units (its SimpleConvNet's first Affine)."""
    rng = np.random.default_rng(5001)
    return [
        {
            "x": rng.uniform(0.0, 1.0, (100, 784)),
            "W": 0.01 * rng.standard_normal((784, 50)),
            "b": 0.1 * rng.standard_normal(50),
            "dout": rng.standard_normal((100, 50)),
        },
        {
            "x": rng.standard_normal((100, 30, 12, 12)),
            "W": 0.01 * rng.standard_normal((30 * 12 * 12, 100)),
            "b": 0.1 * rng.standard_normal(100),
            "dout": rng.standard_normal((100, 100)),
        },
    ]


def _make_affine(case: Case) -> Any:
    return D.Affine(case["W"], case["b"])


def torch_affine(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    return torch_autograd(
        case,
        (("x", "dx"), ("W", "dW"), ("b", "db")),
        lambda x, w, b: F.linear(x.reshape(x.shape[0], -1), w.T, b),
    )


def _shape_not_restored(runs: Sequence[CaseRun]) -> bool:
    """dx has the flattened shape (N, D) with the right values, on cases whose x has more than 2 axes."""
    bad = [r for r in runs if failed_on(r, ("dx",))]
    if not bad:
        return False
    for run in bad:
        got = as_numeric(run.actual.get("dx"))
        want = np.asarray(run.expected["dx"])
        if got is None or want.ndim <= 2 or not close(got, want.reshape(want.shape[0], -1)):
            return False
    return True


AFFINE_SHAPE_NOT_RESTORED = Diagnosis(
    "input shape not restored",
    "dx comes back flattened to (N, D) for a 4-D input: keep x's original shape in forward "
    "(self.original_x_shape = x.shape) and return dx.reshape(*self.original_x_shape) in backward.",
    _shape_not_restored,
)


def affine_spec() -> Spec:
    scalar = weighted(lambda case: _make_affine(case).forward(case["x"]))
    return Spec(
        name="Affine",
        module="layers",
        api="class",
        cases=affine_cases,
        fixed_cases=affine_fixed,
        scale_cases=affine_scale,
        program=lambda case: layer_program("Affine", (Input("W"), Input("b")), (Input("x"),), ("dW", "db")),
        expected=layer_expected(_make_affine, ("dW", "db")),
        torch_expected=torch_affine,
        checks=(
            Check("out", atol=1e-9, rtol=1e-7, description="x.reshape(N, -1) @ W + b"),
            Check("dx", atol=1e-9, rtol=1e-7, description="dout @ W.T, in x's original shape"),
            Check("dW", atol=1e-9, rtol=1e-7, description="x.reshape(N, -1).T @ dout"),
            Check("db", atol=1e-9, rtol=1e-7, description="dout summed over the batch"),
        ),
        gradients=tuple(GradientCheck(g, v, scalar) for g, v in (("dx", "x"), ("dW", "W"), ("db", "b"))),
        diagnoses=(AFFINE_SHAPE_NOT_RESTORED,),
        convention="book: Affine(W, b) holds W and b by reference; a 4-D x is flattened and dx reshaped back",
        read_only=("x", "W", "b", "dout"),
    )


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


def softmax_with_loss_fixed() -> list[Case]:
    """A batch of 3 over the book's 10 digit classes, and one example."""
    rng = np.random.RandomState(231)
    labels = np.array([2, 7, 0], dtype=np.int64)
    single = np.array([1], dtype=np.int64)
    return [
        {"x": rng.uniform(-1.5, 1.5, (3, 10)), "t_onehot": one_hot(labels, 10), "t_labels": labels},
        {"x": np.array([[0.3, 2.9, 4.0]]), "t_onehot": one_hot(single, 3), "t_labels": single},
    ]


def softmax_with_loss_scale() -> list[Case]:
    """A minibatch of the book's MNIST training: 100 images, 10 classes."""
    rng = np.random.default_rng(5100)
    labels = rng.integers(0, 10, size=100).astype(np.int64)
    return [{"x": rng.uniform(-1.5, 1.5, (100, 10)), "t_onehot": one_hot(labels, 10), "t_labels": labels}]


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


def _batch(case: Case) -> float:
    return float(case["x"].shape[0])


SOFTMAX_NOT_DIVIDED = scaled_diagnosis(
    "backward not divided by the batch size",
    "dx is N times too large: the loss is the mean over the batch, so backward returns "
    "(y - t) / batch_size (batch_size = t.shape[0]).",
    ("dx_onehot", "dx_labels"),
    _batch,
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


def softmax_with_loss_spec() -> Spec:
    return Spec(
        name="SoftmaxWithLoss",
        module="layers",
        api="class",
        cases=softmax_with_loss_cases,
        fixed_cases=softmax_with_loss_fixed,
        scale_cases=softmax_with_loss_scale,
        program=softmax_with_loss_program,
        expected=softmax_with_loss_expected,
        torch_expected=torch_softmax_with_loss,
        checks=(
            Check(
                "loss_onehot",
                atol=LOSS_ATOL,
                rtol=1e-7,
                compare=book_or_exact("onehot"),
                description="forward(x, t) with one-hot t: mean cross-entropy (with the book's 1e-7 or without)",
            ),
            Check(
                "loss_labels",
                atol=LOSS_ATOL,
                rtol=1e-7,
                compare=book_or_exact("labels"),
                description="forward(x, t) with integer labels t",
            ),
            Check("dx_onehot", atol=1e-10, rtol=1e-7, description="backward(1): (softmax(x) - t) / N"),
            Check("dx_labels", atol=1e-10, rtol=1e-7, description="backward(1) after labels: the same gradient"),
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
