"""Helpers shared by the book's specs: constants, layer programs, torch autograd, small rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graders.checks import as_numeric
from graders.sandbox.support import nngrade_support as SUPPORT
from graders.specs.base import Case, CaseRun, Verdict
from graders.specs.conv import only_when
from graders.specs.program import Attr, Expr, Input, Program, Result, call, method
from graders.specs.torchutil import torch_one_thread

#: The book's step for numerical gradients (``h = 1e-4``).
BOOK_H = 1e-4
#: Logits beyond this overflow exp() in float64.
OVERFLOW_LOGIT = 709.0
#: Every true-class probability in SoftmaxWithLoss and TwoLayerNet cases stays above this, so the book's 1e-7
#: inside the log moves the loss by at most 1e-7 / floor (2e-5): code with or without it is within LOSS_ATOL.
PROBABILITY_FLOOR = 0.005
LOSS_ATOL = 5e-5
#: Hidden pre-activations of TwoLayerNet cases stay this far from ReLU's kink (finite differences move them by
#: at most h * |x| ~ 3e-4).
KINK_MARGIN = 0.05
SUPPORT_FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray]]] = {
    "quadratic": (SUPPORT.quadratic, SUPPORT.quadratic_grad),
    "wavy": (SUPPORT.wavy, SUPPORT.wavy_grad),
}


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Float one-hot rows, as the book builds them (zeros with a single 1)."""
    return np.eye(classes)[labels]


def array_of_shape(actual: Mapping[str, Any], name: str, shape: tuple[int, ...]) -> np.ndarray | Verdict:
    """The student's output ``name`` as float64 of ``shape``, or a failing verdict saying why not."""
    value = as_numeric(actual.get(name))
    if value is None:
        return Verdict(False, f"{name}: expected an array of shape {shape}, got {type(actual.get(name)).__name__}")
    if value.shape != shape:
        return Verdict(False, f"{name} has shape {tuple(value.shape)}, expected {shape}")
    return value.astype(np.float64)


def torch_autograd(
    case: Case, leaves: Sequence[tuple[str, str]], run: Callable[..., Any], dout: str = "dout"
) -> dict[str, Any]:
    """out = run(*leaf tensors) and, by autograd against ``case[dout]``, the gradient of each leaf under the
    output name paired with its case key."""
    torch = torch_one_thread()
    tensors = [torch.tensor(case[key], requires_grad=True) for key, _ in leaves]
    out = run(*tensors)
    out.backward(torch.tensor(case[dout]))
    result: dict[str, Any] = {"out": out.detach().numpy()}
    for tensor, (_, name) in zip(tensors, leaves, strict=True):
        assert tensor.grad is not None
        result[name] = tensor.grad.numpy()
    return result


def weighted(forward: Callable[[Case], np.ndarray]) -> Callable[[Case], float]:
    """sum(forward(case) * dout): the scalar whose gradient a layer's backward computes."""
    return lambda case: float(np.sum(forward(case) * case["dout"]))


def fails_only_when(condition: Callable[[Case], bool]) -> Callable[[Sequence[CaseRun]], bool]:
    """Runs fail (or raise) only when ``condition`` holds, and some run without it passes."""
    return only_when(condition, strict=False)


def out_size(size: int, extent: int, stride: int, pad: int) -> int:
    """Output positions of a window of ``extent`` along one axis: floor, as the book's int truncation."""
    return (size + 2 * pad - extent) // stride + 1


def layer_program(cls: str, ctor: Sequence[Expr], forward_args: Sequence[Expr], attrs: Sequence[str] = ()) -> Program:
    """``layer = cls(*ctor)``; ``out = layer.forward(*forward_args)``; ``dx = layer.backward(dout)``; then
    fetch out, dx and each gradient attribute (``layer.dW``, ...)."""
    steps = (
        call("layer", "layers", cls, *ctor),
        method("fwd", Result("layer"), "forward", *forward_args),
        method("bwd", Result("layer"), "backward", Input("dout")),
    )
    outputs: dict[str, Expr] = {"out": Result("fwd"), "dx": Result("bwd")}
    outputs.update({a: Attr(Result("layer"), a) for a in attrs})
    return Program(steps=steps, outputs=outputs)


def layer_expected(make: Callable[[Case], Any], attrs: Sequence[str] = ()) -> Callable[[Case], dict[str, Any]]:
    """The reference layer's out, dx and gradient attributes on the case."""

    def expected(case: Case) -> dict[str, Any]:
        layer = make(case)
        out = layer.forward(case["x"])
        dx = layer.backward(case["dout"])
        return {"out": out, "dx": dx, **{a: getattr(layer, a) for a in attrs}}

    return expected
