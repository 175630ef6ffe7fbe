"""Spec of the book's ``Dropout`` layer.

The book's convention: ``dropout_ratio`` is the probability to DROP a unit, it is not inverted (kept units
pass unchanged), test mode multiplies by ``1 - dropout_ratio``; the book draws
``np.random.rand(*x.shape) > dropout_ratio`` from NumPy's global state, with no seed. The rules are those of
cs231n's dropout (graders/specs/kit/masks.py, graders/specs/kit/maskstats.py): the keep rate within binomial
tail bounds, kept units unchanged, test-mode scale, dx through the same mask, a new mask at every train-mode
forward (two in a row overlap as independent masks do), and positions kept uniformly. The statistical checks
fail a correct mask with probability below 1e-7 each. The book uses the layer after affine layers: the main
domain is 2-D (N, D); a 4-D x is the robustness check ``any_shape``, which judges the check ``shape`` (every
output has x's shape; no points on the main domain), so a bug of the main checks is not blamed on the shape
as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, NamedCase, Reach, Robustness, Spec, Verdict
from graders.specs.kit import masks as MASKS
from graders.specs.kit.detectors import close
from graders.specs.kit.rules import array_of_shape, as_numeric, compare_arrays
from graders.specs.kit.tolerances import IDENTITY, MASKED_GRADIENT
from graders.specs.program import Const, Input, Program, Result, call, method
from reference import dlfs as D

#: How the book draws its mask (quoted in the diagnoses' sentences).
BOOK_DRAW = "np.random.rand(*x.shape) > self.dropout_ratio"
RATIO_RANGE = (0.05, 0.95)


# ---------------------------------------------------------------- declaration
def dropout_spec() -> Spec:
    return Spec(
        name="Dropout", module="layers", api="class",
        convention="book: dropout_ratio = drop probability, not inverted, test mode scales by 1 - ratio; 2-D x "
        "(any shape: robustness)",
        verified_by="mask rules; the reference passes them (tests/graders/test_dlfs_specs.py)",
        domain=dropout_domain, cases=dropout_cases, reaches=DROPOUT_REACHES, notebook=dropout_notebook,
        scale=dropout_scale,
        expected=dropout_expected,
        program=dropout_program,
        checks=(
            Check("keep_rate", compare=MASKS.keep_count_rule(_keep, _ratio_meaning),
                  description="about 1 - dropout_ratio of the units are kept (binomial tail bounds)"),
            Check("kept_unchanged", tol=IDENTITY, compare=_kept_unchanged_rule,
                  description="train mode: kept units equal x, the others 0 (not inverted)"),
            Check("test_scale", tol=IDENTITY, compare=_test_scale_rule,
                  description="test mode: x * (1 - dropout_ratio)"),
            Check("dx", tol=MASKED_GRADIENT, compare=MASKS.masked_gradient_rule,
                  description="backward: dout through the same mask as the train-mode forward"),
            Check("mask_varies", compare=MASKS.fresh_mask_rule("out", "out_next", _two_forwards),
                  description="the next train-mode forward draws a new mask, independent of the last"),
            Check("uniform", compare=MASKS.uniform_rule("out"),
                  description="rows, columns, even positions and neighbours keep units at the mask's own rate"),
            Check("shape", points=0.0, compare=MASKS.shape_rule(("out", "dx", "out_test", "out_next")),
                  description="every output has x's shape (scored on a 4-D x: robust:any_shape)"),
        ),
        robustness=(DROPOUT_ANY_SHAPE,),
        diagnoses=(
            Diagnosis("inverted dropout", INVERTED_SENTENCE, _inverted, reads=("out", "out_test")),
            Diagnosis("dropout_ratio taken as keep probability", RATIO_AS_KEEP_SENTENCE,
                      MASKS.rate_is_complement(_keep), reads=("out",)),
            Diagnosis("same mask at every forward", SAME_MASK_SENTENCE,
                      MASKS.identical_masks("out", "out_next", "mask_varies"), reads=("out", "out_next")),
            Diagnosis("mask shared by the batch", MASKS.shared_sentence(BOOK_DRAW), MASKS.shared_by_batch(),
                      reads=("out",)),
            Diagnosis("mask not uniform", MASKS.patterned_sentence(BOOK_DRAW), MASKS.patterned(), reads=("out",)),
        ),
        read_only=("x", "dout"),
    )


# ---------------------------------------------------------------- cases
def _dropout_case(x: np.ndarray, dout: np.ndarray, ratio: float) -> Case:
    return {"x": x, "dout": dout, "dropout_ratio": ratio}


@st.composite
def dropout_cases(draw: st.DrawFn) -> Case:
    """2-D (N, D) up to (40, 60): small and shrinkable; the statistics come from the notebook's and the scale
    tier's large cases."""
    shape = draw(MASKS.small_shape())
    return _dropout_case(draw(MASKS.away_from_zero(shape)), draw(S.seeded_arrays(shape, name="dout")),
                         draw(S.floats(*RATIO_RANGE)))


def dropout_notebook() -> list[NamedCase]:
    """The book's default ratio 0.5 and its ch. 6 experiment's 0.15, on a (500, 500) batch (seed 231)."""
    rng = np.random.RandomState(231)
    x = rng.uniform(0.5, 3.0, (500, 500)) * rng.choice([-1.0, 1.0], (500, 500))
    dout = rng.randn(500, 500)
    return [
        NamedCase("book: dropout_ratio 0.5 (the layer's default), x (500, 500), seed 231", _dropout_case(x, dout, 0.5)),
        NamedCase("book ch. 6: dropout_ratio 0.15 (the overfitting experiment), x (500, 500), seed 231",
                  _dropout_case(x, dout, 0.15)),
    ]


def dropout_scale() -> list[Case]:
    """Ch. 6's overfitting experiment: hidden layers of 100 units, batches of 100, dropout_ratio 0.2; and a
    (300, 200) batch at the default ratio 0.5 (60,000 units: the keep rate resolved to about 1%)."""
    x = MASKS.units_away_from_zero(np.random.default_rng(100), (100, 100))
    wide = MASKS.units_away_from_zero(np.random.default_rng(101), (300, 200))
    return [_dropout_case(x, S.standard_normal(100, (100, 100), name="dout"), 0.2),
            _dropout_case(wide, S.standard_normal(101, (300, 200), name="dout"), 0.5)]


def dropout_any_shape() -> list[Case]:
    """A 4-D x (N, C, H, W) of 40,960 units (robust:any_shape)."""
    shape = (8, 16, 16, 20)
    x = MASKS.units_away_from_zero(np.random.default_rng(4), shape)
    return [_dropout_case(x, S.standard_normal(4, shape, name="dout"), 0.4)]


def dropout_domain(case: Case) -> bool:
    """2-D x with every |x| >= 0.5 (a kept unit is never 0), a ratio in RATIO_RANGE, dout of x's shape."""
    x = case["x"]
    low, high = RATIO_RANGE
    return (x.ndim == 2 and bool(np.min(np.abs(x)) >= 0.5) and low <= case["dropout_ratio"] <= high
            and case["dout"].shape == x.shape)


DROPOUT_REACHES = (
    Reach("dropout_ratio below 0.4 (keep and drop told apart)", lambda case: case["dropout_ratio"] < 0.4),
    Reach("dropout_ratio above 0.6", lambda case: case["dropout_ratio"] > 0.6),
    Reach("a batch that is not square (rows and columns told apart)", lambda case: len(set(case["x"].shape)) > 1),
)


# ---------------------------------------------------------------- program and reference
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


# ---------------------------------------------------------------- rules
def _keep(case: Case) -> float:
    return 1.0 - case["dropout_ratio"]


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
    none = MASKS.nothing_kept(kept, _keep(case))  # a correct mask may keep nothing on a small case
    if none is not None:
        return none
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


# ---------------------------------------------------------------- diagnoses
INVERTED_SENTENCE = (
    "The book's dropout is not inverted: in train mode kept units pass unchanged (x * mask), and test mode "
    "returns x * (1 - dropout_ratio). Scaling by 1 / (1 - ratio) at train time is the cs231n/torch convention.")
RATIO_AS_KEEP_SENTENCE = (
    "The keep rate matches dropout_ratio: in the book dropout_ratio is the probability to DROP a unit "
    f"(mask = {BOOK_DRAW}).")
SAME_MASK_SENTENCE = (
    "Two train-mode forwards gave the very same mask: draw a new random mask at every forward "
    f"(self.mask = {BOOK_DRAW}), without reseeding to a fixed number and without a fixed pattern.")


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
        if run.failed_on("kept_unchanged"):
            units = _kept_units(run)
            if units is None or not np.allclose(units[0], units[1] / (1.0 - ratio), rtol=1e-7, atol=0.0):
                return False
            seen = True
        if run.failed_on("test_scale"):
            if not close(run.actual.get("out_test"), run.case["x"], rtol=1e-12, atol=0.0):
                return False
            seen = True
    return seen


DROPOUT_ANY_SHAPE = Robustness(
    "any_shape",
    "runs on a 4-D x (N, C, H, W) and returns x's shape, as on a 2-D x",
    "Dropout should accept x of any shape, as the book's layer does (np.random.rand(*x.shape)): on a 4-D x it "
    "raised or returned an array of another shape.",
    cases=dropout_any_shape,
    checks=("shape",),
)
