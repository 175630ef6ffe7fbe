"""Known bugs of the book's update rules: each a bug model (the rule with the mistake put in, run over the
case's steps like the reference), with the sentence its diagnosis gives; and the two accepted variants.

A bug model is a step function ``step(state, params, grads, hyper)`` that updates ``params`` (a dict) and keeps
whatever it needs in ``state`` (a dict that lives across the steps of one case, as the optimizer's attributes
do); ``hyper`` holds every hyper-parameter, the book's defaults filled in. A diagnosis applies when every run
that failed a check, and on which the bug changes anything, has every parameter after every step equal to the
bug model's (NaN matching NaN: Adam with its step count never advanced divides 0 by 0), the kit's
``matches_variant``. The cs231n family's bug models take ``(w, dw, config)`` and cs231n's eps; the book's
rules keep their state inside the object and use eps 1e-7, so they are written here for that calling form.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from graders.specs.base import Case, CaseRun, Diagnosis
from graders.specs.kit.detectors import close, matches_variant
from graders.specs.kit.programs import step_output
from reference import optimizer as R

#: The parameters a case updates: a weight (matrix or conv filter) and a bias, as a network's params dict.
KEYS = ("W1", "b1")
MAX_STEPS = 5
#: How close a student's parameters must be to a bug model's: far tighter than any bug moves them.
RTOL, ATOL = 1e-7, 1e-12
CHECKS = ("first_step", "later_steps")

Params = MutableMapping[str, np.ndarray]
Step = Callable[[dict[str, Any], Params, Mapping[str, np.ndarray], Mapping[str, float]], None]


def steps_of(case: Case) -> int:
    """How many updates a case makes (one ``grads_<s>`` dict per update)."""
    return sum(1 for key in case if key.startswith("grads_"))


def stepped(make: Callable[[dict[str, float]], Any]) -> Callable[[Case], dict[str, Any]]:
    """The outputs of the optimizer ``make(given hyper-parameters)`` over the case's steps: a copy of every
    params[key] after every update (``W1``, ``b1``, then ``W1_2``, ``b1_2``, ...)."""

    def outputs(case: Case) -> dict[str, Any]:
        optimizer = make(dict(case["hyper"]))
        params = copy.deepcopy(dict(case["params"]))
        result: dict[str, Any] = {}
        with np.errstate(all="ignore"):  # a bug model may divide 0 by 0
            for s in range(1, steps_of(case) + 1):
                optimizer.update(params, case[f"grads_{s}"])
                result.update({step_output(k, s): np.array(params[k], copy=True) for k in KEYS})
        return result

    return outputs


class _Model:
    """An optimizer object around a bug model's step function, with the book's defaults filled in."""

    def __init__(self, name: str, step: Step, given: Mapping[str, float]) -> None:
        self.step, self.hyper = step, {**R.DEFAULTS[name], **given}
        self.state: dict[str, Any] = {}

    def update(self, params: Params, grads: Mapping[str, np.ndarray]) -> None:
        self.step(self.state, params, grads, self.hyper)


def model(name: str, step: Step) -> Callable[[Case], dict[str, Any]]:
    return stepped(lambda given: _Model(name, step, given))


@dataclass(frozen=True)
class Bug:
    name: str
    sentence: str
    step: Step


@dataclass(frozen=True)
class Accepted:
    """A correct form other than the book's: its outputs pass with ``warning``."""

    outputs: Callable[[Case], dict[str, Any]]
    warning: str


def _strict(run: CaseRun, name: str) -> Any:
    return run.actual.get(name, _MISSING)


_MISSING = object()


def _same(actual: Any, expected: Any) -> bool:
    return close(actual, expected, RTOL, ATOL, equal_nan=True)


def diagnoses(name: str) -> tuple[Diagnosis, ...]:
    """A Diagnosis per known bug of ``name`` (and the one every rule shares: params never written)."""
    found = []
    for bug in (*BUGS[name], NOT_WRITTEN):
        outputs = model(name, bug.step)
        reads = tuple(step_output(k, s) for s in range(1, MAX_STEPS + 1) for k in KEYS)
        found.append(Diagnosis(
            bug.name, bug.sentence,
            (lambda o: lambda runs: matches_variant(runs, o, None, CHECKS, _strict, same=_same))(outputs),
            reads=reads, bug=outputs))
    return tuple(found)


def _zeros(params: Params, key: str) -> np.ndarray:
    return np.zeros_like(params[key], dtype=np.float64)


# ---------------------------------------------------------------- every rule
def _nothing(state: dict[str, Any], params: Params, grads: Mapping[str, np.ndarray], hp: Mapping[str, float]) -> None:
    """update computes new values but never writes them into params (returns them, or rebinds a local)."""


NOT_WRITTEN = Bug(
    "params not updated",
    "update leaves params as it was: write the new values into the dict it is given (params[key] -= ...). The "
    "book's training loop ignores what update returns, and the network's layers read the same arrays.",
    _nothing)


# ---------------------------------------------------------------- SGD
def sgd(kind: str) -> Step:
    """``ascent``: params += lr * g; ``default lr``: lr 0.01 whatever was given."""

    def step(state: dict[str, Any], params: Params, grads: Mapping[str, np.ndarray], hp: Mapping[str, float]) -> None:
        lr = 0.01 if kind == "default lr" else hp["lr"]
        for key in params:
            params[key] = params[key] + (lr if kind == "ascent" else -lr) * grads[key]

    return step


# ---------------------------------------------------------------- Momentum and Nesterov
def momentum(kind: str) -> Step:
    """``stale`` (params moved by the old velocity), ``reset`` (velocity from zero at every call), ``ascent``
    (params -= v)."""

    def step(state: dict[str, Any], params: Params, grads: Mapping[str, np.ndarray], hp: Mapping[str, float]) -> None:
        lr, mu = hp["lr"], hp["momentum"]
        for key in params:
            v = _zeros(params, key) if kind == "reset" else state.get(key, _zeros(params, key))
            new = mu * v - lr * grads[key]
            moved = v if kind == "stale" else new
            params[key] = params[key] - moved if kind == "ascent" else params[key] + moved
            state[key] = new

    return step


def nesterov(kind: str) -> Step:
    """``paper`` (accepted: the velocity before its update in the momentum term), ``reset`` (velocity from zero
    at every call), ``plain`` (params += v: plain momentum), ``no 1 + momentum`` (params += mu^2 v - lr g)."""

    def step(state: dict[str, Any], params: Params, grads: Mapping[str, np.ndarray], hp: Mapping[str, float]) -> None:
        lr, mu = hp["lr"], hp["momentum"]
        for key in params:
            g = grads[key]
            old = _zeros(params, key) if kind == "reset" else state.get(key, _zeros(params, key))
            new = mu * old - lr * g
            if kind == "plain":
                params[key] = params[key] + new
            elif kind == "no 1 + momentum":
                params[key] = params[key] + mu * mu * new - lr * g
            else:
                params[key] = params[key] + mu * mu * (old if kind == "paper" else new) - (1 + mu) * lr * g
            state[key] = new

    return step


# ---------------------------------------------------------------- AdaGrad and RMSprop
def scaled(kind: str, decay: bool) -> Step:
    """AdaGrad (``decay`` False) or RMSprop with one mistake: ``eps inside`` (sqrt(h + 1e-7)), ``stale``
    (params updated with h before this gradient is added), ``eps 1e-8``, ``reset`` (h from zero at every
    call), ``no sqrt`` (divided by h + eps), ``swapped`` (RMSprop: decay_rate on the new square)."""

    def step(state: dict[str, Any], params: Params, grads: Mapping[str, np.ndarray], hp: Mapping[str, float]) -> None:
        for key in params:
            g = grads[key]
            h = _zeros(params, key) if kind == "reset" else state.get(key, _zeros(params, key))
            if not decay:
                new = h + g * g
            else:
                d = hp["decay_rate"]
                kept, added = (1 - d, d) if kind == "swapped" else (d, 1 - d)
                new = kept * h + added * g * g
            used = h if kind == "stale" else new
            if kind == "eps inside":
                denominator = np.sqrt(used + R.EPS)
            elif kind == "no sqrt":
                denominator = used + R.EPS
            else:
                denominator = np.sqrt(used) + (1e-8 if kind == "eps 1e-8" else R.EPS)
            params[key] = params[key] - hp["lr"] * g / denominator
            state[key] = new

    return step


# ---------------------------------------------------------------- Adam
def adam(kind: str) -> Step:
    """The book's Adam with one mistake: ``uncorrected`` (lr_t = lr), ``eps inside`` (sqrt(v + 1e-7)), ``t per
    key`` (iter advanced inside the loop over params), ``t frozen`` (iter never advanced: 0 / 0), ``betas
    swapped`` (lr * sqrt(1 - beta1**t) / (1 - beta2**t)), ``reset`` (m and v from zero at every call); or,
    accepted, ``standard``: lr * m_hat / (sqrt(v_hat) + 1e-7) with the corrected moments."""

    def step(state: dict[str, Any], params: Params, grads: Mapping[str, np.ndarray], hp: Mapping[str, float]) -> None:
        lr, b1, b2 = hp["lr"], hp["beta1"], hp["beta2"]
        if kind not in ("t per key", "t frozen"):
            state["t"] = state.get("t", 0) + 1
        for key in params:
            if kind == "t per key":
                state["t"] = state.get("t", 0) + 1
            t = state.get("t", 0)
            g = grads[key]
            m = _zeros(params, key) if kind == "reset" else state.get("m:" + key, _zeros(params, key))
            v = _zeros(params, key) if kind == "reset" else state.get("v:" + key, _zeros(params, key))
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            state["m:" + key], state["v:" + key] = m, v
            if kind == "standard":
                params[key] = params[key] - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + R.EPS)
                continue
            if kind == "uncorrected":
                lr_t = lr
            elif kind == "betas swapped":
                lr_t = lr * np.sqrt(1 - b1**t) / (1 - b2**t)
            else:
                lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            root = np.sqrt(v + R.EPS) if kind == "eps inside" else np.sqrt(v) + R.EPS
            params[key] = params[key] - lr_t * m / root

    return step


_EPS_INSIDE = ("eps inside the square root",
               "eps is inside the square root: the book divides by np.sqrt(h) + 1e-7. Inside, it acts like an eps "
               "of about 3e-4 and shrinks the steps of parameters with small gradients.")
_RESET = "{state} starts again from zeros at every call: create it only when it is None (the first call), then " \
         "keep it in self.{attr} across calls."

BUGS: dict[str, tuple[Bug, ...]] = {
    "SGD": (
        Bug("gradient ascent", "params move up the gradient: SGD subtracts, params[key] -= lr * grads[key].",
            sgd("ascent")),
        Bug("lr ignored", "The step uses lr = 0.01 whatever was given: use self.lr, set from the constructor's lr.",
            sgd("default lr")),
    ),
    "Momentum": (
        Bug("params moved by the old velocity",
            "params are moved by the velocity before it is updated: compute v = momentum * v - lr * grad first, "
            "then params[key] += v with that new v.", momentum("stale")),
        Bug("velocity reset every call", _RESET.format(state="The velocity", attr="v"), momentum("reset")),
        Bug("velocity subtracted", "params move against the velocity: the book's velocity already carries the "
            "minus sign (v = momentum * v - lr * grad), so params[key] += v.", momentum("ascent")),
    ),
    "Nesterov": (
        Bug("velocity reset every call", _RESET.format(state="The velocity", attr="v"), nesterov("reset")),
        Bug("plain momentum", "This is plain Momentum (params += v): Nesterov's update is params += momentum**2 * v "
            "- (1 + momentum) * lr * grad, a look-ahead along the velocity.", nesterov("plain")),
        Bug("1 + momentum missing", "The gradient term misses its (1 + momentum) factor: params += momentum**2 * v "
            "- (1 + momentum) * lr * grad.", nesterov("no 1 + momentum")),
    ),
    "AdaGrad": (
        Bug(*_EPS_INSIDE, scaled("eps inside", decay=False)),
        Bug("squares not accumulated", "h holds only this step's squared gradient: AdaGrad sums them over all "
            "steps, h += grad * grad, with h created once (zeros) on the first call.", scaled("reset", decay=False)),
        Bug("params updated with the old h", "params are updated with h from before this step: add grad * grad to "
            "h first, then divide by its square root (on the first step the old h is 0).",
            scaled("stale", decay=False)),
        Bug("square root missing", "The step divides by h + 1e-7: AdaGrad divides by the square root, "
            "np.sqrt(h) + 1e-7.", scaled("no sqrt", decay=False)),
        Bug("eps 1e-8", "eps is 1e-8: the book adds 1e-7 to the square root (it shows where gradients are tiny).",
            scaled("eps 1e-8", decay=False)),
    ),
    "RMSprop": (
        Bug(*_EPS_INSIDE, scaled("eps inside", decay=True)),
        Bug("decay on the wrong term", "decay_rate is applied to the wrong term: h = decay_rate * h + (1 - "
            "decay_rate) * grad * grad keeps most of the old average.", scaled("swapped", decay=True)),
        Bug("params updated with the old h", "params are updated with h from before this step: update h with this "
            "gradient first, then divide by its square root.", scaled("stale", decay=True)),
        Bug("h reset every call", _RESET.format(state="h", attr="h"), scaled("reset", decay=True)),
        Bug("eps 1e-8", "eps is 1e-8: the book adds 1e-7 to the square root (it shows where gradients are tiny).",
            scaled("eps 1e-8", decay=True)),
    ),
    "Adam": (
        Bug("no bias correction", "The bias correction is missing: the book's step size is lr_t = lr * np.sqrt(1 - "
            "beta2**iter) / (1 - beta1**iter), which makes the first steps as large as later ones.",
            adam("uncorrected")),
        Bug("eps inside the square root", "eps is inside the square root: the book divides by np.sqrt(v) + 1e-7. "
            "Inside, it acts like an eps of about 3e-4 and shrinks the steps of parameters with small gradients.",
            adam("eps inside")),
        Bug("iter advanced per parameter", "iter is advanced once per parameter (inside the loop over params): it "
            "counts updates, so advance it once per call to update, before the loop.", adam("t per key")),
        Bug("iter never advanced", "iter is never advanced: with iter = 0 the step size is 0 / 0 (NaN). Add 1 to "
            "self.iter at the start of every update.", adam("t frozen")),
        Bug("betas swapped in the correction", "beta1 and beta2 are swapped in the bias correction: lr_t = lr * "
            "np.sqrt(1 - beta2**iter) / (1 - beta1**iter).", adam("betas swapped")),
        Bug("moments reset every call", _RESET.format(state="m and v", attr="m and self.v"), adam("reset")),
    ),
}

ACCEPTED: dict[str, Accepted] = {
    "Adam": Accepted(model("Adam", adam("standard")),
                     "Adam with explicit bias correction, lr * m_hat / (sqrt(v_hat) + 1e-7): accepted (the Adam "
                     "paper's form), though the book folds the correction into lr_t and adds 1e-7 to the "
                     "uncorrected sqrt(v), which differs where gradients are tiny"),
    "Nesterov": Accepted(model("Nesterov", nesterov("paper")),
                         "Nesterov with the velocity from before its update in the momentum term (the form of the "
                         "paper the book cites, and torch's nesterov=True): accepted, though the book's code uses "
                         "the updated velocity, params += momentum**2 * v - (1 + momentum) * lr * grad"),
}
