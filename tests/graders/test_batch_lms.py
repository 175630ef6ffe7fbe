"""LMS exports as class folders: Gradescope's "Export Submissions", Canvas's "Download Submissions" and Moodle's
"Download all submissions", each built small and synthetic (no real names) in the layout its LMS writes.

End to end: ``nngrade batch --only relu_forward`` on each export fills the gradebook's id, name and email
columns, and ``--roster`` adds a ``missing`` row for a student who handed nothing in. Unit tests: each reader,
and hostile exports (a huge or malformed metadata file, a path-traversal submission id, links, tags that would
construct objects).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graders.batch import BATCH_LOG_VARIABLE, lms
from graders.batch.discover import ClassFolderError, Entry, discover
from graders.batch.gradebook import gradebook_csv
from graders.batch.lms import Identity, detect, original_name
from graders.batch.outcome import EntryOutcome
from graders.batch.roster import RosterError, check_roster, parse_roster
from graders.batch.staging import stage_parts
from tests.graders.conftest import CORRECT_VECTORISED, DENSE_TOML, with_override, write_tree

#: relu_forward that forgets to clip: 0 points for relu_forward
WRONG_RELU = with_override(CORRECT_VECTORISED, """
    def relu_forward(x):
        return x.copy(), x
""")
UTILS = "from layers import *\n"

GRADESCOPE_METADATA = """\
submission_101:
  :submitters:
  - :name: Student One
    :sid: '1001'
    :email: one@example.edu
  :created_at: 2024-03-01 12:00:00.000000000 -08:00
  :score: 7.0
  :history: []
submission_102:
  :submitters:
  - :name: Student Two
    :sid: '1002'
    :email: two@example.edu
  - :name: Student Three
    :sid: 1003
    :email: three@example.edu
  :created_at: 2024-03-02 09:30:00.000000000 -08:00
  :score: !ruby/object:BigDecimal 18:0.7e1
"""


def gradescope_export(root: Path) -> Path:
    return write_tree(root, {
        "submission_metadata.yml": GRADESCOPE_METADATA,
        "submission_101/cs231n/layers.py": CORRECT_VECTORISED,
        "submission_102/layers.py": WRONG_RELU,
    })


def canvas_export(root: Path) -> Path:
    """Student One uploaded layers.py twice (the first wrong, Canvas numbered the second ``-1``) and
    layer_utils.py; Student Two handed in late; Student Four wrote an online text entry only."""
    return write_tree(root, {
        "onestudent_1001_5001_layers.py": WRONG_RELU,
        "onestudent_1001_5003_layers-1.py": CORRECT_VECTORISED,
        "onestudent_1001_5002_layer_utils.py": UTILS,
        "onestudent_1001_5004_notes.pdf": b"%PDF-1.4\n",
        "twostudent_LATE_1002_5005_layers.py": WRONG_RELU,
        "fourstudent_1004_text.html": "<p>my answer</p>\n",
    })


def moodle_export(root: Path) -> Path:
    return write_tree(root, {
        "Student One_12345_assignsubmission_file_/cs231n/layers.py": CORRECT_VECTORISED,
        "Student Two_12346_assignsubmission_file/layers.py": WRONG_RELU,  # newer Moodle: no trailing "_"
        "Student Two_12346_assignsubmission_onlinetext_/onlinetext.html": "<p>see the file</p>\n",
    })


def nngrade_batch(class_dir: Path, out: Path, tmp_path: Path, *args: str, log: Path | None = None,
                  roster: str | None = None) -> subprocess.CompletedProcess[str]:
    """``nngrade batch`` on the small dense assignment, relu_forward only; ``log`` lists what it graded;
    ``roster``: the text of a roster.csv written beside it and passed as ``--roster``."""
    toml = tmp_path / "dense-mini.toml"
    toml.write_text(DENSE_TOML)
    if roster is not None:
        args = (*args, "--roster", str(write_tree(tmp_path, {"roster.csv": roster}) / "roster.csv"))
    env = {**os.environ, BATCH_LOG_VARIABLE: str(log)} if log is not None else None
    return subprocess.run(
        [sys.executable, "-m", "graders", "batch", str(class_dir), "--out", str(out), "--assignment", str(toml),
         "--only", "relu_forward", "--profile", "quick", "--jobs", "2", "--quiet", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False, env=env)


def gradebook(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text(encoding="utf-8-sig"), newline="")))


def people(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return [(r["student"], r["id"], r["name"], r["email"], r["total"], r["status"]) for r in rows]


# ------------------------------------------------------------------ end to end
def test_a_gradescope_export_fills_identity_and_a_group_gets_a_row_per_student(tmp_path: Path) -> None:
    export, out = gradescope_export(tmp_path / "export"), tmp_path / "out"
    result = nngrade_batch(export, out, tmp_path, roster="id,name,email\n1001,Student One,\n1002,Student Two,\n"
                                                          "1003,Student Three,\n1005,Student Five,five@example.edu\n")
    assert result.returncode == 0, result.stderr
    assert people(gradebook(out)) == [
        ("submission_101", "1001", "Student One", "one@example.edu", "1", "graded"),
        ("submission_102", "1002", "Student Two", "two@example.edu", "0", "graded"),
        ("submission_102", "1003", "Student Three", "three@example.edu", "0", "graded"),
        ("", "1005", "Student Five", "five@example.edu", "", "missing"),
    ]
    records = [json.loads(line) for line in (out / "gradebook.jsonl").read_text().splitlines()]
    assert list(records[0])[:4] == ["student", "id", "name", "email"]
    assert records[3]["status"] == "missing" and records[3]["total"] is None
    summary = (out / "summary.html").read_text()
    assert "Student Five" in summary.split('id="roster"', 1)[1]
    assert "Student Three (1003)" in summary  # the entries table names the group's students
    assert "not on the roster" not in result.stderr


def test_a_canvas_download_is_one_entry_per_student_and_the_last_upload_wins(tmp_path: Path) -> None:
    export, out = canvas_export(tmp_path / "export"), tmp_path / "out"
    result = nngrade_batch(export, out, tmp_path, roster="ID;Name\n1001;Student One\n1002;Student Two\n")
    assert result.returncode == 0, result.stderr
    # onestudent's layers-1.py (correct) replaced layers.py (wrong): full marks prove which one was graded; the
    # names are the roster's, not Canvas's lower-cased "sortable" ones
    assert people(gradebook(out)) == [
        ("onestudent_1001", "1001", "Student One", "", "1", "graded"),
        ("twostudent_1002", "1002", "Student Two", "", "0", "graded"),
    ]
    staged = out / ".nngrade-staged" / "onestudent_1001"
    assert sorted(p.name for p in staged.iterdir()) == ["layer_utils.py", "layers.py"]
    assert (staged / "layers.py").read_text() == CORRECT_VECTORISED
    handed_in = gradebook(out)[0]["handed_in"]
    assert handed_in == "onestudent_1001_5002_layer_utils.py, onestudent_1001_5003_layers-1.py"

    # --resume stages the files afresh: the same content, so nothing is graded again
    again = nngrade_batch(export, out, tmp_path, "--resume", log=tmp_path / "graded.log")
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "graded.log").exists() and gradebook(out)[0]["total"] == "1"


def test_a_moodle_download_names_students_and_warns_about_entries_not_on_the_roster(tmp_path: Path) -> None:
    export, out = moodle_export(tmp_path / "export"), tmp_path / "out"
    result = nngrade_batch(export, out, tmp_path, roster="id,name\n12345,Student One\n")
    assert result.returncode == 0, result.stderr
    assert people(gradebook(out)) == [
        ("Student_One_12345", "12345", "Student One", "", "1", "graded"),
        ("Student_Two_12346", "12346", "Student Two", "", "0", "graded"),
    ]
    assert "warning: Student_Two_12346 (Student Two (12346)) is not on the roster" in result.stderr


def test_a_bad_roster_is_refused_before_grading(tmp_path: Path) -> None:
    export, out = moodle_export(tmp_path / "export"), tmp_path / "out"
    result = nngrade_batch(export, out, tmp_path, roster="name,email\nStudent One,one@example.edu\n")
    assert result.returncode == 2 and "no id column" in result.stderr
    assert not (out / "gradebook.csv").exists()


# ------------------------------------------------------------------ detection
def test_each_layout_is_detected_and_a_plain_class_folder_stays_plain(tmp_path: Path) -> None:
    assert discover(gradescope_export(tmp_path / "g")).layout == "gradescope"
    assert discover(canvas_export(tmp_path / "c")).layout == "canvas"
    assert discover(moodle_export(tmp_path / "m")).layout == "moodle"
    plain = discover(write_tree(tmp_path / "p", {"alice.py": "", "bob/layers.py": ""}))
    assert plain.layout == "plain" and [e.name for e in plain.entries] == ["alice", "bob"]
    assert all(e.students == () for e in plain.entries)


def test_a_class_folder_partly_named_like_a_download_is_plain_with_a_note(tmp_path: Path) -> None:
    children = sorted(write_tree(tmp_path, {"alice.py": "", "onestudent_1001_5001_layers.py": ""}).iterdir())
    layout, note = detect(children)
    assert layout == "plain" and "1 of 2 entries are named like a canvas download" in note
    assert "--layout canvas" in note


# ------------------------------------------------------------------ gradescope
def test_gradescope_entries_carry_their_submitters(tmp_path: Path) -> None:
    found = discover(gradescope_export(tmp_path))
    assert [(e.name, e.students) for e in found.entries] == [
        ("submission_101", (Identity("1001", "Student One", "one@example.edu"),)),
        ("submission_102", (Identity("1002", "Student Two", "two@example.edu"),
                            Identity("1003", "Student Three", "three@example.edu"))),
    ]


def test_gradescope_folders_and_records_that_do_not_pair_up_are_said(tmp_path: Path) -> None:
    export = gradescope_export(tmp_path)
    (export / "submission_101").rename(export / "submission_999")
    (export / "stray").mkdir()
    found = discover(export)
    assert [e.name for e in found.entries] == ["submission_102", "submission_999"]
    assert "stray (not a submission_<id> folder)" in found.ignored
    assert any("submission_999 is not in submission_metadata.yml" in w for w in found.warnings)
    assert any("submission_101 (Student One (1001)) is in submission_metadata.yml but has no folder" in w
               for w in found.warnings)


@pytest.mark.parametrize("text, message", [
    ("- submission_1\n- submission_2\n", "must be a mapping of submission_<id> to a record, not list"),
    ("just text\n", "must be a mapping"),
    ("'../../etc':\n  :submitters: []\n", "'../../etc' is not a submission_<id> key"),
    ("submission_1/../../x:\n  :submitters: []\n", "is not a submission_<id> key"),
    ("submission_1: 7\n", "submission_1 is not a mapping"),
    ("submission_1:\n  :submitters: {a: 1}\n", ":submitters: must be a list"),
    ("submission_1:\n  :submitters:\n  - :name: [a, b]\n", "whose sid, name or email is not text"),
    ("submission_1: {\n", "is not valid YAML"),
    ("[" * 5000 + "]" * 5000, "cannot be read: RecursionError"),
    (b"submission_1:\n  :submitters:\n  - :name: \xff\n", "is not UTF-8 text"),
])
def test_gradescope_metadata_of_the_wrong_shape_is_refused_with_a_clear_message(
        tmp_path: Path, text: str | bytes, message: str) -> None:
    export = write_tree(tmp_path, {"submission_metadata.yml": text, "submission_1/layers.py": ""})
    with pytest.raises(ClassFolderError, match="cannot be read as a gradescope export") as raised:
        discover(export)
    assert message in str(raised.value)


def test_huge_gradescope_metadata_is_refused_without_reading_it_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lms, "MAX_METADATA_BYTES", 4096)
    export = write_tree(tmp_path, {"submission_metadata.yml": GRADESCOPE_METADATA + "#" * 8192 + "\n",
                                   "submission_101/layers.py": ""})
    with pytest.raises(ClassFolderError, match="submission_metadata.yml is larger than 4096 bytes"):
        discover(export)


def test_tags_never_construct_objects(tmp_path: Path) -> None:
    marker = tmp_path / "constructed"
    text = (f"submission_1:\n  :score: !!python/object/apply:os.system ['touch {marker}']\n"
            f"  :submitters:\n  - :name: !!python/object/apply:os.system 'touch {marker}'\n"
            "    :sid: !ruby/object:BigDecimal 18:0.1e4\n")
    records = lms.parse_metadata(text.encode())
    assert not marker.exists()  # each tagged value was read as its plain text or list
    assert records["submission_1"] == (Identity("18:0.1e4", f"touch {marker}", ""),)


def test_links_in_a_gradescope_export_are_never_followed(tmp_path: Path) -> None:
    elsewhere = write_tree(tmp_path / "elsewhere", {"meta.yml": GRADESCOPE_METADATA, "secret/layers.py": ""})
    export = write_tree(tmp_path / "export", {"submission_101/layers.py": ""})
    (export / "submission_metadata.yml").symlink_to(elsewhere / "meta.yml")
    (export / "submission_102").symlink_to(elsewhere / "secret")
    with pytest.raises(ClassFolderError, match="submission_metadata.yml is a symbolic link"):
        discover(export, layout="gradescope")
    auto = discover(export)  # the metadata is a link: not read, so not a Gradescope export
    assert auto.layout == "plain" and [e.name for e in auto.entries] == ["submission_101"]
    assert "submission_102 (symbolic link, not followed)" in auto.ignored
    assert "submission_metadata.yml (symbolic link, not followed)" in auto.ignored


def test_student_names_are_one_bounded_line(tmp_path: Path) -> None:
    text = ("submission_1:\n  :submitters:\n  - :name: \"Student\\nOne\\u001b[31m\"\n"
            f"    :email: {'x' * 500}@example.edu\n")
    (student,) = lms.parse_metadata(text.encode())["submission_1"]
    assert "\n" not in student.name and "\x1b" not in student.name and student.name.startswith("Student One")
    assert len(student.email) == lms.MAX_IDENTITY_CHARS


# ------------------------------------------------------------------ canvas
def test_canvas_files_are_grouped_per_student_under_their_original_names(tmp_path: Path) -> None:
    found = discover(canvas_export(tmp_path))
    one, two = found.entries
    assert (one.name, one.students) == ("onestudent_1001", (Identity("1001", "onestudent"),))
    assert [(name, path.name) for name, path in one.parts] == [
        ("layer_utils.py", "onestudent_1001_5002_layer_utils.py"), ("layers.py", "onestudent_1001_5003_layers-1.py")]
    assert (two.name, two.students, [n for n, _ in two.parts]) == (
        "twostudent_1002", (Identity("1002", "twostudent"),), ["layers.py"])
    assert "onestudent_1001_5001_layers.py (an older upload of layers.py)" in found.ignored
    assert "onestudent_1001_5004_notes.pdf (not Python: not graded)" in found.ignored
    assert "fourstudent_1004_text.html (online text or URL entry, not graded)" in found.ignored


@pytest.mark.parametrize("name, expected", [
    ("layers.py", ("layers.py", 0)), ("layers-1.py", ("layers.py", 1)), ("layers-12.py", ("layers.py", 12)),
    ("layer_utils-2.ipynb", ("layer_utils.ipynb", 2)), ("Makefile-3", ("Makefile", 3)), ("-1.py", ("-1.py", 0)),
])
def test_canvas_numbers_re_uploads_before_the_extension(name: str, expected: tuple[str, int]) -> None:
    assert original_name(name) == expected


def test_the_highest_re_upload_wins_whatever_order_the_files_are_listed_in(tmp_path: Path) -> None:
    export = write_tree(tmp_path, {"a_1_9_layers-2.py": "two", "a_1_3_layers-10.py": "ten", "a_1_5_layers.py": "0"})
    (entry,) = discover(export).entries
    assert entry.parts == (("layers.py", export / "a_1_3_layers-10.py"),)


def test_canvas_anonymous_grading_a_lone_zip_and_unsafe_names(tmp_path: Path) -> None:
    export = write_tree(tmp_path, {
        "anon_x7Kq2_5001_layers.py": "", "LATE_anon_x7Kq2_5002_layer_utils.py": "",
        "zipper_1003_5003_hw2.zip": b"PK\x05\x06" + b"\0" * 18,
        "dots_1004_5004_..": "", "hidden_1004_5005_.bashrc": "",
    })
    found = discover(export, layout="canvas")
    assert [(e.name, e.students, e.parts != ()) for e in found.entries] == [
        ("anon_x7Kq2", (), True), ("zipper_1003", (Identity("1003", "zipper"),), False)]
    assert found.entries[1].path == export / "zipper_1003_5003_hw2.zip"  # a lone .zip is graded as it is
    assert "dots_1004_5004_.. (a file name that cannot be staged)" in found.ignored
    assert "hidden_1004_5005_.bashrc (a file name that cannot be staged)" in found.ignored


def test_canvas_parts_that_are_links_are_not_read(tmp_path: Path) -> None:
    secret = write_tree(tmp_path / "elsewhere", {"secret.py": "TOKEN = 1\n"}) / "secret.py"
    export = write_tree(tmp_path / "export", {"one_1001_5001_layers.py": CORRECT_VECTORISED})
    (export / "one_1001_5002_layer_utils.py").symlink_to(secret)
    found = discover(export)
    (entry,) = found.entries
    assert [name for name, _ in entry.parts] == ["layers.py"]
    assert "one_1001_5002_layer_utils.py (symbolic link, not followed)" in found.ignored

    # a part swapped for a link after discovery is skipped when staging, never read
    swapped = Entry(entry.name, entry.path, entry.students,
                    (*entry.parts, ("layer_utils.py", export / "one_1001_5002_layer_utils.py")))
    staged, warnings = stage_parts(swapped, tmp_path / "out")
    assert sorted(p.name for p in staged.path.iterdir()) == ["layers.py"]
    assert warnings == ["one_1001: one_1001_5002_layer_utils.py is a symbolic link (not followed): not graded"]


# ------------------------------------------------------------------ moodle
def test_moodle_folders_and_the_flat_variant(tmp_path: Path) -> None:
    found = discover(moodle_export(tmp_path / "folders"))
    assert [(e.name, e.students, e.path.name) for e in found.entries] == [
        ("Student_One_12345", (Identity("12345", "Student One"),), "Student One_12345_assignsubmission_file_"),
        ("Student_Two_12346", (Identity("12346", "Student Two"),), "Student Two_12346_assignsubmission_file"),
    ]
    assert ("Student Two_12346_assignsubmission_onlinetext_ (onlinetext submission, not graded)"
            in found.ignored)

    flat = discover(write_tree(tmp_path / "flat", {
        "Student One_12345_assignsubmission_file_layers.py": "",
        "Student One_12345_assignsubmission_file_x.ipynb": "{}",
        "Student One_12345_assignsubmission_onlinetext_onlinetext.html": "",
    }))
    assert flat.layout == "moodle"
    (entry,) = flat.entries
    assert entry.name == "Student_One_12345" and [n for n, _ in entry.parts] == ["layers.py", "x.ipynb"]


# ------------------------------------------------------------------ gradebook and roster
def test_identity_cells_are_escaped_for_spreadsheets() -> None:
    hostile = Identity("=1+1", "=HYPERLINK(\"http://x\")", "@evil")
    outcome = EntryOutcome("submission_1", "submission_1", "failed", error="boom", students=(hostile,))
    rows = list(csv.reader(io.StringIO(gradebook_csv(["f"], 1.0, [outcome]).decode("utf-8-sig"), newline="")))
    assert rows[1][:4] == ["submission_1", "'=1+1", "'=HYPERLINK(\"http://x\")", "'@evil"]


def test_roster_reading() -> None:
    assert parse_roster("\ufeffId, Name ,EMAIL,section\n1001,Student One,ONE@example.edu,A\n\n1002\n") == [
        Identity("1001", "Student One", "ONE@example.edu"), Identity("1002", "", "")]
    assert parse_roster("id\tname\n1001\tStudent One\n") == [Identity("1001", "Student One", "")]
    for text, message in [("", "empty"), ("name\nStudent One\n", "no id column"), ("id\n1001\n1001\n", "twice"),
                          ("id,name\n,Student One\n", "line 2 has no id")]:
        with pytest.raises(RosterError, match=message):
            parse_roster(text)


def test_roster_matching_by_id_email_or_plain_entry_name(tmp_path: Path) -> None:
    roster = [Identity("1001", "Student One"), Identity("1002", "Student Two", "Two@Example.edu"),
              Identity("s7", "Student Seven"), Identity("1009", "Student Nine")]
    entries = [
        Entry("submission_1", tmp_path, (Identity("1001", "Student One"),)),
        Entry("submission_2", tmp_path, (Identity("", "Student Two", "two@example.edu"),)),
        Entry("s7", tmp_path / "s7.py"),
        Entry("submission_3", tmp_path, (Identity("2000", "Student Stray"),)),
    ]
    check = check_roster(roster, entries)
    assert check.missing == [Identity("1009", "Student Nine")]
    assert check.warnings == ["submission_3 (Student Stray (2000)) is not on the roster"]
    # matched entries' students completed from the roster: the id and email the export lacked, the roster's name
    assert check.identities == {
        "submission_1": (Identity("1001", "Student One"),),
        "submission_2": (Identity("1002", "Student Two", "two@example.edu"),),
        "s7": (Identity("s7", "Student Seven"),),
    }


def test_staging_writes_fresh_files_under_their_original_names(tmp_path: Path) -> None:
    export = canvas_export(tmp_path / "export")
    entry = next(e for e in discover(export).entries if e.name == "onestudent_1001")
    leftover = write_tree(tmp_path / "out" / ".nngrade-staged" / "onestudent_1001", {"old.py": "stale"})
    before = sorted(os.listdir(export))
    staged, warnings = stage_parts(entry, tmp_path / "out")
    assert warnings == [] and staged.path == leftover and staged.source == entry.source
    assert {p.name: p.read_text() for p in staged.path.iterdir()} == {
        "layers.py": CORRECT_VECTORISED, "layer_utils.py": UTILS}
    assert sorted(os.listdir(export)) == before  # the class folder is only read
