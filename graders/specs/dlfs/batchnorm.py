"""Spec of the book's ``BatchNormalization`` layer.

The book's convention: eps 10e-7 inside the sqrt, momentum 0.9, biased running variance created at the first
forward, a 4-D input flattened per activation (N, C*H*W). It is judged so that one bug costs points once: the
test-mode output is compared with the test-mode formula applied to the running statistics the layer holds (a
wrong running average costs ``running_mean``/``running_var`` only), and eps outside the square root is accepted
there; the gradients, where they differ from the reference's, are compared with central differences of the
student's own forward when that forward is within 5% of the reference's (a backward that is the exact gradient
of a forward with a slip keeps its points). Its bugs are the bug model cs231n's batch norm uses
(graders/specs/kit/batchnorm.py) under the book's convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, Check, GradientCheck, NamedCase, OwnGradient, Reach, Spec, Verdict
from graders.specs.kit.batchnorm import BatchNormBug, Convention, batchnorm_diagnosis
from graders.specs.kit.gradients import weighted
from graders.specs.kit.rules import as_numeric, compare_arrays
from graders.specs.kit.tolerances import NORMALISED_GRADIENTS, PRODUCT_SUMS, SMALL_GRADIENTS
from graders.specs.kit.torch import torch_autograd, torch_one_thread
from graders.specs.program import Attr, Call, Const, Expr, Input, Item, Program, Result, call, method
from reference import dlfs as D
from reference.layers import BOOK_BATCHNORM_EPS

BOOK_MOMENTUM = 0.9
MOMENTUM_RANGE = (0.5, 0.99)
#: Scales of the property cases' activations: from 0.1, where the book's eps changes a normalised value by
#: eps / (2 var) ~ 1e-4 (a forgotten eps shows), to 3.
SCALES = (0.1, 0.5, 1.0, 3.0)
#: Every activation's variance is at least this fraction of scale^2 (smaller draws are redrawn).
VARIANCE_FLOOR = 0.05
#: Fewest examples in a batch (values behind every mean and variance).
MIN_ROWS = 3
GRADIENT_OF = {"dx": "x", "dgamma": "gamma", "dbeta": "beta"}


# ---------------------------------------------------------------- declaration
def batchnorm_spec() -> Spec:
    return Spec(
        name="BatchNormalization", module="layers", api="class",
        convention="book: eps 1e-6 (10e-7), momentum 0.9, biased running variance created at the first "
        "forward, 4-D input flattened per activation",
        domain=batchnorm_domain, cases=batchnorm_cases, reaches=BATCHNORM_REACHES, notebook=batchnorm_notebook,
        scale=batchnorm_scale,
        expected=batchnorm_expected, torch_expected=torch_batchnorm,
        gradients=tuple(GradientCheck(g, v, weighted(_fresh_forward)) for g, v in GRADIENT_OF.items()),
        program=batchnorm_program,
        checks=(
            Check("out", tol=PRODUCT_SUMS, description="train mode: gamma * (x - mean) / sqrt(var + 1e-6) + beta"),
            Check("running_mean", tol=SMALL_GRADIENTS, description="momentum * running + (1 - momentum) * mean"),
            Check("running_var", tol=SMALL_GRADIENTS, description="the same average of the biased batch variance"),
            Check("out_test", tol=PRODUCT_SUMS, compare=_test_mode_rule,
                  description="test mode (train_flg=False): the formula on the layer's running statistics"),
            Check("dx", tol=NORMALISED_GRADIENTS, description="backward: gradient with respect to x, x's shape"),
            Check("dgamma", tol=PRODUCT_SUMS),
            Check("dbeta", tol=PRODUCT_SUMS),
        ),
        own_gradient=OwnGradient(forward=batchnorm_forward_program, wrt=GRADIENT_OF, out="fwd_out"),
        diagnoses=(
            batchnorm_diagnosis(
                "unbiased variance",
                "The variance is the unbiased one (divided by N - 1, e.g. np.var(..., ddof=1)): the book, like the "
                "batch norm paper's training step, uses the biased variance np.mean(xc**2, axis=0), for "
                "normalising and for running_var.",
                convention=BOOK, readings=((BatchNormBug(unbiased_variance=True), ("out", "running_var", "out_test")),
                                           (BatchNormBug(unbiased_running_var=True), ("running_var", "out_test"))),
            ),
            batchnorm_diagnosis(
                "eps missing or misplaced",
                "The output matches normalising without the book's eps (or with eps outside the square root): "
                "divide by np.sqrt(var + 10e-7).",
                convention=BOOK,
                readings=(
                    (BatchNormBug(eps="ignored"), ("out", "out_test")),
                    (BatchNormBug(eps="outside"), ("out", "out_test")),
                    # eps dropped (or misplaced) in the train-mode branch only: the test-mode branch is separate
                    (BatchNormBug(eps="ignored"), ("out",)),
                    (BatchNormBug(eps="outside"), ("out",)),
                ),
            ),
            batchnorm_diagnosis(
                "momentum swapped",
                "The running statistics use the momentum the wrong way round: running = momentum * running + "
                "(1 - momentum) * batch, so the default 0.9 keeps 90% of the old value.",
                convention=BOOK, readings=((BatchNormBug(momentum_swapped=True), ("running_mean", "running_var")),),
            ),
        ),
        read_only=("xs", "x_test", "gamma", "beta", "x", "dout"),
    )


def _momentum(case: Case) -> float:
    return float(case.get("momentum", BOOK_MOMENTUM))


#: The book's batch norm: eps fixed, momentum from the constructor, a 4-D input flattened per activation.
BOOK = Convention(settings=lambda case: (BOOK_BATCHNORM_EPS, _momentum(case)), default_eps=BOOK_BATCHNORM_EPS,
                  flattening="per_activation")


# ---------------------------------------------------------------- cases
@st.composite
def batchnorm_cases(draw: st.DrawFn) -> Case:
    """2-D (N, D) or 4-D (N, C, H, W) batches with every activation's variance well above eps.

    Several train-mode batches (xs) then a test batch share one layer; a separate batch x (with dout) goes
    through forward and backward of a fresh layer.
    """
    features: tuple[int, ...] = (
        (draw(S.dims(1, 6)),) if draw(st.booleans()) else (draw(S.dims(1, 3)), draw(S.dims(1, 3)), draw(S.dims(1, 3)))
    )
    n = draw(S.dims(MIN_ROWS, 6))
    d = int(np.prod(features))
    steps = draw(st.integers(2, 4))
    scale = draw(st.sampled_from(SCALES))
    shift = draw(S.floats(-5.0, 5.0))

    def batches(count: int) -> st.SearchStrategy[np.ndarray]:
        def build(rng: np.random.Generator) -> np.ndarray:
            return scale * rng.standard_normal((count, n, *features)) + shift

        def ok(x: np.ndarray) -> bool:
            return all(_min_variance(b) >= VARIANCE_FLOOR * scale**2 for b in x)

        return S.seeded_until(build, ok)

    case: Case = {
        "xs": draw(batches(steps)),
        "x_test": scale * draw(S.seeded_arrays((draw(S.dims(1, 4)), *features), name="x_test")) + shift,
        "gamma": draw(S.seeded_arrays((d,), name="gamma")),
        "beta": draw(S.seeded_arrays((d,), name="beta")),
        "x": draw(batches(1))[0],
    }
    case["dout"] = draw(S.seeded_arrays(case["x"].shape, name="dout"))
    momentum = draw(st.one_of(st.none(), S.floats(*MOMENTUM_RANGE)))
    if momentum is not None:
        case["momentum"] = momentum
    return case


def batchnorm_notebook() -> list[NamedCase]:
    """The book's ch. 6 use (hidden activations of a 100-unit layer, gamma ones, beta zeros) in miniature,
    and a conv-shaped (N, C, H, W) input normalised per activation."""
    rng = np.random.RandomState(231)
    hidden = {
        "xs": np.stack([np.maximum(0, rng.randn(20, 8) @ rng.randn(8, 5)) + 0.1 * rng.randn(20, 5) for _ in range(3)]),
        "x_test": rng.randn(4, 5),
        "gamma": np.ones(5),
        "beta": np.zeros(5),
        "x": 5 * rng.randn(6, 5) + 12,
        "dout": rng.randn(6, 5),
    }
    conv = {
        "xs": 4 * rng.randn(2, 4, 2, 3, 3) + 10,
        "x_test": 4 * rng.randn(2, 2, 3, 3) + 10,
        "gamma": rng.randn(18),
        "beta": rng.randn(18),
        "x": rng.randn(4, 2, 3, 3),
        "dout": rng.randn(4, 2, 3, 3),
        "momentum": 0.8,
    }
    return [
        NamedCase("book ch. 6 in miniature: 3 batches of 20 hidden ReLU activations (D=5), gamma ones, beta zeros, "
                  "seed 231", hidden),
        NamedCase("conv-shaped x (4, 2, 3, 3) normalised per activation (D=18), momentum 0.8, seed 231", conv),
    ]


def batchnorm_scale() -> list[Case]:
    """Realistic sizes: ch. 6's hidden layer of 100 units on batches of 100 (three training batches), and a
    conv-shaped (16, 8, 8, 8) batch normalised per activation (512 of them).

    Their activations have standard deviations near 10, where the book's eps changes every output by a few 1e-8
    relative, below the tolerances: eps slips are the small cases' business, where a backward that is the exact
    gradient of a forward without eps is judged against that forward. These cases are too large for that
    (OwnGradient.max_entries), so with a small variance here the slip would cost the gradients their points.
    """
    rng = np.random.default_rng(6)
    hidden = {
        "xs": 10.0 * (np.maximum(0.0, rng.standard_normal((3, 100, 100))) + rng.standard_normal((3, 100, 100))),
        "x_test": S.standard_normal(6, (100, 100), 10.0, name="x_test"),
        "gamma": np.ones(100),
        "beta": np.zeros(100),
        "x": S.standard_normal(6, (100, 100), 10.0, name="x") + 3.0,
        "dout": S.standard_normal(6, (100, 100), name="dout"),
    }
    conv = {
        "xs": S.standard_normal(7, (2, 16, 8, 8, 8), 10.0, name="xs") - 2.0,
        "x_test": S.standard_normal(7, (4, 8, 8, 8), 10.0, name="x_test") - 2.0,
        "gamma": S.standard_normal(7, (512,), name="gamma"),
        "beta": S.standard_normal(7, (512,), name="beta"),
        "x": S.standard_normal(7, (16, 8, 8, 8), 10.0, name="x"),
        "dout": S.standard_normal(7, (16, 8, 8, 8), name="dout"),
        "momentum": 0.8,
    }
    return [hidden, conv]


def _min_variance(x: np.ndarray) -> float:
    return float(np.min(np.var(x.reshape(x.shape[0], -1), axis=0)))


def batchnorm_domain(case: Case) -> bool:
    """Every train batch and x: at least MIN_ROWS examples, every activation's variance at least
    VARIANCE_FLOOR * min(SCALES)^2 (eps at most 0.2% of it); momentum, if given, in MOMENTUM_RANGE; gamma,
    beta and x_test with the batches' activations, dout with x's shape."""
    floor = VARIANCE_FLOOR * min(SCALES) ** 2 * (1 - 1e-9)
    batches = [*case["xs"], case["x"]]
    d = case["gamma"].shape
    return (all(b.shape[0] >= MIN_ROWS and _min_variance(b) >= floor for b in batches)
            and all((b[0].size,) == d for b in (*batches, case["x_test"])) and case["beta"].shape == d
            and MOMENTUM_RANGE[0] <= _momentum(case) <= MOMENTUM_RANGE[1] and case["dout"].shape == case["x"].shape)


BATCHNORM_REACHES = (
    Reach("a 4-D x normalised per activation", lambda case: case["x"].ndim == 4),
    Reach("momentum given to the constructor", lambda case: "momentum" in case),
    Reach("an activation of variance below 0.05, where a missing eps shows",
          lambda case: _min_variance(case["xs"][0]) < 0.05),
)


# ---------------------------------------------------------------- programs and reference
def _bn_ctor(case: Case) -> tuple[tuple[Expr, ...], dict[str, Expr]]:
    kwargs: dict[str, Expr] = {"momentum": Input("momentum")} if "momentum" in case else {}
    return (Input("gamma"), Input("beta")), kwargs


def batchnorm_program(case: Case) -> Program:
    """Layer ``bn``: train-mode forward on xs[0], xs[1], ..., then test mode on x_test; layer ``bn2``: forward
    and backward on x (a fresh layer, so the gradients do not depend on the earlier calls)."""
    args, kwargs = _bn_ctor(case)
    steps: list[Call] = [call("bn", "layers", "BatchNormalization", *args, **kwargs)]
    steps += [
        method(f"train{t}", Result("bn"), "forward", Item(Input("xs"), t), Const(True)) for t in range(len(case["xs"]))
    ]
    steps += [
        method("test", Result("bn"), "forward", Input("x_test"), Const(False)),
        call("bn2", "layers", "BatchNormalization", *args, **kwargs),
        method("fwd", Result("bn2"), "forward", Input("x"), Const(True)),
        method("bwd", Result("bn2"), "backward", Input("dout")),
    ]
    return Program(
        steps=tuple(steps),
        outputs={
            "out": Result("train0"),
            "running_mean": Attr(Result("bn"), "running_mean"),
            "running_var": Attr(Result("bn"), "running_var"),
            "out_test": Result("test"),
            "dx": Result("bwd"),
            "dgamma": Attr(Result("bn2"), "dgamma"),
            "dbeta": Attr(Result("bn2"), "dbeta"),
            "fwd_out": Result("fwd"),
        },
    )


def batchnorm_forward_program(case: Case) -> Program:
    """A fresh layer's train-mode forward on x: what the gradients are the gradients of (OwnGradient)."""
    args, kwargs = _bn_ctor(case)
    return Program(
        steps=(
            call("bn2", "layers", "BatchNormalization", *args, **kwargs),
            method("fwd", Result("bn2"), "forward", Input("x"), Const(True)),
        ),
        outputs={"fwd_out": Result("fwd")},
    )


def _make_bn(case: Case) -> Any:
    kwargs = {"momentum": case["momentum"]} if "momentum" in case else {}
    return D.BatchNormalization(case["gamma"], case["beta"], **kwargs)


def _fresh_forward(case: Case) -> Any:
    return _make_bn(case).forward(case["x"], True)


def batchnorm_expected(case: Case) -> dict[str, Any]:
    bn = _make_bn(case)
    outs = [bn.forward(x, True) for x in case["xs"]]
    out_test = bn.forward(case["x_test"], False)
    bn2 = _make_bn(case)
    fwd_out = bn2.forward(case["x"], True)
    dx = bn2.backward(case["dout"])
    return {
        "out": outs[0],
        "running_mean": bn.running_mean,
        "running_var": bn.running_var,
        "out_test": out_test,
        "dx": dx,
        "dgamma": bn2.dgamma,
        "dbeta": bn2.dbeta,
        "fwd_out": fwd_out,
    }


# ---------------------------------------------------------------- the test-mode rule
def test_mode_output(case: Case, mean: np.ndarray, var: np.ndarray, eps_outside: bool = False) -> np.ndarray:
    """The book's test-mode formula on x_test with the given running statistics (eps inside the square root, or
    outside it)."""
    x_test = case["x_test"]
    rows = x_test.reshape(x_test.shape[0], -1)
    std = np.sqrt(var) + BOOK_BATCHNORM_EPS if eps_outside else np.sqrt(var + BOOK_BATCHNORM_EPS)
    return (case["gamma"] * (rows - mean) / std + case["beta"]).reshape(x_test.shape)


def _running(actual: Mapping[str, Any], name: str, size: int) -> np.ndarray | None:
    value = as_numeric(actual.get(name))
    if value is None or value.size != size:
        return None
    return value.astype(np.float64).reshape(size)


def _test_mode_rule(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
    """out_test is the test-mode formula on the running statistics: the reference's, or the ones the layer
    holds (so a wrong running average costs only the running_* checks), with eps inside the square root (the
    book) or outside it."""
    verdict = compare_arrays("out_test", actual.get("out_test"), expected["out_test"], check.atol, check.rtol)
    if verdict.passed:
        return verdict
    size = case["gamma"].shape[0]
    mean, var = _running(actual, "running_mean", size), _running(actual, "running_var", size)
    statistics = [(expected["running_mean"], expected["running_var"])]
    if mean is not None and var is not None and np.all(var >= 0):
        statistics.append((mean, var))
    for running_mean, running_var in statistics:
        for outside in (False, True):
            want = test_mode_output(case, running_mean, running_var, eps_outside=outside)
            other = compare_arrays("out_test", actual.get("out_test"), want, check.atol, check.rtol)
            if other.passed:
                return other
    return Verdict(False, f"{verdict.message}; test mode is gamma * (x - running_mean) / np.sqrt(running_var + "
                          "10e-7) + beta with the layer's running statistics",
                   where=verdict.where, where_label=verdict.where_label)


# ---------------------------------------------------------------- torch
def torch_batchnorm(case: Case) -> dict[str, Any]:
    """torch's batch_norm on the (N, C*H*W) rows; torch momentum = 1 - book momentum, and torch's running
    variance is unbiased (N - 1), rescaled by (N - 1) / N (every batch has the same N, the average starts
    at 0)."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    momentum = _momentum(case)
    gamma, beta = torch.tensor(case["gamma"]), torch.tensor(case["beta"])
    d = gamma.shape[0]
    running_mean = torch.zeros(d, dtype=gamma.dtype)
    running_var = torch.zeros(d, dtype=gamma.dtype)

    def rows(x: np.ndarray) -> Any:
        return torch.tensor(x.reshape(x.shape[0], -1))

    outs = [
        F.batch_norm(rows(x), running_mean, running_var, gamma, beta, True, 1.0 - momentum, BOOK_BATCHNORM_EPS)
        for x in case["xs"]
    ]
    n = case["xs"].shape[1]
    running_var = running_var * (n - 1) / n
    x_test = case["x_test"]
    out_test = F.batch_norm(rows(x_test), running_mean, running_var, gamma, beta, False, 0.0, BOOK_BATCHNORM_EPS)
    grads = torch_autograd(
        case,
        tuple((v, g) for g, v in GRADIENT_OF.items()),
        lambda x, g, b: F.batch_norm(
            x.reshape(x.shape[0], -1), None, None, g, b, True, 0.0, BOOK_BATCHNORM_EPS
        ).reshape(x.shape),
    )
    return {
        "out": outs[0].numpy().reshape(case["xs"][0].shape),
        "running_mean": running_mean.numpy(),
        "running_var": running_var.numpy(),
        "out_test": out_test.numpy().reshape(x_test.shape),
        "dx": grads["dx"],
        "dgamma": grads["dgamma"],
        "dbeta": grads["dbeta"],
    }
