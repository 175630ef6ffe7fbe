"""Spec builders for a cs231n layer's forward and backward functions (affine, ReLU, conv, max pool).

The hand-out splits each layer into ``<layer>_forward(*args) -> (out, cache)`` and ``<layer>_backward(dout,
cache) -> gradients``, and grades them as two functions. The two specs share their inputs (the same cases in
all three tiers, the same domain and reach, the same torch twin, the same way of describing a case) and
differ in what they run and check. :class:`LayerInputs` holds the shared part once; :func:`forward_spec` and
:func:`backward_spec` add the rest, each with the conventions every such pair follows:

* the forward: ``out`` fetched from the first element of the returned pair, its inputs read-only, float32 in
  giving float32 out;
* the backward: the student's own forward first (a setup step), then their backward on ``dout`` and that
  cache; where the hand-out fixes the cache (``handout_cache``), a second chance with that cache, so a wrong
  forward costs the backward nothing; ``dout`` read-only too (a warning, never points).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from graders.specs.base import Case, Check, Diagnosis, ErrorCase, GradientCheck, NamedCase, Reach, Robustness, Spec
from graders.specs.kit.programs import backward_program, forward_program, handout_backward
from graders.specs.program import Expr

Outputs = Callable[[Case], dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class LayerInputs:
    """What a layer's forward and backward specs share (see Spec's docstring for each field).

    ``args`` are the forward's arguments in order (case keys); the backward takes ``dout`` and the cache.
    """

    args: tuple[str, ...]
    cases: Callable[[], st.SearchStrategy[Case]]
    notebook: Callable[[], Sequence[NamedCase]]
    scale: Callable[[], list[Case]]
    domain: Callable[[Case], bool]
    reaches: tuple[Reach, ...]
    torch_expected: Outputs
    describe: Callable[[Case], str] | None = None
    convention: str = ""


def forward_spec(
    *,
    layer: LayerInputs,
    name: str,
    module: str,
    expected: Outputs,
    check: Check,
    diagnoses: tuple[Diagnosis, ...] = (),
    errors: tuple[ErrorCase, ...] = (),
    robustness: tuple[Robustness, ...] = (),
    same_as: str | None = None,
) -> Spec:
    """``module.name(*layer.args) -> (out, cache)``, graded on ``out`` by ``check``."""
    return Spec(
        name=name,
        module=module,
        api="function",
        **_from_layer(layer),
        same_as=same_as,
        errors=errors,
        expected=expected,
        program=forward_program(module, name, *layer.args),
        checks=(check,),
        robustness=robustness,
        diagnoses=diagnoses,
        read_only=layer.args,
        dtype_preserving=True,
    )


def _from_layer(layer: LayerInputs) -> dict[str, Any]:
    """The Spec fields a layer's forward and backward take from what they share."""
    return {
        "convention": layer.convention, "domain": layer.domain, "cases": layer.cases, "reaches": layer.reaches,
        "notebook": layer.notebook, "scale": layer.scale, "describe": layer.describe,
        "torch_expected": layer.torch_expected,
    }


def backward_spec(
    *,
    layer: LayerInputs,
    name: str,
    module: str,
    forward_name: str,
    expected: Outputs,
    checks: tuple[Check, ...],
    gradients: tuple[GradientCheck, ...],
    diagnoses: tuple[Diagnosis, ...] = (),
    errors: tuple[ErrorCase, ...] = (),
    handout_cache: Callable[[], Expr] | None = None,
    same_as: str | None = None,
) -> Spec:
    """``module.name(dout, cache)`` after the student's ``forward_name``, graded on each check's gradient.

    ``handout_cache`` builds the cache the hand-out's forward returns (``packed("x", "w", "b")``), for the
    second chance; None where the cache is the student's to design (fast_layers)."""
    grads = tuple(c.name for c in checks)
    return Spec(
        name=name,
        module=module,
        api="function",
        **_from_layer(layer),
        depends_on=(forward_name,),
        same_as=same_as,
        errors=errors,
        expected=expected,
        gradients=gradients,
        program=backward_program(module, forward_name, name, layer.args, grads),
        checks=checks,
        diagnoses=diagnoses,
        read_only=(*layer.args, "dout"),
        handout_program=handout_backward(module, name, handout_cache, grads) if handout_cache else None,
    )
