"""Entry names of a class folder: kept whole up to 255 bytes, longer ones shortened with a hash of the original
name (so names sharing a long prefix do not collide), and symbolic links listed as ignored, never graded."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from graders.batch.discover import HASH_CHARS, MAX_NAME_BYTES, ClassFolderError, discover, safe_name
from tests.graders.conftest import write_tree

SHARED = "hw2-" + "x" * 196  # 200 characters two repository-style names share


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:HASH_CHARS]


# ------------------------------------------------------------------ names
def test_long_names_sharing_a_prefix_get_different_stable_names() -> None:
    one, two = SHARED + "-alice" + "a" * 94, SHARED + "-bobby" + "b" * 94
    assert len(one) == len(two) == 300
    first, second = safe_name(one), safe_name(two)
    assert first != second
    assert (first, second) == (safe_name(one), safe_name(two))  # the same name always maps the same way
    for name, raw in ((first, one), (second, two)):
        assert len(name.encode()) == MAX_NAME_BYTES
        assert name == raw[: MAX_NAME_BYTES - HASH_CHARS - 1] + "-" + digest(raw)


def test_a_name_up_to_the_limit_is_kept_whole() -> None:
    assert safe_name("a" * MAX_NAME_BYTES) == "a" * MAX_NAME_BYTES
    assert safe_name("a" * (MAX_NAME_BYTES + 1)) == "a" * (MAX_NAME_BYTES - HASH_CHARS - 1) + "-" + digest(
        "a" * (MAX_NAME_BYTES + 1))


def test_a_long_name_in_another_script_is_cut_at_a_character_boundary() -> None:
    raw = "Zoë-" + "ü" * 200  # 405 bytes of UTF-8
    name = safe_name(raw)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert name.startswith("Zoë-üü") and name.endswith("-" + digest(raw))
    assert "\ufffd" not in name


def test_a_long_name_with_a_trailing_dot_at_the_cut_still_has_no_trailing_dot_before_the_hash() -> None:
    raw = "a" * (MAX_NAME_BYTES - HASH_CHARS - 2) + "." * 40 + "b"
    name = safe_name(raw)
    assert ".-" not in name and name.endswith("-" + digest(raw))


# ------------------------------------------------------------------ discover
def test_discovered_long_names_sharing_a_prefix_do_not_collide(tmp_path: Path) -> None:
    """On Linux a file name is at most 255 bytes, so these are 250 characters long (the 300-character case
    is safe_name's, above); before, both were cut to the same 80 characters and one became ``-2``."""
    alice, bob = SHARED + "-alice" + "a" * 44, SHARED + "-bob" + "b" * 46
    write_tree(tmp_path, {f"{bob}/cs231n/layers.py": "", f"{alice}/cs231n/layers.py": ""})
    found = discover(tmp_path)
    assert [(e.name, e.source) for e in found.entries] == [(alice, alice), (bob, bob)]
    assert discover(tmp_path) == found


def test_colliding_names_at_the_limit_stay_within_it(tmp_path: Path) -> None:
    stem = "a" * (MAX_NAME_BYTES - 3)
    write_tree(tmp_path, {f"{stem}.py": "", f"{stem.upper()}/layers.py": ""})
    names = [e.name for e in discover(tmp_path).entries]
    assert names[0] == stem.upper() and names[1].endswith("-2")
    assert all(len(name.encode()) <= MAX_NAME_BYTES for name in names)


def test_a_symlinked_entry_is_ignored_not_graded(tmp_path: Path) -> None:
    outside = write_tree(tmp_path / "outside", {"bob/cs231n/layers.py": "", "secret.py": ""})
    class_dir = write_tree(tmp_path / "class", {"alice/cs231n/layers.py": ""})
    (class_dir / "bob").symlink_to(outside / "bob", target_is_directory=True)
    (class_dir / "carol.py").symlink_to(outside / "secret.py")
    (class_dir / "dangling.zip").symlink_to(tmp_path / "nowhere.zip")
    (class_dir / "loop").symlink_to(class_dir / "loop")

    found = discover(class_dir)

    assert [e.source for e in found.entries] == ["alice"]
    assert found.ignored == [f"{name} (symbolic link, not followed)"
                             for name in ("bob", "carol.py", "dangling.zip", "loop")]


def test_a_class_folder_of_links_only_is_refused_naming_them(tmp_path: Path) -> None:
    outside = write_tree(tmp_path / "outside", {"alice/layers.py": ""})
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    (class_dir / "alice").symlink_to(outside / "alice", target_is_directory=True)
    with pytest.raises(ClassFolderError, match=r"no submissions.*alice \(symbolic link, not followed\)"):
        discover(class_dir)
