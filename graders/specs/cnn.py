"""Spec of cs231n assignment 2's ``ThreeLayerConvNet`` (``cs231n/classifiers/cnn.py``; the same file and
signature in the 2016-17 hand-outs).

Graded as FullyConnectedNet is (graders/specs/fc_net.py), through its public methods, the instance staying in
the worker: a case builds the net with the hand-out's keyword arguments (dtype float64, as the notebook's
gradient check does), writes the case's ``W1, b1, W2, b2, W3, b3`` into ``net.params`` and calls ``loss(X)``
(the scores) and ``loss(X, y)`` (the loss and a gradient per parameter). The network is conv (stride 1, pad
``(filter_size - 1) // 2``) - relu - 2x2 max pool (stride 2) - affine - relu - affine - softmax, with the L2
penalty ``0.5 * reg * sum(W**2)`` over the three weights.

``__init__`` is judged on a second net built with the case's ``weight_scale``: input (3, 16, 12), not square,
so that W2's rows must be num_filters * (H / 2) * (W / 2) with H and W each halved; 8 filters of 5x5, 40
hidden units, 20 classes. Names and shapes, zero biases, and each weight's standard deviation within 15% of
weight_scale: the smallest weight has 600 entries, so 15% is more than 5 standard errors of the sample
standard deviation.

Cases stay small so that a student's naive or fast layers run quickly in the worker: up to 3 images of up to
3 x 6 x 6, up to 3 filters of 1x1, 3x3 or 5x5; the notebook's gradient check is (2, 3, 16, 16) with 3 filters of
3x3 and 7 hidden units. Every case is clear of the network's kinks (each ReLU input at least KINK_MARGIN from 0,
each 2x2 window with a positive maximum won by KINK_MARGIN), so gradients are unique and finite differences
find them.

The hand-out's loss calls layer_utils' conv_relu_pool_forward (the fast layers) and affine_relu_forward:
``builds_on`` names the graded functions underneath, so a report says to fix a broken layer first. Unlike
FullyConnectedNet there is no second chance by finite differences of the student's own loss: every layer the
network uses is exact on this domain (no eps, no accepted convention that moves a value), so a gradient that
differs from the reference's is wrong for the hand-out's layers too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, NamedCase, Outputs, Reach, Spec
from graders.specs.kit.cases import first_valid
from graders.specs.kit.detectors import every_failing, matches_variant, variant_diagnosis
from graders.specs.kit.networks import (
    NOT_PRODUCED,
    InitRule,
    conv_net_params,
    judge_entries,
    scale_argument,
    write_params,
)
from graders.specs.kit.programs import fetched_loss_and_grads, initial_params, net_program
from graders.specs.kit.tolerances import NORMALISED_GRADIENTS
from graders.specs.kit.torch import leaf_grads, torch_one_thread
from graders.specs.kit.windows import relu_pool_clear
from graders.specs.program import Const, Expr, Input, Program, Result, merged
from reference import cs231n as R
from reference.cs231n.cnn import ThreeLayerConvNet as ReferenceNet

MODULE = "cnn"
CLASS = "ThreeLayerConvNet"
PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
WEIGHTS = ("W1", "W2", "W3")
#: The net ``__init__`` is judged on: input_dim (not square), num_filters, filter_size, hidden_dim, num_classes.
INIT_INPUT, INIT_FILTERS, INIT_FILTER_SIZE, INIT_HIDDEN, INIT_CLASSES = (3, 16, 12), 8, 5, 40, 20
INIT_NET: dict[str, Any] = {"input_dim": list(INIT_INPUT), "num_filters": INIT_FILTERS,
                            "filter_size": INIT_FILTER_SIZE, "hidden_dim": INIT_HIDDEN, "num_classes": INIT_CLASSES}
#: Relative error allowed on each weight's standard deviation (above 5 standard errors for 600 entries).
INIT_SCALE_RTOL = 0.15
#: Smallest |ReLU input| and smallest win of a positive pool maximum over its window's runner-up.
KINK_MARGIN = 1e-3
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def three_layer_conv_net() -> Spec:
    return Spec(
        name=CLASS,
        module=MODULE,
        api="class",
        convention="ThreeLayerConvNet(input_dim=(C, H, W), num_filters, filter_size, hidden_dim, num_classes, "
                   "weight_scale, reg, dtype); conv (stride 1, pad (filter_size - 1) // 2) - relu - 2x2 max pool - "
                   "affine - relu - affine - softmax; loss(X) -> scores, loss(X, y) -> (loss, grads) with "
                   "0.5 * reg * sum(W**2) over W1, W2, W3",
        builds_on=("conv_relu_pool_forward", "conv_relu_pool_backward", "affine_relu_forward",
                   "affine_relu_backward", "affine_forward", "affine_backward", "relu_forward", "relu_backward",
                   "softmax_loss"),
        domain=valid_case,
        cases=cnn_cases,
        reaches=(
            Reach("padded convolution", lambda case: case["filter_size"] > 1),
            Reach("1x1 filters", lambda case: case["filter_size"] == 1),
            Reach("input not square", lambda case: case["input_dim"][1] != case["input_dim"][2]),
            Reach("several images with regularisation", lambda case: case["X"].shape[0] > 1 and case["reg"] > 0),
        ),
        notebook=cnn_notebook,
        program=cnn_program,
        expected=cnn_expected,
        torch_expected=torch_cnn,
        gradients=tuple(GradientCheck(f"grad_{k}", k, train_loss) for k in PARAMS),
        checks=(
            Check("init", outputs=tuple(f"init_{k}" for k in PARAMS), compare=JUDGE_INIT,
                  description="__init__: W1 (F, C, fs, fs), b1, W2 (F * H/2 * W/2, hidden), b2, W3 (hidden, "
                              "classes), b3; zero biases, weights with std weight_scale"),
            Check("scores", tol=NORMALISED_GRADIENTS, description="loss(X): the class scores"),
            Check("loss", tol=NORMALISED_GRADIENTS,
                  description="loss(X, y): softmax loss plus 0.5 * reg * sum(W**2) over W1, W2, W3"),
            Check("grads", outputs=tuple(f"grad_{k}" for k in PARAMS),
                  compare=judge_entries("grad_", PARAMS, NOT_PRODUCED), tol=NORMALISED_GRADIENTS, points=2.0,
                  description="loss(X, y)'s gradient of every parameter, the regulariser's included"),
        ),
        diagnoses=DIAGNOSES,
        read_only=("X", "y"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {CLASS: three_layer_conv_net}


# ---------------------------------------------------------------- cases
def conv_param(case: Case) -> dict[str, int]:
    return {"stride": 1, "pad": (int(case["filter_size"]) - 1) // 2}


def _build(rng: np.random.Generator, n: int, input_dim: Sequence[int], f: int, fs: int, hidden: int, classes: int,
           **options: Any) -> Case:
    c, h, w = input_dim
    pooled = f * (h // 2) * (w // 2)
    return {
        "input_dim": list(input_dim), "num_filters": f, "filter_size": fs, "hidden_dim": hidden,
        "num_classes": classes, **options,
        **conv_net_params(rng, filters=f, channels=c, filter_size=fs, pooled=pooled, hidden=hidden, classes=classes),
        "X": rng.standard_normal((n, c, h, w)), "y": rng.integers(0, classes, size=n),
    }


def valid_case(case: Case) -> bool:
    """The conv output and the hidden pre-activations at least KINK_MARGIN from 0; pool maxima unique."""
    conv = R.conv_forward_fast(case["X"], case["W1"], case["b1"], conv_param(case))[0]
    if float(np.min(np.abs(conv))) < KINK_MARGIN or not relu_pool_clear(np.maximum(conv, 0.0), KINK_MARGIN):
        return False
    pooled = R.max_pool_forward_fast(np.maximum(conv, 0.0), dict(POOL))[0]
    hidden = pooled.reshape(pooled.shape[0], -1) @ case["W2"] + case["b2"]
    return float(np.min(np.abs(hidden))) >= KINK_MARGIN


@st.composite
def cnn_cases(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 3))
    input_dim = (draw(st.integers(1, 3)), draw(st.sampled_from([2, 4, 6])), draw(st.sampled_from([2, 4, 6])))
    f, fs = draw(st.integers(1, 3)), draw(st.sampled_from([1, 3, 5]))
    hidden, classes = draw(st.integers(2, 5)), draw(st.integers(2, 4))
    options = {"reg": draw(st.sampled_from([0.0, 0.1, 3.14])),
               "weight_scale": draw(st.sampled_from([1e-3, 1e-2, 1e-1]))}
    return draw(S.seeded_until(lambda rng: _build(rng, n, input_dim, f, fs, hidden, classes, **options), valid_case,
                               tries=256))


def cnn_notebook() -> list[NamedCase]:
    """The notebook's gradient check: 2 images (3, 16, 16), 3 filters 3x3, 7 hidden units, 10 classes, reg 0
    (seed 231); and the same with reg 0.5, the notebook's regularised sanity check."""
    found = []
    for reg in (0.0, 0.5):
        build = partial(_build, n=2, input_dim=(3, 16, 16), f=3, fs=3, hidden=7, classes=10, reg=reg,
                        weight_scale=1e-3)
        found.append(NamedCase(f"notebook: 2 images (3, 16, 16), 3 filters 3x3, 7 hidden units, 10 classes, reg "
                               f"{reg} (seed 231)", first_valid(231, build, valid_case, CLASS)))
    return found


# ---------------------------------------------------------------- program and reference
def cnn_program(case: Case) -> Program:
    """The init net and its parameters as constructed; then the case's net with the case's parameters written
    in: the scores, then loss(X, y) and each gradient (fetched so that a missing one is judged, not an error)."""
    init = initial_params(MODULE, CLASS, keys=PARAMS, ctor={
        **{k: Const(v) for k, v in INIT_NET.items()}, "weight_scale": Input("weight_scale"),
        "dtype": Const("float64")})
    names = ("input_dim", "num_filters", "filter_size", "hidden_dim", "num_classes", "reg", "weight_scale")
    ctor: dict[str, Expr] = {**{k: Input(k) for k in names}, "dtype": Const("float64")}
    net = net_program(MODULE, CLASS, ctor=ctor, params=PARAMS, calls=(
        ("scores", "loss", (Input("X"),)), ("train", "loss", (Input("X"), Input("y")))),
        outputs={"scores": Result("scores")}, replace_misfits=True)
    return merged([init, net, fetched_loss_and_grads(PARAMS)])


def _reference(case: Case) -> ReferenceNet:
    net = ReferenceNet(tuple(case["input_dim"]), num_filters=case["num_filters"], filter_size=case["filter_size"],
                       hidden_dim=case["hidden_dim"], num_classes=case["num_classes"],
                       weight_scale=case["weight_scale"], reg=case["reg"], dtype=np.float64,
                       rng=np.random.default_rng(0))
    return write_params(net, case, PARAMS)


def cnn_expected(case: Case) -> dict[str, Any]:
    init = ReferenceNet(INIT_INPUT, num_filters=INIT_FILTERS, filter_size=INIT_FILTER_SIZE, hidden_dim=INIT_HIDDEN,
                        num_classes=INIT_CLASSES, weight_scale=case["weight_scale"], dtype=np.float64,
                        rng=np.random.default_rng(0))
    net = _reference(case)
    result: dict[str, Any] = {f"init_{k}": v for k, v in init.params.items()}
    result["scores"] = net.loss(case["X"])
    loss, grads = net.loss(case["X"], case["y"])
    result["loss"] = loss
    result.update({f"grad_{k}": g for k, g in grads.items()})
    return result


def train_loss(case: Case) -> float:
    """The reference's train-mode loss: what finite differences check the gradients against."""
    return float(_reference(case).loss(case["X"], case["y"])[0])


# ---------------------------------------------------------------- rules
#: Names and shapes as the reference's, zero biases, and each weight's standard deviation within INIT_SCALE_RTOL
#: of weight_scale.
JUDGE_INIT = InitRule(names=PARAMS, spread=scale_argument("weight_scale", rtol=INIT_SCALE_RTOL), say_all=True)


# ---------------------------------------------------------------- bug models
def network(case: Case, *, conv_relu: bool = True, hidden_relu: bool = True) -> dict[str, Any]:
    """The network's scores, loss and gradients from the reference's layers, with a ReLU left out on request
    (what a student's net computes when it calls conv_forward / affine_forward where the sandwich belongs)."""
    p = {k: np.asarray(case[k], dtype=np.float64) for k in PARAMS}
    conv, conv_cache = R.conv_forward_fast(case["X"], p["W1"], p["b1"], conv_param(case))
    act = np.maximum(conv, 0.0) if conv_relu else conv
    pooled, pool_cache = R.max_pool_forward_fast(act, dict(POOL))
    rows = pooled.reshape(pooled.shape[0], -1)
    pre = rows @ p["W2"] + p["b2"]
    hidden = np.maximum(pre, 0.0) if hidden_relu else pre
    scores = hidden @ p["W3"] + p["b3"]
    loss, dscores = R.softmax_loss(scores, case["y"])
    loss += 0.5 * case["reg"] * sum(float(np.sum(p[k] ** 2)) for k in WEIGHTS)
    grads = {"W3": hidden.T @ dscores, "b3": dscores.sum(axis=0)}
    dpre = (dscores @ p["W3"].T) * ((pre > 0) if hidden_relu else 1.0)
    grads.update(W2=rows.T @ dpre, b2=dpre.sum(axis=0))
    dact = R.max_pool_backward_fast((dpre @ p["W2"].T).reshape(pooled.shape), pool_cache)
    dconv = dact * ((conv > 0) if conv_relu else 1.0)
    _, grads["W1"], grads["b1"] = R.conv_backward_fast(dconv, conv_cache)
    for k in WEIGHTS:
        grads[k] = grads[k] + case["reg"] * p[k]
    return {"scores": scores, "loss": loss, **{f"grad_{k}": g for k, g in grads.items()}}


TRAIN_OUTPUTS = ("loss", *(f"grad_{k}" for k in PARAMS))


def _reg_variant(case: Case, *, left_out: Sequence[str] = (), in_loss: bool = True, in_grad: bool = True,
                 loss_factor: float = 0.0) -> dict[str, Any] | None:
    """The reference's loss and gradients with the weights ``left_out`` missing from the regulariser (in the
    loss, in the gradient or both) or the loss's penalty counted ``1 + loss_factor`` times; None where reg is 0."""
    reg = float(case["reg"])
    if reg == 0:
        return None
    right = cnn_expected(case)
    result = {k: right[k] for k in TRAIN_OUTPUTS}
    result["loss"] += loss_factor * 0.5 * reg * sum(float(np.sum(case[w] ** 2)) for w in WEIGHTS)
    for w in left_out:
        if in_loss:
            result["loss"] -= 0.5 * reg * float(np.sum(case[w] ** 2))
        if in_grad:
            result[f"grad_{w}"] = result[f"grad_{w}"] - reg * case[w]
    return result


def _skipping(weight: str, in_loss: bool, in_grad: bool) -> Callable[[Case], dict[str, Any] | None]:
    return lambda case: _reg_variant(case, left_out=(weight,), in_loss=in_loss, in_grad=in_grad)


def _reg_skips_one_weight(runs: Sequence[CaseRun]) -> bool:
    """One weight (always the same) left out of the regulariser: in the loss, its gradient, or both."""
    return any(matches_variant(runs, _skipping(w, lo, gr), TRAIN_OUTPUTS, ("loss", "grads"))
               for w in WEIGHTS for lo, gr in ((True, True), (True, False), (False, True)))


def _init_pattern(holds: Callable[[Case, Outputs], bool]) -> Callable[[Sequence[CaseRun]], bool]:
    """Some run failing ``init`` shows the pattern, and every run failing it does (a run whose later calls
    raised counts too: the init net's parameters were fetched before them)."""
    return every_failing("init", lambda run: holds(run.case, run.actual), made="init_W1")


def _w2_rows_unpooled(case: Case, actual: Outputs) -> bool:
    """W2's rows are num_filters * H * W: the conv output's size, not the pooled one's."""
    value = actual.get("init_W2")
    w2 = np.shape(value) if value is not None else ()
    _, h, w = INIT_INPUT
    return len(w2) == 2 and w2[0] == INIT_FILTERS * h * w


def _biases_not_zero(case: Case, actual: Outputs) -> bool:
    found = [np.asarray(actual.get(f"init_{b}")) for b in ("b1", "b2", "b3") if actual.get(f"init_{b}") is not None]
    return any(a.size and np.issubdtype(a.dtype, np.number) and np.any(a != 0) for a in found)


def _bad_init(case: Case, **changes: np.ndarray) -> dict[str, Any]:
    init = {k: v for k, v in cnn_expected(case).items() if k.startswith("init_")}
    return {**init, **changes}


DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis(
        "w2_rows_unpooled",
        "W2 has num_filters * H * W rows, the size of the convolution's output: the 2x2 max pool (stride 2) "
        "halves the height and the width, so W2 takes num_filters * (H // 2) * (W // 2) inputs.",
        _init_pattern(_w2_rows_unpooled), reads=("init_W2",),
        bug=lambda case: _bad_init(case, init_W2=np.zeros((INIT_FILTERS * INIT_INPUT[1] * INIT_INPUT[2],
                                                           INIT_HIDDEN)))),
    Diagnosis(
        "biases_not_zero",
        "The biases should start at zero (np.zeros): only the weights are drawn with weight_scale.",
        _init_pattern(_biases_not_zero), reads=("init_b1", "init_b2", "init_b3"),
        bug=lambda case: _bad_init(case, init_b1=np.full(INIT_FILTERS, case["weight_scale"]))),
    variant_diagnosis(
        "reg_without_half",
        "The loss adds reg * sum(W**2), without the 0.5: the hand-out's regulariser is 0.5 * reg * sum(W**2), "
        "whose gradient is reg * W.",
        lambda case: _reg_variant(case, loss_factor=1.0), TRAIN_OUTPUTS, ("loss",)),
    variant_diagnosis(
        "reg_gradient_missing",
        "The weight gradients miss the regulariser's part: add reg * W to each of grads['W1'], grads['W2'] "
        "and grads['W3'].",
        lambda case: _reg_variant(case, left_out=WEIGHTS, in_loss=False), TRAIN_OUTPUTS, ("grads",)),
    Diagnosis(
        "reg_skips_a_weight",
        "One weight matrix is left out of the regulariser (its 0.5 * reg * sum(W**2) in the loss, or its "
        "reg * W in the gradient): W1, W2 and W3 are all regularised.",
        _reg_skips_one_weight, reads=TRAIN_OUTPUTS,
        bug=lambda case: dict(_reg_variant(case, left_out=("W3",)) or {})),
    variant_diagnosis(
        "no_relu_after_conv",
        "The scores match the network without the ReLU after the convolution: the first layer is "
        "conv - relu - 2x2 max pool (layer_utils' conv_relu_pool_forward and its backward).",
        lambda case: network(case, conv_relu=False), ("scores", *TRAIN_OUTPUTS), ("scores", "loss", "grads")),
    variant_diagnosis(
        "no_hidden_relu",
        "The scores match the network without the ReLU after the hidden affine layer: the second layer is "
        "affine - relu (layer_utils' affine_relu_forward and its backward).",
        lambda case: network(case, hidden_relu=False), ("scores", *TRAIN_OUTPUTS), ("scores", "loss", "grads")),
)


# ---------------------------------------------------------------- torch twin
def torch_cnn(case: Case) -> dict[str, Any]:
    """The same network with torch autograd in float64: conv2d with the same padding, 2x2 max pooling,
    cross-entropy plus the L2 penalty."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    p = {k: torch.tensor(np.asarray(case[k], dtype=np.float64), requires_grad=True) for k in PARAMS}
    x = torch.tensor(case["X"], dtype=torch.float64)
    pooled = F.max_pool2d(torch.relu(F.conv2d(x, p["W1"], p["b1"], padding=conv_param(case)["pad"])), 2, 2)
    hidden = torch.relu(pooled.reshape(pooled.shape[0], -1) @ p["W2"] + p["b2"])
    scores = hidden @ p["W3"] + p["b3"]
    loss = F.cross_entropy(scores, torch.tensor(case["y"])) + 0.5 * case["reg"] * sum(
        (p[k] * p[k]).sum() for k in WEIGHTS)
    loss.backward()
    return {"scores": scores.detach().numpy(), "loss": float(loss.item()), **leaf_grads(p)}
