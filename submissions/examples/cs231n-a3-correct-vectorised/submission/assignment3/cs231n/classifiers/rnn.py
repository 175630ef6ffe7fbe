import numpy as np

from ..rnn_layers import (lstm_backward, lstm_forward, lstm_step_forward, rnn_backward, rnn_forward,
                          rnn_step_forward, temporal_affine_backward, temporal_affine_forward,
                          temporal_softmax_loss, word_embedding_backward, word_embedding_forward)

_CELLS = {"rnn": (rnn_forward, rnn_backward), "lstm": (lstm_forward, lstm_backward)}


class CaptioningRNN(object):
    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128, cell_type="rnn",
                 dtype=np.float32):
        if cell_type not in _CELLS:
            raise ValueError("Invalid cell_type " + repr(cell_type))
        self.cell_type, self.dtype = cell_type, dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>")
        self._end = word_to_idx.get("<END>")
        V, W, H, D = len(word_to_idx), wordvec_dim, hidden_dim, input_dim
        k = 4 if cell_type == "lstm" else 1
        rng = np.random.default_rng()
        self.params = {
            "W_embed": rng.normal(0, 0.01, (V, W)), "W_proj": rng.normal(0, D ** -0.5, (D, H)), "b_proj": np.zeros(H),
            "Wx": rng.normal(0, W ** -0.5, (W, k * H)), "Wh": rng.normal(0, H ** -0.5, (H, k * H)),
            "b": np.zeros(k * H), "W_vocab": rng.normal(0, H ** -0.5, (H, V)), "b_vocab": np.zeros(V),
        }
        self.params = {name: value.astype(dtype) for name, value in self.params.items()}

    def loss(self, features, captions):
        p = self.params
        forward, backward = _CELLS[self.cell_type]
        x_words, y_words = captions[:, :-1], captions[:, 1:]
        h0 = features @ p["W_proj"] + p["b_proj"]
        emb, c_emb = word_embedding_forward(x_words, p["W_embed"])
        hs, c_rnn = forward(emb, h0, p["Wx"], p["Wh"], p["b"])
        scores, c_aff = temporal_affine_forward(hs, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, y_words, y_words != self._null)
        dhs, dW_vocab, db_vocab = temporal_affine_backward(dscores, c_aff)
        demb, dh0, dWx, dWh, db = backward(dhs, c_rnn)
        return loss, {"W_embed": word_embedding_backward(demb, c_emb), "W_proj": features.T @ dh0,
                      "b_proj": dh0.sum(0), "Wx": dWx, "Wh": dWh, "b": db, "W_vocab": dW_vocab, "b_vocab": db_vocab}

    def sample(self, features, max_length=30):
        p = self.params
        h = features @ p["W_proj"] + p["b_proj"]
        c = np.zeros_like(h)
        words = np.full(features.shape[0], self._start)
        out = []
        for _ in range(max_length):
            if self.cell_type == "rnn":
                h, _ = rnn_step_forward(p["W_embed"][words], h, p["Wx"], p["Wh"], p["b"])
            else:
                h, c, _ = lstm_step_forward(p["W_embed"][words], h, c, p["Wx"], p["Wh"], p["b"])
            words = (h @ p["W_vocab"] + p["b_vocab"]).argmax(axis=1)
            out.append(words)
        return np.stack(out, axis=1)
