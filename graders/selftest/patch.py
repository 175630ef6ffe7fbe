"""Exact-snippet patches: the one way this project derives a submission from another.

Why exact snippets (and not line numbers or diffs): a patch that names the text it replaces fails loudly when
the base changes under it, instead of silently editing the wrong line. Every snippet must occur exactly once
in its file. Used by the example submissions (``base`` + ``[[patch]]`` in expected.toml, see
graders/examples.py) and by the selftest's mutation catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: A submission as data: path relative to its root (POSIX separators) -> file content.
Tree = dict[str, bytes]


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` (which must occur exactly once in ``path``) by ``new``; with ``old`` empty and no such
    file in the tree, add the file with ``new`` as its content (a hand-out year that has a module the base
    lacks)."""

    path: str
    old: str
    new: str


class PatchError(ValueError):
    """A patch names a file the tree does not have (and is not adding it), or its snippet does not occur exactly
    once."""


def read_tree(folder: Path) -> Tree:
    """Every file under ``folder`` (bytecode caches left out), keyed by its relative POSIX path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def apply_patches(files: Tree, patches: Iterable[Patch], name: str = "patch") -> Tree:
    """A copy of ``files`` with every patch applied in order; ``name`` labels the error messages."""
    files = dict(files)
    for patch in patches:
        if patch.path not in files and not patch.old:
            files[patch.path] = patch.new.encode()
            continue
        if patch.path not in files:
            raise PatchError(f"{name}: no file {patch.path!r} to patch")
        text = files[patch.path].decode()
        count = text.count(patch.old)
        if count != 1:
            raise PatchError(
                f"{name}: a patch for {patch.path} matches {count} times (must be once):\n{patch.old}"
            )
        files[patch.path] = text.replace(patch.old, patch.new).encode()
    return files


def write_tree(files: Tree, folder: Path) -> None:
    """Write ``files`` under ``folder`` (created if needed)."""
    for path, data in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
