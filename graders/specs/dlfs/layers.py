"""Specs of the book's simple layer classes: ``Relu``, ``Sigmoid``, ``Affine`` and ``SoftmaxWithLoss``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.checks import as_numeric
from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, Spec
from graders.specs.dense import input_modified_diagnosis, output_and_intact_inputs, with_inputs_after
from graders.specs.dlfs.common import (
    LOSS_ATOL,
    layer_expected,
    layer_program,
    one_hot,
    torch_autograd,
    weighted,
)
from graders.specs.program import Call, Const, Expr, Input, Program, Result, call, method
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
    """The book's Relu; forward must leave x alone (``out = x`` then ``out[mask] = 0`` clips the caller's x),
    while backward may zero ``dout`` in place as the book does."""
    spec = _activation_spec(
        "relu",
        "Relu",
        lambda case: D.Relu(),
        "forward: max(0, x)",
        convention="book: Relu() with forward(x) / backward(dout); the book zeroes dout in place (a warning here)",
        read_only=("x", "dout"),
    )
    out = spec.check("out")
    return dataclasses.replace(
        spec,
        program=with_inputs_after(spec.program, "x"),
        checks=(
            dataclasses.replace(
                out,
                compare=output_and_intact_inputs("Relu.forward", "x"),
                description=f"{out.description}, leaving x as it was",
            ),
            spec.check("dx"),
        ),
        diagnoses=(
            input_modified_diagnosis(
                "Relu.forward", "x", "Copy before writing (out = x.copy(), as the book does) or use np.maximum."
            ),
        ),
    )


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
    """Scores (N, C), within a row spread by at most 3 (every probability >= e^-3 / C), around 0 or +-1000."""
    n, c = draw(S.dims(1, 6)), draw(S.dims(2, 8))
    spread = draw(st.sampled_from([0.01, 0.5, 1.5]))
    offset = draw(st.one_of(st.just(0.0), S.floats(-1000.0, 1000.0)))
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


def softmax_with_loss_program(case: Case) -> Program:
    """One layer with one-hot t, one with labels: forward(x, t), then backward(1) as the book's networks
    call it."""
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
    return Program(steps=tuple(steps), outputs=outputs)


def softmax_with_loss_expected(case: Case) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for kind in ("onehot", "labels"):
        layer = D.SoftmaxWithLoss()
        result[f"loss_{kind}"] = layer.forward(case["x"], case[f"t_{kind}"])
        result[f"dx_{kind}"] = layer.backward(1)
    return result


def torch_softmax_with_loss(case: Case) -> dict[str, Any]:
    """torch's mean cross-entropy (no 1e-7: within LOSS_ATOL on these cases) and its gradient."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    x = torch.tensor(case["x"], requires_grad=True)
    loss = F.cross_entropy(x, torch.tensor(case["t_labels"]))
    loss.backward()
    assert x.grad is not None
    value, grad = float(loss.item()), x.grad.numpy()
    return {"loss_onehot": value, "loss_labels": value, "dx_onehot": grad, "dx_labels": grad}


def _loss_without_delta(case: Case) -> float:
    """The mean cross-entropy without the book's guard: what backward's (y - t) / N is the gradient of."""
    return exact_softmax_loss(case["x"], case["t_labels"])[0]


def _batch(case: Case) -> float:
    return float(case["x"].shape[0])


SOFTMAX_NOT_DIVIDED = scaled_diagnosis(
    "backward not divided by the batch size",
    "dx is N times too large: the loss is the mean over the batch, so backward returns "
    "(y - t) / batch_size (batch_size = t.shape[0]).",
    ("dx_onehot", "dx_labels"),
    _batch,
)


def softmax_with_loss_spec() -> Spec:
    return Spec(
        name="SoftmaxWithLoss",
        module="layers",
        api="class",
        cases=softmax_with_loss_cases,
        fixed_cases=softmax_with_loss_fixed,
        program=softmax_with_loss_program,
        expected=softmax_with_loss_expected,
        torch_expected=torch_softmax_with_loss,
        checks=(
            Check(
                "loss_onehot",
                atol=LOSS_ATOL,
                rtol=1e-7,
                description="forward(x, t) with one-hot t: mean cross-entropy",
            ),
            Check("loss_labels", atol=LOSS_ATOL, rtol=1e-7, description="forward(x, t) with integer labels t"),
            Check("dx_onehot", atol=1e-10, rtol=1e-7, description="backward(1): (softmax(x) - t) / N"),
            Check("dx_labels", atol=1e-10, rtol=1e-7, description="backward(1) after labels: the same gradient"),
        ),
        gradients=(
            GradientCheck("dx_onehot", "x", _loss_without_delta),
            GradientCheck("dx_labels", "x", _loss_without_delta),
        ),
        diagnoses=(SOFTMAX_NOT_DIVIDED,),
        convention="book: loss = cross_entropy_error(softmax(x), t) with 1e-7; backward(dout=1) = (y - t) / N",
        read_only=("x", "t_onehot", "t_labels"),
    )
