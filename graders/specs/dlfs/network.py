"""Spec of chapter 5's ``TwoLayerNet`` (``ch05/two_layer_net.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, Check, GradientCheck, NamedCase, Reach, Spec
from graders.specs.dlfs.common import BOOK_H, KINK_MARGIN, one_hot
from graders.specs.kit.tolerances import (
    BOOK_LOSS,
    COUNT_RATIO,
    NETWORK_NUMERICAL_GRADIENT,
    NORMALISED_GRADIENTS,
    PRODUCT_SUMS,
)
from graders.specs.kit.torch import torch_one_thread
from graders.specs.program import Assign, Attr, Call, Expr, Input, Item, Program, Result, call, method
from reference import dlfs as D
from reference.functional.losses import softmax_loss as exact_softmax_loss

PARAMS = ("W1", "b1", "W2", "b2")


def two_layer_net_spec() -> Spec:
    return Spec(
        name="TwoLayerNet",
        module="two_layer_net",
        api="class",
        domain=_valid_net_case,
        cases=two_layer_net_cases,
        reaches=(Reach("three or more classes", lambda case: case["output_size"] >= 3),
                 Reach("a batch of four or more", lambda case: case["x"].shape[0] >= 4),
                 Reach("an example the net gets wrong (accuracy below 1)", lambda case: _accuracy(case) < 1.0)),
        notebook=two_layer_net_notebook,
        program=two_layer_net_program,
        expected=two_layer_net_expected,
        torch_expected=torch_two_layer_net,
        checks=(
            Check("predict", tol=PRODUCT_SUMS, description="scores: Affine1 -> Relu1 -> Affine2"),
            Check("loss", tol=BOOK_LOSS, description="SoftmaxWithLoss of the scores"),
            Check("accuracy", tol=COUNT_RATIO, description="fraction of argmax(scores) == argmax(t)"),
            Check(
                "gradient",
                outputs=tuple(f"grad_{k}" for k in PARAMS),
                tol=NORMALISED_GRADIENTS,
                points=2.0,
                description="gradient(x, t) by backpropagation: W1, b1, W2, b2",
            ),
            Check(
                "numerical_gradient",
                outputs=tuple(f"numgrad_{k}" for k in PARAMS),
                tol=NETWORK_NUMERICAL_GRADIENT,
                description="numerical_gradient(x, t): central differences of the loss for every parameter "
                "(loose: the book's 1e-7 in the loss moves them by ~1e-6)",
            ),
        ),
        gradients=tuple(GradientCheck(f"grad_{k}", k, _loss_without_delta) for k in PARAMS),
        depends_on=("Affine", "Relu", "SoftmaxWithLoss", "numerical_gradient"),
        convention="book: TwoLayerNet(input_size, hidden_size, output_size); params W1 b1 W2 b2 shared with "
        "the layers; t one-hot",
        read_only=("x", "t", *PARAMS),
        verified_by=("torch autograd for predict/loss/accuracy/gradient; numerical_gradient against "
            "backpropagation (tests/graders/test_dlfs_specs.py)"),
    )


# ---------------------------------------------------------------- cases
def _hidden(case: Case) -> np.ndarray:
    return case["x"] @ case["W1"] + case["b1"]


def _scores(case: Case) -> np.ndarray:
    return np.maximum(_hidden(case), 0.0) @ case["W2"] + case["b2"]


def _accuracy(case: Case) -> float:
    return float(np.mean(_scores(case).argmax(axis=1) == case["t"].argmax(axis=1)))


def _valid_net_case(case: Case) -> bool:
    """Away from ReLU's kink, a unique highest score per example, every true-class probability >= 5%."""
    scores = _scores(case)
    ordered = np.sort(scores, axis=1)
    probabilities = D.softmax(scores)
    labels = case["t"].argmax(axis=1)
    return (
        float(np.min(np.abs(_hidden(case)))) >= KINK_MARGIN
        and float(np.min(ordered[:, -1] - ordered[:, -2])) >= 1e-3
        and float(np.min(probabilities[np.arange(len(labels)), labels])) >= 0.05
    )


@st.composite
def two_layer_net_cases(draw: st.DrawFn) -> Case:
    sizes = {
        "input_size": draw(st.integers(6, 10)),
        "hidden_size": draw(st.integers(3, 6)),
        "output_size": draw(st.integers(2, 4)),
    }
    n = draw(st.integers(2, 5))

    def build(rng: np.random.Generator) -> Case:
        i, h, o = sizes["input_size"], sizes["hidden_size"], sizes["output_size"]
        return {
            **sizes,
            "W1": rng.standard_normal((i, h)) / np.sqrt(i),
            "b1": 0.1 * rng.standard_normal(h),
            "W2": rng.standard_normal((h, o)) / np.sqrt(h),
            "b2": 0.1 * rng.standard_normal(o),
            "x": rng.standard_normal((n, i)),
            "t": one_hot(rng.integers(0, o, size=n), o),
        }

    return draw(S.seeded_until(build, _valid_net_case, tries=256))


def two_layer_net_notebook() -> list[NamedCase]:
    """The book's gradient check (ch. 5: 784-50-10 on 3 images) in miniature."""
    rng = np.random.default_rng(231)
    for _ in range(256):
        case = {
            "input_size": 8,
            "hidden_size": 5,
            "output_size": 3,
            "W1": rng.standard_normal((8, 5)) / np.sqrt(8),
            "b1": 0.1 * rng.standard_normal(5),
            "W2": rng.standard_normal((5, 3)) / np.sqrt(5),
            "b2": 0.1 * rng.standard_normal(3),
            "x": rng.uniform(0.0, 1.0, (3, 8)),
            "t": one_hot(np.array([0, 2, 1]), 3),
        }
        if _valid_net_case(case):
            return [NamedCase("book ch. 5's gradient check in miniature: an 8-5-3 net on 3 examples (seed 231)",
                              case)]
    raise RuntimeError("no valid fixed TwoLayerNet case found")  # pragma: no cover - the seed is fixed


# ---------------------------------------------------------------- program, reference, torch
def two_layer_net_program(case: Case) -> Program:
    """Build the net, write the parameters into net.params IN PLACE (the layers hold the same arrays), then
    predict, loss, accuracy, gradient, and numerical_gradient last (it perturbs the parameters)."""
    net = Result("net")
    sizes = {k: Input(k) for k in ("input_size", "hidden_size", "output_size")}
    steps: list[Call | Assign] = [call("net", "two_layer_net", "TwoLayerNet", **sizes)]
    steps += [Assign(Item(Attr(net, "params"), k), Input(k)) for k in PARAMS]
    steps += [
        method("scores", net, "predict", Input("x")),
        method("loss", net, "loss", Input("x"), Input("t")),
        method("acc", net, "accuracy", Input("x"), Input("t")),
        method("grads", net, "gradient", Input("x"), Input("t")),
        method("numerical", net, "numerical_gradient", Input("x"), Input("t")),
    ]
    outputs: dict[str, Expr] = {
        "predict": Result("scores"),
        "loss": Result("loss"),
        "accuracy": Result("acc"),
    }
    outputs.update({f"grad_{k}": Item(Result("grads"), k) for k in PARAMS})
    outputs.update({f"numgrad_{k}": Item(Result("numerical"), k) for k in PARAMS})
    return Program(steps=tuple(steps), outputs=outputs)


def _reference_net(case: Case) -> Any:
    net = D.TwoLayerNet(case["input_size"], case["hidden_size"], case["output_size"])
    for k in PARAMS:
        net.params[k][...] = case[k]
    return net


def two_layer_net_expected(case: Case) -> dict[str, Any]:
    net = _reference_net(case)
    result: dict[str, Any] = {
        "predict": net.predict(case["x"]),
        "loss": net.loss(case["x"], case["t"]),
        "accuracy": net.accuracy(case["x"], case["t"]),
    }
    grads = net.gradient(case["x"], case["t"])
    numerical = net.numerical_gradient(case["x"], case["t"], BOOK_H)
    result.update({f"grad_{k}": grads[k] for k in PARAMS})
    result.update({f"numgrad_{k}": numerical[k] for k in PARAMS})
    return result


def torch_two_layer_net(case: Case) -> dict[str, Any]:
    """Affine -> ReLU -> Affine -> mean cross-entropy by torch autograd (no 1e-7: within LOSS_ATOL here)."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    params = {k: torch.tensor(case[k], requires_grad=True) for k in PARAMS}
    x = torch.tensor(case["x"])
    labels = torch.tensor(case["t"].argmax(axis=1))
    scores = torch.relu(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    loss = F.cross_entropy(scores, labels)
    loss.backward()
    result: dict[str, Any] = {
        "predict": scores.detach().numpy(),
        "loss": float(loss.item()),
        "accuracy": float((scores.argmax(dim=1) == labels).double().mean().item()),
    }
    for k, tensor in params.items():
        assert tensor.grad is not None
        result[f"grad_{k}"] = tensor.grad.numpy()
    return result


def _loss_without_delta(case: Case) -> float:
    """The mean cross-entropy of the scores without the book's 1e-7: what backpropagation differentiates
    (with the guard, finite differences move by up to 1e-7 / p^2 times dp, ~1e-6 here)."""
    return exact_softmax_loss(_scores(case), case["t"].argmax(axis=1))[0]
