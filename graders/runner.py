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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import seed as hypothesis_seed

from graders.backward import second_chances
from graders.casebank import Banked, CaseBank, build_banked, engine_settings, property_examples
from graders.evaluate import expected_outputs, judge
from graders.sandbox.process import WorkerCrashed, WorkerTimeout
from graders.sandbox.session import Call, Lane, RunReply
from graders.specs.base import Case, CaseRun, ErrorCase, Robustness, Spec, Verdict, describe_case
from graders.specs.program import Program, setup_steps

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
    """The inputs among ``names`` that the worker sent back changed. The worker sends back only the inputs whose
    bytes differ from what it was sent (graders/sandbox/worker_main.py inputs_changed); their values are
    compared here, so an input whose bytes changed but whose values did not (-0.0 written over 0.0) is not
    counted."""
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

    def __init__(self, session: Lane, spec: Spec, profile: dict[str, int], seed: int,
                 deadline: float | None = None, bank: CaseBank | None = None) -> None:
        self.session = session
        self.spec = spec
        self.profile = profile
        self.seed = seed
        self.deadline = deadline
        self.bank = bank
        self.outcome = FunctionOutcome()
        self._mutation_seen: set[str] = set()
        self._taint_seen = False
        self._pending_after: dict[str, Any] = {}
        self.failed_case: Case | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    # -------------------------------------------------------------- one case
    def expected_for(self, case: Case) -> dict[str, Any]:
        try:
            return expected_outputs(self.spec, case)
        except Exception as exc:  # the grader's side (e.g. MNIST files missing), not the student's
            raise ReferenceFailure(f"{type(exc).__name__}: {exc}") from exc

    def call_timeout(self) -> float | None:
        """This call's wall-clock limit: the per-call limit, or what is left of the budget if that is less."""
        left = self.remaining()
        if left is not None and left <= 0:
            raise BudgetSpent()
        return None if left is None else min(self.session.limits.call_timeout_s, max(left, 1.0))

    def evaluate(self, case: Case, tier: str = MAIN, expected: dict[str, Any] | None = None) -> CaseRun:
        if expected is None:
            expected = self.expected_for(case)
        timeout = self.call_timeout()
        program = self.spec.program(case)
        reply = self.session.run_program(program, case, expected, self.spec.read_only, timeout=timeout)
        return self.record(self.judged(case, expected, program, reply, timeout), tier)

    def judged(self, case: Case, expected: dict[str, Any], program: Program, reply: RunReply,
               timeout: float | None) -> CaseRun:
        """What one reply says about the case, after the backward's second chances."""
        spec = self.spec
        self.outcome.student_s += reply.student_s
        if reply.forbidden:
            self.outcome.forbidden.extend(reply.forbidden)
        self._note_taint(reply.tainted)
        self._note_stand_ins(reply.stand_ins)
        if reply.error is not None and reply.error.get("type") == NOT_INSTALLED:
            raise EnvironmentProblem(str(reply.error.get("message", "")))
        self._pending_after = reply.inputs_after
        run = judge(spec, case, expected, reply.outputs, reply.error, setup_steps(program))
        return second_chances(self, run, case, expected, timeout)

    def record(self, run: CaseRun, tier: str) -> CaseRun:
        if tier == MAIN:
            self._note_mutations(run.case, self._pending_after)
            self.outcome.runs.append(run)
        else:
            self.outcome.robust_runs.setdefault(tier, []).append(run)
        return run

    def evaluate_batch(self, cases: list[Case], expected: list[dict[str, Any]], tier: str = MAIN
                       ) -> list[CaseRun]:
        """Run ``cases`` in one request (each call keeps its own time limit) and judge each in order. A
        timeout or crash raises at the case it happened on, after the cases before it were recorded, as running
        them one by one would."""
        programs = [self.spec.program(case) for case in cases]
        calls = [Call(p, c, e, self.spec.read_only) for p, c, e in zip(programs, cases, expected, strict=True)]
        timeout = self.call_timeout()
        replies: list[RunReply] = []
        failure: BaseException | None = None
        try:
            for reply in self.session.run_programs(calls, timeout, self.deadline):
                replies.append(reply)
        except (WorkerTimeout, WorkerCrashed) as exc:
            failure = exc
        runs = []
        for index, reply in enumerate(replies):
            runs.append(self.record(self.judged(cases[index], expected[index], programs[index], reply, timeout),
                                    tier))
        if failure is not None:
            self.failed_case = cases[len(replies)]
            raise failure
        return runs

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
        return self.guarded_batch([case], None, tier)[0]

    def guarded_batch(self, cases: list[Case], expected: list[dict[str, Any]] | None, tier: str = MAIN
                      ) -> list[CaseRun]:
        """Evaluate ``cases`` (one request when there are several), turning a timeout, a crash, a spent budget
        or a problem of the grading environment into the function's status (a main case) or a failed
        robustness case."""
        case = cases[0] if cases else {}
        try:
            if expected is None:
                expected = [self.expected_for(c) for c in cases]
            if len(cases) == 1:
                return [self.evaluate(cases[0], tier, expected[0])]
            self.failed_case = None
            return self.evaluate_batch(cases, expected, tier)
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
            case = self.failed_case if len(cases) > 1 and self.failed_case is not None else case
            printed = self.session.discard_worker()
            status, message = self._failure(exc, self.describe(case))
            message += output_tail(printed)
            if tier != MAIN:  # a robustness case: only its own check fails (the rest of its cases are not run)
                failed = CaseRun(case, {}, {}, {"*": Verdict(False, message)}, error=message)
                self.outcome.robust_runs.setdefault(tier, []).append(failed)
                return [failed]
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
        spec = self.spec
        try:
            banked = self.banked()
            fixed = self.tier_cases("fixed", spec.fixed_cases, banked)
            for run in self.guarded_batch(fixed, banked.expected.get("fixed") if banked else None):
                self._keep_first_failure(run)
            if banked is None or not self.replay(banked):
                self.explore()
            scale = self.tier_cases("scale", spec.scale_cases, banked)
            for run in self.guarded_batch(scale, banked.expected.get("scale") if banked else None):
                self._keep_first_failure(run)
            for check in spec.robustness:
                self.run_robustness(check, banked)
            for error in spec.errors:
                if error.handout_raises:
                    self.check_rejects(error)
        except _Abort:
            pass
        return self.outcome

    def check_rejects(self, error: ErrorCase) -> None:
        """An input the hand-out's own skeleton rejects (batch norm's mode): a function that accepts it gets a
        warning, never a lost point (validation is not what the assignment grades). A call that times out or
        crashes here says nothing either way."""
        case = copy.deepcopy(error.inputs)
        program = self.spec.program(case)
        try:
            reply = self.session.run_program(program, case, None, (), timeout=self.call_timeout())
        except (WorkerTimeout, WorkerCrashed, BudgetSpent):
            return
        step = None if reply.error is None else reply.error.get("step")
        if step in setup_steps(program):
            return  # another function (the forward this one needs) rejected it first: nothing to say
        if reply.error is None or step == "outputs":
            self.outcome.warnings.append(
                f"{self.spec.name} accepts an input the hand-out's skeleton rejects ({error.description.rstrip('.')}):"
                f" the skeleton raises {error.error.__name__} there, and so should yours (this costs no points)"
            )

    @staticmethod
    def tier_cases(tier: str, build: Callable[[], list[Case]], banked: Banked | None) -> list[Case]:
        """A deterministic tier's cases: the bank's copy when it has one (drawing a notebook's or a scale tier's
        large arrays again cost more than reading them), else built now."""
        if banked is not None and tier in banked.cases and len(banked.cases[tier]) == len(banked.expected[tier]):
            return banked.cases[tier]
        return build()

    def banked(self) -> Banked | None:
        """This function's banked cases and answers (built now when the bank does not have them yet)."""
        if self.bank is None:
            return None
        try:
            return self.bank.get(self.spec, self.build_bank)
        except ReferenceFailure as exc:
            self.outcome.status = "environment"
            self.outcome.message = ("the grader could not compute the expected results (a problem of the grading "
                                    f"environment, not of the submission): {exc}")
            raise _Abort() from None

    def build_bank(self) -> Banked:
        return build_banked(self.spec, self.profile, self.seed, self.expected_for)

    def replay(self, banked: Banked) -> bool:
        """Run the banked property cases in one request; True when every one passed (the same runs a live
        hypothesis run would record). Otherwise forget them and return False: the live run then finds the
        same first failure and shrinks it, so the counterexample is the one the grader always gives."""
        cases, expected = banked.cases.get("property", []), banked.expected.get("property", [])
        if len(cases) != len(expected):
            return False
        before = self._snapshot()
        runs = self.guarded_batch(cases, expected) if cases else []
        if all(not run.failed for run in runs):
            return True
        self._restore(before)
        return False

    def _snapshot(self) -> tuple[Any, ...]:
        o = self.outcome
        return (len(o.runs), list(o.warnings), dict(o.mutated), list(o.forbidden), set(self._mutation_seen),
                self._taint_seen, o.minimal)

    def _restore(self, snapshot: tuple[Any, ...]) -> None:
        o = self.outcome
        count, o.warnings, o.mutated, o.forbidden, self._mutation_seen, self._taint_seen, o.minimal = snapshot
        del o.runs[count:]

    def _keep_first_failure(self, run: CaseRun) -> None:
        if run.failed and self.outcome.minimal is None:
            self.outcome.minimal = run
            if self.bank is not None:
                # The case may have come from the bank: draw the tiers again so that this process knows how
                # their large arrays were made, and the repro script rebuilds them instead of printing zeros.
                self.spec.fixed_cases()
                self.spec.scale_cases()

    def run_robustness(self, check: Robustness, banked: Banked | None = None) -> None:
        self.outcome.robust_runs.setdefault(check.name, [])
        if check.cases is None:
            return
        expected = banked.expected.get(check.check_name) if banked else None
        self.guarded_batch(check.cases(), expected, check.name)

    def explore(self) -> None:
        budget = self.profile["max_examples"] + self.profile["shrink_budget"]
        calls = [0]
        grader = self

        @engine_settings(property_examples(self.spec, self.profile))
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
