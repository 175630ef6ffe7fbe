"""Progress of a batch: a rich progress bar with ETA on a terminal, one plain line per entry otherwise.

WHY two forms: a bar redrawn in place is what a person watching a terminal wants; in a CI log, a cron mail or
a file it becomes a mess of control characters, and a line per entry (``graded 3/40 alice 57/67``) is greppable.
"""

from __future__ import annotations

import sys
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from graders.batch.gradebook import format_points
from graders.batch.outcome import EntryOutcome


class BatchProgress(Protocol):
    def start(self, total: int, to_grade: int, description: str) -> None: ...

    def advance(self, done: int, total: int, outcome: EntryOutcome) -> None: ...

    def close(self) -> None: ...


def describe_outcome(done: int, total: int, outcome: EntryOutcome) -> str:
    """``graded 3/40 alice 57/67`` (``skipped`` when kept from an earlier run, ``FAILED`` with the reason)."""
    if outcome.report is None:
        reason = outcome.error.strip().splitlines()[-1] if outcome.error.strip() else "no result"
        return f"FAILED {done}/{total} {outcome.entry}: {reason}"
    verb = "skipped" if outcome.reused else "graded"
    score = f"{format_points(outcome.report.get('score'))}/{format_points(outcome.report.get('max_score'))}"
    notes = [n for n, on in (("already graded", outcome.reused), ("unreadable submission",
                                                                   outcome.status == "unreadable")) if on]
    return f"{verb} {done}/{total} {outcome.entry} {score}" + (f" ({'; '.join(notes)})" if notes else "")


class PlainProgress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def start(self, total: int, to_grade: int, description: str) -> None:
        print(f"grading {to_grade} of {total} entries with {description}", file=self.stream, flush=True)

    def advance(self, done: int, total: int, outcome: EntryOutcome) -> None:
        print(describe_outcome(done, total, outcome), file=self.stream, flush=True)

    def close(self) -> None:
        pass


class RichProgress:
    """The bar counts only entries graded in this run, so entries kept by --resume do not skew the ETA."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[last]}", style="dim", markup=False),
            console=self.console,
        )
        self.task: TaskID | None = None
        self.reused = 0

    def start(self, total: int, to_grade: int, description: str) -> None:
        if total > to_grade:
            self._say(f"{total - to_grade} of {total} entries already graded (--resume): kept")
        self._say(f"grading {to_grade} entries with {description}")
        self.progress.start()
        self.task = self.progress.add_task("grading", total=to_grade, last="")

    def advance(self, done: int, total: int, outcome: EntryOutcome) -> None:
        if outcome.reused or self.task is None:
            return
        if outcome.report is None:
            self._say(describe_outcome(done, total, outcome), style="red")
        last = describe_outcome(done, total, outcome).split(" ", 2)[2]
        self.progress.update(self.task, advance=1, last=last)

    def close(self) -> None:
        self.progress.stop()

    def _say(self, text: str, style: str | None = None) -> None:
        """Print above the bar, verbatim: entry names and error messages are not rich markup."""
        self.progress.console.print(text, style=style, markup=False, highlight=False)


def make_progress(quiet: bool = False) -> BatchProgress:
    """A bar when stdout is a terminal, plain lines otherwise (``quiet``: plain lines to nowhere)."""
    if quiet:
        return _Silent()
    console = Console()
    return RichProgress(console) if console.is_terminal else PlainProgress()


class _Silent:
    def start(self, total: int, to_grade: int, description: str) -> None:
        pass

    def advance(self, done: int, total: int, outcome: EntryOutcome) -> None:
        pass

    def close(self) -> None:
        pass
