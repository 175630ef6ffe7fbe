"""Specs of cs231n's update rules (``cs231n/optim.py``): sgd_momentum, rmsprop and adam.

Each rule is ``next_w, config = rule(w, dw, config=None)``: it fills the hand-out's defaults into config,
carries its state (velocity; cache; m, v and t) from one call to the next through the returned config, and
returns both. A case runs the rule for one to five consecutive steps, each call given the previous call's
next_w and config as the Solver does (graders/specs/kit/programs.py's ``stepping_program``), and every step's
next_w and state are checked. The hand-out's ``sgd`` is given complete in the skeleton and is not graded.

What is accepted: updates in place (``w -= ...``, ``v *= momentum``; the hand-out's own sgd does it), the
caller's dict updated and returned or a new dict returned, ``np.square`` or ``dw * dw``, any order of the
same operations. What is not: eps inside the square root (the hand-out, the lecture and the Adam paper divide by
``sqrt(.) + eps``), t advanced after Adam's bias correction (the 2019+ skeleton's NOTE). The Adam paper's "more
efficient" ordering (a corrected step size ``lr * sqrt(1 - beta2**t) / (1 - beta1**t)`` and eps added to the
uncorrected sqrt(v)) moves eps a little (3% of the step on the small-gradient cases): it is accepted, with a
warning, by comparing next_w with that ordering where it differs from the hand-out's.

Modules: cases.py (what a case holds, the tiers, domain, reach, errors), steps.py (the reference over the
steps, the per-step rule), bugs.py (bug models and diagnoses), torch.py (torch.optim twins, tests only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from graders.specs.base import Check, Spec
from graders.specs.kit.programs import stepping_program
from graders.specs.kit.tolerances import EXACT, OPTIMIZER_STATE, OPTIMIZER_STEP
from graders.specs.optim import bugs as B
from graders.specs.optim import cases as C
from graders.specs.optim import torch as T
from graders.specs.optim.steps import state_check, stepped
from reference.cs231n import optim as R


def sgd_momentum() -> Spec:
    """cs231n's sgd_momentum(w, dw, config) -> (next_w, config); state config['velocity']."""
    return _optimizer_spec(
        rule=C.MOMENTUM, reference=R.sgd_momentum, notebook=C.momentum_notebook, torch_expected=T.momentum_torch,
        convention="v = momentum * v - learning_rate * dw, next_w = w + v; defaults learning_rate 1e-2, "
                   "momentum 0.9",
        checks=(NEXT_W, state_check("velocity", tol=OPTIMIZER_STATE, points=1.0,
                                    description="config['velocity'] after every step")),
        bugs=B.MOMENTUM_BUGS,
    )


def rmsprop() -> Spec:
    """cs231n's rmsprop(w, dw, config) -> (next_w, config); state config['cache']."""
    return _optimizer_spec(
        rule=C.RMSPROP, reference=R.rmsprop, notebook=C.rmsprop_notebook, torch_expected=T.rmsprop_torch,
        convention="cache = decay_rate * cache + (1 - decay_rate) * dw**2, w - lr * dw / (sqrt(cache) + eps); "
                   "defaults learning_rate 1e-2, decay_rate 0.99, epsilon 1e-8",
        checks=(NEXT_W, state_check("cache", tol=OPTIMIZER_STATE, points=1.0,
                                    description="config['cache'] after every step")),
        bugs=B.RMSPROP_BUGS,
    )


def adam() -> Spec:
    """cs231n's adam(w, dw, config) -> (next_w, config); state config['m'], config['v'], config['t']."""
    return _optimizer_spec(
        rule=C.ADAM, reference=R.adam, notebook=C.adam_notebook, torch_expected=T.adam_torch,
        convention="t advanced first; bias-corrected m and v, w - lr * m_hat / (sqrt(v_hat) + eps); defaults "
                   "learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8",
        checks=(
            ADAM_NEXT_W,
            state_check("m", tol=OPTIMIZER_STATE, points=0.5, description="config['m'] (uncorrected) after every step"),
            state_check("v", tol=OPTIMIZER_STATE, points=0.5, description="config['v'] (uncorrected) after every step"),
            state_check("t", tol=EXACT, points=0.5, description="config['t'], the steps taken, after every step"),
        ),
        bugs=B.ADAM_BUGS,
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "sgd_momentum": sgd_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}

NEXT_W = state_check("next_w", tol=OPTIMIZER_STEP, points=2.0, description="the updated parameter after every step")
ADAM_NEXT_W = state_check(
    "next_w", tol=OPTIMIZER_STEP, points=2.0, description="the updated parameter after every step",
    accepted=stepped(B.adam_variant("efficient"), (*C.ADAM.state, *C.ADAM.scalars)),
    warning="adam uses the paper's efficient ordering (a corrected step size, eps added to the uncorrected "
            "sqrt(v)): accepted, though it moves eps slightly compared with the hand-out's formula",
)


def _optimizer_spec(*, rule: C.Rule, reference: Any, checks: tuple[Check, ...], bugs: Sequence[B.Bug],
                    **fields: Any) -> Spec:
    """What the three rules share: the module, the stepping program, the tiers, domain, reach and errors drawn
    from the rule's description, the reference over the steps, and the diagnoses of its bugs."""
    return Spec(
        name=rule.name,
        module="optim",
        api="function",
        domain=C.domain_of(rule),
        cases=C.cases_of(rule),
        reaches=C.reaches_of(rule),
        scale=C.scale_of(rule),
        errors=C.errors_of(rule),
        expected=stepped(reference, (*rule.state, *rule.scalars)),
        program=stepping_program("optim", rule.name, state=(*rule.state, *rule.scalars)),
        checks=checks,
        diagnoses=B.diagnoses(rule, bugs),
        **fields,
    )
