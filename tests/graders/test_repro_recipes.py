"""Counterexamples too large to print as literals are printed as the generator call that drew them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graders.repro import MAX_LITERAL, jsonable, literal
from graders.specs import strategies as S

LARGE = (60, 80)  # 4,800 entries: above MAX_LITERAL, so never printed as a literal
assert np.prod(LARGE) > MAX_LITERAL

DRAWN = st.one_of(
    S.seeded_arrays(LARGE, scale=0.5, name="x"),
    S.seeded_arrays(LARGE),
    S.kink_free_arrays(LARGE),
    S.signed_uniform_arrays(LARGE, 0.5, 2.0),
    S.tie_free_arrays((3, *LARGE)),
)


@settings(max_examples=20, database=None, deadline=None)
@given(DRAWN)
def test_a_large_drawn_array_is_printed_as_the_call_that_rebuilds_it(array: np.ndarray) -> None:
    copy = array.copy()  # the grader deep-copies cases: a copy must still be recognised
    code = literal(copy)
    assert "np.zeros" not in code and "default_rng" in code
    rebuilt = eval(code, {"np": np})
    assert rebuilt.dtype == array.dtype and np.array_equal(rebuilt, array)
    assert jsonable(copy)["recipe"] == code


def test_an_array_no_generator_drew_is_not_passed_off_as_one() -> None:
    unknown = np.random.default_rng(7).standard_normal(LARGE) + 1.0
    code = literal(unknown)
    assert code.startswith("np.zeros(") and "zeros stand in" in code
    assert "recipe" not in jsonable(unknown)


def test_a_modified_array_loses_its_recipe() -> None:
    drawn = S.standard_normal(3, LARGE)
    assert "default_rng(3)" in literal(drawn)
    drawn[0, 0] += 1.0
    assert literal(drawn).startswith("np.zeros(")


def test_inputs_drawn_with_different_names_differ_even_from_one_seed() -> None:
    x = S.standard_normal(0, (4, 5), name="x")
    dout = S.standard_normal(0, (4, 5), name="dout")
    assert not np.allclose(x, dout)
    assert np.array_equal(x, S.standard_normal(0, (4, 5), name="x"))
