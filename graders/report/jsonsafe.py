"""Turning a report into strict JSON: the one place where non-finite floats and numpy scalars are handled.

WHY: ``json.dumps`` writes ``NaN``/``Infinity`` by default, which is not JSON (browsers, ``jq`` and most
other languages reject it), and it cannot encode numpy scalars at all. A student's NaN loss is a normal
grading outcome, so it is recorded as the string "nan" ("inf", "-inf") and everything is dumped with
``allow_nan=False`` to make any value that slipped through an error instead of invalid output.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np


def _finite_or_name(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _encodable(text: str) -> str:
    """The string with lone surrogates (undecodable bytes smuggled through ``surrogateescape``) replaced,
    because UTF-8 cannot encode them and the whole file would fail to write."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def json_safe(value: Any, where: str = "report") -> Any:
    """A copy of ``value`` built from dict/list/str/int/float/bool/None only, with finite floats.

    Mappings get string keys, tuples and arrays become lists, numpy scalars become Python numbers, paths
    become strings. ``where`` names the position in the report for the error message.
    """
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist(), where)
    if isinstance(value, np.generic):
        return json_safe(value.item(), where)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return _finite_or_name(value)
    if isinstance(value, str):
        return _encodable(value)
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        return _encodable(path if isinstance(path, str) else path.decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {_encodable(str(key)): json_safe(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise ValueError(f"{where} is a {type(value).__name__}, which a JSON report cannot represent")


def dumps_json(value: Any) -> str:
    """Deterministic strict JSON text: sorted keys, two-space indent, UTF-8 characters kept, final newline."""
    text = json.dumps(json_safe(value), indent=2, ensure_ascii=False, allow_nan=False, sort_keys=True)
    return text + "\n"
