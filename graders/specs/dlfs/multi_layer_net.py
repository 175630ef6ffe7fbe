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
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, NamedCase, Reach, Spec
from graders.specs.dlfs.common import (
    BOOK_SPREAD,
    DENSE_INIT_SIZES,
    KINK_MARGIN,
    WEIGHT_INIT_OPTIONS,
    book_net_program,
    book_net_results,
    dense_case,
    dense_keys,
    dense_scores,
    exact_dense_loss,
    gradient_checks,
    hidden_inputs,
    torch_dense,
    weight_decay,
)
from graders.specs.kit.cases import first_valid
from graders.specs.kit.detectors import variant_diagnosis
from graders.specs.kit.networks import InitRule, write_params
from graders.specs.kit.programs import initial_params
from graders.specs.kit.tolerances import (
    BOOK_LOSS,
    COUNT_RATIO,
    PRODUCT_SUMS,
)
from graders.specs.kit.torch import leaf_grads
from graders.specs.program import Const, Expr, Input, Program
from reference import dlfs as D
from reference.multi_layer_net import MultiLayerNet, init_scale

MODULE = "multi_layer_net"
CLASS = "MultiLayerNet"
MAX_LAYERS = 3
ALL_KEYS = tuple(dense_keys(MAX_LAYERS))


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
        gradients=tuple(GradientCheck(f"grad_{k}", k, exact_dense_loss) for k in ("W1", "b1", "W2", "b2")),
        checks=(
            Check("init", outputs=tuple(f"init_{k}" for k in ALL_KEYS), compare=InitRule(spread=BOOK_SPREAD),
                  description="__init__: W1..WL, b1..bL of the right shapes, zero biases, each W with the book's "
                              "scale (He sqrt(2/fan_in), Xavier sqrt(1/fan_in), or the number given)"),
            Check("predict", tol=PRODUCT_SUMS, description="scores: (Affine -> activation) per hidden layer -> Affine"),
            Check("loss", tol=BOOK_LOSS, description="SoftmaxWithLoss of the scores + 0.5 * lambda * sum(W**2)"),
            Check("accuracy", tol=COUNT_RATIO, description="fraction of argmax(scores) == t"),
            *gradient_checks(ALL_KEYS, None,
                             gradient="gradient(x, t) by backpropagation, lambda * W included, for every parameter",
                             numerical="numerical_gradient(x, t): central differences of loss (weight decay "
                                       "included)"),
        ),
        diagnoses=DIAGNOSES,
        read_only=("x", "t"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {CLASS: multi_layer_net_spec}


# ---------------------------------------------------------------- cases
def keys_of(case: Case) -> list[str]:
    return dense_keys(len(case["hidden_size_list"]) + 1)


def scores_of(case: Case) -> np.ndarray:
    return dense_scores(case)


def accuracy_of(case: Case) -> float:
    return float(np.mean(scores_of(case).argmax(axis=1) == case["t"]))


def valid_case(case: Case) -> bool:
    """ReLU inputs away from the kink, a unique highest score per example, true-class probabilities >= 5%."""
    scores = scores_of(case)
    ordered = np.sort(scores, axis=1)
    probabilities = D.softmax(scores)[np.arange(len(case["t"])), case["t"]]
    kinks = case["activation"] != "relu" or min(float(np.min(np.abs(h))) for h in hidden_inputs(case)) >= KINK_MARGIN
    return kinks and float(np.min(ordered[:, -1] - ordered[:, -2])) >= 1e-3 and float(np.min(probabilities)) >= 0.05


@st.composite
def cases(draw: st.DrawFn) -> Case:
    sizes = [draw(st.integers(3, 7)), *draw(st.lists(st.integers(3, 6), min_size=1, max_size=MAX_LAYERS - 1)),
             draw(st.integers(2, 4))]
    n = draw(st.integers(2, 5))
    options: dict[str, Any] = {"activation": draw(st.sampled_from(["relu", "sigmoid"])),
                               "weight_init_std": draw(st.sampled_from(WEIGHT_INIT_OPTIONS)),
                               "weight_decay_lambda": draw(st.sampled_from([0.0, 0.1, 1.0]))}
    return draw(S.seeded_until(lambda rng: dense_case(rng, n, sizes, **options), valid_case, tries=256))


def notebook() -> list[NamedCase]:
    """Chapter 6's weight-decay experiment in miniature: 8-6-5-3, ReLU, He init, lambda 0.1, then sigmoid with
    Xavier init and no decay."""
    found = []
    for activation, init, decay in (("relu", "relu", 0.1), ("sigmoid", "xavier", 0.0)):
        build = partial(dense_case, n=4, sizes=[8, 6, 5, 3], activation=activation, weight_init_std=init,
                        weight_decay_lambda=decay)
        case = first_valid(6, build, valid_case, CLASS)
        found.append(NamedCase(f"an 8-6-5-3 net, {activation}, weight_init_std {init!r}, weight_decay_lambda "
                               f"{decay} on 4 examples (seed 6)", case))
    return found


# ---------------------------------------------------------------- program, reference, torch
def program(case: Case) -> Program:
    d, hidden, c = DENSE_INIT_SIZES
    init = initial_params(MODULE, CLASS, keys=ALL_KEYS, ctor={
        "input_size": Const(d), "hidden_size_list": Const(list(hidden)), "output_size": Const(c),
        "activation": Input("activation"), "weight_init_std": Input("weight_init_std")})
    ctor: dict[str, Expr] = {k: Input(k) for k in ("input_size", "hidden_size_list", "output_size", "activation",
                                                   "weight_init_std", "weight_decay_lambda")}
    return book_net_program(MODULE, CLASS, init=init, ctor=ctor, params=keys_of(case))


def reference_net(case: Case) -> MultiLayerNet:
    net = MultiLayerNet(case["input_size"], list(case["hidden_size_list"]), case["output_size"],
                        activation=case["activation"], weight_init_std=case["weight_init_std"],
                        weight_decay_lambda=case["weight_decay_lambda"], rng=np.random.default_rng(0))
    return write_params(net, case, keys_of(case), in_place=True)


def expected(case: Case) -> dict[str, Any]:
    d, hidden, c = DENSE_INIT_SIZES
    init = MultiLayerNet(d, list(hidden), c, activation=case["activation"], weight_init_std=case["weight_init_std"],
                         rng=np.random.default_rng(0))
    return book_net_results(init, reference_net(case), case["x"], case["t"])


def torch_net(case: Case) -> dict[str, Any]:
    """The same network by torch autograd in float64 (cross-entropy without the 1e-7: within BOOK_LOSS)."""
    out, loss, params = torch_dense(case, keys_of(case))
    predicted = out.argmax(dim=1).numpy()
    return {"predict": out.detach().numpy(), "loss": float(loss.item()),
            "accuracy": float(np.mean(predicted == case["t"])), **leaf_grads(params)}


# ---------------------------------------------------------------- bugs
def _decay_variant(case: Case, *, loss_factor: float = 0.0, grad_factor: float = 0.0) -> dict[str, Any] | None:
    """The reference's loss and weight gradients with a weight-decay slip; None where lambda is 0."""
    lam = float(case["weight_decay_lambda"])
    if lam == 0:
        return None
    right = expected(case)
    weights = [k for k in keys_of(case) if k.startswith("W")]
    decay = weight_decay(case)
    result: dict[str, Any] = {"loss": right["loss"] + loss_factor * decay}
    result.update({f"grad_{w}": right[f"grad_{w}"] + grad_factor * lam * case[w] for w in weights})
    return result


def _init_variant(case: Case, scale: Callable[[str | float, int, int], float]) -> dict[str, Any] | None:
    """Weights whose spread follows ``scale(option, fan_in, fan_out)`` (the diagnosis compares spreads only)."""
    d, hidden, c = DENSE_INIT_SIZES
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


#: Each of the book's names for He's scale, and for Xavier's, taken for the other.
SWAPPED = {"relu": "xavier", "he": "xavier", "sigmoid": "he", "xavier": "he"}


def _swapped_scale(option: str | float, fan_in: int, fan_out: int) -> float:
    return init_scale(SWAPPED.get(str(option).lower(), option), fan_in)


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
