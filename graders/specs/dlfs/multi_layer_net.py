"""Spec of the book's ``MultiLayerNet`` (ch. 6, ``common/multi_layer_net.py``), through its public methods.

A case builds the net with the book's arguments, writes the case's parameters into ``net.params`` in place (the
layers hold the same arrays), then calls predict, loss, accuracy, gradient and numerical_gradient (last: it
perturbs the parameters). ``t`` holds labels, as the book's chapter 6 scripts load them. The loss includes the
book's weight decay ``0.5 * weight_decay_lambda * sum(W**2)`` over the weights; gradient adds
``weight_decay_lambda * W``. ``__init__`` is judged on a second, larger net (about 15,000 weights): names and
shapes, zero biases, and each weight matrix's spread against the book's scale (He ``sqrt(2 / fan_in)`` for
'relu'/'he', ``sqrt(1 / fan_in)`` for 'sigmoid'/'xavier', or the number given), within 15% (the sampling error
is about 1%).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, NamedCase, Outputs, Reach, Spec, Verdict
from graders.specs.dlfs.common import BOOK_H, KINK_MARGIN
from graders.specs.kit.detectors import variant_diagnosis
from graders.specs.kit.programs import initial_params, net_program
from graders.specs.kit.rules import array_of_shape, compare_arrays
from graders.specs.kit.tolerances import (
    BOOK_LOSS,
    COUNT_RATIO,
    NETWORK_NUMERICAL_GRADIENT,
    NORMALISED_GRADIENTS,
    PRODUCT_SUMS,
)
from graders.specs.kit.torch import torch_one_thread
from graders.specs.program import Const, Expr, Input, Item, Program, Result, merged
from reference import dlfs as D
from reference.functional.losses import softmax_loss as exact_softmax_loss
from reference.multi_layer_net import MultiLayerNet, init_scale

MODULE = "multi_layer_net"
CLASS = "MultiLayerNet"
#: The larger net __init__ is judged on: (input_size, hidden_size_list, output_size).
INIT_SIZES = (120, [80, 60], 40)
INIT_SCALE_RTOL = 0.15
MAX_LAYERS = 3
ALL_KEYS = tuple(f"{p}{i}" for i in range(1, MAX_LAYERS + 1) for p in ("W", "b"))
INIT_OPTIONS = ("relu", "he", "sigmoid", "xavier", 0.01)


def multi_layer_net_spec() -> Spec:
    return Spec(
        name=CLASS,
        module=MODULE,
        api="class",
        convention="book: MultiLayerNet(input_size, hidden_size_list, output_size, activation='relu', "
                   "weight_init_std='relu', weight_decay_lambda=0); params W1..WL, b1..bL; loss + 0.5 * lambda * "
                   "sum(W**2); t labels",
        builds_on=("Affine", "Relu", "Sigmoid", "SoftmaxWithLoss", "numerical_gradient"),
        domain=valid_case,
        cases=cases,
        reaches=(
            Reach("sigmoid activation", lambda case: case["activation"] == "sigmoid"),
            Reach("two hidden layers with weight decay", lambda case: len(case["hidden_size_list"]) == 2
                  and case["weight_decay_lambda"] > 0),
            Reach("an example the net gets wrong", lambda case: accuracy_of(case) < 1.0),
        ),
        notebook=notebook,
        program=program,
        expected=expected,
        torch_expected=torch_net,
        gradients=tuple(GradientCheck(f"grad_{k}", k, exact_loss) for k in ("W1", "b1", "W2", "b2")),
        checks=(
            Check("init", outputs=tuple(f"init_{k}" for k in ALL_KEYS), compare=judge_init,
                  description="__init__: W1..WL, b1..bL of the right shapes, zero biases, each W with the book's "
                              "scale (He sqrt(2/fan_in), Xavier sqrt(1/fan_in), or the number given)"),
            Check("predict", tol=PRODUCT_SUMS, description="scores: (Affine -> activation) per hidden layer -> Affine"),
            Check("loss", tol=BOOK_LOSS, description="SoftmaxWithLoss of the scores + 0.5 * lambda * sum(W**2)"),
            Check("accuracy", tol=COUNT_RATIO, description="fraction of argmax(scores) == t"),
            Check("gradient", outputs=tuple(f"grad_{k}" for k in ALL_KEYS), tol=NORMALISED_GRADIENTS, points=2.0,
                  compare=judge_grads("grad_"),
                  description="gradient(x, t) by backpropagation, lambda * W included, for every parameter"),
            Check("numerical_gradient", outputs=tuple(f"numgrad_{k}" for k in ALL_KEYS),
                  tol=NETWORK_NUMERICAL_GRADIENT, compare=judge_grads("numgrad_"),
                  description="numerical_gradient(x, t): central differences of loss (weight decay included)"),
        ),
        diagnoses=DIAGNOSES,
        read_only=("x", "t"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {CLASS: multi_layer_net_spec}


# ---------------------------------------------------------------- cases
def keys_of(case: Case) -> list[str]:
    return [f"{p}{i}" for i in range(1, len(case["hidden_size_list"]) + 2) for p in ("W", "b")]


def _hidden_inputs(case: Case) -> list[np.ndarray]:
    out, found = case["x"], []
    for i in range(1, len(case["hidden_size_list"]) + 1):
        out = out @ case[f"W{i}"] + case[f"b{i}"]
        found.append(out)
        out = np.maximum(out, 0.0) if case["activation"] == "relu" else D.sigmoid(out)
    return found


def scores_of(case: Case) -> np.ndarray:
    depth = len(case["hidden_size_list"]) + 1
    out = _hidden_inputs(case)[-1]
    out = np.maximum(out, 0.0) if case["activation"] == "relu" else D.sigmoid(out)
    return np.asarray(out @ case[f"W{depth}"] + case[f"b{depth}"])


def accuracy_of(case: Case) -> float:
    return float(np.mean(scores_of(case).argmax(axis=1) == case["t"]))


def valid_case(case: Case) -> bool:
    """ReLU inputs away from the kink, a unique highest score per example, true-class probabilities >= 5%."""
    scores = scores_of(case)
    ordered = np.sort(scores, axis=1)
    probabilities = D.softmax(scores)[np.arange(len(case["t"])), case["t"]]
    kinks = case["activation"] != "relu" or min(float(np.min(np.abs(h))) for h in _hidden_inputs(case)) >= KINK_MARGIN
    return kinks and float(np.min(ordered[:, -1] - ordered[:, -2])) >= 1e-3 and float(np.min(probabilities)) >= 0.05


def _build(rng: np.random.Generator, n: int, sizes: list[int], **options: Any) -> Case:
    case: Case = {"input_size": sizes[0], "hidden_size_list": sizes[1:-1], "output_size": sizes[-1], **options}
    for i in range(1, len(sizes)):
        case[f"W{i}"] = rng.standard_normal((sizes[i - 1], sizes[i])) / np.sqrt(sizes[i - 1])
        case[f"b{i}"] = 0.1 * rng.standard_normal(sizes[i])
    case["x"] = rng.standard_normal((n, sizes[0]))
    case["t"] = rng.integers(0, sizes[-1], size=n)
    return case


@st.composite
def cases(draw: st.DrawFn) -> Case:
    sizes = [draw(st.integers(3, 7)), *draw(st.lists(st.integers(3, 6), min_size=1, max_size=MAX_LAYERS - 1)),
             draw(st.integers(2, 4))]
    n = draw(st.integers(2, 5))
    options = {"activation": draw(st.sampled_from(["relu", "sigmoid"])),
               "weight_init_std": draw(st.sampled_from(INIT_OPTIONS)),
               "weight_decay_lambda": draw(st.sampled_from([0.0, 0.1, 1.0]))}
    return draw(S.seeded_until(lambda rng: _build(rng, n, sizes, **options), valid_case, tries=256))


def notebook() -> list[NamedCase]:
    """Chapter 6's weight-decay experiment in miniature: 8-6-5-3, ReLU, He init, lambda 0.1, then sigmoid with
    Xavier init and no decay."""
    found = []
    for activation, init, decay in (("relu", "relu", 0.1), ("sigmoid", "xavier", 0.0)):
        rng = np.random.default_rng(6)
        for _ in range(256):
            case = _build(rng, 4, [8, 6, 5, 3], activation=activation, weight_init_std=init,
                          weight_decay_lambda=decay)
            if valid_case(case):
                found.append(NamedCase(f"an 8-6-5-3 net, {activation}, weight_init_std {init!r}, "
                                       f"weight_decay_lambda {decay} on 4 examples (seed 6)", case))
                break
        else:  # pragma: no cover - the seed is fixed
            raise RuntimeError("no valid notebook MultiLayerNet case")
    return found


# ---------------------------------------------------------------- program, reference, torch
def program(case: Case) -> Program:
    d, hidden, c = INIT_SIZES
    init = initial_params(MODULE, CLASS, keys=ALL_KEYS, ctor={
        "input_size": Const(d), "hidden_size_list": Const(list(hidden)), "output_size": Const(c),
        "activation": Input("activation"), "weight_init_std": Input("weight_init_std")})
    ctor: dict[str, Expr] = {k: Input(k) for k in ("input_size", "hidden_size_list", "output_size", "activation",
                                                   "weight_init_std", "weight_decay_lambda")}
    x, t = Input("x"), Input("t")
    outputs: dict[str, Expr] = {"predict": Result("scores"), "loss": Result("loss"), "accuracy": Result("acc")}
    outputs.update({f"grad_{k}": _item("grads", k) for k in keys_of(case)})
    outputs.update({f"numgrad_{k}": _item("numerical", k) for k in keys_of(case)})
    net = net_program(MODULE, CLASS, ctor=ctor, params=keys_of(case), calls=(
        ("scores", "predict", (x,)), ("loss", "loss", (x, t)), ("acc", "accuracy", (x, t)),
        ("grads", "gradient", (x, t)), ("numerical", "numerical_gradient", (x, t))), outputs=outputs)
    return merged([init, net])


def _item(result: str, key: str) -> Expr:
    return Item(Result(result), key)


def reference_net(case: Case) -> MultiLayerNet:
    net = MultiLayerNet(case["input_size"], list(case["hidden_size_list"]), case["output_size"],
                        activation=case["activation"], weight_init_std=case["weight_init_std"],
                        weight_decay_lambda=case["weight_decay_lambda"], rng=np.random.default_rng(0))
    for k in keys_of(case):
        net.params[k][...] = case[k]
    return net


def expected(case: Case) -> dict[str, Any]:
    d, hidden, c = INIT_SIZES
    init = MultiLayerNet(d, list(hidden), c, activation=case["activation"], weight_init_std=case["weight_init_std"],
                         rng=np.random.default_rng(0))
    net = reference_net(case)
    result: dict[str, Any] = {f"init_{k}": v for k, v in init.params.items()}
    result.update(predict=net.predict(case["x"]), loss=net.loss(case["x"], case["t"]),
                  accuracy=net.accuracy(case["x"], case["t"]))
    result.update({f"grad_{k}": v for k, v in net.gradient(case["x"], case["t"]).items()})
    result.update({f"numgrad_{k}": v for k, v in net.numerical_gradient(case["x"], case["t"], BOOK_H).items()})
    return result


def exact_loss(case: Case) -> float:
    """The loss without the book's 1e-7 in the log (what backpropagation differentiates), weight decay included."""
    decay = sum(float(np.sum(case[k] ** 2)) for k in keys_of(case) if k.startswith("W"))
    return exact_softmax_loss(scores_of(case), case["t"])[0] + 0.5 * case["weight_decay_lambda"] * decay


def torch_net(case: Case) -> dict[str, Any]:
    """The same network by torch autograd in float64 (cross-entropy without the 1e-7: within BOOK_LOSS)."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    params = {k: torch.tensor(case[k], requires_grad=True) for k in keys_of(case)}
    out = torch.tensor(case["x"])
    depth = len(case["hidden_size_list"]) + 1
    for i in range(1, depth + 1):
        out = out @ params[f"W{i}"] + params[f"b{i}"]
        if i < depth:
            out = torch.relu(out) if case["activation"] == "relu" else torch.sigmoid(out)
    labels = torch.tensor(case["t"])
    loss = F.cross_entropy(out, labels) + 0.5 * case["weight_decay_lambda"] * sum(
        (params[f"W{i}"] ** 2).sum() for i in range(1, depth + 1))
    loss.backward()
    result: dict[str, Any] = {"predict": out.detach().numpy(), "loss": float(loss.item()),
                              "accuracy": float((out.argmax(dim=1) == labels).double().mean().item())}
    for k, tensor in params.items():
        assert tensor.grad is not None
        result[f"grad_{k}"] = tensor.grad.numpy()
    return result


# ---------------------------------------------------------------- rules
def judge_grads(prefix: str) -> Callable[[Case, Outputs, Outputs, Check], Verdict]:
    """Every parameter's gradient the reference has (their number depends on the depth)."""

    def rule(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
        for key in (k for k in expected if k.startswith(prefix)):
            if actual.get(key) is None:
                return Verdict(False, f"the returned dict has no entry {key[len(prefix):]!r}")
            verdict = compare_arrays(key, actual[key], expected[key], check.atol, check.rtol)
            if not verdict.passed:
                return verdict
        return Verdict(True)

    return rule


def judge_init(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
    """Names and shapes as the reference's, zero biases, each weight's standard deviation within INIT_SCALE_RTOL
    of the book's scale for its fan-in."""
    for key in sorted(k for k in expected if k.startswith("init_")):
        name, want = key[len("init_"):], np.asarray(expected[key])
        if actual.get(key) is None:
            return Verdict(False, f"__init__ made no self.params[{name!r}]")
        value = array_of_shape(actual, key, want.shape)
        if isinstance(value, Verdict):
            return Verdict(False, f"__init__: self.params[{name!r}]: " + value.message.removeprefix(key + " "))
        if name.startswith("b") and np.any(value != 0):
            return Verdict(False, f"__init__: self.params[{name!r}] should start as zeros")
        if name.startswith("W"):
            scale = init_scale(case["weight_init_std"], want.shape[0])
            std = float(np.std(value))
            if abs(std - scale) > INIT_SCALE_RTOL * scale:
                return Verdict(False, f"__init__: self.params[{name!r}] has standard deviation {std:.4g}, expected "
                                      f"{scale:.4g} for weight_init_std={case['weight_init_std']!r} and fan-in "
                                      f"{want.shape[0]}")
    return Verdict(True)


# ---------------------------------------------------------------- bugs
def _decay_variant(case: Case, *, loss_factor: float = 0.0, grad_factor: float = 0.0) -> dict[str, Any] | None:
    """The reference's loss and weight gradients with a weight-decay slip; None where lambda is 0."""
    lam = float(case["weight_decay_lambda"])
    if lam == 0:
        return None
    right = expected(case)
    weights = [k for k in keys_of(case) if k.startswith("W")]
    decay = 0.5 * lam * sum(float(np.sum(case[w] ** 2)) for w in weights)
    result: dict[str, Any] = {"loss": right["loss"] + loss_factor * decay}
    result.update({f"grad_{w}": right[f"grad_{w}"] + grad_factor * lam * case[w] for w in weights})
    return result


def _init_variant(case: Case, scale: Callable[[str | float, int, int], float]) -> dict[str, Any] | None:
    """Weights whose spread follows ``scale(option, fan_in, fan_out)`` (the diagnosis compares spreads only)."""
    d, hidden, c = INIT_SIZES
    sizes = [d, *hidden, c]
    return {f"init_W{i}": scale(case["weight_init_std"], sizes[i - 1], sizes[i]) for i in range(1, len(sizes))}


def _spreads_match(variant: Callable[[Case], dict[str, Any] | None]) -> Callable[[Sequence[CaseRun]], bool]:
    """Every failing init run's weight spreads within 5% of the variant's (and the variant differs)."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        seen = False
        for run in runs:
            if not run.failed_on("init"):
                continue
            want = variant(run.case)
            if want is None:
                continue
            right = [init_scale(run.case["weight_init_std"], np.shape(run.expected[k])[0]) for k in want]
            if np.allclose(list(want.values()), right, rtol=0.05):
                continue
            for key, scale in want.items():
                value = run.actual.get(key)
                if value is None or np.ndim(value) != 2 or abs(float(np.std(value)) - scale) > 0.05 * scale:
                    return False
            seen = True
        return seen

    return applies


def _swapped_scale(option: str | float, fan_in: int, fan_out: int) -> float:
    name = str(option).lower()
    if name in ("relu", "he"):
        return float(np.sqrt(1.0 / fan_in))
    if name in ("sigmoid", "xavier"):
        return float(np.sqrt(2.0 / fan_in))
    return float(option)


def _fan_out_scale(option: str | float, fan_in: int, fan_out: int) -> float:
    return init_scale(option, fan_out)


DIAGNOSES = (
    variant_diagnosis(
        "weight decay missing from gradient",
        "gradient leaves out the weight decay: loss adds 0.5 * lambda * sum(W**2), so each grads['W...'] needs "
        "+ weight_decay_lambda * W (the book's early printings forgot it).",
        lambda case: _decay_variant(case, grad_factor=-1.0), ("grad_W1", "grad_W2"), ("gradient",)),
    variant_diagnosis(
        "weight decay without the 0.5",
        "The loss adds weight_decay_lambda * sum(W**2): the book's weight decay is 0.5 * lambda * sum(W**2), whose "
        "gradient is lambda * W.",
        lambda case: _decay_variant(case, loss_factor=1.0), ("loss",), ("loss",)),
    variant_diagnosis(
        "weight decay missing from loss",
        "loss leaves out the weight decay: add 0.5 * weight_decay_lambda * np.sum(W**2) for every weight matrix.",
        lambda case: _decay_variant(case, loss_factor=-1.0), ("loss",), ("loss",)),
    Diagnosis(
        "He and Xavier swapped",
        "The initial scales are swapped: 'relu'/'he' is He's sqrt(2 / fan_in), 'sigmoid'/'xavier' sqrt(1 / fan_in).",
        _spreads_match(lambda case: _init_variant(case, _swapped_scale)), reads=tuple(f"init_{k}" for k in ALL_KEYS)),
    Diagnosis(
        "fan-out instead of fan-in",
        "The initial scale uses the layer's output size: the book divides by the number of inputs of the layer "
        "(the previous layer's size), sqrt(2 / n_in) or sqrt(1 / n_in).",
        _spreads_match(lambda case: _init_variant(case, _fan_out_scale)), reads=tuple(f"init_{k}" for k in ALL_KEYS)),
)
