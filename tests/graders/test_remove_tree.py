"""remove_tree cleans up what workers leave behind without touching anything outside the tree it removes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from graders.isolation import remove_tree, writable_inside


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_failure_at_the_top_never_chmods_the_folder_that_holds_it(tmp_path: Path) -> None:
    parent = tmp_path / "shared"
    parent.mkdir()
    os.chmod(parent, 0o1777)  # like /tmp
    tree = parent / "nngrade-xyz"
    tree.mkdir()
    handler = writable_inside(tree)
    handler(os.rmdir, str(tree), None)  # rmtree could not remove the top itself (a worker still writing)
    assert mode(parent) == 0o1777
    assert not tree.exists()


def test_a_link_left_in_the_tree_does_not_have_its_target_chmodded(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    os.chmod(outside, 0o755)
    tree = tmp_path / "worker"
    (tree / "sub").mkdir(parents=True)
    link = tree / "sub" / "escape"
    link.symlink_to(outside)
    handler = writable_inside(tree)
    handler(os.unlink, str(link), None)
    assert mode(outside) == 0o755 and outside.is_dir()
    assert not link.is_symlink()


def test_read_only_folders_inside_are_removed(tmp_path: Path) -> None:
    tree = tmp_path / "worker"
    locked = tree / "a" / "b"
    locked.mkdir(parents=True)
    (locked / "f.txt").write_text("x")
    os.chmod(locked, 0o500)
    os.chmod(tree / "a", 0o500)
    os.chmod(tmp_path, 0o755)
    remove_tree(tree)
    assert not tree.exists()
    assert mode(tmp_path) == 0o755
