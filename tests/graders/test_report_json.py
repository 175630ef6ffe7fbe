"""Strict JSON: non-finite floats, numpy values, unsupported types, deterministic text."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from graders.report.jsonsafe import dumps_json, json_safe


def test_non_finite_floats_become_strings_everywhere() -> None:
    value = {"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": {"d": (np.float64(np.nan),)}}
    assert json_safe(value) == {"a": "nan", "b": ["inf", "-inf", 1.5], "c": {"d": ["nan"]}}


def test_numpy_scalars_and_arrays_become_python_values() -> None:
    safe = json_safe({"i": np.int64(3), "b": np.bool_(False), "a": np.array([[1.0, np.inf]])})
    assert safe == {"i": 3, "b": False, "a": [[1.0, "inf"]]}
    assert type(safe["i"]) is int and type(safe["b"]) is bool


def test_paths_become_strings_and_keys_become_strings() -> None:
    assert json_safe({1: Path("sub/alice")}) == {"1": "sub/alice"}


def test_unsupported_values_are_named_with_their_position() -> None:
    with pytest.raises(ValueError, match=r"report\.functions\[1\]\.x is a set"):
        json_safe({"functions": [{}, {"x": {1, 2}}]})


def test_lone_surrogates_are_replaced_so_the_file_can_be_encoded() -> None:
    text = dumps_json({"message": "bad byte \udcff here"})
    text.encode("utf-8")
    assert json.loads(text)["message"] == "bad byte ? here"


def test_dumps_is_strict_sorted_and_newline_terminated() -> None:
    text = dumps_json({"b": 1, "a": math.nan, "ü": "日本"})
    assert text.endswith("}\n")
    assert "NaN" not in text and "日本" in text  # ensure_ascii=False keeps text readable
    assert list(json.loads(text)) == ["a", "b", "ü"]
    assert dumps_json({"a": math.nan, "b": 1}) == dumps_json({"b": 1, "a": math.nan})
