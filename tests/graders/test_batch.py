"""``nngrade batch`` end to end on a small class built from the example submissions.

The class mixes every kind of entry: folders, a .zip, a single .py, an .ipynb, a folder without any Python
(unreadable: graded 0), plus a file that is not a submission and a hidden one. One uninterrupted run with
two workers is the reference (shared by every test, and by xdist workers, through a lock); the kill test
grades the same class with one worker, is SIGKILLed after its first committed entry, resumes, and must end
with every entry graded exactly once and the same gradebook and reports as the reference.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import fcntl
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from graders import assignment as assignments
from graders.batch import BATCH_LOG_VARIABLE, BatchOptions, OutputLocked, run_batch
from graders.batch.gradebook import format_points
from graders.batch.progress import make_progress
from graders.batch.store import MANIFEST, OutputStore
from graders.examples import EXAMPLES_DIR, discover
from tests.graders.conftest import CORRECT_VECTORISED, with_override, write_tree

REPORT_FILES = ("report.json", "report.md", "report.html", "results.json", "junit.xml")
TIMING_KEYS = frozenset({"duration_s", "student_s"})
CLASS_ENTRIES = ("bob", "carol", "Dan_Ö", "eve", "frank")
RUN_TIMEOUT_S = 600
CS231N = assignments.load("cs231n-a2")


def nngrade(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "graders", *args], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, check=False, env=env)


def build_class(root: Path) -> Path:
    """bob.zip (complete and correct), carol.py (a single module, partial), Dan Ö.ipynb, eve/ (no Python:
    unreadable), frank/ (a folder with one bug); notes.txt and .DS_Store are not submissions."""
    root.mkdir(parents=True)
    shutil.copyfile(EXAMPLES_DIR / "zip-submission" / "submission.zip", root / "bob.zip")
    partial = next((EXAMPLES_DIR / "cs231n-partial" / "submission").rglob("layers.py"))
    shutil.copyfile(partial, root / "carol.py")
    shutil.copyfile(EXAMPLES_DIR / "notebook-submission" / "submission.ipynb", root / "Dan Ö.ipynb")
    write_tree(root / "eve", {"README.txt": "I did it all in my head\n"})
    frank = next(e for e in discover() if e.name == "bug-pool-overwrite")  # derived from its base by a patch
    shutil.copytree(frank.submission, root / "frank")
    write_tree(root, {"notes.txt": "grading notes\n", ".DS_Store": b"\0"})
    return root


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def reports(out: Path) -> dict[str, Any]:
    return {name: without_timings(json.loads((out / name / "report.json").read_text())) for name in CLASS_ENTRIES}


def log_lines(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()] if path.exists() else []


@dataclass(frozen=True)
class Reference:
    class_dir: Path
    out: Path
    stdout: str


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The class and one uninterrupted --jobs 2 run, made once per test session (xdist workers share it)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "nngrade-batch-reference"
    root.mkdir(exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "done").exists():
            for leftover in ("class", "out"):  # an earlier attempt that failed half-way
                shutil.rmtree(root / leftover, ignore_errors=True)
            class_dir = build_class(root / "class")
            result = nngrade("batch", str(class_dir), "--out", str(root / "out"), "--profile", "quick",
                             "--jobs", "2")
            assert result.returncode == 0, result.stderr
            (root / "stdout.txt").write_text(result.stdout)
            (root / "done").write_text("ok")
    return Reference(root / "class", root / "out", (root / "stdout.txt").read_text())


# ------------------------------------------------------------------ the reference run itself
def test_every_entry_gets_every_report_format(reference: Reference) -> None:
    for name in CLASS_ENTRIES:
        for filename in REPORT_FILES:
            assert (reference.out / name / filename).stat().st_size > 0, (name, filename)
        assert (reference.out / name / MANIFEST).is_file()
    assert sorted(p.name for p in reference.out.iterdir() if p.is_dir()) == sorted(CLASS_ENTRIES)
    assert not list(reference.out.rglob("*.tmp"))


def test_gradebook_rows_match_the_reports(reference: Reference) -> None:
    text = (reference.out / "gradebook.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["student"] for r in rows] == list(CLASS_ENTRIES)
    header = list(rows[0])
    assert header[:6] == ["student", "id", "name", "email", "total", "max"] and "conv_forward_naive" in header
    for row in rows:
        report = json.loads((reference.out / row["student"] / "report.json").read_text())
        assert float(row["total"]) == pytest.approx(report["score"])
        assert float(row["max"]) == report["max_score"]
        assert [f["name"] for f in report["functions"]] == header[6:-4]
        assert header[-4:] == ["status", "problems", "reason", "handed_in"]
        for function in report["functions"]:
            assert float(row[function["name"]]) == pytest.approx(function["score"])
    by_student = {r["student"]: r for r in rows}
    assert by_student["bob"]["total"] == by_student["bob"]["max"] == format_points(CS231N.max_score)
    assert by_student["eve"]["total"] == "0"  # unreadable: graded, 0
    assert by_student["frank"]["max_pool_backward_naive"] == "0"
    assert float(by_student["frank"]["total"]) < float(by_student["frank"]["max"])


def test_unreadable_entry_is_explained_in_its_report(reference: Reference) -> None:
    report = json.loads((reference.out / "eve" / "report.json").read_text())
    assert "no Python source" in report["warnings"][0]
    assert {f["status"] for f in report["functions"]} == {"missing"}
    assert "no Python source" in (reference.out / "eve" / "report.md").read_text()


def test_summary_and_plain_progress(reference: Reference) -> None:
    html = (reference.out / "summary.html").read_text()
    assert "data:image" not in html and '<svg class="hist"' in html  # inline histograms, where scores vary
    assert "max_pool_backward_naive" in html and "Slowest submissions" in html
    assert "notes.txt" in reference.stdout  # reported as ignored
    lines = [ln for ln in reference.stdout.splitlines() if ln.startswith("graded ")]
    full = f"{format_points(CS231N.max_score)}/{format_points(CS231N.max_score)}"
    assert len(lines) == len(CLASS_ENTRIES) and any(ln.endswith(f" bob {full}") for ln in lines)
    assert "\x1b[" not in reference.stdout  # no terminal control codes when stdout is not a terminal


# ------------------------------------------------------------------ kill and resume
def _our_grading_workers(marker: str) -> list[int]:
    """Live grading workers started by a batch whose environment holds ``marker`` (our log path)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if b"graders.batch.worker" in cmdline and marker.encode() in environ.split(b"\0") and state != "Z":
            found.append(int(entry))
    return found


def _poll(condition: Any, what: str, limit_s: float = 300.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_killed_batch_resumes_without_losing_or_regrading_anything(reference: Reference, tmp_path: Path) -> None:
    out, log = tmp_path / "out", tmp_path / "graded.log"
    env = dict(os.environ, **{BATCH_LOG_VARIABLE: str(log)})
    args = [sys.executable, "-m", "graders", "batch", str(reference.class_dir), "--out", str(out),
            "--profile", "quick", "--jobs", "1"]
    with subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as batch:
        try:
            _poll(lambda: log_lines(log) or batch.poll() is not None, "the first graded entry")
            assert batch.poll() is None, "the batch ended before it could be killed"
            batch.send_signal(signal.SIGKILL)
        finally:
            with contextlib.suppress(ProcessLookupError):
                batch.kill()
        batch.wait()
    done = [n for n in CLASS_ENTRIES if (out / n / MANIFEST).exists()]
    assert 1 <= len(done) < len(CLASS_ENTRIES)
    marker = f"{BATCH_LOG_VARIABLE}={log}"
    _poll(lambda: not _our_grading_workers(marker), "the orphaned grading worker to stop", limit_s=60)

    result = nngrade("batch", str(reference.class_dir), "--out", str(out), "--profile", "quick", "--jobs", "1",
                     "--resume", env=env)
    assert result.returncode == 0, result.stderr
    assert sum(ln.startswith("skipped ") for ln in result.stdout.splitlines()) == len(done)

    graded = collections.Counter(line[0] for line in log_lines(log))
    assert graded == {name: 1 for name in CLASS_ENTRIES}
    assert (out / "gradebook.csv").read_bytes() == (reference.out / "gradebook.csv").read_bytes()
    assert reports(out) == reports(reference.out)  # and --jobs 1 gave what --jobs 2 gave
    assert not list(out.rglob("*.tmp"))


# ------------------------------------------------------------------ resume checks its evidence
def test_resume_regrades_exactly_what_changed_or_was_damaged(
    tmp_path: Path, dense_toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class_dir = tmp_path / "class"
    for name in ("a", "b", "c", "d"):
        write_tree(class_dir / name, {"cs231n/layers.py": CORRECT_VECTORISED})
    out, log = tmp_path / "out", tmp_path / "graded.log"
    monkeypatch.setenv(BATCH_LOG_VARIABLE, str(log))
    options = BatchOptions(assignment=str(dense_toml), profile="quick", jobs=2)
    quiet = make_progress(quiet=True)
    first = run_batch(class_dir, out, options, progress=quiet)
    assert first.complete and sorted(first.graded) == ["a", "b", "c", "d"]
    original = without_timings(json.loads((out / "a" / "report.json").read_text()))

    (out / "a" / "report.html").write_text("edited by hand")  # a damaged report
    (out / "b" / MANIFEST).unlink()  # as if killed between the report files and the manifest
    (class_dir / "c" / "cs231n" / "layers.py").write_text(with_override(CORRECT_VECTORISED, """
        def relu_forward(x):
            return np.abs(x), x
    """))  # a resubmission
    log.unlink()
    options.resume = True
    second = run_batch(class_dir, out, options, progress=quiet)
    assert sorted(line[0] for line in log_lines(log)) == ["a", "b", "c"]
    assert sorted(second.graded) == ["a", "b", "c"]
    assert (out / "a" / "report.html").read_text().startswith("<!DOCTYPE html>")  # rewritten
    assert without_timings(json.loads((out / "a" / "report.json").read_text())) == original
    scores = {o.entry: o.report["score"] for o in second.outcomes if o.report}
    assert scores == {"a": 7.0, "b": 7.0, "c": 6.0, "d": 7.0}



def test_a_second_batch_on_the_same_output_is_refused(tmp_path: Path, dense_toml: Path) -> None:
    write_tree(tmp_path / "class" / "a", {"cs231n/layers.py": CORRECT_VECTORISED})
    with OutputStore(tmp_path / "out").locked(), pytest.raises(OutputLocked):
        run_batch(tmp_path / "class", tmp_path / "out", BatchOptions(assignment=str(dense_toml)),
                  progress=make_progress(quiet=True))


# ------------------------------------------------------------------ one student's trouble stays theirs
HANGS_AT_IMPORT = "import time\ntime.sleep(600)\n" + CORRECT_VECTORISED
CRASHES_AND_HOGS = with_override(CORRECT_VECTORISED, """
    def affine_forward(x, w, b):
        hog = np.ones(10**11)  # 800 GB: refused by the sandbox's memory limit
        return hog, None

    def relu_forward(x):
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)
""")


def test_hang_crash_and_memory_blowup_cost_their_own_entry_only(tmp_path: Path, dense_toml: Path) -> None:
    class_dir = tmp_path / "class"
    write_tree(class_dir, {"fine/cs231n/layers.py": CORRECT_VECTORISED,
                           "hangs/cs231n/layers.py": HANGS_AT_IMPORT,
                           "wild/cs231n/layers.py": CRASHES_AND_HOGS})
    out = tmp_path / "out"
    result = nngrade("batch", str(class_dir), "--out", str(out), "--assignment", str(dense_toml),
                     "--profile", "quick", "--jobs", "2", "--entry-timeout", "8")
    assert result.returncode == 3, result.stderr
    assert "hangs" in result.stderr and "1 entries could not be graded" in result.stderr
    assert "entry time limit of 8 s" in (out / "hangs" / "error.txt").read_text()
    assert not (out / "hangs" / MANIFEST).exists()  # --resume will try it again
    fine = json.loads((out / "fine" / "report.json").read_text())
    assert fine["score"] == fine["max_score"] == 7.0
    wild = {f["name"]: f["status"] for f in json.loads((out / "wild" / "report.json").read_text())["functions"]}
    assert wild["relu_forward"] == "crashed" and wild["affine_forward"] == "error"
    rows = list(csv.reader(io.StringIO((out / "gradebook.csv").read_bytes().decode("utf-8-sig"), newline="")))
    assert rows[2][:11] == ["hangs", "", "", "", "", "7", "", "", "", "", "failed"]  # no grade, not a zero
    assert "time limit" in rows[2][-2] and rows[2][-1] == "hangs"  # the reason; the name handed in


# ------------------------------------------------------------------ usage errors
def test_bad_usage_exits_2(tmp_path: Path) -> None:
    missing = nngrade("batch", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    write_tree(tmp_path / "empty", {"README.txt": "nothing yet\n"})
    empty = nngrade("batch", str(tmp_path / "empty"), "--out", str(tmp_path / "out"))
    assert empty.returncode == 2 and "no submissions" in empty.stderr
    no_out = nngrade("batch", str(tmp_path / "empty"))
    assert no_out.returncode == 2 and "--out" in no_out.stderr
    assert not (tmp_path / "out").exists()
