"""Running one function's cases through the sandbox and collecting the evidence a report is built from.

The tiers, in order: the notebook's fixed cases; hypothesis property cases (seeded, so the same submission and
seed give the same report), shrunk to the smallest failing input; a few cases at realistic sizes (never
shrunk); then each robustness check's own cases (see ``Robustness``), which never decide the main checks.

A timeout or crash on a main case ends the function (its worker is replaced for the next one); on a robustness
case it only fails that robustness check. A backward that fails through the student's own forward gets its
second chances here (graders/backward.py): the hand-out's cache, or finite differences of that forward.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from graders.backward import second_chances
from graders.evaluate import expected_outputs, judge
from graders.sandbox.process import WorkerCrashed, WorkerTimeout
from graders.sandbox.session import SandboxSession
from graders.specs.base import Case, CaseRun, Robustness, Spec, Verdict, describe_case
from graders.specs.program import setup_steps

MAIN = "main"


class _CheckFailed(AssertionError):
    """Raised inside the property to tell hypothesis the case failed (and should be shrunk)."""


class ReferenceFailure(Exception):
    """The reference itself failed on a case (a grader-side problem such as missing data files)."""


class BudgetSpent(Exception):
    """The submission's time budget ran out before or during a function."""


class EnvironmentProblem(Exception):
    """The student's code needed something the grading environment lacks (a package that is not installed)."""


#: The worker's error type when student code uses a value from a package that is not installed here.
NOT_INSTALLED = "NotInstalledHere"


class _Abort(BaseException):
    """Stops hypothesis at once (a worker timeout or crash, or the shrink budget spent): not shrunk."""


@dataclass
class FunctionOutcome:
    #: runs on the hand-out's domain (notebook, property and scale cases): they decide the main checks
    runs: list[CaseRun] = field(default_factory=list)
    #: robustness check name -> its runs
    robust_runs: dict[str, list[CaseRun]] = field(default_factory=dict)
    minimal: CaseRun | None = None
    status: str | None = None  # set for timeout / crashed / forbidden / error / environment
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    student_s: float = 0.0
    forbidden: list[str] = field(default_factory=list)
    #: input name -> number of main runs after which it came back changed
    mutated: dict[str, int] = field(default_factory=dict)


def case_size(run: CaseRun) -> int:
    return sum(int(np.size(v)) for v in run.case.values() if isinstance(v, np.ndarray))


def mutated_inputs(names: tuple[str, ...], case: Case, after: dict[str, Any]) -> list[str]:
    """The inputs among ``names`` that the worker sent back changed."""
    changed = []
    for key in names:
        if key in after and isinstance(case.get(key), np.ndarray):
            now = after[key]
            if not isinstance(now, np.ndarray) or now.shape != case[key].shape or not np.array_equal(now, case[key]):
                changed.append(key)
    return changed


def guarded_inputs(spec: Spec) -> tuple[str, ...]:
    """Inputs whose mutation a robustness check costs points for (the others only warn)."""
    return tuple(name for r in spec.robustness for name in r.unchanged)


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

    # -------------------------------------------------------------- one case
    def evaluate(self, case: Case, tier: str = MAIN) -> CaseRun:
        spec = self.spec
        left = self.remaining()
        if left is not None and left <= 0:
            raise BudgetSpent()
        try:
            expected = expected_outputs(spec, case)
        except Exception as exc:  # the grader's side (e.g. MNIST files missing), not the student's
            raise ReferenceFailure(f"{type(exc).__name__}: {exc}") from exc
        timeout = None if left is None else min(self.session.limits.call_timeout_s, max(left, 1.0))
        program = spec.program(case)
        reply = self.session.run_program(program, case, expected, spec.read_only, timeout=timeout)
        self.outcome.student_s += reply.student_s
        if reply.forbidden:
            self.outcome.forbidden.extend(reply.forbidden)
        self._note_taint(reply.tainted)
        self._note_stand_ins(reply.stand_ins)
        if reply.error is not None and reply.error.get("type") == NOT_INSTALLED:
            raise EnvironmentProblem(str(reply.error.get("message", "")))
        if tier == MAIN:
            self._note_mutations(case, reply.inputs_after)
        run = judge(spec, case, expected, reply.outputs, reply.error, setup_steps(program))
        run = second_chances(self, run, case, expected, timeout)
        if tier == MAIN:
            self.outcome.runs.append(run)
        else:
            self.outcome.robust_runs.setdefault(tier, []).append(run)
        return run

    def _note_taint(self, tainted: list[str]) -> None:
        if tainted and not self._taint_seen:
            self._taint_seen = True
            self.outcome.warnings.append(
                f"a call of {self.spec.name} left its process changed ({'; '.join(tainted)}); the calls after "
                "it ran in a fresh process. This costs no points, but code that leaves threads, timers or "
                "patched modules behind can break the code that runs after it."
            )

    def _note_stand_ins(self, names: list[str]) -> None:
        for name in names:
            warning = (f"{self.spec.name} imports {name}, which is not installed in the grading environment: a "
                       "stand-in was used (it raises only if a value from it is needed)")
            if warning not in self.outcome.warnings:
                self.outcome.warnings.append(warning)

    def _note_mutations(self, case: Case, after: dict[str, Any]) -> None:
        guarded = guarded_inputs(self.spec)
        for key in mutated_inputs(self.spec.read_only, case, after):
            self.outcome.mutated[key] = self.outcome.mutated.get(key, 0) + 1
            if key in self._mutation_seen or key in guarded:
                continue  # a robustness check says it once, with its points
            self._mutation_seen.add(key)
            self.outcome.warnings.append(
                f"{self.spec.name} modified its input {key!r} in place: the caller's array changed. It costs "
                "no points here, but copy before writing: a caller that keeps the array (a cache, a notebook "
                "cell) sees the change."
            )

    def guarded(self, case: Case, tier: str = MAIN) -> CaseRun:
        try:
            return self.evaluate(case, tier)
        except BudgetSpent:
            self.outcome.status = "timeout"
            self.outcome.message = ("the submission's time budget ran out while this function was graded "
                                    f"({len(self.outcome.runs)} cases run)")
            raise _Abort() from None
        except EnvironmentProblem as exc:
            self.outcome.status = "environment"
            self.outcome.message = (f"on {self.describe(case)}: {exc}. This is a gap in the grading environment, "
                                    "not a bug of the submission: the course can give the grader an interpreter "
                                    "that has the package (--python)")
            raise _Abort() from None
        except ReferenceFailure as exc:
            self.outcome.status = "environment"
            self.outcome.message = (f"the grader could not compute the expected result on {self.describe(case)} "
                                    f"(a problem of the grading environment, not of the submission): {exc}")
            raise _Abort() from None
        except (WorkerTimeout, WorkerCrashed) as exc:
            printed = self.session.discard_worker()
            status, message = self._failure(exc, self.describe(case))
            message += output_tail(printed)
            if tier != MAIN:  # a robustness case: only its own check fails
                failed = CaseRun(case, {}, {}, {"*": Verdict(False, message)}, error=message)
                self.outcome.robust_runs.setdefault(tier, []).append(failed)
                return failed
            self.outcome.status = status
            self.outcome.message = message
            raise _Abort() from None

    def _failure(self, exc: Exception, case: str) -> tuple[str, str]:
        """(status, message) for a worker that crashed or timed out on the case described by ``case``."""
        if isinstance(exc, WorkerCrashed):
            return "crashed", f"the worker process stopped on {case}: {exc}"
        left = self.remaining()
        if left is not None and left <= 0:
            why = "did not return before the submission's time budget ran out"
        elif "CPU" in str(exc):
            why = "used more CPU time than allowed"
        else:
            why = f"did not return within {self.session.limits.call_timeout_s:g} s"
        return "timeout", f"{why} on {case}"

    def describe(self, case: Case) -> str:
        return (self.spec.describe or describe_case)(case)

    # -------------------------------------------------------------- the tiers
    def run_all(self) -> FunctionOutcome:
        try:
            for case in self.spec.fixed_cases():
                self._keep_first_failure(self.guarded(case))
            self.explore()
            for case in self.spec.scale_cases():
                self._keep_first_failure(self.guarded(case))
            for check in self.spec.robustness:
                self.run_robustness(check)
        except _Abort:
            pass
        return self.outcome

    def _keep_first_failure(self, run: CaseRun) -> None:
        if run.failed and self.outcome.minimal is None:
            self.outcome.minimal = run

    def run_robustness(self, check: Robustness) -> None:
        self.outcome.robust_runs.setdefault(check.name, [])
        for case in check.cases() if check.cases is not None else []:
            self.guarded(case, check.name)

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
            if run.failed:
                raise _CheckFailed()

        try:
            prop()
        except _CheckFailed:
            self.outcome.minimal = self.outcome.runs[-1]
        except _Abort:
            self._pick_smallest_failure()
            if self.outcome.status in ("timeout", "crashed", "error", "environment"):
                raise
        except Exception:  # Flaky and friends: the student's function is not deterministic
            self._pick_smallest_failure()
            self.outcome.warnings.append(
                f"{self.spec.name} gave different results for the same input: is it using unseeded randomness "
                "or global state?"
            )

    def _pick_smallest_failure(self) -> None:
        bad = [r for r in self.outcome.runs if r.failed]
        if bad:
            self.outcome.minimal = min(bad, key=case_size)


def output_tail(printed: str, limit: int = 600) -> str:
    printed = printed.strip()
    return f"\nLast output:\n{printed[-limit:]}" if printed else ""
