"""Scoring the selftest: each entry's outcome, the summary, and the assignment's thresholds.

Outcomes:
  mutant      ``caught``         the target function lost points (the bug was found where it is);
              ``elsewhere``      the target kept full marks but another graded function lost points;
              ``missed``         nothing lost points: the grader let the bug through;
  equivalent  ``kept``           full marks everywhere, as correct code deserves (an equivalent with
                                 ``may_lose`` may lose those robustness checks of its target, nothing else);
  (or base)   ``false failure``  correct code lost points somewhere;
  mutant      ``false failure``  a function the entry ``spares`` lost points (one bug must cost points once);
  any         ``broken``         the entry could not be built or graded (a stale snippet, a grader error).

A mutant with ``diagnosis`` words is *named* when every word occurs in the target's diagnosis.
The mutation score is the share of mutants that lost points anywhere (caught or elsewhere).

Thresholds live in the assignment file's ``[selftest]`` table (all optional)::

    [selftest]
    caught_at_right_function = 1.0   # minimum share of mutants caught at their target
    mutation_score = 1.0             # minimum share of mutants caught anywhere
    diagnosis_named = 1.0            # minimum share of mutants with diagnosis words that were named
    false_failures = 0               # maximum number of equivalents (and bases) that lost points
    min_mutants = 30                 # the catalogue must hold at least this many mutants ...
    min_equivalents = 8              # ... and equivalents (checked on full runs only)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graders.selftest.catalogue import Catalogue, Entry
from graders.selftest.run import JobResult

CAUGHT, ELSEWHERE, MISSED = "caught", "elsewhere", "missed"
KEPT, FALSE_FAILURE, BROKEN = "kept", "false failure", "broken"

#: threshold name -> (kind of bound, meaning)
THRESHOLDS: dict[str, tuple[str, str]] = {
    "caught_at_right_function": ("min", "share of mutants caught at their target function"),
    "mutation_score": ("min", "share of mutants caught anywhere"),
    "diagnosis_named": ("min", "share of mutants with diagnosis words whose diagnosis named the bug"),
    "false_failures": ("max", "correct entries (equivalents and bases) that lost points"),
    "min_mutants": ("min", "mutants in the catalogue"),
    "min_equivalents": ("min", "equivalents in the catalogue"),
}
#: Thresholds about the catalogue's size, which a run of selected entries cannot meet.
SIZE_THRESHOLDS = ("min_mutants", "min_equivalents")


class ThresholdError(ValueError):
    """An assignment's [selftest] table names an unknown threshold or a value that is not a number."""


def outcome(entry: Entry | None, result: JobResult) -> str:
    """The outcome of one job (``entry`` None for a base)."""
    if result.error:
        return BROKEN
    if entry is None or not entry.is_mutant:
        allowed = set(entry.may_lose) if entry is not None else set()
        lost_elsewhere = set(result.lost) - {entry.target} if entry is not None else set(result.lost)
        lost_here = set(result.lost_checks.get(entry.target, ("?",))) if entry is not None and \
            entry.target in result.lost else set()
        return FALSE_FAILURE if lost_elsewhere or not lost_here <= allowed else KEPT
    if set(entry.spares) & set(result.lost):
        return FALSE_FAILURE  # a function judged on its own lost points for its dependency's bug
    if entry.target in result.lost:
        return CAUGHT
    return ELSEWHERE if result.lost else MISSED


def named(entry: Entry, result: JobResult) -> bool | None:
    """Whether the target's diagnosis contains every diagnosis word (None when the entry names none)."""
    if not entry.diagnosis:
        return None
    text = " ".join(result.diagnoses.get(entry.target, ())).lower()
    return all(word.lower() in text for word in entry.diagnosis)


@dataclass(frozen=True)
class Row:
    """One line of the selftest table."""

    id: str
    kind: str
    target: str
    pattern: str
    outcome: str
    named: bool | None
    result: JobResult


@dataclass(frozen=True)
class Summary:
    assignment: str
    rows: tuple[Row, ...]
    complete: bool

    def count(self, kind: str, *outcomes: str) -> int:
        return sum(1 for r in self.rows if r.kind == kind and (not outcomes or r.outcome in outcomes))

    @property
    def mutants(self) -> int:
        return self.count("mutant")

    @property
    def equivalents(self) -> int:
        return self.count("equivalent")

    @property
    def caught(self) -> int:
        return self.count("mutant", CAUGHT)

    @property
    def elsewhere(self) -> int:
        return self.count("mutant", ELSEWHERE)

    @property
    def missed(self) -> int:
        return self.count("mutant", MISSED)

    @property
    def false_failures(self) -> int:
        return sum(1 for r in self.rows if r.outcome == FALSE_FAILURE)

    @property
    def broken(self) -> int:
        return sum(1 for r in self.rows if r.outcome == BROKEN)

    @property
    def diagnosis_checked(self) -> int:
        return sum(1 for r in self.rows if r.named is not None)

    @property
    def diagnosis_named(self) -> int:
        return sum(1 for r in self.rows if r.named)

    @property
    def caught_at_right_function(self) -> float:
        return self.caught / self.mutants if self.mutants else 1.0

    @property
    def mutation_score(self) -> float:
        return (self.caught + self.elsewhere) / self.mutants if self.mutants else 1.0

    @property
    def diagnosis_rate(self) -> float:
        return self.diagnosis_named / self.diagnosis_checked if self.diagnosis_checked else 1.0

    def measured(self) -> dict[str, float]:
        """The value of each threshold's quantity in this run."""
        return {
            "caught_at_right_function": self.caught_at_right_function,
            "mutation_score": self.mutation_score,
            "diagnosis_named": self.diagnosis_rate,
            "false_failures": float(self.false_failures),
            "min_mutants": float(self.mutants),
            "min_equivalents": float(self.equivalents),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment,
            "mutants": self.mutants,
            "equivalents": self.equivalents,
            "caught_at_right_function": self.caught,
            "caught_only_elsewhere": self.elsewhere,
            "missed": self.missed,
            "false_failures": self.false_failures,
            "broken": self.broken,
            "diagnosis_checked": self.diagnosis_checked,
            "diagnosis_named": self.diagnosis_named,
            "mutation_score": round(self.mutation_score, 4),
            "entries": [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "target": r.target,
                    "pattern": r.pattern,
                    "outcome": r.outcome,
                    "diagnosis_named": r.named,
                    "graded": list(r.result.graded),
                    "lost": r.result.lost,
                    "diagnoses": {k: list(v) for k, v in r.result.diagnoses.items()},
                    "error": r.result.error,
                    "duration_s": round(r.result.duration_s, 3),
                }
                for r in self.rows
            ],
        }


def summarise(catalogue: Catalogue, results: Mapping[str, JobResult], complete: bool = True) -> Summary:
    """Rows for the bases graded (first) and every entry of ``catalogue``, in catalogue order."""
    bases = [(f"base:{name}", results.get(f"base:{name}")) for name in catalogue.bases]
    rows = [
        Row(job_id, "base", "(all)", "the correct base submission", outcome(None, result), None, result)
        for job_id, result in bases
        if result is not None
    ]
    for entry in catalogue.entries:
        result = results.get(entry.id, JobResult(entry.id, error="not graded"))
        rows.append(
            Row(
                entry.id,
                entry.kind,
                entry.target,
                entry.pattern,
                outcome(entry, result),
                named(entry, result) if not result.error else (False if entry.diagnosis else None),
                result,
            )
        )
    return Summary(catalogue.assignment, tuple(rows), complete)


def thresholds(table: Mapping[str, Any]) -> dict[str, float]:
    """The [selftest] table of an assignment, validated."""
    unknown = set(table) - set(THRESHOLDS)
    if unknown:
        raise ThresholdError(f"unknown selftest thresholds {sorted(unknown)}; known: {sorted(THRESHOLDS)}")
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ThresholdError(f"selftest threshold {name} must be a number, not {value!r}")
    return {name: float(value) for name, value in table.items()}


def shortfalls(summary: Summary, limits: Mapping[str, float]) -> list[str]:
    """Every threshold the run does not meet, as a sentence (empty: all met); broken entries always fail."""
    problems = []
    measured = summary.measured()
    for name, limit in sorted(limits.items()):
        if name in SIZE_THRESHOLDS and not summary.complete:
            continue
        bound, meaning = THRESHOLDS[name]
        value = measured[name]
        if (bound == "min" and value < limit) or (bound == "max" and value > limit):
            word = "at least" if bound == "min" else "at most"
            problems.append(f"{name}: {value:g} ({meaning}); the assignment asks for {word} {limit:g}")
    if summary.broken:
        ids = [r.id for r in summary.rows if r.outcome == BROKEN]
        problems.append(f"broken entries (could not be built or graded): {', '.join(ids)}")
    return problems


def problems_by_row(rows: Sequence[Row]) -> list[Row]:
    """Rows that are not what they should be: a mutant not caught at its target or not named, a false
    failure, a broken entry."""
    return [r for r in rows if r.outcome in (ELSEWHERE, MISSED, FALSE_FAILURE, BROKEN) or r.named is False]
