"""Fingerprints that decide whether an earlier batch result still stands (``--resume``).

WHY hash only the sources: the grader reads nothing but a submission's ``.py`` and ``.ipynb`` files (outside
``__pycache__``, ``.git``, ``__MACOSX``, ...; see :mod:`graders.submission`). Student folders often carry the
course's data sets (CIFAR-10 is 170 MB), and hashing those for every student at every resume would cost more
than grading; a change to them cannot change the grade anyway. An archive or single file is hashed whole.

The folder hash covers each source's relative POSIX path, size and bytes, in sorted order, so renaming or
moving a file changes it and the order in which the file system lists files does not.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from graders.submission import SKIP_DIRS

SOURCE_SUFFIXES = (".py", ".ipynb")
_CHUNK = 1 << 20


def _feed_file(digest: Any, path: Path) -> None:
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)


def source_files(folder: Path) -> list[str]:
    """Relative POSIX paths of the sources the grader would stage from ``folder``, sorted; symlinked
    folders are not followed (neither does staging)."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        relroot = Path(root).relative_to(folder)
        for name in files:
            path = Path(root) / name
            if path.suffix in SOURCE_SUFFIXES and path.is_file():
                found.append((relroot / name).as_posix())
    return sorted(found)


def content_hash(submission: Path) -> str:
    """``sha256:<hex>`` of what grading reads from ``submission`` (a folder, .zip, .py or .ipynb)."""
    digest = hashlib.sha256()
    if submission.is_dir():
        digest.update(b"nngrade-folder/1\0")
        for relpath in source_files(submission):
            path = submission / relpath
            digest.update(relpath.encode("utf-8", "surrogateescape") + b"\0")
            digest.update(path.stat().st_size.to_bytes(8, "big"))
            _feed_file(digest, path)
    else:
        digest.update(b"nngrade-file/1\0")
        _feed_file(digest, submission)
    return "sha256:" + digest.hexdigest()


def assignment_fingerprint(definition: dict[str, Any]) -> str:
    """``sha256:<hex>`` of an assignment's merged definition (functions, points, options, module paths), so
    editing the points in a .toml invalidates earlier grades even though the name stayed the same."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@cache
def grader_version() -> str:
    """The installed nngrade version (what ``nngrade --version`` prints)."""
    try:
        return metadata.version("nngrade")
    except metadata.PackageNotFoundError:
        return "unknown"
