"""Helpers for the three tiers of cases (notebook, property, scale)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graders.specs.base import Case, NamedCase


def named(make: Callable[[], list[Case]], *labels: str) -> Callable[[], list[NamedCase]]:
    """A ``Spec.notebook`` from a function returning plain cases: each gets its label, in order. Without
    labels, each is named after the first line of ``make``'s docstring (numbered when there are several)."""

    def notebook() -> list[NamedCase]:
        cases = make()
        if labels:
            if len(labels) != len(cases):
                raise ValueError(f"{make.__name__} makes {len(cases)} cases but {len(labels)} labels were given")
            return [NamedCase(label, case) for label, case in zip(labels, cases, strict=True)]
        title = (make.__doc__ or make.__name__).strip().splitlines()[0].rstrip(".")
        if len(cases) == 1:
            return [NamedCase(title, cases[0])]
        return [NamedCase(f"{title} ({i} of {len(cases)})", case) for i, case in enumerate(cases, 1)]

    notebook.__name__ = make.__name__
    return notebook


def with_options(base: dict[str, object], **options: object) -> dict[str, object]:
    """A parameter dict holding only the options that were drawn (None means: leave the hand-out's default),
    after array-api-tests' ``hh.kwargs``: cases then reach both a given option and its default."""
    return {**base, **{k: v for k, v in options.items() if v is not None}}


def first_valid(seed: int, build: Callable[[np.random.Generator], Case], valid: Callable[[Case], bool], what: str,
                tries: int = 256) -> Case:
    """The first case ``build`` draws from ``np.random.default_rng(seed)`` that is ``valid``: a notebook case
    as a fixed seed gives it, one generator for every try (the property tier's ``strategies.seeded_until``
    instead tries seed after seed)."""
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        case = build(rng)
        if valid(case):
            return case
    raise RuntimeError(f"no valid notebook {what} case")  # pragma: no cover - the seed is fixed
