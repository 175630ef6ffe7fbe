"""Staging a hostile submission: links are never followed, only regular files are read, caps hold, and hostile
content (deep nesting, wrong types, broken zip members) is skipped with a warning instead of crashing.

Each test builds what a student could hand in and calls :func:`graders.submission.stage` on it, then looks at
the staged folder (what the worker would import) and at the warnings (what the instructor reads). A few go
through :func:`graders.grade.grade` to show the rest of the submission is still graded.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import graders.submission as submission
from graders.submission import Staged, SubmissionError, forbidden_imports, notebook_to_module, stage
from tests.graders.conftest import CORRECT_VECTORISED, GradeFn, full_marks, write_tree

WANTED = {"layers": ["cs231n/layers.py", "layers.py"]}
CANARY = "NNGRADE-CANARY-3f9c1e"  # text that must never reach the staged folder
SECRET_SOURCE = f"SECRET = {CANARY!r}\n"
#: A notebook nested 100,000 levels deep (200 KB): json.loads raises RecursionError on it.
NESTED_NOTEBOOK = "[" * 100_000 + "]" * 100_000


# ------------------------------------------------------------------ helpers
def run_stage(source: Path, tmp_path: Path) -> Staged:
    return stage(source, tmp_path / "staged", WANTED)


def staged_files(staged: Staged) -> dict[str, bytes]:
    """Every file of the staged folder, by relative path."""
    return {p.relative_to(staged.root).as_posix(): p.read_bytes() for p in staged.root.rglob("*") if p.is_file()}


def assert_canary_absent(staged: Staged) -> None:
    for relpath, data in staged_files(staged).items():
        assert CANARY.encode() not in data, relpath


def warning_about(staged: Staged, *words: str) -> str:
    """The one warning that holds all ``words``."""
    found = [w for w in staged.warnings if all(word in w for word in words)]
    assert len(found) == 1, (words, staged.warnings)
    return found[0]


def stage_within(seconds: float, source: Path, tmp_path: Path) -> Callable[[], Staged]:
    """Run stage in a thread and fail (instead of hanging the suite) when it does not return in time; the
    returned function gives the result or raises what stage raised."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["staged"] = run_stage(source, tmp_path)
        except BaseException as exc:  # handed back to the test below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"staging {source} did not finish in {seconds} s"

    def result() -> Staged:
        if "error" in outcome:
            raise outcome["error"]
        staged: Staged = outcome["staged"]
        return staged

    return result


def zip_bytes(members: list[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def headers(data: bytes, name: str) -> tuple[int, int]:
    """Offsets of the local and central headers of the member ``name`` (its name must occur nowhere else)."""
    encoded = name.encode()
    local = data.index(encoded) - 30
    central = data.index(encoded, local + 31) - 46
    assert data[local : local + 4] == b"PK\x03\x04" and data[central : central + 4] == b"PK\x01\x02"
    return local, central


def patched(data: bytes, name: str, local_field: int, central_field: int, fmt: str, value: int) -> bytes:
    """``data`` with one field of the member's local and central headers set to ``value``."""
    out = bytearray(data)
    local, central = headers(data, name)
    struct.pack_into(fmt, out, local + local_field, value)
    struct.pack_into(fmt, out, central + central_field, value)
    return bytes(out)


def with_member_payload(data: bytes, name: str, payload_byte: bytes) -> bytes:
    """``data`` with the member's stored (compressed) bytes overwritten."""
    out = bytearray(data)
    local, central = headers(data, name)
    name_len, extra_len = struct.unpack_from("<2H", data, local + 26)
    (size,) = struct.unpack_from("<L", data, central + 20)
    start = local + 30 + name_len + extra_len
    out[start : start + size] = payload_byte * size
    return bytes(out)


def good_tree(root: Path, extra: dict[str, str | bytes]) -> Path:
    """A submission with a correct layers.py at hw/cs231n/layers.py plus ``extra``."""
    return write_tree(root, {"hw/cs231n/layers.py": CORRECT_VECTORISED, **extra})


# ------------------------------------------------------------------ symbolic links
@pytest.mark.parametrize("target", ["outside-file", "classmate", "dangling", "proc-environ", "etc-passwd"])
def test_a_file_symlink_is_not_followed(tmp_path: Path, target: str) -> None:
    secret = write_tree(tmp_path / "outside", {"secret.py": SECRET_SOURCE}) / "secret.py"
    classmate = write_tree(tmp_path / "bob", {"cs231n/layers.py": SECRET_SOURCE}) / "cs231n" / "layers.py"
    pointed = {"outside-file": secret, "classmate": classmate, "dangling": tmp_path / "nowhere.py",
               "proc-environ": Path("/proc/self/environ"), "etc-passwd": Path("/etc/passwd")}[target]
    root = good_tree(tmp_path / "alice", {})
    (root / "cs231n").mkdir()
    (root / "cs231n" / "layers.py").symlink_to(pointed)

    staged = run_stage(root, tmp_path)

    assert_canary_absent(staged)
    assert sorted(staged_files(staged)) == ["hw/cs231n/layers.py"]
    assert staged.modules["layers"].relpath == "hw/cs231n/layers.py"
    assert warning_about(staged, "cs231n/layers.py") == (
        "cs231n/layers.py is a symbolic link; links are not followed, so it was not staged"
    )


@pytest.mark.parametrize("target", ["outside-folder", "reference-package"])
def test_a_folder_symlink_is_not_followed(tmp_path: Path, target: str) -> None:
    import reference

    outside = write_tree(tmp_path / "outside", {"layers.py": SECRET_SOURCE, "sub/more.py": SECRET_SOURCE})
    pointed = outside if target == "outside-folder" else Path(reference.__file__).parent
    root = good_tree(tmp_path / "alice", {})
    (root / "cs231n").symlink_to(pointed, target_is_directory=True)

    staged = run_stage(root, tmp_path)

    assert_canary_absent(staged)
    assert sorted(staged_files(staged)) == ["hw/cs231n/layers.py"]
    warning = warning_about(staged, "cs231n ")
    assert warning.startswith("cs231n is a symbolic link; links are not followed")


def test_the_submission_itself_may_be_a_link(tmp_path: Path) -> None:
    """The path the instructor passes is resolved once; e.g. a class folder of links into an LMS export."""
    real = write_tree(tmp_path / "export" / "1234", {"cs231n/layers.py": CORRECT_VECTORISED})
    link = tmp_path / "alice"
    link.symlink_to(real, target_is_directory=True)
    staged = run_stage(link, tmp_path)
    assert staged.modules["layers"].relpath == "cs231n/layers.py"
    assert staged.warnings == []


def test_a_zip_symlink_entry_is_not_staged(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("cs231n/layers.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = tmp_path / "alice.zip"
    archive.write_bytes(zip_bytes([(link, b"/etc/passwd"), ("hw/cs231n/layers.py", CORRECT_VECTORISED.encode())]))

    staged = run_stage(archive, tmp_path)

    assert sorted(staged_files(staged)) == ["hw/cs231n/layers.py"]
    assert warning_about(staged, "cs231n/layers.py") == (
        "cs231n/layers.py is a symbolic link; links are not followed, so it was not staged"
    )


def test_a_hard_link_is_not_staged(tmp_path: Path) -> None:
    secret = write_tree(tmp_path / "outside", {"secret.py": SECRET_SOURCE}) / "secret.py"
    root = good_tree(tmp_path / "alice", {})
    (root / "cs231n").mkdir()
    os.link(secret, root / "cs231n" / "layers.py")

    staged = run_stage(root, tmp_path)

    assert_canary_absent(staged)
    assert sorted(staged_files(staged)) == ["hw/cs231n/layers.py"]
    assert "has 2 hard links" in warning_about(staged, "cs231n/layers.py", "not staged")


def test_nothing_left_but_links_is_refused_with_the_reason(tmp_path: Path) -> None:
    secret = write_tree(tmp_path / "outside", {"secret.py": SECRET_SOURCE}) / "secret.py"
    root = tmp_path / "alice"
    (root / "cs231n").mkdir(parents=True)
    (root / "cs231n" / "layers.py").symlink_to(secret)
    with pytest.raises(SubmissionError, match="contains no Python source.*cs231n/layers.py is a symbolic link"):
        run_stage(root, tmp_path)


def test_a_control_character_in_a_name_is_escaped_in_the_warning(tmp_path: Path) -> None:
    root = good_tree(tmp_path / "alice", {})
    (root / "x\n## forged heading.py").symlink_to("/etc/passwd")
    staged = run_stage(root, tmp_path)
    assert all("\n" not in w for w in staged.warnings)
    assert "x\\n## forged heading.py is a symbolic link" in staged.warnings[0]


# ------------------------------------------------------------------ special files
def test_a_fifo_named_like_a_module_is_skipped_without_hanging(tmp_path: Path) -> None:
    root = good_tree(tmp_path / "alice", {})
    (root / "cs231n").mkdir()
    os.mkfifo(root / "cs231n" / "layers.py")

    staged = stage_within(30, root, tmp_path)()

    assert sorted(staged_files(staged)) == ["hw/cs231n/layers.py"]
    assert warning_about(staged, "cs231n/layers.py") == (
        "cs231n/layers.py is not a regular file but a named pipe (FIFO), so it was not staged"
    )


@pytest.mark.parametrize("name", ["alice.py", "alice.zip", "alice.ipynb"])
def test_a_fifo_as_the_whole_submission_is_refused_without_hanging(tmp_path: Path, name: str) -> None:
    os.mkfifo(tmp_path / name)
    result = stage_within(30, tmp_path / name, tmp_path)
    with pytest.raises(SubmissionError, match="not a regular file but a named pipe"):
        result()


# ------------------------------------------------------------------ caps
def test_folders_deeper_than_the_limit_are_skipped_with_one_warning(tmp_path: Path) -> None:
    levels = submission.MAX_DEPTH + 6
    deep_a = "/".join(["a"] * levels) + "/deep.py"
    deep_b = "/".join(["b"] * levels) + "/deep.py"
    allowed = "/".join(["c"] * submission.MAX_DEPTH) + "/ok.py"  # a file inside the deepest allowed folder
    root = good_tree(tmp_path / "alice", {deep_a: "x = 1\n", deep_b: "x = 1\n", allowed: "x = 1\n"})

    staged = run_stage(root, tmp_path)

    assert sorted(staged_files(staged)) == sorted([allowed, "hw/cs231n/layers.py"])
    warning = warning_about(staged, "levels deep")
    assert warning.startswith(f"2 folder(s) nested more than {submission.MAX_DEPTH} levels deep")
    assert "/".join(["a"] * (submission.MAX_DEPTH + 1)) in warning


def test_zip_members_deeper_than_the_limit_are_skipped_with_one_warning(tmp_path: Path) -> None:
    deep = "/".join(["a"] * (submission.MAX_DEPTH + 3))
    archive = tmp_path / "alice.zip"
    archive.write_bytes(zip_bytes([(f"{deep}/one.py", b"x = 1\n"), (f"{deep}/two.py", b"x = 2\n"),
                                   ("cs231n/layers.py", CORRECT_VECTORISED.encode())]))
    staged = run_stage(archive, tmp_path)
    assert sorted(staged_files(staged)) == ["cs231n/layers.py"]
    assert warning_about(staged, "levels deep").startswith("1 folder(s) nested more than")


def test_the_file_count_cap_stops_the_walk_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submission, "MAX_FILES", 5)
    reads: list[str] = []
    real_read = submission._read_in_folder

    def counting_read(name: str, dirfd: int) -> bytes:
        reads.append(name)
        return real_read(name, dirfd)

    monkeypatch.setattr(submission, "_read_in_folder", counting_read)
    root = write_tree(tmp_path / "alice", {"cs231n/layers.py": CORRECT_VECTORISED,
                                           **{f"extra/m{i:03}.py": "x = 1\n" for i in range(200)}})

    staged = run_stage(root, tmp_path)

    assert len(staged_files(staged)) == 5
    assert len(reads) == 6  # the sixth shows the cap is reached; nothing after it is read
    assert staged.modules["layers"].relpath == "cs231n/layers.py"
    warning = warning_about(staged, "limit of 5 Python sources")
    assert "extra/m004.py and the sources after it were not staged" in warning


def test_a_cap_reached_before_any_module_is_found_refuses_the_submission(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submission, "MAX_FILES", 5)
    root = write_tree(tmp_path / "alice", {"cs231n/layers.py": CORRECT_VECTORISED,
                                           **{f"aaa/m{i:03}.py": "x = 1\n" for i in range(20)}})
    with pytest.raises(SubmissionError, match=r"limit of 5 Python sources.*before any of the assignment's modules "
                                              r"\(cs231n/layers.py\) was found"):
        run_stage(root, tmp_path)


def test_the_total_bytes_cap_skips_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submission, "MAX_TOTAL_BYTES", 10_000)
    root = write_tree(tmp_path / "alice", {"cs231n/layers.py": CORRECT_VECTORISED,
                                           **{f"extra/big{i}.py": "#" * 4000 for i in range(5)}})

    staged = run_stage(root, tmp_path)

    assert sum(len(data) for data in staged_files(staged).values()) <= 10_000
    assert "cs231n/layers.py" in staged_files(staged)
    assert "extra/big2.py and the sources after it" in warning_about(staged, "limit of 10000 bytes of Python sources")


def test_a_zip_past_the_total_bytes_cap_with_its_module_is_graded(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submission, "MAX_TOTAL_BYTES", 10_000)
    archive = tmp_path / "alice.zip"
    archive.write_bytes(zip_bytes([*((f"zz/big{i}.py", b"#" * 4000) for i in range(5)),
                                   ("cs231n/layers.py", CORRECT_VECTORISED.encode())], zipfile.ZIP_DEFLATED))
    staged = run_stage(archive, tmp_path)
    assert staged.modules["layers"].relpath == "cs231n/layers.py"
    assert "zip bomb?" in warning_about(staged, "limit of 10000 bytes")


def test_the_listing_cap_stops_searching_a_folder_of_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submission, "MAX_ENTRIES", 50)
    root = write_tree(tmp_path / "alice", {"cs231n/layers.py": CORRECT_VECTORISED,
                                           **{f"data/img{i:03}.npy": b"" for i in range(200)},
                                           "zz/late.py": "x = 1\n"})
    staged = run_stage(root, tmp_path)
    assert sorted(staged_files(staged)) == ["cs231n/layers.py"]
    assert "nothing after data was searched" in warning_about(staged, "listing more than 50 files and folders")


def test_a_zip_with_too_many_entries_is_listed_only_up_to_the_cap(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submission, "MAX_ENTRIES", 50)
    archive = tmp_path / "alice.zip"
    archive.write_bytes(zip_bytes([("cs231n/layers.py", CORRECT_VECTORISED.encode()),
                                   *((f"data/img{i:03}.npy", b"") for i in range(200)), ("zz/late.py", b"x = 1\n")]))
    staged = run_stage(archive, tmp_path)
    assert sorted(staged_files(staged)) == ["cs231n/layers.py"]
    warning_about(staged, "listing more than 50 files and folders")


def test_a_folder_and_its_zip_are_cut_at_the_same_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Walk order: a folder's files (.py before .ipynb) before its subfolders, by name; zip members alike."""
    monkeypatch.setattr(submission, "MAX_FILES", 5)
    tree: dict[str, str | bytes] = {"cs231n/layers.py": CORRECT_VECTORISED, "cs231n/b/x.py": "", "cs231n/a.py": "",
                                    "cs231n/a.ipynb": json.dumps({"cells": []}), "top.py": "", "a/z.py": "",
                                    "a/b/c.py": ""}
    root = write_tree(tmp_path / "alice", tree)
    archive = tmp_path / "alice.zip"
    archive.write_bytes(zip_bytes([(name, data.encode() if isinstance(data, str) else data)
                                   for name, data in reversed(tree.items())]))
    from_folder = stage(root, tmp_path / "one", WANTED)
    from_zip = stage(archive, tmp_path / "two", WANTED)
    assert sorted(staged_files(from_folder)) == sorted(staged_files(from_zip)) == [
        "a/b/c.py", "a/z.py", "cs231n/a.py", "cs231n/layers.py", "top.py"]
    for staged in (from_folder, from_zip):
        assert "cs231n/a.ipynb and the sources after it" in warning_about(staged, "limit of 5 Python sources")


def test_a_zip_with_a_huge_central_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submission, "MAX_ZIP_DIRECTORY_BYTES", 1000)
    archive = tmp_path / "alice.zip"
    archive.write_bytes(zip_bytes([(f"data/{i}.npy", b"") for i in range(100)]))
    with pytest.raises(SubmissionError, match="list of entries takes .* bytes, more than the 1000 bytes"):
        run_stage(archive, tmp_path)


@pytest.mark.parametrize("comment", [b"", b"a comment", b"PK\x05\x06 a fake end record" + b"x" * 30, b"PK\x05\x06"],
                         ids=["plain", "comment", "fake-end-record", "truncated-fake-end-record"])
def test_the_zip_directory_size_is_read_as_zipfile_reads_it(comment: bytes) -> None:
    """The size checked must be the one zipfile then reads, or a crafted archive could pass the check with
    one size and make zipfile parse another. zipfile's own end-record reader is the oracle."""
    names = [f"d/{i}.py" for i in range(50)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"")
        archive.comment = comment
    oracle = zipfile._EndRecData(buffer)  # type: ignore[attr-defined]
    assert submission._zip_directory_size(buffer) == (None if oracle is None else oracle[zipfile._ECD_SIZE])
    if not comment:
        assert submission._zip_directory_size(buffer) == sum(46 + len(name) for name in names)


def test_the_zip64_directory_size_takes_precedence() -> None:
    """More than 65535 entries make zipfile write a zip64 end record; with the 32-bit size field saturated (as
    for a central directory over 4 GiB) the size must come from the zip64 record, as zipfile takes it."""
    names = [f"{i}" for i in range(0x10000 + 1)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"")
    data = bytearray(buffer.getvalue())
    end = data.rindex(b"PK\x05\x06")
    struct.pack_into("<L", data, end + 12, 0xFFFFFFFF)
    assert submission._zip_directory_size(io.BytesIO(bytes(data))) == sum(46 + len(name) for name in names)


def test_a_single_file_larger_than_the_total_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submission, "MAX_TOTAL_BYTES", 1000)
    path = tmp_path / "layers.py"
    path.write_text(CORRECT_VECTORISED + "#" * 1000)
    with pytest.raises(SubmissionError, match="larger than 1000 bytes"):
        run_stage(path, tmp_path)


def test_a_file_larger_than_the_file_cap_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submission, "MAX_FILE_BYTES", 2000)
    root = write_tree(tmp_path / "alice", {"cs231n/layers.py": CORRECT_VECTORISED, "cs231n/big.py": "#" * 2001})
    staged = run_stage(root, tmp_path)
    assert sorted(staged_files(staged)) == ["cs231n/layers.py"]
    assert warning_about(staged, "cs231n/big.py") == (
        "cs231n/big.py is larger than 2000 bytes, the most staging reads from one file, so it was not staged"
    )


# ------------------------------------------------------------------ hostile notebooks and sources
def test_a_deeply_nested_notebook_beside_a_good_module_is_skipped(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "alice", {"cs231n/layers.py": CORRECT_VECTORISED, "nested.ipynb": NESTED_NOTEBOOK})
    assert len(NESTED_NOTEBOOK) == 200_000
    staged = run_stage(root, tmp_path)
    assert sorted(staged_files(staged)) == ["cs231n/layers.py"]
    assert warning_about(staged, "nested.ipynb") == (
        "nested.ipynb is not a readable Jupyter notebook: it is nested too deeply; it was skipped"
    )


def test_a_deeply_nested_notebook_beside_a_good_module_is_graded(tmp_path: Path,
                                                                 grade_submission: GradeFn) -> None:
    root = write_tree(tmp_path / "alice", {"cs231n/layers.py": CORRECT_VECTORISED, "nested.ipynb": NESTED_NOTEBOOK})
    report = grade_submission(root)
    assert report["score"] == report["max_score"]
    assert all(full_marks(entry) for entry in report["functions"])
    assert any("nested.ipynb" in w and "nested too deeply" in w for w in report["warnings"])


def test_a_symlinked_module_is_graded_from_the_real_one(tmp_path: Path, grade_submission: GradeFn) -> None:
    secret = write_tree(tmp_path / "outside", {"secret.py": SECRET_SOURCE}) / "secret.py"
    root = good_tree(tmp_path / "alice", {})
    (root / "cs231n").mkdir()
    (root / "cs231n" / "layers.py").symlink_to(secret)
    report = grade_submission(root)
    assert report["score"] == report["max_score"]
    assert CANARY not in json.dumps(report)
    assert any("cs231n/layers.py is a symbolic link" in w for w in report["warnings"])


BAD_NOTEBOOKS = {
    "not-an-object": ([1, 2, 3], "has no list of cells"),
    "cells-a-dict": ({"cells": {"0": {"cell_type": "code", "source": "x = 1"}}}, "has no list of cells"),
    "cells-a-number": ({"cells": 7}, "has no list of cells"),
    "huge-integer": ('{"cells": [], "n": ' + "9" * 5000 + "}", "is not a readable Jupyter notebook"),
}
BAD_CELLS = {
    "source-a-dict": {"cell_type": "code", "source": {"a": 1}},
    "source-a-number": {"cell_type": "code", "source": 42},
    "source-lines-not-text": {"cell_type": "code", "source": ["x = 1\n", 2, None]},
}


@pytest.mark.parametrize("case", BAD_NOTEBOOKS, ids=list(BAD_NOTEBOOKS))
def test_a_notebook_of_the_wrong_shape_is_skipped_beside_a_good_module(tmp_path: Path, case: str) -> None:
    content, words = BAD_NOTEBOOKS[case]
    text = content if isinstance(content, str) else json.dumps(content)
    root = write_tree(tmp_path / "alice", {"cs231n/layers.py": CORRECT_VECTORISED, "nb/bad.ipynb": text})
    staged = run_stage(root, tmp_path)
    assert sorted(staged_files(staged)) == ["cs231n/layers.py"]
    assert words in warning_about(staged, "nb/bad.ipynb", "was skipped")
    with pytest.raises(SubmissionError, match=words):
        notebook_to_module(text, "bad.ipynb")


@pytest.mark.parametrize("case", BAD_CELLS, ids=list(BAD_CELLS))
def test_a_cell_of_the_wrong_shape_is_skipped_and_the_others_kept(case: str) -> None:
    text = json.dumps({"cells": [{"cell_type": "code", "source": "def kept():\n    return 1\n"}, BAD_CELLS[case],
                                 {"cell_type": "code", "source": ["def also_kept():\n", "    return 2\n"]}]})
    source, warnings = notebook_to_module(text, "nb.ipynb")
    namespace: dict[str, Any] = {}
    exec(compile(source, "nb.py", "exec"), namespace)  # our own generated module, from our own cells
    assert namespace["kept"]() == 1 and namespace["also_kept"]() == 2
    assert warnings == ["nb.ipynb: code cell 2 has a source that is not text and was skipped"]


def test_notebook_cells_with_lone_surrogates_are_skipped(tmp_path: Path) -> None:
    """JSON escapes can spell a lone surrogate, which no UTF-8 file can hold: writing it used to crash."""
    text = json.dumps({"cells": [{"cell_type": "code", "source": "from __future__ import annotations  # \ud800\n"},
                                 {"cell_type": "code", "source": "x = '\udfff'\n"},
                                 {"cell_type": "code", "source": "y = 2\n"}]})
    root = write_tree(tmp_path / "alice", {"cs231n/layers.py": CORRECT_VECTORISED, "nb.ipynb": text})
    staged = run_stage(root, tmp_path)
    module = staged_files(staged)["nb.py"].decode("utf-8")
    assert "y = 2" in module and "__future__" not in module
    assert [w.split(" cannot")[0] for w in staged.warnings] == ["nb.ipynb: code cell 1", "nb.ipynb: code cell 2"]


@pytest.mark.parametrize("name", ["alice.ipynb"])
def test_an_unreadable_notebook_as_the_whole_submission_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(NESTED_NOTEBOOK)
    with pytest.raises(SubmissionError, match="not a readable Jupyter notebook: it is nested too deeply"):
        run_stage(tmp_path / name, tmp_path)


DEEP_SOURCES = {
    "unary-chain": "x = " + "-" * 100_000 + "1\n",  # MemoryError in the parser
    "attribute-chain": "x = a" + ".b" * 100_000 + "\n",  # RecursionError building the tree
    "parentheses": "x = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n",  # SyntaxError: too many nested
    "nul-byte": "import torch\0\n",  # ValueError before Python 3.12, SyntaxError after
}


@pytest.mark.parametrize("case", DEEP_SOURCES, ids=list(DEEP_SOURCES))
def test_source_the_parser_rejects_gives_no_static_finding(case: str) -> None:
    assert forbidden_imports(DEEP_SOURCES[case], ["torch"]) == {}


def test_a_deep_tree_the_parser_accepts_is_still_scanned() -> None:
    """2000 additions parse, but a recursive walk of their tree passes Python's recursion limit."""
    source = "import numpy\n\ndef f():\n    import torch.nn\n    return " + "+".join(["1"] * 2000) + "\n"
    assert forbidden_imports(source, ["torch", "numpy"]) == {None: ["numpy"], "f": ["torch.nn"]}


@pytest.mark.parametrize("case", DEEP_SOURCES, ids=list(DEEP_SOURCES))
def test_a_notebook_cell_the_parser_rejects_is_skipped(case: str) -> None:
    text = json.dumps({"cells": [{"cell_type": "code", "source": DEEP_SOURCES[case]},
                                 {"cell_type": "code", "source": "y = 2\n"}]})
    source, warnings = notebook_to_module(text, "nb.ipynb")
    assert "y = 2" in source
    assert len(warnings) == 1 and warnings[0].startswith("nb.ipynb: code cell 1 ")


# ------------------------------------------------------------------ broken zip members
def broken_member_zip(breakage: str) -> bytes:
    """A zip with a broken ``cs231n/broken.py`` first and a correct ``cs231n/layers.py`` after it."""
    good = ("cs231n/layers.py", CORRECT_VECTORISED.encode())
    if breakage == "bzip2":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("cs231n/broken.py", b"x = 1\n" * 100, compress_type=zipfile.ZIP_BZIP2)
            archive.writestr(*good)
        return buffer.getvalue()
    if breakage == "corrupt-deflate":
        data = zip_bytes([("cs231n/broken.py", b"x = 1\n" * 100), good], zipfile.ZIP_DEFLATED)
        return with_member_payload(data, "cs231n/broken.py", b"\xff")
    data = zip_bytes([("cs231n/broken.py", b"x = 1\n" * 100), good])
    if breakage == "unknown-method":
        return patched(data, "cs231n/broken.py", 8, 10, "<H", 99)  # 99: AES, which zipfile cannot read
    if breakage == "encrypted":
        return patched(data, "cs231n/broken.py", 6, 8, "<H", 0x1)
    assert breakage == "bad-crc"
    return patched(data, "cs231n/broken.py", 14, 16, "<L", 0xDEADBEEF)


@pytest.mark.parametrize(("breakage", "words"), [
    ("unknown-method", "is compressed with method 99; only stored and deflated members are read"),
    ("bzip2", "is compressed with method 12"),
    ("corrupt-deflate", "could not be extracted (error: "),
    ("encrypted", "could not be extracted (RuntimeError: "),
    ("bad-crc", "could not be extracted (BadZipFile: Bad CRC-32"),
])
def test_a_broken_zip_member_is_skipped_and_the_rest_staged(tmp_path: Path, breakage: str, words: str) -> None:
    archive = tmp_path / "alice.zip"
    archive.write_bytes(broken_member_zip(breakage))
    staged = run_stage(archive, tmp_path)
    assert sorted(staged_files(staged)) == ["cs231n/layers.py"]
    warning = warning_about(staged, "cs231n/broken.py")
    assert words in warning and warning.endswith("so it was not staged")


def test_zip_members_that_clash_as_file_and_folder_do_not_crash(tmp_path: Path) -> None:
    archive = tmp_path / "alice.zip"
    archive.write_bytes(zip_bytes([("cs231n/layers.py", CORRECT_VECTORISED.encode()), ("x.py", b"x = 1\n"),
                                   ("x.py/y.py", b"y = 1\n")]))
    staged = run_stage(archive, tmp_path)
    assert sorted(staged_files(staged)) == ["cs231n/layers.py", "x.py"]
    assert "could not be written to the staging folder" in warning_about(staged, "x.py/y.py")


@pytest.mark.parametrize("content", [b"PK\x05\x06" + b"\0" * 10, b"not a zip at all", b""],
                         ids=["truncated-end-record", "garbage", "empty"])
def test_a_zip_that_cannot_be_listed_is_refused(tmp_path: Path, content: bytes) -> None:
    archive = tmp_path / "alice.zip"
    archive.write_bytes(content)
    with pytest.raises(SubmissionError, match="not a readable zip archive"):
        run_stage(archive, tmp_path)
