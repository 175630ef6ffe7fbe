"""Hypothesis building blocks whose examples stay inside the domain where a gradient check means something.

Plain ``arrays(np.float64, ...)`` examples are full of ties and exact zeros, and shrinking drives values to 0 and
shapes to 1. The blocks here keep shrunk examples valid: values are drawn as *offsets from a safe point*
(so the shrink target is safe too), tie-free arrays are a permutation of evenly spaced values plus a small jitter,
and kink-free arrays keep ``|x| >= margin``.

The array factories are memoised on their (normalised) arguments: hypothesis validates every new strategy
object, and composite case strategies ask for the same shapes again and again, so building the mapped strategy
once per shape made drawing a case about three times faster (which is most of the grader's own time per case).
"""

from __future__ import annotations

import hashlib
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cache
from typing import TypeVar

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

Shape = tuple[int, ...]
T = TypeVar("T")
SEEDS = st.integers(0, 2**32 - 1)


def _shape(shape: Sequence[int]) -> Shape:
    return tuple(int(d) for d in shape)


# ---------------------------------------------------------------- recipes: how to rebuild a large array
#: Arrays at least this large are remembered with the expression that builds them, so that a counterexample's
#: repro script can print ``np.random.default_rng(...).standard_normal(...)`` instead of a huge literal.
RECIPE_MIN_SIZE = 1000
_RECIPES: OrderedDict[bytes, str] = OrderedDict()
_RECIPES_KEPT = 4096


def _digest(array: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(array).tobytes()
                           + repr((array.shape, array.dtype.str)).encode(), digest_size=16).digest()


def remember(array: np.ndarray, expression: str) -> np.ndarray:
    """Record that ``expression`` (NumPy code with ``np`` in scope) rebuilds ``array``; returns the array."""
    if array.size >= RECIPE_MIN_SIZE:
        key = _digest(array)
        _RECIPES[key] = expression
        _RECIPES.move_to_end(key)
        while len(_RECIPES) > _RECIPES_KEPT:
            _RECIPES.popitem(last=False)
    return array


def recipe_of(array: np.ndarray) -> str | None:
    """The expression that rebuilds ``array`` exactly, if this process drew it (or an equal copy), else None.
    The expression is re-evaluated and compared before it is returned: a repro never rebuilds other values."""
    if array.size < RECIPE_MIN_SIZE:
        return None
    expression = _RECIPES.get(_digest(array))
    if expression is None:
        return None
    rebuilt = eval(expression, {"np": np})  # our own expression, built below from numbers only
    return expression if np.array_equal(rebuilt, array) and rebuilt.dtype == array.dtype else None


def _generator(seed: int, name: str | None) -> tuple[np.random.Generator, str]:
    """A generator for one input and the code that makes it. Inputs of one case drawn with different names
    get different streams even from the same seed: a shrunk case (every seed 0) keeps x, w and dout apart."""
    if name is None:
        return np.random.default_rng(seed), f"np.random.default_rng({seed})"
    salt = zlib.crc32(name.encode())
    return np.random.default_rng([seed, salt]), f"np.random.default_rng([{seed}, {salt}])"


def _scaled(code: str, scale: float) -> str:
    return code if scale == 1.0 else f"{code} * {scale!r}"


def standard_normal(seed: int, shape: Sequence[int], scale: float = 1.0, name: str | None = None) -> np.ndarray:
    """``default_rng(seed).standard_normal(shape) * scale``, remembered for repro scripts (scale cases)."""
    rng, code = _generator(seed, name)
    shape = _shape(shape)
    array = rng.standard_normal(shape) * scale if scale != 1.0 else rng.standard_normal(shape)
    return remember(array, _scaled(f"{code}.standard_normal({shape!r})", scale))


def floats(low: float = -1.0, high: float = 1.0) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def dims(low: int = 1, high: int = 4) -> st.SearchStrategy[int]:
    return st.integers(low, high)


def real_arrays(shape: Shape, low: float = -1.0, high: float = 1.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` with values in [low, high]; duplicates allowed."""
    return hnp.arrays(np.float64, shape, elements=floats(low, high))


def seeded_arrays(shape: Sequence[int], scale: float = 1.0, name: str | None = None) -> st.SearchStrategy[np.ndarray]:
    """Gaussian float64 arrays from a drawn seed: cheap for large shapes, and shrink-safe (the seed shrinks, not
    the values, so a shrunk example is still a generic array without zeros or ties). ``name`` (the input's
    name) gives each input of a case its own stream."""
    return _seeded_arrays(_shape(shape), float(scale), name)


@cache
def _seeded_arrays(shape: Shape, scale: float, name: str | None) -> st.SearchStrategy[np.ndarray]:
    def build(seed: int) -> np.ndarray:
        rng, code = _generator(seed, name)
        return remember(rng.standard_normal(shape) * scale, _scaled(f"{code}.standard_normal({shape!r})", scale))

    return SEEDS.map(build)


def tie_free_arrays(
    shape: Sequence[int], spacing: float = 0.1, jitter: float = 0.01
) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose entries are pairwise distinct by at least ``spacing - 2 * jitter``.

    A random permutation of ``spacing * (0, 1, ..., n-1)``, centred, plus uniform jitter below spacing / 2.
    Max-pool inputs need this: with ties the subgradient is not unique and finite differences split it.
    """
    return _tie_free_arrays(_shape(shape), float(spacing), float(jitter))


@cache
def _tie_free_arrays(shape: Shape, spacing: float, jitter: float) -> st.SearchStrategy[np.ndarray]:
    size = int(np.prod(shape)) if shape else 1

    def build(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        base = (rng.permutation(size) - (size - 1) / 2.0) * spacing
        array = (base + rng.uniform(-jitter, jitter, size)).reshape(shape)
        return remember(array, f"(lambda rng: ((rng.permutation({size}) - {(size - 1) / 2.0!r}) * {spacing!r} "
                               f"+ rng.uniform({-jitter!r}, {jitter!r}, {size})).reshape({shape!r}))"
                               f"(np.random.default_rng({seed}))")

    return SEEDS.map(build)


def kink_free_arrays(
    shape: Sequence[int], margin: float = 1e-3, scale: float = 1.0
) -> st.SearchStrategy[np.ndarray]:
    """Gaussian arrays with every ``|x| >= margin`` (ReLU at 0 is a kink: finite differences straddle it)."""
    return _kink_free_arrays(_shape(shape), float(margin), float(scale))


@cache
def _kink_free_arrays(shape: Shape, margin: float, scale: float) -> st.SearchStrategy[np.ndarray]:
    def build(seed: int) -> np.ndarray:
        x = np.random.default_rng(seed).standard_normal(shape) * scale
        array = np.where(np.abs(x) < margin, np.copysign(margin, x) * 2.0, x)
        return remember(array, f"(lambda x: np.where(np.abs(x) < {margin!r}, np.copysign({margin!r}, x) * 2.0, x))"
                               f"(np.random.default_rng({seed}).standard_normal({shape!r}) * {scale!r})")

    return SEEDS.map(build)


def signed_uniform_arrays(shape: Sequence[int], low: float, high: float) -> st.SearchStrategy[np.ndarray]:
    """Entries with |x| uniform in [low, high] and random signs: far from 0 (a dropped unit is never confused
    with a kept one) and from any kink at 0."""
    return _signed_uniform_arrays(_shape(shape), float(low), float(high))


@cache
def _signed_uniform_arrays(shape: Shape, low: float, high: float) -> st.SearchStrategy[np.ndarray]:
    def build(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        array = rng.uniform(low, high, shape) * rng.choice(np.array([-1.0, 1.0]), shape)
        return remember(array, f"(lambda rng: rng.uniform({low!r}, {high!r}, {shape!r}) * rng.choice(np.array([-1.0, "
                               f"1.0]), {shape!r}))(np.random.default_rng({seed}))")

    return SEEDS.map(build)


@cache
def labels(n: int, classes: int) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.int64, (n,), elements=st.integers(0, classes - 1))


def shapes_with(ndim: int, low: int = 1, high: int = 4) -> st.SearchStrategy[Shape]:
    return st.tuples(*[dims(low, high) for _ in range(ndim)])


def one_of_values(values: Sequence[float]) -> st.SearchStrategy[float]:
    return st.sampled_from(list(values))


@st.composite
def seeded_until(
    draw: st.DrawFn, build: Callable[[np.random.Generator], T], ok: Callable[[T], bool], tries: int = 64
) -> T:
    """Values built from a drawn seed, kept inside a domain that a plain draw can miss.

    ``build(rng)`` makes a candidate from ``default_rng(seed)``; if ``ok`` rejects it (a ReLU input too close
    to 0, a batch whose variance is tiny), the seeds ``seed + 1, seed + 2, ...`` are tried in order. So the
    example is reproducible from its seed, a shrunk seed still gives a valid example, and a rare bad draw
    costs a retry instead of a hypothesis rejection. After ``tries`` failures the example is rejected.
    (A composite rather than map/filter chains: one strategy object per call, which hypothesis validates
    faster.)
    """
    first = draw(SEEDS)
    for k in range(tries):
        value = build(np.random.default_rng(first + k))
        if ok(value):
            return value
    reject()


#: Feature shapes after the batch axis: 1 to 3 axes of 1 to 4 (affine layers flatten them).
FEATURE_SHAPES: st.SearchStrategy[Shape] = st.lists(dims(1, 4), min_size=1, max_size=3).map(tuple)
