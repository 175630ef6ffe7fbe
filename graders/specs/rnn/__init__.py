"""Specs of cs231n assignment 3's ``cs231n/rnn_layers.py`` (2019-2022 hand-outs).

Thirteen functions: the tanh RNN (a step and a sequence, forward and backward), the word embedding, the LSTM
(gates i, f, o, g along 4H; a sequence starts from a zero cell state), the temporal affine layer and the masked
temporal softmax loss. Conventions in reference/cs231n/rnn_layers.py's docstring.

Forward and backward are graded as separate functions. A backward's program runs the student's own forward
first (a setup step: when it raises, the case says nothing about the backward) and passes its cache on, as the
notebook does; the hand-out leaves that cache's layout to the student, so where the gradients differ from the
reference's they are re-judged against central differences of the student's own forward (``OwnGradient``,
with both of an LSTM step's outputs), provided that forward is close to the reference's. The temporal affine
layer's cache is the hand-out's own ``(x, w, b, out)``: its backward also gets that cache built from the case.
The sequence functions call the step functions in the hand-out (``builds_on``): a broken step is named first.

Modules: cases.py (the three tiers, domains, reach), bugs.py (bug models and diagnoses), torch.py (the torch
twins: nn.RNN, nn.LSTM with the gate blocks reordered, embedding, cross_entropy with a mask).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from graders.specs.base import Case, Check, Diagnosis, GradientCheck, NamedCase, OwnGradient, Reach, Spec
from graders.specs.kit.gradients import weighted
from graders.specs.kit.programs import gradient_outputs, handout_backward, packed
from graders.specs.kit.tolerances import EXACT, LOSS_FINITE_DIFFERENCES, PRODUCT_SUMS, SOFTMAX_GRADIENT
from graders.specs.program import Expr, Input, Item, Program, Result, as_setup, call
from graders.specs.rnn import bugs as B
from graders.specs.rnn import cases as C
from graders.specs.rnn import torch as T
from reference.cs231n import rnn_layers as R

MODULE = "rnn_layers"
Outputs = Callable[[Case], dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class Layer:
    """What a forward and its backward share: the forward's arguments and outputs (names for the items of its
    returned tuple, the cache last), the upstream gradient of each output, the inputs in their three tiers."""

    args: tuple[str, ...]
    outs: tuple[str, ...]
    upstream: tuple[str, ...]
    cases: Callable[[], st.SearchStrategy[Case]]
    notebook: Callable[[], Sequence[NamedCase]]
    scale: Callable[[], list[Case]]
    domain: Callable[[Case], bool]
    reaches: tuple[Reach, ...]
    expected: Outputs
    torch_expected: Outputs
    describe: Callable[[Case], str] | None = None

    def scalar(self) -> Callable[[Case], float]:
        """sum(output * upstream) over the forward's outputs: what the backward differentiates."""
        def part(output: str, upstream: str) -> Callable[[Case], float]:
            return weighted(lambda case: self.expected(case)[output], upstream)

        parts = [part(o, up) for o, up in zip(self.outs, self.upstream, strict=True)]
        return lambda case: sum(p(case) for p in parts)


# ---------------------------------------------------------------- declarations
def rnn_step_forward() -> Spec:
    return _forward_spec(RNN_STEP, "rnn_step_forward",
                         (Check("next_h", tol=PRODUCT_SUMS, description="tanh(x @ Wx + prev_h @ Wh + b)"),),
                         convention="next_h = tanh(x @ Wx + prev_h @ Wh + b)")


def rnn_step_backward() -> Spec:
    return _backward_spec(RNN_STEP, "rnn_step_backward", "rnn_step_forward", B.STEP_GRADS,
                          diagnoses=(B.RNN_STEP_TANH,))


def rnn_forward() -> Spec:
    return _forward_spec(RNN_SEQUENCE, "rnn_forward",
                         (Check("h", tol=PRODUCT_SUMS, description="every hidden state, h[:, t] from h[:, t - 1]"),),
                         diagnoses=(B.RNN_H0_EVERY_STEP,), builds_on=("rnn_step_forward",),
                         convention="h (N, T, H), the first step from h0")


def rnn_backward() -> Spec:
    return _backward_spec(RNN_SEQUENCE, "rnn_backward", "rnn_forward", B.SEQUENCE_GRADS,
                          diagnoses=(B.RNN_NOT_ACCUMULATED, B.RNN_UPSTREAM_DROPPED),
                          builds_on=("rnn_step_backward",))


def word_embedding_forward() -> Spec:
    return _forward_spec(EMBEDDING, "word_embedding_forward",
                         (Check("out", tol=EXACT, description="W[x]: the row of each word"),),
                         convention="out = W[x], x integer (N, T), W (V, D)")


def word_embedding_backward() -> Spec:
    return _backward_spec(EMBEDDING, "word_embedding_backward", "word_embedding_forward", ("dW",),
                          diagnoses=(B.EMBEDDING_ASSIGNED,), wrt={"dW": "W"},
                          description={"dW": "every position's gradient added to its word's row (np.add.at)"})


def lstm_step_forward() -> Spec:
    return _forward_spec(LSTM_STEP, "lstm_step_forward", (
        Check("next_h", tol=PRODUCT_SUMS, description="o * tanh(next_c)"),
        Check("next_c", tol=PRODUCT_SUMS, description="f * prev_c + i * g, gates i, f, o, g along 4H"),
    ), diagnoses=(B.LSTM_GATE_ORDER,), convention="gates i, f, o, g along 4H (sigmoid, sigmoid, sigmoid, tanh)")


def lstm_step_backward() -> Spec:
    return _backward_spec(LSTM_STEP, "lstm_step_backward", "lstm_step_forward", B.LSTM_STEP_GRADS,
                          diagnoses=(B.LSTM_CELL_PATH, B.LSTM_FORGET_NEXT_C, B.LSTM_TANH, B.LSTM_BACKWARD_GATE_ORDER))


def lstm_forward() -> Spec:
    return _forward_spec(LSTM_SEQUENCE, "lstm_forward",
                         (Check("h", tol=PRODUCT_SUMS, description="every hidden state, from h0 and c0 = 0"),),
                         builds_on=("lstm_step_forward",), convention="h (N, T, H); c0 = 0")


def lstm_backward() -> Spec:
    return _backward_spec(LSTM_SEQUENCE, "lstm_backward", "lstm_forward", B.SEQUENCE_GRADS,
                          diagnoses=(B.LSTM_NOT_ACCUMULATED, B.LSTM_CELL_NOT_CARRIED),
                          builds_on=("lstm_step_backward",))


def temporal_affine_forward() -> Spec:
    return _forward_spec(TEMPORAL_AFFINE, "temporal_affine_forward",
                         (Check("out", tol=PRODUCT_SUMS, description="x @ w + b at every time step"),),
                         diagnoses=(B.TEMPORAL_AFFINE_NO_BIAS,), convention="cache (x, w, b, out)")


def temporal_affine_backward() -> Spec:
    spec = _backward_spec(TEMPORAL_AFFINE, "temporal_affine_backward", "temporal_affine_forward",
                          ("dx", "dw", "db"), wrt=None)
    cache = handout_backward(MODULE, "temporal_affine_backward", packed("x", "w", "b", "out"), ("dx", "dw", "db"))

    def with_out(case: Case) -> tuple[Program, Case]:
        program, handout_case = cache(case)
        return program, {**handout_case, "out": temporal_affine_expected(case)["out"]}

    return _replace(spec, handout_program=with_out)


def temporal_softmax_loss() -> Spec:
    return Spec(
        name="temporal_softmax_loss", module=MODULE, api="function",
        convention="cross-entropy summed over the steps where mask is True, divided by N",
        domain=C.loss_domain, cases=C.loss_cases, reaches=C.LOSS_REACHES, notebook=C.loss_notebook,
        scale=C.loss_scale, describe=C.describe_loss,
        expected=temporal_softmax_expected, torch_expected=T.temporal_softmax_torch,
        gradients=(GradientCheck("dx", "x", lambda case: temporal_softmax_expected(case)["loss"],
                                 tol=LOSS_FINITE_DIFFERENCES),),
        program=_loss_program,
        checks=(
            Check("loss", tol=PRODUCT_SUMS, description="sum over kept steps of -log softmax(x)[y], divided by N"),
            Check("dx", tol=SOFTMAX_GRADIENT, description="(softmax(x) - onehot(y)) * mask / N"),
        ),
        diagnoses=B.loss_diagnoses(temporal_softmax_expected),
        read_only=("x", "y", "mask"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {
    "rnn_step_forward": rnn_step_forward,
    "rnn_step_backward": rnn_step_backward,
    "rnn_forward": rnn_forward,
    "rnn_backward": rnn_backward,
    "word_embedding_forward": word_embedding_forward,
    "word_embedding_backward": word_embedding_backward,
    "lstm_step_forward": lstm_step_forward,
    "lstm_step_backward": lstm_step_backward,
    "lstm_forward": lstm_forward,
    "lstm_backward": lstm_backward,
    "temporal_affine_forward": temporal_affine_forward,
    "temporal_affine_backward": temporal_affine_backward,
    "temporal_softmax_loss": temporal_softmax_loss,
}


# ---------------------------------------------------------------- programs
def forward_program(layer: Layer, name: str) -> Callable[[Case], Program]:
    """``name(*args)``, fetching each output but the cache by its name."""

    def program(case: Case) -> Program:
        return Program(steps=(call("fwd", MODULE, name, *(Input(a) for a in layer.args)),),
                       outputs={o: Item(Result("fwd"), k) for k, o in enumerate(layer.outs)})

    return program


def backward_program(layer: Layer, forward: str, backward: str, grads: tuple[str, ...]) -> Callable[[Case], Program]:
    """The student's forward (a setup step), then their backward on the upstream gradients and that forward's
    cache (the last item it returned); fetches the gradients and the forward's outputs (OwnGradient compares
    those with the reference's before judging against the student's own forward)."""
    cache_at = len(layer.outs)

    def program(case: Case) -> Program:
        steps = (
            as_setup(call("fwd", MODULE, forward, *(Input(a) for a in layer.args))),
            call("bwd", MODULE, backward, *(Input(u) for u in layer.upstream), Item(Result("fwd"), cache_at)),
        )
        outputs: dict[str, Expr] = dict(gradient_outputs(grads))
        outputs.update({o: Item(Result("fwd"), k) for k, o in enumerate(layer.outs)})
        return Program(steps=steps, outputs=outputs)

    return program


def _loss_program(case: Case) -> Program:
    return Program(steps=(call("loss", MODULE, "temporal_softmax_loss", Input("x"), Input("y"), Input("mask")),),
                   outputs={"loss": Item(Result("loss"), 0), "dx": Item(Result("loss"), 1)})


# ---------------------------------------------------------------- builders
def _shared(layer: Layer) -> dict[str, Any]:
    return {"domain": layer.domain, "cases": layer.cases, "reaches": layer.reaches, "notebook": layer.notebook,
            "scale": layer.scale, "describe": layer.describe, "expected": layer.expected,
            "torch_expected": layer.torch_expected}


def _forward_spec(layer: Layer, name: str, checks: tuple[Check, ...], *, diagnoses: tuple[Diagnosis, ...] = (),
                  builds_on: tuple[str, ...] = (), convention: str = "") -> Spec:
    return Spec(name=name, module=MODULE, api="function", convention=convention, builds_on=builds_on,
                **_shared(layer), program=forward_program(layer, name), checks=checks, diagnoses=diagnoses,
                read_only=layer.args, dtype_preserving=True)


#: Each gradient of a backward -> the forward's input it differentiates (the names the hand-out uses).
GRADIENT_OF = {"dx": "x", "dprev_h": "prev_h", "dprev_c": "prev_c", "dh0": "h0", "dWx": "Wx", "dWh": "Wh",
               "db": "b", "dW": "W", "dw": "w"}


def _backward_spec(layer: Layer, name: str, forward: str, grads: tuple[str, ...], *,
                   diagnoses: tuple[Diagnosis, ...] = (), builds_on: tuple[str, ...] = (),
                   wrt: Mapping[str, str] | None | bool = True, description: Mapping[str, str] | None = None) -> Spec:
    """A backward judged on its own gradients; ``wrt`` True re-judges every gradient against finite differences
    of the student's forward, a mapping only those, None not at all (the hand-out fixes the cache)."""
    of = {g: GRADIENT_OF[g] for g in grads} if wrt is True else wrt
    own = None
    if isinstance(of, Mapping):
        own = OwnGradient(forward=forward_program(layer, forward), wrt=dict(of), out=layer.outs[0],
                          upstream=tuple(zip(layer.outs, layer.upstream, strict=True)))
    scalar = layer.scalar()
    return Spec(
        # the cache is the student's forward's: when that forward is wrong too, the report says to fix it first
        name=name, module=MODULE, api="function", depends_on=(forward,),
        builds_on=(forward, *builds_on) if own is not None else builds_on, **_shared(layer),
        gradients=tuple(GradientCheck(g, GRADIENT_OF[g], scalar) for g in grads),
        program=backward_program(layer, forward, name, grads),
        checks=tuple(Check(g, tol=PRODUCT_SUMS, description=(description or {}).get(g, "")) for g in grads),
        diagnoses=diagnoses, read_only=(*layer.args, *layer.upstream), own_gradient=own,
    )


def _replace(spec: Spec, **fields: Any) -> Spec:
    return dataclasses.replace(spec, **fields)


# ---------------------------------------------------------------- the reference's answers
def _step_expected(case: Case) -> dict[str, Any]:
    next_h, cache = R.rnn_step_forward(*(case[k] for k in ("x", "prev_h", "Wx", "Wh", "b")))
    return {"next_h": next_h, **dict(zip(B.STEP_GRADS, R.rnn_step_backward(case["dnext_h"], cache), strict=True))}


def _sequence_expected(forward: Callable[..., Any], backward: Callable[..., Any]) -> Outputs:
    def expected(case: Case) -> dict[str, Any]:
        h, cache = forward(*(case[k] for k in ("x", "h0", "Wx", "Wh", "b")))
        return {"h": h, **dict(zip(B.SEQUENCE_GRADS, backward(case["dh"], cache), strict=True))}

    return expected


def _embedding_expected(case: Case) -> dict[str, Any]:
    out, cache = R.word_embedding_forward(case["x"], case["W"])
    return {"out": out, "dW": R.word_embedding_backward(case["dout"], cache)}


def _lstm_step_expected(case: Case) -> dict[str, Any]:
    next_h, next_c, cache = R.lstm_step_forward(*(case[k] for k in ("x", "prev_h", "prev_c", "Wx", "Wh", "b")))
    grads = R.lstm_step_backward(case["dnext_h"], case["dnext_c"], cache)
    return {"next_h": next_h, "next_c": next_c, **dict(zip(B.LSTM_STEP_GRADS, grads, strict=True))}


def temporal_affine_expected(case: Case) -> dict[str, Any]:
    out, cache = R.temporal_affine_forward(case["x"], case["w"], case["b"])
    return {"out": out, **dict(zip(("dx", "dw", "db"), R.temporal_affine_backward(case["dout"], cache),
                                   strict=True))}


def temporal_softmax_expected(case: Case) -> dict[str, Any]:
    loss, dx = R.temporal_softmax_loss(case["x"], case["y"], case["mask"])
    return {"loss": loss, "dx": dx}


# ---------------------------------------------------------------- the layers
RNN_STEP = Layer(args=("x", "prev_h", "Wx", "Wh", "b"), outs=("next_h",), upstream=("dnext_h",),
                 cases=C.step_cases(gates=1), notebook=C.rnn_step_notebook, scale=C.step_scale(gates=1),
                 domain=C.recurrent_domain, reaches=C.recurrent_reaches(sequence=False), expected=_step_expected,
                 torch_expected=T.rnn_step_torch)
RNN_SEQUENCE = Layer(args=("x", "h0", "Wx", "Wh", "b"), outs=("h",), upstream=("dh",),
                     cases=C.sequence_cases(gates=1), notebook=C.rnn_sequence_notebook,
                     scale=C.sequence_scale(gates=1), domain=C.recurrent_domain,
                     reaches=C.recurrent_reaches(sequence=True),
                     expected=_sequence_expected(R.rnn_forward, R.rnn_backward), torch_expected=T.rnn_sequence_torch)
EMBEDDING = Layer(args=("x", "W"), outs=("out",), upstream=("dout",), cases=C.embedding_cases,
                  notebook=C.embedding_notebook, scale=C.embedding_scale, domain=C.embedding_domain,
                  reaches=C.EMBEDDING_REACHES, expected=_embedding_expected, torch_expected=T.embedding_torch)
LSTM_STEP = Layer(args=("x", "prev_h", "prev_c", "Wx", "Wh", "b"), outs=("next_h", "next_c"),
                  upstream=("dnext_h", "dnext_c"), cases=C.step_cases(gates=4), notebook=C.lstm_step_notebook,
                  scale=C.step_scale(gates=4), domain=C.recurrent_domain, reaches=C.recurrent_reaches(sequence=False),
                  expected=_lstm_step_expected, torch_expected=T.lstm_step_torch)
LSTM_SEQUENCE = Layer(args=("x", "h0", "Wx", "Wh", "b"), outs=("h",), upstream=("dh",),
                      cases=C.sequence_cases(gates=4), notebook=C.lstm_sequence_notebook,
                      scale=C.sequence_scale(gates=4), domain=C.recurrent_domain,
                      reaches=C.recurrent_reaches(sequence=True),
                      expected=_sequence_expected(R.lstm_forward, R.lstm_backward),
                      torch_expected=T.lstm_sequence_torch)
TEMPORAL_AFFINE = Layer(args=("x", "w", "b"), outs=("out",), upstream=("dout",), cases=C.affine_cases,
                        notebook=C.affine_notebook, scale=C.affine_scale, domain=C.affine_domain,
                        reaches=C.AFFINE_REACHES, expected=temporal_affine_expected,
                        torch_expected=T.temporal_affine_torch)
