"""The sandwiches computed with PyTorch (``Spec.torch_expected``; tests only): out and every gradient by
autograd."""

from __future__ import annotations

from typing import Any

from graders.specs.base import Case
from graders.specs.kit.torch import grads_of, torch_autograd


def _torch_conv(case: Case, x: Any, w: Any, b: Any) -> Any:
    import torch.nn.functional as F

    p = case["conv_param"]
    return F.conv2d(x, w, b, stride=p["stride"], padding=p["pad"])


def affine_relu_torch(case: Case) -> dict[str, Any]:
    import torch

    return torch_autograd(
        case,
        grads_of("x", "w", "b"),
        lambda x, w, b: torch.relu(torch.nn.functional.linear(x.reshape(x.shape[0], -1), w.T, b)),
    )


def conv_relu_torch(case: Case) -> dict[str, Any]:
    import torch

    return torch_autograd(case, grads_of("x", "w", "b"), lambda x, w, b: torch.relu(_torch_conv(case, x, w, b)))


def conv_relu_pool_torch(case: Case) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    p = case["pool_param"]

    def run(x: Any, w: Any, b: Any) -> Any:
        s = torch.relu(_torch_conv(case, x, w, b))
        return F.max_pool2d(s, (p["pool_height"], p["pool_width"]), stride=p["stride"])

    return torch_autograd(case, grads_of("x", "w", "b"), run)


def conv_bn_relu_torch(case: Case) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    eps = float(case["bn_param"].get("eps", 1e-5))

    def run(x: Any, w: Any, b: Any, gamma: Any, beta: Any) -> Any:
        a = _torch_conv(case, x, w, b)
        return torch.relu(F.batch_norm(a, None, None, gamma, beta, training=True, eps=eps))

    return torch_autograd(case, grads_of("x", "w", "b", "gamma", "beta"), run)
