"""Specs of cs231n's normalisation layers: batch, spatial batch, layer and group normalisation.

Declarations first (the factories and ``FACTORIES``), then the two builders they share. The rest of the family:
``cases`` (property cases, their domain and reach), ``fixed`` (notebook, scale and error cases), ``grading``
(batch norm's notebook-style program, the checks, the reference's answers), ``bugs`` (bug models and
diagnoses), ``torch`` (the torch twins).

Backward passes use the student's own forward and cache (its layout is theirs). The forward call is a setup
step (when it raises, the case says nothing about the backward), the backward's program also fetches the
forward's ``out``, and where the comparison with the reference fails, the gradients are re-judged against
central differences of the student's forward (``OwnGradient``): a backward that is the exact gradient of a
forward with a small slip keeps its points; the forward alone loses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from graders.specs.base import Case, Check, Diagnosis, ErrorCase, GradientCheck, NamedCase, Reach, Spec
from graders.specs.kit.gradients import weighted_sum
from graders.specs.kit.programs import forward_program, own_cache_backward_program, own_forward_gradient
from graders.specs.kit.tolerances import PRODUCT_SUMS
from graders.specs.normalization.bugs import (
    BATCHNORM_FORWARD_DIAGNOSES,
    LAYERNORM_OVER_BATCH,
    SPATIAL_RESHAPE,
    count_diagnoses,
    features,
    group_size,
    groupnorm_flat_dgamma,
    pixels,
    rows,
)
from graders.specs.normalization.cases import (
    GROUPNORM_REACHES,
    LAYERNORM_REACHES,
    batchnorm_backward_cases,
    batchnorm_backward_domain,
    batchnorm_forward_cases,
    batchnorm_forward_domain,
    batchnorm_reaches,
    groupnorm_cases,
    groupnorm_domain,
    layernorm_cases,
    layernorm_domain,
)
from graders.specs.normalization.fixed import (
    BACKWARD_SPREAD,
    FORWARD_SPREAD,
    batchnorm_backward_errors,
    batchnorm_backward_notebook,
    batchnorm_backward_scale,
    batchnorm_forward_errors,
    batchnorm_forward_notebook,
    batchnorm_forward_scale,
    groupnorm_errors,
    groupnorm_notebook,
    groupnorm_scale,
    layernorm_errors,
    layernorm_notebook,
    layernorm_scale,
    spatial_batchnorm_backward_notebook,
    spatial_batchnorm_forward_notebook,
)
from graders.specs.normalization.grading import (
    LayerFn,
    backward_expected,
    batchnorm_forward_expected,
    batchnorm_forward_program,
    forward_checks,
    forward_of,
    gradient_checks,
)
from graders.specs.normalization.torch import (
    batchnorm_backward_torch,
    batchnorm_forward_torch,
    groupnorm_torch,
    layernorm_torch,
)
from reference import cs231n as R

BN_ARGS = ("x", "gamma", "beta", "bn_param")
LN_ARGS = ("x", "gamma", "beta", "ln_param")
GN_ARGS = ("x", "gamma", "beta", "G", "gn_param")
#: Each gradient of a normalisation layer's backward -> the input it differentiates.
GRADIENT_OF = {"dx": "x", "dgamma": "gamma", "dbeta": "beta"}


# ---------------------------------------------------------------- declarations
def batchnorm_forward() -> Spec:
    return _batchnorm_forward_spec(name="batchnorm_forward", spatial=False)


def spatial_batchnorm_forward() -> Spec:
    return _batchnorm_forward_spec(name="spatial_batchnorm_forward", spatial=True)


def batchnorm_backward() -> Spec:
    return _batchnorm_backward_spec(name="batchnorm_backward", backward=R.batchnorm_backward, spatial=False)


def batchnorm_backward_alt() -> Spec:
    return _batchnorm_backward_spec(name="batchnorm_backward_alt", backward=R.batchnorm_backward_alt, spatial=False,
                                    same_as="batchnorm_backward")


def spatial_batchnorm_backward() -> Spec:
    return _batchnorm_backward_spec(name="spatial_batchnorm_backward", backward=R.spatial_batchnorm_backward,
                                    spatial=True)


def layernorm_forward() -> Spec:
    expected = backward_expected(forward=R.layernorm_forward, backward=R.layernorm_backward, args=LN_ARGS)
    return Spec(
        name="layernorm_forward", module="layers", api="function",
        convention="cs231n: ln_param eps, default 1e-5",
        domain=layernorm_domain, cases=layernorm_cases, reaches=LAYERNORM_REACHES, notebook=layernorm_notebook,
        scale=layernorm_scale(FORWARD_SPREAD), errors=layernorm_errors(),
        expected=forward_of(expected), torch_expected=layernorm_torch,
        program=forward_program("layers", "layernorm_forward", *LN_ARGS),
        checks=(Check("out", tol=PRODUCT_SUMS, description="each example normalised over its features"),),
        diagnoses=(LAYERNORM_OVER_BATCH,),
        read_only=("x", "gamma", "beta"), dtype_preserving=True,
    )


def layernorm_backward() -> Spec:
    return _backward_spec(
        name="layernorm_backward", forward_name="layernorm_forward",
        forward=R.layernorm_forward, backward=R.layernorm_backward, args=LN_ARGS,
        domain=layernorm_domain, cases=layernorm_cases, reaches=LAYERNORM_REACHES, notebook=layernorm_notebook,
        scale=layernorm_scale(BACKWARD_SPREAD), torch_expected=layernorm_torch,
        diagnoses=lambda expected: count_diagnoses(count=features, what="D", reference=expected),
    )


def spatial_groupnorm_forward() -> Spec:
    expected = backward_expected(forward=R.spatial_groupnorm_forward, backward=R.spatial_groupnorm_backward,
                                 args=GN_ARGS)
    return Spec(
        name="spatial_groupnorm_forward", module="layers", api="function",
        convention="cs231n: gamma, beta (1, C, 1, 1); gn_param eps, default 1e-5",
        domain=groupnorm_domain, cases=groupnorm_cases, reaches=GROUPNORM_REACHES, notebook=groupnorm_notebook,
        scale=groupnorm_scale(FORWARD_SPREAD), errors=groupnorm_errors(),
        expected=forward_of(expected), torch_expected=groupnorm_torch,
        program=forward_program("layers", "spatial_groupnorm_forward", *GN_ARGS),
        checks=(Check("out", tol=PRODUCT_SUMS, description="G groups of channels normalised per example"),),
        read_only=("x", "gamma", "beta"), dtype_preserving=True,
    )


def spatial_groupnorm_backward() -> Spec:
    return _backward_spec(
        name="spatial_groupnorm_backward", forward_name="spatial_groupnorm_forward",
        forward=R.spatial_groupnorm_forward, backward=R.spatial_groupnorm_backward, args=GN_ARGS,
        domain=groupnorm_domain, cases=groupnorm_cases, reaches=GROUPNORM_REACHES, notebook=groupnorm_notebook,
        scale=groupnorm_scale(BACKWARD_SPREAD), torch_expected=groupnorm_torch,
        diagnoses=lambda expected: (groupnorm_flat_dgamma(expected),
                                    *count_diagnoses(count=group_size, what="C/G*H*W", reference=expected)),
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


# ---------------------------------------------------------------- builders
def _batchnorm_forward_spec(*, name: str, spatial: bool) -> Spec:
    forward = R.spatial_batchnorm_forward if spatial else R.batchnorm_forward
    return Spec(
        name=name, module="layers", api="function",
        convention="cs231n: eps 1e-5 and momentum 0.9 by default, running = m * running + (1 - m) * batch, "
        "biased running variance stored into bn_param; test mode may put eps outside the square root",
        domain=batchnorm_forward_domain,
        cases=lambda: batchnorm_forward_cases(spatial),
        reaches=batchnorm_reaches(spatial=spatial, forward=True),
        notebook=spatial_batchnorm_forward_notebook if spatial else batchnorm_forward_notebook,
        scale=lambda: batchnorm_forward_scale(spatial),
        errors=batchnorm_forward_errors(spatial),
        expected=batchnorm_forward_expected(forward),
        torch_expected=batchnorm_forward_torch,
        program=batchnorm_forward_program(name),
        checks=forward_checks(),
        diagnoses=BATCHNORM_FORWARD_DIAGNOSES + ((SPATIAL_RESHAPE,) if spatial else ()),
        read_only=("xs", "x_test", "gamma", "beta"),
        dtype_preserving=True,
    )


def _batchnorm_backward_spec(*, name: str, backward: Callable[..., Any], spatial: bool, same_as: str | None = None
                             ) -> Spec:
    return _backward_spec(
        name=name, forward_name="spatial_batchnorm_forward" if spatial else "batchnorm_forward",
        forward=R.spatial_batchnorm_forward if spatial else R.batchnorm_forward, backward=backward, args=BN_ARGS,
        domain=batchnorm_backward_domain, cases=lambda: batchnorm_backward_cases(spatial),
        reaches=batchnorm_reaches(spatial=spatial, forward=False),
        notebook=spatial_batchnorm_backward_notebook if spatial else batchnorm_backward_notebook,
        scale=lambda: batchnorm_backward_scale(spatial), errors=batchnorm_backward_errors(spatial),
        torch_expected=batchnorm_backward_torch, same_as=same_as,
        diagnoses=lambda expected: count_diagnoses(count=pixels if spatial else rows, what="N*H*W" if spatial else "N",
                                                   reference=expected),
    )


def _backward_spec(
    *,
    name: str,
    forward_name: str,
    forward: LayerFn,
    backward: Callable[..., Any],
    args: tuple[str, ...],
    domain: Callable[[Case], bool],
    cases: Callable[[], st.SearchStrategy[Case]],
    reaches: tuple[Reach, ...],
    notebook: Callable[[], list[NamedCase]],
    scale: Callable[[], list[Case]],
    torch_expected: Callable[[Case], dict[str, Any]],
    diagnoses: Callable[[Callable[[Case], dict[str, Any]]], tuple[Diagnosis, ...]],
    errors: tuple[ErrorCase, ...] = (),
    same_as: str | None = None,
) -> Spec:
    """A normalisation backward judged through the student's own forward and cache; ``diagnoses`` are built
    from the reference's answers (their bug models scale them)."""
    expected = backward_expected(forward=forward, backward=backward, args=args)
    scalar = weighted_sum(forward, *args)
    return Spec(
        name=name, module="layers", api="function", depends_on=(forward_name,), same_as=same_as,
        domain=domain, cases=cases, reaches=reaches, notebook=notebook, scale=scale, errors=errors,
        expected=expected, torch_expected=torch_expected,
        gradients=tuple(GradientCheck(g, v, scalar) for g, v in GRADIENT_OF.items()),
        program=own_cache_backward_program("layers", forward_name, name, args, tuple(GRADIENT_OF)),
        own_gradient=own_forward_gradient("layers", forward_name, args, GRADIENT_OF),
        checks=gradient_checks(),
        diagnoses=diagnoses(expected),
        read_only=tuple(a for a in args if not a.endswith("_param")) + ("dout",),
    )
