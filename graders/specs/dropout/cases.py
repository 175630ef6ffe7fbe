"""The cases of cs231n's dropout, by tier, with the domain they keep to and what they must reach.

Every case is a whole set of inputs for both functions: x, a dout (so the forward's cases serve the backward's
tests too) and three dropout_params: train mode, train mode with another seed, test mode.

  notebook  the forward's check (x = randn(500, 500) + 10, p in 0.25, 0.4, 0.7) and the backward's gradient
            check (x = randn(10, 10) + 10, p = 0.2), seed 231 for the data and 123 for the mask;
  property  2-D (N, D) with N up to 40 and D up to 60, random p and seeds: small and shrinkable. The
            deterministic rules (scale, same seed, test mode, shape, the backward's mask) hold on any size; the
            statistical ones (keep rate, a new mask per seed, uniform positions) are judged here too, with the
            same false-alarm bound, but at this size their tail bounds only flag gross patterns (a whole row of
            60 kept at p = 0.5; at 2,400 units the keep rate within 6%; below 25 units no keep count at all at
            p = 0.5), so their evidence comes from the large cases. ``scale`` passes a case where no unit was
            kept when a correct mask keeps none that often (kit/masks.py ``nothing_kept``);
  scale     the large statistical cases, run once and never shrunk: the hidden layer of the notebook's
            regularisation experiment ((100, 500), p = 0.5) and, for the forward, a (300, 200) layer at
            p = 0.1, far from the notebook's p (60,000 units: keep-rate bounds within 1.5%, rows and columns of
            200 and 300 units).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, ErrorCase, NamedCase, Reach
from graders.specs.kit.masks import away_from_zero, signed_units, small_shape

PIs = Literal["keep", "drop"]
#: The notebook's seed of the mask, and the second seed of the notebook cases.
NOTEBOOK_SEED = 123
OTHER_SEED = 321
#: The largest property case: the backward's gradient checks need no statistics, the forward's rules need
#: nothing larger to be exact, and the statistical evidence comes from the notebook and scale cases.


# ---------------------------------------------------------------- what every case satisfies, what some reach
def keep_probability(case: Case, p_is: PIs, param: str = "dropout_param") -> float:
    """The keep probability of one of the case's dropout_params, read in the hand-out's convention."""
    p = float(case[param]["p"])
    return p if p_is == "keep" else 1.0 - p


def in_domain(p_is: PIs) -> Callable[[Case], bool]:
    """The hand-out's domain: x 2-D and at least 0.5 away from 0 (a kept unit is never 0, so the mask can be
    read off the output), dout of x's shape, every keep probability in (0, 1], two different seeds."""

    def holds(case: Case) -> bool:
        x = case["x"]
        return (x.ndim == 2 and bool(np.all(np.abs(x) >= 0.5)) and case["dout"].shape == x.shape
                and all(0.0 < keep_probability(case, p_is, param) <= 1.0
                        for param in ("dropout_param", "other_param", "test_param"))
                and case["dropout_param"]["seed"] != case["other_param"]["seed"])

    return holds


REACHES = (
    Reach("a batch of one (N = 1)", lambda case: case["x"].shape[0] == 1),
    Reach("a non-square x (N != D, a transposed mask raises)", lambda case: case["x"].shape[0] != case["x"].shape[1]),
    Reach("p far from 1/2 (below 0.2 or above 0.8), where keep and drop readings differ most",
          lambda case: abs(float(case["dropout_param"]["p"]) - 0.5) > 0.3),
    Reach("a thousand units or more, where the keep-rate bounds are within 10%", lambda case: case["x"].size >= 1000),
)


# ---------------------------------------------------------------- property cases
def params(p: float, seed: int, other_seed: int) -> dict[str, dict[str, Any]]:
    """The dropout_params of one case: train mode, train mode with another seed, test mode."""
    return {
        "dropout_param": {"mode": "train", "p": p, "seed": seed},
        "other_param": {"mode": "train", "p": p, "seed": other_seed},
        "test_param": {"mode": "test", "p": p},
    }


@st.composite
def dropout_cases(draw: st.DrawFn) -> Case:
    """2-D (N, D) up to (40, 60), p in [0.05, 0.95], two different seeds."""
    shape = draw(small_shape())
    seed = draw(st.integers(0, 2**31 - 2))
    other = (seed + draw(st.integers(1, 2**31 - 2))) % (2**31 - 1)
    return {
        "x": draw(away_from_zero(shape)),
        "dout": draw(S.seeded_arrays(shape, name="dout")),
        **params(draw(S.floats(0.05, 0.95)), seed, other),
    }


# ---------------------------------------------------------------- notebook cases
def _case(x: np.ndarray, dout: np.ndarray, p: float, seed: int = NOTEBOOK_SEED, other_seed: int = OTHER_SEED) -> Case:
    return {"x": x, "dout": dout, **params(p, seed, other_seed)}


def _notebook_arrays(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """x = randn(n, d) + 10 then dout = randn(n, d) after np.random.seed(231), remembered with that code (a repro
    of a notebook case prints it, not zeros)."""
    rng = np.random.RandomState(231)
    x = S.remember(rng.randn(n, d) + 10, f"np.random.RandomState(231).randn({n}, {d}) + 10")
    dout = S.remember(rng.randn(n, d), f"(lambda rng: (rng.randn({n}, {d}), rng.randn({n}, {d}))[1])"
                                       "(np.random.RandomState(231))")
    return x, dout


def forward_notebook() -> list[NamedCase]:
    """The notebook's forward check, with a dout so that a backward can run on it too."""
    x, dout = _notebook_arrays(500, 500)
    return [NamedCase(f"notebook: x = randn(500, 500) + 10, p = {p}, mask seed {NOTEBOOK_SEED}", _case(x, dout, p))
            for p in (0.25, 0.4, 0.7)]


def backward_notebook() -> list[NamedCase]:
    x, dout = _notebook_arrays(10, 10)
    return [NamedCase(f"notebook gradient check: x = randn(10, 10) + 10, p = 0.2, mask seed {NOTEBOOK_SEED}",
                      _case(x, dout, 0.2))]


# ---------------------------------------------------------------- scale cases
def regularisation_case() -> Case:
    """The notebook's regularisation experiment: hidden layer of 500 units, batches of 100, p = 0.5."""
    return _case(signed_units(500, (100, 500)), S.standard_normal(500, (100, 500), name="dout"), 0.5, 0, 1)


def forward_scale() -> list[Case]:
    """The regularisation experiment's layer, and a (300, 200) layer at p = 0.1 for the statistics."""
    statistical = _case(signed_units(300, (300, 200)), S.standard_normal(300, (300, 200), name="dout"), 0.1, 2, 3)
    return [regularisation_case(), statistical]


def backward_scale() -> list[Case]:
    return [regularisation_case()]


# ---------------------------------------------------------------- robustness cases: any shape
def any_shape_cases() -> list[Case]:
    """A 4-D x (N, C, H, W) of 40,960 units, e.g. dropout after a convolution (robust:any_shape)."""
    shape = (8, 16, 16, 20)
    return [_case(signed_units(4, shape), S.standard_normal(4, shape, name="dout"), 0.6, 7, 8)]


def small_any_shape_cases() -> list[Case]:
    """A small 4-D x for the backward's robust:any_shape."""
    rng = np.random.default_rng(5)
    shape = (4, 3, 5, 6)
    x = rng.uniform(0.5, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
    return [_case(x, rng.standard_normal(shape), 0.6, 7, 8)]


# ---------------------------------------------------------------- what the reference rejects
def forward_errors(p_is: PIs) -> tuple[ErrorCase, ...]:
    """A dropout_param without 'mode' (the hand-out's skeleton reads dropout_param["mode"], a KeyError there),
    and keep probabilities 0 and 1.5, outside (0, 1] (the skeleton divides by p: no error, inf or a wrong
    scale)."""
    x = np.full((3, 2), 1.0)

    def with_param(**param: Any) -> Case:
        return {**_case(x, x.copy(), 0.5), "dropout_param": param}

    def p_for(keep: float) -> float:
        return keep if p_is == "keep" else 1.0 - keep

    return (
        ErrorCase("dropout_param without 'mode'", with_param(p=0.5, seed=1), ValueError, r"dropout_param\['mode'\]",
                  handout_raises=True),
        ErrorCase("keep probability 0", with_param(mode="train", p=p_for(0.0)), ValueError,
                  r"keep probability 0\.0.*\(0, 1\]"),
        ErrorCase("keep probability above 1", with_param(mode="train", p=p_for(1.5)), ValueError,
                  r"keep probability 1\.5.*\(0, 1\]"),
    )
