"""What the batch knows about one entry at the end: the input of the gradebook and the class summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graders.batch.lms import Identity
from graders.report.text import clean_text, one_line

#: The status of an entry an interrupted batch did not get to (no grade; ``--resume`` grades it).
PENDING = "pending"
#: The status of a roster student who handed nothing in (``--roster``): a gradebook row without a score.
MISSING = "missing"


@dataclass(frozen=True)
class EntryOutcome:
    """``status`` is "graded", "unreadable" (graded as all-missing), "failed" (no grade: see ``error``) or
    "pending" (not graded: the batch was interrupted first) or "missing" (a roster student without an entry);
    ``report`` is the entry's report.json (None when failed, pending or missing); ``reused`` when --resume kept
    an earlier grade; ``students`` who handed it in, as an LMS export or the roster says."""

    entry: str
    source: str
    status: str
    report: dict[str, Any] | None = None
    error: str = ""
    reused: bool = False
    students: tuple[Identity, ...] = ()

    def __post_init__(self) -> None:
        # The name as handed in and an error's text can hold anything a student or a crash put there: keep
        # them printable wherever an outcome is shown (summary, terminal, gradebook).
        object.__setattr__(self, "source", one_line(self.source))
        object.__setattr__(self, "error", clean_text(self.error))

    @property
    def has_grade(self) -> bool:
        return self.report is not None
