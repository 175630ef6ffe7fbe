"""Class folders as an LMS exports them: who handed in what, read from the export's own names and metadata.

One reader per layout; each turns the class folder's children into :class:`Found` hand-ins with the students
behind them (:class:`Identity`: id, name, email, empty where the export does not say). The layouts, as each
LMS documents or writes them:

* **gradescope** ("Export Submissions"): ``submission_metadata.yml`` at the top of the export, a mapping keyed
  ``submission_<id>`` whose records hold ``:submitters:``, a list of ``{:name:, :email:, :sid:}`` (several for
  a group submission), plus ``:created_at:``, ``:score:``, ``:history:`` ...; one folder ``submission_<id>/``
  per submission. The student id in the gradebook is ``:sid:``.
* **canvas** ("Download Submissions"): flat files named ``<sortable name>[_LATE]_<user id>_<file id>_<file
  name>`` (Canvas's ``ContentZipper``: the sortable name lower-cased with every non-word character removed,
  ``anon_<id>`` instead of name and user id when grading is anonymous), several files per student. Canvas
  names a re-uploaded file ``layers-1.py``, ``layers-2.py``, ...: per original name the highest ``-N`` wins
  and the student's files are staged as one folder under their original names (``layers.py``). Online text
  and URL entries (``..._text.html``, ``..._link.html``) are listed as not graded. The id is Canvas's user id.
* **moodle** ("Download all submissions"): a folder per student and plugin, ``<Full Name>_<participant
  id>_assignsubmission_file[_]/`` (Moodle replaces ``_`` in the name by a space, so the first ``_<digits>_``
  ends the name), or with "download submissions in folders" off, flat files ``<Full
  Name>_<participant id>_assignsubmission_file_<file name>``. Other plugins (``onlinetext``) are listed as
  not graded. The id is Moodle's participant id (what its grading worksheet calls "Participant N").

WHY so strict with the metadata: the export is untrusted input read by the trusted batch process. The YAML is
read with PyYAML's safe loader (no object is ever constructed from a tag; an unknown tag, such as the
``!ruby/object`` tags Ruby writes, gives its plain value), its size is bounded, it is opened without following
a link, and anything that is not the documented shape is refused with a message saying where. Names and emails
come from students: they are folded to one printable line and bounded here, and escaped by every writer.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from graders.report.text import one_line

GRADESCOPE_METADATA = "submission_metadata.yml"
#: Largest submission_metadata.yml read. It holds every submission's autograder results: about 3 MB for a class of
#: a thousand with twenty tests each. PyYAML's pure-Python safe loader (where nesting too deep for Python ends in a
#: RecursionError, caught) reads about half a megabyte a second, so this bounds the time to about half a minute.
MAX_METADATA_BYTES = 16 << 20
#: Most submitters of one Gradescope submission (a group); more is not an export Gradescope writes.
MAX_SUBMITTERS = 64
#: Longest id, name or email kept (longer ones are cut): they are cells of a gradebook.
MAX_IDENTITY_CHARS = 200
#: File names that can be a module of a submission; anything else a student handed in is not graded.
PART_SUFFIXES = (".py", ".ipynb", ".zip")

_GRADESCOPE_KEY = re.compile(r"submission_[0-9]{1,20}")
_CANVAS_FILE = re.compile(
    r"(?:(?P<name>\w*?)_)??(?P<late>LATE_)?(?:(?P<user>[0-9]+)|anon_(?P<anon>[A-Za-z0-9]+))_(?P<file>[0-9]+)_"
    r"(?P<original>.+)", re.S)
_CANVAS_TEXT = re.compile(r"(?:\w*?_)??(?:LATE_)?(?:[0-9]+|anon_[A-Za-z0-9]+)_(?:text|link)\.html")
_MOODLE_FOLDER = re.compile(r"(?P<name>.+?)_(?P<id>[0-9]+)_assignsubmission_(?P<plugin>[a-z0-9]+)_?", re.S)
_MOODLE_FILE = re.compile(r"(?P<name>.+?)_(?P<id>[0-9]+)_assignsubmission_(?P<plugin>[a-z0-9]+)_(?P<original>.+)",
                          re.S)
_RESUBMITTED = re.compile(r"(?P<stem>.+)-(?P<n>[0-9]{1,6})(?P<ext>\.[^.]+)?", re.S)


class ExportError(ValueError):
    """The export cannot be read as the layout it claims to be (a missing or malformed metadata file)."""


@dataclass(frozen=True)
class Identity:
    """A student as the export names them; empty strings where it does not say."""

    id: str = ""
    name: str = ""
    email: str = ""

    @property
    def label(self) -> str:
        """``Student One (1001)`` / ``1001`` / ``Student One``: for warnings and the summary."""
        if self.name and self.id:
            return f"{self.name} ({self.id})"
        return self.name or self.id or self.email


@dataclass(frozen=True)
class Found:
    """One hand-in found by a reader: ``base`` is the name its entry is made from (sanitised by discovery);
    ``path`` what is graded, unless ``parts`` lists separate files (original name, file) to stage as one
    folder first; ``handed_in`` what the class folder held, for people."""

    base: str
    path: Path
    students: tuple[Identity, ...] = ()
    parts: tuple[tuple[str, Path], ...] = ()
    handed_in: str = ""


@dataclass
class Reading:
    found: list[Found] = field(default_factory=list)
    #: children that are not graded, each with why
    ignored: list[str] = field(default_factory=list)
    #: things the instructor should know (a metadata record without its folder, ...)
    warnings: list[str] = field(default_factory=list)


def _text(value: object) -> str:
    return one_line(value)[:MAX_IDENTITY_CHARS]


def identity(id: object = "", name: object = "", email: object = "") -> Identity:
    """An identity from untrusted values: one printable line each, bounded."""
    return Identity(_text(id), _text(name), _text(email))


# ------------------------------------------------------------------ detection
def _is_part(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in PART_SUFFIXES


def detect(children: Sequence[Path]) -> tuple[str, str]:
    """The layout of a class folder from its children (links already set aside), and a note when some but
    not all entries look like an LMS download (graded as a plain class folder then)."""
    if any(p.name == GRADESCOPE_METADATA and p.is_file() for p in children):
        return "gradescope", ""
    entries = [p for p in children if p.is_dir() or _is_part(p)]
    if not entries:
        return "plain", ""
    moodle = [p for p in entries if (_MOODLE_FOLDER if p.is_dir() else _MOODLE_FILE).fullmatch(p.name)]
    canvas = [p for p in entries if not p.is_dir() and _CANVAS_FILE.fullmatch(p.name)]
    for name, matching in (("moodle", moodle), ("canvas", canvas)):
        if len(matching) == len(entries):
            return name, ""
    for name, matching in (("moodle", moodle), ("canvas", canvas)):
        if matching:
            return "plain", (f"{len(matching)} of {len(entries)} entries are named like a {name} download; graded "
                             f"as a plain class folder (one entry per file or folder); --layout {name} reads it "
                             "as one")
    return "plain", ""


# ------------------------------------------------------------------ gradescope
class _MetadataLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading any tag it does not know (``!ruby/object:BigDecimal``, ``!!python/...``)
    as the plain scalar, list or mapping it is written as: no object is constructed from a tag."""


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_MetadataLoader.add_multi_constructor("", _plain)


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path`` (never through a link, never more than ``limit``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        why = "is a symbolic link (not followed)" if exc.errno == errno.ELOOP else f"cannot be read: {exc.strerror}"
        raise ExportError(f"{what} {why}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ExportError(f"{what} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"
        raise ExportError(f"{what} is larger than {size}")
    return data


def parse_metadata(data: bytes) -> dict[str, tuple[Identity, ...]]:
    """``submission_<id>`` -> its submitters, from the bytes of submission_metadata.yml; ExportError naming
    what is not the documented shape."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportError(f"{GRADESCOPE_METADATA} is not UTF-8 text (byte {exc.start})") from None
    loader = _MetadataLoader(text)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ExportError(f"{GRADESCOPE_METADATA} is not valid YAML: {one_line(exc)}") from None
    except (ValueError, TypeError, RecursionError) as exc:  # a bad date, or nesting deeper than Python's stack
        raise ExportError(f"{GRADESCOPE_METADATA} cannot be read: {type(exc).__name__}") from None
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        raise ExportError(f"{GRADESCOPE_METADATA} must be a mapping of submission_<id> to a record, not "
                          f"{type(document).__name__}")
    records = {}
    for key, record in document.items():
        if not isinstance(key, str) or not _GRADESCOPE_KEY.fullmatch(key):
            raise ExportError(f"{GRADESCOPE_METADATA}: {_text(repr(key))[:80]} is not a submission_<id> key")
        if not isinstance(record, dict):
            raise ExportError(f"{GRADESCOPE_METADATA}: {key} is not a mapping")
        records[key] = _submitters(key, record.get(":submitters", []))
    return records


def _submitters(key: str, raw: object) -> tuple[Identity, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_SUBMITTERS:
        raise ExportError(f"{GRADESCOPE_METADATA}: {key} :submitters: must be a list of at most {MAX_SUBMITTERS}")
    people = []
    for person in raw:
        if not isinstance(person, dict):
            raise ExportError(f"{GRADESCOPE_METADATA}: {key} has a submitter that is not a mapping")
        values = [person.get(f":{field_}") for field_ in ("sid", "name", "email")]
        if any(v is not None and (isinstance(v, bool) or not isinstance(v, (str, int, float))) for v in values):
            raise ExportError(f"{GRADESCOPE_METADATA}: {key} has a submitter whose sid, name or email is not text")
        people.append(identity(*("" if v is None else v for v in values)))
    return tuple(people)


def read_gradescope(class_dir: Path, children: Sequence[Path]) -> Reading:
    records = parse_metadata(read_bounded(class_dir / GRADESCOPE_METADATA, MAX_METADATA_BYTES, GRADESCOPE_METADATA))
    reading = Reading()
    seen = set()
    for path in children:
        if path.name == GRADESCOPE_METADATA:
            continue
        if not (path.is_dir() and _GRADESCOPE_KEY.fullmatch(path.name)):
            reading.ignored.append(f"{path.name} (not a submission_<id> folder)")
            continue
        seen.add(path.name)
        if path.name not in records:
            reading.warnings.append(f"{path.name} is not in {GRADESCOPE_METADATA}: graded without a student name")
        reading.found.append(Found(path.name, path, records.get(path.name, ())))
    for key in sorted(set(records) - seen):
        people = ", ".join(p.label for p in records[key]) or "no submitter"
        reading.warnings.append(f"{key} ({people}) is in {GRADESCOPE_METADATA} but has no folder: not graded")
    return reading


# ------------------------------------------------------------------ files grouped per student
def safe_part_name(name: str) -> bool:
    """Whether a file name from an export can be written as one file of a staged folder."""
    return (bool(name) and name not in (".", "..") and not name.startswith(".") and "/" not in name
            and "\\" not in name and "\0" not in name and len(name.encode("utf-8", "surrogateescape")) <= 255)


def original_name(name: str) -> tuple[str, int]:
    """``layers-2.py`` -> (``layers.py``, 2): the name a file had before the LMS numbered a re-upload."""
    match = _RESUBMITTED.fullmatch(name)
    return (match["stem"] + (match["ext"] or ""), int(match["n"])) if match else (name, 0)


@dataclass
class _Student:
    base: str
    who: Identity
    #: original name -> (re-upload number, tie-break, file)
    files: dict[str, tuple[int, int, Path]] = field(default_factory=dict)


def _group(student: _Student, original: str, order: int, path: Path, reading: Reading, numbered: bool) -> None:
    """Add one file to a student's hand-in; of several copies of one original name (``numbered``: the LMS
    numbers re-uploads ``-N``), the last upload wins."""
    name, number = original_name(original) if numbered else (original, 0)
    if not safe_part_name(name):
        reading.ignored.append(f"{path.name} (a file name that cannot be staged)")
        return
    if path.suffix.lower() not in PART_SUFFIXES:
        reading.ignored.append(f"{path.name} (not Python: not graded)")
        return
    earlier = student.files.get(name)
    if earlier is not None and (earlier[0], earlier[1]) > (number, order):
        reading.ignored.append(f"{path.name} (an older upload of {name})")
        return
    if earlier is not None:
        reading.ignored.append(f"{earlier[2].name} (an older upload of {name})")
    student.files[name] = (number, order, path)


def _hand_ins(students: dict[str, _Student], reading: Reading) -> None:
    """Each student's files as one Found: a lone .zip is graded as it is; otherwise the files are staged as a
    folder under their original names (a .zip among other files is not graded: say so)."""
    for student in students.values():
        files = sorted((name, path) for name, (_, _, path) in student.files.items())
        if not files:
            continue
        handed_in = ", ".join(path.name for _, path in files)
        who = (student.who,) if student.who != Identity() else ()  # anonymous grading says no one
        if len(files) == 1 and files[0][0].lower().endswith(".zip"):
            reading.found.append(Found(student.base, files[0][1], who, handed_in=handed_in))
            continue
        parts = []
        for name, path in files:
            if name.lower().endswith(".zip"):
                reading.ignored.append(f"{path.name} (a .zip handed in with other files: only the other files are "
                                       "graded)")
            else:
                parts.append((name, path))
        if parts:
            reading.found.append(Found(student.base, parts[0][1], who, tuple(parts), handed_in))


def read_canvas(class_dir: Path, children: Sequence[Path]) -> Reading:
    reading = Reading()
    students: dict[str, _Student] = {}
    for path in children:
        match = _CANVAS_FILE.fullmatch(path.name) if path.is_file() else None
        if match is None:
            why = "online text or URL entry, not graded" if _CANVAS_TEXT.fullmatch(path.name) else \
                "not named like a Canvas submission file"
            reading.ignored.append(f"{path.name} ({why})")
            continue
        if match["anon"]:
            key, who = f"anon_{match['anon']}", Identity()
        else:
            key, who = match["user"], identity(match["user"], match["name"] or "")
        base = key if match["anon"] else f"{match['name']}_{match['user']}" if match["name"] else match["user"]
        student = students.setdefault(key, _Student(base, who))
        _group(student, match["original"], int(match["file"]), path, reading, numbered=True)
    _hand_ins(students, reading)
    return reading


def read_moodle(class_dir: Path, children: Sequence[Path]) -> Reading:
    reading = Reading()
    students: dict[str, _Student] = {}
    folders: set[str] = set()
    for path in children:
        if path.is_dir():
            match = _MOODLE_FOLDER.fullmatch(path.name)
            if match is None or match["plugin"] != "file":
                why = "not named like a Moodle submission folder" if match is None else \
                    f"{match['plugin']} submission, not graded"
                reading.ignored.append(f"{path.name} ({why})")
                continue
            folders.add(match["id"])
            who = identity(match["id"], match["name"])
            reading.found.append(Found(f"{match['name']}_{match['id']}", path, (who,)))
            continue
        match = _MOODLE_FILE.fullmatch(path.name) if path.is_file() else None
        if match is None or match["plugin"] != "file":
            why = "not named like a Moodle submission file" if match is None else \
                f"{match['plugin']} submission, not graded"
            reading.ignored.append(f"{path.name} ({why})")
            continue
        student = students.setdefault(match["id"], _Student(f"{match['name']}_{match['id']}",
                                                            identity(match["id"], match["name"])))
        _group(student, match["original"], 0, path, reading, numbered=False)
    for participant in sorted(folders & set(students)):
        for _, _, path in students.pop(participant).files.values():
            reading.ignored.append(f"{path.name} (the student's submission folder is graded instead)")
    _hand_ins(students, reading)
    return reading


READERS: dict[str, Callable[[Path, Sequence[Path]], Reading]] = {
    "gradescope": read_gradescope,
    "canvas": read_canvas,
    "moodle": read_moodle,
}
