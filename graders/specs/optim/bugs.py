"""Known bugs of the update rules: each a bug model (the rule with the bug put in, run over the case's steps
like the reference), the outputs its diagnosis reads and the sentence it gives.

A diagnosis applies when every run that failed a check (and on which the bug would change anything) has every
output, after every step, equal to the bug model's (NaN where the model gives NaN: Adam with t advanced after
the bias correction divides by zero on its first step). Matching every step's parameter and state at once is
strong evidence; a sentence is only given when some failing run tells the bug and the right answer apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graders.specs.base import Case, CaseRun, Diagnosis
from graders.specs.kit.detectors import close, matches_variant
from graders.specs.optim.cases import ADAM, MOMENTUM, RMSPROP, Rule, hyper_parameters
from graders.specs.optim.steps import UpdateRule, stepped
from reference.cs231n import optim as R

#: How close a student's output must be to a bug model's: far tighter than the bugs move values, loose
#: enough for another order of the same operations. The absolute floor sits below the smallest squared
#: averages the cases reach.
RTOL, ATOL = 1e-6, 1e-15


@dataclass(frozen=True)
class Bug:
    """One classic mistake: its name, its sentence, the update rule with the mistake, and what it reads."""

    name: str
    sentence: str
    rule: UpdateRule
    #: The state the bug leaves alone may be missing from the returned config altogether (never set, read with
    #: config.get) where the bug model keeps its zeros (set by config.setdefault, as the skeleton does).
    absent: bool = False


def diagnoses(rule: Rule, bugs: Sequence[Bug]) -> tuple[Diagnosis, ...]:
    """A Diagnosis per bug, reading next_w and the rule's state after every step."""
    state = (*rule.state, *rule.scalars)
    reads = ("next_w", *state)
    result = []
    for bug in bugs:
        outputs = stepped(bug.rule, state)
        result.append(Diagnosis(bug.name, bug.sentence, _matches(outputs, reads, bug.absent), reads=reads,
                                bug=outputs))
    return tuple(result)


#: What a student's run lacks (the key was never fetched): it matches nothing, not even an untouched state.
_MISSING = object()


def _strict_lookup(run: CaseRun, name: str) -> Any:
    return run.actual.get(name, _MISSING)


def _untouched(actual: Any, model: Any) -> bool:
    """A state the student never set (None) where the bug model keeps the zeros it started from."""
    return actual is None and not np.any(np.asarray(model, dtype=np.float64))


def _matches(bug: Callable[[Case], Mapping[str, Any]], checks: Sequence[str], absent: bool
             ) -> Callable[[Sequence[CaseRun]], bool]:
    """Every output after every step equal to the bug model's (NaN matching NaN; with ``absent``, a state left
    unset matching the model's zeros): kit/detectors.py's ``matches_variant`` over all the model's outputs."""
    def same(actual: Any, model: Any) -> bool:
        return close(actual, model, RTOL, ATOL, equal_nan=True) or (absent and _untouched(actual, model))

    return lambda runs: matches_variant(runs, bug, None, checks, _strict_lookup, same=same)


def _zeros(w: np.ndarray) -> np.ndarray:
    return np.zeros_like(w, dtype=np.float64)


def _config(rule: Rule, config: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**(dict(config) if config is not None else {}), **hyper_parameters(rule, config)}


def state_not_stored(rule: Rule, reference: UpdateRule, keys: Sequence[str]) -> UpdateRule:
    """The reference's next_w, but the returned config still holds the state it was given (zeros, t = 0 when
    none): the new values were computed into local variables and never written back into config."""

    def step(w: np.ndarray, dw: np.ndarray, config: Any) -> tuple[np.ndarray, Mapping[str, Any]]:
        next_w, updated = reference(w, dw, config)
        kept = dict(updated)
        for key in keys:
            kept[key] = (config or {}).get(key, 0 if key in rule.scalars else _zeros(w))
        return next_w, kept

    return step


# ---------------------------------------------------------------- SGD with momentum
def momentum_variant(kind: str) -> UpdateRule:
    """sgd_momentum with one mistake: ``sign`` (v = mu v + lr dw, w - v: the velocity stored negated),
    ``stale`` (w moved by the velocity before it is updated), ``torch`` (torch.optim.SGD's buffer, without the
    learning rate: b = mu b + dw, w - lr b)."""

    def step(w: np.ndarray, dw: np.ndarray, config: Any) -> tuple[np.ndarray, Mapping[str, Any]]:
        c = _config(MOMENTUM, config)
        lr, mu = c["learning_rate"], c["momentum"]
        v = c.get("velocity", _zeros(w))
        if kind == "sign":
            v = mu * v + lr * dw
            next_w = w - v
        elif kind == "stale":
            next_w = w + v
            v = mu * v - lr * dw
        else:
            v = mu * v + dw
            next_w = w - lr * v
        c["velocity"] = v
        return next_w, c

    return step


MOMENTUM_BUGS = (
    Bug("velocity stored negated",
        "The velocity has the opposite sign: cs231n's velocity is v = momentum * v - learning_rate * dw, and "
        "next_w = w + v. Yours keeps -v, which moves w the same way from zero velocity but wrongly from a given "
        "one (the notebook's check).", momentum_variant("sign")),
    Bug("w moved by the old velocity",
        "w is moved by the velocity before it is updated: compute v = momentum * v - learning_rate * dw first, "
        "then next_w = w + v with that new v.", momentum_variant("stale")),
    Bug("velocity without the learning rate",
        "The velocity leaves out the learning rate (torch.optim.SGD's buffer, b = momentum * b + dw, "
        "w - lr * b): in cs231n the velocity includes it, v = momentum * v - learning_rate * dw, and "
        "config['velocity'] must hold that v.", momentum_variant("torch")),
    Bug("velocity not stored",
        "config['velocity'] is never updated: each call starts again from the velocity it was given. Store the "
        "new velocity in config['velocity'] before returning config.",
        state_not_stored(MOMENTUM, R.sgd_momentum, ("velocity",)), absent=True),
)


# ---------------------------------------------------------------- RMSProp
def rmsprop_variant(kind: str) -> UpdateRule:
    """rmsprop with one mistake: ``swapped`` (decay_rate on the squared gradient, 1 - decay_rate on the cache),
    ``eps inside`` (sqrt(cache + eps)), ``stale`` (w updated with the cache before it is updated)."""

    def step(w: np.ndarray, dw: np.ndarray, config: Any) -> tuple[np.ndarray, Mapping[str, Any]]:
        c = _config(RMSPROP, config)
        lr, decay, eps = c["learning_rate"], c["decay_rate"], c["epsilon"]
        cache = c.get("cache", _zeros(w))
        kept, added = (1 - decay, decay) if kind == "swapped" else (decay, 1 - decay)
        new = kept * cache + added * dw * dw
        used = cache if kind == "stale" else new
        denominator = np.sqrt(used + eps) if kind == "eps inside" else np.sqrt(used) + eps
        c["cache"] = new
        return w - lr * dw / denominator, c

    return step


RMSPROP_BUGS = (
    Bug("decay on the wrong term",
        "The decay rate is applied to the wrong term: the cache keeps decay_rate of itself and adds "
        "(1 - decay_rate) of the squared gradient, cache = decay_rate * cache + (1 - decay_rate) * dw**2.",
        rmsprop_variant("swapped")),
    Bug("eps inside the square root",
        "epsilon is inside the square root: RMSProp divides by np.sqrt(cache) + epsilon. Inside, it acts like an "
        "epsilon of 1e-4 and shrinks the steps of parameters with small gradients.", rmsprop_variant("eps inside")),
    Bug("w updated with the old cache",
        "w is updated with the cache from before this step: update config['cache'] with this gradient first, "
        "then divide by its square root.", rmsprop_variant("stale")),
    Bug("cache not stored",
        "config['cache'] is never updated: each call starts again from the cache it was given (zeros at first). "
        "Store the new cache in config['cache'].", state_not_stored(RMSPROP, R.rmsprop, ("cache",)), absent=True),
)


# ---------------------------------------------------------------- Adam
def adam_variant(kind: str) -> UpdateRule:
    """adam with one mistake: ``t after`` (bias correction with t before it is advanced), ``uncorrected`` (no
    bias correction), ``eps inside`` (sqrt(v_hat + eps)), ``corrected stored`` (the bias-corrected moments
    written back into m and v); or, not a mistake, ``efficient``: the Adam paper's reordering (the corrected
    step size lr * sqrt(1 - beta2**t) / (1 - beta1**t), eps added to the uncorrected sqrt(v)), accepted."""

    def step(w: np.ndarray, dw: np.ndarray, config: Any) -> tuple[np.ndarray, Mapping[str, Any]]:
        c = _config(ADAM, config)
        lr, beta1, beta2, eps = c["learning_rate"], c["beta1"], c["beta2"], c["epsilon"]
        m, v, t = c.get("m", _zeros(w)), c.get("v", _zeros(w)), int(c.get("t", 0))
        used_t = t if kind == "t after" else t + 1
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw * dw
        if kind == "efficient":
            step_size = lr * np.sqrt(1 - beta2**used_t) / (1 - beta1**used_t)
            c.update(m=m, v=v, t=t + 1)
            return w - step_size * m / (np.sqrt(v) + eps), c
        if kind == "uncorrected":
            m_hat, v_hat = m, v
        else:
            m_hat, v_hat = m / (1 - beta1**used_t), v / (1 - beta2**used_t)
        denominator = np.sqrt(v_hat + eps) if kind == "eps inside" else np.sqrt(v_hat) + eps
        if kind == "corrected stored":
            m, v = m_hat, v_hat
        c.update(m=m, v=v, t=t + 1)
        return w - lr * m_hat / denominator, c

    return step


ADAM_BUGS = (
    Bug("t advanced after the bias correction",
        "The bias correction uses t before it is advanced: add 1 to config['t'] first (the hand-out's NOTE), so "
        "that the first step divides by 1 - beta1**1 and 1 - beta2**1 (with t = 0 the correction divides by "
        "zero).", adam_variant("t after")),
    Bug("no bias correction",
        "The bias correction is missing: divide m by 1 - beta1**t and v by 1 - beta2**t before the update "
        "(t already advanced); without it the first steps are far too small.", adam_variant("uncorrected")),
    Bug("eps inside the square root",
        "epsilon is inside the square root: Adam divides by np.sqrt(v_hat) + epsilon. Inside, it acts like an "
        "epsilon of 1e-4 and shrinks the steps of parameters with small gradients.", adam_variant("eps inside")),
    Bug("bias-corrected moments stored",
        "config['m'] and config['v'] hold the bias-corrected moments: store the plain moving averages and "
        "correct a copy of them for the update only.", adam_variant("corrected stored")),
    Bug("t not stored",
        "config['t'] is never advanced: every call corrects the bias as if it were the first step after t. "
        "Store t + 1 in config['t'].", state_not_stored(ADAM, R.adam, ("t",))),
    Bug("state not stored",
        "config['m'], config['v'] and config['t'] are never updated: each call starts again from the state it "
        "was given. Store the new m, v and t in config.", state_not_stored(ADAM, R.adam, ("m", "v", "t")),
        absent=True),
)
