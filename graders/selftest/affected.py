"""Which graded functions an edit can reach: the selftest grades those and leaves the rest out.

Why: grading a whole assignment for every catalogue entry would cost minutes per entry; an edit of
``conv_backward_naive`` cannot change ``softmax_loss``. The answer is an over-approximation read from the
source, never from running it:

  * the *units* of a Python file are its top-level functions and classes (a class with its methods);
  * an edit changes the units whose source differs; an edit outside every unit (an import, a module-level
    constant) changes every unit of that file;
  * a unit uses every unit whose name it mentions (as a name or an attribute, in any file: ``from .layers
    import *`` and ``np.something`` alike), and what those use in turn;
  * a graded function is affected when the student functions its program calls use a changed unit.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import lru_cache

from graders.assignment import Assignment
from graders.grade import first_case
from graders.selftest.patch import Tree
from graders.specs.program import functions_called

#: A changed part of a file outside every unit: all units of the file count as changed.
WHOLE_FILE = "*"


def units(source: str) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (source text, names it mentions) for each top-level function and class of ``source``;
    the module's remaining code (imports, constants, statements) is the unit :data:`WHOLE_FILE`."""
    tree = ast.parse(source)
    found: dict[str, tuple[str, frozenset[str]]] = {}
    rest: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = (_canonical(node), frozenset(_mentions(node)))
        else:
            rest.append(_canonical(node))
    found[WHOLE_FILE] = ("\n".join(rest), frozenset())
    return found


def _canonical(node: ast.AST) -> str:
    """The node's code without comments or formatting: an edit of a comment changes nothing."""
    return ast.dump(node, include_attributes=False)


def _mentions(node: ast.AST) -> Iterable[str]:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name):
            yield inner.id
        elif isinstance(inner, ast.Attribute):
            yield inner.attr


def changed_units(before: Tree, after: Tree) -> set[str]:
    """Names of the units that differ between two versions of a submission (Python files only).

    A file that no longer parses changes all its units (the import fails, so everything in it fails).
    """
    changed: set[str] = set()
    for path in sorted(set(before) | set(after)):
        if not path.endswith(".py") or before.get(path) == after.get(path):
            continue
        old = _units_or_none(before.get(path))
        new = _units_or_none(after.get(path))
        if old is None or new is None:
            changed |= set(old or {}) | set(new or {})
            continue
        file_changed = {n for n in set(old) | set(new) if old.get(n, ("",))[0] != new.get(n, ("",))[0]}
        if WHOLE_FILE in file_changed:
            file_changed |= set(old) | set(new)
        changed |= file_changed
    changed.discard(WHOLE_FILE)
    return changed


def _units_or_none(data: bytes | None) -> dict[str, tuple[str, frozenset[str]]] | None:
    return {} if data is None else _parsed(data)


@lru_cache(maxsize=512)
def _parsed(data: bytes) -> dict[str, tuple[str, frozenset[str]]] | None:
    """The units of one file's content (cached: every entry of a catalogue shares its base's files)."""
    try:
        return units(data.decode())
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return None


def uses(tree: Tree) -> dict[str, set[str]]:
    """unit name -> names of the units it mentions, over every Python file of the submission."""
    graph: dict[str, set[str]] = {}
    for path, data in tree.items():
        if not path.endswith(".py"):
            continue
        parsed = _units_or_none(data) or {}
        for name, (_, mentioned) in parsed.items():
            if name != WHOLE_FILE:
                graph.setdefault(name, set()).update(mentioned)
    for name in graph:
        graph[name] &= set(graph)
    return graph


def reachable(start: Iterable[str], graph: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [s for s in start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(graph.get(name, ()))
    return seen


_CALLED: dict[str, dict[str, set[str]]] = {}


def called_names(assignment: Assignment) -> dict[str, set[str]]:
    """graded function -> names of the student functions (or classes) its program calls (cached)."""
    if assignment.name not in _CALLED:
        _CALLED[assignment.name] = {
            g.spec.name: {name for _, name in functions_called(g.spec.program(first_case(g.spec)))}
            for g in assignment.functions
        }
    return _CALLED[assignment.name]


def affected_functions(
    assignment: Assignment, before: Tree, after: Tree, always: Iterable[str] = ()
) -> list[str]:
    """The graded functions (in the assignment's order) whose code can see the edit, plus ``always``."""
    changed = changed_units(before, after)
    graph = uses(before)
    for name, mentioned in uses(after).items():
        graph.setdefault(name, set()).update(mentioned)
    wanted = set(always)
    for function, called in called_names(assignment).items():
        if reachable(called, graph) & changed:
            wanted.add(function)
    return [g.spec.name for g in assignment.functions if g.spec.name in wanted]
