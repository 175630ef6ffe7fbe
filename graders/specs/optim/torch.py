"""torch.optim twins of the update rules (tests only), in float64 over the case's steps, with the optimizer's
state set from the case's config before the first step.

How cs231n's state maps onto torch's:
  * SGD with momentum: torch keeps a buffer b without the learning rate (``b = momentum * b + dw``,
    ``w - lr * b``); cs231n's velocity includes it (``v = momentum * v - lr * dw``, ``w + v``). With a
    constant learning rate the parameters agree and ``v = -lr * b``: the given velocity becomes the buffer
    ``-v / lr``, and the velocity after a step is ``-lr * b``. From no state, torch's first buffer is the
    gradient itself, ``momentum * 0 + dw``: the same.
  * RMSprop(alpha=decay_rate, eps=epsilon): ``square_avg`` is the cache; torch adds eps outside the root,
    as cs231n does.
  * Adam(betas=(beta1, beta2), eps=epsilon): ``exp_avg``, ``exp_avg_sq`` and ``step`` are m, v and t; torch
    advances step before the bias correction, as the 2019+ hand-out asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graders.specs.base import Case
from graders.specs.kit.programs import step_output
from graders.specs.kit.torch import torch_one_thread
from graders.specs.optim.cases import ADAM, MOMENTUM, RMSPROP, hyper_parameters


def _stepped(case: Case, optimizer: Any, parameter: Any, read: Callable[[dict[str, Any]], dict[str, Any]]
             ) -> dict[str, Any]:
    torch = torch_one_thread()
    result: dict[str, Any] = {}
    for k, dw in enumerate(case["dws"], 1):
        parameter.grad = torch.tensor(np.array(dw, dtype=np.float64))
        optimizer.step()
        result[step_output("next_w", k)] = parameter.detach().numpy().copy()
        result.update({step_output(key, k): value for key, value in read(optimizer.state[parameter]).items()})
    return result


def _parameter(case: Case) -> Any:
    torch = torch_one_thread()
    return torch.nn.Parameter(torch.tensor(np.array(case["w"], dtype=np.float64)))


def momentum_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    config = case["config"] or {}
    hyper = hyper_parameters(MOMENTUM, config)
    lr = hyper["learning_rate"]
    parameter = _parameter(case)
    optimizer = torch.optim.SGD([parameter], lr=lr, momentum=hyper["momentum"], foreach=False)
    if "velocity" in config:
        optimizer.state[parameter]["momentum_buffer"] = torch.tensor(-np.asarray(config["velocity"]) / lr)
    return _stepped(case, optimizer, parameter,
                    lambda state: {"velocity": -lr * state["momentum_buffer"].numpy()})


def rmsprop_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    config = case["config"] or {}
    hyper = hyper_parameters(RMSPROP, config)
    parameter = _parameter(case)
    optimizer = torch.optim.RMSprop([parameter], lr=hyper["learning_rate"], alpha=hyper["decay_rate"],
                                    eps=hyper["epsilon"], foreach=False)
    if "cache" in config:
        optimizer.state[parameter].update(step=torch.tensor(0.0),
                                          square_avg=torch.tensor(np.array(config["cache"], dtype=np.float64)))
    return _stepped(case, optimizer, parameter, lambda state: {"cache": state["square_avg"].numpy().copy()})


def adam_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    config = case["config"] or {}
    hyper = hyper_parameters(ADAM, config)
    parameter = _parameter(case)
    optimizer = torch.optim.Adam([parameter], lr=hyper["learning_rate"], betas=(hyper["beta1"], hyper["beta2"]),
                                 eps=hyper["epsilon"], foreach=False)
    if any(key in config for key in ("m", "v", "t")):
        zeros = np.zeros_like(case["w"], dtype=np.float64)
        optimizer.state[parameter].update(
            step=torch.tensor(float(config.get("t", 0))),
            exp_avg=torch.tensor(np.array(config.get("m", zeros), dtype=np.float64)),
            exp_avg_sq=torch.tensor(np.array(config.get("v", zeros), dtype=np.float64)),
        )
    return _stepped(case, optimizer, parameter, lambda state: {
        "m": state["exp_avg"].numpy().copy(), "v": state["exp_avg_sq"].numpy().copy(),
        "t": int(state["step"].item())})
