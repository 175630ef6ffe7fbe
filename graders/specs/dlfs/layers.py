"""Specs of the book's simple layer classes: ``Relu``, ``Sigmoid`` and ``Affine`` (``SoftmaxWithLoss`` has
its own module, softmax_with_loss.py).

Each has a scale case of the book's MNIST network (100 images; 784 pixels into 50 hidden units for Affine).
Relu's inputs stay clear of its kink at 0 (finite differences must not straddle it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, NamedCase, Reach, Spec
from graders.specs.kit.detectors import close
from graders.specs.kit.gradients import weighted
from graders.specs.kit.programs import layer_expected, layer_program
from graders.specs.kit.rules import as_numeric, inputs_unchanged
from graders.specs.kit.tolerances import ELEMENTWISE, PRODUCT_SUMS
from graders.specs.kit.torch import torch_autograd, torch_one_thread
from graders.specs.program import Input
from reference import dlfs as D

#: How far every ReLU input stays from the kink at 0 (finite differences must not straddle it).
KINK_GAP = 1e-3


# ---------------------------------------------------------------- specs
def relu_spec() -> Spec:
    """The book's Relu. Its values decide the main checks; writing into x (``out = x`` then ``out[mask] = 0``
    clips the caller's x) costs only the small robustness check ``inputs_unchanged``, while backward may zero
    ``dout`` in place as the book does (a warning)."""
    remedy = "Copy before writing (out = x.copy(), as the book does) or use np.maximum."
    return _activation_spec(
        name="relu",
        cls="Relu",
        make=lambda case: D.Relu(),
        description="forward: max(0, x)",
        domain=lambda case: _elementwise_case(case) and bool(np.all(np.abs(case["x"]) >= KINK_GAP)),
        convention="book: Relu() with forward(x) / backward(dout); the book zeroes dout in place (a warning here)",
        robustness=(inputs_unchanged("Relu.forward", "x", remedy),),
    )


def sigmoid_layer_spec() -> Spec:
    return _activation_spec(
        name="sigmoid",
        cls="Sigmoid",
        make=lambda case: D.Sigmoid(),
        description="forward: 1 / (1 + exp(-x)); backward: dout * out * (1 - out)",
        domain=_elementwise_case,
        convention="book: Sigmoid() keeps its output for the backward pass",
    )


def affine_spec() -> Spec:
    scalar = weighted(lambda case: _make_affine(case).forward(case["x"]))
    return Spec(
        name="Affine",
        module="layers",
        api="class",
        domain=_affine_shapes_agree,
        cases=affine_cases,
        reaches=(Reach("a conv-shaped x (4-D, flattened)", lambda case: case["x"].ndim == 4),
                 Reach("a batch of one (N = 1)", lambda case: case["x"].shape[0] == 1),
                 Reach("one output unit (M = 1)", lambda case: case["W"].shape[1] == 1)),
        notebook=affine_notebook,
        scale=affine_scale,
        program=lambda case: layer_program("Affine", (Input("W"), Input("b")), (Input("x"),), ("dW", "db")),
        expected=layer_expected(_make_affine, ("dW", "db")),
        torch_expected=torch_affine,
        checks=(
            Check("out", tol=PRODUCT_SUMS, description="x.reshape(N, -1) @ W + b"),
            Check("dx", tol=PRODUCT_SUMS, description="dout @ W.T, in x's original shape"),
            Check("dW", tol=PRODUCT_SUMS, description="x.reshape(N, -1).T @ dout"),
            Check("db", tol=PRODUCT_SUMS, description="dout summed over the batch"),
        ),
        gradients=tuple(GradientCheck(g, v, scalar) for g, v in (("dx", "x"), ("dW", "W"), ("db", "b"))),
        diagnoses=(AFFINE_SHAPE_NOT_RESTORED,),
        convention="book: Affine(W, b) holds W and b by reference; a 4-D x is flattened and dx reshaped back",
        read_only=("x", "W", "b", "dout"),
    )


def _activation_spec(*, name: str, cls: str, make: Callable[[Case], Any], description: str, **fields: Any) -> Spec:
    """Relu and Sigmoid: construct, forward(x), backward(dout); the same cases (kink-free for Relu)."""
    return Spec(
        name=cls,
        module="layers",
        api="class",
        cases=lambda: elementwise_cases(kink_free=name == "relu"),
        reaches=ELEMENTWISE_REACHES,
        notebook=elementwise_notebook,
        scale=elementwise_scale,
        program=lambda case: layer_program(cls, (), (Input("x"),)),
        expected=layer_expected(make),
        torch_expected=_torch_activation(name),
        checks=(
            Check("out", tol=ELEMENTWISE, description=description),
            Check("dx", tol=ELEMENTWISE, description="backward(dout): the gradient with respect to x"),
        ),
        gradients=(GradientCheck("dx", "x", weighted(lambda case: make(case).forward(case["x"]))),),
        read_only=("x", "dout"),
        **fields,
    )


# ---------------------------------------------------------------- Relu and Sigmoid
def _elementwise_case(case: Case) -> bool:
    return case["dout"].shape == case["x"].shape and bool(np.all(np.isfinite(case["x"])))


ELEMENTWISE_REACHES = (
    Reach("1-D x", lambda case: case["x"].ndim == 1),
    Reach("4-D x", lambda case: case["x"].ndim == 4),
    Reach("units on both sides of 0", lambda case: bool(np.any(case["x"] < 0) and np.any(case["x"] > 0))),
)


@st.composite
def elementwise_cases(draw: st.DrawFn, kink_free: bool) -> Case:
    shape = draw(S.shapes_with(draw(st.integers(1, 4)), 1, 5))
    scale = 1.0 if kink_free else draw(st.sampled_from([1.0, 4.0]))
    x = draw(S.kink_free_arrays(shape) if kink_free else S.seeded_arrays(shape, scale, name="x"))
    return {"x": x, "dout": draw(S.seeded_arrays(shape, name="dout"))}


def elementwise_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(231)
    return [
        NamedCase("book ch. 5: the mask example x = [[1.0, -0.5], [-2.0, 3.0]], with a made-up dout",
                  {"x": np.array([[1.0, -0.5], [-2.0, 3.0]]), "dout": np.array([[0.3, -1.2], [0.7, 2.0]])}),
        NamedCase("not the book's: a (10, 10) batch, x and dout randn (seed 231)",
                  {"x": rng.randn(10, 10), "dout": rng.randn(10, 10)}),
    ]


def elementwise_scale() -> list[Case]:
    """The hidden layer of the book's MNIST network: 100 images, 50 units (every |x| clear of ReLU's kink)."""
    x = _clear_of_kink(S.standard_normal(5000, (100, 50), name="x"))
    return [{"x": x, "dout": S.standard_normal(5000, (100, 50), name="dout")}]


def _clear_of_kink(x: np.ndarray) -> np.ndarray:
    """x with every |x| < KINK_GAP moved to +-2 * KINK_GAP, remembered with the call that builds it (a repro
    prints that call, not zeros)."""
    moved = np.where(np.abs(x) < KINK_GAP, np.copysign(2 * KINK_GAP, x), x)
    code = S.recipe_of(x)
    if code is None:
        return moved
    return S.remember(moved, f"(lambda x: np.where(np.abs(x) < {KINK_GAP!r}, np.copysign({2 * KINK_GAP!r}, x), x))"
                             f"({code})")


def _torch_activation(name: str) -> Callable[[Case], dict[str, Any]]:
    def adapter(case: Case) -> dict[str, Any]:
        torch = torch_one_thread()
        fn = torch.relu if name == "relu" else torch.sigmoid
        return torch_autograd(case, (("x", "dx"),), fn)

    return adapter


# ---------------------------------------------------------------- Affine
def _affine_shapes_agree(case: Case) -> bool:
    x, w = case["x"], case["W"]
    n, m = x.shape[0], w.shape[1]
    return (x.ndim >= 2 and w.shape[0] == int(np.prod(x.shape[1:])) and case["b"].shape == (m,)
            and case["dout"].shape == (n, m))


@st.composite
def affine_cases(draw: st.DrawFn) -> Case:
    """x (N, D) or (N, C, H[, W]) as after a conv layer; W (D, M), b (M,)."""
    n = draw(S.dims(1, 4))
    feature_shape = draw(S.FEATURE_SHAPES)
    d, m = int(np.prod(feature_shape)), draw(S.dims(1, 5))
    return {
        "x": draw(S.seeded_arrays((n, *feature_shape), name="x")),
        "W": draw(S.seeded_arrays((d, m), name="W")),
        "b": draw(S.seeded_arrays((m,), name="b")),
        "dout": draw(S.seeded_arrays((n, m), name="dout")),
    }


def affine_notebook() -> list[NamedCase]:
    rng = np.random.RandomState(231)
    book = {"x": rng.rand(2, 2), "W": rng.rand(2, 3), "b": rng.rand(3), "dout": rng.randn(2, 3)}
    conv = {"x": rng.randn(2, 3, 4, 4), "W": rng.randn(48, 5), "b": rng.randn(5), "dout": rng.randn(2, 5)}
    return [NamedCase("book ch. 5: X (2,) into W (2, 3), as a batch of two (rand, seed 231)", book),
            NamedCase("not the book's: a conv-shaped x (2, 3, 4, 4) into 5 units (randn, seed 231)", conv)]


def affine_scale() -> list[Case]:
    """The book's MNIST network: 100 images of 784 pixels into 50 hidden units, and a conv net's pooled maps
    (100, 30, 12, 12) into 100 units (its SimpleConvNet's first Affine)."""
    pixels = S.remember(np.random.default_rng(5001).uniform(0.0, 1.0, (100, 784)),
                        "np.random.default_rng(5001).uniform(0.0, 1.0, (100, 784))")
    return [
        {
            "x": pixels,
            "W": S.standard_normal(5001, (784, 50), 0.01, name="W"),
            "b": S.standard_normal(5001, (50,), 0.1, name="b"),
            "dout": S.standard_normal(5001, (100, 50), name="dout"),
        },
        {
            "x": S.standard_normal(5002, (100, 30, 12, 12), name="x"),
            "W": S.standard_normal(5002, (30 * 12 * 12, 100), 0.01, name="W"),
            "b": S.standard_normal(5002, (100,), 0.1, name="b"),
            "dout": S.standard_normal(5002, (100, 100), name="dout"),
        },
    ]


def _make_affine(case: Case) -> Any:
    return D.Affine(case["W"], case["b"])


def torch_affine(case: Case) -> dict[str, Any]:
    import torch.nn.functional as F

    return torch_autograd(
        case,
        (("x", "dx"), ("W", "dW"), ("b", "db")),
        lambda x, w, b: F.linear(x.reshape(x.shape[0], -1), w.T, b),
    )


def _shape_not_restored(runs: Sequence[CaseRun]) -> bool:
    """dx has the flattened shape (N, D) with the right values, on cases whose x has more than 2 axes."""
    bad = [r for r in runs if r.failed_on("dx")]
    if not bad:
        return False
    for run in bad:
        got = as_numeric(run.actual.get("dx"))
        want = np.asarray(run.expected["dx"])
        if got is None or want.ndim <= 2 or not close(got, want.reshape(want.shape[0], -1)):
            return False
    return True


def _flat_dx(case: Case) -> dict[str, Any]:
    """The reference's dx left flattened to (N, D)."""
    dx = layer_expected(_make_affine)(case)["dx"]
    return {"dx": dx.reshape(dx.shape[0], -1)}


AFFINE_SHAPE_NOT_RESTORED = Diagnosis(
    "input shape not restored",
    "dx comes back flattened to (N, D) for a 4-D input: keep x's original shape in forward "
    "(self.original_x_shape = x.shape) and return dx.reshape(*self.original_x_shape) in backward.",
    _shape_not_restored,
    reads=("dx",),
    bug=_flat_dx,
)
