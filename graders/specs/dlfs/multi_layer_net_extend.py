"""Spec of the book's ``MultiLayerNetExtend`` (ch. 6, ``common/multi_layer_net_extend.py``): MultiLayerNet with
batch normalisation (``use_batchnorm``) and dropout (``use_dropout``, ``dropout_ration``), through its public
methods.

The constructor is called with positional arguments in the book's order (input_size, hidden_size_list,
output_size, activation, weight_init_std, weight_decay_lambda, use_dropout, dropout_ration, use_batchnorm), and
``predict``/``loss`` get ``train_flg`` positionally too: the book spells the dropout argument ``dropout_ration``,
and a student who corrected the typo is as right. The case's parameters (W, b, and gamma, beta with batch norm)
are written into ``net.params`` in place (the book's layers hold the same arrays).

How train mode is judged, and why dropout is not part of it. In train mode a dropout layer draws a random mask
inside the student's code; a correct mask may come from ``np.random.rand``, ``np.random.binomial`` or a
Generator of the student's own, so no mask the grader could fix is the one a correct submission draws, and the
book's own ``numerical_gradient`` redraws the masks on every loss call (it differentiates no single function).
A self-consistency rule (backpropagation against finite differences of the student's loss under the same mask)
would need the mask to stay fixed between calls, which holds only for masks drawn from NumPy's global state
re-seeded before each call: it would judge book-style code and fail a correct private Generator. So:

* train mode (``predict(x, True)``, ``loss(x, t, True)``, ``gradient``, ``numerical_gradient``) is judged on a net
  built with ``use_dropout=False``, batch norm on or off, in full against the reference: gamma, beta, batch
  statistics, weight decay;
* dropout is judged in test mode, on a net built with the case's ``use_dropout=True``: predict, loss and
  accuracy, where every hidden layer's output is scaled by ``1 - dropout_ration`` (the book's not inverted
  dropout) and ``train_flg=False`` must reach each dropout layer. The Dropout layer's train mode is graded by the
  Dropout spec's statistical rules, which need tens of thousands of units, not a hidden layer's handful.

Batch norm and dropout are not combined in one case (the book's chapter 6 scripts never do): a batch-norm
layer after a dropout layer would make the running statistics depend on the masks. With batch norm the net
gets exactly one ``predict(x, True)`` before the test-mode calls, so the running statistics have had one
update (momentum 0.9: ``0.1 * mean``, ``0.1 * var``) whatever else the student's methods do; the other
train-mode calls come after.

``__init__`` is judged on a second, larger net with batch norm: names and shapes, zero biases and betas, gammas
of ones, each weight's spread against He / Xavier as for MultiLayerNet.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, Check, GradientCheck, NamedCase, Outputs, Reach, Spec, Verdict
from graders.specs.dlfs.common import (
    BOOK_SPREAD,
    DENSE_INIT_SIZES,
    WEIGHT_INIT_OPTIONS,
    dense_case,
    dense_keys,
    exact_dense_loss,
    gradient_checks,
    gradient_results,
    hidden_inputs,
    torch_dense,
    weight_decay,
)
from graders.specs.kit.cases import first_valid
from graders.specs.kit.detectors import variant_diagnosis
from graders.specs.kit.networks import InitRule, write_params
from graders.specs.kit.programs import SUPPORT_MODULE
from graders.specs.kit.rules import compare_arrays
from graders.specs.kit.tolerances import (
    BOOK_LOSS,
    COUNT_RATIO,
    PRODUCT_SUMS,
)
from graders.specs.kit.torch import leaf_grads
from graders.specs.program import Assign, Attr, Call, Const, Expr, Input, Item, Program, Result, call, method
from reference import dlfs as D
from reference.layers import BOOK_BATCHNORM_EPS
from reference.multi_layer_net_extend import MultiLayerNetExtend

MODULE = "multi_layer_net_extend"
CLASS = "MultiLayerNetExtend"
MAX_HIDDEN = 2
INIT_KEYS = tuple(dense_keys(MAX_HIDDEN + 1, normalized=True))
ALL_KEYS = INIT_KEYS
#: The constructor's arguments in the book's order (passed positionally: see the module docstring).
CTOR = ("input_size", "hidden_size_list", "output_size", "activation", "weight_init_std", "weight_decay_lambda",
        "use_dropout", "dropout_ration", "use_batchnorm")
#: Smallest |ReLU input| in train mode: the book's h = 1e-4 moves a pre-activation by at most ~1e-3 (a batch-norm
#: output moves with its input over the batch's standard deviation).
KINK_MARGIN = 0.01
PROBABILITY_FLOOR = 0.05
TRAIN_OUTPUTS = ("predict_train", "loss_train")
TEST_OUTPUTS = ("predict", "loss", "accuracy")


def multi_layer_net_extend_spec() -> Spec:
    return Spec(
        name=CLASS,
        module=MODULE,
        api="class",
        convention="book: MultiLayerNetExtend(input_size, hidden_size_list, output_size, activation, "
                   "weight_init_std, weight_decay_lambda, use_dropout, dropout_ration, use_batchnorm); per hidden "
                   "layer Affine -> BatchNorm -> activation -> Dropout; predict/loss(..., train_flg); t labels; "
                   "train mode judged without dropout, dropout in test mode",
        builds_on=("Affine", "Relu", "Sigmoid", "BatchNormalization", "Dropout", "SoftmaxWithLoss",
                   "numerical_gradient"),
        domain=valid_case,
        cases=cases,
        reaches=(
            Reach("batch norm with two hidden layers", lambda case: case["use_batchnorm"]
                  and len(case["hidden_size_list"]) == 2),
            Reach("dropout with two hidden layers", lambda case: case["use_dropout"]
                  and len(case["hidden_size_list"]) == 2),
            Reach("batch norm with sigmoid and weight decay", lambda case: case["use_batchnorm"]
                  and case["activation"] == "sigmoid" and case["weight_decay_lambda"] > 0),
        ),
        notebook=notebook,
        program=program,
        expected=expected,
        torch_expected=torch_net,
        gradients=tuple(GradientCheck(f"grad_{k}", k, exact_train_loss) for k in ("W1", "b1", "W2", "b2")),
        checks=(
            Check("init", outputs=tuple(f"init_{k}" for k in INIT_KEYS), compare=JUDGE_INIT,
                  description="__init__ with use_batchnorm: W, b for every layer, gamma (ones) and beta (zeros) for "
                              "every hidden layer, each W with the book's scale"),
            Check("predict_train", tol=PRODUCT_SUMS,
                  description="predict(x, True) without dropout: batch statistics in every batch-norm layer"),
            Check("loss_train", tol=BOOK_LOSS, description="loss(x, t, True) without dropout, weight decay included"),
            *gradient_checks(ALL_KEYS, None,
                             gradient="gradient(x, t) without dropout: every W, b, gamma, beta (lambda * W included)",
                             numerical="numerical_gradient(x, t) without dropout: central differences of the "
                                       "train-mode loss"),
            Check("predict", tol=PRODUCT_SUMS, compare=judge_test_mode("predict"),
                  description="predict(x) in test mode: running statistics, dropout scaled by 1 - dropout_ration"),
            Check("loss", tol=BOOK_LOSS, compare=judge_test_mode("loss"), description="loss(x, t) in test mode"),
            Check("accuracy", tol=COUNT_RATIO, description="accuracy(x, t): test mode, fraction of argmax == t"),
        ),
        diagnoses=DIAGNOSES,
        read_only=("x", "t"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {CLASS: multi_layer_net_extend_spec}


# ---------------------------------------------------------------- cases
def keys_of(case: Case) -> list[str]:
    return dense_keys(len(case["hidden_size_list"]) + 1, normalized=case["use_batchnorm"])


def reference_net(case: Case, *, use_dropout: bool | None = None) -> MultiLayerNetExtend:
    dropout = case["use_dropout"] if use_dropout is None else use_dropout
    net = MultiLayerNetExtend(case["input_size"], list(case["hidden_size_list"]), case["output_size"],
                              case["activation"], case["weight_init_std"], case["weight_decay_lambda"], dropout,
                              case["dropout_ration"], case["use_batchnorm"], rng=np.random.default_rng(0))
    return write_params(net, case, keys_of(case), in_place=True)


def _test_scores(case: Case) -> np.ndarray:
    """predict(x) in test mode, after the one predict(x, True) a batch-norm net gets first."""
    net = reference_net(case)
    if case["use_batchnorm"]:
        net.predict(case["x"], True)
    return net.predict(case["x"])


def test_scores_by_hand(case: Case, *, eps_inside: bool = True) -> np.ndarray:
    """predict(x) of a batch-norm net in test mode after one predict(x, True), written out: the running averages
    are 0.1 times each layer's batch mean and variance. ``eps_inside=False``: test mode divides by sqrt(var) +
    eps, a form the BatchNormalization spec accepts (no hand-out says where eps goes in test mode)."""
    train, test = np.asarray(case["x"]), np.asarray(case["x"])
    depth = len(case["hidden_size_list"]) + 1
    for i in range(1, depth):
        a, b = train @ case[f"W{i}"] + case[f"b{i}"], test @ case[f"W{i}"] + case[f"b{i}"]
        mean, var = a.mean(axis=0), a.var(axis=0)
        train = case[f"gamma{i}"] * (a - mean) / np.sqrt(var + BOOK_BATCHNORM_EPS) + case[f"beta{i}"]
        scale = np.sqrt(0.1 * var + BOOK_BATCHNORM_EPS) if eps_inside else np.sqrt(0.1 * var) + BOOK_BATCHNORM_EPS
        test = case[f"gamma{i}"] * (b - 0.1 * mean) / scale + case[f"beta{i}"]
        activate = (lambda v: np.maximum(v, 0.0)) if case["activation"] == "relu" else D.sigmoid
        train, test = activate(train), activate(test)
    return np.asarray(test @ case[f"W{depth}"] + case[f"b{depth}"])


def valid_case(case: Case) -> bool:
    """Train-mode ReLU inputs away from the kink; true-class probabilities >= 5% in both modes; a unique highest
    test-mode score per example; batch norm on batches of at least 4."""
    if case["use_batchnorm"] and case["use_dropout"]:
        return False
    if case["use_batchnorm"] and len(case["t"]) < 4:
        return False
    pre_activations = hidden_inputs(case, batchnorm=case["use_batchnorm"])
    if case["activation"] == "relu" and min(float(np.min(np.abs(h))) for h in pre_activations) < KINK_MARGIN:
        return False
    rows = np.arange(len(case["t"]))
    for scores in (reference_net(case, use_dropout=False).predict(case["x"], True), _test_scores(case)):
        if float(np.min(D.softmax(scores)[rows, case["t"]])) < PROBABILITY_FLOOR:
            return False
    ordered = np.sort(_test_scores(case), axis=1)
    return float(np.min(ordered[:, -1] - ordered[:, -2])) >= 1e-3


def _build(rng: np.random.Generator, n: int, sizes: list[int], **options: Any) -> Case:
    return dense_case(rng, n, sizes, gamma_spread=0.2 if options["use_batchnorm"] else None, **options)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    sizes = [draw(st.integers(3, 6)), *draw(st.lists(st.integers(3, 5), min_size=1, max_size=MAX_HIDDEN)),
             draw(st.integers(2, 4))]
    variant = draw(st.sampled_from(["plain", "batchnorm", "dropout"]))
    n = draw(st.integers(4, 6) if variant == "batchnorm" else st.integers(2, 5))
    options = {"activation": draw(st.sampled_from(["relu", "sigmoid"])),
               "weight_init_std": draw(st.sampled_from(WEIGHT_INIT_OPTIONS)),
               "weight_decay_lambda": draw(st.sampled_from([0.0, 0.1])),
               "use_dropout": variant == "dropout", "dropout_ration": draw(st.sampled_from([0.15, 0.5])),
               "use_batchnorm": variant == "batchnorm"}
    return draw(S.seeded_until(lambda rng: _build(rng, n, sizes, **options), valid_case, tries=256))


def notebook() -> list[NamedCase]:
    """Chapter 6's batch-norm and dropout experiments in miniature: an 8-6-5-3 ReLU net on 5 examples (seed 6)."""
    found = []
    settings: tuple[tuple[str, dict[str, Any]], ...] = (
        ("batch norm", {"use_batchnorm": True, "use_dropout": False, "dropout_ration": 0.5,
                        "weight_decay_lambda": 0.0}),
        ("dropout_ration 0.15 and weight decay 0.1", {"use_batchnorm": False, "use_dropout": True,
                                                      "dropout_ration": 0.15, "weight_decay_lambda": 0.1}),
    )
    for label, options in settings:
        build = partial(_build, n=5, sizes=[8, 6, 5, 3], activation="relu", weight_init_std="he", **options)
        found.append(NamedCase(f"an 8-6-5-3 ReLU net with {label} on 5 examples (seed 6)",
                               first_valid(6, build, valid_case, CLASS)))
    return found


# ---------------------------------------------------------------- program, reference, torch
def _construct(id_: str, case: Case, *, use_dropout: Expr) -> list[Call | Assign]:
    """``id_ = cls(*book-order arguments)`` and the case's parameters written into ``id_.params`` in place."""
    args = [use_dropout if name == "use_dropout" else Input(name) for name in CTOR]
    net = Result(id_)
    return [call(id_, MODULE, CLASS, *args), *(Assign(Item(Attr(net, "params"), k), Input(k)) for k in keys_of(case))]


def program(case: Case) -> Program:
    d, hidden, c = DENSE_INIT_SIZES
    init_args = (Const(d), Const(list(hidden)), Const(c), Input("activation"), Input("weight_init_std"), Const(0),
                 Const(False), Const(0.5), Const(True))
    steps: list[Call | Assign] = [call("init", MODULE, CLASS, *init_args)]
    steps += [call(f"init_{k}", SUPPORT_MODULE, "snapshot", Attr(Result("init"), "params"), Const(k))
              for k in INIT_KEYS]
    x, t, train = Input("x"), Input("t"), Const(True)
    steps += _construct("net", case, use_dropout=Input("use_dropout"))
    net = Result("net")
    test_calls = [method("scores", net, "predict", x), method("test_loss", net, "loss", x, t),
                  method("acc", net, "accuracy", x, t)]
    if case["use_dropout"]:
        steps += test_calls
        steps += _construct("train_net", case, use_dropout=Const(False))
        net = Result("train_net")
        steps.append(method("train_scores", net, "predict", x, train))
    else:
        steps.append(method("train_scores", net, "predict", x, train))
        steps += test_calls
    steps += [method("train_loss", net, "loss", x, t, train), method("grads", net, "gradient", x, t),
              method("numerical", net, "numerical_gradient", x, t)]
    outputs: dict[str, Expr] = {f"init_{k}": Result(f"init_{k}") for k in INIT_KEYS}
    outputs.update(predict_train=Result("train_scores"), loss_train=Result("train_loss"), predict=Result("scores"),
                   loss=Result("test_loss"), accuracy=Result("acc"))
    outputs.update({f"grad_{k}": Item(Result("grads"), k) for k in keys_of(case)})
    outputs.update({f"numgrad_{k}": Item(Result("numerical"), k) for k in keys_of(case)})
    return Program(steps=tuple(steps), outputs=outputs)


def expected(case: Case) -> dict[str, Any]:
    d, hidden, c = DENSE_INIT_SIZES
    init = MultiLayerNetExtend(d, list(hidden), c, case["activation"], case["weight_init_std"], 0, False, 0.5, True,
                               rng=np.random.default_rng(0))
    result: dict[str, Any] = {f"init_{k}": v for k, v in init.params.items()}
    x, t = case["x"], case["t"]
    net = reference_net(case)
    train = reference_net(case, use_dropout=False) if case["use_dropout"] else net
    result["predict_train"] = train.predict(x, True)
    result.update(predict=net.predict(x), loss=net.loss(x, t), accuracy=net.accuracy(x, t))
    if case["use_batchnorm"]:
        scores = test_scores_by_hand(case, eps_inside=False)
        result.update(predict_eps_outside=scores,
                      loss_eps_outside=float(D.cross_entropy_error(D.softmax(scores), t)) + weight_decay(case))
    result["loss_train"] = train.loss(x, t, True)
    result.update(gradient_results(train, x, t))
    return result


def exact_train_loss(case: Case) -> float:
    """The train-mode loss without dropout and without the book's 1e-7: what backpropagation differentiates."""
    return exact_dense_loss(case, batchnorm=case["use_batchnorm"])


def torch_net(case: Case) -> dict[str, Any]:
    """The train-mode net (no dropout) by torch autograd in float64: batch statistics with the biased variance and
    the book's eps, cross-entropy without the 1e-7 (within BOOK_LOSS), the weight decay."""
    out, loss, params = torch_dense(case, keys_of(case), batchnorm=case["use_batchnorm"])
    return {"predict_train": out.detach().numpy(), "loss_train": float(loss.item()), **leaf_grads(params)}


# ---------------------------------------------------------------- rules
def judge_test_mode(name: str) -> Callable[[Case, Outputs, Outputs, Check], Verdict]:
    """``name`` against the reference's, or, for a batch-norm net, against the same net whose test mode adds eps
    outside the square root (accepted, and remarked on, by the BatchNormalization spec)."""

    def rule(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
        verdict = compare_arrays(name, actual.get(name), expected[name], check.atol, check.rtol)
        variant = expected.get(f"{name}_eps_outside")
        if verdict.passed or variant is None:
            return verdict
        other = compare_arrays(name, actual.get(name), variant, check.atol, check.rtol)
        return other if other.passed else verdict

    return rule


#: Names and shapes as the reference's; zero biases and betas, gammas of ones; each weight's standard deviation
#: within INIT_SCALE_RTOL (dlfs/common.py) of the book's scale for its fan-in.
JUDGE_INIT = InitRule(names=INIT_KEYS, starts={"b": 0.0, "beta": 0.0, "gamma": 1.0},
                      spread=BOOK_SPREAD, made_no="__init__ (use_batchnorm=True) made no self.params[{name!r}]")


# ---------------------------------------------------------------- bugs
def _dropout_not_scaled(case: Case) -> dict[str, Any] | None:
    """Test mode with dropout passing every unit unchanged (as inverted dropout would)."""
    if not case["use_dropout"]:
        return None
    net = reference_net(case, use_dropout=False)
    return {"predict": net.predict(case["x"]), "loss": net.loss(case["x"], case["t"])}


def _batch_statistics_in_test_mode(case: Case) -> dict[str, Any] | None:
    """predict(x) and loss(x, t) with the batch-norm layers in train mode (train_flg not passed on)."""
    if not case["use_batchnorm"]:
        return None
    net = reference_net(case)
    return {"predict": net.predict(case["x"], True), "loss": net.loss(case["x"], case["t"], True)}


def _decay_left_out_of_gradient(case: Case) -> dict[str, Any] | None:
    lam = float(case["weight_decay_lambda"])
    if lam == 0:
        return None
    right = reference_net(case, use_dropout=False).gradient(case["x"], case["t"])
    depth = len(case["hidden_size_list"]) + 1
    return {f"grad_W{i}": right[f"W{i}"] - lam * case[f"W{i}"] for i in range(1, depth + 1)}


DIAGNOSES = (
    variant_diagnosis(
        "dropout not scaled in test mode",
        "In test mode (train_flg=False) the book's Dropout multiplies every unit by 1 - dropout_ratio: the "
        "predictions match a net whose dropout passes the units unchanged in test mode (right only for inverted "
        "dropout, which scales in train mode instead).",
        _dropout_not_scaled, ("predict", "loss"), ("predict", "loss")),
    variant_diagnosis(
        "batch statistics in test mode",
        "In test mode batch norm must use its running averages: predict(x) matches the net with batch statistics, "
        "so train_flg does not reach the BatchNormalization layers (pass it to every BatchNorm and Dropout layer's "
        "forward).",
        _batch_statistics_in_test_mode, ("predict", "loss"), ("predict", "loss")),
    variant_diagnosis(
        "weight decay missing from gradient",
        "gradient leaves out the weight decay: loss adds 0.5 * lambda * sum(W**2), so each grads['W...'] needs "
        "+ weight_decay_lambda * W.",
        _decay_left_out_of_gradient, ("grad_W1", "grad_W2"), ("gradient",)),
)
