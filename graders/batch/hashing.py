"""Fingerprints that decide whether an earlier batch result still stands (``--resume``).

WHY hash only the sources: the grader reads nothing but a submission's ``.py`` and ``.ipynb`` files (outside
``__pycache__``, ``.git``, ``__MACOSX``, ...; see :mod:`graders.submission`). Student folders often carry the
course's data sets (CIFAR-10 is 170 MB), and hashing those for every student at every resume would cost more
than grading; a change to them cannot change the grade anyway. An archive or single file is hashed whole.

The folder hash covers each source's relative POSIX path, size and bytes, in sorted order, so renaming or
moving a file changes it and the order in which the file system lists files does not.

WHY the same care as staging: this runs in the trusted batch process over student-controlled folders. Links
are never followed, only regular files are opened (non-blocking, so a FIFO cannot stall the batch), and at most
``MAX_HASHED_BYTES`` of one file are read (staging ignores larger sources anyway).
"""

from __future__ import annotations

import hashlib
import os
import stat
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from graders.assignment import assignment_fingerprint
from graders.submission import SKIP_DIRS

__all__ = ["assignment_fingerprint", "content_hash", "grader_version", "source_files"]

SOURCE_SUFFIXES = (".py", ".ipynb")
_CHUNK = 1 << 20
#: Bytes of one file read for its hash (its size is hashed too, so a change past the limit still shows).
MAX_HASHED_BYTES = 256 << 20


def _feed_file(digest: Any, path: Path, follow: bool = False) -> None:
    """Hash a regular file's size and first MAX_HASHED_BYTES; a link (unless ``follow``: the submission path
    the instructor gave), a FIFO or a device contributes a marker instead of its content."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError:
        digest.update(b"unreadable\0")
        return
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            digest.update(b"not a regular file\0")
            return
        digest.update(info.st_size.to_bytes(8, "big"))
        left = MAX_HASHED_BYTES
        while left > 0 and (chunk := handle.read(min(_CHUNK, left))):
            digest.update(chunk)
            left -= len(chunk)


def source_files(folder: Path) -> list[str]:
    """Relative POSIX paths of the sources the grader would stage from ``folder``, sorted; links (to files or
    folders) are not followed, as staging does not follow them."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        relroot = Path(root).relative_to(folder)
        for name in files:
            path = Path(root) / name
            if path.suffix in SOURCE_SUFFIXES and not path.is_symlink():
                found.append((relroot / name).as_posix())
    return sorted(found)


def content_hash(submission: Path) -> str:
    """``sha256:<hex>`` of what grading reads from ``submission`` (a folder, .zip, .py or .ipynb)."""
    digest = hashlib.sha256()
    if submission.is_dir():
        digest.update(b"nngrade-folder/1\0")
        for relpath in source_files(submission):
            digest.update(relpath.encode("utf-8", "surrogateescape") + b"\0")
            _feed_file(digest, submission / relpath)
    else:
        digest.update(b"nngrade-file/1\0")
        _feed_file(digest, submission, follow=True)
    return "sha256:" + digest.hexdigest()


@cache
def grader_version() -> str:
    """The installed nngrade version (what ``nngrade --version`` prints)."""
    try:
        return metadata.version("nngrade")
    except metadata.PackageNotFoundError:
        return "unknown"
