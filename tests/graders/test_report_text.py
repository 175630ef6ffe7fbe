"""Display helpers: text cleaning, number formatting, the where-map character grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from graders.report.plaintext import explain_function, where_grid
from graders.report.samples import (
    error_function,
    make_report,
    partial_function_with_values,
    partial_function_with_where,
)
from graders.report.text import clean_text, format_number, format_seconds, one_line
from graders.report.view import WhereView, build_view


def test_clean_text_makes_unsafe_characters_visible() -> None:
    assert clean_text("a\x00b\x1b[0m\x7f\x9b") == "a\\x00b\\x1b[0m\\x7f\\x9b"
    assert clean_text("left\u202eright") == "left\\u202eright"
    assert clean_text("\ud800") == "\\ud800"
    assert clean_text("tab\tnew\nline") == "tab\tnew\nline"
    assert clean_text("win\r\nmac\r") == "win\nmac\n"
    assert clean_text("naïve ∑ 日本 🙂") == "naïve ∑ 日本 🙂"
    assert clean_text(None) == "" and clean_text(3) == "3"


def test_one_line_folds_whitespace() -> None:
    assert one_line(" a\n\tb  c ") == "a b c"


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.0, "2"), (7.5, "7.5"), (1 / 3, "0.33"), (-0.0, "0"), (-0.001, "0"), (math.nan, "nan"),
     (math.inf, "inf"), (-math.inf, "-inf"), (10.0, "10")],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


def test_format_seconds() -> None:
    assert format_seconds(0.4) == "0.40 s" and format_seconds(math.nan) == "nan"


def test_where_grid_marks_the_differing_cells() -> None:
    values = np.array([[1.0, 1e-12, np.nan], [0.5, 0.0, 2e-3]])
    grid = where_grid(WhereView("m", values))
    assert grid is not None
    assert grid.splitlines()[:2] == ["# . !", "# . #"]


def test_where_grid_of_all_zeros_marks_nothing_and_large_maps_are_left_out() -> None:
    grid = where_grid(WhereView("m", np.zeros((2, 2))))
    assert grid is not None and grid.splitlines()[:2] == [". .", ". ."]
    assert where_grid(WhereView("m", np.zeros((2, 40)))) is None


def test_explanation_of_a_check_less_function_states_the_status() -> None:
    view = build_view(make_report([error_function()]))
    text = explain_function(view.functions[0])
    assert text.splitlines()[0] == "Status: timeout (the function ran past its time limit); 0 / 1 points"
    assert "did not return within 10 s" in text


def test_multi_line_messages_stay_indented_under_their_check() -> None:
    function = partial_function_with_where()
    function["checks"][0]["message"] = "first\nsecond"
    text = explain_function(build_view(make_report([function])).functions[0])
    assert "): first\n    second\n" in text


def test_view_tolerates_missing_optional_keys_and_junk_numbers() -> None:
    view = build_view({"functions": [{"name": "f", "score": "oops", "checks": [{"name": "c"}]}, "junk"]})
    (function,) = view.functions
    assert math.isnan(function.score) and function.max_score == 0.0 and function.status == "error"
    assert function.checks[0].passed is False and function.checks[0].cases == 0
    assert function.counterexample is None and function.diagnosis == ()


def test_explanation_shows_a_small_array_as_numbers() -> None:
    text = explain_function(build_view(make_report([partial_function_with_values()])).functions[0])
    assert "dx (1x3): expected, got and difference" in text
    assert "      (0, 1)    0.12573         -0    -0.12573  ✗\n" in text
    assert "# = at least" not in text  # no character grid for it
