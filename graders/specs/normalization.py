"""Specs of cs231n's normalisation layers: batch, spatial batch, layer and group normalisation.

Batch norm's forward is graded the way the notebook uses it: several train-mode calls that share ONE
``bn_param`` dict (the worker passes the same object to every step, as a notebook cell would), then the dict
is switched to test mode with ``bn_param.update({"mode": "test"})`` and called once more. The checks are the
first train output, the running mean and variance the student left in ``bn_param``, and the test-mode output.

Cases keep every normalised group's variance well above eps (x = scale * gaussian + shift; groups whose
variance falls below 5% of scale^2 are redrawn, and scale is drawn after eps so that eps stays below 0.2% of
that floor), need at least 3 values per statistic, and draw non-default eps (1e-5 .. 1e-3) and momentum
(0.5 .. 0.99) as well as the defaults. Why eps stays so small: a forward with an eps slip (eps left out, eps
outside the square root) then stays within a fraction of a percent of the reference, which is what lets its
backward be judged against that forward (see "Backward passes" below) instead of losing points twice.

Backward passes use the student's own forward and cache (its layout is theirs). The forward call is a setup
step (when it raises, the case says nothing about the backward), the backward's program also fetches the
forward's ``out``, and where the comparison with the reference fails, the gradients are re-judged against
central differences of the student's forward (``OwnGradient``): a backward that is the exact gradient of a
forward with a small slip keeps its points; the forward alone loses them.

Conventions accepted besides the reference's: test mode may normalise with eps outside the square root,
(x - running_mean) / (sqrt(running_var) + eps) (no hand-out says where eps goes in test mode, and both forms
are common in students' and published code); the size-1 shapes that compare_arrays accepts with a warning
((1, D) running statistics, dgamma / dbeta summed with keepdims=True).

Scale cases: N = 64 and D = 100, and (8, 16, 16, 16) images. Those of the backwards use a large spread (std
200 .. 600) with the default eps, so an eps slip stays below the checks' tolerances there: these cases are too
large for the finite differences of the student's forward, and they are there for size-dependent bugs.

Torch adapters map the conventions: cs231n momentum m is torch momentum 1 - m, and torch's running variance
is unbiased, so it is multiplied by (count - 1) / count before comparing (the scaling commutes with the
moving average because every batch has the same count and the average starts from 0).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st

from graders.checks import as_numeric, broadcast_form, compare_arrays
from graders.specs import strategies as S
from graders.specs.base import (
    Case,
    CaseRun,
    Check,
    CompareFn,
    Diagnosis,
    GradientCheck,
    OwnGradient,
    Spec,
    Verdict,
)
from graders.specs.dense import forward_program, weighted_sum
from graders.specs.program import Expr, Input, Item, Program, Result, as_setup, call, method
from graders.specs.torchutil import torch_one_thread
from graders.specs.variants import close, failed_on, scaled_diagnosis, variant_diagnosis
from reference import cs231n as R
from reference.functional import normalization as NORM

DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.9
#: A normalised group is redrawn when its variance is below this fraction of scale^2.
VARIANCE_FLOOR = 0.05
#: eps is at most this fraction of the variance floor (scale is drawn large enough for it): an eps slip in a
#: student's forward then changes its output by a fraction of a percent, well within OwnGradient's closeness.
EPS_SHARE = 0.002
#: Smallest and largest scale of generated inputs (the smallest rises with eps, see EPS_SHARE).
SCALE_RANGE = (0.5, 3.0)

Grads = ("dx", "dgamma", "dbeta")
#: Each gradient of a normalisation layer's backward -> the input it differentiates.
GRADIENT_OF = {"dx": "x", "dgamma": "gamma", "dbeta": "beta"}


# ---------------------------------------------------------------- cases
def _eps() -> st.SearchStrategy[float | None]:
    """None (use the default) or a non-default eps between 1e-5 and 1e-3."""
    return st.one_of(st.none(), S.floats(-5.0, -3.0).map(lambda e: float(10.0**e)))


def _momentum() -> st.SearchStrategy[float | None]:
    return st.one_of(st.none(), S.floats(0.5, 0.99))


def _scale(eps: float | None) -> st.SearchStrategy[float]:
    """The inputs' scale: in SCALE_RANGE, and large enough that eps is at most EPS_SHARE of the variance floor
    (for eps = 1e-3 that is a scale of at least 3.2)."""
    low = max(SCALE_RANGE[0], math.sqrt((DEFAULT_EPS if eps is None else eps) / (EPS_SHARE * VARIANCE_FLOOR)))
    return S.floats(low, max(SCALE_RANGE[1], low + 1.0))


def _with_options(base: dict[str, Any], **options: float | None) -> dict[str, Any]:
    """A parameter dict holding only the options that were drawn (None means: leave the default)."""
    return {**base, **{k: v for k, v in options.items() if v is not None}}


def _min_variance(x: np.ndarray, grouping: Callable[[np.ndarray], np.ndarray]) -> float:
    """The smallest variance among the columns that ``grouping`` lays out, one per normalised group."""
    return float(np.min(np.var(grouping(x), axis=0)))


def _batch_columns(x: np.ndarray) -> np.ndarray:
    return NORM.channels_last_rows(x) if x.ndim == 4 else x


def _spread_batches(
    shape: tuple[int, ...], scale: float, shift: float, grouping: Callable[[np.ndarray], np.ndarray]
) -> st.SearchStrategy[np.ndarray]:
    """scale * gaussian + shift of ``shape``, each leading-axis slice with every group's variance above the
    floor (the leading axis indexes separate batches / calls)."""

    def build(rng: np.random.Generator) -> np.ndarray:
        return scale * rng.standard_normal(shape) + shift

    def ok(x: np.ndarray) -> bool:
        return all(_min_variance(batch, grouping) >= VARIANCE_FLOOR * scale**2 for batch in x)

    return S.seeded_until(build, ok)


@st.composite
def _feature_shape(draw: st.DrawFn, spatial: bool) -> tuple[int, tuple[int, ...]]:
    """(N, per-example shape) with at least 3 values behind every batch statistic."""
    if not spatial:
        return draw(S.dims(3, 8)), (draw(S.dims(1, 6)),)
    c, h, w = draw(S.dims(1, 4)), draw(S.dims(1, 3)), draw(S.dims(1, 3))
    n = draw(S.dims(max(1, -(-3 // (h * w))), 3))
    return n, (c, h, w)


@st.composite
def batchnorm_forward_cases(draw: st.DrawFn, spatial: bool = False) -> Case:
    n, features = draw(_feature_shape(spatial))
    c = features[0]
    steps = draw(st.integers(2, 4))
    eps = draw(_eps())
    scale, shift = draw(_scale(eps)), draw(S.floats(-5.0, 5.0))
    xs = draw(_spread_batches((steps, n, *features), scale, shift, _batch_columns))
    x_test = scale * draw(S.seeded_arrays((draw(S.dims(1, 4)), *features))) + shift
    return {
        "xs": xs,
        "x_test": x_test,
        "gamma": draw(S.seeded_arrays((c,))),
        "beta": draw(S.seeded_arrays((c,))),
        "bn_param": _with_options({"mode": "train"}, eps=eps, momentum=draw(_momentum())),
        "to_test": {"mode": "test"},
    }


@st.composite
def batchnorm_backward_cases(draw: st.DrawFn, spatial: bool = False) -> Case:
    n, features = draw(_feature_shape(spatial))
    c = features[0]
    eps = draw(_eps())
    scale, shift = draw(_scale(eps)), draw(S.floats(-5.0, 5.0))
    x = draw(_spread_batches((1, n, *features), scale, shift, _batch_columns))[0]
    return {
        "x": x,
        "gamma": draw(S.seeded_arrays((c,))),
        "beta": draw(S.seeded_arrays((c,))),
        "bn_param": _with_options({"mode": "train"}, eps=eps, momentum=draw(_momentum())),
        "dout": draw(S.seeded_arrays(x.shape)),
    }


@st.composite
def layernorm_cases(draw: st.DrawFn) -> Case:
    n, d = draw(S.dims(1, 5)), draw(S.dims(3, 8))
    eps = draw(_eps())
    scale, shift = draw(_scale(eps)), draw(S.floats(-5.0, 5.0))
    x = draw(_spread_batches((1, n, d), scale, shift, lambda b: b.T))[0]
    return {
        "x": x,
        "gamma": draw(S.seeded_arrays((d,))),
        "beta": draw(S.seeded_arrays((d,))),
        "ln_param": _with_options({}, eps=eps),
        "dout": draw(S.seeded_arrays(x.shape)),
    }


def _groups_as_columns(groups: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x.reshape(x.shape[0] * groups, -1).T


@st.composite
def groupnorm_cases(draw: st.DrawFn) -> Case:
    groups, per_group = draw(S.dims(1, 3)), draw(S.dims(1, 3))
    h, w = draw(S.dims(1, 3)), draw(S.dims(1, 3))
    if per_group * h * w < 3:
        h = 3
    n, c = draw(S.dims(1, 3)), groups * per_group
    eps = draw(_eps())
    scale, shift = draw(_scale(eps)), draw(S.floats(-5.0, 5.0))
    x = draw(_spread_batches((1, n, c, h, w), scale, shift, _groups_as_columns(groups)))[0]
    return {
        "x": x,
        "gamma": draw(S.seeded_arrays((1, c, 1, 1))),
        "beta": draw(S.seeded_arrays((1, c, 1, 1))),
        "G": groups,
        "gn_param": _with_options({}, eps=eps),
        "dout": draw(S.seeded_arrays(x.shape)),
    }


# ---------------------------------------------------------------- fixed (notebook-shaped) cases
def _notebook_activations(rng: np.random.RandomState, batches: int) -> np.ndarray:
    """The notebook's batch-norm inputs: relu(X W1) W2 for X (200, 50), W1 (50, 60), W2 (60, 3)."""
    w1, w2 = rng.randn(50, 60), rng.randn(60, 3)
    return np.stack([np.maximum(0, rng.randn(200, 50) @ w1) @ w2 for _ in range(batches)])


def batchnorm_forward_fixed() -> list[Case]:
    rng = np.random.RandomState(231)
    activations = _notebook_activations(rng, 6)
    notebook = {
        "xs": activations[:5],
        "x_test": activations[5],
        "gamma": np.array([1.0, 2.0, 3.0]),
        "beta": np.array([11.0, 12.0, 13.0]),
        "bn_param": {"mode": "train"},
        "to_test": {"mode": "test"},
    }
    return [notebook]


def spatial_batchnorm_forward_fixed() -> list[Case]:
    rng = np.random.RandomState(231)
    xs = 4 * rng.randn(3, 2, 3, 4, 5) + 10
    return [
        {
            "xs": xs,
            "x_test": 4 * rng.randn(2, 3, 4, 5) + 10,
            "gamma": np.array([3.0, 4.0, 5.0]),
            "beta": np.array([6.0, 7.0, 8.0]),
            "bn_param": {"mode": "train"},
            "to_test": {"mode": "test"},
        }
    ]


def _gradient_check_case(
    rng: np.random.RandomState, shape: tuple[int, ...], param_shape: tuple[int, ...]
) -> Case:
    """The notebook's gradient-check inputs: x = 5 * randn + 12, gaussian gamma, beta and dout."""
    return {
        "x": 5 * rng.randn(*shape) + 12,
        "gamma": rng.randn(*param_shape),
        "beta": rng.randn(*param_shape),
        "dout": rng.randn(*shape),
    }


def batchnorm_backward_fixed() -> list[Case]:
    return [{**_gradient_check_case(np.random.RandomState(231), (4, 5), (5,)), "bn_param": {"mode": "train"}}]


def spatial_batchnorm_backward_fixed() -> list[Case]:
    rng = np.random.RandomState(231)
    return [{**_gradient_check_case(rng, (2, 3, 4, 5), (3,)), "bn_param": {"mode": "train"}}]


def layernorm_fixed() -> list[Case]:
    return [{**_gradient_check_case(np.random.RandomState(231), (4, 5), (5,)), "ln_param": {}}]


def groupnorm_fixed() -> list[Case]:
    rng = np.random.RandomState(231)
    return [{**_gradient_check_case(rng, (2, 6, 4, 5), (1, 6, 1, 1)), "G": 2, "gn_param": {}}]


# ---------------------------------------------------------------- scale cases (realistic sizes)
#: Per-feature std of the forwards' scale cases: activations of a realistic size.
FORWARD_SPREAD = (1.0, 10.0)
#: Per-feature std of the backwards' scale cases: with the default eps, an eps slip (eps left out, eps outside
#: the square root: eps / std <= 5e-8) changes their values by less than the checks' tolerances (rtol 1e-7 for
#: dgamma). These cases are too large for the finite differences of the student's forward
#: (OwnGradient.max_entries), so without this a backward that is the exact gradient of a forward with such a
#: slip would lose its points here for the forward's bug.
BACKWARD_SPREAD = (200.0, 600.0)
SCALE_SEED = 2310


def _spread(rng: np.random.RandomState, shape: tuple[int, ...], axis: int, spread: tuple[float, float]
            ) -> np.ndarray:
    """Gaussian values of ``shape`` with a std drawn from ``spread`` and a shift from [-10, 10] per index along
    ``axis`` (per feature, channel or example: whatever the layer normalises separately)."""
    size = shape[axis]
    layout = [1] * len(shape)
    layout[axis] = size
    std = rng.uniform(*spread, size=size).reshape(layout)
    shift = rng.uniform(-10.0, 10.0, size=size).reshape(layout)
    return std * rng.randn(*shape) + shift


def _affine_params(rng: np.random.RandomState, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    return {"gamma": 1.0 + 0.5 * rng.randn(*shape), "beta": rng.randn(*shape)}


def batchnorm_forward_scale(spatial: bool) -> list[Case]:
    """Three train batches and a test batch: (64, 100), or (8, 16, 16, 16) images for spatial batch norm."""
    rng = np.random.RandomState(SCALE_SEED)
    shape = (8, 16, 16, 16) if spatial else (64, 100)
    return [{
        "xs": np.stack([_spread(rng, shape, 1, FORWARD_SPREAD) for _ in range(3)]),
        "x_test": _spread(rng, shape, 1, FORWARD_SPREAD),
        **_affine_params(rng, (shape[1],)),
        "bn_param": {"mode": "train"},
        "to_test": {"mode": "test"},
    }]


def batchnorm_backward_scale(spatial: bool) -> list[Case]:
    rng = np.random.RandomState(SCALE_SEED + 1)
    shape = (8, 16, 16, 16) if spatial else (64, 100)
    x = _spread(rng, shape, 1, BACKWARD_SPREAD)
    return [{"x": x, **_affine_params(rng, (shape[1],)), "bn_param": {"mode": "train"}, "dout": rng.randn(*shape)}]


def layernorm_scale(spread: tuple[float, float]) -> Callable[[], list[Case]]:
    """(64, 100): every example (row) with its own spread."""

    def cases() -> list[Case]:
        rng = np.random.RandomState(SCALE_SEED + 2)
        x = _spread(rng, (64, 100), 0, spread)
        return [{"x": x, **_affine_params(rng, (100,)), "ln_param": {}, "dout": rng.randn(*x.shape)}]

    return cases


def groupnorm_scale(spread: tuple[float, float]) -> Callable[[], list[Case]]:
    """(8, 16, 16, 16) in 4 groups of 4 channels, every channel with its own spread."""

    def cases() -> list[Case]:
        rng = np.random.RandomState(SCALE_SEED + 3)
        x = _spread(rng, (8, 16, 16, 16), 1, spread)
        return [{"x": x, **_affine_params(rng, (1, 16, 1, 1)), "G": 4, "gn_param": {}, "dout": rng.randn(*x.shape)}]

    return cases


# ---------------------------------------------------------------- programs and checks
#: The output holding the snapshot of bn_param taken after the train-mode calls.
TRAINED_PARAM = "bn_param_after_train"


def batchnorm_forward_program(name: str) -> Callable[[Case], Program]:
    """Train-mode calls on xs[0], xs[1], ... with one shared bn_param, then test mode on x_test.

    The running statistics are read from a snapshot of bn_param (``bn_param.copy()``) taken right after the
    train calls, so a test-mode call that rewrites them cannot hide what training left there.
    """

    def program(case: Case) -> Program:
        params = (Input("gamma"), Input("beta"), Input("bn_param"))
        steps: list[Any] = [
            call(f"train{t}", "layers", name, Item(Input("xs"), t), *params) for t in range(len(case["xs"]))
        ]
        steps.append(method("snapshot", Input("bn_param"), "copy"))
        steps.append(method("switch_to_test", Input("bn_param"), "update", Input("to_test")))
        steps.append(call("test", "layers", name, Input("x_test"), *params))
        return Program(
            steps=tuple(steps),
            outputs={
                "out": Item(Result("train0"), 0),
                TRAINED_PARAM: Result("snapshot"),
                "out_test": Item(Result("test"), 0),
            },
        )

    return program


def stored_in(output: str, param: str) -> CompareFn:
    """Compare the entry named like the check in the student's ``param`` dict, fetched as ``output``."""

    def compare(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
        stored = actual.get(output)
        key = check.name
        if not isinstance(stored, Mapping):
            return Verdict(False, f"{param} could not be read back after the calls")
        if key not in stored:
            return Verdict(
                False,
                f"{param}[{key!r}] was never set: store the running statistics into {param} on every call",
            )
        return compare_arrays(f"{param}[{key!r}]", stored[key], expected[key], check.atol, check.rtol)

    return compare


#: The reference's test-mode output with eps outside the square root, an accepted convention (see the module
#: docstring).
OUT_TEST_EPS_OUTSIDE = "out_test_eps_outside"


def either_eps_placement(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check
                         ) -> Verdict:
    """The test-mode output, normalised with sqrt(running_var + eps) or with sqrt(running_var) + eps.

    Why both: no hand-out edition says where eps goes in test mode (the notebook only checks that the test
    outputs have roughly zero mean and unit std), both forms are common in real code, and they differ by about
    eps / sqrt(var) relative, far above the check's tolerance. The train-mode output gets no such latitude:
    the 2019+ hand-out sends students to the paper, which divides by sqrt(var + eps), no edition says
    otherwise, and the backward the student writes differentiates that train-mode formula.
    """
    verdict = compare_arrays("out_test", actual.get("out_test"), expected["out_test"], check.atol, check.rtol)
    if verdict.passed or OUT_TEST_EPS_OUTSIDE not in expected:
        return verdict
    other = compare_arrays("out_test", actual.get("out_test"), expected[OUT_TEST_EPS_OUTSIDE], check.atol,
                           check.rtol)
    return other if other.passed else verdict


def stored_lookup(run: CaseRun, name: str) -> Any:
    """Read an output for diagnosis: running statistics live in the student's bn_param. A running statistic
    kept as (1, D) is read as (D,), as the check accepts it: a bug model then still recognises its values."""
    if not name.startswith("running_"):
        return run.actual.get(name)
    stored = run.actual.get(TRAINED_PARAM)
    value = stored.get(name) if isinstance(stored, Mapping) else None
    array, want = as_numeric(value), run.expected.get(name)
    if array is not None and want is not None and array.shape != np.shape(want) and (
            broadcast_form(array.shape) == broadcast_form(np.shape(want))):
        return array.reshape(np.shape(want))
    return value


def _forward_checks() -> tuple[Check, ...]:
    return (
        Check("out", atol=1e-9, rtol=1e-7, description="train-mode output of the first call"),
        Check(
            "running_mean",
            atol=1e-10,
            rtol=1e-7,
            compare=stored_in(TRAINED_PARAM, "bn_param"),
            description="bn_param['running_mean'] after the train calls: m * running + (1 - m) * mean",
        ),
        Check(
            "running_var",
            atol=1e-10,
            rtol=1e-7,
            compare=stored_in(TRAINED_PARAM, "bn_param"),
            description="bn_param['running_var'] after the train calls, from the biased batch variance",
        ),
        Check(
            "out_test",
            atol=1e-9,
            rtol=1e-7,
            compare=either_eps_placement,
            description="test-mode output, using the running statistics (eps inside or outside the square root)",
        ),
    )


def _grad_checks() -> tuple[Check, ...]:
    return (
        Check("dx", atol=1e-9, rtol=1e-6),
        Check("dgamma", atol=1e-9, rtol=1e-7),
        Check("dbeta", atol=1e-9, rtol=1e-7),
    )


# ---------------------------------------------------------------- reference
LayerFn = Callable[..., tuple[np.ndarray, Any]]


def batchnorm_forward_expected(forward: LayerFn) -> Callable[[Case], dict[str, Any]]:
    def expected(case: Case) -> dict[str, Any]:
        param = copy.deepcopy(case["bn_param"])
        outs = [forward(x, case["gamma"], case["beta"], param)[0] for x in case["xs"]]
        param.update(case["to_test"])
        out_test = forward(case["x_test"], case["gamma"], case["beta"], param)[0]
        return {
            "out": outs[0],
            "running_mean": param["running_mean"],
            "running_var": param["running_var"],
            "out_test": out_test,
            OUT_TEST_EPS_OUTSIDE: eps_outside_test_output(case, param),
        }

    return expected


def eps_outside_test_output(case: Case, param: Mapping[str, Any]) -> np.ndarray:
    """gamma * (x_test - running_mean) / (sqrt(running_var) + eps) + beta with the reference's running
    statistics in ``param``, per feature (2-D) or per channel (spatial)."""
    x = np.asarray(case["x_test"])
    rows = NORM.channels_last_rows(x) if x.ndim == 4 else x
    eps = param.get("eps", DEFAULT_EPS)
    normalized = (rows - param["running_mean"]) / (np.sqrt(param["running_var"]) + eps)
    out = case["gamma"] * normalized + case["beta"]
    return NORM.channels_first_from_rows(out, x.shape) if x.ndim == 4 else out


def backward_expected(
    forward: LayerFn, backward: Callable[..., Any], *args: str
) -> Callable[[Case], dict[str, Any]]:
    """Run the reference forward on the case's ``args`` (dicts copied) and its backward on ``dout``."""

    def expected(case: Case) -> dict[str, Any]:
        out, cache = forward(*(copy.deepcopy(case[a]) for a in args))
        dx, dgamma, dbeta = backward(case["dout"], cache)
        return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}

    return expected


def _forward_of(expected: Callable[[Case], dict[str, Any]]) -> Callable[[Case], dict[str, Any]]:
    return lambda case: {"out": expected(case)["out"]}


# ---------------------------------------------------------------- backward through the student's own cache
def own_cache_backward_program(
    module: str, forward: str, backward: str, args: tuple[str, ...], grads: tuple[str, ...]
) -> Callable[[Case], Program]:
    """The student's forward (a setup step), then their backward on ``dout`` and that forward's cache.

    Fetches the gradients and the forward's ``out``: OwnGradient compares that ``out`` with the reference's to
    decide whether the backward may be judged against the student's own forward.
    """

    def program(case: Case) -> Program:
        steps = (
            as_setup(call("fwd", module, forward, *(Input(a) for a in args))),
            call("bwd", module, backward, Input("dout"), Item(Result("fwd"), 1)),
        )
        outputs: dict[str, Expr] = {g: Item(Result("bwd"), i) for i, g in enumerate(grads)}
        outputs["out"] = Item(Result("fwd"), 0)
        return Program(steps=steps, outputs=outputs)

    return program


def own_forward_gradient(
    module: str, forward: str, args: tuple[str, ...], wrt: Mapping[str, str], max_entries: int = 400
) -> OwnGradient:
    """Judge the gradients ``wrt`` (gradient -> input) against central differences of the student's
    ``forward`` run on the case's ``args``."""
    return OwnGradient(forward=forward_program(module, forward, *args), wrt=dict(wrt), max_entries=max_entries)


# ---------------------------------------------------------------- torch adapters
def _bn_settings(case: Case) -> tuple[float, float]:
    param = case["bn_param"]
    return float(param.get("eps", DEFAULT_EPS)), float(param.get("momentum", DEFAULT_MOMENTUM))


def batchnorm_forward_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    import torch.nn.functional as F

    eps, momentum = _bn_settings(case)
    gamma, beta = torch.tensor(case["gamma"]), torch.tensor(case["beta"])
    c = gamma.shape[0]
    running_mean = torch.zeros(c, dtype=gamma.dtype)
    running_var = torch.zeros(c, dtype=gamma.dtype)
    outs = [
        F.batch_norm(torch.tensor(x), running_mean, running_var, gamma, beta, True, 1.0 - momentum, eps)
        for x in case["xs"]
    ]
    count = case["xs"][0].size // c
    running_var = running_var * (count - 1) / count  # torch keeps the unbiased variance
    out_test = F.batch_norm(
        torch.tensor(case["x_test"]), running_mean, running_var, gamma, beta, False, 0.0, eps
    )
    return {
        "out": outs[0].numpy(),
        "running_mean": running_mean.numpy(),
        "running_var": running_var.numpy(),
        "out_test": out_test.numpy(),
    }


def _autograd(case: Case, run: Callable[..., Any]) -> dict[str, Any]:
    """out and (dx, dgamma, dbeta) of ``run(x, gamma, beta)`` on tensors of the case's shapes, by autograd."""
    torch = torch_one_thread()

    x, gamma, beta = (torch.tensor(case[k], requires_grad=True) for k in ("x", "gamma", "beta"))
    out = run(x, gamma, beta)
    out.backward(torch.tensor(case["dout"]))
    assert x.grad is not None and gamma.grad is not None and beta.grad is not None
    return {
        "out": out.detach().numpy(),
        "dx": x.grad.numpy(),
        "dgamma": gamma.grad.numpy(),
        "dbeta": beta.grad.numpy(),
    }


def batchnorm_backward_torch(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    eps, _ = _bn_settings(case)
    return _autograd(case, lambda x, g, b: F.batch_norm(x, None, None, g, b, True, 0.0, eps))


def layernorm_torch(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    eps = float(case["ln_param"].get("eps", DEFAULT_EPS))
    return _autograd(case, lambda x, g, b: F.layer_norm(x, (x.shape[1],), g, b, eps))


def groupnorm_torch(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    eps = float(case["gn_param"].get("eps", DEFAULT_EPS))
    c = case["x"].shape[1]
    # torch's weight and bias are (C,); cs231n's gamma and beta are (1, C, 1, 1).
    return _autograd(case, lambda x, g, b: F.group_norm(x, case["G"], g.reshape(c), b.reshape(c), eps))


# ---------------------------------------------------------------- bug models (diagnosis)
EpsBug = Literal["inside", "ignored", "outside", "default"]


@dataclass(frozen=True)
class BatchNormBug:
    """One known way to get batch norm's forward wrong; the default instance is the correct layer."""

    momentum_swapped: bool = False
    unbiased_running_var: bool = False
    #: the unbiased variance (ddof=1) used everywhere: to normalise and in the running variance
    unbiased_variance: bool = False
    restarts_running_stats: bool = False
    test_uses_batch_stats: bool = False
    eps: EpsBug = "inside"
    spatial_plain_reshape: bool = False


def _normalize(rows: np.ndarray, mean: np.ndarray, var: np.ndarray, eps: float, bug: EpsBug) -> np.ndarray:
    centered = rows - mean
    if bug == "ignored":
        return centered / np.sqrt(var)
    if bug == "outside":
        return centered / (np.sqrt(var) + eps)
    return centered / np.sqrt(var + (DEFAULT_EPS if bug == "default" else eps))


def buggy_batchnorm_forward(case: Case, bug: BatchNormBug) -> dict[str, Any]:
    """What a batch-norm forward with ``bug`` returns on a forward case (2-D or spatial layer alike)."""
    eps, momentum = _bn_settings(case)
    if bug.momentum_swapped:
        momentum = 1.0 - momentum
    gamma, beta = case["gamma"], case["beta"]
    c = gamma.shape[0]

    def to_rows(x: np.ndarray) -> np.ndarray:
        if x.ndim == 2:
            return x
        return x.reshape(-1, c) if bug.spatial_plain_reshape else NORM.channels_last_rows(x)

    def from_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        if len(shape) == 2:
            return rows
        return (
            rows.reshape(shape) if bug.spatial_plain_reshape else NORM.channels_first_from_rows(rows, shape)
        )

    running_mean, running_var = np.zeros(c), np.zeros(c)
    outs = []
    for x in case["xs"]:
        rows = to_rows(x)
        mean, var = rows.mean(axis=0), rows.var(axis=0, ddof=1 if bug.unbiased_variance else 0)
        outs.append(from_rows(gamma * _normalize(rows, mean, var, eps, bug.eps) + beta, x.shape))
        if bug.unbiased_running_var:
            var = var * rows.shape[0] / (rows.shape[0] - 1)
        if bug.restarts_running_stats:
            running_mean, running_var = np.zeros(c), np.zeros(c)
        running_mean = momentum * running_mean + (1.0 - momentum) * mean
        running_var = momentum * running_var + (1.0 - momentum) * var
    rows = to_rows(case["x_test"])
    if bug.test_uses_batch_stats:
        normalized = _normalize(rows, rows.mean(axis=0), rows.var(axis=0), eps, bug.eps)
    else:
        normalized = _normalize(rows, running_mean, running_var, eps, bug.eps)
    return {
        "out": outs[0],
        "running_mean": running_mean,
        "running_var": running_var,
        "out_test": from_rows(gamma * normalized + beta, case["x_test"].shape),
    }


def _bn_bug(name: str, sentence: str, bug: BatchNormBug, outputs: Sequence[str]) -> Diagnosis:
    return variant_diagnosis(
        name, sentence, lambda case: buggy_batchnorm_forward(case, bug), outputs, lookup=stored_lookup
    )


def _running_stats_missing(runs: Sequence[CaseRun]) -> bool:
    return any(
        failed_on(r, ("running_mean", "running_var"))
        and any(stored_lookup(r, k) is None for k in ("running_mean", "running_var"))
        for r in runs
    )


BATCHNORM_FORWARD_DIAGNOSES = (
    _bn_bug(
        "momentum swapped",
        "The running statistics use the momentum the wrong way round: the update is "
        "running = momentum * running + (1 - momentum) * batch, so momentum 0.9 keeps 90% of the old value.",
        BatchNormBug(momentum_swapped=True),
        ("running_mean", "running_var"),
    ),
    _bn_bug(
        "unbiased running variance",
        "running_var is built from the unbiased variance (divided by N - 1); cs231n uses the biased batch "
        "variance (divided by N), the same one used to normalise.",
        BatchNormBug(unbiased_running_var=True),
        ("running_var",),
    ),
    _bn_bug(
        "normalised with the unbiased variance",
        "x is normalised with the unbiased variance (divided by N - 1, as np.var(..., ddof=1) or "
        "pandas compute it); batch norm divides by N: use np.var(x, axis=0) or the mean of the squared "
        "deviations.",
        BatchNormBug(unbiased_variance=True),
        ("out",),
    ),
    Diagnosis(
        "running statistics not stored",
        "bn_param holds no running_mean / running_var after the calls: write the updated running statistics "
        "back into bn_param (bn_param['running_mean'] = ...) so the next call and test mode can use them.",
        _running_stats_missing,
    ),
    _bn_bug(
        "running statistics restarted",
        "The running statistics start again from zero on every call: read them from bn_param "
        "(bn_param.get('running_mean', zeros)) and update what is there.",
        BatchNormBug(restarts_running_stats=True),
        ("running_mean", "running_var"),
    ),
    _bn_bug(
        "test mode uses batch statistics",
        "In test mode the output is normalised with the test batch's own mean and variance; it must use the "
        "running mean and variance accumulated in train mode.",
        BatchNormBug(test_uses_batch_stats=True),
        ("out_test",),
    ),
    _bn_bug(
        "eps ignored",
        "The output matches normalising by sqrt(var) without eps: divide by sqrt(var + eps).",
        BatchNormBug(eps="ignored"),
        ("out",),
    ),
    _bn_bug(
        "eps outside the square root",
        "The output matches (x - mean) / (sqrt(var) + eps): eps belongs inside the square root, "
        "sqrt(var + eps).",
        BatchNormBug(eps="outside"),
        ("out",),
    ),
    _bn_bug(
        "eps from bn_param ignored",
        "The output matches eps = 1e-5 although bn_param sets another eps: read it with "
        "bn_param.get('eps', 1e-5).",
        BatchNormBug(eps="default"),
        ("out",),
    ),
)

SPATIAL_RESHAPE = _bn_bug(
    "channels not moved last",
    "The output matches reshaping x (N, C, H, W) straight to (N*H*W, C), which mixes channels: move the "
    "channel axis last first (x.transpose(0, 2, 3, 1).reshape(-1, C)) and undo both afterwards.",
    BatchNormBug(spatial_plain_reshape=True),
    ("out",),
)


def _count_diagnoses(count: Callable[[Case], float], what: str) -> tuple[Diagnosis, ...]:
    """dx off by the number of values behind each statistic, or dgamma / dbeta averaged instead of summed."""
    return (
        scaled_diagnosis(
            "dx off by the count",
            f"dx is {what} times too large: the 1/{what} of the mean (and of the variance) is missing from "
            "some term of the backward pass.",
            ("dx",),
            count,
        ),
        scaled_diagnosis(
            "dx divided by the count",
            f"dx is {what} times too small: the 1/{what} was applied twice.",
            ("dx",),
            lambda case: 1.0 / count(case),
        ),
        scaled_diagnosis(
            "dgamma averaged",
            f"dgamma / dbeta are {what} times too small: they are sums over the {what} values, not means.",
            ("dgamma", "dbeta"),
            lambda case: 1.0 / count(case),
        ),
    )


def _rows(case: Case) -> float:
    return float(case["x"].shape[0])


def _pixels(case: Case) -> float:
    n, _, h, w = case["x"].shape
    return float(n * h * w)


def _features(case: Case) -> float:
    return float(case["x"].shape[1])


def _group_size(case: Case) -> float:
    _, c, h, w = case["x"].shape
    return float(c // case["G"] * h * w)


def _layernorm_as_batchnorm(case: Case) -> dict[str, Any]:
    out, _, _, _ = NORM.batchnorm_train(
        case["x"], case["gamma"], case["beta"], float(case["ln_param"].get("eps", DEFAULT_EPS))
    )
    return {"out": out}


LAYERNORM_OVER_BATCH = variant_diagnosis(
    "layer norm over the batch",
    "The output is normalised over the batch (per feature, as batch norm does); layer norm normalises each "
    "example over its own features.",
    _layernorm_as_batchnorm,
    ("out",),
)


def _dgamma_flat(runs: Sequence[CaseRun]) -> bool:
    for run in runs:
        if not failed_on(run, ("dgamma", "dbeta")):
            continue
        for name in ("dgamma", "dbeta"):
            got, want = as_numeric(run.actual.get(name)), np.asarray(run.expected[name])
            if got is not None and got.shape == (want.size,) and close(got, want.reshape(-1)):
                return True
    return False


GROUPNORM_FLAT_DGAMMA = Diagnosis(
    "dgamma of shape (C,)",
    "dgamma / dbeta have shape (C,) with the right values: group norm's gamma and beta have shape "
    "(1, C, 1, 1), so sum with keepdims=True (or reshape) to return gradients of that shape.",
    _dgamma_flat,
)


# ---------------------------------------------------------------- specs
def _bn_forward_spec(name: str, spatial: bool) -> Spec:
    forward = R.spatial_batchnorm_forward if spatial else R.batchnorm_forward
    return Spec(
        name=name,
        module="layers",
        api="function",
        cases=lambda: batchnorm_forward_cases(spatial),
        fixed_cases=spatial_batchnorm_forward_fixed if spatial else batchnorm_forward_fixed,
        program=batchnorm_forward_program(name),
        expected=batchnorm_forward_expected(forward),
        torch_expected=batchnorm_forward_torch,
        checks=_forward_checks(),
        diagnoses=BATCHNORM_FORWARD_DIAGNOSES + ((SPATIAL_RESHAPE,) if spatial else ()),
        convention="cs231n: eps 1e-5 and momentum 0.9 by default, running = m * running + (1 - m) * batch, "
        "biased running variance stored into bn_param; test mode may put eps outside the square root",
        read_only=("xs", "x_test", "gamma", "beta"),
        dtype_preserving=True,
        scale_cases=lambda: batchnorm_forward_scale(spatial),
    )


def _backward_spec(
    name: str,
    forward_name: str,
    forward: LayerFn,
    backward: Callable[..., Any],
    args: tuple[str, ...],
    cases: Callable[[], st.SearchStrategy[Case]],
    fixed: Callable[[], list[Case]],
    torch_expected: Callable[[Case], dict[str, Any]],
    diagnoses: tuple[Diagnosis, ...],
    scale: Callable[[], list[Case]],
    same_as: str | None = None,
) -> Spec:
    scalar = weighted_sum(forward, *args)
    return Spec(
        name=name,
        module="layers",
        api="function",
        cases=cases,
        fixed_cases=fixed,
        scale_cases=scale,
        program=own_cache_backward_program("layers", forward_name, name, args, Grads),
        own_gradient=own_forward_gradient("layers", forward_name, args, GRADIENT_OF),
        expected=backward_expected(forward, backward, *args),
        torch_expected=torch_expected,
        checks=_grad_checks(),
        gradients=tuple(
            GradientCheck(g, v, scalar) for g, v in (("dx", "x"), ("dgamma", "gamma"), ("dbeta", "beta"))
        ),
        diagnoses=diagnoses,
        depends_on=(forward_name,),
        same_as=same_as,
        read_only=tuple(a for a in args if not a.endswith("_param")) + ("dout",),
    )


def batchnorm_forward() -> Spec:
    return _bn_forward_spec("batchnorm_forward", spatial=False)


def spatial_batchnorm_forward() -> Spec:
    return _bn_forward_spec("spatial_batchnorm_forward", spatial=True)


_BN_ARGS = ("x", "gamma", "beta", "bn_param")


def batchnorm_backward() -> Spec:
    return _backward_spec(
        "batchnorm_backward",
        "batchnorm_forward",
        R.batchnorm_forward,
        R.batchnorm_backward,
        _BN_ARGS,
        batchnorm_backward_cases,
        batchnorm_backward_fixed,
        batchnorm_backward_torch,
        _count_diagnoses(_rows, "N"),
        lambda: batchnorm_backward_scale(spatial=False),
    )


def batchnorm_backward_alt() -> Spec:
    return _backward_spec(
        "batchnorm_backward_alt",
        "batchnorm_forward",
        R.batchnorm_forward,
        R.batchnorm_backward_alt,
        _BN_ARGS,
        batchnorm_backward_cases,
        batchnorm_backward_fixed,
        batchnorm_backward_torch,
        _count_diagnoses(_rows, "N"),
        lambda: batchnorm_backward_scale(spatial=False),
        same_as="batchnorm_backward",
    )


def spatial_batchnorm_backward() -> Spec:
    return _backward_spec(
        "spatial_batchnorm_backward",
        "spatial_batchnorm_forward",
        R.spatial_batchnorm_forward,
        R.spatial_batchnorm_backward,
        _BN_ARGS,
        lambda: batchnorm_backward_cases(spatial=True),
        spatial_batchnorm_backward_fixed,
        batchnorm_backward_torch,
        _count_diagnoses(_pixels, "N*H*W"),
        lambda: batchnorm_backward_scale(spatial=True),
    )


_LN_ARGS = ("x", "gamma", "beta", "ln_param")
_GN_ARGS = ("x", "gamma", "beta", "G", "gn_param")


def layernorm_forward() -> Spec:
    return Spec(
        name="layernorm_forward",
        module="layers",
        api="function",
        cases=layernorm_cases,
        fixed_cases=layernorm_fixed,
        program=forward_program("layers", "layernorm_forward", *_LN_ARGS),
        expected=_forward_of(backward_expected(R.layernorm_forward, R.layernorm_backward, *_LN_ARGS)),
        torch_expected=layernorm_torch,
        checks=(Check("out", atol=1e-9, rtol=1e-7, description="each example normalised over its features"),),
        diagnoses=(LAYERNORM_OVER_BATCH,),
        convention="cs231n: ln_param eps, default 1e-5",
        read_only=("x", "gamma", "beta"),
        dtype_preserving=True,
        scale_cases=layernorm_scale(FORWARD_SPREAD),
    )


def layernorm_backward() -> Spec:
    return _backward_spec(
        "layernorm_backward",
        "layernorm_forward",
        R.layernorm_forward,
        R.layernorm_backward,
        _LN_ARGS,
        layernorm_cases,
        layernorm_fixed,
        layernorm_torch,
        _count_diagnoses(_features, "D"),
        layernorm_scale(BACKWARD_SPREAD),
    )


def spatial_groupnorm_forward() -> Spec:
    return Spec(
        name="spatial_groupnorm_forward",
        module="layers",
        api="function",
        cases=groupnorm_cases,
        fixed_cases=groupnorm_fixed,
        program=forward_program("layers", "spatial_groupnorm_forward", *_GN_ARGS),
        expected=_forward_of(
            backward_expected(R.spatial_groupnorm_forward, R.spatial_groupnorm_backward, *_GN_ARGS)
        ),
        torch_expected=groupnorm_torch,
        checks=(
            Check("out", atol=1e-9, rtol=1e-7, description="G groups of channels normalised per example"),
        ),
        convention="cs231n: gamma, beta (1, C, 1, 1); gn_param eps, default 1e-5",
        read_only=("x", "gamma", "beta"),
        dtype_preserving=True,
        scale_cases=groupnorm_scale(FORWARD_SPREAD),
    )


def spatial_groupnorm_backward() -> Spec:
    return _backward_spec(
        "spatial_groupnorm_backward",
        "spatial_groupnorm_forward",
        R.spatial_groupnorm_forward,
        R.spatial_groupnorm_backward,
        _GN_ARGS,
        groupnorm_cases,
        groupnorm_fixed,
        groupnorm_torch,
        (GROUPNORM_FLAT_DGAMMA, *_count_diagnoses(_group_size, "C/G*H*W")),
        groupnorm_scale(BACKWARD_SPREAD),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "batchnorm_forward": batchnorm_forward,
    "batchnorm_backward": batchnorm_backward,
    "batchnorm_backward_alt": batchnorm_backward_alt,
    "layernorm_forward": layernorm_forward,
    "layernorm_backward": layernorm_backward,
    "spatial_batchnorm_forward": spatial_batchnorm_forward,
    "spatial_batchnorm_backward": spatial_batchnorm_backward,
    "spatial_groupnorm_forward": spatial_groupnorm_forward,
    "spatial_groupnorm_backward": spatial_groupnorm_backward,
}
