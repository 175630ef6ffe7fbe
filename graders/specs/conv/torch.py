"""The convolution specs' torch twin: torch.nn.functional.conv2d / conv1d with autograd (tests only)."""

from __future__ import annotations

from typing import Any

from graders.specs.base import Case
from graders.specs.kit.torch import grads_of, torch_autograd
from graders.specs.kit.windows import conv_geometry


def torch_conv(case: Case) -> dict[str, Any]:
    """out, dx, dw and db of torch's convolution with the case's geometry (conv_param or the extras' keys)."""
    import torch.nn.functional as TF

    stride, pad, dilation = conv_geometry(case)
    conv = TF.conv2d if case["x"].ndim == 4 else TF.conv1d
    return torch_autograd(
        case, grads_of("x", "w", "b"), lambda x, w, b: conv(x, w, b, stride=stride, padding=pad, dilation=dilation)
    )
