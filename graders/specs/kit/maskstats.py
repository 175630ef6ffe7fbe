"""Statistical rules about a dropout mask, with a stated chance of failing correct code.

A correct dropout keeps each unit independently with the same probability, so its mask is *exchangeable*:
given how many units it kept (K of n), every set of K positions is equally likely. That holds for
``np.random.rand(...) < p``, ``np.random.binomial``, a ``Generator``, and for a fixed count drawn with
``np.random.choice(n, K, replace=False)`` or a permutation. Each rule below counts kept units in a fixed set
of positions, which for an exchangeable mask is hypergeometric (or binomial), and compares the count with
bounds from the Chernoff-Hoeffding tail bound::

    P(X >= m q) <= exp(-m KL(q || p))  for q >= p,    P(X <= m q) <= exp(-m KL(q || p))  for q <= p,

where X counts successes in m draws with success fraction p and KL is the Bernoulli relative entropy. It holds
for the binomial and, by Hoeffding (1963, theorem 4), for draws without replacement (the hypergeometric). No
normal approximation is involved, so the bound is valid for any size, small groups included.

Every check built on these bounds fails correct code with probability at most ``FALSE_ALARM`` (1e-7): the
budget is split evenly over the tests the check makes (two tails each, union bound). The rules condition on
the kept count, so a wrong keep rate (``p`` read as the drop probability) costs only the keep-rate check:

* keep rate: the kept count K is Binomial(n, keep) (a fixed-count mask is at its mean and passes);
* uniform positions: the kept count at each index along each axis (rows and columns of a 2-D x) and at the
  even positions of ``x.ravel()`` is hypergeometric (group size, K / n); and neighbours are independent: among
  the disjoint pairs (2i, 2i + 1) of ``x.ravel()`` whose first unit is kept, the number whose second unit is
  kept is hypergeometric given the first units (those seconds are s of the n - n//2 other positions, which
  hold the K - s remaining kept units uniformly);
* a new mask per seed (or per call): the overlap of two independently drawn masks with K1 and K2 kept units
  is hypergeometric (K1 draws, fraction K2 / n); identical masks overlap fully.

Fakes these catch: the first p * size units kept (rows, pairs, overlap), every other unit (columns or the
even positions, pairs, overlap), one mask for the whole batch (columns), a fixed seed (overlap).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: The largest chance that a correct (exchangeable) mask fails one check, over all the tests it makes.
FALSE_ALARM = 1e-7


def relative_entropy(q: float, p: float) -> float:
    """KL(Bernoulli(q) || Bernoulli(p)) for p in (0, 1), with 0 log 0 = 0."""

    def term(a: float, b: float) -> float:
        return 0.0 if a <= 0.0 else a * math.log(a / b)

    return term(q, p) + term(1.0 - q, 1.0 - p)


def _edge(p: float, level: float, towards: float) -> float:
    """The fraction q between p and ``towards`` (0 or 1) where KL(q || p) first reaches ``level``; ``towards``
    itself when it never does (no count on that side is improbable enough to flag)."""
    if relative_entropy(towards, p) < level:
        return towards
    near, far = p, towards
    for _ in range(80):  # bisection to below 1e-20 of the interval: far keeps KL(far || p) >= level
        mid = 0.5 * (near + far)
        if relative_entropy(mid, p) >= level:
            far = mid
        else:
            near = mid
    return far


def count_bounds(draws: int, fraction: float, alarm: float) -> tuple[float, float]:
    """(low, high) such that a count of successes in ``draws`` draws with success fraction ``fraction``
    (binomial, or hypergeometric without replacement) falls below ``low`` or above ``high`` with probability at
    most ``alarm`` (each tail at most alarm / 2, by the Chernoff-Hoeffding bound)."""
    if draws <= 0 or fraction <= 0.0:
        return 0.0, 0.0
    if fraction >= 1.0:
        return float(draws), float(draws)
    level = math.log(2.0 / alarm) / draws
    return draws * _edge(fraction, level, 0.0), draws * _edge(fraction, level, 1.0)


@dataclass(frozen=True)
class CountTest:
    """One count compared with its bounds; ``excess`` > 0 when outside them (by how much, relative to the
    group), so the worst of several failing tests can be shown."""

    what: str
    count: int
    draws: int
    expected: float
    low: float
    high: float
    #: what the expected count is of (a random mask; two independent masks)
    baseline: str = "a random mask with the same keep rate keeps"

    @property
    def excess(self) -> float:
        beyond = max(self.low - self.count, self.count - self.high)
        return beyond / max(self.draws, 1)

    @property
    def failed(self) -> bool:
        return self.count < self.low or self.count > self.high

    def sentence(self) -> str:
        rate = self.count / self.draws if self.draws else 0.0
        return (f"{self.what}: {self.count} of {self.draws} ({rate:.3f}); {self.baseline} about "
                f"{self.expected:.1f} there (between {math.ceil(self.low)} and {math.floor(self.high)})")


def _axis_name(ndim: int, axis: int) -> Callable[[int], str]:
    if ndim == 2:
        return (lambda i: f"kept units in row {i}") if axis == 0 else (lambda i: f"kept units in column {i}")
    return lambda i: f"kept units at index {i} along axis {axis}"


@dataclass(frozen=True)
class _Groups:
    """Equal-size groups of positions: their kept counts, their size, how to name group i."""

    counts: np.ndarray
    size: int
    name: Callable[[int], str]


def _groups(kept: np.ndarray) -> list[_Groups]:
    """Each axis's indices (rows and columns of a 2-D mask), and the even positions of the flat mask."""
    families: list[_Groups] = []
    for axis, size in enumerate(kept.shape):
        if size >= 2:
            others = tuple(a for a in range(kept.ndim) if a != axis)
            families.append(_Groups(kept.sum(axis=others).astype(np.int64), kept.size // size,
                                    _axis_name(kept.ndim, axis)))
    flat = kept.ravel()
    if flat.size >= 2:
        evens = flat[0::2]
        families.append(_Groups(np.array([int(evens.sum())]), int(evens.size),
                                lambda i: "kept units at the even positions of x.ravel()"))
    return families


def _pair_test(kept: np.ndarray, alarm: float) -> CountTest | None:
    """Neighbours independent: seconds kept among the pairs (2i, 2i + 1) whose first unit is kept."""
    flat = kept.ravel()
    pairs = flat.size // 2
    if pairs == 0:
        return None
    first, second = flat[0:2 * pairs:2], flat[1:2 * pairs:2]
    total = int(flat.sum())
    firsts_kept = int(first.sum())
    others = flat.size - pairs
    fraction = (total - firsts_kept) / others
    low, high = count_bounds(firsts_kept, fraction, alarm)
    return CountTest(
        "neighbours: of the pairs of units (2i, 2i + 1) of x.ravel() whose first unit is kept, those whose second "
        "unit is kept too",
        int(np.count_nonzero(first & second)), firsts_kept, firsts_kept * fraction, low, high)


def uniformity_failures(kept: np.ndarray) -> tuple[list[CountTest], int]:
    """The failing tests of the uniform-positions rule on a boolean keep-mask (the alarm budget split over all
    of them), and how many tests were made."""
    families = _groups(kept)
    total = sum(len(g.counts) for g in families) + 1
    alarm = FALSE_ALARM / total
    n, k = kept.size, int(kept.sum())
    failing: list[CountTest] = []
    for group in families:
        low, high = count_bounds(group.size, k / n, alarm)
        outside = np.flatnonzero((group.counts < low) | (group.counts > high))
        failing += [CountTest(group.name(int(i)), int(group.counts[i]), group.size, group.size * k / n, low, high)
                    for i in outside]
    pair = _pair_test(kept, alarm)
    if pair is not None and pair.failed:
        failing.append(pair)
    return failing, total


def worst_failure(tests: list[CountTest]) -> CountTest | None:
    """The failing test to show, or None when all pass: the one furthest outside its bounds among the groups of
    positions (a row kept entirely reads better than a statistic about pairs), else among all."""
    failing = [t for t in tests if t.failed]
    groups = [t for t in failing if not t.what.startswith("neighbours")]
    shown = groups or failing
    return max(shown, key=lambda t: t.excess) if shown else None


def overlap_test(first: np.ndarray, second: np.ndarray) -> CountTest:
    """Two masks drawn independently: units kept by both, given how many each kept."""
    n = first.size
    k1, k2 = int(first.sum()), int(second.sum())
    low, high = count_bounds(k1, k2 / n if n else 0.0, FALSE_ALARM)
    return CountTest("units kept by both masks, of those the first one kept", int(np.count_nonzero(first & second)),
                     k1, k1 * k2 / n if n else 0.0, low, high, "two independent masks with these keep counts share")


def keep_count_bounds(size: int, keep: float) -> tuple[float, float]:
    """Bounds of the kept count of a mask over ``size`` units with keep probability ``keep``."""
    return count_bounds(size, keep, FALSE_ALARM)
