"""Specs of cs231n's ``layer_utils`` sandwiches: affine-ReLU, conv-ReLU, conv-batchnorm-ReLU, conv-ReLU-pool.

Declarations first: one ``Sandwich`` record each (what its forward and backward share), the factories and
``FACTORIES``, then the two builders. Cases, with their domain and reach, are in ``cases``; the torch twins in
``torch``.

A sandwich is graded on its output and on every gradient. Its backward gets the student's own cache (its
layout is theirs): the forward is a setup step of its program (when it raises, the case says nothing about the
backward), the program also fetches the forward's ``out``, and where the comparison with the reference fails
the gradients are re-judged against central differences of the student's sandwich forward (``OwnGradient``).
So a conv-bn-ReLU built on a batch norm with an eps slip loses points in the forward functions, not again in
the sandwich's backward.

Scale cases: a fully connected layer of 64 examples of shape (3, 8, 8) onto 100 units, and 3x3 convolutions
with 16 filters on 4 images of shape (3, 32, 32) (pad 1). The conv-bn-ReLU case has a large input spread so
that an eps slip in the student's batch norm stays below the checks' tolerances (the case is too large for
finite differences of the student's forward).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from graders.specs.base import Case, Check, GradientCheck, NamedCase, Reach, Spec
from graders.specs.kit.gradients import weighted_sum
from graders.specs.kit.programs import forward_program, own_cache_backward_program, own_forward_gradient
from graders.specs.kit.tolerances import CONV_SUMS
from graders.specs.sandwiches.cases import (
    AFFINE_RELU_REACHES,
    CONV_REACHES,
    POOL_REACHES,
    affine_relu_cases,
    affine_relu_domain,
    affine_relu_notebook,
    affine_relu_scale,
    conv_domain,
    conv_notebook,
    conv_sandwich_cases,
    conv_scale,
)
from graders.specs.sandwiches.torch import affine_relu_torch, conv_bn_relu_torch, conv_relu_pool_torch, conv_relu_torch
from reference import cs231n as R

#: Largest case (entries of the inputs whose gradients failed) re-judged by finite differences of the student's
#: forward: covers every property and notebook case but the 16x16 conv-ReLU-pool one, at 2 small forward
#: calls per entry.
OWN_GRADIENT_MAX_ENTRIES = 1000


@dataclass(frozen=True, kw_only=True)
class Sandwich:
    """What a sandwich's forward and backward specs share: the functions are ``<base>_forward`` and
    ``<base>_backward`` of layer_utils, called with ``args``; the backward returns the gradients of ``wrt``."""

    base: str
    args: tuple[str, ...]
    wrt: tuple[str, ...]
    #: the layers.py / fast_layers.py functions the hand-out's forward calls, in order (the backward calls their
    #: backwards): a skeleton layer makes the sandwich fail, and the report names it
    layers: tuple[str, ...]
    convention: str
    domain: Callable[[Case], bool]
    cases: Callable[[], st.SearchStrategy[Case]]
    reaches: tuple[Reach, ...]
    notebook: Callable[[], list[NamedCase]]
    scale: Callable[[], list[Case]]
    torch_expected: Callable[[Case], dict[str, Any]]


# ---------------------------------------------------------------- declarations
AFFINE_RELU = Sandwich(
    base="affine_relu", args=("x", "w", "b"), wrt=("x", "w", "b"), layers=("affine", "relu"),
    convention="relu(affine(x, w, b))",
    domain=affine_relu_domain, cases=affine_relu_cases, reaches=AFFINE_RELU_REACHES, notebook=affine_relu_notebook,
    scale=affine_relu_scale, torch_expected=affine_relu_torch,
)
CONV_RELU = Sandwich(
    base="conv_relu", args=("x", "w", "b", "conv_param"), wrt=("x", "w", "b"), layers=("conv_fast", "relu"),
    convention="relu(conv(x, w, b)) with the fast convolution",
    domain=conv_domain(pool=False, bn=False), cases=conv_sandwich_cases, reaches=CONV_REACHES,
    notebook=conv_notebook(size=8, pool=False, bn=False), scale=conv_scale(pool=False, bn=False),
    torch_expected=conv_relu_torch,
)
CONV_BN_RELU = Sandwich(
    base="conv_bn_relu", args=("x", "w", "b", "gamma", "beta", "conv_param", "bn_param"),
    wrt=("x", "w", "b", "gamma", "beta"), layers=("conv_fast", "spatial_batchnorm", "relu"),
    convention="relu(spatial_batchnorm(conv(x, w, b), gamma, beta)) in train mode",
    domain=conv_domain(pool=False, bn=True), cases=lambda: conv_sandwich_cases(bn=True), reaches=CONV_REACHES,
    notebook=conv_notebook(size=8, pool=False, bn=True), scale=conv_scale(pool=False, bn=True),
    torch_expected=conv_bn_relu_torch,
)
CONV_RELU_POOL = Sandwich(
    base="conv_relu_pool", args=("x", "w", "b", "conv_param", "pool_param"), wrt=("x", "w", "b"),
    layers=("conv_fast", "relu", "max_pool_fast"),
    convention="max_pool_2x2(relu(conv(x, w, b))) with the fast convolution and pooling",
    domain=conv_domain(pool=True, bn=False), cases=lambda: conv_sandwich_cases(pool=True), reaches=POOL_REACHES,
    notebook=conv_notebook(size=16, pool=True, bn=False), scale=conv_scale(pool=True, bn=False),
    torch_expected=conv_relu_pool_torch,
)


def affine_relu_forward() -> Spec:
    return _forward_spec(sandwich=AFFINE_RELU)


def affine_relu_backward() -> Spec:
    return _backward_spec(sandwich=AFFINE_RELU)


def conv_relu_forward() -> Spec:
    return _forward_spec(sandwich=CONV_RELU)


def conv_relu_backward() -> Spec:
    return _backward_spec(sandwich=CONV_RELU)


def conv_bn_relu_forward() -> Spec:
    return _forward_spec(sandwich=CONV_BN_RELU)


def conv_bn_relu_backward() -> Spec:
    return _backward_spec(sandwich=CONV_BN_RELU)


def conv_relu_pool_forward() -> Spec:
    return _forward_spec(sandwich=CONV_RELU_POOL)


def conv_relu_pool_backward() -> Spec:
    return _backward_spec(sandwich=CONV_RELU_POOL)


FACTORIES: dict[str, Callable[..., Spec]] = {
    "affine_relu_forward": affine_relu_forward,
    "affine_relu_backward": affine_relu_backward,
    "conv_relu_forward": conv_relu_forward,
    "conv_relu_backward": conv_relu_backward,
    "conv_bn_relu_forward": conv_bn_relu_forward,
    "conv_bn_relu_backward": conv_bn_relu_backward,
    "conv_relu_pool_forward": conv_relu_pool_forward,
    "conv_relu_pool_backward": conv_relu_pool_backward,
}


# ---------------------------------------------------------------- builders
def _grads(sandwich: Sandwich) -> tuple[str, ...]:
    return tuple(f"d{v}" for v in sandwich.wrt)


def _expected(sandwich: Sandwich) -> Callable[[Case], dict[str, Any]]:
    """The reference sandwich's out and gradients (parameter dicts copied: batch norm writes into its own)."""
    forward, backward = getattr(R, f"{sandwich.base}_forward"), getattr(R, f"{sandwich.base}_backward")

    def expected(case: Case) -> dict[str, Any]:
        copied = [dict(case[a]) if isinstance(case[a], dict) else case[a] for a in sandwich.args]
        out, cache = forward(*copied)
        return {"out": out, **dict(zip(_grads(sandwich), backward(case["dout"], cache), strict=True))}

    return expected


def _layer_functions(sandwich: Sandwich, direction: str) -> tuple[str, ...]:
    """The graded names of the sandwich's layers in one direction: ``conv_fast`` -> ``conv_forward_fast``."""
    named = []
    for layer in sandwich.layers:
        stem, fast = (layer[: -len("_fast")], "_fast") if layer.endswith("_fast") else (layer, "")
        named.append(f"{stem}_{direction}{fast}")
    return tuple(named)


def _read_only(sandwich: Sandwich) -> tuple[str, ...]:
    return tuple(a for a in sandwich.args if not a.endswith("_param"))


def _forward_spec(*, sandwich: Sandwich) -> Spec:
    expected = _expected(sandwich)
    name = f"{sandwich.base}_forward"
    return Spec(
        name=name, module="layer_utils", api="function", convention=sandwich.convention,
        builds_on=_layer_functions(sandwich, "forward"),
        domain=sandwich.domain, cases=sandwich.cases, reaches=sandwich.reaches, notebook=sandwich.notebook,
        scale=sandwich.scale,
        expected=lambda case: {"out": expected(case)["out"]}, torch_expected=sandwich.torch_expected,
        program=forward_program("layer_utils", name, *sandwich.args),
        checks=(Check("out", tol=CONV_SUMS, description=sandwich.convention),),
        read_only=_read_only(sandwich),
    )


def _backward_spec(*, sandwich: Sandwich) -> Spec:
    forward, name = f"{sandwich.base}_forward", f"{sandwich.base}_backward"
    grads = _grads(sandwich)
    scalar = weighted_sum(getattr(R, forward), *sandwich.args)
    return Spec(
        name=name, module="layer_utils", api="function", convention=sandwich.convention, depends_on=(forward,),
        builds_on=_layer_functions(sandwich, "backward"),
        domain=sandwich.domain, cases=sandwich.cases, reaches=sandwich.reaches, notebook=sandwich.notebook,
        scale=sandwich.scale,
        expected=_expected(sandwich), torch_expected=sandwich.torch_expected,
        gradients=tuple(GradientCheck(g, v, scalar) for g, v in zip(grads, sandwich.wrt, strict=True)),
        program=own_cache_backward_program("layer_utils", forward, name, sandwich.args, grads),
        own_gradient=own_forward_gradient("layer_utils", forward, sandwich.args,
                                          dict(zip(grads, sandwich.wrt, strict=True)), OWN_GRADIENT_MAX_ENTRIES),
        checks=tuple(Check(g, tol=CONV_SUMS) for g in grads),
        read_only=(*_read_only(sandwich), "dout"),
    )
