"""Building blocks of a network class's spec: a class graded through its public methods (kit/programs.py's
``net_program`` and ``initial_params``), whose ``params`` dict holds W1, b1, ... and whose gradient methods
return a dict of the same keys.

What every such spec does the same way, written once: drawing a case's parameters (:func:`affine_params`,
:func:`dense_params`, :func:`conv_net_params`), judging a returned dict of gradients entry by entry
(:func:`judge_entries`), and judging the parameters ``__init__`` made (:class:`InitRule`: names, shapes, starting
values, the weights' spread).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from graders.specs.base import Case, Check, Outputs, Verdict
from graders.specs.kit.rules import array_of_shape, compare_arrays

T = TypeVar("T")
#: A custom ``Check.compare`` rule.
Rule = Callable[[Case, Outputs, Outputs, Check], Verdict]
#: How a missing entry of a returned dict is said, for the entry's ``name``: the book returns a dict of its own
#: (``the returned dict has no entry 'W1'``), cs231n's loss returns ``grads``.
NO_ENTRY = "the returned dict has no entry {name!r}"
NOT_PRODUCED = "grads[{name!r}] was not produced"


# ---------------------------------------------------------------- drawing a case's parameters
def affine_params(rng: np.random.Generator, fan_in: int, fan_out: int) -> tuple[np.ndarray, np.ndarray]:
    """An affine layer's weight (fan_in, fan_out) with unit-scale outputs (N(0, 1 / fan_in) entries) and a small
    bias (N(0, 0.01)): pre-activations of order 1, so a case's ReLU inputs spread on both sides of the kink."""
    return rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in), 0.1 * rng.standard_normal(fan_out)


def dense_params(rng: np.random.Generator, dims: Sequence[int], *, gamma_spread: float | None = None
                 ) -> dict[str, np.ndarray]:
    """W<i>, b<i> of each affine layer between ``dims`` (:func:`affine_params`) and, given ``gamma_spread``,
    gamma<i> (1 + gamma_spread * N(0, 1)) and beta<i> (0.1 * N(0, 1)) of each hidden layer's normalisation,
    drawn layer by layer in that order."""
    params: dict[str, np.ndarray] = {}
    for i in range(1, len(dims)):
        params[f"W{i}"], params[f"b{i}"] = affine_params(rng, dims[i - 1], dims[i])
        if gamma_spread is not None and i < len(dims) - 1:
            params[f"gamma{i}"] = 1.0 + gamma_spread * rng.standard_normal(dims[i])
            params[f"beta{i}"] = 0.1 * rng.standard_normal(dims[i])
    return params


def conv_net_params(rng: np.random.Generator, *, filters: int, channels: int, filter_size: int, pooled: int,
                    hidden: int, classes: int) -> dict[str, np.ndarray]:
    """A conv - relu - pool - affine - relu - affine net's W1 (filters, channels, fs, fs) scaled by its fan-in,
    b1, then the two affine layers (``pooled`` inputs to ``hidden``, ``hidden`` to ``classes``)."""
    fan_in = channels * filter_size * filter_size
    params = {"W1": rng.standard_normal((filters, channels, filter_size, filter_size)) / np.sqrt(fan_in),
              "b1": 0.1 * rng.standard_normal(filters)}
    params["W2"], params["b2"] = affine_params(rng, pooled, hidden)
    params["W3"], params["b3"] = affine_params(rng, hidden, classes)
    return params


def write_params(net: T, case: Case, keys: Sequence[str], *, in_place: bool = False) -> T:
    """A reference ``net`` with the case's parameters ``keys`` written into its ``params``: in place where its
    layers hold the same arrays (the book's nets), else as float64 copies (cs231n's read ``self.params`` at call
    time). Returns the net."""
    for k in keys:
        if in_place:
            net.params[k][...] = case[k]  # type: ignore[attr-defined]
        else:
            net.params[k] = np.array(case[k], dtype=np.float64)  # type: ignore[attr-defined]
    return net


# ---------------------------------------------------------------- a returned dict of gradients
def compare_entries(actual: Outputs, expected: Outputs, check: Check, prefix: str,
                    names: Sequence[str] | None = None, missing: str = NO_ENTRY) -> Verdict:
    """Each output ``prefix + name`` allclose to the reference's within the check's tolerance, for ``names`` in
    order (None: every ``prefix`` output the reference has, its number depending on the case); the first that
    is missing (``missing``, formatted with ``name``) or off fails."""
    found = names if names is not None else [k[len(prefix):] for k in expected if k.startswith(prefix)]
    for name in found:
        key = prefix + name
        if actual.get(key) is None:
            return Verdict(False, missing.format(name=name))
        verdict = compare_arrays(key, actual[key], expected[key], check.atol, check.rtol)
        if not verdict.passed:
            return verdict
    return Verdict(True)


def judge_entries(prefix: str, names: Sequence[str] | None = None, missing: str = NO_ENTRY) -> Rule:
    """A rule judging a returned dict entry by entry (:func:`compare_entries`)."""

    def rule(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
        return compare_entries(actual, expected, check, prefix, names, missing)

    return rule


# ---------------------------------------------------------------- what __init__ made
@dataclass(frozen=True)
class Spread:
    """The standard deviation ``__init__`` must give the weights (the parameters named W...), within ``rtol``.

    ``scale(case, shape)`` is the one wanted for a weight of the reference's ``shape`` (the fan-in is
    ``shape[0]``); ``said(case, scale, shape)`` is how a failing verdict says it; ``rtol`` is the spec's own
    (how far a sample of its weights' size may stray). ``pooled``: the weights share
    one scale and are judged together, their entries pooled (a small weight's sample spread is noisier than
    the check allows), rather than one by one; ``shape`` is then ``()``."""

    scale: Callable[[Case, tuple[int, ...]], float]
    said: Callable[[Case, float, tuple[int, ...]], str]
    rtol: float
    pooled: bool = False


def scale_argument(argument: str, *, rtol: float, pooled: bool = False) -> Spread:
    """Weights drawn as ``argument * np.random.randn(...)``, the case's ``argument`` giving the scale."""
    return Spread(scale=lambda case, shape: float(case[argument]),
                  said=lambda case, scale, shape: f"{argument} = {scale:g} ({argument} * np.random.randn(...))",
                  rtol=rtol, pooled=pooled)


@dataclass(frozen=True)
class InitRule:
    """A ``Check.compare`` rule for the parameters ``__init__`` made (outputs ``init_<name>``, kit/programs.py's
    ``initial_params``): each present, of the reference's shape; those whose name (digits aside) is a key of
    ``starts`` equal to that constant everywhere (biases zeros, gammas ones); the weights' spread as
    ``spread`` says (None: not judged).

    ``names``: the parameters in the order judged (None: every ``init_`` output the reference has, sorted).
    ``made_no``: how a missing parameter is said (formatted with ``name``); ``say_all``: "should start as all
    zeros" rather than "as zeros"."""

    names: Sequence[str] | None = None
    starts: Mapping[str, float] = field(default_factory=lambda: {"b": 0.0})
    spread: Spread | None = None
    made_no: str = "__init__ made no self.params[{name!r}]"
    say_all: bool = False

    def __call__(self, case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
        names = self.names if self.names is not None else sorted(
            k[len("init_"):] for k in expected if k.startswith("init_"))
        pooled: list[np.ndarray] = []
        for name in names:
            key, shape = f"init_{name}", np.shape(expected[f"init_{name}"])
            if actual.get(key) is None:
                return Verdict(False, self.made_no.format(name=name))
            value = array_of_shape(actual, key, shape)
            if isinstance(value, Verdict):
                return Verdict(False, f"__init__: self.params[{name!r}]: " + value.message.removeprefix(key + " "))
            kind = name.rstrip("0123456789")
            if kind in self.starts and np.any(value != self.starts[kind]):
                word = ("all " if self.say_all else "") + ("ones" if self.starts[kind] == 1 else "zeros")
                return Verdict(False, f"__init__: self.params[{name!r}] should start as {word}")
            if kind != "W" or self.spread is None:
                continue
            if self.spread.pooled:
                pooled.append(value.ravel())
                continue
            verdict = self._spread(case, f"self.params[{name!r}] has standard deviation", value, shape)
            if not verdict.passed:
                return verdict
        if pooled:
            return self._spread(case, "the weights' standard deviation is", np.concatenate(pooled), ())
        return Verdict(True)

    def _spread(self, case: Case, subject: str, value: np.ndarray, shape: tuple[int, ...]) -> Verdict:
        assert self.spread is not None
        std, scale = float(np.std(value)), self.spread.scale(case, shape)
        if abs(std - scale) > self.spread.rtol * scale:
            return Verdict(False, f"__init__: {subject} {std:.4g}, expected {self.spread.said(case, scale, shape)}")
        return Verdict(True)
