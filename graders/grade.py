"""Grading a submission: each function's fixed cases, then property cases, scored per check and explained.

The flow for one function: is its module there and importable, is the function defined, does it use a forbidden
library; then the fixed (notebook) cases; then hypothesis property cases (seeded, so the same submission and
seed give the same report), shrinking a failure to the smallest input. Every check earns its points only if it
held on every case. A timeout or a crash costs that function only: its worker is replaced for the next one.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from graders.assignment import Assignment, GradedFunction
from graders.datasets import stage_data, stage_stand_ins
from graders.diagnose import diagnose
from graders.evaluate import expected_outputs, judge
from graders.report.text import clean_strings
from graders.repro import jsonable, repro
from graders.sandbox.process import Limits, WorkerCrashed, WorkerTimeout
from graders.sandbox.session import SandboxSession
from graders.specs.base import Case, CaseRun, Spec, describe_case
from graders.specs.program import functions_called
from graders.submission import Staged, forbidden_imports, stage

SCHEMA = "nngrade.report/1"
#: Seconds one submission may take by default (``--budget``): a complete correct cs231n-a2 submission takes
#: about 5 s on the standard profile, a slow but correct looped one well under a minute.
DEFAULT_BUDGET_S = 600.0
PROFILES: dict[str, dict[str, int]] = {
    "quick": {"max_examples": 8, "shrink_budget": 40},
    "standard": {"max_examples": 25, "shrink_budget": 120},
    "thorough": {"max_examples": 150, "shrink_budget": 400},
}


class _CheckFailed(AssertionError):
    """Raised inside the property to tell hypothesis the case failed (and should be shrunk)."""


class ReferenceFailure(Exception):
    """The reference itself failed on a case (a grader-side problem such as missing data files)."""


class _Abort(BaseException):
    """Stops hypothesis at once (a worker timeout or crash, or the shrink budget spent): not shrunk."""


@dataclass
class FunctionOutcome:
    runs: list[CaseRun] = field(default_factory=list)
    minimal: CaseRun | None = None
    status: str | None = None  # set for timeout / crashed / forbidden / error
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    student_s: float = 0.0
    forbidden: list[str] = field(default_factory=list)


def failed(run: CaseRun) -> bool:
    return not all(v.passed for v in run.verdicts.values())


def case_size(run: CaseRun) -> int:
    return sum(int(np.size(v)) for v in run.case.values() if isinstance(v, np.ndarray))


def mutated_inputs(spec: Spec, case: Case, after: dict[str, Any]) -> list[str]:
    changed = []
    for key in spec.read_only:
        if key in after and isinstance(case.get(key), np.ndarray):
            now = after[key]
            if (
                not isinstance(now, np.ndarray)
                or now.shape != case[key].shape
                or not np.array_equal(now, case[key])
            ):
                changed.append(key)
    return changed


class BudgetSpent(Exception):
    """The submission's time budget ran out before or during a function."""


class FunctionGrader:
    """Runs one function's cases through the sandbox and collects the evidence."""

    def __init__(self, session: SandboxSession, spec: Spec, profile: dict[str, int], seed: int,
                 deadline: float | None = None) -> None:
        self.session = session
        self.spec = spec
        self.profile = profile
        self.seed = seed
        self.deadline = deadline
        self.outcome = FunctionOutcome()
        self._mutation_seen: set[str] = set()
        self._taint_seen = False

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def evaluate(self, case: Case) -> CaseRun:
        spec = self.spec
        left = self.remaining()
        if left is not None and left <= 0:
            raise BudgetSpent()
        try:
            expected = expected_outputs(spec, case)
        except Exception as exc:  # the grader's side (e.g. MNIST files missing), not the student's
            raise ReferenceFailure(f"{type(exc).__name__}: {exc}") from exc
        timeout = None if left is None else min(self.session.limits.call_timeout_s, max(left, 1.0))
        reply = self.session.run(spec, case, expected, timeout=timeout)
        self.outcome.student_s += reply.student_s
        if reply.forbidden:
            self.outcome.forbidden.extend(reply.forbidden)
        if reply.tainted and not self._taint_seen:
            self._taint_seen = True
            self.outcome.warnings.append(
                f"a call of {spec.name} left its process changed ({'; '.join(reply.tainted)}); the calls after "
                "it ran in a fresh process. This costs no points, but code that leaves threads, timers or "
                "patched modules behind can break the code that runs after it."
            )
        for key in mutated_inputs(spec, case, reply.inputs_after):
            if key not in self._mutation_seen:
                self._mutation_seen.add(key)
                self.outcome.warnings.append(
                    f"{spec.name} modified its input {key!r} in place; the caller's array changed "
                    "(allowed here, but copy before writing to avoid surprising bugs)."
                )
        run = judge(spec, case, expected, reply.outputs, reply.error)
        self.outcome.runs.append(run)
        return run

    def guarded(self, case: Case) -> CaseRun:
        try:
            return self.evaluate(case)
        except BudgetSpent:
            self.outcome.status = "timeout"
            self.outcome.message = ("the submission's time budget ran out while this function was graded "
                                    f"({len(self.outcome.runs)} cases run)")
            raise _Abort() from None
        except WorkerTimeout as exc:
            printed = self.session.discard_worker()
            self.outcome.status = "timeout"
            left = self.remaining()
            limit = self.session.limits.call_timeout_s
            if left is not None and left <= 0:
                why = "did not return before the submission's time budget ran out"
            elif "CPU" in str(exc):
                why = "used more CPU time than allowed"
            else:
                why = f"did not return within {limit:g} s"
            self.outcome.message = f"{why} on {self.describe(case)}" + _tail(printed)
            raise _Abort() from None
        except ReferenceFailure as exc:
            self.outcome.status = "error"
            self.outcome.message = f"the grader could not compute the expected result on {self.describe(case)}: {exc}"
            raise _Abort() from None
        except WorkerCrashed as exc:
            printed = self.session.discard_worker()
            self.outcome.status = "crashed"
            self.outcome.message = f"the worker process stopped on {self.describe(case)}: {exc}" + _tail(printed)
            raise _Abort() from None

    def describe(self, case: Case) -> str:
        return (self.spec.describe or describe_case)(case)

    def run_all(self) -> FunctionOutcome:
        try:
            for case in self.spec.fixed_cases():
                run = self.guarded(case)
                if failed(run) and self.outcome.minimal is None:
                    self.outcome.minimal = run
            self.explore()
        except _Abort:
            pass
        return self.outcome

    def explore(self) -> None:
        budget = self.profile["max_examples"] + self.profile["shrink_budget"]
        calls = [0]
        grader = self

        @settings(
            max_examples=min(self.profile["max_examples"], self.spec.max_examples or self.profile["max_examples"]),
            database=None,
            deadline=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            phases=(Phase.generate, Phase.shrink),
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
            print_blob=False,
        )
        @hypothesis_seed(self.seed)
        @given(self.spec.cases())
        def prop(case: Case) -> None:
            calls[0] += 1
            if calls[0] > budget:
                raise _Abort()
            run = grader.guarded(copy.deepcopy(case))
            if failed(run):
                raise _CheckFailed()

        try:
            prop()
        except _CheckFailed:
            self.outcome.minimal = self.outcome.runs[-1]
        except _Abort:
            self._pick_smallest_failure()
            if self.outcome.status in ("timeout", "crashed", "error"):
                raise
        except Exception:  # Flaky and friends: the student's function is not deterministic
            self._pick_smallest_failure()
            self.outcome.warnings.append(
                f"{self.spec.name} gave different results for the same input: is it using unseeded randomness "
                "or global state?"
            )

    def _pick_smallest_failure(self) -> None:
        bad = [r for r in self.outcome.runs if failed(r)]
        if bad:
            self.outcome.minimal = min(bad, key=case_size)


def _tail(printed: str, limit: int = 600) -> str:
    printed = printed.strip()
    return f"\nLast output:\n{printed[-limit:]}" if printed else ""


# ------------------------------------------------------------------ report assembly
def check_entries(
    graded: GradedFunction, runs: list[CaseRun], minimal: CaseRun | None
) -> list[dict[str, Any]]:
    entries = []
    for check in graded.spec.checks:
        points = graded.check_points[check.name]
        bad = [r for r in runs if not r.verdicts[check.name].passed]
        entry: dict[str, Any] = {
            "name": check.name,
            "passed": bool(runs) and not bad,
            "score": points if runs and not bad else 0.0,
            "max_score": points,
            "cases": len(runs),
            "message": "",
        }
        if bad:
            shown = (
                minimal
                if minimal is not None and not minimal.verdicts[check.name].passed
                else min(bad, key=case_size)
            )
            verdict = shown.verdicts[check.name]
            entry["message"] = verdict.message
            if verdict.where is not None:
                entry["where"] = {"label": verdict.where_label, "values": verdict.where}
        entries.append(entry)
    return entries


def status_of(entries: list[dict[str, Any]], runs: list[CaseRun]) -> str:
    passed = sum(1 for e in entries if e["passed"])
    if not passed and runs and all(r.error is not None for r in runs):
        return "error"
    if passed == len(entries):
        return "passed"
    return "partial" if passed else "failed"


def function_report(
    graded: GradedFunction,
    module_path: str,
    outcome: FunctionOutcome | None,
    *,
    status: str | None = None,
    message: str = "",
    dotted: dict[str, str] | None = None,
    duration_s: float = 0.0,
) -> dict[str, Any]:
    spec = graded.spec
    entry: dict[str, Any] = {
        "name": spec.name,
        "module": module_path,
        "score": 0.0,
        "max_score": graded.points,
        "status": status or "failed",
        "checks": [],
        "counterexample": None,
        "diagnosis": [],
        "warnings": [],
        "duration_s": round(duration_s, 4),
        "student_s": 0.0,
    }
    if outcome is None:
        entry["checks"] = [
            {
                "name": c.name,
                "passed": False,
                "score": 0.0,
                "max_score": graded.check_points[c.name],
                "cases": 0,
                "message": message,
            }
            for c in spec.checks
        ]
        return entry
    entry["student_s"] = round(outcome.student_s, 4)
    entry["warnings"] = outcome.warnings
    if outcome.status in ("timeout", "crashed", "error") or outcome.forbidden:
        entry["status"] = "forbidden" if outcome.forbidden else outcome.status
        text = (
            f"imported {', '.join(sorted(set(outcome.forbidden)))}, which this assignment does not allow"
            if outcome.forbidden
            else outcome.message
        )
        entry["checks"] = [
            {
                "name": c.name,
                "passed": False,
                "score": 0.0,
                "max_score": graded.check_points[c.name],
                "cases": len(outcome.runs),
                "message": text,
            }
            for c in spec.checks
        ]
        entry["diagnosis"] = [text.splitlines()[0]]
        return entry
    entry["checks"] = check_entries(graded, outcome.runs, outcome.minimal)
    entry["score"] = round(sum(c["score"] for c in entry["checks"]), 6)
    entry["status"] = status_of(entry["checks"], outcome.runs)
    if outcome.minimal is not None:
        case = outcome.minimal.case
        entry["counterexample"] = {
            "description": (spec.describe or describe_case)(case),
            "inputs": jsonable(case),
            "repro": repro(spec.program(case), case, dotted or {}, outcome.minimal.expected),
        }
        if outcome.minimal.error:
            entry["diagnosis"].append(
                f"It raised {outcome.minimal.error} on {entry['counterexample']['description']}."
            )
    entry["diagnosis"] += [d for d in diagnose(spec, outcome.runs) if d not in entry["diagnosis"]]
    return entry


def note_dependencies(functions: list[dict[str, Any]], graded_functions: list[GradedFunction]) -> None:
    """A backward is graded through the student's own forward: say so when both fail."""
    by_name = {f["name"]: f for f in functions}
    for graded in graded_functions:
        entry = by_name[graded.spec.name]
        if entry["status"] not in ("failed", "partial", "error"):
            continue
        for dependency in graded.spec.depends_on:
            other = by_name.get(dependency)
            if other is not None and other["status"] != "passed":
                entry["diagnosis"].append(
                    f"{dependency} (whose cache this function uses) is not correct either, so {entry['name']} "
                    f"could not be judged independently: fix {dependency} first."
                )


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


def grade(submission: Path, assignment: Assignment, options: GradeOptions) -> dict[str, Any]:
    """Grade one submission; returns the report dict (schema nngrade.report/1)."""
    started = time.perf_counter()
    deadline = None if options.budget_s is None else time.monotonic() + options.budget_s
    profile = PROFILES[options.profile]
    selected = [g for g in assignment.functions if options.only is None or g.spec.name in options.only]
    with tempfile.TemporaryDirectory(prefix="nngrade-stage-") as tmp:
        staged = stage(submission, Path(tmp) / "staged", assignment.modules)
        warnings = list(staged.warnings) + stage_data(staged, assignment.data.get("data", {}))
        warnings += stage_stand_ins(staged, assignment.data.get("stand_ins", {}))
        static_forbidden = _static_scan(staged, assignment)
        hide = [str(Path(__file__).resolve().parents[1])]
        with SandboxSession(
            staged, assignment.forbidden_imports, options.python, options.limits, hide, options.sandbox
        ) as session:
            functions = [
                _grade_one(
                    graded,
                    staged,
                    session,
                    static_forbidden,
                    profile,
                    options,
                    assignment.modules.get(graded.spec.module, []),
                    deadline,
                )
                for graded in selected
            ]
            sandbox = session.describe()
    note_dependencies(functions, selected)
    unreached = [f["name"] for f in functions if f.get("status") == "timeout" and f.get("budget_spent")]
    if unreached:
        warnings.append(
            f"the time budget of {options.budget_s:g} s ran out: {len(unreached)} function(s) were not graded "
            f"in time ({', '.join(unreached)}); the points earned before are kept (raise it with --budget)"
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
        "functions": functions,
        "sandbox": sandbox,
    })


def _static_scan(staged: Staged, assignment: Assignment) -> dict[str, dict[str | None, list[str]]]:
    if not assignment.forbidden_imports:
        return {}
    return {
        key: forbidden_imports(
            (staged.root / module.relpath).read_text(errors="replace"), assignment.forbidden_imports
        )
        for key, module in staged.modules.items()
    }


def _grade_one(
    graded: GradedFunction,
    staged: Staged,
    session: SandboxSession,
    static_forbidden: dict[str, dict[str | None, list[str]]],
    profile: dict[str, int],
    options: GradeOptions,
    candidates: list[str],
    deadline: float | None = None,
) -> dict[str, Any]:
    spec = graded.spec
    started = time.perf_counter()
    if options.progress:
        options.progress(spec.name)
    located = staged.modules.get(spec.module)
    dotted = {k: m.dotted for k, m in staged.modules.items()}
    module_path = located.relpath if located else ""

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
        return early("missing", f"module file not found: looked for {' or '.join(candidates)} at any depth")
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
            f"{located.relpath} imports {', '.join(sorted(set(banned)))}, which this "
            "assignment does not allow (NumPy only)",
        )
    try:
        session.begin_function()
    except (WorkerTimeout, WorkerCrashed) as exc:
        printed = session.discard_worker()
        return early("crashed", f"could not start or load the submission: {exc}{_tail(printed)}")
    needed = functions_called(spec.program(first_case(spec)))
    for module_key, name in sorted(needed):
        info = session.load_report.modules.get(module_key)
        if info is None:
            return early("missing", f"module {module_key!r} was not found in the submission")
        if info.get("forbidden"):
            return early(
                "forbidden",
                f"importing {staged.modules[module_key].relpath} tried to import "
                f"{', '.join(sorted(set(info['forbidden'])))}, which this assignment does not allow (NumPy only)",
            )
        if not info.get("ok"):
            return early(
                "error", f"importing {staged.modules[module_key].relpath} failed:\n{info.get('error', '')}"
            )
        if name not in session.load_report.names(module_key):
            return early("missing", f"{name} is not defined in {staged.modules[module_key].relpath}")
    outcome = FunctionGrader(session, spec, profile, options.seed, deadline).run_all()
    entry = function_report(graded, module_path, outcome, dotted=dotted, duration_s=time.perf_counter() - started)
    if outcome.status == "timeout" and deadline is not None and time.monotonic() >= deadline:
        entry["budget_spent"] = True
    return entry


def first_case(spec: Spec) -> Case:
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
