"""One unit of batch work: grade one entry and render its report files, as JSON text in and JSON text out.

WHY JSON strings at the boundary: a task runs in another process (a local grading worker, or a Dask worker on
another machine) and its result comes back to the trusted batch process. Unpickling a result runs whatever
its ``__reduce__`` says, so results are plain JSON text built by our own code, and the parent only ever calls
``json.loads`` on them and checks every field (:func:`parse_result`). Report files travel as base64 of their
exact bytes; the parent writes them, so a task never needs write access to the output folder and an
orphaned task (its batch killed) cannot write anything.

A submission that cannot be read at all (no Python source, a broken zip) is still a graded entry: it gets a
report in every format in which each function is ``missing`` and the reason is the first warning, so the
student sees why they got 0. An unexpected exception in the grader is not a grade: the entry is ``failed``
and is graded again by the next ``--resume``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
import traceback
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from graders import assignment as assignments
from graders.batch.hashing import assignment_fingerprint, grader_version
from graders.grade import DEFAULT_BUDGET_S, SCHEMA, GradeOptions, function_report, grade
from graders.report import REPORT_FILES, render_reports
from graders.report.text import clean_strings
from graders.sandbox.layers import SandboxUnavailable
from graders.sandbox.process import Limits
from graders.submission import SubmissionError

GRADED, UNREADABLE, FAILED = "graded", "unreadable", "failed"
STATUSES = (GRADED, UNREADABLE, FAILED)
#: The only file names a result may carry, in the order they are written (report.json last).
RESULT_FILES: tuple[str, ...] = tuple(REPORT_FILES.values())
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to grade one entry; the same task always gives the same reports."""

    entry: str
    path: str  # absolute, so a worker with another working directory finds it
    content_hash: str
    assignment: str  # a built-in name or a .toml path, as given to the batch
    assignment_fingerprint: str
    seed: int
    profile: str
    python: str | None = None
    grader_version: str = ""
    #: overrides of the sandbox limits (graders.sandbox.process.Limits field -> value)
    limits: dict[str, Any] = field(default_factory=dict)
    #: grade only these functions (empty: every function of the assignment)
    only: list[str] = field(default_factory=list)
    sandbox: str = "default"
    budget_s: float | None = DEFAULT_BUDGET_S
    #: functions graded at once within the entry (GradeOptions.lanes): one when the batch already grades
    #: several entries at a time; it never changes a report
    lanes: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Task:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a task is a JSON object")
        return cls(**data)


@dataclass(frozen=True)
class Result:
    """A task's outcome as the parent accepted it."""

    entry: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    duration_s: float = 0.0
    files: dict[str, bytes] = field(default_factory=dict)
    error: str = ""
    report: dict[str, Any] | None = None  # report.json, parsed (None when failed)


# ------------------------------------------------------------------ worker side
def unreadable_report(
    submission: str, assignment: assignments.Assignment, seed: int, message: str, only: Collection[str] = ()
) -> dict[str, Any]:
    """The report of a submission that could not be read: every function missing, the reason everywhere."""
    functions = []
    selected = [g for g in assignment.functions if not only or g.spec.name in only]
    for graded in selected:
        entry = function_report(graded, "", None, status="missing", message=message)
        entry["diagnosis"] = [message]
        functions.append(entry)
    return clean_strings({
        "schema": SCHEMA,
        "assignment": assignment.name,
        "submission": submission,
        "seed": seed,
        "score": 0.0,
        "max_score": round(sum(g.points for g in selected), 6),
        "duration_s": 0.0,
        "warnings": [f"the submission could not be read: {message}"],
        "functions": functions,
        "sandbox": {"layers": [], "worker_starts": 0, "python": "not started"},
    })


def _result_json(
    task: Task, status: str, report: dict[str, Any] | None, started: float, error: str = ""
) -> str:
    files = render_reports(report) if report is not None else {}
    return json.dumps(
        {
            "entry": task.entry,
            "status": status,
            "score": report["score"] if report else 0.0,
            "max_score": report["max_score"] if report else 0.0,
            "duration_s": round(time.perf_counter() - started, 3),
            "files": {REPORT_FILES[key]: base64.b64encode(data).decode("ascii") for key, data in files.items()},
            "error": error[-MAX_ERROR_CHARS:],
        }
    )


def failure_json(entry: str, message: str, duration_s: float = 0.0) -> str:
    """A ``failed`` result for ``entry``: used by workers and executors alike when no report exists."""
    return json.dumps(
        {
            "entry": entry,
            "status": FAILED,
            "score": 0.0,
            "max_score": 0.0,
            "duration_s": round(duration_s, 3),
            "files": {},
            "error": message[-MAX_ERROR_CHARS:],
        }
    )


def run_task(task: Task) -> str:
    """Grade one entry and render its reports; never raises for a grading problem (the result says it)."""
    started = time.perf_counter()
    try:
        assignment = assignments.load(task.assignment)
        mismatch = _environment_mismatch(task, assignment)
        if mismatch:
            return failure_json(task.entry, mismatch)
        options = GradeOptions(
            seed=task.seed, profile=task.profile, python=task.python, limits=Limits(**task.limits),
            only=frozenset(task.only) or None, sandbox=task.sandbox, budget_s=task.budget_s, lanes=task.lanes,
        )
        try:
            report = grade(Path(task.path), assignment, options)
        except SandboxUnavailable as exc:
            return failure_json(task.entry, str(exc), time.perf_counter() - started)
        except SubmissionError as exc:
            report = unreadable_report(task.path, assignment, task.seed, str(exc), task.only)
            return _result_json(task, UNREADABLE, report, started)
        return _result_json(task, GRADED, report, started)
    except Exception:
        return failure_json(
            task.entry, "internal grader error:\n" + traceback.format_exc(), time.perf_counter() - started
        )


def _environment_mismatch(task: Task, assignment: assignments.Assignment) -> str:
    """On a cluster the worker may run another nngrade or see another assignment file: refuse to grade."""
    if task.grader_version and task.grader_version != grader_version():
        return (
            f"this worker runs nngrade {grader_version()}, the batch was started with {task.grader_version}: "
            "install the same version everywhere"
        )
    if assignment_fingerprint(assignment.data) != task.assignment_fingerprint:
        return f"the assignment {task.assignment!r} seen by this worker differs from the batch's"
    return ""


# ------------------------------------------------------------------ parent side
def parse_result(text: object, expected: Collection[str]) -> Result:
    """Check a worker's JSON text field by field; raises ValueError naming what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"a result must be JSON text, got {type(text).__name__}")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a result must be a JSON object")
    entry, status = data.get("entry"), data.get("status")
    if not isinstance(entry, str) or entry not in expected:
        raise ValueError(f"result for an entry that was not asked for: {entry!r}")
    if status not in STATUSES:
        raise ValueError(f"{entry}: unknown result status {status!r}")
    numbers = {}
    for key in ("score", "max_score", "duration_s"):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{entry}: {key} is not a finite number: {value!r}")
        numbers[key] = float(value)
    raw_files = data.get("files")
    if not isinstance(raw_files, dict) or not set(raw_files) <= set(RESULT_FILES):
        raise ValueError(f"{entry}: result files must be among {RESULT_FILES}")
    if status != FAILED and set(raw_files) != set(RESULT_FILES):
        raise ValueError(f"{entry}: a {status} result must carry every report file")
    files = {}
    for name in RESULT_FILES:
        if name in raw_files:
            if not isinstance(raw_files[name], str):
                raise ValueError(f"{entry}: {name} is not base64 text")
            try:
                files[name] = base64.b64decode(raw_files[name], validate=True)
            except binascii.Error as exc:
                raise ValueError(f"{entry}: {name} is not valid base64 ({exc})") from None
    error = data.get("error", "")
    if not isinstance(error, str):
        raise ValueError(f"{entry}: error is not text")
    report = None
    if status != FAILED:
        try:
            report = json.loads(files["report.json"])
        except ValueError as exc:
            raise ValueError(f"{entry}: report.json is not JSON ({exc})") from None
        if not isinstance(report, dict) or not isinstance(report.get("functions"), list):
            raise ValueError(f"{entry}: report.json is not a report")
    return Result(
        entry, status, numbers["score"], numbers["max_score"], numbers["duration_s"], files, error, report
    )
