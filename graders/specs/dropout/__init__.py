"""Specs of cs231n's dropout: rules about the mask, not equality with one particular mask.

A correct dropout may draw its mask with ``np.random.rand(...) < p``, ``np.random.binomial``, a Generator, a
fixed count with ``np.random.choice``, in any order: only the distribution and the consistency are graded.
The hand-out's domain is 2-D input (N, D): the notebook calls dropout on x of shape (500, 500), and the network
applies it after affine layers. Its docstring says "x: input data, of any shape": that is a separate, small
robustness check (``robust:any_shape``, on a 4-D x), so a dropout written with ``N, D = x.shape`` is exact on
the hand-out's domain and loses only that.

  forward:  keep_rate, scale (inverted), same_seed, seed_varies (another seed gives a mask as independent of
            the first as two random masks: overlap about keep^2 of the units, not keep), uniform (rows,
            columns, even positions and neighbouring pairs keep units at the mask's own rate: no "first p *
            size units", no "every other unit", no one mask for the batch), test_identity. The three
            statistical checks fail a correct mask with probability below 1e-7 per case (Chernoff-Hoeffding
            bounds, no normal approximation: graders/specs/kit/maskstats.py), about 1e-5 over a standard
            grading's 30 cases and 5e-5 over a thorough one's; their evidence comes from the notebook's and the
            scale tier's cases of 50,000 units and more (the property cases are small: cases.py says what the
            rules see there).
  backward: dx = dout * out / x, the upstream gradient through the student's own forward mask; test mode:
            dx = dout. Judged on its own: whatever the forward computes, the backward must pass dout through
            that same mask (programs.py).

Both have a check ``shape`` worth no points on the hand-out's domain (every output has x's shape): it is what
``robust:any_shape`` judges on a 4-D x, so that a 2-D-only dropout loses that check alone and a bug of the
main checks (a patterned mask, a scaled test mode) is not blamed on the shape as well.

Factory option ``p_is``: "keep" (cs231n since 2018, the default) or "drop" (2016-17 hand-outs), the meaning
of ``dropout_param['p']``. The reference is checked against the same rules (and torch against them in the
tests), so these specs are ``verified_by`` "mask identities".

Modules: cases.py (the tiers, the domain, what the cases reach, what the reference rejects), programs.py (the
calls and the reference's answers), rules.py (the checks' rules and the robustness checks), bugs.py (the
diagnoses and their bug models).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graders.specs.base import Check, Spec
from graders.specs.dropout import bugs as B
from graders.specs.dropout import cases as C
from graders.specs.dropout import programs as P
from graders.specs.dropout import rules as RULES
from graders.specs.dropout.cases import PIs
from graders.specs.kit.masks import fresh_mask_rule, masked_gradient_rule, uniform_rule
from graders.specs.kit.tolerances import IDENTITY, MASKED_GRADIENT, SCALE_RATIO


def dropout_forward(*, p_is: PIs = "keep") -> Spec:
    return _dropout_spec(
        name="dropout_forward",
        p_is=p_is,
        notebook=C.forward_notebook,
        scale=C.forward_scale,
        errors=C.forward_errors(p_is),
        program=P.forward_calls,
        expected=P.forward_reference(p_is),
        checks=(
            Check("keep_rate", compare=RULES.keep_rate_rule(p_is),
                  description="the fraction of kept units is the keep probability (binomial tail bounds)"),
            Check("scale", tol=SCALE_RATIO, compare=RULES.scale_rule(p_is), description="kept units are x / keep"),
            Check("same_seed", compare=RULES.same_seed_rule, description="the same seed gives the same output"),
            Check("seed_varies", compare=fresh_mask_rule("out", "out_other", RULES.two_seeds),
                  description="another seed gives a new mask, independent of the first (overlap about keep^2)"),
            Check("uniform", compare=uniform_rule("out"),
                  description="rows, columns, even positions and neighbours keep units at the mask's own rate"),
            Check("test_identity", tol=IDENTITY, compare=RULES.equals_rule("out_test", "x"),
                  description="test mode returns x"),
            RULES.shape_check("out", "out_again", "out_other", "out_test",
                              description="every output has x's shape (scored on a 4-D x: robust:any_shape)"),
        ),
        robustness=(RULES.FORWARD_ANY_SHAPE,),
        diagnoses=B.forward_diagnoses(p_is),
        read_only=("x",),
        dtype_preserving=True,
    )


def dropout_backward(*, p_is: PIs = "keep") -> Spec:
    return _dropout_spec(
        name="dropout_backward",
        p_is=p_is,
        notebook=C.backward_notebook,
        scale=C.backward_scale,
        program=P.backward_calls,
        expected=P.backward_reference(p_is),
        checks=(
            Check("dx", tol=MASKED_GRADIENT, compare=masked_gradient_rule,
                  description="dout through the forward's mask: dout * out / x"),
            Check("dx_test", tol=IDENTITY, compare=RULES.equals_rule("dx_test", "dout"),
                  description="test mode passes dout through"),
            RULES.shape_check("dx", "dx_test",
                              description="dx has dout's shape in both modes (scored on a 4-D dout: robust:any_shape)"),
        ),
        robustness=(RULES.BACKWARD_ANY_SHAPE,),
        diagnoses=B.backward_diagnoses(),
        depends_on=("dropout_forward",),
        read_only=("x", "dout"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "dropout_forward": dropout_forward,
    "dropout_backward": dropout_backward,
}


def _dropout_spec(*, name: str, p_is: PIs, **fields: Any) -> Spec:
    """What the forward and the backward share: the module, the convention, the domain, the property cases and
    what they reach, and how the reference is verified."""
    return Spec(
        name=name,
        module="layers",
        api="function",
        convention=(f"dropout_param['p'] = {p_is} probability; inverted; 'seed' makes the mask reproducible; 2-D x "
                    "(any shape: robustness)"),
        verified_by="mask identities",
        domain=C.in_domain(p_is),
        cases=C.dropout_cases,
        reaches=C.REACHES,
        **fields,
    )
