"""The batch loop: discover the class, skip what --resume may keep, grade the rest, rebuild the class files.

Order of events, and why it survives a kill at any moment:

1. Lock the output folder (a second batch on the same folder is refused). Stage the entries handed in as
   separate files (a Canvas download) as folders (see :mod:`graders.batch.staging`).
2. Hash each entry's sources; with ``--resume`` an entry whose manifest records the same key (content hash,
   assignment and its fingerprint, seed, profile, interpreter, sandbox limits, grader version) and whose
   report files are intact is kept as it is (see :mod:`graders.batch.store`).
3. Grade the others on the executor; as each result arrives, commit it (report files, then the manifest).
   Only committed entries count as done, so a kill loses at most the entries in flight, and those are
   graded again on resume; nothing committed is graded again.
4. Rebuild gradebook.csv (and gradebook.jsonl) and summary.html from the committed reports of the class's
   current entries, each written atomically. Interrupted (Ctrl-C, SIGINT) they are still written, for what
   was graded, marked incomplete (the entries not reached are ``pending``); then :class:`BatchInterrupted`
   is raised. With a roster, roster students without an entry get a ``missing`` row (see
   :mod:`graders.batch.roster`).

Debugging aid: when the environment variable ``NNGRADE_BATCH_LOG`` names a file, one line
``<entry>\\t<status>\\t<content hash>`` is appended to it for each entry this run graded (after its commit),
so a test or an instructor can see exactly what was graded by which run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders import assignment as assignments
from graders.batch.discover import Entry, discover
from graders.batch.executors import DEFAULT_ENTRY_TIMEOUT_S, DaskExecutor, Executor, LocalExecutor
from graders.batch.gradebook import write_gradebook
from graders.batch.hashing import assignment_fingerprint, content_hash, grader_version
from graders.batch.lms import Identity
from graders.batch.outcome import MISSING, PENDING, EntryOutcome
from graders.batch.progress import BatchProgress, PlainProgress
from graders.batch.roster import check_roster
from graders.batch.staging import stage_parts
from graders.batch.store import OutputStore
from graders.batch.summary import summarise, write_summary
from graders.batch.task import FAILED, Result, Task, parse_result
from graders.grade import DEFAULT_BUDGET_S

BATCH_LOG_VARIABLE = "NNGRADE_BATCH_LOG"
GRADEBOOK = "gradebook.csv"
SUMMARY = "summary.html"


def default_jobs() -> int:
    """The cores this process may use (CPU affinity, else the core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class BatchOptions:
    assignment: str = "cs231n-a2"
    seed: int = 0
    profile: str = "standard"
    jobs: int = field(default_factory=default_jobs)
    resume: bool = False
    python: str | None = None
    scheduler: str | None = None  # tcp://HOST:PORT of a Dask scheduler; None: local workers
    entry_timeout_s: float = DEFAULT_ENTRY_TIMEOUT_S
    #: overrides of the sandbox limits (graders.sandbox.process.Limits fields), part of the resume key
    limits: dict[str, Any] = field(default_factory=dict)
    #: grade only these functions (empty: all)
    only: tuple[str, ...] = ()
    #: "default" or "strict" (graders.sandbox.layers.MODES)
    sandbox: str = "default"
    #: seconds one submission may take (graders.grade.GradeOptions.budget_s)
    budget_s: float | None = DEFAULT_BUDGET_S
    #: how the class folder is read (graders.batch.discover.LAYOUTS); "auto" detects LMS exports
    layout: str = "auto"
    #: who should have handed in (graders.batch.roster); None: no roster check
    roster: tuple[Identity, ...] | None = None


@dataclass
class BatchResult:
    out_dir: Path
    outcomes: list[EntryOutcome]
    graded: list[str]  # entries graded by this run (not kept from an earlier one)
    failed: list[str]  # entries without a grade: see DIR/<entry>/error.txt
    ignored: list[str]  # files of the class folder that are not submissions
    gradebook: Path
    summary: Path
    #: the batch was interrupted: entries it did not reach are ``pending`` in the gradebook and summary
    interrupted: bool = False
    #: how the class folder was read: "plain", "gradescope", "canvas" or "moodle"
    layout: str = "plain"
    #: things the instructor should know: export oddities, parts not staged, entries not on the roster
    warnings: list[str] = field(default_factory=list)
    #: roster students without an entry (``missing`` rows of the gradebook)
    missing: list[Identity] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed and not self.interrupted


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch, raised after the gradebook and summary of what was graded were written."""

    def __init__(self, result: BatchResult) -> None:
        super().__init__("the batch was interrupted")
        self.result = result


def make_executor(options: BatchOptions) -> Executor:
    if options.scheduler:
        return DaskExecutor(options.scheduler, options.entry_timeout_s)
    return LocalExecutor(options.jobs, options.entry_timeout_s)


def _log_graded(entry: str, status: str, digest: str) -> None:
    path = os.environ.get(BATCH_LOG_VARIABLE)
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{entry}\t{status}\t{digest}\n".encode())
    finally:
        os.close(fd)


class _Batch:
    """State of one run; :func:`run_batch` is the public face."""

    def __init__(self, class_dir: Path, out_dir: Path, options: BatchOptions, progress: BatchProgress):
        self.options = options
        self.progress = progress
        self.assignment = assignments.load(options.assignment)
        self.fingerprint = assignment_fingerprint(self.assignment.data)
        self.discovery = discover(class_dir, exclude=[out_dir], layout=options.layout)
        self.store = OutputStore(out_dir)
        self.entries = {e.name: e for e in self.discovery.entries}
        self.warnings = list(self.discovery.warnings)
        self.keys: dict[str, dict[str, Any]] = {}
        self.outcomes: dict[str, EntryOutcome] = {}
        self.graded: list[str] = []

    def key(self, digest: str) -> dict[str, Any]:
        return {
            "content_hash": digest,
            "assignment": self.assignment.name,
            "assignment_fingerprint": self.fingerprint,
            "seed": self.options.seed,
            "profile": self.options.profile,
            "python": self.options.python or "",
            "limits": dict(sorted(self.options.limits.items())),
            "grader_version": grader_version(),
            "only": list(self.options.only),
            "sandbox": self.options.sandbox,
            "budget_s": self.options.budget_s,
        }

    def task(self, entry: Entry, digest: str) -> Task:
        return Task(
            entry=entry.name,
            path=str(entry.path.resolve()),
            content_hash=digest,
            assignment=self.options.assignment,
            assignment_fingerprint=self.fingerprint,
            seed=self.options.seed,
            profile=self.options.profile,
            python=self.options.python,
            grader_version=grader_version(),
            limits=dict(self.options.limits),
            only=list(self.options.only),
            sandbox=self.options.sandbox,
            budget_s=self.options.budget_s,
            lanes=1 if self.options.jobs > 1 else None,
        )

    def record(self, outcome: EntryOutcome) -> None:
        self.outcomes[outcome.entry] = outcome
        self.progress.advance(len(self.outcomes), len(self.discovery.entries), outcome)

    def commit(self, result: Result) -> None:
        entry, key = self.entries[result.entry], self.keys[result.entry]
        if result.status == FAILED:
            self.store.record_failure(entry.name, result.error)
            outcome = EntryOutcome(entry.name, entry.source, FAILED, error=result.error)
        else:
            details = {"source": entry.source, "score": result.score, "max_score": result.max_score,
                       "duration_s": result.duration_s}
            self.store.commit(entry.name, key, result.status, result.files, details)
            outcome = EntryOutcome(entry.name, entry.source, result.status, result.report)
            self.graded.append(entry.name)
        _log_graded(entry.name, result.status, key["content_hash"])
        self.record(outcome)

    def run(self, executor: Executor | None) -> BatchResult:
        entries = self.entries
        with self.store.locked():
            for name, entry in list(entries.items()):
                entries[name], problems = stage_parts(entry, self.store.root)
                self.warnings += problems
            self.keys = {name: self.key(content_hash(e.path)) for name, e in entries.items()}
            kept = {}
            for name in entries:
                manifest = self.store.committed(name, self.keys[name]) if self.options.resume else None
                if manifest is not None:
                    kept[name] = manifest
            tasks = [
                self.task(e, self.keys[n]["content_hash"]).to_json() for n, e in entries.items() if n not in kept
            ]
            own = executor is None
            runner = executor if executor is not None else make_executor(self.options)
            interrupted = False
            try:
                self.progress.start(len(entries), len(tasks), runner.description)
                for name, manifest in kept.items():
                    self.record(EntryOutcome(name, entries[name].source, str(manifest.get("status")),
                                             self.store.report(name), reused=True))
                pending = set(entries) - set(kept)
                for text in runner.run(tasks):
                    try:
                        result = parse_result(text, pending)
                    except ValueError as exc:
                        self._unattributable(text, pending, exc)
                        continue
                    pending.discard(result.entry)
                    self.commit(result)
                for name in sorted(pending):
                    self.commit(Result(name, FAILED, error="no result came back from the executor"))
            except KeyboardInterrupt:
                interrupted = True
            finally:
                self.progress.close()
                if own:
                    runner.close()
            finished = self.finish(interrupted)
            if interrupted:
                raise BatchInterrupted(finished)
            return finished

    def _unattributable(self, text: object, pending: set[str], exc: ValueError) -> None:
        """A malformed result: fail its entry if it names one, otherwise it stays pending (and fails)."""
        try:
            entry = json.loads(text)["entry"] if isinstance(text, str) else None
        except (ValueError, TypeError, KeyError):
            entry = None
        if isinstance(entry, str) and entry in pending:
            pending.discard(entry)
            self.commit(Result(entry, FAILED, error=f"malformed result from the grading worker: {exc}"))

    def finish(self, interrupted: bool = False) -> BatchResult:
        not_reached = "not graded: the batch was interrupted first (nngrade batch --resume grades it)"
        ordered = [dataclasses.replace(self.outcomes.get(e.name) or EntryOutcome(e.name, e.source, PENDING,
                                                                                 error=not_reached),
                                       students=e.students)
                   for e in self.discovery.entries]
        warnings, missing, not_on_roster = list(self.warnings), [], []
        if self.options.roster is not None:
            check = check_roster(self.options.roster, self.discovery.entries)
            missing, not_on_roster = check.missing, check.warnings
            warnings += not_on_roster
            ordered = [dataclasses.replace(o, students=check.identities.get(o.entry, o.students)) for o in ordered]
        absent = [EntryOutcome("", "", MISSING, error="no submission in the class folder", students=(student,))
                  for student in missing]
        function_max = {g.spec.name: g.points for g in self.assignment.functions}
        gradebook = self.store.root / GRADEBOOK
        summary_path = self.store.root / SUMMARY
        write_gradebook(gradebook, list(function_max), self.assignment.max_score, ordered + absent)
        summary = summarise(self.assignment.name, self.assignment.title, function_max,
                            self.assignment.max_score, ordered, missing=missing, not_on_roster=not_on_roster)
        write_summary(summary_path, summary)
        return BatchResult(
            out_dir=self.store.root,
            outcomes=ordered,
            graded=self.graded,
            failed=[o.entry for o in ordered if o.status == FAILED],
            ignored=self.discovery.ignored,
            gradebook=gradebook,
            summary=summary_path,
            interrupted=interrupted,
            layout=self.discovery.layout,
            warnings=warnings,
            missing=missing,
        )


def run_batch(
    class_dir: Path,
    out_dir: Path,
    options: BatchOptions,
    *,
    executor: Executor | None = None,
    progress: BatchProgress | None = None,
) -> BatchResult:
    """Grade every entry of ``class_dir`` into ``out_dir`` (see the module docstring).

    Raises :class:`graders.batch.discover.ClassFolderError` (nothing to grade),
    :class:`graders.assignment.AssignmentError`, :class:`graders.batch.store.OutputLocked` and
    :class:`graders.batch.executors.ExecutorError` before grading anything; after that, one entry's
    failure is recorded in the result (``failed``) and never stops the others.
    """
    return _Batch(Path(class_dir), Path(out_dir), options, progress or PlainProgress()).run(executor)

