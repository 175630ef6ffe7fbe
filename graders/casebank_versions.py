"""The case bank's folder, one subfolder per version of the grader's code, and the removal of old versions.

WHY: a bank file's key includes a hash of the grader's and the reference's code (graders/casebank.py), so every
upgrade of nngrade, every course spec edited and every NumPy upgrade starts a new set of files (a few hundred MB
per assignment, seed and profile), and nothing ever reads the old set again. Kept in one folder, they made the
user's cache grow without bound (4.9 GB on the development machine within a week). Each code version now has a
folder of its own, named by its hash, and a process that opens the bank removes the versions nobody has used
lately: all but the :data:`KEEP_OTHER_VERSIONS` most recently used other versions, and only those unused for
:data:`GRACE_S` (a batch's processes on another version, or a Dask worker not yet upgraded, keep theirs while
they run; were theirs removed under them, they would only rebuild what they miss: a missing bank file is a miss,
and a bank file that cannot be written costs only speed).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from graders.isolation import remove_tree

#: Other code versions whose banks are kept besides the running one's (most recently used first).
KEEP_OTHER_VERSIONS = 2
#: A version's bank used within this many seconds is never removed.
GRACE_S = 3600.0
#: File whose modification time says when the version's bank was last opened.
MARKER = ".used"
VERSION_NAME = re.compile(r"[0-9a-f]{16}")
#: The layout before versions had folders: ``<2 hex digits>/<sha256>.bank`` straight under the bank folder.
_OLD_SHARD = re.compile(r"[0-9a-f]{2}")
_OLD_FILE = re.compile(r"[0-9a-f]{64}\.bank|\.tmp-.*")


def version_folder(root: Path, code_fingerprint: str) -> Path:
    """Where the bank files of this code version go."""
    return root / code_fingerprint[:16]


@functools.cache
def open_version(root: Path, code_fingerprint: str) -> list[str]:
    """Once per process and version: mark the version's bank as used now and remove the old ones
    (:func:`remove_unused`). Returns the names removed."""
    current = version_folder(root, code_fingerprint)
    try:
        current.mkdir(parents=True, exist_ok=True)
        (current / MARKER).touch()
    except OSError:  # a read-only cache: nothing is written, so nothing grows
        return []
    return remove_unused(root, current.name)


@dataclass(frozen=True)
class BankVersion:
    """One code version's folder in the bank (``nngrade cache`` lists them)."""

    name: str
    size_bytes: int
    last_used: float  # seconds since the epoch
    current: bool  # the running code's own


def versions_in(root: Path, current: str) -> list[BankVersion]:
    """The bank's version folders (and folders of the old layout), most recently used first."""
    found = [BankVersion(folder.name, _size(folder), _last_used(folder), folder.name == current)
             for folder in _bank_folders(root)]
    return sorted(found, key=lambda v: (not v.current, -v.last_used, v.name))


def clear(root: Path) -> list[str]:
    """Remove every folder the bank wrote (every version's, the running one's included; they are rebuilt when
    next needed), nothing else. Returns the names removed."""
    removed = []
    for folder in _bank_folders(root):
        remove_tree(folder)
        removed.append(folder.name)
    return sorted(removed)


def _bank_folders(root: Path) -> list[Path]:
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False) and (
        VERSION_NAME.fullmatch(e.name)
        or (_OLD_SHARD.fullmatch(e.name) and _holds_only_old_bank_files(Path(e.path))))]


def _size(folder: Path) -> int:
    total = 0
    for parent, _folders, files in os.walk(folder):  # never follows a link
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(parent, name)).st_size
    return total


def remove_unused(root: Path, current: str, now: float | None = None) -> list[str]:
    """Remove from ``root`` the version folders other than ``current`` beyond the KEEP_OTHER_VERSIONS most
    recently used, when unused for GRACE_S, and folders of the old unversioned layout. Only real folders named
    as this module names them are touched (never a link, never anything else a user keeps there)."""
    now = time.time() if now is None else now
    versions: list[tuple[float, Path]] = []
    unused: list[tuple[float, Path]] = []  # beyond those kept
    for folder in _bank_folders(root):
        if folder.name == current:
            continue
        (versions if VERSION_NAME.fullmatch(folder.name) else unused).append((_last_used(folder), folder))
    versions.sort(reverse=True)
    removed = []
    for used, folder in versions[KEEP_OTHER_VERSIONS:] + unused:
        if now - used >= GRACE_S:
            remove_tree(folder)
            removed.append(folder.name)
    return sorted(removed)


def _last_used(folder: Path) -> float:
    for path in (folder / MARKER, folder):
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISLNK(info.st_mode):
            return info.st_mtime
    return 0.0


def _holds_only_old_bank_files(folder: Path) -> bool:
    try:
        return all(entry.is_file(follow_symlinks=False) and _OLD_FILE.fullmatch(entry.name)
                   for entry in os.scandir(folder))
    except OSError:
        return False
