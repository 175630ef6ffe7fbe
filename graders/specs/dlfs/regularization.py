"""Specs of the book's ``Dropout`` and ``BatchNormalization`` layers.

``Dropout`` follows the book's convention: ``dropout_ratio`` is the probability to DROP a unit, it is not
inverted (kept units pass unchanged), test mode multiplies by ``1 - dropout_ratio``; the book draws
``np.random.rand(*x.shape) > dropout_ratio`` from NumPy's global state, with no seed. The rules are those of
cs231n's dropout (graders/specs/dropout.py, graders/specs/maskstats.py): the keep rate within binomial tail
bounds, kept units unchanged, test-mode scale, dx through the same mask, a new mask at every train-mode forward
(two in a row overlap as independent masks do), and positions kept uniformly. The statistical checks fail a
correct mask with probability below 1e-7 each. The book uses the layer after affine layers: the main domain is
2-D (N, D); a 4-D x is the robustness check ``any_shape``, which judges the check ``shape`` (every output has
x's shape; no points on the main domain), so a bug of the main checks is not blamed on the shape as well.

``BatchNormalization`` (eps 10e-7 inside the sqrt, momentum 0.9, biased running variance created at the first
forward, 4-D input flattened per activation) is judged so that one bug costs points once: the test-mode output
is compared with the test-mode formula applied to the running statistics the layer holds (a wrong running
average costs ``running_mean``/``running_var`` only), and eps outside the square root is accepted there; the
gradients, where they differ from the reference's, are compared with central differences of the student's own
forward when that forward is within 5% of the reference's (a backward that is the exact gradient of a forward
with a slip keeps its points).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.checks import as_numeric, compare_arrays
from graders.specs import dropout as DO
from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, OwnGradient, Robustness, Spec, Verdict
from graders.specs.dlfs.common import array_of_shape, torch_autograd
from graders.specs.program import Attr, Call, Const, Expr, Input, Item, Program, Result, call, method
from graders.specs.torchutil import torch_one_thread
from graders.specs.variants import close, failed_on, matches_variant
from reference import dlfs as D
from reference.layers import BOOK_BATCHNORM_EPS


# ---------------------------------------------------------------- Dropout: cases
def _dropout_case(x: np.ndarray, dout: np.ndarray, ratio: float) -> Case:
    return {"x": x, "dout": dout, "dropout_ratio": ratio}


def _signed(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """|x| in [0.5, 3] with random signs: a dropped unit (0) is never confused with a kept one."""
    return rng.uniform(0.5, 3.0, shape) * rng.choice([-1.0, 1.0], shape)


@st.composite
def dropout_cases(draw: st.DrawFn) -> Case:
    """2-D (N, D) with N, D in [200, 300]: enough units for the statistics."""
    shape = draw(DO.statistical_shape())
    return _dropout_case(draw(DO.away_from_zero(shape)), draw(S.seeded_arrays(shape)), draw(S.floats(0.05, 0.95)))


def dropout_fixed() -> list[Case]:
    """The book's default ratio 0.5 and its ch. 6 experiment's 0.15, on a (500, 500) batch (seed 231)."""
    rng = np.random.RandomState(231)
    x = rng.uniform(0.5, 3.0, (500, 500)) * rng.choice([-1.0, 1.0], (500, 500))
    dout = rng.randn(500, 500)
    return [_dropout_case(x, dout, ratio) for ratio in (0.5, 0.15)]


def dropout_scale() -> list[Case]:
    """Ch. 6's overfitting experiment: hidden layers of 100 units, batches of 100, dropout_ratio 0.2."""
    rng = np.random.default_rng(100)
    return [_dropout_case(_signed(rng, (100, 100)), rng.standard_normal((100, 100)), 0.2)]


def dropout_any_shape() -> list[Case]:
    """A 4-D x (N, C, H, W) of 40,960 units (robust:any_shape)."""
    rng = np.random.default_rng(4)
    shape = (8, 16, 16, 20)
    return [_dropout_case(_signed(rng, shape), rng.standard_normal(shape), 0.4)]


# ---------------------------------------------------------------- Dropout: program and reference
def dropout_program(case: Case) -> Program:
    """Train-mode forward, backward through it, a test-mode forward, then a second train-mode forward of the same
    layer (it must draw a new mask)."""
    return Program(
        steps=(
            call("layer", "layers", "Dropout", Input("dropout_ratio")),
            method("train", Result("layer"), "forward", Input("x"), Const(True)),
            method("bwd", Result("layer"), "backward", Input("dout")),
            method("test", Result("layer"), "forward", Input("x"), Const(False)),
            method("next", Result("layer"), "forward", Input("x"), Const(True)),
        ),
        outputs={"out": Result("train"), "dx": Result("bwd"), "out_test": Result("test"), "out_next": Result("next")},
    )


def dropout_expected(case: Case) -> dict[str, Any]:
    layer = D.Dropout(case["dropout_ratio"])
    out = layer.forward(case["x"], True)
    dx = layer.backward(case["dout"])
    out_test = layer.forward(case["x"], False)
    return {"out": out, "dx": dx, "out_test": out_test, "out_next": layer.forward(case["x"], True)}


# ---------------------------------------------------------------- Dropout: rules
def _ratio_meaning(case: Case) -> str:
    return f"dropout_ratio = {case['dropout_ratio']:.4g} (the probability to DROP a unit)"


def _two_forwards(case: Case) -> str:
    return "two train-mode forwards of the same layer"


def _kept_unchanged_rule(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
    out = array_of_shape(actual, "out", case["x"].shape)
    if isinstance(out, Verdict):
        return out
    x = case["x"]
    kept = out != 0
    if not np.any(kept):
        return Verdict(False, "out is all zeros: no unit was kept")
    wrong = ~np.isclose(out[kept], x[kept], rtol=check.rtol, atol=check.atol)
    if not np.any(wrong):
        return Verdict(True)
    first = int(np.argmax(wrong))
    index = tuple(int(i) for i in np.argwhere(kept)[first])
    return Verdict(
        False,
        f"kept units must pass unchanged (the book's dropout is not inverted): at index {index} out = "
        f"{out[kept][first]:.6g} but x = {x[kept][first]:.6g} ({int(wrong.sum())} of {int(kept.sum())} kept "
        "units differ)",
    )


def _test_scale_rule(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
    want = case["x"] * (1.0 - case["dropout_ratio"])
    verdict = compare_arrays("test-mode out", actual.get("out_test"), want, check.atol, check.rtol)
    if verdict.passed:
        return verdict
    return Verdict(False, f"forward(x, train_flg=False) must return x * (1 - dropout_ratio): {verdict.message}")


def _kept_units(run: CaseRun) -> tuple[np.ndarray, np.ndarray] | None:
    out = as_numeric(run.actual.get("out"))
    if out is None or out.shape != run.case["x"].shape:
        return None
    kept = out != 0
    return out[kept].astype(np.float64), run.case["x"][kept]


def _inverted(runs: Sequence[CaseRun]) -> bool:
    """Kept units are x / (1 - ratio), or test mode returns x itself, on every run failing those checks."""
    seen = False
    for run in runs:
        ratio = run.case["dropout_ratio"]
        if failed_on(run, ("kept_unchanged",)):
            units = _kept_units(run)
            if units is None or not np.allclose(units[0], units[1] / (1.0 - ratio), rtol=1e-7, atol=0.0):
                return False
            seen = True
        if failed_on(run, ("test_scale",)):
            if not close(run.actual.get("out_test"), run.case["x"], rtol=1e-12, atol=0.0):
                return False
            seen = True
    return seen


def _ratio_as_keep(runs: Sequence[CaseRun]) -> bool:
    """The keep rate matches dropout_ratio itself on failing keep-rate runs that tell the two apart."""
    seen = False
    for run in runs:
        out = as_numeric(run.actual.get("out"))
        if not failed_on(run, ("keep_rate",)) or out is None:
            continue
        ratio = run.case["dropout_ratio"]
        tol = DO.keep_tolerance(ratio, out.size)
        if abs(2.0 * ratio - 1.0) <= 3.0 * tol:
            continue
        if abs(np.count_nonzero(out) / out.size - ratio) > tol:
            return False
        seen = True
    return seen


BOOK_DRAW = "np.random.rand(*x.shape) > self.dropout_ratio"
DROPOUT_INVERTED = Diagnosis(
    "inverted dropout",
    "The book's dropout is not inverted: in train mode kept units pass unchanged (x * mask), and test mode "
    "returns x * (1 - dropout_ratio). Scaling by 1 / (1 - ratio) at train time is the cs231n/torch "
    "convention.",
    _inverted,
)
DROPOUT_RATIO_AS_KEEP = Diagnosis(
    "dropout_ratio taken as keep probability",
    "The keep rate matches dropout_ratio: in the book dropout_ratio is the probability to DROP a unit "
    "(mask = np.random.rand(*x.shape) > self.dropout_ratio).",
    _ratio_as_keep,
)
DROPOUT_SAME_MASK = Diagnosis(
    "same mask at every forward",
    "Two train-mode forwards gave the very same mask: draw a new random mask at every forward "
    "(self.mask = np.random.rand(*x.shape) > self.dropout_ratio), without reseeding to a fixed number and "
    "without a fixed pattern.",
    DO.identical_masks("out", "out_next", "mask_varies"),
)
DROPOUT_ANY_SHAPE = Robustness(
    "any_shape",
    "runs on a 4-D x (N, C, H, W) and returns x's shape, as on a 2-D x",
    "Dropout should accept x of any shape, as the book's layer does (np.random.rand(*x.shape)): on a 4-D x it "
    "raised or returned an array of another shape.",
    cases=dropout_any_shape,
    checks=("shape",),
)


def dropout_spec() -> Spec:
    return Spec(
        name="Dropout",
        module="layers",
        api="class",
        cases=dropout_cases,
        fixed_cases=dropout_fixed,
        scale_cases=dropout_scale,
        program=dropout_program,
        expected=dropout_expected,
        checks=(
            Check(
                "keep_rate",
                compare=DO.keep_count_rule(lambda case: 1.0 - case["dropout_ratio"], _ratio_meaning),
                description="about 1 - dropout_ratio of the units are kept (binomial tail bounds)",
            ),
            Check(
                "kept_unchanged",
                atol=0.0,
                rtol=1e-12,
                compare=_kept_unchanged_rule,
                description="train mode: kept units equal x, the others 0 (not inverted)",
            ),
            Check(
                "test_scale",
                atol=0.0,
                rtol=1e-12,
                compare=_test_scale_rule,
                description="test mode: x * (1 - dropout_ratio)",
            ),
            Check(
                "dx",
                atol=1e-12,
                rtol=1e-7,
                compare=DO.masked_gradient_rule,
                description="backward: dout through the same mask as the train-mode forward",
            ),
            Check(
                "mask_varies",
                compare=DO.fresh_mask_rule("out", "out_next", _two_forwards),
                description="the next train-mode forward draws a new mask, independent of the last",
            ),
            Check(
                "uniform",
                compare=DO.uniform_rule("out"),
                description="rows, columns, even positions and neighbours keep units at the mask's own rate",
            ),
            Check(
                "shape",
                points=0.0,
                compare=DO.shape_rule(("out", "dx", "out_test", "out_next")),
                description="every output has x's shape (scored on a 4-D x: robust:any_shape)",
            ),
        ),
        diagnoses=(
            DROPOUT_INVERTED,
            DROPOUT_RATIO_AS_KEEP,
            DROPOUT_SAME_MASK,
            Diagnosis("mask shared by the batch", DO.shared_sentence(BOOK_DRAW), DO.shared_by_batch()),
            Diagnosis("mask not uniform", DO.patterned_sentence(BOOK_DRAW), DO.patterned()),
        ),
        convention="book: dropout_ratio = drop probability, not inverted, test mode scales by 1 - ratio; 2-D x "
        "(any shape: robustness)",
        read_only=("x", "dout"),
        max_examples=5,
        robustness=(DROPOUT_ANY_SHAPE,),
        extra={"verified_by": "mask rules; the reference passes them (tests/graders/test_dlfs_specs.py)"},
    )


@st.composite
def batchnorm_cases(draw: st.DrawFn) -> Case:
    """2-D (N, D) or 4-D (N, C, H, W) batches with every activation's variance well above eps.

    Several train-mode batches (xs) then a test batch share one layer; a separate batch x (with dout) goes
    through forward and backward of a fresh layer. Scales from 0.1 to 3 put eps = 1e-6 within reach of the
    checks (a forgotten eps changes the output by eps / (2 var)).
    """
    features: tuple[int, ...] = (
        (draw(S.dims(1, 6)),) if draw(st.booleans()) else (draw(S.dims(1, 3)), draw(S.dims(1, 3)), draw(S.dims(1, 3)))
    )
    n = draw(S.dims(3, 6))
    d = int(np.prod(features))
    steps = draw(st.integers(2, 4))
    scale = draw(st.sampled_from([0.1, 0.5, 1.0, 3.0]))
    shift = draw(S.floats(-5.0, 5.0))

    def batches(count: int) -> st.SearchStrategy[np.ndarray]:
        def build(rng: np.random.Generator) -> np.ndarray:
            return scale * rng.standard_normal((count, n, *features)) + shift

        def ok(x: np.ndarray) -> bool:
            return all(float(np.min(np.var(b.reshape(n, -1), axis=0))) >= 0.05 * scale**2 for b in x)

        return S.seeded_until(build, ok)

    case: Case = {
        "xs": draw(batches(steps)),
        "x_test": scale * draw(S.seeded_arrays((draw(S.dims(1, 4)), *features))) + shift,
        "gamma": draw(S.seeded_arrays((d,))),
        "beta": draw(S.seeded_arrays((d,))),
        "x": draw(batches(1))[0],
    }
    case["dout"] = draw(S.seeded_arrays(case["x"].shape))
    momentum = draw(st.one_of(st.none(), S.floats(0.5, 0.99)))
    if momentum is not None:
        case["momentum"] = momentum
    return case


def batchnorm_fixed() -> list[Case]:
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
    return [hidden, conv]


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
        "x_test": 10.0 * rng.standard_normal((100, 100)),
        "gamma": np.ones(100),
        "beta": np.zeros(100),
        "x": 10.0 * rng.standard_normal((100, 100)) + 3.0,
        "dout": rng.standard_normal((100, 100)),
    }
    conv = {
        "xs": 10.0 * rng.standard_normal((2, 16, 8, 8, 8)) - 2.0,
        "x_test": 10.0 * rng.standard_normal((4, 8, 8, 8)) - 2.0,
        "gamma": rng.standard_normal(512),
        "beta": rng.standard_normal(512),
        "x": 10.0 * rng.standard_normal((16, 8, 8, 8)),
        "dout": rng.standard_normal((16, 8, 8, 8)),
        "momentum": 0.8,
    }
    return [hidden, conv]


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


def torch_batchnorm(case: Case) -> dict[str, Any]:
    """torch's batch_norm on the (N, C*H*W) rows; torch momentum = 1 - book momentum, and torch's running
    variance is unbiased (N - 1), rescaled by (N - 1) / N (every batch has the same N, the average starts
    at 0)."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    momentum = float(case.get("momentum", 0.9))
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
        (("x", "dx"), ("gamma", "dgamma"), ("beta", "dbeta")),
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


def book_batchnorm_variant(
    case: Case,
    *,
    eps: float | None = BOOK_BATCHNORM_EPS,
    eps_outside: bool = False,
    ddof_norm: int = 0,
    ddof_running: int = 0,
    momentum_swapped: bool = False,
) -> dict[str, Any]:
    """What a batch norm with one of the known bugs returns for out, the running statistics and out_test."""
    momentum = float(case.get("momentum", 0.9))
    if momentum_swapped:
        momentum = 1.0 - momentum
    gamma, beta = case["gamma"], case["beta"]

    def normalise(rows: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        if eps is None:
            return (rows - mean) / np.sqrt(var)
        if eps_outside:
            return (rows - mean) / (np.sqrt(var) + eps)
        return (rows - mean) / np.sqrt(var + eps)

    running_mean = running_var = np.zeros(gamma.shape[0])
    outs = []
    for x in case["xs"]:
        rows = x.reshape(x.shape[0], -1)
        mean = rows.mean(axis=0)
        outs.append((gamma * normalise(rows, mean, rows.var(axis=0, ddof=ddof_norm)) + beta).reshape(x.shape))
        running_mean = momentum * running_mean + (1.0 - momentum) * mean
        running_var = momentum * running_var + (1.0 - momentum) * rows.var(axis=0, ddof=ddof_running)
    x_test = case["x_test"]
    test_rows = x_test.reshape(x_test.shape[0], -1)
    out_test = (gamma * normalise(test_rows, running_mean, running_var) + beta).reshape(x_test.shape)
    return {"out": outs[0], "running_mean": running_mean, "running_var": running_var, "out_test": out_test}


def _bn_variants(*variants: tuple[dict[str, Any], tuple[str, ...]]) -> Callable[[Sequence[CaseRun]], bool]:
    """Applies when the failing outputs match one of the buggy variants: (bug options, the outputs the bug
    changes)."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        return any(
            matches_variant(runs, functools.partial(book_batchnorm_variant, **options), outputs, rtol=1e-6, atol=1e-9)
            for options, outputs in variants
        )

    return applies


BN_UNBIASED = Diagnosis(
    "unbiased variance",
    "The variance is the unbiased one (divided by N - 1, e.g. np.var(..., ddof=1)): the book, like the batch "
    "norm paper's training step, uses the biased variance np.mean(xc**2, axis=0), for normalising and for "
    "running_var.",
    _bn_variants(
        ({"ddof_norm": 1, "ddof_running": 1}, ("out", "running_var", "out_test")),
        ({"ddof_running": 1}, ("running_var", "out_test")),
    ),
)
BN_EPS = Diagnosis(
    "eps missing or misplaced",
    "The output matches normalising without the book's eps (or with eps outside the square root): divide by "
    "np.sqrt(var + 10e-7).",
    _bn_variants(
        ({"eps": None}, ("out", "out_test")),
        ({"eps_outside": True}, ("out", "out_test")),
        # eps dropped (or misplaced) in the train-mode branch only: the test-mode branch is separate code
        ({"eps": None}, ("out",)),
        ({"eps_outside": True}, ("out",)),
    ),
)
BN_MOMENTUM = Diagnosis(
    "momentum swapped",
    "The running statistics use the momentum the wrong way round: running = momentum * running + "
    "(1 - momentum) * batch, so the default 0.9 keeps 90% of the old value.",
    _bn_variants(({"momentum_swapped": True}, ("running_mean", "running_var"))),
)


def batchnorm_spec() -> Spec:
    def scalar(case: Case) -> float:
        return float(np.sum(_make_bn(case).forward(case["x"], True) * case["dout"]))

    return Spec(
        name="BatchNormalization",
        module="layers",
        api="class",
        cases=batchnorm_cases,
        fixed_cases=batchnorm_fixed,
        program=batchnorm_program,
        expected=batchnorm_expected,
        torch_expected=torch_batchnorm,
        checks=(
            Check(
                "out",
                atol=1e-9,
                rtol=1e-7,
                description="train mode: gamma * (x - mean) / sqrt(var + 1e-6) + beta",
            ),
            Check(
                "running_mean",
                atol=1e-10,
                rtol=1e-7,
                description="momentum * running + (1 - momentum) * mean",
            ),
            Check(
                "running_var",
                atol=1e-10,
                rtol=1e-7,
                description="the same average of the biased batch variance",
            ),
            Check(
                "out_test",
                atol=1e-9,
                rtol=1e-7,
                compare=_test_mode_rule,
                description="test mode (train_flg=False): the formula on the layer's running statistics",
            ),
            Check("dx", atol=1e-9, rtol=1e-6, description="backward: gradient with respect to x, x's shape"),
            Check("dgamma", atol=1e-9, rtol=1e-7),
            Check("dbeta", atol=1e-9, rtol=1e-7),
        ),
        gradients=tuple(GradientCheck(g, v, scalar) for g, v in (("dx", "x"), ("dgamma", "gamma"), ("dbeta", "beta"))),
        diagnoses=(BN_UNBIASED, BN_EPS, BN_MOMENTUM),
        convention="book: eps 1e-6 (10e-7), momentum 0.9, biased running variance created at the first "
        "forward, 4-D input flattened per activation",
        read_only=("xs", "x_test", "gamma", "beta", "x", "dout"),
        scale_cases=batchnorm_scale,
        own_gradient=OwnGradient(
            forward=batchnorm_forward_program, wrt={"dx": "x", "dgamma": "gamma", "dbeta": "beta"}, out="fwd_out"
        ),
    )
