"""Bug models of ``rnn_layers.py`` and the diagnoses that name them.

Each model is the trusted math with one slip put in (tanh's derivative taken as 1 - tanh, the upstream
gradient of a hidden state not added to what the next step sends back, the LSTM's gates read from the wrong
blocks, a repeated word's gradient overwritten instead of added, the loss divided by N * T): a diagnosis
applies when the student's failing outputs equal the model's (graders/specs/kit/detectors.py). The models are
written here with their switches, apart from reference/cs231n/rnn_layers.py, which has none.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graders.specs.base import Case, CaseRun, Diagnosis
from graders.specs.kit.detectors import matches_variant, scaled_diagnosis, variant_diagnosis

Variant = Callable[[Case], Mapping[str, Any] | None]
#: The hand-out's gate blocks along 4H, in order.
GATES = ("i", "f", "o", "g")
#: PyTorch's order of the same gates (torch.nn.LSTM's weight_ih_l0 rows: i, f, g, o).
TORCH_ORDER = ("i", "f", "g", "o")


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


# ---------------------------------------------------------------- vanilla RNN
def rnn_step(x: np.ndarray, prev_h: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray,
             dnext_h: np.ndarray | None, *, tanh_prime: str = "right") -> dict[str, Any]:
    """One tanh step and (given dnext_h) its gradients, tanh' taken as ``right`` (1 - h**2), ``linear``
    (1 - h) or ``twice`` (1 - tanh(h)**2)."""
    h = np.tanh(x @ Wx + prev_h @ Wh + b)
    found: dict[str, Any] = {"next_h": h}
    if dnext_h is None:
        return found
    slope = {"right": 1.0 - h ** 2, "linear": 1.0 - h, "twice": 1.0 - np.tanh(h) ** 2}[tanh_prime]
    da = dnext_h * slope
    found.update(dx=da @ Wx.T, dprev_h=da @ Wh.T, dWx=x.T @ da, dWh=prev_h.T @ da, db=da.sum(axis=0))
    return found


def rnn_sequence(case: Case, *, carry: bool = True, own_upstream: bool = True, fresh_h0: bool = False,
                 tanh_prime: str = "right") -> dict[str, Any]:
    """rnn_forward and rnn_backward with switches: ``carry`` False drops what step t + 1 sends back to h_t;
    ``own_upstream`` False drops dh[:, t] for every step but the last; ``fresh_h0`` feeds h0 to every step."""
    x, h0, Wx, Wh, b, dh = (case[k] for k in ("x", "h0", "Wx", "Wh", "b", "dh"))
    n, t, d = x.shape
    hs, prev = [], h0
    for k in range(t):
        prev = rnn_step(x[:, k], h0 if fresh_h0 else prev, Wx, Wh, b, None)["next_h"]
        hs.append(prev)
    h = np.stack(hs, axis=1)
    dx, dWx, dWh, db = np.zeros((n, t, d)), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(b.shape)
    carried = np.zeros_like(h0)
    for k in reversed(range(t)):
        upstream = (dh[:, k] if own_upstream or k == t - 1 else np.zeros_like(h0)) + (
            carried if carry else np.zeros_like(h0))
        before = h0 if k == 0 or fresh_h0 else h[:, k - 1]
        g = rnn_step(x[:, k], before, Wx, Wh, b, upstream, tanh_prime=tanh_prime)
        dx[:, k], carried = g["dx"], g["dprev_h"]
        dWx, dWh, db = dWx + g["dWx"], dWh + g["dWh"], db + g["db"]
    return {"h": h, "dx": dx, "dh0": carried, "dWx": dWx, "dWh": dWh, "db": db}


def rnn_step_of(case: Case, tanh_prime: str = "right") -> dict[str, Any]:
    """rnn_step on a step case's inputs and its dnext_h."""
    return rnn_step(case["x"], case["prev_h"], case["Wx"], case["Wh"], case["b"], case["dnext_h"],
                    tanh_prime=tanh_prime)


STEP_GRADS = ("dx", "dprev_h", "dWx", "dWh", "db")
SEQUENCE_GRADS = ("dx", "dh0", "dWx", "dWh", "db")

def _tanh_slip(runs: Sequence[CaseRun]) -> bool:
    """The failing gradients match tanh' taken as 1 - next_h, or as 1 - tanh(next_h)**2."""
    def as_(slip: str) -> Variant:
        return lambda case: rnn_step_of(case, slip)

    return any(matches_variant(runs, as_(slip), STEP_GRADS) for slip in ("linear", "twice"))


RNN_STEP_TANH = Diagnosis(
    "tanh derivative",
    "The tanh derivative is wrong: d tanh(a) / da = 1 - tanh(a)**2, which is 1 - next_h**2 from the stored "
    "output; the gradients match 1 - next_h (not squared) or tanh applied to next_h a second time.",
    _tanh_slip,
    reads=STEP_GRADS,
    bug=lambda case: rnn_step_of(case, "linear"),
)

#: Why a sequence backward must add the two gradients of each hidden state (the RNN's and the LSTM's).
TWO_PARTS = ("The gradient of each hidden state h_t has two parts, its own upstream dh[:, t] and what step t + 1 "
             "sends back (dprev_h): add them")
RNN_NOT_ACCUMULATED = variant_diagnosis(
    "hidden-state gradient not accumulated",
    f"{TWO_PARTS} before calling the step's backward. These gradients match using only one of them.",
    lambda case: rnn_sequence(case, carry=False), SEQUENCE_GRADS)
RNN_UPSTREAM_DROPPED = variant_diagnosis(
    "hidden-state gradient not accumulated",
    f"{TWO_PARTS}. These gradients match dropping dh[:, t] for every step but the last.",
    lambda case: rnn_sequence(case, own_upstream=False), SEQUENCE_GRADS)
RNN_H0_EVERY_STEP = variant_diagnosis(
    "h0 at every step",
    "Every step starts from h0: each step's prev_h must be the previous step's next_h (only the first step "
    "gets h0).",
    lambda case: rnn_sequence(case, fresh_h0=True) if case["x"].shape[1] > 1 else None, ("h",))


# ---------------------------------------------------------------- word embedding
def _assigned(case: Case) -> dict[str, Any]:
    dW = np.zeros(case["W"].shape)
    dW[case["x"]] = case["dout"]  # NumPy keeps the last write of a repeated index, as a loop over (n, t) does
    return {"dW": dW}


EMBEDDING_ASSIGNED = variant_diagnosis(
    "repeated words overwrite",
    "A word used at several positions must collect every position's gradient (np.add.at(dW, x, dout), or += in "
    "a loop); dW[x] = dout (or dW[x] += dout, which buffers) keeps only the last one.",
    lambda case: _assigned(case) if len(np.unique(case["x"])) < case["x"].size else None, ("dW",))


# ---------------------------------------------------------------- LSTM
def lstm_step(case: Case, prev_h: np.ndarray | None = None, prev_c: np.ndarray | None = None,
              dnext_h: np.ndarray | None = None, dnext_c: np.ndarray | None = None, *,
              order: Sequence[str] = GATES, backward_order: Sequence[str] | None = None,
              cell_path: bool = True, forget_with_next_c: bool = False, tanh_prime: str = "right",
              x: np.ndarray | None = None) -> dict[str, Any]:
    """One LSTM step and its gradients with switches: ``order`` names the gate each block of 4H is read as
    (forward and backward), ``backward_order`` the blocks the backward writes each gate's gradient into;
    ``cell_path`` False leaves next_h's path out of the cell's gradient; ``forget_with_next_c`` takes df from
    next_c instead of prev_c; ``tanh_prime`` ``linear`` takes tanh' as 1 - tanh in both places."""
    x = case["x"] if x is None else x
    prev_h = case["prev_h"] if prev_h is None else prev_h
    prev_c = case["prev_c"] if prev_c is None else prev_c
    dnext_h = case["dnext_h"] if dnext_h is None else dnext_h
    dnext_c = case["dnext_c"] if dnext_c is None else dnext_c
    Wx, Wh, b = case["Wx"], case["Wh"], case["b"]
    hidden = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    block = {gate: a[:, k * hidden:(k + 1) * hidden] for k, gate in enumerate(order)}
    i, f, o = (_sigmoid(block[gate]) for gate in ("i", "f", "o"))
    g = np.tanh(block["g"])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c

    def prime(t: np.ndarray) -> np.ndarray:
        return 1.0 - t if tanh_prime == "linear" else 1.0 - t ** 2

    dc = dnext_c + (dnext_h * o * prime(tanh_c) if cell_path else 0.0)
    grads = {"i": dc * g * i * (1 - i), "f": dc * (next_c if forget_with_next_c else prev_c) * f * (1 - f),
             "o": dnext_h * tanh_c * o * (1 - o), "g": dc * i * prime(g)}
    da = np.concatenate([grads[gate] for gate in (backward_order or order)], axis=1)
    return {"next_h": next_h, "next_c": next_c, "dx": da @ Wx.T, "dprev_h": da @ Wh.T, "dprev_c": dc * f,
            "dWx": x.T @ da, "dWh": prev_h.T @ da, "db": da.sum(axis=0)}


LSTM_STEP_GRADS = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
#: Every other order of the four gates.
WRONG_ORDERS = [p for p in itertools.permutations(GATES) if p != GATES]


def _gate_order(outputs: Sequence[str], backward_only: bool) -> Callable[[Sequence[CaseRun]], bool]:
    def applies(runs: Sequence[CaseRun]) -> bool:
        for order in WRONG_ORDERS:
            def variant(case: Case, order: Sequence[str] = order) -> dict[str, Any]:
                if backward_only:
                    return lstm_step(case, backward_order=order)
                return lstm_step(case, order=order)

            if matches_variant(runs, variant, outputs):
                return True
        return False

    return applies


LSTM_GATE_ORDER = Diagnosis(
    "gate order",
    "Wrong gate order: the gates are read from the wrong blocks of a = x @ Wx + prev_h @ Wh + b; the hand-out's "
    "order along the 4H axis is i, f, o, g (input, forget, output: sigmoid; block gate: tanh), not PyTorch's "
    "i, f, g, o.",
    _gate_order(("next_h", "next_c"), backward_only=False),
    reads=("next_h", "next_c"),
    bug=lambda case: lstm_step(case, order=TORCH_ORDER),
)
LSTM_BACKWARD_GATE_ORDER = Diagnosis(
    "gate order",
    "Wrong gate order in the backward: the gates' gradients are stacked in another order; da must be laid out "
    "like a, i, f, o, g along 4H (np.hstack((di, df, do, dg)) before the products with x, prev_h and the sum "
    "for db).",
    _gate_order(STEP_GRADS, backward_only=True),
    reads=STEP_GRADS,
    bug=lambda case: lstm_step(case, backward_order=TORCH_ORDER),
)
LSTM_CELL_PATH = Diagnosis(
    "cell gradient misses next_h",
    "The cell state's gradient misses the path through next_h = o * tanh(next_c): dnext_c + dnext_h * o * "
    "(1 - tanh(next_c)**2) is what flows into next_c, and dprev_c is that times f.",
    lambda runs: matches_variant(runs, lambda case: lstm_step(case, cell_path=False), LSTM_STEP_GRADS)
    or matches_variant(runs, lambda case: {"dprev_c": case["dnext_c"] * _forget(case)}, ("dprev_c",)),
    reads=LSTM_STEP_GRADS,
    bug=lambda case: lstm_step(case, cell_path=False),
)


def _forget(case: Case) -> np.ndarray:
    h = case["prev_h"].shape[1]
    return _sigmoid((case["x"] @ case["Wx"] + case["prev_h"] @ case["Wh"] + case["b"])[:, h:2 * h])


LSTM_FORGET_NEXT_C = variant_diagnosis(
    "forget gate",
    "The forget gate's gradient uses next_c: next_c = f * prev_c + i * g, so d next_c / d f is prev_c.",
    lambda case: lstm_step(case, forget_with_next_c=True), LSTM_STEP_GRADS)
LSTM_TANH = variant_diagnosis(
    "tanh derivative",
    "The tanh derivative is wrong: d tanh(a) / da = 1 - tanh(a)**2 (for tanh(next_c) and for g); the "
    "gradients match 1 - tanh(a), not squared.",
    lambda case: lstm_step(case, tanh_prime="linear"), LSTM_STEP_GRADS)


def lstm_sequence(case: Case, *, carry_h: bool = True, carry_c: bool = True) -> dict[str, Any]:
    """lstm_forward and lstm_backward with switches: ``carry_h`` / ``carry_c`` False drop what step t + 1
    sends back to h_t / c_t."""
    x, h0, dh = case["x"], case["h0"], case["dh"]
    n, t, d = x.shape
    states = [(h0, np.zeros_like(h0))]
    hs = []
    for k in range(t):
        out = lstm_step(case, *states[-1], np.zeros_like(h0), np.zeros_like(h0), x=x[:, k])
        states.append((out["next_h"], out["next_c"]))
        hs.append(out["next_h"])
    dx = np.zeros((n, t, d))
    dWx, dWh, db = np.zeros(case["Wx"].shape), np.zeros(case["Wh"].shape), np.zeros(case["b"].shape)
    carried_h, carried_c = np.zeros_like(h0), np.zeros_like(h0)
    for k in reversed(range(t)):
        g = lstm_step(case, *states[k], dh[:, k] + (carried_h if carry_h else 0.0),
                      carried_c if carry_c else np.zeros_like(h0), x=x[:, k])
        dx[:, k], carried_h, carried_c = g["dx"], g["dprev_h"], g["dprev_c"]
        dWx, dWh, db = dWx + g["dWx"], dWh + g["dWh"], db + g["db"]
    return {"h": np.stack(hs, axis=1), "dx": dx, "dh0": carried_h, "dWx": dWx, "dWh": dWh, "db": db}


LSTM_NOT_ACCUMULATED = variant_diagnosis(
    "hidden-state gradient not accumulated",
    f"{TWO_PARTS} before calling the step's backward.",
    lambda case: lstm_sequence(case, carry_h=False), SEQUENCE_GRADS)
LSTM_CELL_NOT_CARRIED = variant_diagnosis(
    "cell gradient not carried",
    "The cell state's gradient is not carried back through time: step t's dnext_c is the dprev_c that step "
    "t + 1 returned (zero only at the last step).",
    lambda case: lstm_sequence(case, carry_c=False) if case["x"].shape[1] > 1 else None, SEQUENCE_GRADS)


# ---------------------------------------------------------------- temporal affine and softmax loss
TEMPORAL_AFFINE_NO_BIAS = variant_diagnosis(
    "bias is missing",
    "The bias is missing: out equals x @ w at every step; add + b.",
    lambda case: {"out": np.einsum("ntd,dm->ntm", case["x"], case["w"])}, ("out",))


def _loss_reference(case: Case, mask: np.ndarray, divisor: float) -> dict[str, Any]:
    x, y = case["x"], case["y"]
    shifted = x - x.max(axis=2, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    weight = mask.astype(np.float64)
    loss = -float(np.sum(np.take_along_axis(log_p, y[..., None], axis=2)[..., 0] * weight)) / divisor
    dx = np.exp(log_p)
    np.put_along_axis(dx, y[..., None], np.take_along_axis(dx, y[..., None], axis=2) - 1.0, axis=2)
    return {"loss": loss, "dx": dx * weight[..., None] / divisor}


def _ignoring_mask(case: Case) -> dict[str, Any] | None:
    mask = case["mask"]
    return None if mask.all() else _loss_reference(case, np.ones_like(mask), case["x"].shape[0])


def _mask_count(case: Case) -> float:
    kept = int(case["mask"].sum())
    return case["x"].shape[0] / kept if kept else 1.0


def loss_diagnoses(reference: Callable[[Case], Mapping[str, Any]]) -> tuple[Diagnosis, ...]:
    return (
        scaled_diagnosis(
            "divided by N * T",
            "The loss (and dx) is divided by N * T: the hand-out sums the cross-entropy over the kept time steps "
            "and divides by N only.",
            ("loss", "dx"), lambda case: 1.0 / case["x"].shape[1], reference=reference),
        scaled_diagnosis(
            "divided by the mask's count",
            "The loss (and dx) is divided by the number of kept steps: the hand-out divides the masked sum by N.",
            ("loss", "dx"), _mask_count, reference=reference),
        variant_diagnosis(
            "mask ignored",
            "The mask is ignored: steps where mask is False (padding after a caption's end) must add nothing to "
            "the loss and get a zero gradient.",
            _ignoring_mask, ("loss", "dx"), bug=lambda case: dict(_ignoring_mask(case) or {})),
    )
