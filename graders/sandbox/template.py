"""A folder tree read once and written again for every worker: its fresh copy of the staged submission and of
the support modules.

WHY: every function's worker gets a copy of its own (student code may write to it), and ``shutil.copytree``
stats, copies and re-stamps each file and folder of both trees, then the copies had to be walked again to make
them readable by the worker's uid: several milliseconds a worker, on the thread that launches the next workers
(with two functions graded at once, workers are needed about every 15 ms). Here the trees are listed once, small
files are kept in memory, and each copy is written with its final modes (folders 0755, files 0644: readable by
the worker's uid, writable only by the grader's), no walk afterwards.

Only folders and regular files are copied; a link (staging never produces one) is skipped, and no link is
followed while listing or writing (``O_NOFOLLOW``, ``O_EXCL``: a file is always created, never opened).
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

#: Files up to this size are kept in memory; larger ones (a data set a notebook reads) are copied from the
#: source folder each time (the kernel copies them: ``sendfile``).
IN_MEMORY_BYTES = 256 << 10
FOLDER_MODE = 0o755
FILE_MODE = 0o644
#: The flags word of a hash-based ``.pyc`` whose source is not checked (PEP 552: bit 0 hash-based, bit 1 check).
UNCHECKED_HASH = 0b01


@dataclass
class Tree:
    """The folders (relative paths, parents first) and files of a tree: each file's bytes, or None when it is
    copied from ``source`` on every write."""

    source: Path
    folders: list[str] = field(default_factory=list)
    files: dict[str, bytes | None] = field(default_factory=dict)
    #: what add_bytecode added (files and folders), for drop_bytecode
    bytecode: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, source: Path, skip: frozenset[str] = frozenset()) -> Tree:
        """List ``source`` (folders named in ``skip`` are left out, at any depth)."""
        tree = cls(source)
        pending = [""]
        while pending:
            relative = pending.pop()
            with os.scandir(source / relative if relative else source) as listing:
                for entry in sorted(listing, key=lambda e: e.name):
                    path = f"{relative}/{entry.name}" if relative else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name not in skip:
                            tree.folders.append(path)
                            pending.append(path)
                    elif entry.is_file(follow_symlinks=False):
                        size = entry.stat(follow_symlinks=False).st_size
                        tree.files[path] = _read(entry.path) if size <= IN_MEMORY_BYTES else None
        tree.folders.sort(key=lambda p: p.count("/"))
        return tree

    def add_bytecode(self) -> int:
        """Add the bytecode of each Python file (kept in memory) where the worker's import finds it, as an
        unchecked hash-based ``.pyc`` (PEP 552): every worker of the session imports the modules without
        compiling them again (a few milliseconds each time). Only for a worker interpreter of this one's
        version (the caller checks): a ``.pyc`` of another version would be ignored anyway.

        Compiling runs nothing of the file (the grader parses the same sources for its import scan). A file
        that does not compile, or compiles with a warning, is left to the worker, so that it reports the error
        or prints the warning exactly as before. Returns how many files got bytecode."""
        added = 0
        for name, data in list(self.files.items()):
            if data is None or not name.endswith(".py"):
                continue
            folder, _, stem = name.rpartition("/")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    code = compile(data, name, "exec", dont_inherit=True)
            except (SyntaxError, ValueError, Warning, MemoryError, RecursionError):
                continue
            cache = f"{folder}/__pycache__" if folder else "__pycache__"
            if cache not in self.folders:
                self.folders.append(cache)
                self.bytecode.append(cache)
            pyc = f"{cache}/{stem[:-3]}.{sys.implementation.cache_tag}.pyc"
            self.files[pyc] = (importlib.util.MAGIC_NUMBER + UNCHECKED_HASH.to_bytes(4, "little")
                               + importlib.util.source_hash(data) + marshal.dumps(code))
            self.bytecode.append(pyc)
            added += 1
        self.folders.sort(key=lambda p: p.count("/"))
        return added

    def drop_bytecode(self) -> None:
        """Take back what add_bytecode added (it was compiled before the worker's version was known, and that
        turned out to differ)."""
        for name in self.bytecode:
            self.files.pop(name, None)
            if name in self.folders:
                self.folders.remove(name)
        self.bytecode.clear()

    def write(self, target: Path) -> None:
        """Create ``target`` (it must not exist) holding a copy of the tree."""
        os.mkdir(target, FOLDER_MODE)
        os.chmod(target, FOLDER_MODE)  # whatever the umask
        for folder in self.folders:
            os.mkdir(target / folder, FOLDER_MODE)
            os.chmod(target / folder, FOLDER_MODE)
        for name, data in self.files.items():
            path = target / name
            if data is None:
                shutil.copyfile(self.source / name, path, follow_symlinks=False)
                os.chmod(path, FILE_MODE)
                continue
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
            try:
                os.fchmod(handle, FILE_MODE)
                view = memoryview(data)
                while view:
                    view = view[os.write(handle, view):]
            finally:
                os.close(handle)


def _read(path: str) -> bytes:
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        with os.fdopen(handle, "rb", closefd=False) as stream:
            return stream.read()
    finally:
        os.close(handle)
