"""One selftest run of one assignment: load its catalogue, grade everything, score it against thresholds."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from graders import assignment as assignments
from graders.selftest import catalogue as catalogues
from graders.selftest.run import JobResult, jobs_for, run_jobs
from graders.selftest.score import Summary, shortfalls, summarise, thresholds


@dataclass(frozen=True)
class SelftestRun:
    summary: Summary
    limits: dict[str, float]
    problems: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems


def run_selftest(
    assignment_name: str,
    entry_ids: Sequence[str] = (),
    seed: int = 0,
    profile: str = "standard",
    workers: int | None = None,
    progress: Callable[[JobResult], None] | None = None,
) -> SelftestRun:
    """Grade the assignment's catalogue (or the entries ``entry_ids``, without the bases) and score it.

    Raises CatalogueError / AssignmentError / ThresholdError for a malformed catalogue or assignment.
    """
    started = time.perf_counter()
    assignment = assignments.load(assignment_name)
    limits = thresholds(assignment.data.get("selftest", {}))
    catalogue = catalogues.load(assignment_name, {g.spec.name for g in assignment.functions})
    if entry_ids:
        catalogue = catalogue.select(list(entry_ids))
    jobs = jobs_for(catalogue, with_bases=not entry_ids)
    results = run_jobs(jobs, seed=seed, profile=profile, workers=workers, progress=progress)
    summary = summarise(catalogue, results, complete=not entry_ids)
    return SelftestRun(summary, limits, shortfalls(summary, limits), time.perf_counter() - started)
