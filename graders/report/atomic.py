"""Atomic file replacement, so a reader never sees half a report.

WHY: ``nngrade batch --resume`` and course tooling decide from the presence of a report whether a student
was graded. A crash, a full disk or a kill while writing must leave either the previous file or none,
never a truncated one. Writing to a temporary file in the same directory and renaming it over the target
with ``os.replace`` gives exactly that on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

REPORT_FILE_MODE = 0o644  # reports are meant to be read by instructors and course tools, not kept private


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary sibling file and ``os.replace``; on any failure the
    temporary file is removed and ``path`` keeps its previous content (or stays absent)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, REPORT_FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
