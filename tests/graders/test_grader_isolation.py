"""The sandbox: a hang, a crash or a forbidden import costs one function; no worker outlives grading."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.graders.conftest import (
    CORRECT_VECTORISED,
    GradeFn,
    by_name,
    full_marks,
    with_override,
    worker_pids,
    write_tree,
)

OTHERS = ("affine_forward", "relu_forward", "relu_backward")


def layers(tmp_path: Path, source: str) -> Path:
    return write_tree(tmp_path / "sub", {"cs231n/layers.py": source})


class WorkerWatch:
    """A progress callback that records which workers of this test are alive as each function starts."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.alive_at: dict[str, list[int]] = {}

    def __call__(self, function: str) -> None:
        self.alive_at[function] = worker_pids(self.marker)


HANG = """
def affine_backward(dout, cache):
    while True:
        pass
"""

HANG_WITH_A_CHILD = """
import os

def affine_backward(dout, cache):
    if os.fork() == 0:
        while True:
            pass
    while True:
        pass
"""


@pytest.mark.parametrize("override", [HANG, HANG_WITH_A_CHILD], ids=["loop", "loop-and-forked-child"])
def test_infinite_loop_times_out_and_leaves_no_worker_behind(tmp_path: Path, grade_submission: GradeFn,
                                                             private_tmp: Path, leftover_killer: list[int],
                                                             override: str) -> None:
    watch = WorkerWatch(str(private_tmp))
    root = layers(tmp_path, with_override(CORRECT_VECTORISED, override))
    # One function at a time: the watch counts the workers alive as each function begins.
    report = grade_submission(root, call_timeout_s=2.0, progress=watch, lanes=1)
    leftover_killer.extend(worker_pids(str(private_tmp)))
    functions = by_name(report)
    hung = functions["affine_backward"]
    assert hung["score"] == 0.0
    if override is HANG_WITH_A_CHILD and "seccomp" in report["sandbox"]["layers"]:
        # fork is refused before the loop is reached: the student's call raises instead of hanging
        assert hung["status"] == "error" and "refused by the grader's sandbox" in hung["checks"][0]["message"]
        assert report["sandbox"]["worker_starts"] == len(functions)  # one per function
        assert leftover_killer == [], "worker processes still running after grading"
        return
    assert hung["status"] == "timeout"
    # A busy loop meets the wall-clock limit, or on a loaded machine (where the time it waits for a core moves
    # that deadline) the CPU limit of the same 2 s first.
    message = hung["checks"][0]["message"]
    assert "did not return within 2 s" in message or "used more CPU time than allowed" in message
    for name in OTHERS:
        assert full_marks(functions[name]), name
    # One worker per function (the spare launched while the last function was graded is not counted).
    assert report["sandbox"]["worker_starts"] == len(functions)
    # When affine_backward began, the watch saw the previous function's worker and the workers launched ahead
    # (so the scan sees workers at all); when relu_forward began, only workers launched ahead were alive (with
    # one lane, at most two: the lane's spare and one queued, SandboxSession.launch_ahead): the hung worker and
    # its predecessor are gone.
    # (A fork server, where one forks the workers, is alive throughout.)
    server = 1 if report["sandbox"].get("fork_server") else 0
    began, after = set(watch.alive_at["affine_backward"]), set(watch.alive_at["relu_forward"])
    assert len(began) >= 1 + server
    assert len(after) <= 2 + server
    assert began - after, "the previous function's worker was still alive"
    assert leftover_killer == [], "worker processes still running after grading"


def test_child_that_leaves_the_process_group_is_still_cleaned_up(tmp_path: Path, grade_submission: GradeFn,
                                                                  private_tmp: Path,
                                                                  leftover_killer: list[int]) -> None:
    source = with_override(CORRECT_VECTORISED, """
        import os
        import time

        def affine_backward(dout, cache):
            if os.fork() == 0:
                os.setsid()
                time.sleep(600)
                os._exit(0)
            while True:
                pass
    """)
    report = grade_submission(layers(tmp_path, source), call_timeout_s=2.0)
    leftover_killer.extend(worker_pids(str(private_tmp)))
    expected = "error" if "seccomp" in report["sandbox"]["layers"] else "timeout"  # seccomp refuses fork
    assert by_name(report)["affine_backward"]["status"] == expected
    assert leftover_killer == [], "worker processes still running after grading"


EXIT_IN_BACKWARD = """
import os

def affine_backward(dout, cache):
    print("about to leave")
    os._exit(3)
"""


def test_exit_inside_a_call_is_a_crash_of_that_function_only(tmp_path: Path, grade_submission: GradeFn,
                                                             private_tmp: Path) -> None:
    report = grade_submission(layers(tmp_path, with_override(CORRECT_VECTORISED, EXIT_IN_BACKWARD)))
    functions = by_name(report)
    crashed = functions["affine_backward"]
    assert crashed["status"] == "crashed"
    assert crashed["score"] == 0.0
    assert crashed["checks"][0]["message"].startswith("the worker process stopped on x (2, 4, 5, 6)")
    for name in OTHERS:
        assert full_marks(functions[name]), name
    assert report["sandbox"]["worker_starts"] == len(functions)  # one per function
    assert worker_pids(str(private_tmp)) == []


def test_output_printed_before_a_crash_is_shown(tmp_path: Path, grade_submission: GradeFn) -> None:
    report = grade_submission(layers(tmp_path, with_override(CORRECT_VECTORISED, EXIT_IN_BACKWARD)))
    assert "about to leave" in by_name(report)["affine_backward"]["checks"][0]["message"]


# ------------------------------------------------------------------ forbidden imports
def test_module_level_torch_import_is_forbidden_statically(tmp_path: Path, grade_submission: GradeFn) -> None:
    source = "import torch\n" + CORRECT_VECTORISED
    report = grade_submission(layers(tmp_path, source))
    assert report["score"] == 0.0
    for entry in report["functions"]:
        assert entry["status"] == "forbidden", entry["name"]
        assert "torch" in entry["checks"][0]["message"]
        assert entry["checks"][0]["cases"] == 0, "static detection must not run the student's code"


def test_torch_import_hidden_in_a_function_is_forbidden_at_run_time(tmp_path: Path,
                                                                   grade_submission: GradeFn) -> None:
    # The import is built at run time (no static trace) and its failure is swallowed: still forbidden.
    source = with_override(CORRECT_VECTORISED, """
        import importlib

        def affine_backward(dout, cache):
            try:
                importlib.import_module("to" + "rch")
            except ImportError:
                pass
            x, w, b = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """)
    functions = by_name(grade_submission(layers(tmp_path, source)))
    entry = functions["affine_backward"]
    assert entry["status"] == "forbidden"
    assert entry["score"] == 0.0
    assert "torch" in entry["checks"][0]["message"]
    for name in OTHERS:
        assert full_marks(functions[name]), name


def test_torch_import_hidden_at_module_level_is_forbidden(tmp_path: Path, grade_submission: GradeFn) -> None:
    source = "import importlib\nnn = importlib.import_module('to' + 'rch.nn')\n" + CORRECT_VECTORISED
    report = grade_submission(layers(tmp_path, source))
    assert {f["status"] for f in report["functions"]} == {"forbidden"}


@pytest.mark.parametrize("package", ["reference", "graders"])
def test_worker_cannot_import_the_reference_or_the_grader(tmp_path: Path, grade_submission: GradeFn,
                                                          package: str) -> None:
    source = with_override(CORRECT_VECTORISED, f"""
        import importlib

        def affine_forward(x, w, b):
            helper = importlib.import_module("{package}")
            return helper, None
    """)
    functions = by_name(grade_submission(layers(tmp_path, source)))
    entry = functions["affine_forward"]
    assert entry["status"] == "error"
    assert f"No module named '{package}'" in entry["checks"][0]["message"]
    for name in ("relu_forward", "relu_backward"):
        assert full_marks(functions[name]), name


# ------------------------------------------------------------------ where scratch folders go
def test_scratch_folders_follow_tmpdir_when_the_caller_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from graders import isolation

    monkeypatch.setenv("TMPDIR", "/somewhere/else")
    assert isolation.scratch_base() is None  # tempfile then honours TMPDIR (a batch's private home)


def test_scratch_folders_use_a_shared_memory_folder_only_when_it_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graders import isolation

    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.delenv(name, raising=False)
    shared = tmp_path / "shm"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(isolation, "MEMORY_TEMPORARY", str(shared))
    monkeypatch.setattr(isolation, "MEMORY_TEMPORARY_MIN_FREE", 0)
    expected = str(shared) if os.geteuid() == 0 else None  # owned by root, as /dev/shm is
    assert isolation.scratch_base() == expected
    shared.chmod(0o700)
    assert isolation.scratch_base() is None  # not a shared temporary folder
    link = tmp_path / "link"
    link.symlink_to(shared)
    monkeypatch.setattr(isolation, "MEMORY_TEMPORARY", str(link))
    assert isolation.scratch_base() is None  # never through a link
    monkeypatch.setattr(isolation, "MEMORY_TEMPORARY", str(tmp_path / "missing"))
    assert isolation.scratch_base() is None


def test_folders_for_a_worker_of_another_uid_go_to_memory_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's grading process keeps its scratch in a 0700 folder a worker's uid cannot enter: its workers'
    folders go to a shared temporary folder, the memory-backed one when it exists and others can reach it."""
    from graders import isolation
    from graders.sandbox import privileges

    memory = Path(tempfile.mkdtemp(prefix="nngrade-test-memory-", dir="/tmp"))
    try:
        memory.chmod(0o711)
        monkeypatch.setattr(isolation, "memory_folder", lambda: str(memory))
        assert privileges.reachable_base() == memory
        memory.chmod(0o700)  # others cannot walk into it: the next shared folder
        assert privileges.reachable_base() == Path(privileges.SHARED_TEMPORARY[0])
        monkeypatch.setattr(isolation, "memory_folder", lambda: None)
        assert privileges.reachable_base() == Path(privileges.SHARED_TEMPORARY[0])
    finally:
        memory.rmdir()


def test_a_killed_graders_scratch_folders_are_swept_later(tmp_path: Path) -> None:
    """Folders named for a process that is gone and untouched for an hour are removed; a live process's, a
    recent one, another name, and a link named like ours (never followed) are left alone."""
    from graders import isolation

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    base = tmp_path / "shm"
    base.mkdir()
    target = tmp_path / "precious"
    target.mkdir()
    (target / "keep.txt").write_text("not a grader's")
    old = {
        "stale": base / f"nngrade-stage-{dead.pid}-abc123",
        "live": base / f"nngrade-worker-{os.getpid()}-def456",
        "other": base / "someone-else-9-x",
    }
    for folder in old.values():
        (folder / "sub").mkdir(parents=True)
    (old["stale"] / "sub" / "f").write_text("x")
    recent = base / f"nngrade-cwd-{dead.pid}-ghi789"
    recent.mkdir()
    link = base / f"nngrade-stage-{dead.pid}-link01"
    link.symlink_to(target, target_is_directory=True)
    now = time.time()
    for folder in (*old.values(), link):
        os.utime(folder, (now - 2 * isolation.STALE_AFTER_S,) * 2, follow_symlinks=False)
    assert isolation.sweep_stale(str(base), now=now) == [old["stale"].name]
    assert sorted(p.name for p in base.iterdir()) == sorted([old["live"].name, old["other"].name, recent.name,
                                                             link.name])
    assert (target / "keep.txt").read_text() == "not a grader's"
    assert isolation.owned_prefix("nngrade-stage-") == f"nngrade-stage-{os.getpid()}-"
