"""A normalised, display-ready view of a report dict, shared by every human-facing writer.

WHY: the engine's dict may lack optional keys, carry numpy numbers, NaN scores or hostile student text.
Reading it once here (defaults, numbers as floats, text through :func:`clean_text`) means the Markdown,
HTML, Gradescope, JUnit and terminal writers cannot disagree on what a field means or forget to clean one.
report.json itself is written from the raw dict, not from this view.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graders.report.text import clean_text

STATUS_MEANINGS: dict[str, str] = {
    "passed": "every check passed",
    "partial": "some checks passed",
    "failed": "no check passed",
    "missing": "the function was not found in the submission",
    "error": "the function raised an exception or could not be called",
    "timeout": "the function ran past its time limit",
    "crashed": "the worker process running the function died",
    "forbidden": "the submission uses something the assignment forbids",
}


def _number(value: Any, default: float = 0.0) -> float:
    """A float for display and arithmetic; absent -> ``default``; unreadable -> NaN (shown as "nan")."""
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _count(value: Any) -> int:
    number = _number(value)
    return int(number) if math.isfinite(number) else 0


def _texts(values: Any) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        return (clean_text(values),)
    if isinstance(values, Sequence):
        return tuple(clean_text(item) for item in values)
    return (clean_text(values),)


@dataclass(frozen=True)
class WhereView:
    """A 2-D map of where a student's array differs from the expected one (e.g. max |diff| over N, C)."""

    label: str
    values: np.ndarray = field(compare=False)


@dataclass(frozen=True)
class CheckView:
    name: str
    passed: bool
    score: float
    max_score: float
    cases: int
    message: str
    where: WhereView | None


@dataclass(frozen=True)
class CounterexampleView:
    description: str
    repro: str


@dataclass(frozen=True)
class FunctionView:
    name: str
    module: str
    status: str
    score: float
    max_score: float
    duration_s: float
    student_s: float
    checks: tuple[CheckView, ...]
    counterexample: CounterexampleView | None
    diagnosis: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def failing_checks(self) -> tuple[CheckView, ...]:
        return tuple(check for check in self.checks if not check.passed)

    @property
    def meaning(self) -> str:
        """A sentence part explaining the status, empty for statuses this version does not know."""
        return STATUS_MEANINGS.get(self.status, "")


@dataclass(frozen=True)
class ReportView:
    assignment: str
    submission: str
    seed: str
    score: float
    max_score: float
    duration_s: float
    warnings: tuple[str, ...]
    functions: tuple[FunctionView, ...]
    sandbox_layers: tuple[str, ...]

    def count(self, status: str) -> int:
        return sum(1 for function in self.functions if function.status == status)


def _where(check: Mapping[str, Any]) -> WhereView | None:
    """The check's "where" (or "heatmap") entry as a finite-or-NaN 2-D float array, or None when absent or
    unusable (ragged, empty, more than two axes). Accepts {"label", "values"} or a bare nested list."""
    raw = check.get("where", check.get("heatmap"))
    if raw is None:
        return None
    label: Any = check.get("where_label", "")
    values: Any = raw
    if isinstance(raw, Mapping):
        label = raw.get("label", label)
        values = raw.get("values")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.size == 0:
        return None
    return WhereView(label=clean_text(label), values=array)


def _check(raw: Mapping[str, Any]) -> CheckView:
    return CheckView(
        name=clean_text(raw.get("name", "")),
        passed=bool(raw.get("passed", False)),
        score=_number(raw.get("score")),
        max_score=_number(raw.get("max_score")),
        cases=_count(raw.get("cases")),
        message=clean_text(raw.get("message", "")),
        where=_where(raw),
    )


def _counterexample(raw: Any) -> CounterexampleView | None:
    if not isinstance(raw, Mapping):
        return None
    return CounterexampleView(
        description=clean_text(raw.get("description", "")), repro=clean_text(raw.get("repro", ""))
    )


def _function(raw: Mapping[str, Any]) -> FunctionView:
    return FunctionView(
        name=clean_text(raw.get("name", "")),
        module=clean_text(raw.get("module", "")),
        status=clean_text(raw.get("status", "error")),
        score=_number(raw.get("score")),
        max_score=_number(raw.get("max_score")),
        duration_s=_number(raw.get("duration_s")),
        student_s=_number(raw.get("student_s")),
        checks=tuple(_check(check) for check in raw.get("checks") or () if isinstance(check, Mapping)),
        counterexample=_counterexample(raw.get("counterexample")),
        diagnosis=_texts(raw.get("diagnosis")),
        warnings=_texts(raw.get("warnings")),
    )


def build_view(report: Mapping[str, Any]) -> ReportView:
    """Read a "nngrade.report/1" dict into a :class:`ReportView`; unknown extra keys are ignored."""
    if not isinstance(report, Mapping):
        raise ValueError(f"a report must be a mapping (a nngrade.report/1 dict), got {type(report).__name__}")
    sandbox = report.get("sandbox")
    layers = sandbox.get("layers") if isinstance(sandbox, Mapping) else None
    return ReportView(
        assignment=clean_text(report.get("assignment", "")),
        submission=clean_text(report.get("submission", "")),
        seed=clean_text(report.get("seed", "")),
        score=_number(report.get("score")),
        max_score=_number(report.get("max_score")),
        duration_s=_number(report.get("duration_s")),
        warnings=_texts(report.get("warnings")),
        functions=tuple(_function(fn) for fn in report.get("functions") or () if isinstance(fn, Mapping)),
        sandbox_layers=_texts(layers),
    )
