"""Turning whatever a student handed in into a folder of Python modules the worker can import.

A submission is a ``.py`` file, a folder (modules found at any depth, e.g. ``hw2/cs231n/layers.py``), a ``.zip``
(no absolute or ``..`` paths) or a ``.ipynb`` (code cells only, IPython magics and shell lines stripped, each
cell guarded so one failing cell does not hide the definitions of the others). Only Python sources are staged:
datasets and checkpoints stay behind.

WHY so careful: the grader runs as root in CI and batch setups, and everything in a submission is hostile.
Staging reads the submission in the grader's own process, before any sandbox exists, so it must not become a
way to read files the student may not (``/etc/shadow``, a classmate's ``layers.py``, the grader's own
``reference/`` package), to hang the grader, or to exhaust its memory or disk. Hence:

* **No link is followed** inside a submission: neither a symbolic link (to a file or a folder, in a folder or as
  a zip entry) nor a hard link (a regular file with more than one name). Each is skipped with a warning naming
  it. The folder walk holds a descriptor of each folder (``os.fwalk``) and opens each file relative to it with
  ``O_NOFOLLOW``, then checks the opened descriptor, so swapping a file for a link while staging runs gains
  nothing. Only the path the instructor passes (the submission itself) may be a link: it is resolved once.
* **Only regular files are read**, opened non-blocking and read to at most their cap plus one byte, so a FIFO,
  a device or a file that keeps growing can neither hang nor flood staging.
* **Caps**, each named in the message that reports it. A cap on one part of a submission skips that part with
  a warning and the rest is graded: :data:`MAX_FILE_BYTES` per source, :data:`MAX_DEPTH` folder levels (one
  warning for all deeper folders). A cap on the whole submission (:data:`MAX_FILES` sources,
  :data:`MAX_TOTAL_BYTES` of sources, :data:`MAX_ENTRIES` files and folders listed, all counted while walking,
  so a folder of a million data files stops early) stops staging with a warning, and what was staged is
  graded; it is a :class:`SubmissionError` (exit status 2) only when staging stopped before any of the
  assignment's modules was found, because "everything missing" would then be the cap's doing, not the
  student's. A zip whose central directory is larger than :data:`MAX_ZIP_DIRECTORY_BYTES` is refused: zipfile
  parses all of it before the first member can be listed.
* **Hostile content never crashes staging**: a notebook nested too deeply for ``json`` or with the wrong types
  anywhere, source nested too deeply for ``ast``, a zip member with an unsupported compression, encryption or
  corrupt data is skipped with a warning and the rest graded (a notebook that is the whole submission and
  cannot be read is a :class:`SubmissionError`).

Sources are staged in the same order from a folder and from a zip: a folder's files (``.py`` before ``.ipynb``,
so a module wins over a notebook of the same name) before its subfolders, each sorted by name.
"""

from __future__ import annotations

import ast
import errno
import json
import keyword
import os
import re
import shutil
import stat
import struct
import sys
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

#: Largest source file staged from a folder or zip (a larger one is skipped with a warning). A single-file
#: submission may be up to MAX_TOTAL_BYTES: it is all there is, and a notebook with its plots can be large.
MAX_FILE_BYTES = 5 << 20
#: Most bytes of sources (as read, before notebooks are converted) staged from one submission. The course's
#: own sources are well under 1 MiB; this leaves room for notebooks with outputs and bounds disk and memory.
MAX_TOTAL_BYTES = 50 << 20
#: Most source files staged from one submission.
MAX_FILES = 2000
#: Deepest folder level searched for sources (``a/b/c.py`` lies at level 2). Course layouts are 4 levels deep
#: at most, LMS exports add one or two; fwalk holds one descriptor per level.
MAX_DEPTH = 24
#: Most files and folders (sources or not) listed while searching a submission for its sources.
MAX_ENTRIES = 100_000
#: Largest zip central directory read: zipfile parses all of it (about 1 KiB of memory per entry) before the
#: first member can be listed. 8 MiB is about 100,000 entries with names of 40 characters.
MAX_ZIP_DIRECTORY_BYTES = 8 << 20
SOURCE_SUFFIXES = (".py", ".ipynb")
SKIP_DIRS = {
    "__pycache__",
    ".git",
    ".hypothesis",
    ".ipynb_checkpoints",
    "__MACOSX",
    "node_modules",
    ".venv",
    "venv",
}
#: Compressions whose decoder zipfile bounds by the bytes asked for. A bzip2 or LZMA member can expand a few
#: KiB into gigabytes in one decoder call; students' zip tools write deflate anyway.
READABLE_COMPRESSIONS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
_LINK = "is a symbolic link; links are not followed"
_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}
_ZIP_END = struct.Struct("<4s4H2LH")  # end of central directory record (APPNOTE 4.3.16)
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # zip64 end of central directory locator (4.3.15)
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record (4.3.14)


class SubmissionError(Exception):
    """The submission path cannot be read as a submission at all (exit status 2)."""


class _Skipped(Exception):
    """One file cannot be staged; the message completes the sentence "<path> ..." and says why."""


@dataclass(frozen=True)
class LocatedModule:
    key: str
    relpath: str  # path of the module file inside the staged folder
    dotted: str  # the name to import it by
    import_root: str  # folder (relative to the staged folder) to put on sys.path
    handed_in: str = ""  # the file as the student named it (dan.ipynb for a staged dan.py); relpath if empty

    @property
    def shown(self) -> str:
        """The name messages use: the file as handed in."""
        return self.handed_in or self.relpath


@dataclass
class Staged:
    root: Path
    modules: dict[str, LocatedModule]
    warnings: list[str] = field(default_factory=list)

    @property
    def sys_path(self) -> list[str]:
        roots: list[str] = []
        for module in self.modules.values():
            for entry in (module.import_root, str(PurePosixPath(module.relpath).parent)):
                if entry not in roots:
                    roots.append(entry)
        return roots


def _shown(path: str) -> str:
    """``path`` fit for a line of a report: undecodable bytes and control characters escaped (a newline in a
    file name must not forge a line of report.md)."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _size(limit: int) -> str:
    return f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit} bytes"


# ------------------------------------------------------------------ notebooks
def _strip_ipython(source: str) -> str:
    kept = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            indent = line[: len(line) - len(stripped)]
            kept.append(f"{indent}pass  # nngrade: IPython line removed")
        else:
            kept.append(line)
    return "\n".join(kept)


def _notebook_cells(text: str, name: str) -> list[object]:
    """The notebook's list of cells; SubmissionError when the text is not a notebook, however it fails (deep
    nesting makes ``json`` raise RecursionError, a huge integer ValueError)."""
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError, MemoryError) as exc:
        why = "it is nested too deeply" if isinstance(exc, (RecursionError, MemoryError)) else str(exc)
        raise SubmissionError(f"{name} is not a readable Jupyter notebook: {why}") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise SubmissionError(f"{name} is not a readable Jupyter notebook: it has no list of cells")
    return cells


def _cell_code(cell: object) -> str | None:
    """A code cell's source as one string; None for any other cell. Raises _Skipped when the source is not
    text (nbformat allows a string or a list of strings; anything else is hostile or corrupt)."""
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return None
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    if isinstance(source, str):
        return source
    raise _Skipped("has a source that is not text")


def _parse_problem(source: str) -> str | None:
    """Why ``source`` cannot be parsed, or None. ``ast.parse`` raises more than SyntaxError on hostile input:
    RecursionError or MemoryError when nested too deeply, ValueError for NUL bytes (before Python 3.12)."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return f"has a syntax error (line {exc.lineno})"
    except (RecursionError, MemoryError):
        return "is nested too deeply to be parsed"
    except ValueError as exc:
        return f"cannot be parsed ({exc})"
    return None


def _split_futures(source: str) -> tuple[list[str], str]:
    """A cell's ``from __future__ import`` lines (they must open the module, not sit inside a cell's guard)
    and the rest of its source."""
    lines = source.splitlines()
    futures = [ln for ln in lines if ln.startswith("from __future__ import")]
    return futures, "\n".join(ln for ln in lines if ln not in futures)


def notebook_to_module(text: str, name: str) -> tuple[str, list[str]]:
    """Python source for a notebook's code cells, and warnings about cells that had to be dropped."""
    futures: list[str] = []
    parts = ["__nngrade_cell_errors__ = []"]
    warnings: list[str] = []
    for index, cell in enumerate(_notebook_cells(text, name)):
        try:
            source = _cell_code(cell)
        except _Skipped as skip:
            warnings.append(f"{name}: code cell {index + 1} {skip} and was skipped")
            continue
        if source is None or source.lstrip().startswith("%%"):
            continue  # not code, or a cell magic: the whole cell is not Python
        future_lines, source = _split_futures(_strip_ipython(source))
        # the future lines are parsed too: they go into the module unguarded (and must be valid text to write)
        problem = _parse_problem("\n".join(future_lines)) or (_parse_problem(source) if source.strip() else None)
        if problem:
            warnings.append(f"{name}: code cell {index + 1} {problem} and was skipped")
            continue
        futures += [ln for ln in future_lines if ln not in futures]
        if not source.strip():
            continue
        body = "\n".join("    " + line for line in source.splitlines()) or "    pass"
        parts.append(
            f"try:  # cell {index + 1}\n{body}\n    pass\n"
            f"except Exception as __nngrade_error__:\n"
            f"    __nngrade_cell_errors__.append(({index + 1}, repr(__nngrade_error__)))"
        )
    return "\n".join(futures + ["\n".join(parts)]) + "\n", warnings


# ------------------------------------------------------------------ what staging may still take
@dataclass
class _Staging:
    """One staging run: where sources go, how much of each cap is used, what the instructor must be told,
    and why staging stopped early (``stopped``), if a cap on the whole submission stopped it."""

    dest: Path
    archive: bool = False
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    total_bytes: int = 0
    listed: int = 0
    stopped: str | None = None
    too_deep: dict[str, None] = field(default_factory=dict)  # folders skipped as too deep, in order met
    #: staged module path -> the notebook it was converted from, so messages name the file as handed in
    notebooks: dict[str, str] = field(default_factory=dict)

    def skip(self, relpath: str, why: str) -> None:
        self.warnings.append(f"{_shown(relpath)} {why}, so it was not staged")

    def stop(self, reason: str) -> None:
        """Stop staging: a cap on the whole submission is reached. What was staged so far is graded."""
        if self.stopped is None:
            self.stopped = reason
            self.warnings.append(f"{reason}; what was staged before that is graded")

    def list_entries(self, count: int, after: str) -> bool:
        """Count ``count`` more listed files and folders; False (and stop) once more than MAX_ENTRIES."""
        self.listed += count
        if self.listed <= MAX_ENTRIES:
            return True
        self.stop(
            f"staging stopped after listing more than {MAX_ENTRIES} files and folders, the most it searches "
            f"in one submission: nothing after {_shown(after)} was searched for sources"
        )
        return False

    def admit(self, relpath: str, size: int) -> bool:
        """Count one more source of ``size`` bytes; False (and stop) when that would pass MAX_FILES or
        MAX_TOTAL_BYTES."""
        if self.files + 1 > MAX_FILES:
            limit = f"{MAX_FILES} Python sources"
        elif self.total_bytes + size > MAX_TOTAL_BYTES:
            limit = f"{_size(MAX_TOTAL_BYTES)} of Python sources" + (" (a zip bomb?)" if self.archive else "")
        else:
            self.files += 1
            self.total_bytes += size
            return True
        self.stop(
            f"staging stopped at the limit of {limit} per submission: {_shown(relpath)} and the sources "
            "after it were not staged"
        )
        return False

    def write(self, relpath: str, data: bytes, whole: bool = False) -> None:
        """Write one source into the staged folder; a notebook becomes a module. An unreadable notebook inside
        a folder or zip is skipped with a warning (the rest is graded); as the whole submission it is an error."""
        target = self.dest / relpath
        if relpath.endswith(".ipynb"):
            try:
                source, notes = notebook_to_module(data.decode("utf-8", "replace"), _shown(relpath))
            except SubmissionError as exc:
                if whole:
                    raise
                self.warnings.append(f"{exc}; it was skipped")
                return
            self.warnings.extend(notes)
            target = target.with_suffix(".py")
            if target.exists():
                return  # a .py of the same name wins over the notebook
            self.notebooks[target.relative_to(self.dest).as_posix()] = _shown(relpath)
            data = source.encode("utf-8", "backslashreplace")  # every cell was parsed: this replaces nothing
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:  # a zip's "a.py" and "a.py/b.py", a path too long for the staging folder
            self.skip(relpath, f"could not be written to the staging folder ({exc.strerror})")

    def finish(self) -> list[str]:
        """The warnings, with one for all folders skipped as too deep."""
        if self.too_deep:
            self.warnings.append(
                f"{len(self.too_deep)} folder(s) nested more than {MAX_DEPTH} levels deep were not searched "
                f"for sources (the first: {_shown(next(iter(self.too_deep)))})"
            )
        return self.warnings


def _file_order(name: str) -> tuple[bool, str]:
    """Sort key of the files of one folder: ``.py`` before ``.ipynb`` (a module wins over a notebook of the same
    name, which converts to the same path), then by name. Cheap: a folder may list a million names."""
    return name.endswith(".ipynb"), name


def _walk_order(relpath: str) -> tuple[tuple[int, bool, str], ...]:
    """Sort key giving the folder walk's order: a folder's files (see _file_order) before its subfolders, by
    name. Zip members are staged in this order too, so caps cut a tree at the same place zipped or not."""
    *folders, name = PurePosixPath(relpath).parts
    return (*((1, False, folder) for folder in folders), (0, *_file_order(name)))


def _is_source(name: str) -> bool:
    return os.path.splitext(name)[1] in SOURCE_SUFFIXES


# ------------------------------------------------------------------ reading one file
def _too_large(limit: int) -> _Skipped:
    return _Skipped(f"is larger than {_size(limit)}, the most staging reads from one file")


def _check_stageable(info: os.stat_result, limit: int, hard_links_allowed: bool = False) -> None:
    """Raise _Skipped unless ``info`` is a regular file of at most ``limit`` bytes with one name."""
    kind = stat.S_IFMT(info.st_mode)
    if kind == stat.S_IFLNK:
        raise _Skipped(_LINK)
    if kind != stat.S_IFREG:
        raise _Skipped(f"is not a regular file but {_KINDS.get(kind, 'a special file')}")
    if info.st_nlink > 1 and not hard_links_allowed:
        raise _Skipped(
            f"has {info.st_nlink} hard links (a hard link can be someone else's file under a new name); "
            "linked files are not read"
        )
    if info.st_size > limit:
        raise _too_large(limit)


def _read_at_most(fd: int, limit: int) -> bytes:
    """The file's bytes, reading at most ``limit`` + 1: one more than allowed shows it is too large, and a
    file that grows while read cannot keep staging reading."""
    chunks = []
    remaining = limit + 1
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    if len(data) > limit:
        raise _too_large(limit)
    return data


def _read_opened(fd: int, limit: int, hard_links_allowed: bool = False) -> bytes:
    """Check what the descriptor really is (not what a name said a moment ago), then read it."""
    try:
        _check_stageable(os.fstat(fd), limit, hard_links_allowed)
        return _read_at_most(fd, limit)
    except OSError as exc:
        raise _Skipped(f"could not be read ({exc.strerror})") from None
    finally:
        os.close(fd)


def _read_in_folder(name: str, dirfd: int) -> bytes:
    """Read the file ``name`` of the folder open as ``dirfd`` without following a link. The lstat first keeps
    FIFOs and devices from being opened at all; O_NOFOLLOW and the fstat after opening close the race of a
    file swapped for a link in between."""
    try:
        _check_stageable(os.stat(name, dir_fd=dirfd, follow_symlinks=False), MAX_FILE_BYTES)
        fd = os.open(name, _OPEN_FLAGS | os.O_NOFOLLOW, dir_fd=dirfd)
    except OSError as exc:
        raise _Skipped(_LINK if exc.errno == errno.ELOOP else f"could not be opened ({exc.strerror})") from None
    return _read_opened(fd, MAX_FILE_BYTES)


def _open_top(path: Path) -> int:
    """A descriptor of the submission file itself (the instructor's choice, already resolved), which must be
    a regular file: opened non-blocking, so a FIFO handed in as ``alice.zip`` cannot hang the grader."""
    fd = os.open(path, _OPEN_FLAGS)
    kind = stat.S_IFMT(os.fstat(fd).st_mode)
    if kind != stat.S_IFREG:
        os.close(fd)
        raise SubmissionError(f"{path} is not a regular file but {_KINDS.get(kind, 'a special file')}")
    return fd


# ------------------------------------------------------------------ folders
def _folders_to_enter(rel: PurePosixPath, names: list[str], dirfd: int, staging: _Staging) -> list[str]:
    """The subfolders of ``rel`` the walk enters, sorted: not skipped ones, not links (fwalk lists a link to a
    folder among the folders and does not enter it; it must also be reported), not deeper than MAX_DEPTH."""
    keep = []
    for name in sorted(names):
        if name in SKIP_DIRS:
            continue
        path = rel / name
        try:
            is_link = stat.S_ISLNK(os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode)
        except OSError:
            continue  # gone since it was listed
        if is_link:
            staging.skip(path.as_posix(), f"{_LINK} (nothing in the folder it points to was read)")
        elif len(path.parts) > MAX_DEPTH:
            staging.too_deep[path.as_posix()] = None
        else:
            keep.append(name)
    return keep


def _stage_folder_files(rel: PurePosixPath, names: list[str], dirfd: int, staging: _Staging) -> None:
    """Stage the sources among ``names`` (the files of the folder ``rel``) until a cap stops staging."""
    for name in sorted(filter(_is_source, names), key=_file_order):
        relpath = (rel / name).as_posix()
        try:
            data = _read_in_folder(name, dirfd)
        except _Skipped as skip:
            staging.skip(relpath, str(skip))
            continue
        if not staging.admit(relpath, len(data)):
            return
        staging.write(relpath, data)


def _copy_folder(top: Path, staging: _Staging) -> None:
    """Walk ``top`` through folder descriptors, never following a link, and stage its sources."""

    def unreadable(exc: OSError) -> None:
        staging.warnings.append(f"a folder could not be read ({exc.strerror}), so nothing in it was staged")

    # The walk generator is dropped on return, which closes the descriptors it holds.
    for root, dirs, files, rootfd in os.fwalk(top, follow_symlinks=False, onerror=unreadable):
        rel = PurePosixPath(Path(root).relative_to(top).as_posix())
        within_cap = staging.list_entries(len(dirs) + len(files), rel.as_posix())
        dirs[:] = _folders_to_enter(rel, dirs, rootfd, staging) if within_cap else []
        _stage_folder_files(rel, files, rootfd, staging)
        if staging.stopped:
            return


# ------------------------------------------------------------------ zip archives
def _zip_directory_size(handle: BinaryIO) -> int | None:
    """The central directory size the archive's end record declares, found as zipfile finds it (the record
    at the very end, else the last one in the final 64 KiB; a zip64 record just before it takes precedence),
    or None when there is none (zipfile then refuses the archive itself)."""
    end = handle.seek(0, os.SEEK_END)
    start = max(0, end - _ZIP_END.size - 0xFFFF)
    handle.seek(start)
    tail = handle.read()
    at = len(tail) - _ZIP_END.size
    if at < 0 or tail[at : at + 4] != b"PK\x05\x06" or tail[-2:] != b"\0\0":
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _ZIP_END.size:
        return None
    size: int = _ZIP_END.unpack_from(tail, at)[5]
    locator = start + at - _ZIP64_LOCATOR.size
    if locator - _ZIP64_END.size < 0:
        return size
    handle.seek(locator - _ZIP64_END.size)
    data = handle.read(_ZIP64_END.size + _ZIP64_LOCATOR.size)
    if data[_ZIP64_END.size : _ZIP64_END.size + 4] == b"PK\x06\x07" and data[:4] == b"PK\x06\x06":
        size = _ZIP64_END.unpack_from(data)[8]
    return size


def _zip_source_path(info: zipfile.ZipInfo, staging: _Staging) -> str | None:
    """The path a zip member is staged at, or None (with a warning when the instructor should know) for a
    folder, a member that is not a source, points outside the archive, is a link, too deep or too large."""
    if info.is_dir():
        return None
    path = PurePosixPath(info.filename.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        staging.warnings.append(f"zip entry {_shown(repr(info.filename))} points outside the archive and was ignored")
        return None
    if any(part in SKIP_DIRS for part in path.parts) or not _is_source(path.name):
        return None
    relpath = path.as_posix()
    if (info.external_attr >> 16) & 0o170000 == stat.S_IFLNK:
        staging.skip(relpath, _LINK)
    elif len(path.parts) - 1 > MAX_DEPTH:
        staging.too_deep[PurePosixPath(*path.parts[: MAX_DEPTH + 1]).as_posix()] = None
    elif info.compress_type not in READABLE_COMPRESSIONS:
        staging.skip(
            relpath, f"is compressed with method {info.compress_type}; only stored and deflated members are read"
        )
    elif info.file_size > MAX_FILE_BYTES:
        staging.skip(relpath, str(_too_large(MAX_FILE_BYTES)))
    else:
        return relpath
    return None


def _zip_sources(archive: zipfile.ZipFile, staging: _Staging) -> list[tuple[zipfile.ZipInfo, str]]:
    """The members to stage, in the walk order, listing at most MAX_ENTRIES of them."""
    chosen = []
    for info in archive.infolist():
        if not staging.list_entries(1, info.filename):
            break
        relpath = _zip_source_path(info, staging)
        if relpath is not None:
            chosen.append((info, relpath))
    return sorted(chosen, key=lambda member: _walk_order(member[1]))


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read at most the declared size plus one byte, so a lying header cannot inflate without bound."""
    try:
        with archive.open(info) as handle:
            data = handle.read(info.file_size + 1)
    except Exception as exc:  # hostile data: any failure of the decoder means this member is unreadable
        raise _Skipped(f"could not be extracted ({type(exc).__name__}: {exc})") from None
    if len(data) > info.file_size:
        raise _Skipped("is larger than its header says")
    return data


def _copy_zip(path: Path, staging: _Staging) -> None:
    """Stage the sources of the zip archive at ``path``; SubmissionError when it cannot be listed at all."""
    with os.fdopen(_open_top(path), "rb") as handle:
        directory = _zip_directory_size(handle)
        if directory is not None and directory > MAX_ZIP_DIRECTORY_BYTES:
            raise SubmissionError(
                f"{path}: the zip archive's list of entries takes {directory} bytes, more than the "
                f"{_size(MAX_ZIP_DIRECTORY_BYTES)} staging reads (a submission with that many files?)"
            )
        try:
            archive = zipfile.ZipFile(handle)
        except Exception as exc:  # any failure to list a hostile archive makes it unreadable
            raise SubmissionError(f"{path} is not a readable zip archive: {exc}") from None
        with archive:
            for info, relpath in _zip_sources(archive, staging):
                try:
                    data = _read_member(archive, info)
                except _Skipped as skip:
                    staging.skip(relpath, str(skip))
                    continue
                if not staging.admit(relpath, len(data)):
                    return
                staging.write(relpath, data)


# ------------------------------------------------------------------ staging
def importable_name(stem: str) -> str:
    """A module name for a single-file submission: ``layers (1)`` or ``types`` (which would resolve to the
    standard library's module) cannot be imported under their own names."""
    name = re.sub(r"\W", "_", stem)
    if (
        not name.isidentifier()
        or keyword.iskeyword(name)
        or name in sys.stdlib_module_names
        or name in ("numpy", "np")
    ):
        name = f"submission_{name}"
    return name


def _copy_file(source: Path, top: Path, staging: _Staging) -> None:
    """A single ``.py`` or ``.ipynb`` is the whole submission: capped at MAX_TOTAL_BYTES, and any problem
    reading it is a SubmissionError."""
    try:
        data = _read_opened(_open_top(top), MAX_TOTAL_BYTES, hard_links_allowed=True)
    except _Skipped as skip:
        raise SubmissionError(f"{source} {skip}") from None
    staged = importable_name(source.stem)
    staging.write(staged + source.suffix, data, whole=True)
    if source.suffix == ".ipynb" and f"{staged}.py" in staging.notebooks:
        staging.notebooks[f"{staged}.py"] = _shown(source.name)


def _copy(source: Path, dest: Path) -> _Staging:
    """Stage ``source``'s sources into ``dest``; the staging run tells what happened."""
    if not source.exists():
        raise SubmissionError(f"{source} does not exist")
    top = source.resolve()  # the instructor's choice may be a link; nothing inside the submission is followed
    staging = _Staging(dest, archive=not top.is_dir() and source.suffix == ".zip")
    try:
        if top.is_dir():
            _copy_folder(top, staging)
        elif source.suffix == ".zip":
            _copy_zip(top, staging)
        elif source.suffix in SOURCE_SUFFIXES:
            _copy_file(source, top, staging)
        else:
            raise SubmissionError(f"{source}: a submission is a folder, a .zip, a .py or an .ipynb file")
    except OSError as exc:  # the submission itself vanished or cannot be opened
        raise SubmissionError(f"{source} cannot be read: {exc.strerror}") from None
    staging.finish()
    return staging


def copy_sources(source: Path, dest: Path) -> list[str]:
    """Copy the Python sources (and notebooks, converted) of a submission into ``dest``; the warnings."""
    return _copy(source, dest).warnings


def locate(dest: Path, wanted: Mapping[str, Sequence[str]],
           notebooks: Mapping[str, str] | None = None) -> dict[str, LocatedModule]:
    """Find each module key's file: the shallowest file whose path ends with one of its candidate paths.

    A submission of a single module file (or notebook) provides every key. ``notebooks`` maps a staged module
    to the notebook it came from (its name as handed in).
    """
    origins = notebooks or {}
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.py"))
    found: dict[str, LocatedModule] = {}
    if len(files) == 1 and "/" not in files[0]:
        only = files[0]
        return {key: LocatedModule(key, only, only[:-3], ".", origins.get(only, "")) for key in wanted}
    for key, candidates in wanted.items():
        matches = []
        for candidate in candidates:
            for rel in files:
                if rel == candidate or rel.endswith("/" + candidate):
                    matches.append((rel.count("/"), candidates.index(candidate), rel, candidate))
        if not matches:
            continue
        _, _, rel, candidate = min(matches)
        root = rel[: len(rel) - len(candidate)].rstrip("/") or "."
        dotted = candidate[:-3].replace("/", ".")
        found[key] = LocatedModule(key, rel, dotted, root, origins.get(rel, ""))
    return found


def stage(source: Path, dest: Path, wanted: Mapping[str, Sequence[str]]) -> Staged:
    """Copy a submission's sources into ``dest`` (created fresh) and locate the assignment's modules.

    SubmissionError when nothing importable was staged, or when a cap on the whole submission stopped staging
    before any of the wanted modules was found (see the module docstring)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    staging = _copy(source, dest)
    modules = locate(dest, wanted, staging.notebooks)
    if staging.stopped and wanted and not modules:
        looked_for = ", ".join(candidates[0] for candidates in wanted.values() if candidates)
        raise SubmissionError(
            f"{source} cannot be graded: {staging.stopped}, before any of the assignment's modules "
            f"({looked_for}) was found"
        )
    if not any(dest.rglob("*.py")):
        skipped = f"; {'; '.join(staging.warnings[:3])}" if staging.warnings else ""
        raise SubmissionError(f"{source} contains no Python source (.py or .ipynb) that could be staged{skipped}")
    return Staged(dest, modules, staging.warnings)


# ------------------------------------------------------------------ static scan
def _owner(node: ast.AST, owner: str | None) -> str | None:
    """The top-level function or class a node belongs to (None at module level)."""
    if owner is None and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    return owner


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def forbidden_imports(source: str, forbidden: Iterable[str]) -> dict[str | None, list[str]]:
    """Static scan: {enclosing top-level function name or None for module level: [imported names]}.

    Source that cannot be parsed (a syntax error, NUL bytes, nesting too deep for the parser) gives {}: the
    worker reports why the module cannot be imported. The tree is walked with an explicit stack, so a deep
    tree the parser did accept cannot exhaust the recursion limit here."""
    blocked = set(forbidden)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    found: dict[str | None, list[str]] = {}
    stack: list[tuple[ast.AST, str | None]] = [(tree, None)]
    while stack:
        node, owner = stack.pop()
        for name in _imported(node):
            if name.partition(".")[0] in blocked:
                found.setdefault(owner, []).append(name)
        children = [(child, _owner(child, owner)) for child in ast.iter_child_nodes(node)]
        stack.extend(reversed(children))  # popped in source order, as a recursive walk would visit them
    return found
