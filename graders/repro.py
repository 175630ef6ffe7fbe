"""A counterexample a student can paste into a notebook: the inputs as literals and the calls that failed."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from graders.specs.base import Case
from graders.specs.program import (
    Assign,
    Attr,
    Call,
    Const,
    Expr,
    Func,
    Input,
    Item,
    Pack,
    Program,
    Result,
    Slice,
    functions_called,
    inputs_used,
)
from graders.specs.strategies import recipe_of

MAX_LITERAL = 4000
#: Expected outputs are printed (to compare with) only up to this many entries: beyond that the report, not
#: the script, shows where the values differ, and a page of numbers helps nobody.
MAX_EXPECTED = 400
SUPPORT_MODULE = "nngrade_support"

COMPARE_HELPER = """

def compare(name, got, expected):
    got = np.asarray(got)
    if got.shape != expected.shape:
        print(name, "has shape", got.shape, "but the expected shape is", expected.shape)
    elif got.size:
        print(name, "max |difference| =", np.max(np.abs(got - expected)))
"""


def literal(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size > MAX_LITERAL:
            recipe = recipe_of(value)
            if recipe is not None:  # the generator call that drew it, checked to rebuild it exactly
                return recipe
            return (f"np.zeros({value.shape!r})  # too large to print ({value.size} entries); the grader's values "
                    "were not of a recorded generator: zeros stand in for them here")
        return f"np.array({value.tolist()!r}, dtype=np.{value.dtype.name})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, np.generic):
        return repr(value.item())
    return repr(value)


def _support_source() -> str:
    """The support module's code without its docstring and future import."""
    source = (Path(__file__).parent / "sandbox" / "support" / f"{SUPPORT_MODULE}.py").read_text()
    tree = ast.parse(source)
    body = [node for node in tree.body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    body = [node for node in body if not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
    body = [node for node in body if not isinstance(node, ast.Import)]
    return "\n\n".join(ast.unparse(node) for node in body)


def jsonable(value: Any) -> Any:
    """Case inputs for report.json: arrays as nested lists (small ones only)."""
    if isinstance(value, np.ndarray):
        if value.size > MAX_LITERAL:
            omitted: dict[str, Any] = {"shape": list(value.shape), "dtype": value.dtype.name, "omitted": True}
            recipe = recipe_of(value)
            if recipe is not None:
                omitted["recipe"] = recipe
            return omitted
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _expr(e: Expr) -> str:
    if isinstance(e, Input):
        return e.name
    if isinstance(e, Func):
        return e.name
    if isinstance(e, Result):
        return e.step
    if isinstance(e, Item):
        return f"{_expr(e.of)}[{e.key!r}]"
    if isinstance(e, Attr):
        return f"{_expr(e.of)}.{e.name}"
    if isinstance(e, Slice):
        return f"{_expr(e.of)}[{'' if e.start is None else e.start}:{'' if e.stop is None else e.stop}]"
    if isinstance(e, Const):
        return repr(e.value)
    if isinstance(e, Pack):
        return "(" + "".join(f"{_expr(item)}, " for item in e.items).rstrip(" ") + ")"
    raise TypeError(e)


def _import_path_lines(dotted: Mapping[str, str], modules: set[str]) -> list[str]:
    """Lines that put the submission's top folder on sys.path when a module lives in a package (cs231n/...):
    found from the current folder or any folder above it, so the script runs from anywhere inside the
    submission, as a file or in a notebook cell."""
    packaged = sorted({dotted[m] for m in modules if "." in dotted.get(m, "")})
    if not packaged:
        return []
    marker = packaged[0].replace(".", "/") + ".py"
    return [
        "import pathlib",
        "import sys",
        "",
        f"# the folder that holds {marker}: here or a folder above",
        "sys.path.insert(0, str(next(folder for folder in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents]",
        f"                          if (folder / {marker!r}).is_file())))",
    ]


HOW_TO_RUN = ("# Reproduces the failing case: save it as repro.py in your submission's folder and run python repro.py "
              "there,\n# or paste it into a notebook cell opened in that folder.")


def repro(
    program: Program, case: Case, dotted: Mapping[str, str], expected: Mapping[str, Any] | None = None
) -> str:
    """Python source that rebuilds the case and repeats the program's calls against the student's modules.
    It starts with a sentence saying how to run it, defines only the inputs the calls read, and finds the
    submission's top folder itself where the modules live in a package."""
    called = functions_called(program)
    lines = [HOW_TO_RUN, *_import_path_lines(dotted, {module for module, _ in called}), "import numpy as np"]
    support_used = False
    for module, name in sorted(called):
        if module == SUPPORT_MODULE:
            support_used = True
            continue
        lines.append(f"from {dotted.get(module, module)} import {name}")
    if support_used:  # the grader's own test functions: inline them, students do not have the module
        lines += ["", "# test functions the grader passes to your code (graders/sandbox/support/nngrade_support.py)"]
        lines += _support_source().splitlines()
    if expected:
        lines += COMPARE_HELPER.splitlines()
    lines.append("")
    used = inputs_used(program)
    for key, value in case.items():
        if key in used:
            lines.append(f"{key} = {literal(value)}")
    for step in program.steps:
        if isinstance(step, Call):
            args = [_expr(a) for a in step.args] + [f"{k}={_expr(v)}" for k, v in step.kwargs]
            lines.append(f"{step.id} = {_expr(step.fn)}({', '.join(args)})")
        elif isinstance(step, Assign):
            lines.append(f"{_expr(step.target)}[...] = {_expr(step.value)}")
    for name, expr in program.outputs.items():
        if _expr(expr) != name:  # an output that is already a variable of the script needs no line
            lines.append(f"{name} = {_expr(expr)}")
    if expected:
        lines.append("")
        for name, value in expected.items():
            if name in program.outputs and isinstance(value, np.ndarray) and value.size <= MAX_EXPECTED:
                lines.append(f"expected_{name} = {literal(value)}")
                lines.append(f"compare({name!r}, {name}, expected_{name})")
    return "\n".join(lines) + "\n"
