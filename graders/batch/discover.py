"""The entries of a class folder: one per student, each with a name that is safe as a folder name.

WHY sanitise: an entry's name becomes ``OUT/<entry>/`` and the ``student`` cell of gradebook.csv. Students
(and LMS exports) produce names like ``Müller, Jan (2).zip``, ``-rf`` or ``=HYPERLINK(...)``; the name must be a
single path component on POSIX, macOS and Windows, must not start with something a shell or a spreadsheet
treats specially (``-``, ``=``, ``+``, ``@``), and must stay unique on case-insensitive file systems. Letters of
any script are kept: a student called Zoë stays ``Zoë``.

WHY keep the whole name: an instructor looks a report up by the name that was handed in, and repository-style
names (``hw2-alice-smith-2024-final-resubmission-...``) often share a long prefix, so truncating them made
entries collide. The sanitised name is kept whole up to :data:`MAX_NAME_BYTES` (255 bytes of UTF-8: the limit
of one path component on ext4 and APFS, and within NTFS's 255 UTF-16 units). A longer one becomes its first
bytes (cut at a character boundary, trailing dots dropped), ``-`` and the first :data:`HASH_CHARS` hex digits
of the SHA-256 of the full original name (its UTF-8 bytes, undecodable bytes as they are on disk), at most
255 bytes in all: two long names sharing any prefix get different names, and a name always the same one.
The original name stays in :attr:`Entry.source`.

WHY deterministic: ``--resume`` finds an entry's earlier report by its name, so the same class folder must
always give the same names; names that still collide (``alice.zip`` and ``Alice.py``) get ``-2``, ``-3``, ...
in sorted order of the original names, the name shortened to leave room for the number.

WHY links are not entries: an entry that is a symbolic link would make the batch grade whatever it points to
(another student's folder, a file outside the class folder). It is listed in :attr:`Discovery.ignored` as
``name (symbolic link, not followed)`` instead.

WHY layouts: an LMS export is a class folder too, but its names say who handed in what (see
:mod:`graders.batch.lms`). ``layout="auto"`` (the default) reads a folder with ``submission_metadata.yml`` as a
Gradescope export, and one whose every entry is named like a Canvas or a Moodle download as that; anything
else is a plain class folder, exactly as before. An LMS entry carries its students (:class:`Entry.students`),
is named from what the export says (``submission_123``, ``onestudent_1001``, ``Student_One_12345``) with the
same guarantees as above, and Canvas's separate files of one student become one entry whose ``parts`` are
staged as a folder before grading (:func:`graders.batch.staging.stage_parts`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graders.batch.lms import READERS, ExportError, Found, Identity, detect

ENTRY_SUFFIXES = (".zip", ".py", ".ipynb")
#: Names the batch writes at the top of the output folder; an entry must not take them.
RESERVED_OUTPUTS = frozenset({"gradebook.csv", "summary.html"})
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_UNSAFE = re.compile(r"[^\w.-]")
#: Longest entry name, in bytes of UTF-8: one path component on common file systems.
MAX_NAME_BYTES = 255
#: Hex digits of the original name's SHA-256 that end a name too long to keep whole.
HASH_CHARS = 12
#: What ``--layout`` accepts: ``auto`` detects one of the others.
LAYOUTS = ("auto", "plain", *READERS)


class ClassFolderError(ValueError):
    """The class folder cannot be graded at all (missing, not a folder, no entries): bad usage."""


@dataclass(frozen=True)
class Entry:
    """One student's hand-in: ``name`` is the output folder and gradebook key, ``path`` what is graded."""

    name: str
    path: Path
    #: who handed it in, as an LMS export says (empty for a plain class folder; several for a group)
    students: tuple[Identity, ...] = ()
    #: separate files (original name, file in the class folder) that are staged as one folder before grading
    parts: tuple[tuple[str, Path], ...] = ()
    handed_in: str = ""

    @property
    def source(self) -> str:
        """The name as handed in (the file or folder name inside the class folder; an LMS entry's files)."""
        return self.handed_in or self.path.name


@dataclass(frozen=True)
class Discovery:
    entries: list[Entry]
    #: files in the class folder that are not submissions (e.g. README.txt, a roster .xlsx)
    ignored: list[str] = field(default_factory=list)
    #: how the class folder was read: "plain", "gradescope", "canvas" or "moodle"
    layout: str = "plain"
    #: what the instructor should know about the export (a metadata record without its folder, ...)
    warnings: list[str] = field(default_factory=list)


def _fit(name: str, max_bytes: int) -> str:
    """The longest start of ``name`` that is at most ``max_bytes`` of UTF-8 (never half a character)."""
    return name.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def _shortened(name: str, raw: str) -> str:
    """A sanitised ``name`` too long to keep whole: its start, ``-`` and a hash of the original ``raw``."""
    digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:HASH_CHARS]
    return f"{_fit(name, MAX_NAME_BYTES - HASH_CHARS - 1).rstrip('.')}-{digest}"


def safe_name(raw: str) -> str:
    """``raw`` as one portable path component: NFC, only letters, digits, ``_``, ``.`` and ``-``, starting
    with a letter, digit or ``_``, no trailing dot, not a Windows device name, at most MAX_NAME_BYTES bytes
    (a longer name is shortened and ends in a hash of ``raw``: see the module docstring)."""
    name = _UNSAFE.sub("_", unicodedata.normalize("NFC", raw))
    name = re.sub(r"^[.-]", "_", name).rstrip(".")
    if not name:
        return "entry"
    if name.split(".")[0].casefold() in _WINDOWS_DEVICES:
        name = "_" + name
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        name = _shortened(name, raw)
    return name


def _numbered(base: str, number: int) -> str:
    """``base-number`` (``base`` itself for 1), still at most MAX_NAME_BYTES bytes."""
    if number == 1:
        return base
    suffix = f"-{number}"
    return _fit(base, MAX_NAME_BYTES - len(suffix)).rstrip(".") + suffix


def _is_entry(path: Path) -> bool:
    return path.is_dir() or (path.is_file() and path.suffix.lower() in ENTRY_SUFFIXES)


def _is_excluded(path: Path, excluded: set[Path]) -> bool:
    """Whether ``path`` is one of the excluded folders. A link is never resolved (a link loop would make
    ``resolve`` raise): it is reported as ignored instead."""
    return not path.is_symlink() and path.resolve() in excluded


def _base_name(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def _children(class_dir: Path, exclude: Sequence[Path]) -> list[Path]:
    """The class folder's children in sorted order, hidden ones and ``exclude`` skipped."""
    if not class_dir.exists():
        raise ClassFolderError(f"class folder {class_dir} does not exist")
    if not class_dir.is_dir():
        raise ClassFolderError(f"{class_dir} is not a folder: give the folder that holds one entry per student")
    excluded = {p.resolve() for p in exclude}
    children = sorted(
        (
            p
            for p in class_dir.iterdir()
            if not p.name.startswith(".") and p.name != "__MACOSX" and not _is_excluded(p, excluded)
        ),
        key=lambda p: (p.name.casefold(), p.name),
    )
    return children


def _named(found: Sequence[Found]) -> list[Entry]:
    """Entries with unique safe names, numbered in the order given (see the module docstring)."""
    taken = {name.casefold() for name in RESERVED_OUTPUTS}
    entries = []
    for item in found:
        base = safe_name(item.base)
        name, number = base, 1
        while name.casefold() in taken:
            number += 1
            name = _numbered(base, number)
        taken.add(name.casefold())
        entries.append(Entry(name, item.path, item.students, item.parts, item.handed_in))
    return entries


def discover(class_dir: Path, exclude: Sequence[Path] = (), layout: str = "auto") -> Discovery:
    """Every submission directly inside ``class_dir`` (folders, .zip, .py, .ipynb; or an LMS export's
    hand-ins, see ``layout``), hidden ones and ``exclude`` (the output folder, when it lives inside the class
    folder) skipped, with unique safe names, in sorted order. Raises :class:`ClassFolderError` when there is
    nothing to grade or the export cannot be read."""
    if layout not in LAYOUTS:
        raise ClassFolderError(f"unknown layout {layout!r}: one of {', '.join(LAYOUTS)}")
    children = _children(class_dir, exclude)
    unlinked = [p for p in children if not p.is_symlink()]
    warnings: list[str] = []
    if layout == "auto":
        layout, note = detect(unlinked)
        warnings += [note] if note else []
    ignored = [f"{p.name} (symbolic link, not followed)" if p.is_symlink() else p.name for p in children
               if p.is_symlink() or (layout == "plain" and not _is_entry(p))]
    if layout == "plain":
        found = [Found(_base_name(path), path) for path in unlinked if _is_entry(path)]
    else:
        try:
            reading = READERS[layout](class_dir, unlinked)
        except ExportError as exc:
            raise ClassFolderError(f"{class_dir} cannot be read as a {layout} export: {exc}") from None
        found = sorted(reading.found, key=lambda f: (f.base.casefold(), f.base, f.handed_in or f.path.name))
        ignored += reading.ignored
        warnings += reading.warnings
    if not found:
        shown = f" (only {', '.join(ignored)})" if ignored else ""
        expected = ("one folder, .zip, .py or .ipynb per student" if layout == "plain"
                    else f"the hand-ins of a {layout} export")
        raise ClassFolderError(f"class folder {class_dir} has no submissions: expected {expected}{shown}")
    return Discovery(_named(found), ignored, layout, warnings)


def one_submission_warning(class_dir: Path, entries: Sequence[Entry], module_paths: Sequence[str]) -> str | None:
    """A warning when ``class_dir`` looks like one student's submission rather than a folder of them: it holds
    one of the assignment's module files itself (``cs231n/layers.py``), or its only entry does
    (``assignment2/cs231n/layers.py``). Batch would then grade the submission's folders as students."""
    def holds(folder: Path) -> str | None:
        return next((m for m in module_paths if (folder / m).is_file() and not (folder / m).is_symlink()), None)

    found = holds(class_dir)
    if found:
        return (f"{class_dir} itself holds {found}: it looks like one submission, not a class folder of one "
                "entry per student; grade it with `nngrade grade`, or give the folder that holds the submissions")
    folders = [e for e in entries if e.path.is_dir()]
    if len(entries) == 1 and folders:
        found = holds(folders[0].path)
        if found:
            return (f"{class_dir} has a single entry, {folders[0].source}, which holds {found}: if that is one "
                    "student's submission, `nngrade grade` grades it; batch expects one entry per student")
    return None
