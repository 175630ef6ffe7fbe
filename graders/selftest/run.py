"""Grading the catalogue: every entry (and every base it starts from), in parallel, one process per job.

Each entry is written out as a submission (its base with its patches applied) and graded like any student's,
through the sandbox, on the functions its edit can reach (:mod:`graders.selftest.affected`) plus its target.
Each base is graded on every function: a base that loses points makes every claim built on it meaningless,
so it counts as a false failure.

Why processes and not threads: the grading process itself does real work per case (drawing cases, computing
the reference's expected outputs, judging), so threads would serialise on the interpreter lock. Each job
already runs the student code in its own sandbox subprocess.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders import assignment as assignments
from graders.grade import GradeOptions, grade
from graders.selftest.affected import affected_functions
from graders.selftest.catalogue import Catalogue, Entry, base_tree
from graders.selftest.patch import write_tree


@dataclass(frozen=True)
class Job:
    """One thing to grade: a catalogue entry, or (``entry`` None) a base submission on every function."""

    assignment: str
    base: str
    entry: Entry | None = None

    @property
    def id(self) -> str:
        return self.entry.id if self.entry is not None else f"base:{self.base}"


@dataclass(frozen=True)
class JobResult:
    """What grading one job showed: which functions were graded, which lost points and the diagnoses."""

    id: str
    graded: tuple[str, ...] = ()
    #: function -> points lost (only functions that lost some)
    lost: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    #: function -> its diagnosis sentences (only functions that lost points)
    diagnoses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: the entry could not be built or graded (a stale snippet, an internal grader error)
    error: str = ""
    duration_s: float = 0.0
    #: function -> the checks that lost points (only functions that lost points)
    lost_checks: dict[str, tuple[str, ...]] = field(default_factory=dict)


def run_job(job: Job, seed: int, profile: str, lanes: int | None = None) -> JobResult:
    """Build the job's submission in a temporary folder and grade it (never raises: errors are recorded).
    ``lanes``: GradeOptions.lanes (one when other jobs run at the same time)."""
    started = time.perf_counter()
    try:
        assignment = assignments.load(job.assignment)
        before = base_tree(job.base)
        if job.entry is None:
            tree, only = before, None
        else:
            tree = job.entry.tree()
            always = (job.entry.target, *job.entry.spares)
            only = frozenset(affected_functions(assignment, before, tree, always=always))
        with tempfile.TemporaryDirectory(prefix="nngrade-selftest-") as tmp:
            folder = Path(tmp) / "submission"
            write_tree(tree, folder)
            report = grade(folder, assignment, GradeOptions(seed=seed, profile=profile, only=only, lanes=lanes))
    except Exception:
        return JobResult(
            job.id, error=traceback.format_exc(limit=4), duration_s=time.perf_counter() - started
        )
    return summarise(job.id, report, time.perf_counter() - started)


def summarise(job_id: str, report: dict[str, Any], duration_s: float) -> JobResult:
    functions = report["functions"]
    lost = {
        f["name"]: round(f["max_score"] - f["score"], 6) for f in functions if f["score"] < f["max_score"]
    }
    return JobResult(
        id=job_id,
        graded=tuple(f["name"] for f in functions),
        lost=lost,
        statuses={f["name"]: f["status"] for f in functions},
        diagnoses={f["name"]: tuple(f["diagnosis"]) for f in functions if f["name"] in lost},
        lost_checks={f["name"]: tuple(c["name"] for c in f.get("checks", []) if c["score"] < c["max_score"])
                     for f in functions if f["name"] in lost},
        duration_s=duration_s,
    )


def jobs_for(catalogue: Catalogue, with_bases: bool = True) -> list[Job]:
    """Every base of the catalogue (graded whole) and every entry."""
    jobs = [Job(catalogue.assignment, base) for base in catalogue.bases] if with_bases else []
    return jobs + [Job(catalogue.assignment, e.base, e) for e in catalogue.entries]


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_jobs(
    jobs: Sequence[Job],
    seed: int = 0,
    profile: str = "standard",
    workers: int | None = None,
    progress: Callable[[JobResult], None] | None = None,
) -> dict[str, JobResult]:
    """Grade every job, ``workers`` at a time (default: one per available core); results by job id."""
    workers = workers or default_jobs()
    results: dict[str, JobResult] = {}
    if workers == 1:
        for job in jobs:
            results[job.id] = run_job(job, seed, profile)
            if progress:
                progress(results[job.id])
        return results
    # spawn: a clean interpreter per worker (no forked copies of the caller's threads or open files)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # bases first: they grade every function, so they are the longest jobs
        ordered = sorted(jobs, key=lambda j: j.entry is not None)
        futures: dict[Future[JobResult], Job] = {pool.submit(run_job, j, seed, profile, 1): j for j in ordered}
        for future in as_completed(futures):
            result = future.result()
            results[result.id] = result
            if progress:
                progress(result)
    return results
