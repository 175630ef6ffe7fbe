"""torch.optim twins of the book's update rules (tests only), in float64 over the case's steps.

How the book's rules map onto torch's (facts the reference tests rely on):
  * SGD: ``torch.optim.SGD(lr)``.
  * Momentum: ``SGD(lr, momentum)``; torch's buffer b leaves out the learning rate (b = mu * b + g, p -= lr * b)
    where the book's velocity includes it (v = mu * v - lr * g, p += v): with a constant lr, v = -lr * b, and
    the parameters agree. From zero state torch's first buffer is g itself, the same as mu * 0 + g.
  * AdaGrad: ``Adagrad(lr, eps=1e-7)`` (lr_decay 0, initial accumulator 0): state_sum += g^2, p -= lr * g /
    (sqrt(state_sum) + eps).
  * RMSprop: ``RMSprop(lr, alpha=decay_rate, eps=1e-7)``: eps outside the root, as the book.
  * Adam: ``Adam(lr, betas)`` divides by sqrt(v_hat) + eps; the book's folded form divides by sqrt(v_hat) +
    1e-7 / sqrt(1 - beta2**t). So the twin sets torch's eps to that value before each step t: the same
    parameters up to rounding (the tolerance is the checks' own, OPTIMIZER_STEP).
  * Nesterov: no twin. torch's ``nesterov=True`` is the paper's form (the velocity before its update), which the
    book's code is not; tests/reference/test_dlfs_optimizer.py checks that torch agrees with the accepted
    paper form and the book's form with a closed form of its first steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graders.specs.base import Case
from graders.specs.kit.programs import step_output
from graders.specs.kit.torch import torch_one_thread
from reference import optimizer as R

KEYS = ("W1", "b1")


def _run(case: Case, name: str, build: Callable[[Any, dict[str, float]], Any],
         before_step: Callable[[Any, dict[str, float], int], None] | None = None) -> dict[str, Any]:
    torch = torch_one_thread()
    hyper = {**R.DEFAULTS[name], **case["hyper"]}
    params = {k: torch.nn.Parameter(torch.tensor(np.array(case["params"][k], dtype=np.float64))) for k in KEYS}
    optimizer = build([params[k] for k in KEYS], hyper)
    result: dict[str, Any] = {}
    steps = sum(1 for key in case if key.startswith("grads_"))
    for s in range(1, steps + 1):
        for k in KEYS:
            params[k].grad = torch.tensor(np.array(case[f"grads_{s}"][k], dtype=np.float64))
        if before_step is not None:
            before_step(optimizer, hyper, s)
        optimizer.step()
        result.update({step_output(k, s): params[k].detach().numpy().copy() for k in KEYS})
    return result


def sgd_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    return _run(case, "SGD", lambda ps, h: torch.optim.SGD(ps, lr=h["lr"], foreach=False))


def momentum_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    return _run(case, "Momentum",
                lambda ps, h: torch.optim.SGD(ps, lr=h["lr"], momentum=h["momentum"], foreach=False))


def adagrad_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    return _run(case, "AdaGrad", lambda ps, h: torch.optim.Adagrad(ps, lr=h["lr"], eps=R.EPS, foreach=False))


def rmsprop_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    return _run(case, "RMSprop", lambda ps, h: torch.optim.RMSprop(ps, lr=h["lr"], alpha=h["decay_rate"],
                                                                  eps=R.EPS, foreach=False))


def adam_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()

    def eps_of_step(optimizer: Any, hyper: dict[str, float], t: int) -> None:
        optimizer.param_groups[0]["eps"] = R.EPS / np.sqrt(1.0 - hyper["beta2"] ** t)

    return _run(case, "Adam", lambda ps, h: torch.optim.Adam(ps, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                                                            foreach=False), eps_of_step)


def nesterov_paper_torch(case: Case) -> dict[str, Any]:
    """torch's Nesterov (the paper's form, accepted but not the book's): for tests/reference only."""
    torch = torch_one_thread()
    return _run(case, "Nesterov", lambda ps, h: torch.optim.SGD(ps, lr=h["lr"], momentum=h["momentum"],
                                                               nesterov=True, foreach=False))


TWINS: dict[str, Callable[[Case], dict[str, Any]]] = {
    "SGD": sgd_torch,
    "Momentum": momentum_torch,
    "AdaGrad": adagrad_torch,
    "RMSprop": rmsprop_torch,
    "Adam": adam_torch,
}
