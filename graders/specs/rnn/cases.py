"""What a case of an ``rnn_layers.py`` function holds, in its three tiers, with its domain and reach.

Property cases are small (N, T, D, H up to 4) so that a failing backward can be re-judged by finite
differences of the student's own forward within the 400-entry budget. Weights are scaled by 0.7 / sqrt(fan-in)
and biases by 0.3, so the pre-activations stay around N(0, 1): tanh and the sigmoids are neither saturated
(where every gradient would be ~0 and a wrong derivative could hide) nor linear (where 1 - tanh and
1 - tanh**2 would agree). The notebook tier is the hand-out notebook's own checks (its shapes, linspace inputs
and seed 231); the scale tier is a captioning model's sizes (N = 32 or 50, T = 16, D = 64 or 100, H = 64 for
the RNN, 128 for the LSTM). Each input of a case is drawn from its own stream.

Why the LSTM's scale H is 128: a backward re-judged against the student's own forward perturbs at most
OwnGradient.max_entries (400) entries, two forward calls each, all kept in one worker request. With 4H = 512
no LSTM gradient of the scale tier fits, so none is re-judged there; with H = 64 its db (256 entries) would be,
at 512 forwards of 32 x 16 steps whose caches take about a gigabyte. The RNN's db (64 entries) costs 128
forwards, a few megabytes each.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, NamedCase, Reach


def _normal(draw: st.DrawFn, shape: tuple[int, ...], name: str, scale: float = 1.0) -> np.ndarray:
    return draw(S.seeded_arrays(shape, scale, name=name))


def _weights(draw: st.DrawFn, d: int, h: int, gates: int) -> dict[str, np.ndarray]:
    """Wx (D, gates * H), Wh (H, gates * H), b (gates * H,), scaled to keep pre-activations near N(0, 1)."""
    return {
        "Wx": _normal(draw, (d, gates * h), "Wx", 0.7 / np.sqrt(d)),
        "Wh": _normal(draw, (h, gates * h), "Wh", 0.7 / np.sqrt(h)),
        "b": _normal(draw, (gates * h,), "b", 0.3),
    }


# ---------------------------------------------------------------- recurrent steps and sequences
def step_cases(*, gates: int) -> Callable[[], st.SearchStrategy[Case]]:
    """One step (gates 1: tanh RNN; 4: LSTM): x (N, D), prev_h (N, H) (and prev_c), weights, upstream
    gradients dnext_h (and dnext_c)."""

    @st.composite
    def cases(draw: st.DrawFn) -> Case:
        n, d, h = draw(S.dims(1, 4)), draw(S.dims(1, 4)), draw(S.dims(1, 4))
        case: Case = {"x": _normal(draw, (n, d), "x"), "prev_h": _normal(draw, (n, h), "prev_h", 0.5)}
        if gates == 4:
            case["prev_c"] = _normal(draw, (n, h), "prev_c")
        case.update(_weights(draw, d, h, gates))
        case["dnext_h"] = _normal(draw, (n, h), "dnext_h")
        if gates == 4:
            case["dnext_c"] = _normal(draw, (n, h), "dnext_c")
        return case

    return lambda: cases()


def sequence_cases(*, gates: int) -> Callable[[], st.SearchStrategy[Case]]:
    """A sequence: x (N, T, D), h0 (N, H), weights, dh (N, T, H)."""

    @st.composite
    def cases(draw: st.DrawFn) -> Case:
        n, t, d, h = draw(S.dims(1, 3)), draw(S.dims(1, 4)), draw(S.dims(1, 3)), draw(S.dims(1, 3))
        case: Case = {"x": _normal(draw, (n, t, d), "x"), "h0": _normal(draw, (n, h), "h0", 0.5)}
        case.update(_weights(draw, d, h, gates))
        case["dh"] = _normal(draw, (n, t, h), "dh")
        return case

    return lambda: cases()


def _input_part(case: Case) -> np.ndarray:
    """|x @ Wx + b|: the part of every pre-activation that does not depend on the previous state."""
    x = case["x"].reshape(-1, case["x"].shape[-1])
    return np.abs(x @ case["Wx"] + case["b"])


def recurrent_domain(case: Case) -> bool:
    """Shapes agree: Wx (D, k H), Wh (H, k H), b (k H,) with k = 1 (RNN) or 4 (LSTM)."""
    x, wx, wh, b = case["x"], case["Wx"], case["Wh"], case["b"]
    h = wh.shape[0]
    return wx.shape == (x.shape[-1], wh.shape[1]) and wh.shape[1] % h == 0 and b.shape == (wh.shape[1],)


def recurrent_reaches(*, sequence: bool) -> tuple[Reach, ...]:
    found: tuple[Reach, ...] = (
        Reach("more than one example", lambda case: case["x"].shape[0] > 1),
        Reach("D differs from H", lambda case: case["x"].shape[-1] != case["Wh"].shape[0]),
        Reach("some pre-activation beyond 1 (tanh clearly bent)",
              lambda case: float(np.max(_input_part(case))) > 1.0),
    )
    if sequence:
        found += (Reach("three or more time steps", lambda case: case["x"].shape[1] >= 3),)
    return found


def _linspace(low: float, high: float, *shape: int) -> np.ndarray:
    return np.linspace(low, high, num=int(np.prod(shape))).reshape(shape)


def rnn_step_notebook() -> list[NamedCase]:
    """The notebook's rnn_step_forward (linspace, N, D, H = 3, 10, 4) and rnn_step_backward (seed 231,
    N, D, H = 4, 5, 6) checks."""
    n, d, h = 3, 10, 4
    forward = {"x": _linspace(-0.4, 0.7, n, d), "prev_h": _linspace(-0.2, 0.5, n, h), "Wx": _linspace(-0.1, 0.9, d, h),
               "Wh": _linspace(-0.3, 0.7, h, h), "b": _linspace(-0.2, 0.4, h),
               "dnext_h": np.random.RandomState(231).randn(n, h)}
    rng = np.random.RandomState(231)
    n, d, h = 4, 5, 6
    backward = {"x": rng.randn(n, d), "prev_h": rng.randn(n, h), "Wx": rng.randn(d, h), "Wh": rng.randn(h, h),
                "b": rng.randn(h)}
    backward["dnext_h"] = rng.randn(n, h)
    return [NamedCase("notebook: rnn_step_forward N, D, H = 3, 10, 4 (linspace)", forward),
            NamedCase("notebook: rnn_step_backward N, D, H = 4, 5, 6 (seed 231)", backward)]


def rnn_sequence_notebook() -> list[NamedCase]:
    """The notebook's rnn_forward (linspace, N, T, D, H = 2, 3, 4, 5) and rnn_backward (seed 231,
    N, D, T, H = 2, 3, 10, 5) checks."""
    n, t, d, h = 2, 3, 4, 5
    forward = {"x": _linspace(-0.1, 0.3, n, t, d), "h0": _linspace(-0.3, 0.1, n, h), "Wx": _linspace(-0.2, 0.4, d, h),
               "Wh": _linspace(-0.4, 0.1, h, h), "b": _linspace(-0.7, 0.1, h),
               "dh": np.random.RandomState(231).randn(n, t, h)}
    rng = np.random.RandomState(231)
    n, d, t, h = 2, 3, 10, 5
    backward = {"x": rng.randn(n, t, d), "h0": rng.randn(n, h), "Wx": rng.randn(d, h), "Wh": rng.randn(h, h),
                "b": rng.randn(h)}
    backward["dh"] = rng.randn(n, t, h)
    return [NamedCase("notebook: rnn_forward N, T, D, H = 2, 3, 4, 5 (linspace)", forward),
            NamedCase("notebook: rnn_backward N, D, T, H = 2, 3, 10, 5 (seed 231)", backward)]


def lstm_step_notebook() -> list[NamedCase]:
    """The notebook's lstm_step_forward (linspace, N, D, H = 3, 4, 5) and lstm_step_backward (seed 231,
    N, D, H = 4, 5, 6) checks."""
    n, d, h = 3, 4, 5
    up = np.random.RandomState(231)
    forward = {"x": _linspace(-0.4, 1.2, n, d), "prev_h": _linspace(-0.3, 0.7, n, h),
               "prev_c": _linspace(-0.4, 0.9, n, h), "Wx": _linspace(-2.1, 1.3, d, 4 * h),
               "Wh": _linspace(-0.7, 2.2, h, 4 * h), "b": _linspace(0.3, 0.7, 4 * h),
               "dnext_h": up.randn(n, h), "dnext_c": up.randn(n, h)}
    rng = np.random.RandomState(231)
    n, d, h = 4, 5, 6
    backward = {"x": rng.randn(n, d), "prev_h": rng.randn(n, h), "prev_c": rng.randn(n, h),
                "Wx": rng.randn(d, 4 * h), "Wh": rng.randn(h, 4 * h), "b": rng.randn(4 * h)}
    backward.update(dnext_h=rng.randn(n, h), dnext_c=rng.randn(n, h))
    return [NamedCase("notebook: lstm_step_forward N, D, H = 3, 4, 5 (linspace)", forward),
            NamedCase("notebook: lstm_step_backward N, D, H = 4, 5, 6 (seed 231)", backward)]


def lstm_sequence_notebook() -> list[NamedCase]:
    """The notebook's lstm_forward (linspace, N, D, H, T = 2, 5, 4, 3) and lstm_backward (seed 231,
    N, D, T, H = 2, 3, 10, 6) checks."""
    n, d, h, t = 2, 5, 4, 3
    forward = {"x": _linspace(-0.4, 0.6, n, t, d), "h0": _linspace(-0.4, 0.8, n, h),
               "Wx": _linspace(-0.2, 0.9, d, 4 * h), "Wh": _linspace(-0.3, 0.6, h, 4 * h),
               "b": _linspace(0.2, 0.7, 4 * h), "dh": np.random.RandomState(231).randn(n, t, h)}
    rng = np.random.RandomState(231)
    n, d, t, h = 2, 3, 10, 6
    backward = {"x": rng.randn(n, t, d), "h0": rng.randn(n, h), "Wx": rng.randn(d, 4 * h),
                "Wh": rng.randn(h, 4 * h), "b": rng.randn(4 * h)}
    backward["dh"] = rng.randn(n, t, h)
    return [NamedCase("notebook: lstm_forward N, D, H, T = 2, 5, 4, 3 (linspace)", forward),
            NamedCase("notebook: lstm_backward N, D, T, H = 2, 3, 10, 6 (seed 231)", backward)]


def step_scale(*, gates: int) -> Callable[[], list[Case]]:
    """A captioning batch's step: N = 50, D = 100 (word vectors), H = 64 (RNN) or 128 (LSTM)."""

    def scale() -> list[Case]:
        n, d, h, seed = 50, 100, 64 if gates == 1 else 128, 2331
        case: Case = {"x": S.standard_normal(seed, (n, d), name="x"),
                      "prev_h": S.standard_normal(seed, (n, h), 0.5, name="prev_h")}
        if gates == 4:
            case["prev_c"] = S.standard_normal(seed, (n, h), name="prev_c")
        case.update(Wx=S.standard_normal(seed, (d, gates * h), 0.7 / np.sqrt(d), name="Wx"),
                    Wh=S.standard_normal(seed, (h, gates * h), 0.7 / np.sqrt(h), name="Wh"),
                    b=S.standard_normal(seed, (gates * h,), 0.3, name="b"),
                    dnext_h=S.standard_normal(seed, (n, h), name="dnext_h"))
        if gates == 4:
            case["dnext_c"] = S.standard_normal(seed, (n, h), name="dnext_c")
        return [case]

    return scale


def sequence_scale(*, gates: int) -> Callable[[], list[Case]]:
    """A captioning batch: N = 32 captions of T = 16 words, D = 64, H = 64 (RNN) or 128 (LSTM)."""

    def scale() -> list[Case]:
        n, t, d, h, seed = 32, 16, 64, 64 if gates == 1 else 128, 2332
        return [{"x": S.standard_normal(seed, (n, t, d), name="x"),
                 "h0": S.standard_normal(seed, (n, h), 0.5, name="h0"),
                 "Wx": S.standard_normal(seed, (d, gates * h), 0.7 / np.sqrt(d), name="Wx"),
                 "Wh": S.standard_normal(seed, (h, gates * h), 0.7 / np.sqrt(h), name="Wh"),
                 "b": S.standard_normal(seed, (gates * h,), 0.3, name="b"),
                 "dh": S.standard_normal(seed, (n, t, h), name="dh")}]

    return scale


# ---------------------------------------------------------------- word embedding
def _words(rng: np.random.Generator, n: int, t: int, v: int) -> np.ndarray:
    return rng.integers(0, v, size=(n, t)).astype(np.int64)


@st.composite
def _embedding_cases(draw: st.DrawFn) -> Case:
    n, t, v, d = draw(S.dims(1, 3)), draw(S.dims(1, 5)), draw(S.dims(2, 6)), draw(S.dims(1, 4))
    seed = draw(S.SEEDS)
    return {"x": _words(np.random.default_rng(seed), n, t, v), "W": _normal(draw, (v, d), "W"),
            "dout": _normal(draw, (n, t, d), "dout")}


def embedding_cases() -> st.SearchStrategy[Case]:
    """Words x (N, T) of a vocabulary of V = 2 to 6 (so words repeat), W (V, D), dout (N, T, D)."""
    return _embedding_cases()


def embedding_domain(case: Case) -> bool:
    x, w = case["x"], case["W"]
    return (x.dtype.kind == "i" and x.ndim == 2 and bool(np.all((x >= 0) & (x < w.shape[0])))
            and case["dout"].shape == (*x.shape, w.shape[1]))


def _repeated(case: Case) -> bool:
    return len(np.unique(case["x"])) < case["x"].size


EMBEDDING_REACHES = (
    Reach("a word used more than once", _repeated),
    Reach("a word of the vocabulary never used", lambda case: len(np.unique(case["x"])) < case["W"].shape[0]),
    Reach("more than one caption", lambda case: case["x"].shape[0] > 1),
)


def embedding_notebook() -> list[NamedCase]:
    """The notebook's word_embedding_forward (V, D = 5, 3, linspace) and word_embedding_backward (seed 231,
    N, T, V, D = 50, 3, 5, 6) checks."""
    v, d = 5, 3
    x = np.asarray([[0, 3, 1, 2], [2, 1, 0, 3]], dtype=np.int64)
    forward = {"x": x, "W": _linspace(0.0, 1.0, v, d), "dout": np.random.RandomState(231).randn(2, 4, d)}
    rng = np.random.RandomState(231)
    n, t, v, d = 50, 3, 5, 6
    backward: Case = {"x": rng.randint(v, size=(n, t)).astype(np.int64), "W": rng.randn(v, d)}
    backward["dout"] = rng.randn(n, t, d)
    return [NamedCase("notebook: word_embedding_forward V, D = 5, 3 (linspace)", forward),
            NamedCase("notebook: word_embedding_backward N, T, V, D = 50, 3, 5, 6 (seed 231)", backward)]


def embedding_scale() -> list[Case]:
    """A captioning batch: 32 captions of 16 words from a 1004-word vocabulary, D = 64."""
    rng = np.random.default_rng(2333)
    return [{"x": _words(rng, 32, 16, 1004), "W": S.standard_normal(2333, (1004, 64), name="W"),
             "dout": S.standard_normal(2333, (32, 16, 64), name="dout")}]


# ---------------------------------------------------------------- temporal affine
@st.composite
def _affine_cases(draw: st.DrawFn) -> Case:
    n, t, d, m = draw(S.dims(1, 3)), draw(S.dims(1, 4)), draw(S.dims(1, 4)), draw(S.dims(1, 5))
    return {"x": _normal(draw, (n, t, d), "x"), "w": _normal(draw, (d, m), "w"), "b": _normal(draw, (m,), "b"),
            "dout": _normal(draw, (n, t, m), "dout")}


def affine_cases() -> st.SearchStrategy[Case]:
    """x (N, T, D), w (D, M), b (M,), dout (N, T, M)."""
    return _affine_cases()


def affine_domain(case: Case) -> bool:
    x, w = case["x"], case["w"]
    return (x.ndim == 3 and w.shape[0] == x.shape[2] and case["b"].shape == (w.shape[1],)
            and case["dout"].shape == (*x.shape[:2], w.shape[1]))


AFFINE_REACHES = (
    Reach("several time steps and examples", lambda case: case["x"].shape[0] > 1 and case["x"].shape[1] > 1),
    Reach("D differs from M", lambda case: case["x"].shape[2] != case["w"].shape[1]),
)


def affine_notebook() -> list[NamedCase]:
    """The notebook's temporal affine check: seed 231, N, T, D, M = 2, 3, 4, 5."""
    rng = np.random.RandomState(231)
    n, t, d, m = 2, 3, 4, 5
    case: Case = {"x": rng.randn(n, t, d), "w": rng.randn(d, m), "b": rng.randn(m)}
    case["dout"] = rng.randn(n, t, m)
    return [NamedCase("notebook: temporal_affine N, T, D, M = 2, 3, 4, 5 (seed 231)", case)]


def affine_scale() -> list[Case]:
    """Hidden states to vocabulary scores: 32 captions, T = 16, H = 64, V = 1004."""
    return [{"x": S.standard_normal(2334, (32, 16, 64), name="x"),
             "w": S.standard_normal(2334, (64, 1004), 0.1, name="w"),
             "b": S.standard_normal(2334, (1004,), name="b"),
             "dout": S.standard_normal(2334, (32, 16, 1004), name="dout")}]


# ---------------------------------------------------------------- temporal softmax loss
def _loss_case(rng: np.random.Generator, n: int, t: int, v: int, *, keep: float, spread: float,
               seed: int) -> Case:
    return {"x": S.standard_normal(seed, (n, t, v), spread, name="x"),
            "y": rng.integers(0, v, size=(n, t)).astype(np.int64),
            "mask": rng.random((n, t)) < keep}


@st.composite
def _loss_cases(draw: st.DrawFn) -> Case:
    n, t, v = draw(S.dims(1, 4)), draw(S.dims(1, 4)), draw(S.dims(2, 5))
    keep = draw(st.sampled_from([1.0, 0.6, 0.3]))
    spread = draw(st.sampled_from([1.0, 3.0]))
    seed = draw(S.SEEDS)
    return _loss_case(np.random.default_rng(seed), n, t, v, keep=keep, spread=spread, seed=seed)


def loss_cases() -> st.SearchStrategy[Case]:
    """Scores x (N, T, V) of spread 1 or 3, labels y (N, T), a mask keeping all, 60% or 30% of the steps."""
    return _loss_cases()


def loss_domain(case: Case) -> bool:
    x, y, mask = case["x"], case["y"], case["mask"]
    return (x.ndim == 3 and y.shape == x.shape[:2] and mask.shape == x.shape[:2] and mask.dtype == np.bool_
            and y.dtype.kind == "i" and bool(np.all((y >= 0) & (y < x.shape[2])))
            and float(np.max(np.abs(x))) <= 40.0)


LOSS_REACHES = (
    Reach("some step masked out", lambda case: not bool(case["mask"].all())),
    Reach("several time steps", lambda case: case["x"].shape[1] > 1),
    Reach("several examples with some step masked", lambda case: case["x"].shape[0] > 1
          and not bool(case["mask"].all())),
)


def loss_notebook() -> list[NamedCase]:
    """The notebook's loss checks (scores 0.001 * randn: losses near T * log(V) * kept share), seed 231, and
    its gradient check (N, T, V = 7, 8, 9, mask rand > 0.5)."""
    rng = np.random.RandomState(231)
    found = []
    for n, t, v, p in ((100, 1, 10, 1.0), (100, 10, 10, 1.0)):
        case = {"x": 0.001 * rng.randn(n, t, v), "y": rng.randint(v, size=(n, t)).astype(np.int64),
                "mask": rng.rand(n, t) <= p}
        found.append(NamedCase(f"notebook: loss of N, T, V = {n}, {t}, {v}, every step kept (seed 231)", case))
    n, t, v = 7, 8, 9
    grad = {"x": 0.01 * rng.randn(n, t, v), "y": rng.randint(v, size=(n, t)).astype(np.int64),
            "mask": rng.rand(n, t) > 0.5}
    found.append(NamedCase("notebook: gradient check N, T, V = 7, 8, 9, half the steps masked (seed 231)", grad))
    return found


def loss_scale() -> list[Case]:
    """The notebook's third loss check at its size: N, T, V = 5000, 10, 10, 10% of the steps kept."""
    rng = np.random.default_rng(2335)
    return [_loss_case(rng, 5000, 10, 10, keep=0.1, spread=0.001, seed=2335)]


def describe_loss(case: Case) -> str:
    x, mask = case["x"], case["mask"]
    return f"x {tuple(x.shape)}, y {tuple(case['y'].shape)}, mask keeps {int(mask.sum())} of {mask.size} steps"

