"""Spec of the book's ``SimpleConvNet`` (ch. 7, ``ch07/simple_convnet.py``), through its public methods.

A case builds the net with the book's arguments (``input_dim``, ``conv_param``, ``hidden_size``, ``output_size``,
``weight_init_std``), writes the case's W1, b1, W2, b2, W3, b3 into ``net.params`` in place (the book's layers
hold the same arrays), then calls predict, loss, accuracy, gradient and numerical_gradient (last: it perturbs the
parameters). ``t`` holds labels, as chapter 7's train_convnet.py loads MNIST.

What the cases keep to, and why:

* Square inputs and an even convolution output: the book sizes W2 from ``input_dim[1]`` alone and as
  ``int(filter_num * (conv_out / 2) * (conv_out / 2))``, so other inputs would fail the book's own code.
* ``accuracy(x, t)`` is called on its own batch of 100 or 200 examples (inputs ``x_acc``, ``t_acc``): the book's
  loop runs ``int(N / batch_size)`` chunks of its default ``batch_size=100``, so it returns 0 below 100 examples
  and leaves out a remainder; a multiple of 100 is where the book's code and a plain mean agree. Two chunks
  tell a loop that counts every chunk from one that keeps only the first.
* Tiny nets (up to 3 images of 2 x 8 x 8, 3 filters, 5 hidden units): numerical_gradient calls loss twice per
  parameter, a few hundred times, through the student's own (often loop-based) im2col.
* Every ReLU input at least KINK_MARGIN from 0 and every positive 2x2 pool maximum that far above its
  runner-up: the book's h = 1e-4 moves them by at most ~5e-4, so the loss is smooth where it is differenced,
  and true-class probabilities of at least 5% (the book's 1e-7 in the log then moves the loss by < 2e-6).

Checks: ``__init__`` on a second net (input (3, 13, 13), 8 filters of 5x5, pad 1, stride 2, 60 hidden units,
10 classes: W2's rows depend on pad and stride, and each weight has at least 600 entries, so 15% on its spread
is more than 5 standard errors), predict, loss, accuracy, gradient (backpropagation) against the reference, and
numerical_gradient against the reference's central differences. The network's layers are exact on this domain,
so no second chance by finite differences of the student's own loss is needed (as for ThreeLayerConvNet).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, NamedCase, Reach, Spec
from graders.specs.dlfs.common import book_net_program, book_net_results, gradient_checks
from graders.specs.kit.cases import first_valid
from graders.specs.kit.detectors import every_failing, scaled_diagnosis, variant_diagnosis
from graders.specs.kit.networks import InitRule, conv_net_params, scale_argument, write_params
from graders.specs.kit.programs import initial_params
from graders.specs.kit.tolerances import (
    BOOK_LOSS,
    COUNT_RATIO,
    PRODUCT_SUMS,
)
from graders.specs.kit.torch import leaf_grads, torch_one_thread
from graders.specs.kit.windows import relu_pool_clear
from graders.specs.program import Const, Expr, Input, Program
from reference import dlfs as D
from reference.functional.losses import softmax_loss as exact_softmax_loss
from reference.simple_convnet import SimpleConvNet

MODULE = "simple_convnet"
CLASS = "SimpleConvNet"
PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
#: The net __init__ is judged on (see the module docstring).
INIT_INPUT = (3, 13, 13)
INIT_CONV = {"filter_num": 8, "filter_size": 5, "pad": 1, "stride": 2}
INIT_HIDDEN, INIT_CLASSES = 60, 10
INIT_SCALE_RTOL = 0.15
#: Smallest |ReLU input| and smallest win of a positive pool maximum (h = 1e-4 times inputs of up to ~5).
KINK_MARGIN = 0.01
PROBABILITY_FLOOR = 0.05
#: The book's accuracy chunk (its default batch_size): accuracy batches are multiples of it.
ACCURACY_CHUNK = 100


def simple_convnet_spec() -> Spec:
    return Spec(
        name=CLASS,
        module=MODULE,
        api="class",
        convention="book: SimpleConvNet(input_dim=(C, H, W), conv_param={'filter_num', 'filter_size', 'pad', "
                   "'stride'}, hidden_size, output_size, weight_init_std); Conv1 - Relu1 - Pool1 (2x2, stride 2) - "
                   "Affine1 - Relu2 - Affine2 - SoftmaxWithLoss; t labels; accuracy on 100 or 200 examples",
        builds_on=("Convolution", "Pooling", "Relu", "Affine", "SoftmaxWithLoss", "im2col", "col2im",
                   "numerical_gradient"),
        domain=valid_case,
        cases=cases,
        reaches=(
            Reach("padded convolution", lambda case: case["conv_param"]["pad"] > 0),
            Reach("stride 2", lambda case: case["conv_param"]["stride"] == 2),
            Reach("two input channels and two filters", lambda case: case["input_dim"][0] == 2
                  and case["conv_param"]["filter_num"] >= 2),
            Reach("accuracy over two chunks of 100", lambda case: len(case["t_acc"]) == 2 * ACCURACY_CHUNK),
        ),
        notebook=notebook,
        program=program,
        expected=expected,
        torch_expected=torch_net,
        gradients=tuple(GradientCheck(f"grad_{k}", k, exact_loss) for k in PARAMS),
        checks=(
            Check("init", outputs=tuple(f"init_{k}" for k in PARAMS), compare=JUDGE_INIT,
                  description="__init__: W1 (FN, C, FH, FW), b1, W2 (FN * (conv_out / 2)**2, hidden), b2, W3, b3; "
                              "zero biases, weights with std weight_init_std"),
            Check("predict", tol=PRODUCT_SUMS, description="scores: Conv1 -> Relu1 -> Pool1 -> Affine1 -> Relu2 -> "
                                                           "Affine2"),
            Check("loss", tol=BOOK_LOSS, description="SoftmaxWithLoss of the scores"),
            Check("accuracy", tol=COUNT_RATIO,
                  description="accuracy(x, t) on 100 or 200 examples: fraction of argmax(scores) == t"),
            *gradient_checks(PARAMS, PARAMS, gradient="gradient(x, t) by backpropagation, every parameter",
                             numerical="numerical_gradient(x, t): central differences of loss for every parameter"),
        ),
        diagnoses=DIAGNOSES,
        read_only=("x", "t", "x_acc", "t_acc"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {CLASS: simple_convnet_spec}


# ---------------------------------------------------------------- cases
def _conv(case: Case) -> np.ndarray:
    p = case["conv_param"]
    return np.asarray(D.Convolution(case["W1"], case["b1"], p["stride"], p["pad"]).forward(case["x"]))


def _pooled(conv: np.ndarray) -> np.ndarray:
    return np.asarray(D.Pooling(2, 2, stride=2).forward(np.maximum(conv, 0.0)))


def scores_of(case: Case, x: np.ndarray) -> np.ndarray:
    pooled = _pooled(_conv({**case, "x": x}))
    hidden = np.maximum(pooled.reshape(len(x), -1) @ case["W2"] + case["b2"], 0.0)
    return np.asarray(hidden @ case["W3"] + case["b3"])


def valid_case(case: Case) -> bool:
    """ReLU inputs and pool maxima clear of their kinks on ``x``; true-class probabilities >= 5%; a unique
    highest score (by 1e-3) for every example of ``x`` and of the accuracy batch."""
    conv = _conv(case)
    if float(np.min(np.abs(conv))) < KINK_MARGIN or not relu_pool_clear(np.maximum(conv, 0.0), KINK_MARGIN):
        return False
    pooled = _pooled(conv)
    if float(np.min(np.abs(pooled.reshape(len(pooled), -1) @ case["W2"] + case["b2"]))) < KINK_MARGIN:
        return False
    scores = scores_of(case, case["x"])
    if float(np.min(D.softmax(scores)[np.arange(len(case["t"])), case["t"]])) < PROBABILITY_FLOOR:
        return False
    for s in (scores, scores_of(case, case["x_acc"])):
        ordered = np.sort(s, axis=1)
        if float(np.min(ordered[:, -1] - ordered[:, -2])) < 1e-3:
            return False
    return True


def _build(rng: np.random.Generator, *, n: int, n_acc: int, channels: int, conv_out: int, hidden: int,
           classes: int, conv_param: dict[str, int], weight_init_std: float, uniform: bool = False) -> Case:
    fn, fs, pad, stride = (conv_param[k] for k in ("filter_num", "filter_size", "pad", "stride"))
    size = (conv_out - 1) * stride + fs - 2 * pad
    pooled = fn * (conv_out // 2) ** 2

    def images(count: int) -> np.ndarray:
        shape = (count, channels, size, size)
        return rng.uniform(0.0, 1.0, shape) if uniform else rng.standard_normal(shape)

    return {
        "input_dim": [channels, size, size], "conv_param": dict(conv_param), "hidden_size": hidden,
        "output_size": classes, "weight_init_std": weight_init_std,
        **conv_net_params(rng, filters=fn, channels=channels, filter_size=fs, pooled=pooled, hidden=hidden,
                          classes=classes),
        "x": images(n), "t": rng.integers(0, classes, size=n),
        "x_acc": images(n_acc), "t_acc": rng.integers(0, classes, size=n_acc),
    }


@st.composite
def cases(draw: st.DrawFn) -> Case:
    fs, pad, stride = draw(st.sampled_from([2, 3])), draw(st.integers(0, 1)), draw(st.integers(1, 2))
    conv_out = draw(st.sampled_from([2, 4]))
    if (conv_out - 1) * stride + fs - 2 * pad < fs:  # an input smaller than its filter: widen the conv output
        conv_out = 4
    options: dict[str, Any] = {
        "n": draw(st.integers(1, 3)), "n_acc": draw(st.sampled_from([ACCURACY_CHUNK, 2 * ACCURACY_CHUNK])),
        "channels": draw(st.integers(1, 2)), "conv_out": conv_out, "hidden": draw(st.integers(2, 5)),
        "classes": draw(st.integers(2, 4)),
        "conv_param": {"filter_num": draw(st.integers(1, 3)), "filter_size": fs, "pad": pad, "stride": stride},
        "weight_init_std": draw(st.sampled_from([0.01, 0.1, 1.0])),
    }
    return draw(S.seeded_until(lambda rng: _build(rng, **options), valid_case, tries=256))


def notebook() -> list[NamedCase]:
    """Chapter 7's gradient check (one 1 x 10 x 10 image of np.random.rand, 10 filters 3x3) in miniature, then
    padding and stride 2 on two channels."""
    found = []
    settings: tuple[tuple[str, dict[str, Any]], ...] = (
        ("book ch. 7's gradient check in miniature: 2 images (1, 8, 8) of uniform pixels, 3 filters 3x3, "
         "5 hidden units, 4 classes (seed 7)",
         {"n": 2, "channels": 1, "conv_out": 6, "hidden": 5, "classes": 4, "uniform": True,
          "conv_param": {"filter_num": 3, "filter_size": 3, "pad": 0, "stride": 1}}),
        ("2 images (2, 7, 7), 2 filters 3x3 with pad 1 and stride 2, 4 hidden units, 3 classes (seed 7)",
         {"n": 2, "channels": 2, "conv_out": 4, "hidden": 4, "classes": 3,
          "conv_param": {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 2}}),
    )
    for label, options in settings:
        build = partial(_build, n_acc=2 * ACCURACY_CHUNK, weight_init_std=0.01, **options)
        found.append(NamedCase(label, first_valid(7, build, valid_case, CLASS)))
    return found


# ---------------------------------------------------------------- program, reference, torch
def _ctor(case: Case) -> dict[str, Expr]:
    return {k: Input(k) for k in ("input_dim", "conv_param", "hidden_size", "output_size", "weight_init_std")}


def program(case: Case) -> Program:
    init = initial_params(MODULE, CLASS, keys=PARAMS, ctor={
        "input_dim": Const(list(INIT_INPUT)), "conv_param": Const(dict(INIT_CONV)),
        "hidden_size": Const(INIT_HIDDEN), "output_size": Const(INIT_CLASSES),
        "weight_init_std": Input("weight_init_std")})
    return book_net_program(MODULE, CLASS, init=init, ctor=_ctor(case), params=PARAMS, accuracy=("x_acc", "t_acc"))


def reference_net(case: Case) -> SimpleConvNet:
    net = SimpleConvNet(case["input_dim"], case["conv_param"], case["hidden_size"], case["output_size"],
                        weight_init_std=case["weight_init_std"], rng=np.random.default_rng(0))
    return write_params(net, case, PARAMS, in_place=True)


def expected(case: Case) -> dict[str, Any]:
    init = SimpleConvNet(INIT_INPUT, INIT_CONV, INIT_HIDDEN, INIT_CLASSES, weight_init_std=case["weight_init_std"],
                         rng=np.random.default_rng(0))
    return book_net_results(init, reference_net(case), case["x"], case["t"], (case["x_acc"], case["t_acc"]))


def exact_loss(case: Case) -> float:
    """The loss without the book's 1e-7 in the log: what backpropagation differentiates."""
    return float(exact_softmax_loss(scores_of(case, case["x"]), case["t"])[0])


def torch_net(case: Case) -> dict[str, Any]:
    """The same network by torch autograd in float64 (cross-entropy without the 1e-7: within BOOK_LOSS)."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    p = {k: torch.tensor(case[k], requires_grad=True) for k in PARAMS}
    conv = case["conv_param"]

    def scores(x: np.ndarray) -> Any:
        out = F.conv2d(torch.tensor(x), p["W1"], p["b1"], stride=conv["stride"], padding=conv["pad"])
        pooled = F.max_pool2d(torch.relu(out), 2, 2)
        return torch.relu(pooled.reshape(len(x), -1) @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]

    out = scores(case["x"])
    loss = F.cross_entropy(out, torch.tensor(case["t"]))
    loss.backward()
    with torch.no_grad():
        predicted = scores(case["x_acc"]).argmax(dim=1)
    return {"predict": out.detach().numpy(), "loss": float(loss.item()),
            "accuracy": float((predicted == torch.tensor(case["t_acc"])).double().mean().item()), **leaf_grads(p)}


# ---------------------------------------------------------------- rules
#: Names and shapes as the reference's, zero biases, each weight's spread within INIT_SCALE_RTOL of
#: weight_init_std.
JUDGE_INIT = InitRule(names=PARAMS, spread=scale_argument("weight_init_std", rtol=INIT_SCALE_RTOL))


# ---------------------------------------------------------------- bugs
def _w2_rows(conv_out: float) -> set[int]:
    """W2's rows for a (possibly fractional) conv output size, as the book's int(...) or a floor would give."""
    half = conv_out / 2
    return {int(INIT_CONV["filter_num"] * half * half), INIT_CONV["filter_num"] * int(half) ** 2}


def _init_w2_rows(rows: set[int]) -> Callable[[Sequence[CaseRun]], bool]:
    """Every run failing ``init`` (with a W2 made) has W2 with one of ``rows`` rows, and some such run exists."""
    return every_failing("init", lambda run: np.ndim(run.actual["init_W2"]) == 2
                         and np.shape(run.actual["init_W2"])[0] in rows, made="init_W2")


def _init_with_w2_rows(rows: int) -> Callable[[Case], dict[str, Any]]:
    def bug(case: Case) -> dict[str, Any]:
        init = {k: v for k, v in expected(case).items() if k.startswith("init_")}
        return {**init, "init_W2": np.zeros((rows, INIT_HIDDEN))}

    return bug


_SIZE, _FS, _PAD, _STRIDE = INIT_INPUT[1], INIT_CONV["filter_size"], INIT_CONV["pad"], INIT_CONV["stride"]
_CONV_OUT = (_SIZE + 2 * _PAD - _FS) // _STRIDE + 1
UNPOOLED_ROWS = {INIT_CONV["filter_num"] * _CONV_OUT ** 2}
PAD_IGNORED_ROWS = _w2_rows((_SIZE - _FS) / _STRIDE + 1)
STRIDE_IGNORED_ROWS = _w2_rows(_SIZE + 2 * _PAD - _FS + 1)


def network(case: Case, *, conv_relu: bool = True, hidden_relu: bool = True) -> dict[str, Any]:
    """Scores, loss and backpropagated gradients of the net with a ReLU left out on request."""
    p = case["conv_param"]
    conv_layer = D.Convolution(case["W1"], case["b1"], p["stride"], p["pad"])
    pool = D.Pooling(2, 2, stride=2)
    conv = conv_layer.forward(case["x"])
    pooled = pool.forward(np.maximum(conv, 0.0) if conv_relu else conv)
    rows = pooled.reshape(len(pooled), -1)
    pre = rows @ case["W2"] + case["b2"]
    hidden = np.maximum(pre, 0.0) if hidden_relu else pre
    scores = hidden @ case["W3"] + case["b3"]
    last = D.SoftmaxWithLoss()
    loss = last.forward(scores, case["t"])
    dscores = last.backward(1)
    dpre = (dscores @ case["W3"].T) * ((pre > 0) if hidden_relu else 1.0)
    dconv = pool.backward((dpre @ case["W2"].T).reshape(pooled.shape)) * ((conv > 0) if conv_relu else 1.0)
    conv_layer.backward(dconv)
    grads = {"W1": conv_layer.dW, "b1": conv_layer.db, "W2": rows.T @ dpre, "b2": dpre.sum(axis=0),
             "W3": hidden.T @ dscores, "b3": dscores.sum(axis=0)}
    return {"predict": scores, "loss": loss, **{f"grad_{k}": g for k, g in grads.items()}}


NETWORK_OUTPUTS = ("predict", "loss", *(f"grad_{k}" for k in PARAMS))

DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis(
        "W2 sized for the unpooled map",
        "W2 has filter_num * conv_out**2 rows, the size of the convolution's output: the 2x2 pooling (stride 2) "
        "halves its height and width, so W2 takes filter_num * (conv_out / 2)**2 inputs.",
        _init_w2_rows(UNPOOLED_ROWS), reads=("init_W2",), bug=_init_with_w2_rows(min(UNPOOLED_ROWS))),
    Diagnosis(
        "conv output size without the padding",
        "W2's size leaves the padding out of the convolution's output size: conv_output_size = (input_size - "
        "filter_size + 2 * pad) / stride + 1.",
        _init_w2_rows(PAD_IGNORED_ROWS), reads=("init_W2",), bug=_init_with_w2_rows(min(PAD_IGNORED_ROWS))),
    Diagnosis(
        "conv output size without the stride",
        "W2's size leaves the stride out of the convolution's output size: conv_output_size = (input_size - "
        "filter_size + 2 * pad) / stride + 1.",
        _init_w2_rows(STRIDE_IGNORED_ROWS), reads=("init_W2",), bug=_init_with_w2_rows(min(STRIDE_IGNORED_ROWS))),
    variant_diagnosis(
        "no ReLU after the convolution",
        "The scores match the network without Relu1: the book's layers are Conv1 - Relu1 - Pool1 - Affine1 - "
        "Relu2 - Affine2.",
        lambda case: network(case, conv_relu=False), NETWORK_OUTPUTS, ("predict", "loss", "gradient")),
    variant_diagnosis(
        "no ReLU after the hidden layer",
        "The scores match the network without Relu2: the book's layers are Conv1 - Relu1 - Pool1 - Affine1 - "
        "Relu2 - Affine2.",
        lambda case: network(case, hidden_relu=False), NETWORK_OUTPUTS, ("predict", "loss", "gradient")),
    scaled_diagnosis(
        "accuracy divided by the batch size",
        "accuracy divides the count of right answers by batch_size (100), not by the number of examples "
        "x.shape[0].",
        ("accuracy",), lambda case: len(case["t_acc"]) / ACCURACY_CHUNK, reference=expected),
)
