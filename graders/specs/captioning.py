"""Spec of cs231n assignment 3's ``CaptioningRNN`` (``cs231n/classifiers/rnn.py``, 2019-2022 hand-outs).

Graded through its public methods, the instance staying in the worker (kit/programs.py's ``net_program``, as
``FullyConnectedNet``): a case builds the model on a tiny vocabulary (``<NULL>``, ``<START>``, ``<END>`` and 2 to
5 words) with the hand-out's keyword arguments (dtype float64), writes the case's parameters into
``model.params``, then calls ``loss(features, captions)`` (the loss and a gradient per parameter) and
``sample(features, max_length)`` (greedy captions). ``__init__`` is judged on the parameters' names and shapes
(their random scales are the hand-out's choice, not graded).

Sampling: the first column is the first sampled word, not ``<START>``; after a row's first ``<END>`` the
hand-out lets the loop go on, so the rest of that row may be the greedy continuation or all ``<NULL>``. Cases
keep every greedy choice clear of ties (the best score at least 1e-6 above the second), so another summation
order cannot change a word.

The model runs the student's rnn_layers.py (``builds_on``): a broken layer is named first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, Diagnosis, GradientCheck, NamedCase, Outputs, Reach, Spec, Verdict
from graders.specs.kit.cases import first_valid
from graders.specs.kit.detectors import matches_variant, variant_diagnosis
from graders.specs.kit.networks import NOT_PRODUCED, InitRule, judge_entries, write_params
from graders.specs.kit.programs import fetched_loss_and_grads, initial_params, net_program
from graders.specs.kit.rules import array_of_shape, as_numeric
from graders.specs.kit.tolerances import NORMALISED_GRADIENTS
from graders.specs.kit.torch import leaf_grads, torch_one_thread
from graders.specs.program import Const, Expr, Input, Program, Result, merged
from reference.cs231n import rnn_layers as L
from reference.cs231n.rnn import CaptioningRNN as ReferenceModel

MODULE = "rnn"
PARAMS = ("W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab")
NULL, START, END = 0, 1, 2
#: Smallest gap between the best and the second-best score at any greedy step of a case.
TIE_MARGIN = 1e-6
RNN_LAYERS = ("word_embedding_forward", "word_embedding_backward", "rnn_forward", "rnn_backward", "lstm_forward",
              "lstm_backward", "temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss",
              "rnn_step_forward", "lstm_step_forward")


def captioning_rnn() -> Spec:
    return Spec(
        name="CaptioningRNN", module=MODULE, api="class",
        convention="CaptioningRNN(word_to_idx, input_dim, wordvec_dim, hidden_dim, cell_type, dtype); params "
                   "W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab; loss(features, captions) -> (loss, grads), "
                   "no regularisation; sample(features, max_length) -> greedy captions, first sampled word first",
        builds_on=RNN_LAYERS,
        domain=valid_case, cases=captioning_cases, notebook=captioning_notebook,
        reaches=(
            Reach("an LSTM", lambda case: case["cell_type"] == "lstm"),
            Reach("a tanh RNN", lambda case: case["cell_type"] == "rnn"),
            Reach("a caption padded with <NULL>", lambda case: bool((case["captions"] == NULL).any())),
            Reach("a sample reaching <END> before its last word",
                  lambda case: bool((_greedy(case)[:, :-1] == END).any())),
        ),
        program=captioning_program, expected=captioning_expected, torch_expected=torch_captioning,
        gradients=tuple(GradientCheck(f"grad_{k}", k, train_loss) for k in PARAMS),
        checks=(
            Check("init", outputs=tuple(f"init_{k}" for k in PARAMS), compare=InitRule(names=PARAMS, starts={}),
                  description="__init__: W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab of the right shapes "
                              "(Wx, Wh and b four times as wide for an LSTM)"),
            Check("loss", tol=NORMALISED_GRADIENTS,
                  description="loss(features, captions): temporal softmax loss of the words shifted by one, "
                              "<NULL> targets masked"),
            Check("grads", outputs=tuple(f"grad_{k}" for k in PARAMS), tol=NORMALISED_GRADIENTS, points=2.0,
                  compare=judge_entries("grad_", PARAMS, NOT_PRODUCED),
                  description="loss(features, captions)'s gradient of every parameter"),
            Check("captions", compare=judge_captions,
                  description="sample(features, max_length): greedy words from <START>, the first sampled word "
                              "first; after <END> the greedy continuation or <NULL>"),
        ),
        diagnoses=DIAGNOSES,
        read_only=("features", "captions"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {"CaptioningRNN": captioning_rnn}


# ---------------------------------------------------------------- cases
def _vocabulary(size: int) -> dict[str, int]:
    words = ["<NULL>", "<START>", "<END>", *(f"w{k}" for k in range(3, size))]
    return {w: i for i, w in enumerate(words)}


def _build(rng: np.random.Generator, n: int, t: int, v: int, d: int, w: int, h: int, cell_type: str,
           max_length: int) -> Case:
    gates = 4 if cell_type == "lstm" else 1
    case: Case = {"word_to_idx": _vocabulary(v), "input_dim": d, "wordvec_dim": w, "hidden_dim": h,
                  "cell_type": cell_type, "max_length": max_length}
    scales = {"W_proj": ((d, h), d ** -0.5), "b_proj": ((h,), 0.3), "W_embed": ((v, w), 1.0),
              "Wx": ((w, gates * h), 0.7 * w ** -0.5), "Wh": ((h, gates * h), 0.7 * h ** -0.5),
              "b": ((gates * h,), 0.3), "W_vocab": ((h, v), h ** -0.5), "b_vocab": ((v,), 0.3)}
    for k, (shape, scale) in scales.items():
        case[k] = rng.standard_normal(shape) * scale
    case["features"] = rng.standard_normal((n, d))
    captions = np.full((n, t + 1), NULL, dtype=np.int64)
    captions[:, 0] = START
    for row in range(n):
        length = int(rng.integers(1, t))  # words before <END>; <END> at 1 + length <= t
        captions[row, 1:1 + length] = rng.integers(3, v, size=length)
        captions[row, 1 + length] = END
    case["captions"] = captions
    return case


def _greedy(case: Case, *, feed_start: bool = False) -> np.ndarray:
    return _decode(case, feed_start=feed_start)[0]


def _decode(case: Case, *, feed_start: bool = False) -> tuple[np.ndarray, float]:
    """Greedy captions and the smallest gap between the best and second-best score on the way (``feed_start``:
    <START> fed at every step, a bug)."""
    h = case["features"] @ case["W_proj"] + case["b_proj"]
    c = np.zeros_like(h)
    n = h.shape[0]
    word = np.full(n, START)
    captions = np.zeros((n, case["max_length"]), dtype=np.int64)
    margin = np.inf
    for t in range(case["max_length"]):
        x = case["W_embed"][word]
        if case["cell_type"] == "rnn":
            h, _ = L.rnn_step_forward(x, h, case["Wx"], case["Wh"], case["b"])
        else:
            h, c, _ = L.lstm_step_forward(x, h, c, case["Wx"], case["Wh"], case["b"])
        scores = h @ case["W_vocab"] + case["b_vocab"]
        top = np.sort(scores, axis=1)
        margin = min(margin, float(np.min(top[:, -1] - top[:, -2])))
        captions[:, t] = np.argmax(scores, axis=1)
        word = np.full(n, START) if feed_start else captions[:, t]
    return captions, margin


def valid_case(case: Case) -> bool:
    """Every greedy choice clear of a tie (and <START> fed at every step too, for the bug model)."""
    return _decode(case)[1] >= TIE_MARGIN and _decode(case, feed_start=True)[1] >= TIE_MARGIN


@st.composite
def captioning_cases(draw: st.DrawFn) -> Case:
    n, t, v = draw(st.integers(1, 3)), draw(st.integers(2, 5)), draw(st.integers(5, 8))
    d, w, h = draw(st.integers(2, 5)), draw(st.integers(2, 4)), draw(st.integers(2, 4))
    cell_type = draw(st.sampled_from(["rnn", "lstm"]))
    max_length = draw(st.integers(2, 6))
    return draw(S.seeded_until(lambda rng: _build(rng, n, t, v, d, w, h, cell_type, max_length), valid_case))


def captioning_notebook() -> list[NamedCase]:
    """The notebook's loss check sizes (N, D, W, H = 10, 20, 30, 40, T = 13 words, a 5-word vocabulary in the
    notebook's order), for each cell type, seed 231; max_length 30 for sampling."""
    return [NamedCase(f"notebook sizes: {cell_type}, N, D, W, H = 10, 20, 30, 40, T = 13 (seed 231)",
                      first_valid(231, partial(_build, n=10, t=13, v=5, d=20, w=30, h=40, cell_type=cell_type,
                                               max_length=30), valid_case, "CaptioningRNN", tries=64))
            for cell_type in ("rnn", "lstm")]


# ---------------------------------------------------------------- program and reference
def _ctor(case: Case) -> dict[str, Expr]:
    names = ("word_to_idx", "input_dim", "wordvec_dim", "hidden_dim", "cell_type")
    return {**{k: Input(k) for k in names}, "dtype": Const("float64")}


def captioning_program(case: Case) -> Program:
    init = initial_params(MODULE, "CaptioningRNN", ctor=_ctor(case), keys=PARAMS)
    model = net_program(MODULE, "CaptioningRNN", ctor=_ctor(case), params=PARAMS, calls=(
        ("train", "loss", (Input("features"), Input("captions"))),
        ("sample", "sample", (Input("features"), Input("max_length")))),
        outputs={"captions": Result("sample")})
    return merged([init, model, fetched_loss_and_grads(PARAMS)])


def _reference(case: Case) -> ReferenceModel:
    model = ReferenceModel(case["word_to_idx"], input_dim=case["input_dim"], wordvec_dim=case["wordvec_dim"],
                           hidden_dim=case["hidden_dim"], cell_type=case["cell_type"], dtype=np.float64,
                           rng=np.random.default_rng(0))
    return write_params(model, case, PARAMS)


def captioning_expected(case: Case) -> dict[str, Any]:
    model = _reference(case)
    result: dict[str, Any] = {f"init_{k}": v for k, v in model.params.items()}
    loss, grads = model.loss(case["features"], case["captions"])
    result["loss"] = loss
    result.update({f"grad_{k}": g for k, g in grads.items()})
    result["captions"] = model.sample(case["features"], case["max_length"])
    return result


def train_loss(case: Case) -> float:
    return float(_reference(case).loss(case["features"], case["captions"])[0])


# ---------------------------------------------------------------- custom rules
def judge_captions(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
    """Every row equal to the greedy caption up to its first <END>; after it, the greedy rest or <NULL>."""
    want = np.asarray(expected["captions"])
    got = array_of_shape(actual, "captions", want.shape)
    if isinstance(got, Verdict):
        return got
    for row, (g, e) in enumerate(zip(got, want, strict=True)):
        ends = np.flatnonzero(e == END)
        stop = int(ends[0]) + 1 if ends.size else e.size
        if not np.array_equal(g[:stop], e[:stop]):
            first = int(np.flatnonzero(g[:stop] != e[:stop])[0])
            return Verdict(False, f"captions[{row}] differs at word {first}: expected {int(e[first])}, got "
                                  f"{g[first]:g} (greedy: the argmax word, fed back as the next input)")
        if not (np.array_equal(g[stop:], e[stop:]) or bool(np.all(g[stop:] == NULL))):
            return Verdict(False, f"captions[{row}] after <END> (word {stop - 1}) is neither the greedy "
                                  "continuation nor <NULL>")
    return Verdict(True)


# ---------------------------------------------------------------- bugs
def _unshifted(case: Case) -> dict[str, Any]:
    """The loss and gradients when the targets are the inputs themselves (captions[:, :-1] for both)."""
    inputs = np.asarray(case["captions"])[:, :-1]
    loss, grads = _reference(case).loss_on(case["features"], inputs, inputs)
    return {"loss": loss, **{f"grad_{k}": g for k, g in grads.items()}}


def _start_first(case: Case) -> dict[str, Any]:
    greedy = _greedy(case)
    return {"captions": np.concatenate([np.full((greedy.shape[0], 1), START), greedy[:, :-1]], axis=1)}


def _same_captions(actual: Any, model: Any) -> bool:
    got = as_numeric(actual)
    return got is not None and got.shape == np.shape(model) and bool(np.array_equal(got, model))


def _captions_bug(variant: Callable[[Case], dict[str, Any]]) -> Callable[[Sequence[CaseRun]], bool]:
    return lambda runs: matches_variant(runs, variant, ("captions",), same=_same_captions)


DIAGNOSES: tuple[Diagnosis, ...] = (
    variant_diagnosis(
        "targets not shifted",
        "The targets are not shifted: the model reads captions[:, :-1] and must predict captions[:, 1:] (each word "
        "from the ones before it); these values match predicting the input words themselves.",
        _unshifted, ("loss", "grad_W_vocab", "grad_b_vocab"), ("loss", "grads")),
    Diagnosis(
        "<START> fed at every step",
        "Sampling feeds <START> at every step: each step's input must be the word sampled at the step before "
        "(its embedding, W_embed[word]).",
        _captions_bug(lambda case: {"captions": _greedy(case, feed_start=True)}),
        reads=("captions",), bug=lambda case: {"captions": _greedy(case, feed_start=True)}),
    Diagnosis(
        "<START> as the first word",
        "The sampled captions start with <START>: the first column must be the first sampled word.",
        _captions_bug(_start_first), reads=("captions",), bug=_start_first),
)


# ---------------------------------------------------------------- torch twin
def torch_captioning(case: Case) -> dict[str, Any]:
    """The same model with torch autograd in float64, the recurrence written out step by step."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    p = {k: torch.tensor(np.asarray(case[k], dtype=np.float64), requires_grad=True) for k in PARAMS}
    features = torch.tensor(case["features"])
    captions = torch.tensor(case["captions"])
    inputs, targets = captions[:, :-1], captions[:, 1:]
    hidden = case["hidden_dim"]

    def step(x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        a = x @ p["Wx"] + h @ p["Wh"] + p["b"]
        if case["cell_type"] == "rnn":
            return torch.tanh(a), c
        i, f, o = (torch.sigmoid(a[:, k * hidden:(k + 1) * hidden]) for k in range(3))
        c = f * c + i * torch.tanh(a[:, 3 * hidden:])
        return o * torch.tanh(c), c

    h = features @ p["W_proj"] + p["b_proj"]
    c = torch.zeros_like(h)
    words = F.embedding(inputs, p["W_embed"])
    states = []
    for t in range(inputs.shape[1]):
        h, c = step(words[:, t], h, c)
        states.append(h)
    scores = torch.stack(states, dim=1) @ p["W_vocab"] + p["b_vocab"]
    n, t, v = scores.shape
    per_word = F.cross_entropy(scores.reshape(n * t, v), targets.reshape(n * t), reduction="none")
    loss = (per_word * (targets.reshape(n * t) != NULL).double()).sum() / n
    loss.backward()
    result: dict[str, Any] = {"loss": float(loss.item()), **leaf_grads(p)}
    with torch.no_grad():
        h = features @ p["W_proj"] + p["b_proj"]
        c = torch.zeros_like(h)
        word = torch.full((features.shape[0],), START, dtype=torch.long)
        sampled = []
        for _ in range(case["max_length"]):
            h, c = step(F.embedding(word, p["W_embed"]), h, c)
            word = torch.argmax(h @ p["W_vocab"] + p["b_vocab"], dim=1)
            sampled.append(word)
    result["captions"] = torch.stack(sampled, dim=1).numpy()
    return result

