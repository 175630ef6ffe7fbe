"""The entries of a class folder: one per student, each with a name that is safe as a folder name.

WHY sanitise: an entry's name becomes ``OUT/<entry>/`` and the ``student`` cell of gradebook.csv. Students
(and LMS exports) produce names like ``Müller, Jan (2).zip``, ``-rf`` or ``=HYPERLINK(...)``; the name must be a
single path component on POSIX, macOS and Windows, must not start with something a shell or a spreadsheet
treats specially (``-``, ``=``, ``+``, ``@``), and must stay unique on case-insensitive file systems. Letters of
any script are kept: a student called Zoë stays ``Zoë``.

WHY deterministic: ``--resume`` finds an entry's earlier report by its name, so the same class folder must
always give the same names; collisions are resolved in sorted order of the original names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ENTRY_SUFFIXES = (".zip", ".py", ".ipynb")
#: Names the batch writes at the top of the output folder; an entry must not take them.
RESERVED_OUTPUTS = frozenset({"gradebook.csv", "summary.html"})
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_UNSAFE = re.compile(r"[^\w.-]")
MAX_NAME_CHARS = 80


class ClassFolderError(ValueError):
    """The class folder cannot be graded at all (missing, not a folder, no entries): bad usage."""


@dataclass(frozen=True)
class Entry:
    """One student's hand-in: ``name`` is the output folder and gradebook key, ``path`` what is graded."""

    name: str
    path: Path

    @property
    def source(self) -> str:
        """The name as handed in (the file or folder name inside the class folder)."""
        return self.path.name


@dataclass(frozen=True)
class Discovery:
    entries: list[Entry]
    #: files in the class folder that are not submissions (e.g. README.txt, a roster .xlsx)
    ignored: list[str] = field(default_factory=list)


def safe_name(raw: str) -> str:
    """``raw`` as one portable path component: NFC, only letters, digits, ``_``, ``.`` and ``-``, starting
    with a letter, digit or ``_``, no trailing dot, not a Windows device name, at most 80 characters."""
    name = _UNSAFE.sub("_", unicodedata.normalize("NFC", raw))
    name = re.sub(r"^[.-]", "_", name)
    name = name[:MAX_NAME_CHARS].rstrip(".")
    if not name:
        return "entry"
    if name.split(".")[0].casefold() in _WINDOWS_DEVICES:
        name = "_" + name
    return name


def _is_entry(path: Path) -> bool:
    return path.is_dir() or (path.is_file() and path.suffix.lower() in ENTRY_SUFFIXES)


def _base_name(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def discover(class_dir: Path, exclude: Sequence[Path] = ()) -> Discovery:
    """Every submission directly inside ``class_dir`` (folders, .zip, .py, .ipynb), hidden ones and
    ``exclude`` (the output folder, when it lives inside the class folder) skipped, with unique safe names,
    in sorted order. Raises :class:`ClassFolderError` when there is nothing to grade."""
    if not class_dir.exists():
        raise ClassFolderError(f"class folder {class_dir} does not exist")
    if not class_dir.is_dir():
        raise ClassFolderError(f"{class_dir} is not a folder: give the folder that holds one entry per student")
    excluded = {p.resolve() for p in exclude}
    children = sorted(
        (
            p
            for p in class_dir.iterdir()
            if not p.name.startswith(".") and p.name != "__MACOSX" and p.resolve() not in excluded
        ),
        key=lambda p: (p.name.casefold(), p.name),
    )
    candidates = [p for p in children if _is_entry(p)]
    ignored = [p.name for p in children if not _is_entry(p)]
    if not candidates:
        found = f" (only {', '.join(ignored)})" if ignored else ""
        raise ClassFolderError(
            f"class folder {class_dir} has no submissions: expected one folder, .zip, .py or .ipynb per "
            f"student{found}"
        )
    taken = {name.casefold() for name in RESERVED_OUTPUTS}
    entries = []
    for path in candidates:
        base = safe_name(_base_name(path))
        name, number = base, 1
        while name.casefold() in taken:
            number += 1
            name = f"{base}-{number}"
        taken.add(name.casefold())
        entries.append(Entry(name, path))
    return Discovery(entries, ignored)
