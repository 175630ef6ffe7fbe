"""The normalisation layers computed with PyTorch (``Spec.torch_expected``; tests only).

The adapters map the conventions: cs231n momentum m is torch momentum 1 - m, and torch's running variance is
unbiased, so it is multiplied by (count - 1) / count before comparing (the scaling commutes with the moving
average because every batch has the same count and the average starts from 0). cs231n's group norm gamma and
beta are (1, C, 1, 1); torch's are (C,).
"""

from __future__ import annotations

from typing import Any

from graders.specs.base import Case
from graders.specs.kit.torch import grads_of, torch_autograd, torch_one_thread
from graders.specs.normalization.cases import DEFAULT_EPS, bn_settings

#: x, gamma and beta, differentiated as dx, dgamma and dbeta.
NORM_LEAVES = grads_of("x", "gamma", "beta")


def batchnorm_forward_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    import torch.nn.functional as F

    eps, momentum = bn_settings(case)
    gamma, beta = torch.tensor(case["gamma"]), torch.tensor(case["beta"])
    c = gamma.shape[0]
    running_mean = torch.zeros(c, dtype=gamma.dtype)
    running_var = torch.zeros(c, dtype=gamma.dtype)
    outs = [
        F.batch_norm(torch.tensor(x), running_mean, running_var, gamma, beta, True, 1.0 - momentum, eps)
        for x in case["xs"]
    ]
    count = case["xs"][0].size // c
    running_var = running_var * (count - 1) / count  # torch keeps the unbiased variance
    out_test = F.batch_norm(
        torch.tensor(case["x_test"]), running_mean, running_var, gamma, beta, False, 0.0, eps
    )
    return {
        "out": outs[0].numpy(),
        "running_mean": running_mean.numpy(),
        "running_var": running_var.numpy(),
        "out_test": out_test.numpy(),
    }


def batchnorm_backward_torch(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    eps, _ = bn_settings(case)
    return torch_autograd(case, NORM_LEAVES, lambda x, g, b: F.batch_norm(x, None, None, g, b, True, 0.0, eps))


def layernorm_torch(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    eps = float(case["ln_param"].get("eps", DEFAULT_EPS))
    return torch_autograd(case, NORM_LEAVES, lambda x, g, b: F.layer_norm(x, (x.shape[1],), g, b, eps))


def groupnorm_torch(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    eps = float(case["gn_param"].get("eps", DEFAULT_EPS))
    c, groups = case["x"].shape[1], case["G"]
    return torch_autograd(case, NORM_LEAVES, lambda x, g, b: F.group_norm(x, groups, g.reshape(c), b.reshape(c), eps))
