"""Each worker's copy of the submission (graders/sandbox/template.py): the same files, readable by the worker's
uid and writable only by the grader's, links neither copied nor followed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from graders.sandbox import template
from graders.sandbox.template import Tree


def test_a_copy_holds_every_file_with_modes_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template, "IN_MEMORY_BYTES", 10)  # the large file is copied from the source instead
    source = tmp_path / "source"
    (source / "pkg" / "__pycache__").mkdir(parents=True)
    (source / "pkg" / "layers.py").write_text("def f():\n    return 1\n")
    (source / "pkg" / "__pycache__" / "layers.pyc").write_bytes(b"\0")
    (source / "data.bin").write_bytes(bytes(range(256)) * 4)
    (source / "small.txt").write_text("hi")
    os.chmod(source / "small.txt", 0o600)
    secret = tmp_path / "secret"
    secret.write_text("not the student's")
    (source / "link").symlink_to(secret)
    (source / "linked-folder").symlink_to(tmp_path, target_is_directory=True)
    tree = Tree.read(source, frozenset({"__pycache__"}))
    old = os.umask(0o077)
    try:
        tree.write(tmp_path / "one")
        tree.write(tmp_path / "two")
    finally:
        os.umask(old)
    for copy in (tmp_path / "one", tmp_path / "two"):
        files = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*"))
        assert files == ["data.bin", "pkg", "pkg/layers.py", "small.txt"]
        assert (copy / "pkg" / "layers.py").read_text() == "def f():\n    return 1\n"
        assert (copy / "data.bin").read_bytes() == bytes(range(256)) * 4
        for path in (copy, *copy.rglob("*")):
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
    (tmp_path / "one" / "small.txt").write_text("changed by a worker")
    assert (tmp_path / "two" / "small.txt").read_text() == "hi" and (source / "small.txt").read_text() == "hi"


def test_writing_into_an_existing_folder_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.py").write_text("x = 1\n")
    (tmp_path / "target").mkdir()
    with pytest.raises(FileExistsError):
        Tree.read(source).write(tmp_path / "target")


IMPORTS_WITHOUT_COMPILING = """
import importlib._bootstrap_external as external
import sys

compiled = []
original = external.SourceLoader.source_to_code
external.SourceLoader.source_to_code = lambda self, *a, **k: compiled.append(a[-1]) or original(self, *a, **k)
sys.path.insert(0, sys.argv[1])
import good, warns
print(sorted(str(p).rsplit("/", 1)[-1] for p in compiled), good.f.__code__.co_filename == good.__file__)
"""


def test_bytecode_is_added_for_files_that_compile_cleanly(tmp_path: Path) -> None:
    """Workers import the modules from the added .pyc without compiling them; a file that does not compile, or
    warns when compiled, is left for the worker to compile (so it reports the error or prints the warning as
    before)."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "good.py").write_text("def f():\n    return 1\n")
    (source / "warns.py").write_text("import re\nPATTERN = re.compile('\\d+')\n")  # an invalid escape warns
    (source / "broken.py").write_text("def f(:\n")
    tree = Tree.read(source)
    assert tree.add_bytecode() == 1
    assert [name for name in tree.files if name.endswith(".pyc")] == [
        f"__pycache__/good.{sys.implementation.cache_tag}.pyc"]
    tree.write(tmp_path / "copy")
    done = subprocess.run([sys.executable, "-I", "-B", "-c", IMPORTS_WITHOUT_COMPILING, str(tmp_path / "copy")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["['warns.py']", "True"]


def test_bytecode_compiled_ahead_can_be_taken_back(tmp_path: Path) -> None:
    """The session compiles while the fork server starts, before it knows the worker's Python version; for
    another version the copies are written without the bytecode, exactly as listed."""
    source = tmp_path / "source"
    (source / "pkg").mkdir(parents=True)
    (source / "top.py").write_text("X = 1\n")
    (source / "pkg" / "inner.py").write_text("Y = 2\n")
    listed = Tree.read(source)
    compiled = Tree.read(source)
    assert compiled.add_bytecode() == 2 and compiled.files != listed.files
    compiled.drop_bytecode()
    assert (compiled.folders, compiled.files) == (listed.folders, listed.files)
