"""Dropout with its conventions as parameters, because the hand-outs disagree on every one of them.

* ``rate`` is a keep probability (cs231n since 2018) or a drop probability (torch, the book, older cs231n):
  ``rate_is="keep"|"drop"``.
* *Inverted* dropout (cs231n, torch) scales the kept units by 1 / keep at train time so test time is the
  identity; the book's is not inverted: kept units pass unchanged and test time multiplies by the keep
  probability (``1 - dropout_ratio``).
* The mask comes from uniform draws ``u``: cs231n keeps a unit when ``u < keep``, the book when
  ``u > drop``. Both keep a unit with the same probability but give different masks for the same seed, so
  the rule is a parameter (``keep_when``) for callers that must reproduce a hand-out's exact mask.
* Randomness: an explicit ``np.random.Generator`` or ``RandomState``, or None for NumPy's global state (what
  ``np.random.rand`` uses). ``RandomState(seed)`` draws exactly what ``np.random.seed(seed)`` followed by
  ``np.random.rand`` draws, without resetting the caller's global state.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["keep_probability", "dropout_mask", "dropout", "dropout_grad"]

RateIs = Literal["keep", "drop"]
KeepWhen = Literal["below", "above"]
Rng = np.random.Generator | np.random.RandomState | None


def keep_probability(rate: float, rate_is: RateIs = "keep") -> float:
    """The probability of keeping a unit, from a keep or a drop probability; ValueError outside the range
    where dropout is defined (keep probability in (0, 1])."""
    if rate_is not in ("keep", "drop"):
        raise ValueError(f"rate_is must be 'keep' or 'drop', got {rate_is!r}")
    rate = float(rate)
    keep = rate if rate_is == "keep" else 1.0 - rate
    if not 0.0 < keep <= 1.0:
        raise ValueError(
            f"dropout {rate_is} probability {rate} gives keep probability {keep}; it must lie in (0, 1]"
        )
    return keep


def _uniform(shape: tuple[int, ...], rng: Rng) -> np.ndarray:
    if rng is None:
        return np.random.random_sample(shape)
    if isinstance(rng, np.random.Generator):
        return rng.random(shape)
    return rng.random_sample(shape)


def dropout_mask(
    shape: tuple[int, ...],
    keep: float,
    *,
    inverted: bool = True,
    rng: Rng = None,
    keep_when: KeepWhen = "below",
    dtype: np.dtype | type = np.float64,
) -> np.ndarray:
    """A multiplicative mask: 0 for dropped units, 1 / keep (inverted) or 1 (not inverted) for kept ones.

    ``keep_when="below"`` keeps a unit when its uniform draw ``u < keep`` (cs231n); ``"above"`` keeps it when
    ``u > 1 - keep`` (the book's ``rand > dropout_ratio``).
    """
    u = _uniform(tuple(shape), rng)
    if keep_when == "below":
        kept = u < keep
    elif keep_when == "above":
        kept = u > 1.0 - keep
    else:
        raise ValueError(f"keep_when must be 'below' or 'above', got {keep_when!r}")
    scale = 1.0 / keep if inverted else 1.0
    return (kept * scale).astype(dtype, copy=False)


def dropout(
    x: np.ndarray,
    rate: float,
    *,
    rate_is: RateIs = "keep",
    inverted: bool = True,
    train: bool = True,
    rng: Rng = None,
    keep_when: KeepWhen = "below",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Dropout of ``x``: (out, mask). At test time there is no mask (None) and ``out`` is ``x`` itself for
    inverted dropout (a copy) or ``x * keep`` otherwise; the output always has ``x``'s dtype."""
    x = np.asarray(x)
    keep = keep_probability(rate, rate_is)
    if not train:
        out = x.copy() if inverted else x * np.asarray(keep, dtype=x.dtype)
        return out, None
    mask = dropout_mask(x.shape, keep, inverted=inverted, rng=rng, keep_when=keep_when, dtype=x.dtype)
    return x * mask, mask


def dropout_grad(
    dout: np.ndarray, mask: np.ndarray | None, keep: float = 1.0, inverted: bool = True
) -> np.ndarray:
    """Gradient through dropout: ``dout * mask`` after a train-mode forward (``mask`` given); after a
    test-mode forward (``mask`` None) ``dout`` itself (inverted) or ``dout * keep`` (not inverted)."""
    dout = np.asarray(dout)
    if mask is None:
        return dout.copy() if inverted else dout * np.asarray(keep, dtype=dout.dtype)
    if mask.shape != dout.shape:
        raise ValueError(f"dout has shape {dout.shape} but the dropout mask has shape {mask.shape}")
    return dout * mask
