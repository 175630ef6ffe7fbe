"""Grading two functions at once (lanes) changes how long a submission takes, never what its report says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from graders.assignment import Assignment
from graders.cli import main as cli_main
from graders.grade import GradeOptions, grade
from graders.sandbox import process
from tests.graders.conftest import CORRECT_VECTORISED, DENSE_TOML, by_name, full_marks, with_override, write_tree
from tests.graders.test_casebank import BUGGY, without_timings

IMPORT_FAILS = with_override(CORRECT_VECTORISED, """
    def relu_forward(x):
        return undefined_name
    raise_at_import = 1 / 0
""")


def graded(root: Path, assignment: Assignment, lanes: int) -> dict[str, Any]:
    report = grade(root, assignment, GradeOptions(seed=5, profile="quick", lanes=lanes))
    return without_timings(json.loads(json.dumps(report)))


@pytest.mark.parametrize("source", [CORRECT_VECTORISED, BUGGY, IMPORT_FAILS], ids=["correct", "buggy", "no-import"])
def test_one_lane_and_two_lanes_give_the_same_report(tmp_path: Path, dense_assignment: Assignment,
                                                     source: str) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": source})
    one = graded(root, dense_assignment, lanes=1)
    two = graded(root, dense_assignment, lanes=2)
    assert one == two
    functions = by_name(one)
    assert [f["name"] for f in one["functions"]] == [g.spec.name for g in dense_assignment.functions]
    if source is BUGGY:
        assert not full_marks(functions["affine_backward"]) and full_marks(functions["affine_forward"])
    if source is IMPORT_FAILS:
        assert one["problems"] and all(f["status"] == "error" for f in one["functions"])
    else:
        assert one["sandbox"]["worker_starts"] == len(one["functions"])


def test_a_call_waiting_for_a_core_gets_that_time_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wall-clock deadline moves by the run delay the kernel reports, at most by the limit once more."""
    waits = iter([1.0, 1.5, 9.0, 30.0])
    monkeypatch.setattr(process, "cpu_wait_seconds", lambda pid: next(waits))
    worker = process.Worker(Path("/nonexistent"))
    worker.pid = 1
    worker._arm(4.0)
    start = worker._deadline
    worker._credit_cpu_wait()  # the first reading is the baseline
    assert worker._deadline == start
    worker._credit_cpu_wait()  # waited 0.5 s more
    assert worker._deadline == pytest.approx(start + 0.5)
    worker._credit_cpu_wait()  # 7.5 s more, but only 3.5 s of credit is left
    worker._credit_cpu_wait()
    assert worker._deadline == pytest.approx(start + 4.0)


def test_the_command_line_takes_the_number_of_lanes(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(DENSE_TOML)
    sub = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED})
    command = ["grade", str(sub), "--assignment", str(tmp_path / "a.toml"), "--profile", "quick", "--quiet"]
    one = CliRunner().invoke(cli_main, [*command, "--out", str(tmp_path / "one"), "--lanes", "1"])
    assert one.exit_code == 0, one.output
    assert all(full_marks(f) for f in json.loads((tmp_path / "one" / "report.json").read_text())["functions"])
    refused = CliRunner().invoke(cli_main, [*command, "--out", str(tmp_path / "none"), "--lanes", "0"])
    assert refused.exit_code == 2 and "--lanes" in refused.output
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("fails", ["spawning", "confining"])
def test_a_fork_server_that_cannot_start_leaves_workers_started_one_by_one(
        tmp_path: Path, dense_assignment: Assignment, monkeypatch: pytest.MonkeyPatch, fails: str) -> None:
    """The fork server is spawned as the session starts and its hello read by the first launch: where either
    fails, every worker is started on its own and the grading is the same."""
    from graders.sandbox import session

    if not session.layers.plan().landlock or not session.layers.plan().seccomp:
        pytest.skip("this machine grades without a fork server anyway")
    if fails == "spawning":
        def refuse(self: process.ForkServer) -> None:
            raise OSError("no fork server here (test)")

        monkeypatch.setattr(process.ForkServer, "launch", refuse)
    else:
        real = process.ForkServer.finish_launch

        def unconfined(self: process.ForkServer) -> dict[str, Any]:
            hello = real(self)
            hello["layers"]["landlock"] = "refused (test)"
            return hello

        monkeypatch.setattr(process.ForkServer, "finish_launch", unconfined)
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED})
    report = grade(root, dense_assignment, GradeOptions(seed=0, profile="quick"))
    assert report["sandbox"]["fork_server"] is False
    assert all(full_marks(f) for f in report["functions"])
