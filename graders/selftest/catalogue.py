"""The mutation catalogue: realistic student bugs and correct-but-different rewrites, as exact-snippet edits.

One TOML file per assignment, ``graders/selftest/catalogue/<assignment>.toml``::

    assignment = "cs231n-a2"

    [defaults]                      # optional: what every entry gets unless it says otherwise
    base = "cs231n-correct-loops"
    file = "assignment2/cs231n/layers.py"

    [[entry]]
    id = "conv-backward-pad-slicing"
    kind = "mutant"                 # or "equivalent"
    target = "conv_backward_naive"  # the function that must lose points (mutant) / that was rewritten
    pattern = "pad:-pad slicing"    # the bug pattern (or the rewrite) this entry stands for
    diagnosis = ["pad = 0"]         # words the target's diagnosis must contain (mutants the grader knows)
    spares = ["conv_relu_backward"] # optional (mutants): functions that must keep full marks all the same
    may_lose = ["robust:large_scores"]  # optional (equivalents): robustness checks of the target it may lose
    old = '''
        dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    '''
    new = '''
        dx = dx_pad[:, :, pad:-pad, pad:-pad]
    '''

    [[entry.patch]]                 # optional further edits of the same entry (a bug spread over two places)
    file = "..."                    # defaults to the entry's file
    old = '''...'''
    new = '''...'''

Why data and not code: an entry is a claim about the grader ("this bug costs points in that function"), and
claims are easiest to read, review and extend as a list. The base is a correct submission: an example folder
``submissions/examples/<base>/submission`` or a folder ``graders/selftest/bases/<base>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import tomllib

from graders.selftest.patch import Patch, Tree, apply_patches, read_tree

CATALOGUE_DIR = Path(__file__).with_name("catalogue")
BASES_DIR = Path(__file__).with_name("bases")
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "submissions" / "examples"

Kind = Literal["mutant", "equivalent"]
KINDS: tuple[Kind, ...] = ("mutant", "equivalent")
ENTRY_KEYS = {"id", "kind", "base", "file", "old", "new", "patch", "pattern", "target", "diagnosis", "note",
              "may_lose", "spares"}


class CatalogueError(ValueError):
    """A malformed catalogue: unknown keys, duplicate ids, a base that does not exist, ..."""


@dataclass(frozen=True)
class Entry:
    """One catalogue entry: a base submission, the edits that make it, and what the grader must do with it."""

    id: str
    kind: Kind
    base: str
    patches: tuple[Patch, ...]
    pattern: str
    target: str
    #: Words the target function's diagnosis must contain (each, case-insensitively); empty: not checked. For an
    #: equivalent with ``may_lose``: the words its robustness failure must be explained with.
    diagnosis: tuple[str, ...] = ()
    note: str = ""
    #: For an equivalent written in a corner the hand-out does not cover (no max shift in a softmax, a 2-D-only
    #: dropout): the robustness checks of the target it may lose (e.g. "robust:large_scores"), and nothing else.
    may_lose: tuple[str, ...] = ()
    #: For a mutant: functions that must keep full marks although they build on the target (one bug costs
    #: points once: a backward judged on its own keeps its points when only its forward is wrong).
    spares: tuple[str, ...] = ()

    @property
    def is_mutant(self) -> bool:
        return self.kind == "mutant"

    def tree(self) -> Tree:
        """The entry's submission: its base with the patches applied (PatchError: a snippet is stale)."""
        return apply_patches(base_tree(self.base), self.patches, self.id)


@dataclass(frozen=True)
class Catalogue:
    assignment: str
    entries: tuple[Entry, ...]
    path: Path

    @property
    def bases(self) -> tuple[str, ...]:
        """The base submissions the entries use, in order of first use."""
        return tuple(dict.fromkeys(e.base for e in self.entries))

    def select(self, ids: tuple[str, ...] | list[str]) -> Catalogue:
        """The entries named by ``ids`` (CatalogueError for an unknown id)."""
        unknown = set(ids) - {e.id for e in self.entries}
        if unknown:
            raise CatalogueError(f"{self.assignment}: no catalogue entries {sorted(unknown)}")
        return Catalogue(self.assignment, tuple(e for e in self.entries if e.id in ids), self.path)


def available() -> list[str]:
    """Assignments that have a catalogue."""
    return sorted(p.stem for p in CATALOGUE_DIR.glob("*.toml"))


def base_folder(name: str) -> Path:
    """The folder of base submission ``name`` (a selftest base, or an example's ``submission/`` folder)."""
    candidates = [BASES_DIR / name, EXAMPLES_DIR / name / "submission"]
    found = [c for c in candidates if c.is_dir()]
    if not found:
        raise CatalogueError(f"no base submission {name!r}: looked for {' and '.join(map(str, candidates))}")
    if len(found) > 1:
        raise CatalogueError(f"base submission {name!r} is ambiguous: {found[0]} and {found[1]} both exist")
    return found[0]


@cache
def base_tree(name: str) -> Tree:
    """The files of base submission ``name``; for an example derived from another one (its expected.toml names a
    ``base`` and ``[[patch]]`` edits: graders/examples.py), that one's files with the edits applied."""
    expected = EXAMPLES_DIR / name / "expected.toml"
    if not (BASES_DIR / name).is_dir() and expected.is_file():
        data = tomllib.loads(expected.read_text())
        if "base" in data:
            edits = [Patch(e["file"], e["old"], e["new"]) for e in data.get("patch", [])]
            return apply_patches(base_tree(str(data["base"])), edits, name)
    return read_tree(base_folder(name))


def _patches(raw: dict[str, Any], file: str | None, where: str) -> tuple[Patch, ...]:
    patches = []
    if "old" in raw or "new" in raw:
        patches.append(_patch(raw, file, where))
    for extra in raw.get("patch", []):
        unknown = set(extra) - {"file", "old", "new"}
        if unknown:
            raise CatalogueError(f"{where}: unknown keys in a patch: {sorted(unknown)}")
        patches.append(_patch(extra, extra.get("file", file), where))
    if not patches:
        raise CatalogueError(f"{where}: no edit (give old/new, or [[entry.patch]] tables)")
    return tuple(patches)


def _patch(raw: dict[str, Any], file: str | None, where: str) -> Patch:
    if file is None:
        raise CatalogueError(f"{where}: no file to patch (set file, or [defaults] file)")
    if not isinstance(raw.get("old"), str) or not isinstance(raw.get("new"), str) or not raw["old"]:
        raise CatalogueError(f"{where}: a patch needs a non-empty string old and a string new")
    if raw["old"] == raw["new"]:
        raise CatalogueError(f"{where}: old and new are the same text")
    return Patch(file, raw["old"], raw["new"])


def parse(data: dict[str, Any], path: Path, graded: set[str] | None = None) -> Catalogue:
    """A catalogue from its TOML data; ``graded`` (the assignment's function names) validates the targets."""
    assignment = data.get("assignment", path.stem)
    defaults = data.get("defaults", {})
    unknown_defaults = set(defaults) - {"base", "file"}
    if unknown_defaults:
        raise CatalogueError(f"{path}: unknown keys in [defaults]: {sorted(unknown_defaults)}")
    entries: list[Entry] = []
    seen: set[str] = set()
    for position, raw in enumerate(data.get("entry", []), start=1):
        where = f"{path.name} entry {raw.get('id', f'#{position}')}"
        unknown = set(raw) - ENTRY_KEYS
        if unknown:
            raise CatalogueError(f"{where}: unknown keys {sorted(unknown)}")
        missing = {"id", "kind", "pattern", "target"} - set(raw)
        if missing:
            raise CatalogueError(f"{where}: missing {sorted(missing)}")
        if raw["id"] in seen:
            raise CatalogueError(f"{where}: duplicate id")
        seen.add(raw["id"])
        if raw["kind"] not in KINDS:
            raise CatalogueError(f"{where}: kind must be one of {KINDS}, not {raw['kind']!r}")
        if graded is not None and raw["target"] not in graded:
            raise CatalogueError(f"{where}: {assignment} does not grade {raw['target']!r}")
        diagnosis = tuple(raw.get("diagnosis", ()))
        if diagnosis and raw["kind"] != "mutant" and not raw.get("may_lose"):
            raise CatalogueError(f"{where}: only mutants, and equivalents that may lose a robustness check, have "
                                 "a diagnosis to check")
        spares = tuple(raw.get("spares", ()))
        if spares and (raw["kind"] != "mutant" or raw["target"] in spares):
            raise CatalogueError(f"{where}: spares lists functions other than the target of a mutant")
        if graded is not None and set(spares) - graded:
            raise CatalogueError(f"{where}: {assignment} does not grade {sorted(set(spares) - graded)}")
        may_lose = tuple(raw.get("may_lose", ()))
        if may_lose and (raw["kind"] != "equivalent" or not all(n.startswith("robust:") for n in may_lose)):
            raise CatalogueError(f"{where}: may_lose lists robustness checks (robust:...) of an equivalent")
        base = raw.get("base", defaults.get("base"))
        if base is None:
            raise CatalogueError(f"{where}: no base (set base, or [defaults] base)")
        entries.append(
            Entry(
                id=raw["id"],
                kind=raw["kind"],
                base=base,
                patches=_patches(raw, raw.get("file", defaults.get("file")), where),
                pattern=raw["pattern"],
                target=raw["target"],
                diagnosis=diagnosis,
                note=raw.get("note", ""),
                may_lose=may_lose,
                spares=spares,
            )
        )
    return Catalogue(assignment, tuple(entries), path)


def load(assignment: str, graded: set[str] | None = None) -> Catalogue:
    """The catalogue of ``assignment``: a name with a file in ``catalogue/`` (plus the files of the folder
    ``catalogue/<name>.d/``, if any, each with the same format: one file per family of functions keeps entries
    easy to find), or a path to a .toml file."""
    path = Path(assignment) if assignment.endswith(".toml") else CATALOGUE_DIR / f"{assignment}.toml"
    if not path.exists():
        raise CatalogueError(f"no selftest catalogue for {assignment!r}; available: {', '.join(available())}")
    parts = [path, *sorted(path.with_suffix(".d").glob("*.toml"))]
    catalogues: list[Catalogue] = []
    for part in parts:
        try:
            data = tomllib.loads(part.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{part}: {exc}") from None
        data.setdefault("assignment", catalogues[0].assignment if catalogues else path.stem)
        catalogues.append(parse(data, part, graded))
    entries = [e for c in catalogues for e in c.entries]
    ids = [e.id for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CatalogueError(f"{assignment}: duplicate entry ids {duplicates}")
    return Catalogue(catalogues[0].assignment, tuple(entries), path)
