"""Turning whatever a student handed in into a folder of Python modules the worker can import.

A submission is a ``.py`` file, a folder (modules found at any depth, e.g. ``hw2/cs231n/layers.py``), a ``.zip``
(extracted safely: no absolute or ``..`` paths, size and count limits) or a ``.ipynb`` (code cells only, IPython
magics and shell lines stripped, each cell guarded so one failing cell does not hide the definitions of the
others). Only Python sources are staged: datasets and checkpoints stay behind.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
import shutil
import sys
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 5 << 20
MAX_TOTAL_BYTES = 100 << 20
MAX_FILES = 2000
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


class SubmissionError(Exception):
    """The submission path cannot be read as a submission at all (exit status 2)."""


@dataclass(frozen=True)
class LocatedModule:
    key: str
    relpath: str  # path of the module file inside the staged folder
    dotted: str  # the name to import it by
    import_root: str  # folder (relative to the staged folder) to put on sys.path


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


def notebook_to_module(text: str, name: str) -> tuple[str, list[str]]:
    """Python source for a notebook's code cells, and warnings about cells that had to be dropped."""
    try:
        notebook = json.loads(text)
        cells = notebook["cells"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SubmissionError(f"{name} is not a readable Jupyter notebook: {exc}") from None
    futures: list[str] = []
    parts = ["__nngrade_cell_errors__ = []"]
    warnings: list[str] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if source.lstrip().startswith("%%"):
            continue  # a cell magic: the whole cell is not Python
        source = _strip_ipython(source)
        future_lines = [ln for ln in source.splitlines() if ln.startswith("from __future__ import")]
        futures += [ln for ln in future_lines if ln not in futures]
        source = "\n".join(ln for ln in source.splitlines() if ln not in future_lines)
        if not source.strip():
            continue
        try:
            ast.parse(source)
        except SyntaxError as exc:
            warnings.append(
                f"{name}: code cell {index + 1} has a syntax error (line {exc.lineno}) and was skipped"
            )
            continue
        body = "\n".join("    " + line for line in source.splitlines()) or "    pass"
        parts.append(
            f"try:  # cell {index + 1}\n{body}\n    pass\n"
            f"except Exception as __nngrade_error__:\n"
            f"    __nngrade_cell_errors__.append(({index + 1}, repr(__nngrade_error__)))"
        )
    # __future__ imports must open the module, not sit inside a cell's guard
    return "\n".join(futures + ["\n".join(parts)]) + "\n", warnings


# ------------------------------------------------------------------ staging
def _safe_zip_members(archive: zipfile.ZipFile, warnings: list[str]) -> Iterable[tuple[zipfile.ZipInfo, str]]:
    total = 0
    count = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = info.filename.replace("\\", "/")
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or any(p.startswith("/") for p in path.parts):
            warnings.append(f"zip entry {info.filename!r} points outside the archive and was ignored")
            continue
        if any(part in SKIP_DIRS for part in path.parts) or path.suffix not in (".py", ".ipynb"):
            continue
        if info.file_size > MAX_FILE_BYTES:
            warnings.append(
                f"zip entry {info.filename!r} is larger than {MAX_FILE_BYTES} bytes and was ignored"
            )
            continue
        total += info.file_size
        count += 1
        if total > MAX_TOTAL_BYTES or count > MAX_FILES:
            raise SubmissionError("the zip archive holds more source than a submission can (zip bomb?)")
        yield info, str(path)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read at most the declared size plus one byte, so a lying header cannot inflate without bound."""
    with archive.open(info) as handle:
        data = handle.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise SubmissionError(f"zip entry {info.filename!r} is larger than its header says")
    return data


def _write_source(dest: Path, relpath: str, data: bytes, warnings: list[str], whole: bool = False) -> None:
    """Write one source file into the staged folder; a notebook becomes a module. An unreadable notebook inside
    a folder or zip is skipped with a warning (the rest is graded); as the whole submission it is an error."""
    target = dest / relpath
    if relpath.endswith(".ipynb"):
        try:
            source, notes = notebook_to_module(data.decode("utf-8", "replace"), relpath)
        except SubmissionError as exc:
            if whole:
                raise
            warnings.append(f"{exc}; it was skipped")
            return
        warnings.extend(notes)
        target = target.with_suffix(".py")
        if target.exists():
            return  # a .py of the same name wins over the notebook
        data = source.encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


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


def copy_sources(source: Path, dest: Path) -> list[str]:
    """Copy the Python sources (and notebooks, converted) of a submission into ``dest``."""
    warnings: list[str] = []
    if not source.exists():
        raise SubmissionError(f"{source} does not exist")
    if source.is_dir():
        files = sorted(
            p
            for p in source.rglob("*")
            if p.is_file()
            and p.suffix in (".py", ".ipynb")
            and not any(part in SKIP_DIRS for part in p.relative_to(source).parts)
        )
        if len(files) > MAX_FILES:
            raise SubmissionError(f"{source} holds more than {MAX_FILES} source files")
        notebooks_last = sorted(files, key=lambda p: p.suffix == ".ipynb")
        for path in notebooks_last:
            if path.stat().st_size > MAX_FILE_BYTES:
                warnings.append(
                    f"{path.relative_to(source)} is larger than {MAX_FILE_BYTES} bytes and was ignored"
                )
                continue
            _write_source(dest, path.relative_to(source).as_posix(), path.read_bytes(), warnings)
    elif source.suffix == ".zip":
        try:
            with zipfile.ZipFile(source) as archive:
                members = list(_safe_zip_members(archive, warnings))
                for info, relpath in sorted(members, key=lambda m: m[1].endswith(".ipynb")):
                    _write_source(dest, relpath, _read_member(archive, info), warnings)
        except zipfile.BadZipFile as exc:
            raise SubmissionError(f"{source} is not a readable zip archive: {exc}") from None
    elif source.suffix in (".py", ".ipynb"):
        _write_source(dest, importable_name(source.stem) + source.suffix, source.read_bytes(), warnings, whole=True)
    else:
        raise SubmissionError(f"{source}: a submission is a folder, a .zip, a .py or an .ipynb file")
    return warnings


def locate(dest: Path, wanted: Mapping[str, Sequence[str]]) -> dict[str, LocatedModule]:
    """Find each module key's file: the shallowest file whose path ends with one of its candidate paths.

    A submission of a single module file (or notebook) provides every key.
    """
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.py"))
    found: dict[str, LocatedModule] = {}
    if len(files) == 1 and "/" not in files[0]:
        only = files[0]
        return {key: LocatedModule(key, only, only[:-3], ".") for key in wanted}
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
        found[key] = LocatedModule(key, rel, dotted, root)
    return found


def stage(source: Path, dest: Path, wanted: Mapping[str, Sequence[str]]) -> Staged:
    """Copy a submission's sources into ``dest`` (created fresh) and locate the assignment's modules."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    warnings = copy_sources(source, dest)
    if not any(dest.rglob("*.py")):
        raise SubmissionError(f"{source} contains no Python source (.py or .ipynb)")
    return Staged(dest, locate(dest, wanted), warnings)


def forbidden_imports(source: str, forbidden: Iterable[str]) -> dict[str | None, list[str]]:
    """Static scan: {enclosing top-level function name or None for module level: [imported names]}."""
    blocked = set(forbidden)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str | None, list[str]] = {}

    def record(owner: str | None, names: Iterable[str]) -> None:
        for name in names:
            if name.partition(".")[0] in blocked:
                found.setdefault(owner, []).append(name)

    def visit(node: ast.AST, owner: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = owner
            if owner is None and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = child.name
            if isinstance(child, ast.Import):
                record(inner, (a.name for a in child.names))
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                record(inner, [child.module])
            visit(child, inner)

    visit(tree, None)
    return found
