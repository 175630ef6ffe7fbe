"""Specs of the course's leaky ReLU: ``leaky_relu_forward(x, alpha) -> (out, cache)`` with
``out = x where x > 0, else alpha * x``, and ``leaky_relu_backward(dout, cache) -> dx``.

Written with nngrade's public spec vocabulary only: :mod:`graders.specs.base` (Spec, Check, GradientCheck,
Reach, NamedCase), the shared kit (layer spec builders, named tolerances, bug-model diagnoses, torch twins)
and :mod:`graders.specs.strategies` (seeded arrays that shrink well). The truth is this module's own NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, Check, GradientCheck, NamedCase, Reach, Spec
from graders.specs.kit.detectors import variant_diagnosis
from graders.specs.kit.gradients import weighted_sum
from graders.specs.kit.layer_specs import LayerInputs, backward_spec, forward_spec
from graders.specs.kit.programs import packed
from graders.specs.kit.rules import inputs_unchanged
from graders.specs.kit.tolerances import ELEMENTWISE
from graders.specs.kit.torch import grads_of, torch_autograd

REMEDY = "Compute a new array (np.where(x > 0, x, alpha * x)) instead of writing into x."
#: Smallest |x| of every case: finite differences never straddle the kink at 0.
KINK_MARGIN = 1e-3


def leaky_relu_forward() -> Spec:
    """The forward, graded on ``out``; it must leave x as it found it (a small robustness check)."""
    return forward_spec(
        layer=LEAKY_RELU, name="leaky_relu_forward", module="course", expected=expected,
        check=Check("out", tol=ELEMENTWISE, description="x where x > 0, else alpha * x"),
        diagnoses=(SLOPES_SWAPPED,),
        robustness=(inputs_unchanged("leaky_relu_forward", "x", REMEDY),),
    )


def leaky_relu_backward() -> Spec:
    """The backward after the student's own forward; where that fails, a second chance with the cache this
    course's hand-out fixes, ``(x, alpha)``."""
    return backward_spec(
        layer=LEAKY_RELU, name="leaky_relu_backward", module="course", forward_name="leaky_relu_forward",
        expected=expected,
        checks=(Check("dx", tol=ELEMENTWISE, description="dout where x > 0, else alpha * dout"),),
        gradients=(GradientCheck("dx", "x", weighted_sum(reference_forward, "x", "alpha")),),
        diagnoses=(NEGATIVE_SLOPE_ONE, NEGATIVE_SLOPE_ZERO),
        handout_cache=packed("x", "alpha"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "leaky_relu_forward": leaky_relu_forward,
    "leaky_relu_backward": leaky_relu_backward,
}


# ---------------------------------------------------------------- the truth
def reference_forward(x: np.ndarray, alpha: float) -> tuple[np.ndarray, tuple[np.ndarray, float]]:
    return np.where(x > 0, x, alpha * x), (x, alpha)


def expected(case: Case) -> dict[str, Any]:
    x, alpha, dout = case["x"], case["alpha"], case["dout"]
    return {"out": reference_forward(x, alpha)[0], "dx": np.where(x > 0, dout, alpha * dout)}


def torch_expected(case: Case) -> dict[str, Any]:
    import torch

    return torch_autograd(case, grads_of("x"), lambda x: torch.nn.functional.leaky_relu(x, case["alpha"]))


# ---------------------------------------------------------------- cases
@st.composite
def cases(draw: st.DrawFn) -> Case:
    """x of 1 to 4 axes, every |x| >= KINK_MARGIN; alpha in [0.01, 0.5]; dout of x's shape."""
    shape = draw(S.shapes_with(draw(st.integers(1, 4)), 1, 5))
    return {
        "x": draw(S.kink_free_arrays(shape, KINK_MARGIN)),
        "alpha": draw(st.sampled_from([0.01, 0.1, 0.2, 0.5])),
        "dout": draw(S.seeded_arrays(shape, name="dout")),
    }


def notebook() -> list[NamedCase]:
    rng = np.random.default_rng(2024)
    x = rng.standard_normal((4, 5))
    x = np.where(np.abs(x) < KINK_MARGIN, 0.5, x)
    return [NamedCase("hand-out: x (4, 5), alpha 0.1", {"x": x, "alpha": 0.1, "dout": rng.standard_normal((4, 5))})]


def scale() -> list[Case]:
    """A hidden layer's activations, (64, 100)."""
    x = S.standard_normal(77, (64, 100), name="x")
    x = np.where(np.abs(x) < KINK_MARGIN, np.copysign(2 * KINK_MARGIN, x), x)
    return [{"x": x, "alpha": 0.01, "dout": S.standard_normal(77, (64, 100), name="dout")}]


def domain(case: Case) -> bool:
    """Kink-free x, alpha in (0, 1), dout of x's shape."""
    return (bool(np.min(np.abs(case["x"]), initial=np.inf) >= KINK_MARGIN) and 0 < case["alpha"] < 1
            and case["dout"].shape == case["x"].shape)


LEAKY_RELU = LayerInputs(
    args=("x", "alpha"),
    cases=cases,
    notebook=notebook,
    scale=scale,
    domain=domain,
    reaches=(
        Reach("x of both signs", lambda case: bool((case["x"] > 0).any() and (case["x"] < 0).any())),
        Reach("4-D x", lambda case: case["x"].ndim == 4),
    ),
    torch_expected=torch_expected,
    describe=lambda case: f"x {tuple(case['x'].shape)}, alpha {case['alpha']}",
)


# ---------------------------------------------------------------- bugs this course has seen
SLOPES_SWAPPED = variant_diagnosis(
    "slopes_swapped",
    "The slopes are swapped: out is alpha * x where x > 0 and x elsewhere. Keep x for positive inputs.",
    lambda case: {"out": np.where(case["x"] > 0, case["alpha"] * case["x"], case["x"])},
    outputs=("out",),
)
NEGATIVE_SLOPE_ONE = variant_diagnosis(
    "negative_slope_one",
    "dx passes dout through unchanged where x < 0: the slope there is alpha, not 1.",
    lambda case: {"dx": case["dout"].copy()},
    outputs=("dx",),
)
NEGATIVE_SLOPE_ZERO = variant_diagnosis(
    "negative_slope_zero",
    "dx is 0 where x < 0, as for a plain ReLU: the leaky ReLU's slope there is alpha.",
    lambda case: {"dx": np.where(case["x"] > 0, case["dout"], 0.0)},
    outputs=("dx",),
)
