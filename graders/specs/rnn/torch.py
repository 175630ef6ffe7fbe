"""The torch twins of ``rnn_layers.py`` (tests only): torch.nn.RNN, torch.nn.LSTM, embedding, cross_entropy.

torch.nn.RNN and torch.nn.LSTM keep their weights transposed (weight_ih_l0 is (gates * H, D)) and two biases;
the hand-out's single b goes into bias_ih_l0 with bias_hh_l0 zero. PyTorch's LSTM orders the gate blocks
i, f, g, o; the hand-out's are i, f, o, g, so the o and g blocks of Wx, Wh and b swap on the way in and their
gradients swap back on the way out. A single step is the same module run over a sequence of length one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graders.specs.base import Case
from graders.specs.kit.torch import torch_one_thread


def _to_torch_order(a: np.ndarray, hidden: int) -> np.ndarray:
    """Blocks i, f, o, g along the last axis -> i, f, g, o (the same swap undoes itself)."""
    i, f, o, g = (a[..., k * hidden:(k + 1) * hidden] for k in range(4))
    return np.concatenate([i, f, g, o], axis=-1)


def _recurrent(case: Case, *, lstm: bool, step: bool) -> dict[str, Any]:
    torch = torch_one_thread()
    hidden = case["Wh"].shape[0]
    order = (lambda a: _to_torch_order(a, hidden)) if lstm else (lambda a: a)
    x_np = case["x"][:, None, :] if step else case["x"]
    h0_np = case["prev_h"] if step else case["h0"]
    module = (torch.nn.LSTM if lstm else torch.nn.RNN)(x_np.shape[-1], hidden, batch_first=True,
                                                       **({} if lstm else {"nonlinearity": "tanh"}))
    module = module.double()
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(order(case["Wx"]).T))
        module.weight_hh_l0.copy_(torch.tensor(order(case["Wh"]).T))
        module.bias_ih_l0.copy_(torch.tensor(order(case["b"])))
        module.bias_hh_l0.zero_()
    x = torch.tensor(x_np, requires_grad=True)
    h0 = torch.tensor(h0_np[None], requires_grad=True)
    if lstm:
        c0 = torch.tensor((case["prev_c"] if step else np.zeros_like(h0_np))[None], requires_grad=True)
        out, (_, c_last) = module(x, (h0, c0))
    else:
        out, _ = module(x, h0)
    if step:
        scalar = (out[:, 0] * torch.tensor(case["dnext_h"])).sum()
        if lstm:
            scalar = scalar + (c_last[0] * torch.tensor(case["dnext_c"])).sum()
    else:
        scalar = (out * torch.tensor(case["dh"])).sum()
    scalar.backward()
    grads = {"dx": x.grad, "dWx": module.weight_ih_l0.grad, "dWh": module.weight_hh_l0.grad,
             "db": module.bias_ih_l0.grad}
    found: dict[str, Any] = {k: v.detach().numpy() for k, v in grads.items() if v is not None}
    found["dWx"], found["dWh"], found["db"] = order(found["dWx"].T), order(found["dWh"].T), order(found["db"])
    if step:
        found["dx"] = found["dx"][:, 0]
        found["next_h"] = out[:, 0].detach().numpy()
        found["dprev_h"] = h0.grad.numpy()[0] if h0.grad is not None else None
        if lstm:
            found["next_c"] = c_last[0].detach().numpy()
            found["dprev_c"] = c0.grad.numpy()[0] if c0.grad is not None else None
    else:
        found["h"] = out.detach().numpy()
        found["dh0"] = h0.grad.numpy()[0] if h0.grad is not None else None
    return found


def rnn_step_torch(case: Case) -> dict[str, Any]:
    return _recurrent(case, lstm=False, step=True)


def rnn_sequence_torch(case: Case) -> dict[str, Any]:
    return _recurrent(case, lstm=False, step=False)


def lstm_step_torch(case: Case) -> dict[str, Any]:
    return _recurrent(case, lstm=True, step=True)


def lstm_sequence_torch(case: Case) -> dict[str, Any]:
    return _recurrent(case, lstm=True, step=False)


def embedding_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    import torch.nn.functional as F

    W = torch.tensor(case["W"], requires_grad=True)
    out = F.embedding(torch.tensor(case["x"]), W)
    out.backward(torch.tensor(case["dout"]))
    assert W.grad is not None
    return {"out": out.detach().numpy(), "dW": W.grad.numpy()}


def temporal_affine_torch(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    x, w, b = (torch.tensor(case[k], requires_grad=True) for k in ("x", "w", "b"))
    out = torch.nn.functional.linear(x, w.T, b)
    out.backward(torch.tensor(case["dout"]))
    assert x.grad is not None and w.grad is not None and b.grad is not None
    return {"out": out.detach().numpy(), "dx": x.grad.numpy(), "dw": w.grad.numpy(), "db": b.grad.numpy()}


def temporal_softmax_torch(case: Case) -> dict[str, Any]:
    """Per-step cross_entropy (reduction none), weighted by the mask, summed and divided by N."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    n, t, v = case["x"].shape
    x = torch.tensor(case["x"], requires_grad=True)
    per_step = F.cross_entropy(x.reshape(n * t, v), torch.tensor(case["y"]).reshape(n * t), reduction="none")
    loss = (per_step * torch.tensor(case["mask"].reshape(n * t), dtype=torch.float64)).sum() / n
    loss.backward()
    assert x.grad is not None
    return {"loss": float(loss.item()), "dx": x.grad.numpy()}
