"""Example "nngrade.report/1" dicts covering every branch of the report writers.

WHY in the package: they document the report shape by example (the engine's authors, the CLI's
``--help`` examples and the writer tests all read the same dicts), and the hostile one keeps the escaping
honest: script tags, CDATA terminators, table pipes, control characters, non-ASCII text, NaN scores.
"""

from __future__ import annotations

import math
from typing import Any

HOSTILE_TEXT = "<script>alert(1)</script> ]]> a|b \x00\x1b[31mred\x1b[0m \u202e naïve ∑ 日本 `tick` **bold**"

_PADDING_BUG_MAP = [
    [0.9, 0.8, 0.8, 0.9],
    [0.7, 0.0, 0.0, 0.8],
    [0.8, 0.0, 0.0, 0.7],
    [0.9, 0.7, 0.8, 0.9],
]


def passed_function() -> dict[str, Any]:
    return {
        "name": "affine_forward", "module": "cs231n/layers.py", "score": 1.0, "max_score": 1.0,
        "status": "passed",
        "checks": [
            {"name": "out", "passed": True, "score": 1.0, "max_score": 1.0, "cases": 30, "message": ""},
        ],
        "counterexample": None, "diagnosis": [], "warnings": [], "duration_s": 0.2, "student_s": 0.05,
    }


IN_PLACE_WARNING = ("relu_backward modified its input 'dout' in place: the caller's array changed. It costs no "
                    "points here, but copy before writing.")
STAND_IN_WARNING = "im2col_cython is a compiled extension; the grader's NumPy stand-in was used for it."


def passed_function_with_warning() -> dict[str, Any]:
    """A function that earned every point and still carries a warning (an input modified in place)."""
    return {
        "name": "relu_backward", "module": "cs231n/layers.py", "score": 1.0, "max_score": 1.0,
        "status": "passed",
        "checks": [
            {"name": "dx", "passed": True, "score": 1.0, "max_score": 1.0, "cases": 30, "message": ""},
        ],
        "counterexample": None, "diagnosis": [], "warnings": [IN_PLACE_WARNING], "duration_s": 0.1,
        "student_s": 0.01,
    }


def partial_function_with_where() -> dict[str, Any]:
    return {
        "name": "conv_backward_naive", "module": "cs231n/layers.py", "score": 2.0, "max_score": 3.0,
        "status": "partial",
        "checks": [
            {"name": "dx", "passed": False, "score": 0.0, "max_score": 1.0, "cases": 12,
             "message": "dx differs at index (0, 1, 0, 3): expected 0.5123, got 0.0 "
                        "(atol 1e-07, rtol 1e-05); 12 of 48 entries differ",
             "where": {"label": "max |dx - expected| over N, C", "values": _PADDING_BUG_MAP}},
            {"name": "dw", "passed": True, "score": 1.0, "max_score": 1.0, "cases": 12, "message": ""},
            {"name": "db", "passed": True, "score": 1.0, "max_score": 1.0, "cases": 12, "message": ""},
        ],
        "counterexample": {
            "description": "x (1, 1, 4, 4), w (1, 1, 3, 3), stride 1, pad 1",
            "inputs": {"x": [[[[0.1, 0.2], [0.3, 0.4]]]], "conv_param": {"stride": 1, "pad": 1}},
            "repro": "import numpy as np\nfrom cs231n.layers import conv_forward_naive, conv_backward_naive\n"
                     "x = np.arange(16.0).reshape(1, 1, 4, 4)\n",
        },
        "diagnosis": ["The error sits only on the padded border: dx is probably taken from the padded array "
                      "without cropping the padding."],
        "warnings": ["dout was modified in place"], "duration_s": 0.4, "student_s": 0.1,
    }


def partial_function_with_values() -> dict[str, Any]:
    """A failing check on a 1x3 array: its numbers (``values``) are shown, not a heat map of its where-map."""
    function = partial_function_with_where()
    function["name"] = "max_pool_backward_naive"
    function["checks"][0].update(
        message="dx differs at index (0, 1): expected 0.12573, got -0 (atol 1e-09, rtol 1e-07); 1 of 3 entries differ",
        where={"label": "max |dx - expected|", "values": [[0.0, 0.12573, 0.0]]},
        values={"output": "dx", "shape": [1, 3], "expected": [0.0, 0.12573, -0.132105], "got": [0.0, -0.0, -0.132105],
                "differs": [False, True, False], "atol": 1e-9, "rtol": 1e-7},
    )
    return function


def missing_function() -> dict[str, Any]:
    return {
        "name": "spatial_groupnorm_backward", "module": "cs231n/layers.py", "score": 0.0, "max_score": 2.0,
        "status": "missing", "checks": [], "counterexample": None, "diagnosis": [], "warnings": [],
        "duration_s": 0.0, "student_s": 0.0,
    }


def hostile_function() -> dict[str, Any]:
    return {
        "name": "relu_forward", "module": "cs231n/layers.py", "score": math.nan, "max_score": 1.0,
        "status": "failed",
        "checks": [
            {"name": "out|" + HOSTILE_TEXT, "passed": False, "score": math.nan, "max_score": 1.0, "cases": 3,
             "message": HOSTILE_TEXT + "\nsecond line"},
        ],
        "counterexample": {"description": HOSTILE_TEXT, "inputs": {"x": [math.inf, -math.inf, math.nan]},
                           "repro": "print('```')\n# " + HOSTILE_TEXT},
        "diagnosis": [HOSTILE_TEXT], "warnings": [HOSTILE_TEXT], "duration_s": math.nan, "student_s": 0.0,
    }


def error_function() -> dict[str, Any]:
    return {
        "name": "max_pool_forward_naive", "module": "cs231n/layers.py", "score": 0.0, "max_score": 1.0,
        "status": "timeout", "checks": [], "counterexample": None,
        "diagnosis": ["The call did not return within 10 s."], "warnings": [], "duration_s": 10.0,
        "student_s": 10.0,
    }


SYNTAX_TRACEBACK = ('  File "cs231n/layers.py", line 23\n    x = (1 +\n        ^\n'
                    "SyntaxError: '(' was never closed")
NOT_GRADED = ("not graded: importing cs231n/layers.py failed (SyntaxError: '(' was never closed, line 23); see "
              "Problems at the top of the report")


def blocked_function(name: str = "affine_backward", checks: tuple[str, ...] = ("dx", "dw", "db")
                     ) -> dict[str, Any]:
    """A function not graded because its module did not import (report.json's ``blocked_by``)."""
    return {
        "name": name, "module": "cs231n/layers.py", "score": 0.0, "max_score": float(len(checks)),
        "status": "error", "blocked_by": "layers",
        "checks": [{"name": check, "passed": False, "score": 0.0, "max_score": 1.0, "cases": 0,
                    "message": NOT_GRADED} for check in checks],
        "counterexample": None, "diagnosis": [NOT_GRADED], "warnings": [], "duration_s": 0.0, "student_s": 0.0,
    }


def module_problem_report() -> dict[str, Any]:
    """layers.py has a syntax error (two functions not graded); layer_utils.py fails because it imports it."""
    report = make_report([blocked_function("affine_forward", ("out",)), blocked_function(),
                          dict(blocked_function("affine_relu_forward", ("out",)), blocked_by="layer_utils")])
    report["problems"] = [
        {"module": "layers", "module_file": "cs231n/layers.py", "kind": "import", "file": "cs231n/layers.py",
         "line": 23, "code": "x = (1 +", "message": "SyntaxError: '(' was never closed",
         "traceback": SYNTAX_TRACEBACK, "functions": ["affine_forward", "affine_backward"]},
        {"module": "layer_utils", "module_file": "cs231n/layer_utils.py", "kind": "import",
         "file": "cs231n/layers.py", "line": 23, "code": "x = (1 +", "message": "SyntaxError: '(' was never closed",
         "traceback": '  File "cs231n/layer_utils.py", line 1, in <module>\n    from .layers import *\n'
                      + SYNTAX_TRACEBACK,
         "functions": ["affine_relu_forward"], "caused_by": "layers"},
    ]
    return report


def make_report(functions: list[dict[str, Any]], warnings: list[str] | None = None) -> dict[str, Any]:
    """A report around ``functions`` whose total is the sum of their finite scores."""
    score = sum(fn["score"] for fn in functions if math.isfinite(fn["score"]))
    return {
        "schema": "nngrade.report/1", "assignment": "cs231n-a2", "submission": "submissions/examples/alice",
        "seed": 0, "score": score, "max_score": sum(fn["max_score"] for fn in functions),
        "duration_s": 1.23, "warnings": list(warnings or []), "functions": functions,
        "sandbox": {"layers": ["process", "rlimits"]},
    }


def sample_report() -> dict[str, Any]:
    """A report with a passed, a partial (with a where-map), a missing, a timed-out and a hostile function."""
    return make_report(
        [passed_function(), partial_function_with_where(), missing_function(), error_function(),
         hostile_function()],
        warnings=["cs231n/layers.py prints to stdout", HOSTILE_TEXT],
    )
