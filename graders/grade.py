"""Grading a submission: every function of the assignment in a fresh sandbox worker, within a time budget.

The flow for one function: is its module there and importable, is the function defined, does it use a forbidden
library; then its cases (graders/runner.py: notebook, property, scale and robustness tiers), scored per check
and explained (graders/function_report.py). A timeout or a crash costs that function only: every function gets
a worker of its own.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import queue
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from graders.assignment import Assignment, GradedFunction, assignment_fingerprint
from graders.casebank import CaseBank
from graders.checks import strict_shapes
from graders.datasets import stage_data, stage_stand_ins
from graders.function_report import function_report, note_dependencies
from graders.isolation import owned_prefix, scratch_base
from graders.module_problems import ProblemLog
from graders.report.text import clean_strings
from graders.runner import FunctionGrader, output_tail
from graders.sandbox.process import Limits, WorkerCrashed, WorkerTimeout
from graders.sandbox.session import Lane, SandboxSession
from graders.specs.base import Case, Spec
from graders.specs.program import functions_called
from graders.submission import Staged, forbidden_imports, stage

__all__ = ["DEFAULT_BUDGET_S", "PROFILES", "SCHEMA", "GradeOptions", "first_case", "function_report", "grade"]

SCHEMA = "nngrade.report/1"
#: Seconds one submission may take by default (``--budget``): a complete correct cs231n-a2 submission takes
#: about 1 s on the standard profile (2-core machine, case bank warm), a slow but correct looped one well under a
#: minute.
DEFAULT_BUDGET_S = 600.0
PROFILES: dict[str, dict[str, int]] = {
    "quick": {"max_examples": 8, "shrink_budget": 40},
    "standard": {"max_examples": 25, "shrink_budget": 120},
    "thorough": {"max_examples": 150, "shrink_budget": 400},
}


# ------------------------------------------------------------------ the whole submission
@dataclass
class GradeOptions:
    seed: int = 0
    profile: str = "standard"
    python: str | None = None
    limits: Limits = field(default_factory=Limits)
    progress: Callable[[str], None] | None = None
    #: Grade only these functions (the others are left out of the report); None grades all.
    only: frozenset[str] | None = None
    #: "default" uses the isolation layers this machine offers; "strict" refuses to grade without all of them
    sandbox: str = "default"
    #: seconds the whole submission may take; functions not reached in time get status ``timeout``, the points
    #: earned before are kept. None: no budget.
    budget_s: float | None = DEFAULT_BUDGET_S
    #: replay cases and answers from the case bank (graders/casebank.py), building it on first use
    case_bank: bool = True
    #: functions graded at the same time, each in a worker of its own (the report is the same); None: two
    #: where the machine has two cores or more. A batch that grades several submissions at once sets one.
    lanes: int | None = None


def grade(submission: Path, assignment: Assignment, options: GradeOptions) -> dict[str, Any]:
    """Grade one submission; returns the report dict (schema nngrade.report/1)."""
    started = time.perf_counter()
    freeze_long_lived()
    deadline = None if options.budget_s is None else time.monotonic() + options.budget_s
    profile = PROFILES[options.profile]
    selected = [g for g in assignment.functions if options.only is None or g.spec.name in options.only]
    bank = CaseBank(assignment_fingerprint(assignment.data), options.seed, options.profile) \
        if options.case_bank else None
    with tempfile.TemporaryDirectory(prefix=owned_prefix("nngrade-stage-"), dir=scratch_base()) as tmp, \
            bank if bank is not None else contextlib.nullcontext():
        staged = stage(submission, Path(tmp) / "staged", assignment.modules)
        no_data: set[str] = set()
        warnings = list(staged.warnings) + stage_data(staged, assignment.data.get("data", {}), no_data)
        warnings += stage_stand_ins(staged, assignment.data.get("stand_ins", {}))
        problems = ProblemLog()
        hide = [str(Path(__file__).resolve().parents[1])]
        lanes = min(resolved_lanes(options.lanes), max(1, len(selected)))
        with SandboxSession(
            staged, assignment.forbidden_imports, options.python or assignment.python, options.limits, hide,
            options.sandbox, assignment.stand_ins, lanes,
        ) as session, strict_shapes(assignment.strict_shapes):
            session.expect(sum(1 for g in selected if g.spec.module in staged.modules))
            session.launch_ahead()  # the fork server starts while the bank is read
            if bank is not None:
                bank.prefetch([g.spec for g in selected])
            static_forbidden = _static_scan(staged, assignment)  # while the fork server starts

            def grade_in(lane: Lane, graded: GradedFunction) -> dict[str, Any]:
                return _grade_one(graded, staged, lane, static_forbidden, profile, options,
                                  assignment.modules.get(graded.spec.module, []), deadline, bank, no_data, problems)

            functions = in_lanes(session.lanes, selected, grade_in)
            sandbox = session.describe()
            missing = session.load_report.stand_ins
            warnings += cell_error_warnings(staged, session.load_report.modules)
    note_dependencies(functions, selected)
    if missing:
        warnings.append(missing_packages_warning(missing))
    unreached = [f["name"] for f in functions if f.get("status") == "timeout" and f.get("budget_spent")]
    if unreached:
        warnings.append(
            f"the time budget of {options.budget_s:g} s ran out: {len(unreached)} function(s) were not graded "
            f"in time ({', '.join(unreached)}); the points earned before are kept (raise it with --budget)"
        )
    if staged.modules and functions and all(f["status"] == "missing" for f in functions):
        shown = sorted({m.shown for m in staged.modules.values()})
        warnings.append(
            f"{', '.join(shown)} defines none of the functions graded here ({', '.join(f['name'] for f in functions)}):"
            " is it the right file? The assignment expects "
            + "; ".join(f"{k}: {' or '.join(v)}" for k, v in assignment.modules.items())
        )
    if not staged.modules:
        warnings.append(
            "none of the assignment's module files were found: looked for "
            + "; ".join(f"{k}: {', '.join(v)}" for k, v in assignment.modules.items())
        )
    return clean_strings({
        "schema": SCHEMA,
        "assignment": assignment.name,
        "submission": str(submission),
        "seed": options.seed,
        "score": round(sum(f["score"] for f in functions), 6),
        "max_score": round(sum(g.points for g in selected), 6),
        "duration_s": round(time.perf_counter() - started, 3),
        "warnings": warnings,
        "problems": problems.entries(functions),
        "functions": functions,
        "sandbox": sandbox,
    })


@functools.cache
def freeze_long_lived() -> None:
    """Once per process, before its first grading: move what it holds by then (modules, the spec registry,
    tens of thousands of objects) out of the cyclic garbage collector's sight. Its full collections, which stop
    every grading thread, then look only at what grading creates: about 20 ms a submission less. (What was
    garbage at that moment is never collected: a one-off, and small.)"""
    gc.freeze()


def cell_error_warnings(staged: Staged, modules: dict[str, dict[str, Any]]) -> list[str]:
    """One warning per notebook cell that raised while the notebook was loaded (a data set it could not read,
    a name from a cell that was not run): what the cell defines is missing, later cells ran without it."""
    found = []
    for key, info in modules.items():
        located = staged.modules.get(key)
        for cell, error in info.get("cell_errors", []):
            name = located.shown if located else key
            found.append(f"{name}: cell {cell} raised {error} when the notebook was loaded; whatever that cell "
                         "defines is missing, and the cells after it ran without it")
    return found


def missing_packages_warning(names: list[str]) -> str:
    """The report's warning for packages the submission imports that the grading environment lacks."""
    listed = ", ".join(names)
    return (f"{listed} {'is' if len(names) == 1 else 'are'} imported by the submission but not installed in the "
            "grading environment: the grader used a stand-in that does nothing when imported or called and raises "
            "only if a graded function needs a value from it (then that function's status is 'environment', not "
            "a failure of the submission). A course can grade with an interpreter that has them (--python).")


def _static_scan(staged: Staged, assignment: Assignment) -> dict[str, dict[str | None, list[str]]]:
    if not assignment.forbidden_imports:
        return {}
    return {
        key: forbidden_imports(
            (staged.root / module.relpath).read_text(errors="replace"), assignment.forbidden_imports
        )
        for key, module in staged.modules.items()
    }


def resolved_lanes(lanes: int | None) -> int:
    """How many functions to grade at once: ``lanes``, or by default two where the machine has two cores or
    more (the grader judges one function's replies while the other's worker runs), else one."""
    if lanes is not None:
        return max(1, lanes)
    return 2 if available_cores() >= 2 else 1


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system reports it, as in a container pinned
    to some cores), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def in_lanes(lanes: list[Lane], selected: list[GradedFunction],
             grade_in: Callable[[Lane, GradedFunction], dict[str, Any]]) -> list[dict[str, Any]]:
    """Grade ``selected`` on ``lanes``, as many functions at a time as there are lanes, started in order; the
    entries come back in the assignment's order whatever order they finished in."""
    if len(lanes) == 1:
        return [grade_in(lanes[0], graded) for graded in selected]
    free: queue.SimpleQueue[Lane] = queue.SimpleQueue()
    for lane in lanes:
        free.put(lane)

    def task(graded: GradedFunction) -> dict[str, Any]:
        lane = free.get()
        try:
            return grade_in(lane, graded)
        finally:
            free.put(lane)

    with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="nngrade-lane") as pool:
        return list(pool.map(task, selected))


def _grade_one(
    graded: GradedFunction,
    staged: Staged,
    session: Lane,
    static_forbidden: dict[str, dict[str | None, list[str]]],
    profile: dict[str, int],
    options: GradeOptions,
    candidates: list[str],
    deadline: float | None = None,
    bank: CaseBank | None = None,
    no_data: set[str] | None = None,
    problems: ProblemLog | None = None,
) -> dict[str, Any]:
    spec = graded.spec
    started = time.perf_counter()
    if options.progress:
        options.progress(spec.name)
    located = staged.modules.get(spec.module)
    dotted = {k: m.dotted for k, m in staged.modules.items()}
    module_path = located.shown if located else ""

    def early(status: str, message: str) -> dict[str, Any]:
        entry = function_report(
            graded,
            module_path,
            None,
            status=status,
            message=message,
            duration_s=time.perf_counter() - started,
        )
        entry["diagnosis"] = [message]
        return entry

    if located is None:
        if problems is None:
            return early("missing", f"module file not found: looked for {' or '.join(candidates)} at any depth")
        return dict(early("missing", problems.missing_file(spec.module, candidates)), blocked_by=spec.module)
    if no_data and spec.module in no_data:
        return early("environment", "not graded: the grading machine lacks the data set this module reads (a "
                     "problem of the grading environment, not of the submission; see the report's warnings)")
    if deadline is not None and time.monotonic() >= deadline:
        entry = early("timeout", f"not graded: the submission's time budget of {options.budget_s:g} s ran out "
                                 "before this function")
        entry["budget_spent"] = True
        return entry
    scan = static_forbidden.get(spec.module, {})
    banned = scan.get(None, []) + scan.get(spec.name, [])
    if banned:
        return early(
            "forbidden",
            f"{located.shown} imports {', '.join(sorted(set(banned)))}, which this "
            "assignment does not allow (NumPy only)",
        )
    try:
        session.begin_function()
    except (WorkerTimeout, WorkerCrashed) as exc:
        printed = session.discard_worker()
        return early("crashed", f"could not start or load the submission: {exc}{output_tail(printed)}")
    needed = functions_called(spec.program(first_case(spec, bank)))
    for module_key, name in sorted(needed):
        info = session.load_report.modules.get(module_key)
        if info is None:
            return early("missing", f"module {module_key!r} was not found in the submission")
        if info.get("forbidden"):
            return early(
                "forbidden",
                f"importing {staged.modules[module_key].shown} tried to import "
                f"{', '.join(sorted(set(info['forbidden'])))}, which this assignment does not allow (NumPy only)",
            )
        if not info.get("ok"):
            relpath = staged.modules[module_key].shown
            if problems is None:
                return early("error", f"importing {relpath} failed:\n{info.get('error', '')}")
            said = problems.import_failed(module_key, relpath, info.get("error") or "", info.get("type") or "")
            return dict(early("error", said), blocked_by=module_key)
        if name not in session.load_report.names(module_key):
            return early("missing", f"{name} is not defined in {staged.modules[module_key].shown}")
    outcome = FunctionGrader(session, spec, profile, options.seed, deadline, bank).run_all()
    entry = function_report(graded, module_path, outcome, dotted=dotted, duration_s=time.perf_counter() - started)
    if outcome.status == "timeout" and deadline is not None and time.monotonic() >= deadline:
        entry["budget_spent"] = True
    return entry


def first_case(spec: Spec, bank: CaseBank | None = None) -> Case:
    """The spec's first notebook case (only to see which functions its program calls): the bank's copy when it
    has one (building a notebook's large arrays again cost the grader milliseconds a function)."""
    banked = bank.peek(spec) if bank is not None else None
    if banked is not None and banked.cases.get("fixed"):
        return banked.cases["fixed"][0]
    fixed = spec.fixed_cases()
    return fixed[0] if fixed else _draw_one(spec)


def _draw_one(spec: Spec) -> Case:
    """One example of the spec's cases, drawn deterministically (only to see which functions the program calls)."""
    box: list[Case] = []

    @settings(
        max_examples=1,
        database=None,
        derandomize=True,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def draw(data: st.DataObject) -> None:
        if not box:
            box.append(data.draw(spec.cases()))

    draw()
    return box[0]
