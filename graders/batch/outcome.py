"""What the batch knows about one entry at the end: the input of the gradebook and the class summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EntryOutcome:
    """``status`` is "graded", "unreadable" (graded as all-missing) or "failed" (no grade: see ``error``);
    ``report`` is the entry's report.json (None when failed); ``reused`` when --resume kept an earlier grade."""

    entry: str
    source: str
    status: str
    report: dict[str, Any] | None = None
    error: str = ""
    reused: bool = False

    @property
    def has_grade(self) -> bool:
        return self.report is not None
