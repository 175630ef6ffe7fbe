"""The specs' torch adapters (``Spec.torch_expected``): tests only, the grader's trusted core never imports torch.

torch is imported on first use. Every adapter that differentiates goes through :func:`torch_autograd`: the
leaves are the case's inputs, the forward is a function of their tensors, and the gradients come back under
the spec's output names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graders.specs.base import Case


def torch_one_thread() -> Any:
    """torch, imported on first use and limited to one intra-op thread.

    Measured on the 2-core test machine under load: F.batch_norm on a (200, 3) float64 batch took ~120 ms
    with 2 threads (they wait on each other) and 25 us with one. The tests already run one process per core
    (pytest-xdist), so a second thread per process only adds contention.
    """
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return torch


def leaf_grads(leaves: Mapping[str, Any]) -> dict[str, Any]:
    """After ``backward()``: each leaf tensor's gradient as NumPy, under the output name ``grad_<key>`` (a
    network's parameters, as its spec names the gradients it fetches)."""
    result: dict[str, Any] = {}
    for key, tensor in leaves.items():
        assert tensor.grad is not None
        result[f"grad_{key}"] = tensor.grad.numpy()
    return result


def grads_of(*keys: str) -> tuple[tuple[str, str], ...]:
    """Leaves named the cs231n way: case key ``w`` -> output ``dw``."""
    return tuple((key, f"d{key}") for key in keys)


def torch_autograd(
    case: Case, leaves: Sequence[tuple[str, str]], run: Callable[..., Any], dout: str = "dout"
) -> dict[str, Any]:
    """out = run(*leaf tensors) and, by autograd against ``case[dout]``, the gradient of each leaf under the
    output name paired with its case key (``(("x", "dx"), ("W", "dW"))``)."""
    torch = torch_one_thread()
    tensors = [torch.tensor(case[key], requires_grad=True) for key, _ in leaves]
    out = run(*tensors)
    out.backward(torch.tensor(case[dout]))
    result: dict[str, Any] = {"out": out.detach().numpy()}
    for tensor, (_, name) in zip(tensors, leaves, strict=True):
        assert tensor.grad is not None
        result[name] = tensor.grad.numpy()
    return result
