"""The specs' layout: families borrow only from the vocabulary and the kit, and the kit borrows from no family.

A family module (graders/specs/dense.py, graders/specs/dlfs/layers.py, ...) may import, of ``graders.*``, only
the vocabulary (graders.specs.base, .program, .strategies), the kit (graders.specs.kit.*) and, inside a family
package such as graders/specs/dlfs/, that package's own modules. So a family can be read, moved or split without
chasing helpers through other families, and a helper two families need goes into the kit
(graders/specs/kit/__init__.py says where). Read from the source with ``ast`` (every import statement, those
inside functions too), so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "graders" / "specs"
KIT = "graders.specs.kit"
VOCABULARY = ("graders.specs.base", "graders.specs.program", "graders.specs.strategies")
#: graders/specs modules that are not families: the vocabulary, the registry (it imports every family) and
#: the package itself.
NOT_FAMILIES = {"__init__.py", "base.py", "program.py", "strategies.py", "registry.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(source: str, name: str, is_package: bool = False) -> set[str]:
    """Every module the source imports (``from pkg import mod`` counts as ``pkg.mod`` when that is a module;
    relative imports are resolved against ``name``, the importing module)."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if _is_module(full) else base)
    return found


def family_modules() -> list[Path]:
    return sorted(
        p for p in SPECS.rglob("*.py")
        if KIT.replace(".", "/") not in p.relative_to(REPO).as_posix()
        and not (p.parent == SPECS and p.name in NOT_FAMILIES)
    )


def kit_modules() -> list[Path]:
    return sorted((SPECS / "kit").rglob("*.py"))


def _in(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def family_violations(source: str, name: str, is_package: bool = False) -> list[str]:
    """The graders.* imports of family module ``name`` that are neither vocabulary, kit, nor its own package."""
    package = name if is_package else name.rpartition(".")[0]
    allowed = [*VOCABULARY, KIT, *([package] if package != "graders.specs" else [])]
    imported = imported_modules(source, name, is_package)
    return sorted(m for m in imported if _in(m, "graders") and not any(_in(m, a) for a in allowed))


def kit_violations(source: str, name: str, is_package: bool = False) -> list[str]:
    """The spec modules kit module ``name`` imports that are neither vocabulary nor kit: families."""
    return sorted(
        m for m in imported_modules(source, name, is_package)
        if _in(m, "graders.specs") and m != "graders.specs" and not any(_in(m, a) for a in (*VOCABULARY, KIT))
    )


def _read(path: Path) -> tuple[str, str, bool]:
    return path.read_text(), module_name(path), path.name == "__init__.py"


def test_the_layout_finds_the_families_and_the_kit() -> None:
    """Guards the two tests below against passing on an empty list (a moved folder, a wrong path)."""
    families = {module_name(p) for p in family_modules()}
    assert {"graders.specs.dense", "graders.specs.conv", "graders.specs.dlfs.layers"} <= families
    assert not any(_in(f, KIT) or f in VOCABULARY or f == "graders.specs.registry" for f in families)
    assert {"graders.specs.kit.programs", "graders.specs.kit.detectors"} <= {module_name(p) for p in kit_modules()}


@pytest.mark.parametrize("path", family_modules(), ids=lambda p: p.relative_to(SPECS).as_posix())
def test_a_family_imports_only_the_vocabulary_and_the_kit(path: Path) -> None:
    assert family_violations(*_read(path)) == [], (
        f"{path.relative_to(REPO)} imports another family or another part of the grader: move what it needs "
        "into graders/specs/kit/ (see graders/specs/kit/__init__.py)"
    )


@pytest.mark.parametrize("path", kit_modules(), ids=lambda p: p.relative_to(SPECS).as_posix())
def test_the_kit_imports_no_family(path: Path) -> None:
    assert kit_violations(*_read(path)) == []


# ---------------------------------------------------------------- the checker itself
FAMILY_SOURCE = '''
from graders.specs import strategies as S
from graders.specs.base import Spec
from graders.specs.kit import masks
from graders.specs.kit.programs import forward_program
from graders.specs.dlfs.common import one_hot
from . import common
from reference import cs231n as R
import numpy as np

def later():
    from graders.specs.conv import conv_cases
    from graders.checks import as_numeric
'''


def test_the_checker_reads_every_kind_of_import() -> None:
    found = imported_modules(FAMILY_SOURCE, "graders.specs.dlfs.layers")
    assert {
        "graders.specs.strategies", "graders.specs.base", "graders.specs.kit.masks", "graders.specs.kit.programs",
        "graders.specs.dlfs.common", "graders.specs.conv", "graders.checks", "reference.cs231n", "numpy",
    } <= found


def test_the_checker_names_a_borrowed_family_and_allows_the_own_package() -> None:
    """In dlfs/ a module may import dlfs.common, but not conv (another family) or graders.checks (not the kit);
    a top-level family may not import dlfs (another family's package), nor graders.specs itself (its ``from .
    import common`` names no module there)."""
    assert family_violations(FAMILY_SOURCE, "graders.specs.dlfs.layers") == ["graders.checks", "graders.specs.conv"]
    top = family_violations(FAMILY_SOURCE, "graders.specs.dense")
    assert top == ["graders.checks", "graders.specs", "graders.specs.conv", "graders.specs.dlfs.common"]


def test_the_checker_names_a_family_the_kit_imports() -> None:
    source = "\n".join(("from graders.specs.kit import rules", "from graders.checks import compare_arrays",
                        "from graders.specs import dropout"))
    assert kit_violations(source, "graders.specs.kit.masks") == ["graders.specs.dropout"]
