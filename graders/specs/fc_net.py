"""Spec of cs231n assignment 2's ``FullyConnectedNet`` (``cs231n/classifiers/fc_net.py``, 2019+ hand-out).

The class is graded through its public methods; the instance stays in the worker. A case builds the net with
the hand-out's keyword arguments (dtype float64, as the notebook's gradient checks do), writes the case's
parameters into ``net.params`` (so the values judged do not depend on the random initialisation), then calls
``loss(X)`` (test mode: the scores) and ``loss(X, y)`` (train mode: the loss and a gradient per parameter).
The loss carries the hand-out's L2 penalty ``0.5 * reg * sum(W**2)`` over the weights only. ``__init__`` is
judged on a second, larger net built with the case's options: parameter names and shapes, zero biases, gamma
ones and beta zeros, and the weights' spread against ``weight_scale`` (about 10,000 weights, so the sample
standard deviation is within 1% of the true one; the check allows 15%).

Dropout (``dropout_keep_ratio`` < 1 with a fixed ``seed``) is judged by self-consistency, not against one
mask. The hand-out leaves free how dropout_forward draws its mask (``rand < p``, ``binomial``, a Generator), so
the reference's mask is no standard; what the seed does fix is the mask the student's own dropout_forward
draws for a given shape (every call reseeds from ``dropout_param['seed']``, and the network passes the same
``dropout_param`` to every layer). So the program also asks that dropout_forward for the multiplier it applies
to ones of each hidden layer's shape with the network's own ``dropout_param`` (``dropout_mask<i>``), and the
loss and gradients are compared with the reference network run on exactly those multipliers. Any correct
dropout layer gives the same verdicts; a broken one (wrong scale, no reseeding) is judged at dropout_forward,
not again here: the network is judged on what it does with whatever its dropout layer does. Test-mode scores
must not depend on dropout at all (compared with the plain reference). Why not the dropout specs' statistical
rules: those need tens of thousands of units; a network's hidden layers here have a handful.

Gradients: where the comparison with the reference fails, they are re-judged against central differences of
the student's own train-mode loss (the notebook's check; the seed keeps the masks fixed between perturbed
calls), provided that loss is within 5% of the reference's (with their masks): a gradient that is exact for
the network the student's layers build (an accepted convention of one of them) keeps its points.

The network's dropout rate is judged as well: with dropout, the program fetches ``dropout_param['p']``, which
must be the p the hand-out's constructor stores (its given code): a network that stores the other meaning of p
(keep for drop) draws its masks at the complementary rate, which the self-consistent loss alone cannot see.

Factory option ``handout``: the constructor's convention. "2019" (the default, cs231n 2019+):
``FullyConnectedNet(hidden_dims, input_dim, num_classes, dropout_keep_ratio=1, normalization=None, ...)``.
"2017" (2016-17 hand-outs): ``FullyConnectedNet(hidden_dims, input_dim, num_classes, dropout=0,
use_batchnorm=False, ...)``, where ``dropout`` is the probability of dropping a unit and goes into
``dropout_param['p']`` as it is (the 2017 dropout_forward drops with probability p), and there is no layer norm.
The cases are the same (a keep ratio k is built as ``dropout=1 - k``), and so is the judging, except that the
2016-17 skeleton's own ``bn_param[mode] = mode`` (not ``bn_param['mode']``) leaves batch norm in train mode, so
its ``loss(X)`` normalises by the batch's statistics: those scores are accepted too.

The network runs the student's layers (affine, relu, batchnorm, layernorm, softmax_loss): ``builds_on`` names
them, so a report says to fix a broken layer first.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, Check, Diagnosis, GradientCheck, NamedCase, Outputs, Reach, Spec, Verdict
from graders.specs.kit.cases import first_valid
from graders.specs.kit.detectors import variant_diagnosis
from graders.specs.kit.networks import (
    NOT_PRODUCED,
    InitRule,
    compare_entries,
    dense_params,
    scale_argument,
    write_params,
)
from graders.specs.kit.programs import (
    SUPPORT_MODULE,
    fetched_loss_and_grads,
    initial_params,
    net_program,
    own_loss_gradient,
)
from graders.specs.kit.rules import compare_arrays
from graders.specs.kit.tolerances import NORMALISED_GRADIENTS
from graders.specs.kit.torch import leaf_grads, torch_one_thread
from graders.specs.program import Attr, Const, Expr, Func, Input, Program, Result, call, merged
from reference import cs231n as R
from reference.cs231n.fc_net import FullyConnectedNet as ReferenceNet

MODULE = "fc_net"
#: The larger net ``__init__`` is judged on: (input_dim, hidden_dims, num_classes).
INIT_DIMS = (80, (60, 50), 40)
#: Relative error allowed on the weights' standard deviation: ~1% sampling error on INIT_DIMS's weights.
INIT_SCALE_RTOL = 0.15
#: Smallest |pre-activation| a case allows: finite differences and rewritten code never cross ReLU's kink.
KINK_MARGIN = 1e-3
MAX_LAYERS = 3
#: Entries perturbed (2 net calls each) when re-judging gradients by finite differences of the student's loss:
#: at most OWN_GRADIENT_SAMPLE of each parameter, evenly spread (every entry of a small property case's
#: parameters; every 6th to 12th of the notebook's 15-20-30-10 weights), so every case fits the budget.
OWN_GRADIENT_SAMPLE = 50
OWN_GRADIENT_MAX_ENTRIES = 600
#: Keep probabilities of the property cases: 1 is no dropout (the hand-out's default).
KEEP_RATIOS = (1.0, 1.0, 0.5, 0.75)
#: The constructor's convention: cs231n 2019+ (dropout_keep_ratio, normalization) or 2016-17 (dropout as the
#: drop probability, use_batchnorm).
Handout = Literal["2019", "2017"]
HANDOUTS: tuple[Handout, ...] = ("2019", "2017")
NORMALIZATIONS: dict[Handout, tuple[str | None, ...]] = {"2019": (None, "batchnorm", "layernorm"),
                                                        "2017": (None, "batchnorm")}


CONVENTIONS: dict[Handout, str] = {
    "2019": "FullyConnectedNet(hidden_dims, input_dim, num_classes, dropout_keep_ratio, normalization, reg, "
            "weight_scale, dtype, seed)",
    "2017": "FullyConnectedNet(hidden_dims, input_dim, num_classes, dropout, use_batchnorm, reg, weight_scale, "
            "dtype, seed) with dropout the probability of dropping a unit",
}
SCORES_DESCRIPTION = ("loss(X) in test mode: the class scores (batch norm with the fresh running statistics; eps "
                      "inside or outside the square root")
SCORES_DESCRIPTIONS: dict[Handout, str] = {
    "2019": SCORES_DESCRIPTION + ")",
    "2017": SCORES_DESCRIPTION + "; or the batch's statistics, as the skeleton's bn_param[mode] = mode leaves "
            "batch norm in train mode)",
}


REACH_NAMES = {None: "no normalization", "batchnorm": "batch normalization", "layernorm": "layer normalization"}


def _normalized_with(normalization: str | None, case: Case) -> bool:
    return bool(case["normalization"] == normalization)


def fully_connected_net(*, handout: Handout = "2019") -> Spec:
    if handout not in HANDOUTS:
        raise ValueError(f"handout must be one of {HANDOUTS}, got {handout!r}")
    normalizations = NORMALIZATIONS[handout]
    reaches = [Reach(REACH_NAMES[n], partial(_normalized_with, n)) for n in normalizations]
    return Spec(
        name="FullyConnectedNet",
        module=MODULE,
        api="class",
        convention=CONVENTIONS[handout] + "; params W1..WL, b1..bL, gamma/beta1..L-1; loss(X) -> scores, "
                   "loss(X, y) -> (loss, grads) with 0.5 * reg * sum(W**2) over the weights",
        builds_on=("affine_forward", "affine_backward", "relu_forward", "relu_backward", "batchnorm_forward",
                   "batchnorm_backward", *(("layernorm_forward", "layernorm_backward")
                                           if "layernorm" in normalizations else ()),
                   "dropout_forward", "dropout_backward", "softmax_loss"),
        domain=valid_case,
        cases=partial(fc_net_cases, normalizations=normalizations),
        reaches=(
            *reaches,
            Reach("two hidden layers with regularisation", lambda case: len(case["hidden_dims"]) == 2
                  and case["reg"] > 0),
            Reach("dropout with two hidden layers", lambda case: uses_dropout(case) and len(case["hidden_dims"]) == 2),
            Reach("dropout with a normalization", lambda case: uses_dropout(case)
                  and case["normalization"] is not None),
        ),
        notebook=partial(fc_net_notebook, handout),
        program=partial(fc_net_program, handout=handout),
        expected=partial(fc_net_expected, handout=handout),
        torch_expected=torch_fc_net,
        gradients=tuple(GradientCheck(f"grad_{k}", k, train_loss) for k in ("W1", "b1", "W2", "b2")),
        checks=(
            Check("init", outputs=tuple(f"init_{k}" for k in param_names(MAX_LAYERS, True)), compare=JUDGE_INIT,
                  description="__init__: W1..WL, b1..bL (and gamma, beta with a normalization) of the right "
                              "shapes; zero biases, gamma ones, beta zeros, weights with std weight_scale"),
            Check("scores", tol=NORMALISED_GRADIENTS, compare=judge_scores, description=SCORES_DESCRIPTIONS[handout]),
            Check("loss", tol=NORMALISED_GRADIENTS, compare=partial(judge_loss, handout=handout),
                  description="loss(X, y): softmax loss plus 0.5 * reg * sum(W**2) over the weights (with "
                              "dropout: on the masks your dropout_forward draws for the seed, at the hand-out's p)"),
            Check("grads", outputs=tuple(f"grad_{k}" for k in param_names(MAX_LAYERS, True)),
                  compare=partial(judge_grads, handout=handout), tol=NORMALISED_GRADIENTS, points=2.0,
                  description="loss(X, y)'s gradient of every parameter, the regulariser's included"),
        ),
        diagnoses=diagnoses(handout),
        read_only=("X", "y"),
        own_gradient=own_loss_gradient(
            MODULE, "FullyConnectedNet", ctor=partial(_ctor, handout=handout), params=case_params,
            wrt={f"grad_{k}": k for k in param_names(MAX_LAYERS, True)}, max_entries=OWN_GRADIENT_MAX_ENTRIES,
            sample=OWN_GRADIENT_SAMPLE, reference=partial(reference_given, handout=handout)),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {"FullyConnectedNet": fully_connected_net}


# ---------------------------------------------------------------- parameters and cases
def param_names(layers: int, normalized: bool) -> list[str]:
    """W1..WL, b1..bL, then gamma1..gamma(L-1), beta1..beta(L-1) with a normalization."""
    names = [f"{p}{i}" for p in ("W", "b") for i in range(1, layers + 1)]
    if normalized:
        names += [f"{p}{i}" for p in ("gamma", "beta") for i in range(1, layers)]
    return names


def case_params(case: Case) -> list[str]:
    return param_names(len(case["hidden_dims"]) + 1, case["normalization"] is not None)


def uses_dropout(case: Case) -> bool:
    return float(case.get("dropout_keep_ratio", 1)) != 1


def dropout_p(case: Case, handout: Handout) -> float:
    """What the hand-out's constructor puts in ``dropout_param['p']``: the keep ratio (2019+), or the probability
    of dropping a unit, ``dropout`` (2016-17)."""
    keep = float(case.get("dropout_keep_ratio", 1))
    return keep if handout == "2019" else 1.0 - keep


def mask_shapes(case: Case) -> list[tuple[int, int]]:
    """The shape of each hidden layer's activations, which dropout masks."""
    return [(int(case["X"].shape[0]), int(h)) for h in case["hidden_dims"]]


def reference_masks(case: Case) -> list[np.ndarray]:
    """The multipliers the reference's dropout_forward applies for the case's seed: what the reference tests
    (and a student whose dropout draws like the reference's) see."""
    param = {"mode": "train", "p": case["dropout_keep_ratio"], "seed": case["seed"]}
    return [R.dropout_forward(np.ones(shape), dict(param))[0] for shape in mask_shapes(case)]


def _build(rng: np.random.Generator, n: int, d: int, hidden: list[int], c: int, **options: Any) -> Case:
    dims = [d, *hidden, c]
    case: Case = {"hidden_dims": hidden, "input_dim": d, "num_classes": c, **options}
    case.update(dense_params(rng, dims, gamma_spread=None if options["normalization"] is None else 0.1))
    case["X"] = rng.standard_normal((n, d))
    case["y"] = rng.integers(0, c, size=n)
    return case


def _preactivations(case: Case) -> list[np.ndarray]:
    """What each ReLU receives, in train mode and in test mode (fresh running statistics, both zeros as the
    hand-out starts them); in train mode with dropout, behind the reference's masks."""
    found = []
    masks = reference_masks(case) if uses_dropout(case) else []
    for mode in ("train", "test"):
        out = case["X"]
        for i in range(1, len(case["hidden_dims"]) + 1):
            if masks and mode == "train" and i > 1:
                out = out * masks[i - 2]
            out = out @ case[f"W{i}"] + case[f"b{i}"]
            if case["normalization"] == "batchnorm" and mode == "train":
                out = (out - out.mean(axis=0)) / np.sqrt(out.var(axis=0) + 1e-5)
            elif case["normalization"] == "batchnorm":  # the hand-out's running variance starts at zeros
                out = out / np.sqrt(1e-5)
            elif case["normalization"] == "layernorm":
                out = (out - out.mean(axis=1, keepdims=True)) / np.sqrt(out.var(axis=1, keepdims=True) + 1e-5)
            if case["normalization"] is not None:
                out = case[f"gamma{i}"] * out + case[f"beta{i}"]
            found.append(out)
            out = np.maximum(out, 0.0)
    return found


def valid_case(case: Case) -> bool:
    """Every ReLU input at least KINK_MARGIN from 0, in both modes; batch norm over at least two examples."""
    if case["normalization"] == "batchnorm" and case["X"].shape[0] < 2:
        return False
    return all(float(np.min(np.abs(a))) >= KINK_MARGIN for a in _preactivations(case))


@st.composite
def fc_net_cases(draw: st.DrawFn, normalizations: tuple[str | None, ...] = NORMALIZATIONS["2019"]) -> Case:
    normalization = draw(st.sampled_from(normalizations))
    n = draw(st.integers(2, 5))
    d = draw(st.integers(3, 7))
    hidden = draw(st.lists(st.integers(3, 6), min_size=1, max_size=2))
    c = draw(st.integers(2, 5))
    options = {
        "normalization": normalization,
        "reg": draw(st.sampled_from([0.0, 0.1, 3.14])),
        "weight_scale": draw(st.sampled_from([1e-2, 5e-2, 1e-1])),
        "dropout_keep_ratio": draw(st.sampled_from(KEEP_RATIOS)),
        "seed": draw(st.sampled_from([0, 123, 231])),
    }
    return draw(S.seeded_until(lambda rng: _build(rng, n, d, hidden, c, **options), valid_case, tries=256))


def fc_net_notebook(handout: Handout = "2019") -> list[NamedCase]:
    """The notebook's check: N=2, D=15, H1=20, H2=30, C=10, reg 0 and 3.14, weight_scale 5e-2 (seed 231); then
    the same with batch norm and layer norm (2016-17: batch norm only); then the dropout notebook's check, the
    plain net with keep ratios 0.25, 0.5 (and 1, above) and seed 123, N=2, D=15, H1=20, H2=30, C=10 (2016-17:
    dropout = drop probability 0.25 and 0.5, keep ratios 0.75 and 0.5)."""
    normalizations = NORMALIZATIONS[handout]
    settings = [(normalization, reg, 1.0) for normalization in normalizations for reg in (0.0, 3.14)]
    settings += [(None, 0.0, keep) for keep in ((0.25, 0.5) if handout == "2019" else (0.75, 0.5))]
    found = []
    for normalization, reg, keep in settings:
        build = partial(_build, n=2, d=15, hidden=[20, 30], c=10, normalization=normalization, reg=reg,
                        weight_scale=5e-2, dropout_keep_ratio=keep, seed=123)
        said = (f"dropout keep ratio {keep}" if handout == "2019"
                else f"dropout {dropout_p({'dropout_keep_ratio': keep}, handout):g}")
        label = (f"notebook: 15-20-30-10 net on 2 examples, reg {reg}, normalization {normalization}"
                 + (f", {said}, seed 123" if keep != 1 else "") + " (seed 231)")
        found.append(NamedCase(label, first_valid(231, build, valid_case, "FullyConnectedNet")))
    return found


# ---------------------------------------------------------------- program and reference
def _normalization_ctor(case: Case, handout: Handout) -> dict[str, Expr]:
    """The constructor's normalization keyword: ``normalization`` (2019+), or ``use_batchnorm`` (2016-17)."""
    if handout == "2019":
        return {"normalization": Input("normalization")}
    return {"use_batchnorm": Const(case["normalization"] == "batchnorm")}


def _ctor(case: Case, handout: Handout = "2019") -> dict[str, Expr]:
    names = ("hidden_dims", "input_dim", "num_classes", "reg", "weight_scale")
    ctor: dict[str, Expr] = {**{k: Input(k) for k in names}, **_normalization_ctor(case, handout),
                             "dtype": Const("float64")}
    if uses_dropout(case):  # the hand-out's default (no dropout, no seed) otherwise
        rate: Expr = Input("dropout_keep_ratio") if handout == "2019" else Const(dropout_p(case, handout))
        ctor.update({"dropout_keep_ratio" if handout == "2019" else "dropout": rate, "seed": Input("seed")})
    return ctor


def fc_net_program(case: Case, handout: Handout = "2019") -> Program:
    """The larger init net and its parameters as constructed; then the case's net with the case's parameters
    written in: scores (test mode) first, while batch norm's running statistics are fresh, then train mode;
    with dropout, the multipliers the student's dropout_forward applies with the net's dropout_param, and that
    dict's p."""
    d, hidden, c = INIT_DIMS
    init = initial_params(MODULE, "FullyConnectedNet", keys=param_names(len(hidden) + 1, True), ctor={
        "hidden_dims": Const(list(hidden)), "input_dim": Const(d), "num_classes": Const(c),
        **_normalization_ctor(case, handout), "weight_scale": Input("weight_scale"), "dtype": Const("float64")})
    net = net_program(MODULE, "FullyConnectedNet", ctor=_ctor(case, handout), params=case_params(case), calls=(
        ("scores", "loss", (Input("X"),)), ("train", "loss", (Input("X"), Input("y")))),
        outputs={"scores": Result("scores")}, replace_misfits=True)
    probes = [call(f"dropout_mask{i}", SUPPORT_MODULE, "dropout_probe", Func("layers", "dropout_forward"),
                   Result("net"), Const(list(shape)))
              for i, shape in enumerate(mask_shapes(case), start=1)] if uses_dropout(case) else []
    if probes:  # the hand-out's loss() sets dropout_param['mode']: a net without one failed before this
        probes.append(call("dropout_p", SUPPORT_MODULE, "snapshot", Attr(Result("net"), "dropout_param"),
                           Const("p")))
    kept = Program(steps=tuple(probes), outputs={step.id: Result(step.id) for step in probes})
    return merged([init, net, fetched_loss_and_grads(case_params(case)), kept])


def _reference(case: Case, *, dropout: bool = True) -> ReferenceNet:
    keep = case.get("dropout_keep_ratio", 1) if dropout else 1
    net = ReferenceNet(list(case["hidden_dims"]), input_dim=case["input_dim"], num_classes=case["num_classes"],
                       normalization=case["normalization"], reg=case["reg"], weight_scale=case["weight_scale"],
                       dropout_keep_ratio=keep, seed=case.get("seed"), dtype=np.float64,
                       rng=np.random.default_rng(0))
    return write_params(net, case, case_params(case))


def fc_net_expected(case: Case, handout: Handout = "2019") -> dict[str, Any]:
    d, hidden, c = INIT_DIMS
    init = ReferenceNet(list(hidden), input_dim=d, num_classes=c, normalization=case["normalization"],
                        weight_scale=case["weight_scale"], dtype=np.float64, rng=np.random.default_rng(0))
    net = _reference(case)
    result: dict[str, Any] = {f"init_{k}": v for k, v in init.params.items()}
    result["scores"] = net.loss(case["X"])
    if case["normalization"] == "batchnorm":
        result[SCORES_EPS_OUTSIDE] = _test_scores(case, eps_outside=True)
        if handout == "2017":
            result[SCORES_BATCH_STATISTICS] = _batch_statistics_scores(case)
    result["dropout_p"] = dropout_p(case, handout)
    loss, grads = net.loss(case["X"], case["y"])
    result["loss"] = loss
    result.update({f"grad_{k}": g for k, g in grads.items()})
    if uses_dropout(case):  # what the program fetches from the student's dropout_forward, the reference's here
        result.update({f"dropout_mask{i}": m for i, m in enumerate(reference_masks(case), start=1)})
    return result


def train_loss(case: Case) -> float:
    """The reference's train-mode loss: what finite differences check the gradients against."""
    return float(_reference(case).loss(case["X"], case["y"])[0])


# ---------------------------------------------------------------- dropout: the reference on the student's masks
def student_masks(case: Case, actual: Outputs) -> list[np.ndarray] | str:
    """The multipliers the student's dropout_forward applied to ones of each hidden layer's shape, or why there
    are none to judge with."""
    found = []
    for i, shape in enumerate(mask_shapes(case), start=1):
        mask = actual.get(f"dropout_mask{i}")
        if mask is None:
            return ("the network has no dropout_param dict (the hand-out's __init__ makes self.dropout_param), "
                    "so its dropout cannot be judged")
        mask = np.asarray(mask)
        if mask.shape != shape or not np.issubdtype(mask.dtype, np.number) or not np.all(np.isfinite(mask)):
            return (f"dropout_forward on ones of shape {shape} with the network's dropout_param returned "
                    f"{mask.dtype} of shape {mask.shape}, not a finite mask of that shape: fix dropout_forward first")
        found.append(mask.astype(np.float64))
    return found


#: What p is in each hand-out's dropout_param (the constructor's keyword of the same meaning).
P_MEANINGS: dict[Handout, str] = {"2019": "the probability of keeping a unit (dropout_keep_ratio)",
                                  "2017": "the probability of dropping a unit (the constructor's dropout)"}


def dropout_rate_problem(case: Case, actual: Outputs, handout: Handout) -> str | None:
    """Why the network's ``dropout_param['p']`` is not the one the hand-out's constructor stores, or None."""
    right = dropout_p(case, handout)
    got = actual.get("dropout_p")
    try:
        value = float(got)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (f"the network's dropout_param has no number p (got {type(got).__name__}); the hand-out's "
                f"__init__ stores p = {right:g} there, {P_MEANINGS[handout]}")
    if np.isclose(value, right, rtol=1e-6, atol=1e-9):
        return None
    return (f"the network's dropout_param['p'] is {value:g}, not {right:g}: in this hand-out p is "
            f"{P_MEANINGS[handout]}, so its layers drop units at another rate than the constructor asks for")


def reference_given(case: Case, actual: Outputs, expected: Outputs, handout: Handout = "2019") -> Outputs:
    """The reference's loss and gradients for what the student computed: ``expected`` itself without dropout;
    with dropout, the reference network run on the student's own dropout masks (an entry ``dropout_problem``
    instead when those are unusable, or drawn at another p than the hand-out's)."""
    if not uses_dropout(case):
        return expected
    masks = student_masks(case, actual)
    if isinstance(masks, str):
        return {"dropout_problem": masks}
    rate = dropout_rate_problem(case, actual, handout)
    if rate is not None:
        return {"dropout_problem": rate}
    loss, grads = _reference(case).loss(case["X"], case["y"], dropout_masks=masks)
    return {"loss": loss, **{f"grad_{k}": g for k, g in grads.items()}}


# ---------------------------------------------------------------- custom rules
#: Test-mode scores when batch norm puts eps outside the square root, (x - mean) / (sqrt(var) + eps): an
#: accepted convention of batchnorm_forward (no hand-out says where eps goes in test mode), so the network
#: built on it is accepted too.
SCORES_EPS_OUTSIDE = "scores_eps_outside"
#: Test-mode scores with batch norm normalising by the batch's own statistics: what the 2016-17 skeleton's
#: given ``bn_param[mode] = mode`` (a key named after the mode, not ``'mode'``) makes of loss(X), since its
#: bn_params stay in train mode. A student who kept the hand-out's line is right for that hand-out.
SCORES_BATCH_STATISTICS = "scores_batch_statistics"


def _test_scores(case: Case, *, eps_outside: bool) -> np.ndarray:
    """The scores in test mode from fresh running statistics (mean and variance zeros, as the hand-out starts
    them), batch norm normalising by sqrt(0) + eps or sqrt(0 + eps)."""
    scale = 1e-5 if eps_outside else np.sqrt(1e-5)
    out = case["X"]
    layers = len(case["hidden_dims"]) + 1
    for i in range(1, layers):
        out = case[f"gamma{i}"] * ((out @ case[f"W{i}"] + case[f"b{i}"]) / scale) + case[f"beta{i}"]
        out = np.maximum(out, 0.0)
    return np.asarray(out @ case[f"W{layers}"] + case[f"b{layers}"])


def _batch_statistics_scores(case: Case) -> np.ndarray:
    """The scores with every batch norm layer normalising by the batch's mean and (biased) variance, eps 1e-5
    inside the square root, and no dropout (its dropout_param is in test mode)."""
    out = case["X"]
    layers = len(case["hidden_dims"]) + 1
    for i in range(1, layers):
        a = out @ case[f"W{i}"] + case[f"b{i}"]
        a = (a - a.mean(axis=0)) / np.sqrt(a.var(axis=0) + 1e-5)
        out = np.maximum(case[f"gamma{i}"] * a + case[f"beta{i}"], 0.0)
    return np.asarray(out @ case[f"W{layers}"] + case[f"b{layers}"])


def judge_scores(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
    """allclose to the reference's scores, or (batch norm) to those with eps outside the square root, or (the
    2016-17 hand-out) to those with the batch's statistics."""
    verdict = compare_arrays("scores", actual.get("scores"), expected["scores"], check.atol, check.rtol)
    for accepted in (SCORES_EPS_OUTSIDE, SCORES_BATCH_STATISTICS):
        if verdict.passed:
            return verdict
        if accepted in expected:
            other = compare_arrays("scores", actual.get("scores"), expected[accepted], check.atol, check.rtol)
            verdict = other if other.passed else verdict
    return verdict


#: Names and shapes as the reference's, zero biases, gamma ones, beta zeros, and the weights' pooled standard
#: deviation within INIT_SCALE_RTOL of weight_scale.
JUDGE_INIT = InitRule(starts={"b": 0.0, "gamma": 1.0, "beta": 0.0}, say_all=True,
                      spread=scale_argument("weight_scale", rtol=INIT_SCALE_RTOL, pooled=True))


def judge_loss(case: Case, actual: Outputs, expected: Outputs, check: Check, handout: Handout = "2019") -> Verdict:
    """allclose to the reference's loss (with dropout: the reference's on the student's own masks, drawn at the
    hand-out's p)."""
    given = reference_given(case, actual, expected, handout)
    if "dropout_problem" in given:
        return Verdict(False, str(given["dropout_problem"]))
    return compare_arrays("loss", actual.get("loss"), given["loss"], check.atol, check.rtol)


def judge_grads(case: Case, actual: Outputs, expected: Outputs, check: Check, handout: Handout = "2019",
                ) -> Verdict:
    """Every gradient the reference has, allclose within the check's tolerance (the keys depend on the case's
    depth and normalization; with dropout, the reference's on the student's own masks, drawn at the hand-out's
    p)."""
    expected = reference_given(case, actual, expected, handout)
    if "dropout_problem" in expected:
        return Verdict(False, str(expected["dropout_problem"]))
    return compare_entries(actual, expected, check, "grad_", missing=NOT_PRODUCED)


# ---------------------------------------------------------------- bugs
def _weights(case: Case, prefix: str) -> list[str]:
    return [k for k in case_params(case) if k.startswith(prefix) and k[len(prefix):].isdigit()]


def _reg_variant(case: Case, *, loss_factor: float = 0.0, on: str = "", grads_dropped: bool = False,
                 ) -> dict[str, Any] | None:
    """The reference's loss and W1, W2, b1, b2 gradients with a regularisation slip; None where reg is 0."""
    reg = float(case["reg"])
    if reg == 0 or uses_dropout(case):  # with dropout the right answer depends on the student's masks
        return None
    right = fc_net_expected(case)
    loss = right["loss"] + loss_factor * 0.5 * reg * sum(float(np.sum(case[w] ** 2)) for w in _weights(case, "W"))
    grads = {f"grad_{k}": right[f"grad_{k}"] for k in ("W1", "W2", "b1", "b2")}
    if on:
        loss += 0.5 * reg * sum(float(np.sum(case[b] ** 2)) for b in _weights(case, on))
        for k in ("b1", "b2"):
            grads[f"grad_{k}"] = grads[f"grad_{k}"] + reg * case[k]
    if grads_dropped:
        for k in ("W1", "W2"):
            grads[f"grad_{k}"] = grads[f"grad_{k}"] - reg * case[k]
    return {"loss": loss, **grads}


def _without_dropout(case: Case) -> dict[str, Any] | None:
    """The reference's loss with dropout left out of the train-mode forward pass."""
    return {"loss": _reference(case, dropout=False).loss(case["X"], case["y"])[0]} if uses_dropout(case) else None


def _other_p(handout: Handout, case: Case) -> dict[str, Any] | None:
    """The network storing the other meaning of p (1 - the hand-out's p); None where that is the same p."""
    right = dropout_p(case, handout)
    return {"dropout_p": 1.0 - right} if uses_dropout(case) and right != 0.5 else None


#: The other meaning of p, as each hand-out's constructor keyword says it.
OTHER_P: dict[Handout, str] = {
    "2019": "The network's dropout_param['p'] is 1 - dropout_keep_ratio: in this hand-out p is the probability "
            "of keeping a unit, so store p = dropout_keep_ratio (the hand-out's __init__ does).",
    "2017": "The network's dropout_param['p'] is 1 - dropout: in this hand-out (2016-17) dropout and p are the "
            "probability of dropping a unit, so store p = dropout (the hand-out's __init__ does).",
}


#: The constructor's dropout keyword when dropout is on, as each hand-out says it.
DROPOUT_ON: dict[Handout, str] = {"2019": "dropout_keep_ratio < 1", "2017": "dropout > 0"}


def diagnoses(handout: Handout) -> tuple[Diagnosis, ...]:
    """The regulariser's slips (REG_DIAGNOSES), dropout left out, and the network storing the other meaning of
    the hand-out's dropout p, each said with the hand-out's keywords."""
    return (
        *REG_DIAGNOSES,
        variant_diagnosis(
            "dropout_not_applied",
            f"With {DROPOUT_ON[handout]} the train-mode loss is the one without dropout: call dropout_forward(out, "
            "self.dropout_param) after each hidden layer's ReLU (and dropout_backward on the way back).",
            _without_dropout, ("loss",), ("loss",)),
        variant_diagnosis("dropout_p_complement", OTHER_P[handout], partial(_other_p, handout), ("dropout_p",),
                          ("loss",)),
    )


REG_DIAGNOSES: tuple[Diagnosis, ...] = (
    variant_diagnosis(
        "reg_without_half",
        "The loss adds reg * sum(W**2), without the 0.5: the hand-out's regulariser is 0.5 * reg * sum(W**2), "
        "whose gradient is reg * W.",
        lambda case: _reg_variant(case, loss_factor=1.0), ("loss",), ("loss",)),
    variant_diagnosis(
        "reg_on_biases",
        "The biases are regularised too: the L2 penalty (and its gradient) covers the weights W only, not b.",
        lambda case: _reg_variant(case, on="b"), ("loss", "grad_b1", "grad_b2"), ("loss", "grads")),
    variant_diagnosis(
        "reg_gradient_missing",
        "The weight gradients miss the regulariser's part: add reg * W to each grads['W...'].",
        lambda case: _reg_variant(case, grads_dropped=True), ("grad_W1", "grad_W2"), ("grads",)),
)


# ---------------------------------------------------------------- torch twin
def torch_fc_net(case: Case) -> dict[str, Any]:
    """The same network with torch autograd in float64: batch norm and layer norm written out (biased variance,
    eps 1e-5; test mode with fresh running statistics: the hand-out starts mean and variance at zeros); dropout
    in train mode multiplies each hidden layer's ReLU output by the reference's mask for the seed."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    names = case_params(case)
    params = {k: torch.tensor(np.asarray(case[k], dtype=np.float64), requires_grad=True) for k in names}
    x = torch.tensor(case["X"], dtype=torch.float64)
    layers = len(case["hidden_dims"]) + 1
    masks = [torch.tensor(m) for m in reference_masks(case)] if uses_dropout(case) else []

    def forward(train: bool) -> Any:
        out = x
        for i in range(1, layers):
            out = out @ params[f"W{i}"] + params[f"b{i}"]
            if case["normalization"] == "batchnorm":
                if train:
                    out = (out - out.mean(0)) / torch.sqrt(out.var(0, unbiased=False) + 1e-5)
                else:  # fresh running statistics: mean 0 and variance 0, as the hand-out starts them
                    out = out / np.sqrt(1e-5)
            elif case["normalization"] == "layernorm":
                out = F.layer_norm(out, out.shape[1:], eps=1e-5)
            if case["normalization"] is not None:
                out = params[f"gamma{i}"] * out + params[f"beta{i}"]
            out = torch.relu(out)
            if masks and train:
                out = out * masks[i - 1]
        return out @ params[f"W{layers}"] + params[f"b{layers}"]

    scores = forward(train=False).detach().numpy()
    weights = [params[f"W{i}"] for i in range(1, layers + 1)]
    loss = F.cross_entropy(forward(train=True), torch.tensor(case["y"])) + 0.5 * case["reg"] * sum(
        (w * w).sum() for w in weights)
    loss.backward()
    return {"scores": scores, "loss": float(loss.item()), **leaf_grads(params)}
