"""Module-level problems: a module file that is missing or does not import, said once for the whole report.

WHY: when ``layers.py`` has a syntax error, every function in it fails for the same reason. Repeating the
import traceback in every check of every function buries the one line the student must fix; the report says
it once at the top instead (report.json's ``problems``), naming the student's own file, line and code, and
each affected function says briefly that it was not graded and why.

Tracebacks come from the sandbox worker as text (``graders/sandbox/worker_main.py`` formats them with the
submission's paths made relative). They are trimmed here, on the trusted side, to the student's own frames:
a frame whose file is an absolute path (``importlib``, the standard library, NumPy) is not the student's and
tells them nothing about what to fix. Nothing is parsed but text; nothing of the student's is run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ProblemLog", "TracebackFrame", "exception_text", "student_frames", "trim_traceback"]

_FRAME = re.compile(r'^  File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<name>.*))?$')
#: The per-function sentence points here; the report's first section has this title in every format.
TOP_SECTION = "Problems"
MESSAGE_LIMIT = 200  # characters of an exception's message quoted in a per-function sentence


@dataclass(frozen=True)
class TracebackFrame:
    """One ``File "...", line N`` block of a formatted traceback with the lines indented under it."""

    file: str
    line: int
    lines: tuple[str, ...]  # the block's text, the ``File`` line first

    @property
    def code(self) -> str:
        """The source line Python printed under the frame ("" when it printed none)."""
        for text in self.lines[1:]:
            stripped = text.strip()
            if stripped and set(stripped) - set("^~ "):
                return stripped
        return ""

    @property
    def is_student(self) -> bool:
        """A file of the submission: the worker prints those relative to it; anything else is absolute or a
        pseudo-file such as ``<frozen importlib._bootstrap>``."""
        return bool(self.file) and not self.file.startswith(("/", "<")) and not re.match(r"^[A-Za-z]:\\", self.file)


def _split(text: str) -> tuple[list[TracebackFrame], list[str]]:
    """The frames of a worker's traceback text and the exception lines after them."""
    frames: list[TracebackFrame] = []
    block: list[str] = []
    tail: list[str] = []
    for raw in text.splitlines():
        match = _FRAME.match(raw)
        if match:
            if block:
                frames.append(_frame(block))
            block, tail = [raw], []
        elif block and raw.startswith("    ") and not tail:
            block.append(raw)
        elif raw.startswith("Traceback (most recent call last)") or (not block and not frames):
            continue  # a header, or the cut-off start of a traceback the worker shortened
        else:
            tail.append(raw)
    if block:
        frames.append(_frame(block))
    return frames, tail


def _frame(block: list[str]) -> TracebackFrame:
    match = _FRAME.match(block[0])
    assert match is not None
    return TracebackFrame(match["file"], int(match["line"]), tuple(block))


def student_frames(text: str) -> list[TracebackFrame]:
    return [frame for frame in _split(text)[0] if frame.is_student]


def exception_text(text: str) -> str:
    """The exception as Python printed it after the frames (``SyntaxError: '(' was never closed``)."""
    return "\n".join(_split(text)[1]).strip()


def trim_traceback(text: str) -> str:
    """The traceback with only the student's frames, then the exception. A traceback without any frame of
    the student's is returned as it is: there is nothing to trim it to."""
    frames, tail = _split(text)
    mine = [frame for frame in frames if frame.is_student]
    if not mine:
        return text.strip("\n")
    return "\n".join([line for frame in mine for line in frame.lines] + tail).strip("\n")


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 3] + "..."


class ProblemLog:
    """The module-level problems met while grading one submission, each recorded once.

    ``import_failed`` and ``missing_file`` return the short sentence an affected function's checks carry.
    :meth:`entries` gives report.json's ``problems`` once every function is graded."""

    def __init__(self) -> None:
        self._problems: dict[str, dict[str, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self._problems)

    def import_failed(self, module: str, module_file: str, error: str, error_type: str = "") -> str:
        """Record that ``module`` (``module_file`` in the submission) raised ``error`` (the worker's traceback
        text) while being imported."""
        if module not in self._problems:
            frames = student_frames(error)
            where = frames[-1] if frames else None
            message = exception_text(error) or error_type or "the import failed"
            self._problems[module] = {
                "module": module,
                "module_file": module_file,
                "kind": "import",
                "file": where.file if where else None,
                "line": where.line if where else None,
                "code": where.code if where else "",
                "message": message,
                "traceback": trim_traceback(error),
            }
        problem = self._problems[module]
        location = ""
        if problem["line"] is not None:
            place = "" if problem["file"] == module_file else f"{problem['file']} "
            location = f", {place}line {problem['line']}"
        return (f"not graded: importing {module_file} failed ({_first_line(problem['message'])}{location}); "
                f"see {TOP_SECTION} at the top of the report")

    def missing_file(self, module: str, candidates: Sequence[str]) -> str:
        """Record that no file of ``module`` was found (``candidates``: the paths looked for)."""
        looked_for = " or ".join(candidates) or f"{module}.py"
        self._problems.setdefault(module, {
            "module": module,
            "module_file": "",
            "kind": "missing",
            "file": None,
            "line": None,
            "code": "",
            "message": f"module file not found: looked for {looked_for} at any depth",
            "traceback": "",
        })
        return (f"not graded: the module file was not found (looked for {looked_for} at any depth); "
                f"see {TOP_SECTION} at the top of the report")

    def entries(self, functions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """report.json's ``problems``: each with the functions it kept from being graded (entries whose
        ``blocked_by`` names its module) and, for a module that failed only because another one did (its
        error is in that module's file, with the same message), ``caused_by`` that module."""
        blocked: dict[str, list[str]] = {}
        for function in functions:
            module = function.get("blocked_by")
            if isinstance(module, str):
                blocked.setdefault(module, []).append(str(function.get("name", "")))
        by_file = {p["module_file"]: p for p in self._problems.values() if p["kind"] == "import"}
        # In the order of the first function each problem kept from being graded (functions graded at the same
        # time may meet them in either order; the report must not depend on which came first).
        first = {module: index for index, module in enumerate(blocked)}
        ordered = sorted(self._problems.items(), key=lambda item: first.get(item[0], len(first)))
        entries = []
        for module, problem in ordered:
            entry = dict(problem, functions=blocked.get(module, []))
            origin = by_file.get(problem["file"] or "")
            if (problem["kind"] == "import" and origin is not None and origin["module"] != module
                    and origin["message"] == problem["message"] and origin["line"] == problem["line"]):
                entry["caused_by"] = origin["module"]
            entries.append(entry)
        return entries
