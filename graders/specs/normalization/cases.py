"""The normalisation layers' property cases, with the domain every case satisfies and what they must reach.

Every normalised group's variance stays well above eps: x = scale * gaussian + shift, groups whose variance
falls below VARIANCE_FLOOR * scale^2 are redrawn, and scale is drawn after eps, large enough that eps is at
most EPS_SHARE of that floor. Why so small: a forward with an eps slip (eps left out, eps outside the square
root) then stays within a fraction of a percent of the reference, which lets its backward be judged against
that forward (OwnGradient) instead of losing points twice. Every statistic has at least MIN_COUNT values
behind it, and eps (1e-5 .. 1e-3) and momentum (0.5 .. 0.99) are drawn given or left to their defaults.

Each drawn array has its own stream (``name=``), so a shrunk case keeps x, gamma, beta and dout apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, Reach
from graders.specs.kit.cases import with_options
from reference.functional import normalization as NORM

DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.9
#: The eps and momentum the cases give when they give one (the hand-out's defaults lie inside).
EPS_RANGE = (1e-5, 1e-3)
MOMENTUM_RANGE = (0.5, 0.99)
#: A normalised group is redrawn when its variance is below this fraction of scale^2.
VARIANCE_FLOOR = 0.05
#: eps is at most this fraction of the variance floor (scale is drawn large enough for it): an eps slip in a
#: student's forward then changes its output by a fraction of a percent, well within OwnGradient's closeness.
EPS_SHARE = 0.002
#: Smallest and largest scale of generated inputs (the smallest rises with eps, see EPS_SHARE).
SCALE_RANGE = (0.5, 3.0)
#: Fewest values behind any mean or variance.
MIN_COUNT = 3

Grouping = Callable[[np.ndarray], np.ndarray]


# ---------------------------------------------------------------- the groups each layer normalises
def batch_columns(x: np.ndarray) -> np.ndarray:
    """Batch norm: one column per feature (2-D) or channel (4-D)."""
    return NORM.channels_last_rows(x) if x.ndim == 4 else x


def layer_columns(x: np.ndarray) -> np.ndarray:
    """Layer norm: one column per example."""
    return x.T


def group_columns(groups: int) -> Grouping:
    """Group norm: one column per (example, group)."""
    return lambda x: x.reshape(x.shape[0] * groups, -1).T


# ---------------------------------------------------------------- strategies
def _eps() -> st.SearchStrategy[float | None]:
    """None (use the default) or a non-default eps in EPS_RANGE."""
    low, high = (math.log10(e) for e in EPS_RANGE)
    return st.one_of(st.none(), S.floats(low, high).map(lambda e: float(10.0**e)))


def _momentum() -> st.SearchStrategy[float | None]:
    return st.one_of(st.none(), S.floats(*MOMENTUM_RANGE))


def _scale(eps: float | None) -> st.SearchStrategy[float]:
    """The inputs' scale: in SCALE_RANGE, and large enough that eps is at most EPS_SHARE of the variance floor
    (for eps = 1e-3 that is a scale of at least 3.2)."""
    low = max(SCALE_RANGE[0], math.sqrt((DEFAULT_EPS if eps is None else eps) / (EPS_SHARE * VARIANCE_FLOOR)))
    return S.floats(low, max(SCALE_RANGE[1], low + 1.0))


def _min_variance(x: np.ndarray, grouping: Grouping) -> float:
    """The smallest variance among the columns that ``grouping`` lays out, one per normalised group."""
    return float(np.min(np.var(grouping(x), axis=0)))


def _spread_batches(shape: tuple[int, ...], scale: float, shift: float, grouping: Grouping
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
    """(N, per-example shape) with at least MIN_COUNT values behind every batch statistic."""
    if not spatial:
        return draw(S.dims(MIN_COUNT, 8)), (draw(S.dims(1, 6)),)
    c, h, w = draw(S.dims(1, 4)), draw(S.dims(1, 3)), draw(S.dims(1, 3))
    n = draw(S.dims(max(1, -(-MIN_COUNT // (h * w))), 3))
    return n, (c, h, w)


def _affine(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    return {"gamma": draw(S.seeded_arrays(shape, name="gamma")), "beta": draw(S.seeded_arrays(shape, name="beta"))}


@st.composite
def batchnorm_forward_cases(draw: st.DrawFn, spatial: bool = False) -> Case:
    """2 to 4 train batches sharing one bn_param, then a test batch of 1 to 4 examples."""
    n, features = draw(_feature_shape(spatial))
    steps = draw(st.integers(2, 4))
    eps = draw(_eps())
    scale, shift = draw(_scale(eps)), draw(S.floats(-5.0, 5.0))
    xs = draw(_spread_batches((steps, n, *features), scale, shift, batch_columns))
    x_test = scale * draw(S.seeded_arrays((draw(S.dims(1, 4)), *features), name="x_test")) + shift
    return {
        "xs": xs,
        "x_test": x_test,
        **_affine(draw, (features[0],)),
        "bn_param": with_options({"mode": "train"}, eps=eps, momentum=draw(_momentum())),
        "to_test": {"mode": "test"},
    }


@st.composite
def batchnorm_backward_cases(draw: st.DrawFn, spatial: bool = False) -> Case:
    n, features = draw(_feature_shape(spatial))
    eps = draw(_eps())
    scale, shift = draw(_scale(eps)), draw(S.floats(-5.0, 5.0))
    x = draw(_spread_batches((1, n, *features), scale, shift, batch_columns))[0]
    return {
        "x": x,
        **_affine(draw, (features[0],)),
        "bn_param": with_options({"mode": "train"}, eps=eps, momentum=draw(_momentum())),
        "dout": draw(S.seeded_arrays(x.shape, name="dout")),
    }


@st.composite
def layernorm_cases(draw: st.DrawFn) -> Case:
    n, d = draw(S.dims(1, 5)), draw(S.dims(MIN_COUNT, 8))
    eps = draw(_eps())
    scale, shift = draw(_scale(eps)), draw(S.floats(-5.0, 5.0))
    x = draw(_spread_batches((1, n, d), scale, shift, layer_columns))[0]
    return {
        "x": x,
        **_affine(draw, (d,)),
        "ln_param": with_options({}, eps=eps),
        "dout": draw(S.seeded_arrays(x.shape, name="dout")),
    }


@st.composite
def groupnorm_cases(draw: st.DrawFn) -> Case:
    groups, per_group = draw(S.dims(1, 3)), draw(S.dims(1, 3))
    h, w = draw(S.dims(1, 3)), draw(S.dims(1, 3))
    if per_group * h * w < MIN_COUNT:
        h = MIN_COUNT
    n, c = draw(S.dims(1, 3)), groups * per_group
    eps = draw(_eps())
    scale, shift = draw(_scale(eps)), draw(S.floats(-5.0, 5.0))
    x = draw(_spread_batches((1, n, c, h, w), scale, shift, group_columns(groups)))[0]
    return {
        "x": x,
        **_affine(draw, (1, c, 1, 1)),
        "G": groups,
        "gn_param": with_options({}, eps=eps),
        "dout": draw(S.seeded_arrays(x.shape, name="dout")),
    }


# ---------------------------------------------------------------- domains
def eps_of(param: Mapping[str, Any]) -> float:
    return float(param.get("eps", DEFAULT_EPS))


def bn_settings(case: Case) -> tuple[float, float]:
    """(eps, momentum) of a batch-norm case's bn_param, defaults filled in."""
    param = case["bn_param"]
    return eps_of(param), float(param.get("momentum", DEFAULT_MOMENTUM))


def _settings_in_range(param: Mapping[str, Any]) -> bool:
    """eps and momentum, given or default, inside the ranges the cases draw from (rounding allowed)."""
    eps, momentum = eps_of(param), float(param.get("momentum", DEFAULT_MOMENTUM))
    return (EPS_RANGE[0] * (1 - 1e-9) <= eps <= EPS_RANGE[1] * (1 + 1e-9)
            and MOMENTUM_RANGE[0] <= momentum <= MOMENTUM_RANGE[1])


def _normalisable(x: np.ndarray, param: Mapping[str, Any], grouping: Grouping) -> bool:
    """At least MIN_COUNT values per group, and eps at most EPS_SHARE of every group's variance."""
    columns = grouping(x)
    return columns.shape[0] >= MIN_COUNT and eps_of(param) <= EPS_SHARE * _min_variance(x, grouping) * (1 + 1e-4)


def batchnorm_forward_domain(case: Case) -> bool:
    """Train mode, eps and momentum in range, every train batch normalisable (the test batch may be anything)."""
    param = case["bn_param"]
    return (param.get("mode") == "train" and _settings_in_range(param)
            and all(_normalisable(x, param, batch_columns) for x in case["xs"]))


def batchnorm_backward_domain(case: Case) -> bool:
    param = case["bn_param"]
    return (param.get("mode") == "train" and _settings_in_range(param)
            and _normalisable(case["x"], param, batch_columns) and case["dout"].shape == case["x"].shape)


def layernorm_domain(case: Case) -> bool:
    param = case["ln_param"]
    return (_settings_in_range(param) and _normalisable(case["x"], param, layer_columns)
            and case["dout"].shape == case["x"].shape)


def groupnorm_domain(case: Case) -> bool:
    x, groups, param = case["x"], case["G"], case["gn_param"]
    return (x.shape[1] % groups == 0 and _settings_in_range(param)
            and _normalisable(x, param, group_columns(groups)) and case["dout"].shape == x.shape)


# ---------------------------------------------------------------- what the cases must reach
def _given(param: str, key: str) -> Callable[[Case], bool]:
    return lambda case: key in case[param]


def _batch_of(case: Case) -> np.ndarray:
    return case["xs"][0] if "xs" in case else case["x"]


BN_EPS_GIVEN = Reach("eps given in bn_param", _given("bn_param", "eps"))
BN_MOMENTUM_GIVEN = Reach("momentum given in bn_param", _given("bn_param", "momentum"))
SEVERAL_FEATURES = Reach("several features or channels (C > 1)", lambda case: _batch_of(case).shape[1] > 1)
SPATIAL = Reach("several positions per image (H * W > 1)", lambda case: _batch_of(case)[0, 0].size > 1)


def batchnorm_reaches(*, spatial: bool, forward: bool) -> tuple[Reach, ...]:
    return (BN_EPS_GIVEN, *((BN_MOMENTUM_GIVEN,) if forward else ()), SEVERAL_FEATURES,
            *((SPATIAL,) if spatial else ()))


LAYERNORM_REACHES = (
    Reach("eps given in ln_param", _given("ln_param", "eps")),
    Reach("several examples, each normalised on its own (N > 1)", lambda case: case["x"].shape[0] > 1),
)
GROUPNORM_REACHES = (
    Reach("eps given in gn_param", _given("gn_param", "eps")),
    Reach("several groups (G > 1)", lambda case: case["G"] > 1),
    Reach("several groups of several channels", lambda case: case["G"] > 1 and case["x"].shape[1] > case["G"]),
    SPATIAL,
)
