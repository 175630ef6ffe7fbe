"""Specs of the book's update rules (ch. 6, ``common/optimizer.py``): SGD, Momentum, Nesterov, AdaGrad, RMSprop
and Adam, each a class whose ``update(params, grads)`` writes the new values into the ``params`` dict.

A case builds the optimizer (the book's defaults, or some hyper-parameters given by keyword, under the book's
names ``lr``, ``momentum``, ``decay_rate``, ``beta1``, ``beta2``), then calls ``update`` one to five times on
the same ``params`` dict (W1 and b1, as a network's) with a new ``grads`` dict each time, as the book's
training loop does, and keeps a copy of every parameter after every step. The optimizer's state (``v``, ``h``,
``m``, ``iter``) is its own business and is never read: only what a training loop sees is graded. Two checks:
the first step (the formula from fresh state) and the later steps (the state carried from call to call).

Gradients come at one of three scales per case: 1, 1e-2 and 1e-5; on the smallest, sqrt(h) is near the book's
eps (1e-7), which is where eps placement shows. Accepted with a warning: Adam written with explicit bias
correction, ``lr * m_hat / (sqrt(v_hat) + 1e-7)`` (the Adam paper's and torch's form; it moves the book's eps),
and Nesterov in the form of the paper the book cites (the velocity before its update in the momentum term;
torch's ``nesterov=True``). Bug models and diagnoses: optimizer_bugs.py; torch twins: optimizer_torch.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, Check, CompareFn, NamedCase, Outputs, Reach, Spec, Verdict
from graders.specs.dlfs import optimizer_bugs as B
from graders.specs.dlfs import optimizer_torch as T
from graders.specs.dlfs.optimizer_bugs import KEYS, MAX_STEPS, steps_of
from graders.specs.kit.programs import SUPPORT_MODULE, step_output
from graders.specs.kit.rules import compare_arrays
from graders.specs.kit.tolerances import OPTIMIZER_STEP
from graders.specs.program import Call, Const, Expr, Input, Item, Program, Result, call, method
from reference import optimizer as R

MODULE = "optimizer"
GRADIENT_SCALES = (1.0, 1e-2, 1e-5)
#: Below this, sqrt of the squared gradients is within two orders of the book's eps.
SMALL_GRADIENT = 1e-4
#: Values a case may give each hyper-parameter (None in a draw: the book's default).
HYPER: dict[str, tuple[float, ...]] = {
    "lr": (0.01, 0.001, 0.1, 0.5),
    "momentum": (0.9, 0.5, 0.8),
    "decay_rate": (0.99, 0.9, 0.5),
    "beta1": (0.9, 0.5, 0.8),
    "beta2": (0.999, 0.99, 0.9),
}
CONVENTIONS = {
    "SGD": "params[key] -= lr * grads[key]; default lr 0.01",
    "Momentum": "v = momentum * v - lr * g; params += v; defaults lr 0.01, momentum 0.9",
    "Nesterov": "the book's: v = momentum * v - lr * g; params += momentum**2 * v - (1 + momentum) * lr * g; "
                "defaults lr 0.01, momentum 0.9",
    "AdaGrad": "h += g * g; params -= lr * g / (sqrt(h) + 1e-7); default lr 0.01",
    "RMSprop": "h = decay_rate * h + (1 - decay_rate) * g * g; params -= lr * g / (sqrt(h) + 1e-7); defaults "
               "lr 0.01, decay_rate 0.99",
    "Adam": "iter += 1; lr_t = lr * sqrt(1 - beta2**iter) / (1 - beta1**iter); m, v moving averages; params -= "
            "lr_t * m / (sqrt(v) + 1e-7); defaults lr 0.001, beta1 0.9, beta2 0.999",
}


def optimizer_spec(*, name: str) -> Spec:
    """The spec of one of the book's update-rule classes (``name`` as the book spells it)."""
    accepted = B.ACCEPTED.get(name)
    return Spec(
        name=name,
        module=MODULE,
        api="class",
        convention=CONVENTIONS[name],
        describe=describe,
        domain=_domain(name),
        cases=lambda: _cases(name),
        reaches=_reaches(name),
        notebook=lambda: _notebook(name),
        scale=lambda: _scale(name),
        expected=B.stepped(lambda hyper: getattr(R, name)(**hyper)),
        torch_expected=T.TWINS.get(name),
        program=_program(name),
        checks=(
            Check("first_step", outputs=tuple(KEYS), tol=OPTIMIZER_STEP, points=1.0,
                  compare=_steps_rule(range(1, 2), accepted),
                  description="params['W1'] and params['b1'] after the first update (fresh state)"),
            Check("later_steps", outputs=tuple(step_output(k, s) for s in range(2, MAX_STEPS + 1) for k in KEYS),
                  tol=OPTIMIZER_STEP, points=2.0, compare=_steps_rule(range(2, MAX_STEPS + 1), accepted),
                  description="params after each later update (the state carried from call to call)"),
        ),
        diagnoses=B.diagnoses(name),
        verified_by="" if name in T.TWINS else (
            "no torch optimiser has the book's Nesterov; its first steps against a closed form, and the paper's "
            "form (accepted) against torch.optim.SGD(nesterov=True) (tests/reference/test_dlfs_optimizer.py)"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    name: (lambda n: lambda: optimizer_spec(name=n))(name) for name in R.DEFAULTS
}


# ---------------------------------------------------------------- cases
def _hyper_names(name: str) -> tuple[str, ...]:
    return tuple(R.DEFAULTS[name])


def _build(rng: np.random.Generator, shape: tuple[int, ...], steps: int, scale: float,
           hyper: Mapping[str, float]) -> Case:
    """params W1 (shape) and b1 (shape[-1],), and one grads dict per step (grads_1, grads_2, ...)."""
    shapes = {"W1": shape, "b1": shape[-1:]}
    case: Case = {"hyper": dict(hyper), "params": {k: rng.standard_normal(s) for k, s in shapes.items()}}
    for s in range(1, steps + 1):
        case[f"grads_{s}"] = {k: scale * rng.standard_normal(shp) for k, shp in shapes.items()}
    return case


@st.composite
def _cases(draw: st.DrawFn, name: str) -> Case:
    ndim = draw(st.sampled_from([2, 2, 4]))
    shape = draw(S.shapes_with(ndim, 1, 4))
    steps = draw(st.integers(1, 4))
    scale = draw(S.one_of_values(GRADIENT_SCALES))
    hyper = {k: draw(st.none() | S.one_of_values(HYPER[k])) for k in _hyper_names(name)}
    given = {k: v for k, v in hyper.items() if v is not None}
    seed = draw(st.integers(0, 2**32 - 1))
    return _build(np.random.default_rng(seed), shape, steps, scale, given)


def _notebook(name: str) -> list[NamedCase]:
    """The book's defaults for five steps on linspace values (gradients shrinking as training goes), then
    tiny gradients from fresh state with every hyper-parameter given (where eps shows)."""
    w = np.linspace(-0.4, 0.6, num=20).reshape(4, 5)
    g = np.linspace(-0.6, 0.4, num=20).reshape(4, 5)
    defaults: Case = {"hyper": {}, "params": {"W1": w, "b1": np.linspace(-0.1, 0.1, num=5)}}
    for s in range(1, MAX_STEPS + 1):
        defaults[f"grads_{s}"] = {"W1": g * 0.5 ** (s - 1), "b1": np.linspace(0.3, -0.2, num=5) * 0.5 ** (s - 1)}
    given = {k: HYPER[k][1] for k in _hyper_names(name)}
    tiny = _build(np.random.default_rng(61), (3, 4), 3, 1e-5, given)
    return [NamedCase(f"{name}() with the book's defaults: five updates of W1 (4, 5) and b1 (5,), linspace values, "
                      "gradients halving each step", defaults),
            NamedCase(f"{name}({', '.join(f'{k}={v:g}' for k, v in given.items())}): three updates with gradients "
                      "of size 1e-5 (where eps shows)", tiny)]


def _scale(name: str) -> list[Case]:
    """A hidden layer of MNIST's first Affine: W1 (784, 50), b1 (50,), three steps of 1e-3 gradients."""
    rng = np.random.default_rng(2600 + len(name))
    case = _build(rng, (784, 50), 3, 1e-3, {})
    case["params"] = {k: 0.05 * v for k, v in case["params"].items()}
    return [case]


def _domain(name: str) -> Callable[[Case], bool]:
    """1 to MAX_STEPS grads dicts with the keys and shapes of params; hyper-parameters of this class, rates in
    (0, 1), lr > 0."""
    names = set(_hyper_names(name))

    def domain(case: Case) -> bool:
        params, hyper = case["params"], case["hyper"]
        if set(params) != set(KEYS) or not set(hyper) <= names or not 1 <= steps_of(case) <= MAX_STEPS:
            return False
        if not all(0.0 < float(v) < 1.0 for v in hyper.values()):
            return False
        return all(set(case[f"grads_{s}"]) == set(KEYS)
                   and all(np.shape(case[f"grads_{s}"][k]) == np.shape(params[k]) for k in KEYS)
                   for s in range(1, steps_of(case) + 1))

    return domain


def _largest_gradient(case: Case) -> float:
    return max(float(np.max(np.abs(g))) for s in range(1, steps_of(case) + 1) for g in case[f"grads_{s}"].values())


def _reaches(name: str) -> tuple[Reach, ...]:
    return (
        Reach("the book's defaults (no argument given)", lambda case: not case["hyper"]),
        Reach("every hyper-parameter given", lambda case: set(case["hyper"]) == set(_hyper_names(name))),
        Reach("three steps or more", lambda case: steps_of(case) >= 3),
        Reach("small gradients (where eps placement shows)", lambda case: _largest_gradient(case) < SMALL_GRADIENT),
        Reach("a 4-D weight (a conv filter)", lambda case: case["params"]["W1"].ndim == 4),
    )


# ---------------------------------------------------------------- program
def _program(name: str) -> Callable[[Case], Program]:
    def program(case: Case) -> Program:
        """``opt = Cls(**given)``; ``opt.update(params, grads_s)`` for each step on the same params dict; a copy
        of every params[key] after every step."""
        kwargs: dict[str, Expr] = {k: Item(Input("hyper"), k) for k in case["hyper"]}
        steps: list[Call] = [call("opt", MODULE, name, **kwargs)]
        outputs: dict[str, Expr] = {}
        for s in range(1, steps_of(case) + 1):
            steps.append(method(f"update_{s}", Result("opt"), "update", Input("params"), Input(f"grads_{s}")))
            for key in KEYS:
                kept = call(step_output(key, s), SUPPORT_MODULE, "snapshot", Input("params"), Const(key))
                steps.append(kept)
                outputs[kept.id] = Result(kept.id)
        return Program(steps=tuple(steps), outputs=outputs)

    return program


# ---------------------------------------------------------------- checks
def _compare_steps(case: Case, actual: Outputs, expected: Outputs, check: Check, steps: range) -> Verdict:
    total = steps_of(case)
    for s in (s for s in steps if s <= total):
        for key in KEYS:
            out = step_output(key, s)
            if out not in actual:
                return Verdict(False, f"params[{key!r}] after update {s} of {total} was not read: the update "
                                      "(or reading params) raised")
            if actual[out] is None:
                return Verdict(False, f"params has no entry {key!r} after update {s} of {total}")
            verdict = compare_arrays(out, actual[out], expected[out], check.atol, check.rtol)
            if not verdict.passed:
                return Verdict(False, f"params[{key!r}] after update {s} of {total}: {verdict.message}",
                               verdict.where, verdict.where_label)
    return Verdict(True)


def _steps_rule(steps: range, accepted: B.Accepted | None) -> CompareFn:
    """Every key after each of ``steps`` within the check's tolerance; where that fails, the same against an
    accepted variant's outputs passes with its warning."""

    def rule(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
        verdict = _compare_steps(case, actual, expected, check, steps)
        if verdict.passed or accepted is None:
            return verdict
        if _compare_steps(case, actual, accepted.outputs(case), check, steps).passed:
            return Verdict(True, warning=accepted.warning)
        return verdict

    return rule


def describe(case: Case) -> str:
    """One line: shapes, steps, the given hyper-parameters, the gradient size."""
    given = ", ".join(f"{k}={v:g}" for k, v in case["hyper"].items()) or "the book's defaults"
    shapes = ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in case["params"].items())
    return f"{shapes}; {steps_of(case)} updates; {given}; gradients up to {_largest_gradient(case):.0e}"

