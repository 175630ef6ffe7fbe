"""Specs of assignment 1's two-layer net, in the hand-out's two shapes:

* ``TwoLayerNet (fc_net.py)`` (2020+): ``TwoLayerNet(input_dim, hidden_dim, num_classes, weight_scale, reg)``,
  ``loss(X, y=None)`` built on the student's layers.py (``builds_on`` names them, so a broken layer is said
  once, at the layer), L2 penalty ``0.5 * reg * sum(W**2)`` (the skeleton's NOTE asks for the 0.5; the
  notebook's reg 1.0 loss, 26.5948426952, pins it).
* ``TwoLayerNet (neural_net.py)`` (2016-2019): ``TwoLayerNet(input_size, hidden_size, output_size, std)``,
  ``loss(X, y=None, reg=0.0)`` written out in NumPy, and ``predict(X)``. The skeleton does not write the L2
  factor; the notebook's number does, and it changed: the factory option ``l2`` is "2017" (spring 2017 to
  2019: ``reg * sum(W**2)``, 1.30378789133 at reg 0.05) or "2016" (``0.5 * reg``, the same number at reg 0.1).

Both are graded as graders/specs/fc_net.py grades FullyConnectedNet: through their public methods, the case's
parameters written into ``net.params`` (kit ``net_program``) so the values judged do not depend on the random
initialisation, and ``__init__`` judged on a second, larger net (kit ``initial_params``): names and shapes,
zero biases, and the weights' spread against the scale argument (7,200 weights: the sample standard deviation
is within 2% of the true one; the check allows 15%). NumPy's global generator is seeded first, so a case always
builds the same net. Every ReLU input of a case stays KINK_MARGIN away from 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, NamedCase, Outputs, Reach, Spec
from graders.specs.cs231n_a1.common import NET_MODULE, NEURAL_NET_MODULE, l2_factor, l2_sentence
from graders.specs.kit.cases import first_valid
from graders.specs.kit.detectors import variant_diagnosis
from graders.specs.kit.networks import InitRule, Spread, dense_params, write_params
from graders.specs.kit.programs import SUPPORT_MODULE, fetched_loss_and_grads, initial_params, net_program
from graders.specs.kit.rules import as_numeric
from graders.specs.kit.tolerances import EXACT, NORMALISED_GRADIENTS
from graders.specs.kit.torch import leaf_grads, torch_one_thread
from graders.specs.program import Const, Expr, Input, Program, Result, call, merged
from reference.cs231n.neural_net import TwoLayerNet as NeuralNet
from reference.cs231n.two_layer_net import TwoLayerNet as FcNet

PARAMS = ("W1", "b1", "W2", "b2")
#: The larger net ``__init__`` is judged on: (input, hidden, classes).
INIT_DIMS = (80, 60, 40)
#: Relative error allowed on the weights' standard deviation (~1% sampling error on INIT_DIMS's weights).
INIT_SCALE_RTOL = 0.15
#: Smallest |ReLU input| a case allows: finite differences and rewritten code never cross the kink.
KINK_MARGIN = 1e-3
#: The seed of NumPy's global generator before the nets are built.
NUMPY_SEED = 231


# ---------------------------------------------------------------- the two hand-outs
def fc_net_two_layer() -> Spec:
    return _spec(
        name="TwoLayerNet (fc_net.py)", module=NET_MODULE, factor=0.5, scale_name="weight_scale",
        default_scale=1e-3, scales=(1e-2, 5e-2, 1e-1), notebook=_fc_notebook, program=_fc_program,
        make=_fc_make, builds_on=("affine_forward", "affine_backward", "relu_forward", "relu_backward",
                                            "softmax_loss"),
        convention="cs231n A1 2020+: TwoLayerNet(input_dim, hidden_dim, num_classes, weight_scale, reg) on "
                   "layers.py; params W1 (D, H), b1, W2 (H, C), b2; loss(X) -> scores, loss(X, y) -> (loss, "
                   "grads) with 0.5 * reg * sum(W**2) over W1 and W2")


def neural_net_two_layer(*, l2: str = "2017") -> Spec:
    factor = l2_factor(l2)
    return _spec(
        name="TwoLayerNet (neural_net.py)", module=NEURAL_NET_MODULE, factor=factor, scale_name="std",
        default_scale=1e-4, scales=(1e-3, 1e-2, 1e-1), notebook=_neural_notebook(factor),
        program=_neural_program, make=_neural_make(factor), builds_on=(),
        convention=f"cs231n A1 2016-2019: TwoLayerNet(input_size, hidden_size, output_size, std); params W1 (D, "
                   f"H), b1, W2 (H, C), b2; loss(X) -> scores, loss(X, y, reg) -> (loss, grads) with "
                   f"{l2_sentence(factor)} over W1 and W2; predict(X) -> argmax of the scores",
        extra_checks=(Check("predict", outputs=("y_pred",), tol=EXACT, points=0.5,
                            description="predict(X): the class of highest score for each row"),))


FACTORIES: dict[str, Callable[..., Spec]] = {
    "TwoLayerNet (fc_net.py)": fc_net_two_layer,
    "TwoLayerNet (neural_net.py)": neural_net_two_layer,
}

def _spec(*, name: str, module: str, factor: float, scale_name: str, default_scale: float,
          scales: tuple[float, ...], notebook: Callable[[], list[NamedCase]], program: Callable[[Case], Program],
          make: Maker, builds_on: tuple[str, ...], convention: str,
          extra_checks: tuple[Check, ...] = ()) -> Spec:
    expected = _expected(make)
    return Spec(
        name=name,
        module=module,
        api="class",
        convention=convention,
        builds_on=builds_on,
        domain=valid_case,
        cases=_cases(scales),
        reaches=(Reach("regularised", lambda case: case["reg"] > 0),
                 Reach("unregularised", lambda case: case["reg"] == 0),
                 Reach("one example", lambda case: case["X"].shape[0] == 1)),
        notebook=notebook,
        scale=_scale,
        describe=_describe(scale_name),
        program=program,
        expected=expected,
        torch_expected=_torch(factor),
        gradients=tuple(GradientCheck(f"grad_{k}", k, _train_loss(make)) for k in PARAMS),
        checks=(
            Check("init", outputs=tuple(f"init_{k}" for k in PARAMS), compare=JUDGE_INIT,
                  description=f"__init__: W1, b1, W2, b2 of the right shapes; zero biases, weights with standard "
                              f"deviation {scale_name}"),
            Check("scores", tol=NORMALISED_GRADIENTS, description="loss(X): the class scores, (N, C)"),
            Check("loss", tol=NORMALISED_GRADIENTS,
                  description=f"loss(X, y): mean softmax cross-entropy plus {_penalty(factor)}"),
            Check("grads", outputs=tuple(f"grad_{k}" for k in PARAMS), tol=NORMALISED_GRADIENTS, points=2.0,
                  description="loss(X, y)'s gradient of W1, b1, W2 and b2, the regulariser's included"),
            *extra_checks,
        ),
        diagnoses=(*_reg_diagnoses(expected, factor), *_forward_diagnoses(expected),
                   *_init_diagnoses(scale_name, default_scale)),
        read_only=("X", "y"),
    )


def _penalty(factor: float) -> str:
    return ("reg" if factor == 1.0 else f"{factor:g} * reg") + " * (np.sum(W1 * W1) + np.sum(W2 * W2))"


# ---------------------------------------------------------------- cases
def _build(rng: np.random.Generator, n: int, d: int, h: int, c: int, reg: float, scale: float) -> Case:
    return {"input_dim": d, "hidden_dim": h, "num_classes": c, "scale": scale, "reg": reg,
            **dense_params(rng, (d, h, c)), "X": rng.standard_normal((n, d)),
            "y": rng.integers(0, c, size=n).astype(np.int64)}


def valid_case(case: Case) -> bool:
    """Every ReLU input at least KINK_MARGIN from 0; labels in range."""
    pre = case["X"] @ case["W1"] + case["b1"]
    y = case["y"]
    return bool(np.min(np.abs(pre)) >= KINK_MARGIN) and bool(np.all((y >= 0) & (y < case["num_classes"])))


def _cases(scales: tuple[float, ...]) -> Callable[[], st.SearchStrategy[Case]]:
    @st.composite
    def cases(draw: st.DrawFn) -> Case:
        n, d, h, c = draw(st.integers(1, 5)), draw(st.integers(2, 6)), draw(st.integers(2, 7)), draw(st.integers(2, 5))
        reg = draw(st.sampled_from([0.0, 0.1, 3.14]))
        scale = draw(st.sampled_from(scales))
        return draw(S.seeded_until(lambda rng: _build(rng, n, d, h, c, reg, scale), valid_case, tries=256))

    return cases


def _first_valid(seed: int, build: Callable[[np.random.Generator], Case]) -> Case:
    return first_valid(seed, build, valid_case, "two-layer net")


def _fc_notebook() -> list[NamedCase]:
    """The 2020+ notebook's test-time check (linspace parameters and inputs, y = [0, 5, 1], reg 0 and 1.0),
    then its gradient check's shapes (N=3, D=5, H=50, C=7) at reg 0.0 and 0.7."""
    n, d, h, c = 3, 5, 50, 7
    fixed = {"input_dim": d, "hidden_dim": h, "num_classes": c, "scale": 1e-3,
             "W1": np.linspace(-0.7, 0.3, num=d * h).reshape(d, h), "b1": np.linspace(-0.1, 0.9, num=h),
             "W2": np.linspace(-0.3, 0.4, num=h * c).reshape(h, c), "b2": np.linspace(-0.9, 0.1, num=c),
             "X": np.linspace(-5.5, 4.5, num=n * d).reshape(d, n).T, "y": np.array([0, 5, 1])}
    found = [NamedCase(f"notebook: linspace parameters and inputs, 5-50-7 net on 3 examples, reg {reg:g}",
                       {**fixed, "reg": reg}) for reg in (0.0, 1.0)]
    for reg in (0.0, 0.7):
        case = _first_valid(231, partial(_build, n=n, d=d, h=h, c=c, reg=reg, scale=1e-3))
        found.append(NamedCase(f"notebook's gradient check: 5-50-7 net on 3 examples, reg {reg:g} (seed 231)", case))
    return found


def _neural_notebook(factor: float) -> Callable[[], list[NamedCase]]:
    """The 2016-2019 notebook's toy model: np.random.seed(0), TwoLayerNet(4, 10, 3, std=1e-1); X = 10 * randn
    (5, 4) after np.random.seed(1), y = [0, 1, 2, 2, 1]; its loss check at reg 0.05 (2017+) or 0.1 (2016)."""

    def notebook() -> list[NamedCase]:
        weights = np.random.RandomState(0)
        toy = {"input_dim": 4, "hidden_dim": 10, "num_classes": 3, "scale": 1e-1,
               "W1": 1e-1 * weights.randn(4, 10), "b1": np.zeros(10), "W2": 1e-1 * weights.randn(10, 3),
               "b2": np.zeros(3), "X": 10 * np.random.RandomState(1).randn(5, 4), "y": np.array([0, 1, 2, 2, 1])}
        reg = 0.05 if factor == 1.0 else 0.1
        return [NamedCase(f"notebook: the toy model (4-10-3, std 1e-1, seeds 0 and 1), reg {reg:g}",
                          {**toy, "reg": reg}),
                NamedCase("not the notebook's: a 6-8-4 net on 5 examples, reg 3.14",
                          _first_valid(232, lambda rng: _build(rng, 5, 6, 8, 4, 3.14, 1e-2)))]

    return notebook


def _scale() -> list[Case]:
    return [_first_valid(2312, lambda rng: _build(rng, 32, 3 * 32 * 32, 50, 10, 0.1, 1e-2))]


def _describe(scale_name: str) -> Callable[[Case], str]:
    def describe(case: Case) -> str:
        return (f"{case['input_dim']}-{case['hidden_dim']}-{case['num_classes']} net on {case['X'].shape[0]} "
                f"examples, reg {case['reg']:g} ({scale_name} {case['scale']:g} for __init__)")

    return describe


# ---------------------------------------------------------------- programs
def _seeded(*programs: Program) -> Program:
    seed = Program(steps=(call("seed", SUPPORT_MODULE, "seed_numpy", Const(NUMPY_SEED)),), outputs={})
    return merged([seed, *programs])


def _fc_program(case: Case) -> Program:
    d, h, c = INIT_DIMS
    init = initial_params(NET_MODULE, "TwoLayerNet", keys=PARAMS, ctor={
        "input_dim": Const(d), "hidden_dim": Const(h), "num_classes": Const(c), "weight_scale": Input("scale")})
    ctor: dict[str, Expr] = {"input_dim": Input("input_dim"), "hidden_dim": Input("hidden_dim"),
                             "num_classes": Input("num_classes"), "weight_scale": Input("scale"), "reg": Input("reg")}
    net = net_program(NET_MODULE, "TwoLayerNet", ctor=ctor, params=PARAMS, calls=(
        ("scores", "loss", (Input("X"),)), ("train", "loss", (Input("X"), Input("y")))),
        outputs={"scores": Result("scores")})
    return _seeded(init, net, fetched_loss_and_grads(PARAMS))


def _neural_program(case: Case) -> Program:
    d, h, c = INIT_DIMS
    init = initial_params(NEURAL_NET_MODULE, "TwoLayerNet", keys=PARAMS, ctor={
        "input_size": Const(d), "hidden_size": Const(h), "output_size": Const(c), "std": Input("scale")})
    ctor: dict[str, Expr] = {"input_size": Input("input_dim"), "hidden_size": Input("hidden_dim"),
                             "output_size": Input("num_classes"), "std": Input("scale")}
    net = net_program(NEURAL_NET_MODULE, "TwoLayerNet", ctor=ctor, params=PARAMS, calls=(
        ("scores", "loss", (Input("X"),)), ("train", "loss", (Input("X"), Input("y"), Input("reg"))),
        ("predict", "predict", (Input("X"),))), outputs={"scores": Result("scores"), "y_pred": Result("predict")})
    return _seeded(init, net, fetched_loss_and_grads(PARAMS))


# ---------------------------------------------------------------- reference
#: A fresh reference net of sizes (D, H, C) with the given scale (weight_scale or std).
Maker = Callable[[int, int, int, float], Any]


def _fc_make(d: int, h: int, c: int, scale: float) -> FcNet:
    return FcNet(d, h, c, weight_scale=scale, rng=np.random.default_rng(0))


def _neural_make(factor: float) -> Maker:
    return lambda d, h, c, scale: NeuralNet(d, h, c, std=scale, l2=factor, rng=np.random.default_rng(0))


def _loaded(make: Maker, case: Case) -> Any:
    """The reference net of the case's sizes with the case's parameters (and, for fc_net's, its reg)."""
    net = write_params(make(case["input_dim"], case["hidden_dim"], case["num_classes"], case["scale"]), case, PARAMS)
    if isinstance(net, FcNet):
        net.reg = case["reg"]
    return net


def _call_loss(net: Any, case: Case) -> tuple[float, dict[str, np.ndarray]]:
    if isinstance(net, NeuralNet):
        return net.loss(case["X"], case["y"], reg=case["reg"])
    return net.loss(case["X"], case["y"])


def _expected(make: Maker) -> Callable[[Case], dict[str, Any]]:
    def expected(case: Case) -> dict[str, Any]:
        init = make(*INIT_DIMS, case["scale"])
        net = _loaded(make, case)
        result: dict[str, Any] = {f"init_{k}": init.params[k] for k in PARAMS}
        result["scores"] = net.loss(case["X"])
        loss, grads = _call_loss(net, case)
        result["loss"] = loss
        result.update({f"grad_{k}": grads[k] for k in PARAMS})
        if isinstance(net, NeuralNet):
            result["y_pred"] = net.predict(case["X"])
        return result

    return expected


def _train_loss(make: Maker) -> Callable[[Case], float]:
    """The reference's train-mode loss: what finite differences check the gradients against."""
    return lambda case: float(_call_loss(_loaded(make, case), case)[0])


# ---------------------------------------------------------------- __init__
def _init_std(actual: Outputs) -> float | None:
    """The pooled standard deviation of the student's initial W1 and W2 (None unless both are arrays of the
    init net's shapes)."""
    d, h, c = INIT_DIMS
    first, second = as_numeric(actual.get("init_W1")), as_numeric(actual.get("init_W2"))
    if first is None or second is None or first.shape != (d, h) or second.shape != (h, c):
        return None
    return float(np.std(np.concatenate([first.ravel(), second.ravel()])))


#: Names and shapes as the reference's, zero biases, and the weights' pooled standard deviation within
#: INIT_SCALE_RTOL of the scale argument.
JUDGE_INIT = InitRule(names=PARAMS, say_all=True, spread=Spread(
    scale=lambda case, shape: float(case["scale"]), rtol=INIT_SCALE_RTOL, pooled=True,
    said=lambda case, scale, shape: f"{scale:g} (the scale argument times np.random.randn(...))"))


def _nonzero(value: Any) -> bool:
    array = as_numeric(value)
    return array is not None and bool(np.any(array != 0))


def _init_diagnoses(scale_name: str, default: float) -> tuple[Diagnosis, ...]:
    def off(run: CaseRun) -> float | None:
        """The init weights' std on a run failing init only through it, else None."""
        std = _init_std(run.actual)
        scale = run.case["scale"]
        if std is None or any(_nonzero(run.actual.get(f"init_{b}")) for b in ("b1", "b2")):
            return None
        return None if abs(std - scale) <= INIT_SCALE_RTOL * scale else std

    def scale_ignored(runs: Sequence[CaseRun]) -> bool:
        """On every run failing init, the weights' spread is the same whatever the case's scale (or the hand-out's
        default), on at least two scales or at the default."""
        failing = [r for r in runs if r.failed_on("init")]
        spreads = [off(r) for r in failing]
        if not failing or any(s is None for s in spreads):
            return False
        found = [s for s in spreads if s is not None]
        scales = {r.case["scale"] for r in failing}
        same = max(found) <= (1 + INIT_SCALE_RTOL) ** 2 * min(found)
        at_default = all(abs(s - default) <= INIT_SCALE_RTOL * default for s in found)
        return same and (len(scales) >= 2 or at_default)

    def biases_not_zero(runs: Sequence[CaseRun]) -> bool:
        failing = [r for r in runs if r.failed_on("init")]
        return bool(failing) and all(any(_nonzero(r.actual.get(f"init_{b}")) for b in ("b1", "b2")) for r in failing)

    def unscaled(case: Case) -> dict[str, Any]:
        rng = np.random.default_rng(1)
        d, h, c = INIT_DIMS
        return {"init_W1": default * rng.standard_normal((d, h)), "init_W2": default * rng.standard_normal((h, c))}

    def random_biases(case: Case) -> dict[str, Any]:
        rng = np.random.default_rng(2)
        return {"init_b1": case["scale"] * rng.standard_normal(INIT_DIMS[1]),
                "init_b2": case["scale"] * rng.standard_normal(INIT_DIMS[2])}

    return (
        Diagnosis("scale argument ignored",
                  f"__init__ ignores {scale_name}: the initial weights have the same spread whatever {scale_name} "
                  f"is given; draw them as {scale_name} * np.random.randn(...).",
                  scale_ignored, reads=("init_W1", "init_W2", "init_b1", "init_b2"), bug=unscaled),
        Diagnosis("biases not zero",
                  "__init__ must start the biases b1 and b2 at zeros (np.zeros(hidden), np.zeros(classes)); only "
                  "the weights are random.",
                  biases_not_zero, reads=("init_b1", "init_b2"), bug=random_biases),
    )


# ---------------------------------------------------------------- forward and regulariser bugs
def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def _forward_diagnoses(expected: Callable[[Case], dict[str, Any]]) -> tuple[Diagnosis, ...]:
    def probabilities(case: Case) -> dict[str, Any]:
        return {"scores": _softmax(np.asarray(expected(case)["scores"]))}

    def linear(case: Case) -> dict[str, Any]:
        hidden = case["X"] @ case["W1"] + case["b1"]
        return {"scores": hidden @ case["W2"] + case["b2"]}

    def unmasked(case: Case) -> dict[str, Any] | None:
        """W1's and b1's gradients with the upstream gradient passed through the ReLU unmasked."""
        right = expected(case)
        off = (case["X"] @ case["W1"] + case["b1"]) <= 0
        if not np.any(off):
            return None
        dscores = _softmax(np.asarray(right["scores"]))
        dscores[np.arange(len(case["y"])), case["y"]] -= 1.0
        blocked = (dscores / len(case["y"])) @ case["W2"].T * off
        return {"grad_W1": right["grad_W1"] + case["X"].T @ blocked, "grad_b1": right["grad_b1"] + blocked.sum(axis=0)}

    return (
        variant_diagnosis(
            "scores after softmax",
            "loss(X) returns softmax probabilities: in test mode it must return the raw class scores of the second "
            "affine layer (the softmax belongs to the loss only).",
            probabilities, ("scores",)),
        variant_diagnosis(
            "ReLU missing",
            "The scores are those of a net without the ReLU: apply max(0, .) to the first layer's output before the "
            "second affine layer.",
            linear, ("scores",)),
        variant_diagnosis(
            "ReLU gradient not masked",
            "grads['W1'] and grads['b1'] pass the upstream gradient through the ReLU unchanged: zero it where the "
            "first layer's output was negative (relu_backward, or dhidden * (hidden > 0)).",
            unmasked, ("grad_W1", "grad_b1"), ("grads",)),
    )


def _reg_variant(expected: Callable[[Case], dict[str, Any]], factor: float, *, loss: float, grad: float,
                 biases: bool = False) -> Callable[[Case], dict[str, Any] | None]:
    """The reference with the penalty ``loss * reg * sum(W**2)`` in the loss and ``grad * reg * W`` in the
    weight gradients (the right ones: ``factor`` and ``2 * factor``), or with the biases penalised too; None
    where reg is 0."""

    def variant(case: Case) -> dict[str, Any] | None:
        reg = float(case["reg"])
        if reg == 0:
            return None
        right = expected(case)
        squares = sum(float(np.sum(case[w] ** 2)) for w in ("W1", "W2"))
        out = {"loss": right["loss"] + (loss - factor) * reg * squares}
        for w in ("W1", "W2"):
            out[f"grad_{w}"] = right[f"grad_{w}"] + (grad - 2 * factor) * reg * case[w]
        for b in ("b1", "b2"):
            out[f"grad_{b}"] = right[f"grad_{b}"] + (2 * factor * reg * case[b] if biases else 0.0)
        if biases:
            out["loss"] += factor * reg * sum(float(np.sum(case[b] ** 2)) for b in ("b1", "b2"))
        return out

    return variant


def _reg_diagnoses(expected: Callable[[Case], dict[str, Any]], factor: float) -> tuple[Diagnosis, ...]:
    other = 1.0 if factor == 0.5 else 0.5
    written, wrong = l2_sentence(factor), l2_sentence(other)
    weights = ("grad_W1", "grad_W2")
    return (
        variant_diagnosis(
            "L2 gradient missing",
            f"The weight gradients miss the regulariser's part: add {2 * factor:g} * reg * W to grads['W1'] and "
            "grads['W2'].",
            _reg_variant(expected, factor, loss=factor, grad=0.0), weights, ("grads",)),
        variant_diagnosis(
            "L2 loss missing",
            f"The loss has no regularisation term: add {written} for W1 and W2.",
            _reg_variant(expected, factor, loss=0.0, grad=2 * factor), ("loss",)),
        variant_diagnosis(
            "L2 loss factor",
            f"The loss adds {wrong} where this hand-out's regulariser is {written} "
            f"({'without the 0.5' if other == 1.0 else 'with a 0.5 too many'}); the gradients are right.",
            _reg_variant(expected, factor, loss=other, grad=2 * factor), ("loss", *weights), ("loss",)),
        variant_diagnosis(
            "L2 gradient factor",
            f"The weight gradients add {2 * other:g} * reg * W ({'twice' if other == 1.0 else 'half'} the "
            f"regulariser's part): the derivative of {written} is {2 * factor:g} * reg * W.",
            _reg_variant(expected, factor, loss=factor, grad=2 * other), ("loss", *weights), ("grads",)),
        variant_diagnosis(
            "other hand-out's L2 convention",
            f"The loss and gradients follow the other hand-outs' regulariser, {wrong} with gradient {2 * other:g} * "
            f"reg * W; this hand-out's is {written}, gradient {2 * factor:g} * reg * W.",
            _reg_variant(expected, factor, loss=other, grad=2 * other), ("loss", *weights), ("loss", "grads")),
        variant_diagnosis(
            "biases regularised",
            "The biases are regularised too: the L2 penalty (and its gradient) covers W1 and W2 only, not b1, b2.",
            _reg_variant(expected, factor, loss=factor, grad=2 * factor, biases=True),
            ("loss", "grad_b1", "grad_b2"), ("loss", "grads")),
    )


# ---------------------------------------------------------------- torch twin
def _torch(factor: float) -> Callable[[Case], dict[str, Any]]:
    def adapter(case: Case) -> dict[str, Any]:
        """The same net with torch autograd in float64 (cross_entropy: the mean softmax loss)."""
        torch = torch_one_thread()
        import torch.nn.functional as F

        params = {k: torch.tensor(np.asarray(case[k], dtype=np.float64), requires_grad=True) for k in PARAMS}
        x = torch.tensor(case["X"], dtype=torch.float64)
        scores = torch.relu(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
        penalty = factor * case["reg"] * ((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum())
        loss = F.cross_entropy(scores, torch.tensor(case["y"])) + penalty
        loss.backward()
        return {"scores": scores.detach().numpy(), "loss": float(loss.item()),
                "y_pred": scores.detach().numpy().argmax(axis=1), **leaf_grads(params)}

    return adapter
