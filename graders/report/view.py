"""A normalised, display-ready view of a report dict, shared by every human-facing writer.

WHY: the engine's dict may lack optional keys, carry numpy numbers, NaN scores or hostile student text.
Reading it once here (defaults, numbers as floats, text through :func:`clean_text`) means the Markdown,
HTML, Gradescope, JUnit and terminal writers cannot disagree on what a field means or forget to clean one.
report.json itself is written from the raw dict, not from this view.
"""

from __future__ import annotations

import math
import re
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


_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
#: where one sentence ends and the next begins: a stop, then a capital (not "e.g. x" nor "layers.py, line")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
#: the longest opening line (characters) before it is cut at a word with an ellipsis; the section has it all
SUMMARY_LIMIT = 200


def function_anchor(name: str) -> str:
    """The HTML id of a function's place in report.html (``fn-<name>``). WHY by name, not by position: the
    class summary links each student's cell to it, and an id that does not depend on which functions were
    graded (``--only``) or in what order stays valid. Function names are identifiers; anything else in a
    name is replaced so the id is always a plain URL fragment."""
    return "fn-" + _ANCHOR_UNSAFE.sub("-", name)


def first_sentence(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """The first sentence of ``text`` on one line, cut at a word with "…" past ``limit`` characters. WHY: the
    report's opening list gives each function one line; the rest of the diagnosis is in its section."""
    flat = " ".join(text.split())
    sentence = _SENTENCE_END.split(flat, 1)[0]
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


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
class ValueRow:
    index: str  # "(0, 1)"
    expected: float
    got: float
    differs: bool

    @property
    def difference(self) -> float:
        with np.errstate(invalid="ignore", over="ignore"):
            return float(np.float64(self.got) - np.float64(self.expected))


@dataclass(frozen=True)
class ValuesView:
    """A small failing array as numbers (report.json's check ``values``, see graders/small_values.py)."""

    output: str
    shape: tuple[int, ...]
    rows: tuple[ValueRow, ...]
    atol: float
    rtol: float

    @property
    def differing(self) -> int:
        return sum(1 for row in self.rows if row.differs)


@dataclass(frozen=True)
class CheckView:
    name: str
    passed: bool
    score: float
    max_score: float
    cases: int
    message: str
    where: WhereView | None
    values: ValuesView | None = None

    @property
    def picture(self) -> WhereView | None:
        """The heat map to draw: only where no small table of numbers says it better."""
        return self.where if self.values is None else None

    @property
    def headline(self) -> str:
        """The message's first line (prose)."""
        return self.message.strip("\n").split("\n", 1)[0]

    @property
    def details(self) -> str:
        """The message's further lines (a traceback, printed output), for a monospace block; "" if none."""
        parts = self.message.strip("\n").split("\n", 1)
        return parts[1].rstrip() if len(parts) > 1 else ""


@dataclass(frozen=True)
class ProblemView:
    """A module-level problem (report.json's ``problems``): a module file missing or failing to import."""

    module: str
    module_file: str
    kind: str
    file: str
    line: int | None
    code: str
    message: str
    traceback: str
    functions: tuple[str, ...]
    caused_by: str
    sentence: str  # one sentence for people, the same in every format


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
    #: the module whose problem (report.json's ``problems``) kept this function from being graded, or ""
    blocked_by: str = ""

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

    @property
    def anchor(self) -> str:
        return function_anchor(self.name)

    @property
    def shared_message(self) -> str:
        """The one message when every check failed with the same one (a function that could not be graded:
        missing, not importable, timed out), so writers say it once instead of once per check; else ""."""
        messages = {check.message for check in self.checks}
        if len(self.checks) < 2 or len(messages) != 1 or any(check.passed for check in self.checks):
            return ""
        return messages.pop()

    @property
    def shared_check(self) -> CheckView | None:
        """A check carrying :attr:`shared_message` (for its headline and details), or None."""
        return self.checks[0] if self.shared_message else None

    @property
    def summary(self) -> str:
        """One sentence saying what went wrong, for the report's opening list: the first diagnosis sentence,
        else the first failing check's message, else what the status means."""
        if self.diagnosis and self.diagnosis[0].strip():
            return first_sentence(self.diagnosis[0])
        check = next((c for c in self.failing_checks if c.headline.strip()), None)
        if check is not None:
            return first_sentence(check.headline)
        return first_sentence(self.meaning.capitalize() + ".") if self.meaning else ""

    @property
    def further_diagnosis(self) -> tuple[str, ...]:
        """The diagnosis without a sentence that only repeats :attr:`shared_message`."""
        shared = self.shared_message or (self.checks[0].message if len(self.checks) == 1 else "")
        return tuple(sentence for sentence in self.diagnosis if sentence != shared)


@dataclass(frozen=True)
class NotGradedView:
    """The functions one module-level problem kept from being graded, for one line of the opening list
    instead of one line each (the Problems section says why)."""

    module_file: str
    functions: tuple[FunctionView, ...]

    @property
    def score(self) -> float:
        return sum(function.score for function in self.functions)

    @property
    def max_score(self) -> float:
        return sum(function.max_score for function in self.functions)


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
    problems: tuple[ProblemView, ...] = ()

    def count(self, status: str) -> int:
        return sum(1 for function in self.functions if function.status == status)

    @property
    def passed_with_warnings(self) -> tuple[FunctionView, ...]:
        """Passing functions that carry warnings. WHY listed at the top: a passing function gets no section
        of its own, and a warning (an input modified in place, a stand-in used) is worth reading even when
        the points were earned."""
        return tuple(function for function in self.functions if function.passed and function.warnings)

    @property
    def lost_points(self) -> tuple[FunctionView, ...]:
        """Functions that did not pass and have a section of their own, in report order: one line each at the
        top of the report (:attr:`FunctionView.summary`), linking to the section."""
        return tuple(function for function in self.functions if not function.passed and not function.blocked_by)

    @property
    def not_graded(self) -> tuple[NotGradedView, ...]:
        """Functions kept from being graded by a module-level problem, grouped by that module, in order of
        first appearance."""
        files = {problem.module: problem.module_file or problem.module for problem in self.problems}
        groups: dict[str, list[FunctionView]] = {}
        for function in self.functions:
            if function.blocked_by and not function.passed:
                groups.setdefault(function.blocked_by, []).append(function)
        return tuple(NotGradedView(files.get(module, module), tuple(functions)) for module, functions in groups.items())


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


def _values(raw: Any) -> ValuesView | None:
    """The check's ``values`` as rows, or None when absent or inconsistent (lengths that do not match the
    shape): a report from another version must not break a writer."""
    if not isinstance(raw, Mapping):
        return None
    try:
        shape = tuple(int(n) for n in raw.get("shape") or ())
        expected = [_number(v, math.nan) for v in raw.get("expected") or ()]
        got = [_number(v, math.nan) for v in raw.get("got") or ()]
        differs = [bool(v) for v in raw.get("differs") or ()]
    except (TypeError, ValueError):
        return None
    size = int(np.prod(shape)) if shape else 1
    if not expected or not len(expected) == len(got) == len(differs) == size:
        return None
    indices = [str(tuple(int(i) for i in index)) for index in np.ndindex(*shape)] if shape else ["()"]
    rows = tuple(ValueRow(index, e, g, d) for index, e, g, d in zip(indices, expected, got, differs, strict=True))
    return ValuesView(clean_text(raw.get("output", "")), shape, rows, _number(raw.get("atol")),
                      _number(raw.get("rtol")))


def _check(raw: Mapping[str, Any]) -> CheckView:
    return CheckView(
        name=clean_text(raw.get("name", "")),
        passed=bool(raw.get("passed", False)),
        score=_number(raw.get("score")),
        max_score=_number(raw.get("max_score")),
        cases=_count(raw.get("cases")),
        message=clean_text(raw.get("message", "")),
        where=_where(raw),
        values=_values(raw.get("values")),
    )


def _optional_int(value: Any) -> int | None:
    number = _number(value, math.nan)
    return int(number) if math.isfinite(number) else None


def problem_sentence(raw: Mapping[str, Any], others: Sequence[Mapping[str, Any]] = ()) -> str:
    """One sentence about a module-level problem. ``others``: the report's problems, to name the file a
    problem depends on (``caused_by``)."""
    count = len(_texts(raw.get("functions")))
    consequence = f"; {count} function{'s were' if count != 1 else ' was'} not graded" if count else ""
    module_file = clean_text(raw.get("module_file") or raw.get("module") or "")
    message = clean_text(raw.get("message", "")).strip().split("\n", 1)[0]
    if raw.get("kind") == "missing":
        return f"No file of module {clean_text(raw.get('module', ''))}: {message}{consequence}."
    cause = next((o for o in others if raw.get("caused_by") and o.get("module") == raw.get("caused_by")), None)
    if cause is not None:
        return (f"{module_file} did not import because it imports {clean_text(cause.get('module_file', ''))}, "
                f"which did not (above){consequence}.")
    line = _optional_int(raw.get("line"))
    where = ""
    if line is not None:
        file = clean_text(raw.get("file") or "")
        where = f" (line {line})" if file == module_file else f" ({file}, line {line})"
    return f"{module_file} did not import: {message}{where}{consequence}."


def _problems(raw: Any) -> tuple[ProblemView, ...]:
    entries = [entry for entry in raw if isinstance(entry, Mapping)] if isinstance(raw, Sequence) else []
    return tuple(
        ProblemView(
            module=clean_text(entry.get("module", "")),
            module_file=clean_text(entry.get("module_file", "")),
            kind=clean_text(entry.get("kind", "")),
            file=clean_text(entry.get("file") or ""),
            line=_optional_int(entry.get("line")),
            code=clean_text(entry.get("code", "")),
            message=clean_text(entry.get("message", "")),
            traceback=clean_text(entry.get("traceback", "")).strip("\n"),
            functions=_texts(entry.get("functions")),
            caused_by=clean_text(entry.get("caused_by") or ""),
            sentence=problem_sentence(entry, entries),
        )
        for entry in entries
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
        blocked_by=clean_text(raw.get("blocked_by") or ""),
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
        problems=_problems(report.get("problems")),
    )
