"""cs231n assignment 3 ``classifiers/rnn.py``: ``CaptioningRNN`` (2019-2022 hand-outs), on the reference layers.

The model: image features (N, D) projected to the first hidden state, ``h0 = features @ W_proj + b_proj``; the
caption's words (all but the last) embedded by ``W_embed``; a tanh RNN or an LSTM over them; scores over the
vocabulary at every step, ``h @ W_vocab + b_vocab``; the temporal softmax loss against the caption's words
shifted by one (all but the first), masked where the target is ``<NULL>``. No regularisation. ``sample`` decodes
greedily from ``<START>``, ``max_length`` words, the first sampled word first (not ``<START>``); it keeps going
after ``<END>``, which the hand-out allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reference.cs231n import rnn_layers as L

CELL_TYPES = ("rnn", "lstm")


class CaptioningRNN:
    """The hand-out's constructor signature; parameters in ``self.params``, read at call time."""

    def __init__(self, word_to_idx: Mapping[str, int], input_dim: int = 512, wordvec_dim: int = 128,
                 hidden_dim: int = 128, cell_type: str = "rnn", dtype: Any = np.float32,
                 rng: np.random.Generator | None = None) -> None:
        if cell_type not in CELL_TYPES:
            raise ValueError(f'Invalid cell_type "{cell_type}"')
        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = dict(word_to_idx)
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>")
        self._end = word_to_idx.get("<END>")
        draw = rng if rng is not None else np.random.default_rng()
        vocab, gates = len(word_to_idx), 4 if cell_type == "lstm" else 1
        shapes = {"W_embed": ((vocab, wordvec_dim), 0.01), "W_proj": ((input_dim, hidden_dim), input_dim ** -0.5),
                  "Wx": ((wordvec_dim, gates * hidden_dim), wordvec_dim ** -0.5),
                  "Wh": ((hidden_dim, gates * hidden_dim), hidden_dim ** -0.5),
                  "W_vocab": ((hidden_dim, vocab), hidden_dim ** -0.5)}
        self.params: dict[str, np.ndarray] = {k: draw.standard_normal(s) * scale for k, (s, scale) in shapes.items()}
        self.params.update(b_proj=np.zeros(hidden_dim), b=np.zeros(gates * hidden_dim), b_vocab=np.zeros(vocab))
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def _recurrent(self) -> tuple[Any, Any]:
        if self.cell_type == "rnn":
            return L.rnn_forward, L.rnn_backward
        return L.lstm_forward, L.lstm_backward

    def loss(self, features: np.ndarray, captions: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """(loss, grads) for a minibatch of features (N, D) and integer captions (N, T + 1)."""
        return self.loss_on(features, captions[:, :-1], captions[:, 1:])

    def loss_on(self, features: np.ndarray, inputs: np.ndarray, targets: np.ndarray
                ) -> tuple[float, dict[str, np.ndarray]]:
        """(loss, grads) with the words ``inputs`` (N, T) fed in and ``targets`` (N, T) predicted, ``<NULL>``
        targets masked: :meth:`loss` on a caption's two shifted copies (a grader's bug model gives others)."""
        p = self.params
        mask = targets != self._null
        h0 = features @ p["W_proj"] + p["b_proj"]
        words, embed_cache = L.word_embedding_forward(inputs, p["W_embed"])
        forward, backward = self._recurrent()
        h, cell_cache = forward(words, h0, p["Wx"], p["Wh"], p["b"])
        scores, vocab_cache = L.temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = L.temporal_softmax_loss(scores, targets, mask)
        dh, dW_vocab, db_vocab = L.temporal_affine_backward(dscores, vocab_cache)
        dwords, dh0, dWx, dWh, db = backward(dh, cell_cache)
        grads = {"W_vocab": dW_vocab, "b_vocab": db_vocab, "Wx": dWx, "Wh": dWh, "b": db,
                 "W_embed": L.word_embedding_backward(dwords, embed_cache),
                 "W_proj": features.T @ dh0, "b_proj": dh0.sum(axis=0)}
        return loss, grads

    def sample(self, features: np.ndarray, max_length: int = 30) -> np.ndarray:
        """Greedy captions (N, max_length) of word indices, from <START>."""
        p = self.params
        n = features.shape[0]
        captions = np.full((n, max_length), self._null, dtype=np.int32)
        h = features @ p["W_proj"] + p["b_proj"]
        c = np.zeros_like(h)
        word = np.full(n, self._start, dtype=np.int64)
        for t in range(max_length):
            x = p["W_embed"][word]
            if self.cell_type == "rnn":
                h, _ = L.rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            else:
                h, c, _ = L.lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            word = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1)
            captions[:, t] = word
        return captions
