"""The batch output folder: per-entry report folders, their manifests, and the lock that keeps one batch
writing at a time.

WHY a manifest written last: ``DIR/<entry>/.nngrade-entry.json`` says "the report files in this folder are
the grading of this content hash, with this assignment, seed, profile and grader version", and lists the
sha256 of each file. A commit removes the old manifest first, writes the report files (each atomically), and
writes the new manifest last, atomically. A batch killed at any moment therefore leaves every entry either
committed (manifest present, files complete and matching) or not (no manifest: graded again on --resume);
never a half-written folder that looks done. A report file deleted or edited afterwards no longer matches
its recorded hash, so --resume grades that entry again instead of trusting it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from graders.report.atomic import write_atomic

MANIFEST = ".nngrade-entry.json"
MANIFEST_SCHEMA = "nngrade.batch-entry/1"
ERROR_FILE = "error.txt"
LOCK_FILE = ".nngrade-batch.lock"


class OutputLocked(Exception):
    """Another batch is writing to the same output folder."""


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class OutputStore:
    def __init__(self, out_dir: Path) -> None:
        self.root = out_dir

    def entry_dir(self, entry: str) -> Path:
        return self.root / entry

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the output folder (released by the OS even on SIGKILL)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputLocked(f"another nngrade batch is writing to {self.root}") from None
            yield
        finally:
            os.close(fd)

    # -------------------------------------------------------------- reading
    def manifest(self, entry: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.entry_dir(entry) / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("schema") == MANIFEST_SCHEMA else None

    def committed(self, entry: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The entry's manifest if it records exactly ``key`` and every report file is intact, else None."""
        manifest = self.manifest(entry)
        if manifest is None or manifest.get("key") != dict(key):
            return None
        files = manifest.get("files")
        if not isinstance(files, dict) or not files:
            return None
        for name, digest in files.items():
            try:
                data = (self.entry_dir(entry) / name).read_bytes()
            except OSError:
                return None
            if _sha256(data) != digest:
                return None
        return manifest

    def report(self, entry: str) -> dict[str, Any]:
        data = json.loads((self.entry_dir(entry) / "report.json").read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{entry}/report.json is not a JSON object")
        return data

    def error(self, entry: str) -> str:
        try:
            return (self.entry_dir(entry) / ERROR_FILE).read_text(encoding="utf-8")
        except OSError:
            return ""

    # -------------------------------------------------------------- writing
    def commit(self, entry: str, key: Mapping[str, Any], status: str, files: Mapping[str, bytes],
               details: Mapping[str, Any]) -> None:
        """Replace the entry's reports with ``files`` (written in their order) and record ``key``."""
        folder = self.entry_dir(entry)
        folder.mkdir(parents=True, exist_ok=True)
        self._forget(folder)
        for name, data in files.items():
            write_atomic(folder / name, data)
        manifest = {
            "schema": MANIFEST_SCHEMA,
            "entry": entry,
            "status": status,
            "key": dict(key),
            "files": {name: _sha256(data) for name, data in files.items()},
            **details,
        }
        write_atomic(folder / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())

    def record_failure(self, entry: str, message: str) -> None:
        """The entry could not be graded: no manifest (so --resume retries it), the reason in error.txt."""
        folder = self.entry_dir(entry)
        folder.mkdir(parents=True, exist_ok=True)
        self._forget(folder)
        write_atomic(folder / ERROR_FILE, (message.rstrip() + "\n").encode("utf-8"))

    @staticmethod
    def _forget(folder: Path) -> None:
        for name in (MANIFEST, ERROR_FILE):
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
