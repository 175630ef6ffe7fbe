"""``graders.batch`` piece by piece, without grading anything: entry names, content hashes, the gradebook's
format, result checking, the output folder's manifests, the class summary, progress lines, and the local
executor's isolation of a crashing or hanging grading worker (driven by a fake worker script)."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import sys
from pathlib import Path

import pytest
from rich.console import Console

from graders.batch.discover import ClassFolderError, discover, safe_name
from graders.batch.executors import LocalExecutor
from graders.batch.gradebook import format_points, gradebook_csv, gradebook_jsonl
from graders.batch.hashing import content_hash, source_files
from graders.batch.outcome import EntryOutcome
from graders.batch.progress import RichProgress, describe_outcome
from graders.batch.store import OutputLocked, OutputStore
from graders.batch.summary import diagnosis_key, frequent_diagnoses, render_summary, summarise
from graders.batch.task import RESULT_FILES, parse_result
from tests.graders.conftest import write_tree


# ------------------------------------------------------------------ discover
def test_entries_are_the_submissions_with_safe_unique_names(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "alice/layers.py": "", "alice.zip": b"PK", "Alice.py": "", "Zoë (2).ipynb": "{}",
        "=HYPERLINK(1).py": "", "-rf/layers.py": "", "CON.py": "", "gradebook.csv/layers.py": "",
        ".hidden/layers.py": "", ".DS_Store": "", "notes.txt": "", "roster.xlsx": b"x",
        "__MACOSX/layers.py": "",
    })
    found = discover(tmp_path)
    names = {e.path.name: e.name for e in found.entries}
    assert names == {
        "alice": "alice", "Alice.py": "Alice-2", "alice.zip": "alice-3", "Zoë (2).ipynb": "Zoë__2_",
        "=HYPERLINK(1).py": "_HYPERLINK_1_", "-rf": "_rf", "CON.py": "_CON", "gradebook.csv": "gradebook.csv-2",
    }
    assert sorted(found.ignored) == ["notes.txt", "roster.xlsx"]
    assert discover(tmp_path) == found  # the same folder always gives the same names
    (tmp_path / "reports").mkdir()  # the output folder inside the class folder is not a student
    assert "reports" not in {e.name for e in discover(tmp_path, exclude=[tmp_path / "reports"]).entries}


@pytest.mark.parametrize("raw, expected", [
    ("bob", "bob"), ("a/b", "a_b"), ("..", "_"), ("", "entry"), ("x.", "x"), ("nul", "_nul"),
    ("Müller, Jan", "Müller__Jan"), ("+1", "_1"), ("@x", "_x"), ("a" * 200, "a" * 200),
])
def test_safe_name(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


def test_a_class_folder_without_submissions_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ClassFolderError, match="does not exist"):
        discover(tmp_path / "nowhere")
    write_tree(tmp_path, {"README.txt": "hi", ".git/config": ""})
    with pytest.raises(ClassFolderError, match=r"no submissions.*README\.txt"):
        discover(tmp_path)
    with pytest.raises(ClassFolderError, match="not a folder"):
        discover(tmp_path / "README.txt")


# ------------------------------------------------------------------ hashing
def test_folder_hash_covers_the_sources_the_grader_reads(tmp_path: Path) -> None:
    one = write_tree(tmp_path / "one", {"cs231n/layers.py": "x = 1\n", "nb.ipynb": "{}",
                                        "cs231n/datasets/cifar.bin": b"\0" * 100,
                                        "cs231n/__pycache__/layers.py": "stale"})
    two = write_tree(tmp_path / "two", {"nb.ipynb": "{}", "cs231n/layers.py": "x = 1\n"})  # other order
    assert source_files(one) == ["cs231n/layers.py", "nb.ipynb"]
    assert content_hash(one) == content_hash(two)
    (one / "cs231n" / "datasets" / "cifar.bin").write_bytes(b"\1" * 100)
    assert content_hash(one) == content_hash(two)  # data files cannot change the grade
    (two / "cs231n" / "layers.py").write_text("x = 2\n")
    assert content_hash(one) != content_hash(two)
    three = write_tree(tmp_path / "three", {"nb.ipynb": "{}", "cs231n/layer.py": "x = 1\n"})  # renamed
    assert content_hash(three) != content_hash(one)


def test_file_hash_is_of_its_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    a.write_bytes(b"PK\x03\x04 same")
    b.write_bytes(b"PK\x03\x04 same")
    assert content_hash(a) == content_hash(b) != content_hash(tmp_path)
    b.write_bytes(b"PK\x03\x04 other")
    assert content_hash(a) != content_hash(b)


# ------------------------------------------------------------------ gradebook
def _report(score: float, per_function: dict[str, float], maximum: float = 10.0) -> dict:
    return {"score": score, "max_score": maximum, "duration_s": 1.0, "warnings": [],
            "functions": [{"name": n, "score": s, "status": "passed", "diagnosis": []}
                          for n, s in per_function.items()]}


@pytest.mark.parametrize("value, text", [
    (57.0, "57"), (57.5, "57.5"), (1 / 3, "0.333333"), (0.00001, "0.00001"), (1e-9, "0"), (-0.0, "0"),
    (100.0, "100"), (1234567.25, "1234567.25"), (None, ""), (float("nan"), ""),
])
def test_points_are_written_without_locale_or_exponent(value: float | None, text: str) -> None:
    assert format_points(value) == text


def test_gradebook_is_utf8_bom_crlf_csv_with_a_column_per_function() -> None:
    outcomes = [
        EntryOutcome("Zoë", "Zoë.py", "graded", _report(7.5, {"f": 5.0, "g": 2.5})),
        EntryOutcome("bob", "bob", "failed", error="boom"),
        EntryOutcome("eve", "=eve", "unreadable", _report(0.0, {"f": 0.0, "g": 0.0})),
    ]
    outcomes[2].report["warnings"] = ["no Python source found"]  # type: ignore[index]
    data = gradebook_csv(["f", "g"], 10.0, outcomes)
    assert data.startswith(b"\xef\xbb\xbfstudent,id,name,email,total,max,f,g,status,problems,reason,handed_in\r\n")
    assert data.count(b"\r\n") == 4 and b"\n" not in data.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [["student", "id", "name", "email", "total", "max", "f", "g", "status", "problems", "reason",
                     "handed_in"],
                    ["Zoë", "", "", "", "7.5", "10", "5", "2.5", "graded", "", "", "Zoë.py"],
                    ["bob", "", "", "", "", "10", "", "", "failed", "", "boom", "bob"],
                    ["eve", "", "", "", "0", "10", "0", "0", "unreadable", "", "no Python source found", "'=eve"]]


def _with_statuses(report: dict, statuses: dict[str, str]) -> dict:
    for function in report["functions"]:
        function["status"] = statuses.get(function["name"], function["status"])
    return report


def test_gradebook_says_what_kept_points_from_being_judged_and_why_an_entry_has_no_grade() -> None:
    crashed = _with_statuses(_report(2.0, {"f": 0.0, "g": 2.0, "h": 0.0}), {"f": "crashed", "h": "timeout"})
    broken = _report(0.0, {"f": 0.0, "g": 0.0, "h": 0.0})
    for function in broken["functions"]:
        function.update(status="error", blocked_by="layers")
    broken["functions"][2].update(status="missing", blocked_by=None)
    broken["problems"] = [{"module": "layers", "module_file": "layers.py", "kind": "import", "file": "layers.py",
                           "line": 3, "message": "SyntaxError: invalid syntax", "functions": ["f", "g"]}]
    failing = _with_statuses(_report(1.0, {"f": 1.0, "g": 0.0, "h": 0.0}), {"g": "failed", "h": "partial"})
    outcomes = [
        EntryOutcome("ann", "ann", "graded", crashed),
        EntryOutcome("ben", "ben", "graded", broken),
        EntryOutcome("cat", "cat", "graded", failing),
        EntryOutcome("dan", "dan.zip", "failed", error="Traceback (most recent call last):\n  ...\nValueError: x"),
        EntryOutcome("=eve", "=eve", "pending", error="not graded: the batch was interrupted first"),
    ]
    rows = {row["student"]: row for row in csv.DictReader(
        io.StringIO(gradebook_csv(["f", "g", "h"], 10.0, outcomes).decode("utf-8-sig"), newline=""))}
    assert rows["ann"]["problems"] == "f: crashed; h: timeout" and rows["ann"]["reason"] == ""
    assert rows["ben"]["problems"] == ("layers.py did not import: SyntaxError: invalid syntax (line 3); 2 functions "
                                       "were not graded; h: missing")
    assert rows["cat"]["problems"] == ""  # failed and partial functions lost points: their points say it
    assert (rows["dan"]["status"], rows["dan"]["reason"], rows["dan"]["total"]) == ("failed", "ValueError: x", "")
    assert rows["=eve"]["status"] == "pending" and rows["=eve"]["reason"].startswith("not graded: the batch")
    assert list(rows["ann"])[-1] == "handed_in"

    records = [json.loads(line) for line in gradebook_jsonl(["f", "g", "h"], 10.0, outcomes).decode().splitlines()]
    assert [r["student"] for r in records] == list(rows)
    ann, dan = records[0], records[3]
    assert ann["total"] == 2.0 and ann["points"] == {"f": 0.0, "g": 2.0, "h": 0.0}
    assert ann["statuses"] == {"f": "crashed", "g": "passed", "h": "timeout"}
    assert ann["problems"] == ["f: crashed", "h: timeout"]
    assert dan["total"] is None and dan["points"] == {"f": None, "g": None, "h": None} and dan["max"] == 10.0
    assert {r["complete"] for r in records} == {False}  # an interrupted batch: every row says so
    assert {json.loads(line)["complete"] for line in gradebook_jsonl(["f"], 10.0, outcomes[:4]).decode().splitlines()
            } == {True}


# ------------------------------------------------------------------ results from workers
def _result(**fields: object) -> str:
    files = {name: base64.b64encode(b"x").decode() for name in RESULT_FILES}
    files["report.json"] = base64.b64encode(b'{"score": 1.0, "functions": []}').decode()
    data = {"entry": "alice", "status": "graded", "score": 1.0, "max_score": 2.0, "duration_s": 0.5,
            "files": files, "error": ""}
    data.update(fields)
    return json.dumps(data)


def test_a_valid_result_is_accepted_with_its_files_in_writing_order() -> None:
    result = parse_result(_result(), {"alice"})
    assert (result.entry, result.status, result.score) == ("alice", "graded", 1.0)
    assert list(result.files) == list(RESULT_FILES) and RESULT_FILES[-1] == "report.json"
    assert result.files["report.md"] == b"x" and result.report == {"score": 1.0, "functions": []}


@pytest.mark.parametrize("text, message", [
    (b"\x80\x04\x95 a pickle", "JSON text"),
    (_result(entry="mallory"), "not asked for"),
    (_result(status="passed"), "unknown result status"),
    (_result(score=float("inf")), "finite"),
    (_result(score=True), "finite"),
    (_result(files={"../../etc/passwd": "eA=="}), "among"),
    (_result(files={"report.json": "eA=="}), "every report file"),
    (_result(files={n: "not base64!" for n in RESULT_FILES}), "base64"),
    (_result(error=["x"]), "error is not text"),
    (_result(files={n: "eA==" for n in RESULT_FILES}), "report.json is not JSON"),
    (_result(files={n: "W10=" for n in RESULT_FILES}), "not a report"),
])
def test_a_malformed_result_is_refused(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_result(text, {"alice"})


# ------------------------------------------------------------------ output folder
def test_manifest_vouches_only_for_intact_files_with_the_same_key(tmp_path: Path) -> None:
    store = OutputStore(tmp_path)
    key = {"content_hash": "sha256:1", "seed": 0}
    store.commit("alice", key, "graded", {"report.md": b"md", "report.json": b"{}"}, {"score": 1.0})
    assert store.committed("alice", key) is not None
    assert store.committed("alice", dict(key, seed=1)) is None
    (tmp_path / "alice" / "report.md").write_bytes(b"edited")
    assert store.committed("alice", key) is None
    store.record_failure("alice", "it broke")
    assert store.manifest("alice") is None and store.error("alice") == "it broke\n"
    assert not list(tmp_path.rglob("*.tmp"))


def test_one_batch_at_a_time_per_output_folder(tmp_path: Path) -> None:
    store = OutputStore(tmp_path)
    with store.locked(), pytest.raises(OutputLocked, match=str(tmp_path)), OutputStore(tmp_path).locked():
        pass
    with store.locked():  # released
        pass


# ------------------------------------------------------------------ summary and progress
def test_frequent_diagnoses_name_the_students_and_mask_numbers() -> None:
    per_student = [("ann", ["off by a factor 3 in dx", "off by a factor 3 in dx"]),
                   ("ben", ["off by a factor 5 in dx"]), ("cat", ["NaN in out"]), ("dan", [])]
    assert diagnosis_key("off by a factor 3.5e-2 in dx\nmore") == "off by a factor # in dx"
    assert frequent_diagnoses(per_student) == [("off by a factor 3 in dx", ["ann", "ben"]), ("NaN in out", ["cat"])]


def test_summary_is_self_contained_and_escapes_student_text() -> None:
    hostile = _report(1.0, {"f": 1.0})
    hostile["functions"][0].update(status="failed", diagnosis=["<script>alert(1)</script> in dx"])
    outcomes = [EntryOutcome("alice", "alice", "graded", hostile),
                EntryOutcome("bob", "bob.zip", "failed", error="Traceback\n<b>boom</b>")]
    html = render_summary(summarise("a2", "Assignment 2", {"f": 10.0}, 10.0, outcomes, plots=True))
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;boom" in html
    assert "<img" not in html and "<svg" not in html  # one graded entry: no score varies, no histogram
    assert "http://" not in html and "https://" not in html and " src=\"http" not in html
    assert 'href="alice/report.html"' in html and "bob.zip" in html
    nothing = render_summary(summarise("a2", "Assignment 2", {"f": 10.0}, 10.0, outcomes[1:], plots=True))
    assert "No entry was graded" in nothing and "<svg" not in nothing


def test_progress_bar_on_a_terminal() -> None:
    screen = io.StringIO()
    bar = RichProgress(Console(file=screen, force_terminal=True, width=120))
    bar.start(3, 2, "2 local workers")
    bar.advance(1, 3, EntryOutcome("eve", "eve", "graded", _report(0.0, {}, 67.0), reused=True))
    bar.advance(2, 3, EntryOutcome("alice", "alice", "graded", _report(57.0, {}, 67.0)))
    bar.advance(3, 3, EntryOutcome("bob", "bob", "failed", error="ValueError: x"))
    bar.close()
    text = screen.getvalue()
    assert "1 of 3 entries already graded" in text and "2/2" in text and "ETA" in text
    assert "FAILED 3/3 bob: ValueError: x" in text and "\x1b[" in text


def test_progress_lines() -> None:
    graded = EntryOutcome("alice", "alice", "graded", _report(57.0, {}, 67.0))
    assert describe_outcome(3, 40, graded) == "graded 3/40 alice 57/67"
    kept = EntryOutcome("eve", "eve", "unreadable", _report(0.0, {}, 67.0), reused=True)
    assert describe_outcome(4, 40, kept) == "skipped 4/40 eve 0/67 (already graded; unreadable submission)"
    failed = EntryOutcome("bob", "bob", "failed", error="Traceback...\nValueError: x")
    assert describe_outcome(5, 40, failed) == "FAILED 5/40 bob: ValueError: x"


# ------------------------------------------------------------------ local executor isolation
FAKE_WORKER = """\
import json, os, sys, time
for line in sys.stdin:
    entry = json.loads(line)["entry"]
    if entry == "boom":
        print("about to crash", file=sys.stderr, flush=True)
        os._exit(7)
    if entry == "hang":
        time.sleep(600)
    result = {"entry": entry, "status": "failed", "score": 0, "max_score": 0, "duration_s": 0,
              "files": {}, "error": str(os.getpid())}
    sys.stdout.write(json.dumps(result) + "\\n")
    sys.stdout.flush()
"""


def test_a_crashing_or_hanging_worker_costs_its_own_entry_only(tmp_path: Path) -> None:
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    names = ["a", "boom", "b", "hang", "c"]
    tasks = [json.dumps({"entry": n}) for n in names]
    with LocalExecutor(1, entry_timeout_s=2.0, command=[sys.executable, str(script)]) as executor:
        results = {r["entry"]: r for r in map(json.loads, executor.run(tasks))}
    assert sorted(results) == sorted(names)
    assert "died" in results["boom"]["error"] and "exit status 7" in results["boom"]["error"]
    assert "about to crash" in results["boom"]["error"]
    assert "entry time limit of 2 s" in results["hang"]["error"]
    pids = {n: results[n]["error"] for n in "abc"}
    assert len(set(pids.values())) == 3  # a fresh worker after the crash and after the hang


def test_content_hash_follows_no_link_and_opens_no_fifo(tmp_path: Path) -> None:
    """--resume hashes student folders in the trusted batch process: a link's target must not be read (a
    change there changes nothing the grader reads) and a FIFO named like a source must not block it."""
    outside = tmp_path / "outside.py"
    outside.write_text("SECRET = 1\n")
    folder = tmp_path / "student"
    (folder / "cs231n").mkdir(parents=True)
    (folder / "cs231n" / "layers.py").write_text("x = 1\n")
    os.symlink(outside, folder / "cs231n" / "linked.py")
    os.symlink(tmp_path, folder / "cs231n" / "loop")
    os.mkfifo(folder / "cs231n" / "pipe.py")
    before = content_hash(folder)
    outside.write_text("SECRET = 2\n")
    assert content_hash(folder) == before
    (folder / "cs231n" / "layers.py").write_text("x = 2\n")
    assert content_hash(folder) != before
