"""Assignments are data: which functions, in which module files, for how many points, under which conventions.

Each assignment is a TOML file in ``graders/assignments/``. A year variant names its parent with ``extends``
and lists only what differs (functions dropped or added, convention options, points), so a variant is a few
lines, not code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import tomllib

from graders import courses
from graders.specs import registry
from graders.specs.base import Spec

ASSIGNMENTS_DIR = Path(__file__).with_name("assignments")


@dataclass(frozen=True)
class GradedFunction:
    spec: Spec
    points: float
    #: points per check name (scaled from the spec's check weights when the file gives only a total)
    check_points: dict[str, float]


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    modules: dict[str, list[str]]
    functions: list[GradedFunction]
    forbidden_imports: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    #: a shape that differs from the hand-out's only by size-1 axes fails (default: points with a warning)
    strict_shapes: bool = False
    #: ``[worker] python``: the interpreter that runs students' code for this course (``--python`` wins)
    python: str | None = None
    #: ``[worker] stand_ins``: packages replaced by do-nothing stand-ins even where installed (plotting)
    stand_ins: list[str] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        return sum(f.points for f in self.functions)

    def function(self, name: str) -> GradedFunction:
        for graded in self.functions:
            if graded.spec.name == name:
                return graded
        raise KeyError(name)


class AssignmentError(Exception):
    """An unknown assignment name or a malformed assignment file."""


def assignment_fingerprint(definition: dict[str, Any]) -> str:
    """``sha256:<hex>`` of an assignment's merged definition (functions, points, options, module paths), so
    editing the points in a .toml invalidates earlier grades and banked cases though the name stayed the same."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def available() -> list[str]:
    """Built-in assignments and those of course sources (graders/courses.py)."""
    return sorted({p.stem for p in ASSIGNMENTS_DIR.glob("*.toml")} | set(_course_files()))


def _course_files() -> dict[str, Path]:
    """Course assignment files by name; a course may not reuse a built-in assignment's name."""
    try:
        found = courses.assignment_files()
    except courses.CourseError as exc:
        raise AssignmentError(str(exc)) from None
    for name, path in found.items():
        if (ASSIGNMENTS_DIR / f"{name}.toml").exists():
            raise AssignmentError(f"{path}: assignment {name!r} is a built-in one; a course names its own")
    return found


def _path(name: str) -> Path:
    if name.endswith(".toml"):
        return Path(name)
    built_in = ASSIGNMENTS_DIR / f"{name}.toml"
    return built_in if built_in.exists() else _course_files().get(name, built_in)


def _raw(name: str) -> dict[str, Any]:
    path = _path(name)
    if not path.exists():
        raise AssignmentError(f"unknown assignment {name!r}; available: {', '.join(available())}")
    data = tomllib.loads(path.read_text())
    parent = data.pop("extends", None)
    if parent is None:
        return data
    base = _raw(parent)
    dropped = set(data.pop("drop", []))
    functions = [f for f in base.get("functions", []) if f["spec"] not in dropped]
    overrides = {f["spec"]: f for f in data.pop("functions", [])}
    merged_functions = [dict(f, **overrides.pop(f["spec"], {})) for f in functions] + list(overrides.values())
    options = dict(base.get("options", {}))
    for spec_name, opts in data.pop("options", {}).items():
        options[spec_name] = dict(options.get(spec_name, {}), **opts)
    merged = dict(base, **data)
    merged["functions"] = merged_functions
    merged["options"] = options
    return merged


def _check_points(spec: Spec, total: float, given: dict[str, float] | None,
                  robustness: dict[str, float] | None = None) -> dict[str, float]:
    """Points per check. ``given`` (the TOML's ``checks`` table) fixes every check's points; otherwise
    ``robustness`` (the TOML's ``robustness`` table, by robustness name) fixes those, and the rest of ``total``
    is split over the checks (and any robustness check not listed) by their weights."""
    weights = {c.name: c.points for c in spec.checks} | {r.check_name: r.weight for r in spec.robustness}
    if given:
        unknown = set(given) - set(weights)
        if unknown:
            raise AssignmentError(f"{spec.name}: no checks named {sorted(unknown)}")
        return {name: float(given.get(name, 0.0)) for name in weights}
    fixed = {f"robust:{name}": float(points) for name, points in (robustness or {}).items()}
    unknown = set(fixed) - set(weights)
    if unknown:
        raise AssignmentError(f"{spec.name}: no robustness checks named {sorted(n[7:] for n in unknown)}")
    rest = total - sum(fixed.values())
    if rest < 0:
        raise AssignmentError(f"{spec.name}: its robustness points exceed its {total:g} points")
    weight = sum(w for name, w in weights.items() if name not in fixed)
    return {name: fixed[name] if name in fixed else rest * w / weight for name, w in weights.items()}


@cache
def load(name: str) -> Assignment:
    data = _raw(name)
    options: dict[str, dict[str, Any]] = data.get("options", {})
    functions = []
    for entry in data.get("functions", []):
        spec_options = dict(options.get(entry["spec"], {}))
        try:
            spec = registry.get(entry["spec"], **spec_options)
        except KeyError as exc:
            raise AssignmentError(f"{name}: {exc.args[0]}") from None
        except courses.CourseError as exc:
            raise AssignmentError(str(exc)) from None
        total = float(entry.get("points", 1.0))
        check_points = _check_points(spec, total, entry.get("checks"), entry.get("robustness"))
        # The file's total, not the float sum of its split (2.9999999999999996 is not 3 in a report).
        points = total if not entry.get("checks") else round(sum(check_points.values()), 9)
        functions.append(GradedFunction(spec, points, check_points))
    modules = {key: list(value["paths"]) for key, value in data.get("modules", {}).items()}
    missing = {f.spec.module for f in functions} - set(modules)
    if missing:
        raise AssignmentError(f"{name}: functions live in modules with no file paths: {sorted(missing)}")
    return Assignment(
        name=data.get("name", name),
        title=data.get("title", name),
        modules=modules,
        functions=functions,
        forbidden_imports=list(data.get("forbidden_imports", [])),
        data=data,
        strict_shapes=bool(data.get("strict_shapes", False)),
        python=data.get("worker", {}).get("python"),
        stand_ins=list(data.get("worker", {}).get("stand_ins", [])),
    )
