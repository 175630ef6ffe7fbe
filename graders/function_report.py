"""One function's entry in report.json: its checks with points, status, counterexample and diagnosis.

Main checks are decided by the runs on the hand-out's domain: a check earns its points when it held on every
judged case. A case whose setup (another function, such as the forward a backward needs) raised is not judged;
when no case could be judged the check fails and says why. Robustness checks are entries of their own, with
their own points and sentence, marked ``"kind": "robustness"``. Warnings of passing checks (right values in a
harmless form) and the other ways a backward was judged are reported, never silently applied.
"""

from __future__ import annotations

from typing import Any

from graders.assignment import GradedFunction
from graders.backward import HANDOUT, SPARES
from graders.diagnose import diagnose
from graders.repro import jsonable, repro
from graders.runner import FunctionOutcome, case_size
from graders.small_values import small_values
from graders.specs.base import CaseRun, OwnGradient, Robustness, describe_case

FAILED_STATUSES = ("timeout", "crashed", "error", "environment")
UNJUDGED = "could not be judged"
NOT_JUDGED = "not judged"


def _judged(runs: list[CaseRun]) -> list[CaseRun]:
    return [r for r in runs if r.unjudged is None]


def check_entries(graded: GradedFunction, runs: list[CaseRun], minimal: CaseRun | None) -> list[dict[str, Any]]:
    """The main checks: each passes when it held on every judged case."""
    entries = []
    judged = _judged(runs)
    for check in graded.spec.checks:
        points = graded.check_points[check.name]
        bad = [r for r in judged if not r.verdicts[check.name].passed]
        passed = bool(judged) and not bad
        entry: dict[str, Any] = {
            "name": check.name,
            "passed": passed,
            "score": points if passed else 0.0,
            "max_score": points,
            "cases": len(judged),
            "message": "",
        }
        ways = sorted({r.judged_by[check.name] for r in judged if check.name in r.judged_by})
        if ways:
            entry["judged_by"] = ways
        if not judged and runs:
            entry["message"] = (f"{UNJUDGED}: on every case {runs[0].unjudged}; this function needs it to "
                                "run first")
        elif bad:
            shown = minimal if minimal is not None and minimal in bad else min(bad, key=case_size)
            verdict = shown.verdicts[check.name]
            entry["message"] = verdict.message
            if verdict.where is not None:
                entry["where"] = {"label": verdict.where_label, "values": verdict.where}
            values = small_values(check, shown)
            if values is not None:
                entry["values"] = values
        entries.append(entry)
    return entries


def robustness_entries(graded: GradedFunction, outcome: FunctionOutcome, main: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
    """One entry per robustness check, with its own points and sentence."""
    working = any(e["passed"] for e in main)
    return [robustness_entry(graded, check, outcome, working) for check in graded.spec.robustness]


def robustness_entry(graded: GradedFunction, check: Robustness, outcome: FunctionOutcome,
                     working: bool = True) -> dict[str, Any]:
    """A robustness check passes when it held on every judged case of its own (a case none of whose calls
    could be judged, because a forward it needs raised there, costs nothing: one bug costs points once). It
    earns points only for a function that gets something right (some main check passed): robustness of a
    function whose every output is wrong (None, a wrong shape, N times too large) is not robustness."""
    points = graded.check_points[check.check_name]
    message = ""
    cases = 0
    if check.unchanged:
        changed = sorted(name for name in check.unchanged if outcome.mutated.get(name))
        cases = len(_judged(outcome.runs))
        if changed:
            message = f"{check.sentence} ({graded.spec.name} changed {', '.join(changed)} in place.)"
    else:
        every = outcome.robust_runs.get(check.name, [])
        runs = _judged(every)
        cases = len(runs)
        names = check.checks or tuple(c.name for c in graded.spec.checks)
        for run in runs:
            failing = [v for key, v in run.verdicts.items() if (key in names or key == "*") and not v.passed]
            if failing:
                message = f"{check.sentence} (on {describe(graded, run)}: {failing[0].message})"
                break
    if not message and not working:
        message = f"{NOT_JUDGED}: {graded.spec.name} fails its main checks, so its robustness earns nothing"
    passed = not message
    return {
        "name": check.check_name,
        "kind": "robustness",
        "passed": passed,
        "score": points if passed else 0.0,
        "max_score": points,
        "cases": cases,
        "message": message,
        "description": check.description,
    }


def describe(graded: GradedFunction, run: CaseRun) -> str:
    return (graded.spec.describe or describe_case)(run.case)


def status_of(entries: list[dict[str, Any]], runs: list[CaseRun]) -> str:
    """"error" when the function raised on every judged case, or no case could be judged at all."""
    passed = sum(1 for e in entries if e["passed"])
    judged = _judged(runs)
    if not passed and runs and all(r.error is not None for r in judged):
        return "error"
    if passed == len(entries):
        return "passed"
    return "partial" if passed else "failed"


def check_warnings(runs: list[CaseRun]) -> list[str]:
    """Warnings of passing checks (a (1, D) where (D,) was expected), each once."""
    found: list[str] = []
    for run in _judged(runs):
        for verdict in run.verdicts.values():
            if verdict.passed and verdict.warning and verdict.warning not in found:
                found.append(verdict.warning)
    return found


def judged_by_note(entries: list[dict[str, Any]], name: str, own: OwnGradient | None) -> list[str]:
    """Say how a backward (or a network's gradients) was judged where it was not through the student's own
    forward alone, and why that spares their points."""
    spares = dict(SPARES)
    if own is not None:
        spares[own.label] = own.spares
    notes = []
    for entry in entries:
        for way in entry.get("judged_by", []):
            why = spares.get(way, SPARES[HANDOUT]).format(name=name)
            notes.append(f"{entry['name']} was judged with {way} on some cases, so {why}.")
    return notes


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
        entry["checks"] = zeroed_checks(graded, message, 0)
        return entry
    entry["student_s"] = round(outcome.student_s, 4)
    entry["warnings"] = list(outcome.warnings)
    if outcome.status in FAILED_STATUSES or outcome.forbidden:
        entry["status"] = "forbidden" if outcome.forbidden else outcome.status
        text = (
            f"imported {', '.join(sorted(set(outcome.forbidden)))}, which this assignment does not allow"
            if outcome.forbidden
            else outcome.message
        )
        entry["checks"] = zeroed_checks(graded, text, len(outcome.runs))
        entry["diagnosis"] = [text.splitlines()[0]]
        return entry
    main = check_entries(graded, outcome.runs, outcome.minimal)
    robust = robustness_entries(graded, outcome, main)
    entry["checks"] = main + robust
    entry["score"] = round(sum(c["score"] for c in entry["checks"]), 6)
    entry["status"] = status_of(entry["checks"], outcome.runs)
    entry["warnings"] += [w for w in check_warnings(outcome.runs) if w not in entry["warnings"]]
    entry["warnings"] += judged_by_note(main, spec.name, spec.own_gradient)
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
    robust_runs = [r for runs in outcome.robust_runs.values() for r in runs if "*" not in r.verdicts]
    notes: list[str] = []
    entry["diagnosis"] += [d for d in diagnose(spec, outcome.runs, robust_runs, notes) if d not in entry["diagnosis"]]
    if notes:
        entry["grader_notes"] = notes
    # a robustness check that was not judged (the function fails its main checks) has no bug to explain
    failed_robustness = {r["name"] for r in robust if not r["passed"] and not r["message"].startswith(NOT_JUDGED)}
    entry["diagnosis"] += [r.sentence for r in spec.robustness if r.check_name in failed_robustness]
    return entry


def zeroed_checks(graded: GradedFunction, message: str, cases: int) -> list[dict[str, Any]]:
    """Every check (robustness ones included) at 0 with one message: the function could not be graded."""
    names = [c.name for c in graded.spec.checks] + [r.check_name for r in graded.spec.robustness]
    return [{"name": name, "passed": False, "score": 0.0, "max_score": graded.check_points[name], "cases": cases,
             "message": message} for name in names]


def note_dependencies(functions: list[dict[str, Any]], graded_functions: list[GradedFunction]) -> None:
    """Point at the function to fix first: where a backward could not be judged because the forward it needs
    raised, and where a function that builds on another (a network on its layers) fails with it. A backward
    judged on its own (the hand-out's cache, finite differences of the student's forward) gets no such note:
    its failures are its own. A function that was not graded because its module did not import or was not
    found (``blocked_by``) gets no note, and no note points at such a function: the report's ``problems`` say
    what to fix first, once."""
    by_name = {f["name"]: f for f in functions}
    for graded in graded_functions:
        spec = graded.spec
        entry = by_name[spec.name]
        if entry.get("blocked_by"):
            continue
        unjudged = any(c["message"].startswith(UNJUDGED) for c in entry["checks"])
        independent = spec.handout_program is not None or spec.own_gradient is not None
        if entry["status"] not in ("failed", "partial", "error"):
            continue
        # a backward judged on its own owes nothing to its forward; what a function calls (a sandwich its
        # layers) it always builds on
        needed = [] if independent and not unjudged else list(spec.depends_on)
        for dependency in [*needed, *(d for d in spec.builds_on if d not in needed)]:
            other = by_name.get(dependency)
            if other is None or other["status"] == "passed" or other.get("blocked_by"):
                continue
            if unjudged and dependency in spec.depends_on:
                note = (f"{dependency} (whose cache this function needs) raised on some cases, so {entry['name']} "
                        f"could not be judged there: fix {dependency} first.")
            else:
                note = (f"{dependency}, which {entry['name']} builds on, is not correct either: fix {dependency} "
                        f"first; {entry['name']} may then pass as well.")
            entry["diagnosis"].append(note)
