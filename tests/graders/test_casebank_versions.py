"""The case bank's cache stays bounded: each version of the grader's code banks in a folder of its own, and
opening the bank removes the versions nobody used lately, never anything else kept in the folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from graders import casebank_versions as versions
from graders.casebank import CaseBank, code_fingerprint, read
from graders.specs import registry
from tests.graders.test_casebank import _banked

NOW = 1_000_000_000.0
HOUR = 3600.0


def _version(root: Path, name: str, used: float) -> Path:
    folder = root / name
    (folder / "ab").mkdir(parents=True)
    (folder / "ab" / ("ab" + "0" * 62 + ".bank")).write_bytes(b"bank")
    (folder / versions.MARKER).touch()
    os.utime(folder / versions.MARKER, (used, used))
    return folder


def test_old_versions_beyond_the_most_recent_ones_are_removed_once_unused(tmp_path: Path) -> None:
    current = _version(tmp_path, "c" * 16, NOW)
    others = {f"{i:016x}": NOW - (i + 2) * HOUR for i in range(5)}  # 0 used most recently, 4 least
    for name, used in others.items():
        _version(tmp_path, name, used)
    fresh = _version(tmp_path, "f" * 16, NOW - 60)  # another version's process is using it right now
    removed = versions.remove_unused(tmp_path, current.name, now=NOW)
    # kept: the current one and the two most recently used others (fresh, then 0)
    assert removed == sorted(f"{i:016x}" for i in (1, 2, 3, 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([current.name, fresh.name, f"{0:016x}"])


def test_versions_in_use_are_kept_however_many_there_are(tmp_path: Path) -> None:
    for i in range(6):
        _version(tmp_path, f"{i:016x}", NOW - 60 * i)
    assert versions.remove_unused(tmp_path, "f" * 16, now=NOW) == []
    assert len(list(tmp_path.iterdir())) == 6


def test_only_what_the_bank_wrote_is_ever_removed(tmp_path: Path) -> None:
    """Links, files, folders of other names, and old-layout shards holding anything else stay."""
    old = NOW - 100 * HOUR
    outside = tmp_path / "outside"
    _version(outside, "e" * 16, old)
    for i in range(3):
        _version(tmp_path / "bank", f"{i:016x}", NOW - HOUR * (i + 1))
    bank = tmp_path / "bank"
    (bank / ("d" * 16)).symlink_to(outside / ("e" * 16))
    (bank / ("b" * 16)).write_text("a file named like a version")
    (bank / "notes").mkdir()
    shard = bank / "9f"  # the layout before version folders: removed when it holds only bank files
    shard.mkdir()
    (shard / ("9f" + "1" * 62 + ".bank")).write_bytes(b"old")
    mixed = bank / "8e"
    mixed.mkdir()
    (mixed / "mine.txt").write_text("not a bank file")
    for path in (shard, mixed, bank / "notes"):
        os.utime(path, (old, old))
    removed = versions.remove_unused(bank, "c" * 16, now=NOW)
    assert removed == sorted([f"{2:016x}", "9f"])
    assert (outside / ("e" * 16) / versions.MARKER).exists()
    assert {p.name for p in bank.iterdir()} == {f"{0:016x}", f"{1:016x}", "d" * 16, "b" * 16, "notes", "8e"}


def test_a_bank_writes_into_its_versions_folder_and_marks_it_used(tmp_path: Path) -> None:
    stale = _version(tmp_path, "0" * 16, NOW - 100 * HOUR)
    for i in range(1, 3):
        _version(tmp_path, f"{i:016x}", NOW - i * HOUR)
    bank = CaseBank("sha256:test", 0, "quick", folder=tmp_path)
    spec = registry.get("relu_forward")
    bank.get(spec, lambda: _banked(spec))
    folder = versions.version_folder(tmp_path, code_fingerprint())
    assert bank.path(spec).is_relative_to(folder) and read(bank.path(spec)) is not None
    assert (folder / versions.MARKER).exists() and not stale.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the modes say")
def test_a_read_only_cache_removes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    _version(root, "0" * 16, NOW - 100 * HOUR)
    root.chmod(0o500)
    try:
        assert versions.open_version(root, "a" * 64) == []
        assert (root / ("0" * 16)).exists()
    finally:
        root.chmod(0o700)


def test_versions_are_listed_current_first_then_most_recently_used(tmp_path: Path) -> None:
    _version(tmp_path, "0" * 16, NOW - 2 * HOUR)
    _version(tmp_path, "1" * 16, NOW - HOUR)
    _version(tmp_path, "c" * 16, NOW - 3 * HOUR)
    (tmp_path / "notes").mkdir()
    listed = versions.versions_in(tmp_path, "c" * 16)
    assert [(v.name, v.current) for v in listed] == [("c" * 16, True), ("1" * 16, False), ("0" * 16, False)]
    assert all(v.size_bytes == len(b"bank") for v in listed) and listed[1].last_used == NOW - HOUR


def test_nngrade_cache_lists_the_versions_and_clear_removes_only_the_banks_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from graders.cli import main as cli_main

    root = tmp_path / "bank"
    monkeypatch.setenv("NNGRADE_CASE_BANK", str(root))
    _version(root, "0" * 16, NOW)
    (root / "notes").mkdir()
    current = versions.version_folder(root, code_fingerprint()).name
    shown = CliRunner().invoke(cli_main, ["cache"])
    assert shown.exit_code == 0, shown.output
    assert str(root) in shown.output and "0" * 16 in shown.output and f"{current} nothing banked yet" in shown.output
    CaseBank("sha256:test", 0, "quick").get(registry.get("relu_forward"),
                                            lambda: _banked(registry.get("relu_forward")))
    assert "(this version)" in CliRunner().invoke(cli_main, ["cache"]).output.splitlines()[1]
    cleared = CliRunner().invoke(cli_main, ["cache", "--clear"])
    assert cleared.exit_code == 0 and "removed 2 version folders" in cleared.output
    assert [p.name for p in root.iterdir()] == ["notes"]
