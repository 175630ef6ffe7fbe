"""The sandbox's layers: detection, what the report says, strict mode's refusal, the doctor, uid leases."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from graders.cli import main as cli_main
from graders.sandbox import doctor, layers, privileges
from graders.sandbox.process import Limits, Worker, WorkerTimeout
from graders.specs.program import Const, Program, Result, call, to_json
from tests.graders.conftest import CORRECT_VECTORISED, DENSE_TOML, GradeFn, full_marks, write_tree

REAL_PLAN = layers.plan()
ROOT = os.geteuid() == 0


def layer0_only(plan: layers.Plan) -> layers.Plan:
    """What a machine without Landlock, libseccomp, root or bwrap would plan."""
    return dataclasses.replace(plan, landlock=False, seccomp=False, uid=False, bwrap=None, missing={
        "landlock": "no Landlock (test)", "seccomp": "no binding (test)", "uid": "not root (test)",
        "bwrap": "not installed (test)"})


@pytest.fixture()
def fake_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Layer detection answers as on a bare machine (the cache is swapped for this test only)."""
    monkeypatch.setattr(layers, "_plans", {})
    monkeypatch.setattr(layers, "_detect", lambda python, mode: dataclasses.replace(layer0_only(REAL_PLAN),
                                                                                    mode=mode))


def test_report_lists_the_layers_every_worker_confirmed(tmp_path: Path, grade_submission: GradeFn) -> None:
    report = grade_submission(write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED}))
    sandbox = report["sandbox"]
    assert sandbox["mode"] == "default"
    assert sandbox["layers"][:3] == list(layers.BASE_LAYERS)
    assert set(sandbox["layers"]) | set(sandbox["missing"]) == {*layers.BASE_LAYERS, "landlock", "seccomp",
                                                                 "uid", "bwrap"}
    assert set(sandbox["layers"]) == set(REAL_PLAN.planned())
    assert sandbox["worker_starts"] == len(report["functions"])  # a worker per function
    assert all(f["status"] == "passed" for f in report["functions"])


def test_default_mode_grades_with_layer_0_alone_and_says_what_is_missing(
        tmp_path: Path, grade_submission: GradeFn, fake_machine: None) -> None:
    report = grade_submission(write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED}))
    assert report["sandbox"]["layers"] == list(layers.BASE_LAYERS)
    assert report["sandbox"]["missing"]["seccomp"] == "no binding (test)"
    assert all(full_marks(f) for f in report["functions"])


def test_strict_mode_refuses_to_grade_without_every_layer(tmp_path: Path, fake_machine: None) -> None:
    with pytest.raises(layers.SandboxUnavailable, match="landlock: no Landlock .test.*seccomp: no binding"):
        layers.plan(None, "strict")
    (tmp_path / "a.toml").write_text(DENSE_TOML)
    sub = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED})
    result = CliRunner().invoke(cli_main, ["grade", str(sub), "--assignment", str(tmp_path / "a.toml"),
                                           "--out", str(tmp_path / "out"), "--sandbox", "strict", "--quiet"])
    assert result.exit_code == 2, result.output
    assert "refuses to grade" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(bool(layers.required("strict", ROOT)) and bool(REAL_PLAN.missing.keys()
                                                                    & set(layers.required("strict", ROOT))),
                    reason="this machine lacks a layer strict mode needs")
def test_strict_mode_grades_when_every_layer_is_here(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(DENSE_TOML)
    sub = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED})
    result = CliRunner().invoke(cli_main, ["grade", str(sub), "--assignment", str(tmp_path / "a.toml"),
                                           "--out", str(tmp_path / "out"), "--sandbox", "strict", "--quiet",
                                           "--profile", "quick"])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "out" / "report.json").read_text()
    assert '"mode": "strict"' in report
    for name in layers.required("strict", ROOT):
        assert f'"{name}"' in report


def test_doctor_probe_is_blocked_by_every_active_layer() -> None:
    diagnosis = doctor.examine()
    assert diagnosis.error == ""
    assert diagnosis.active == REAL_PLAN.planned()
    assert diagnosis.probes["write in its temporary folder"] == "ALLOWED"
    if {"landlock", "seccomp"} <= set(diagnosis.active):
        assert doctor.healthy(diagnosis), diagnosis.probes
    lines = doctor.render(diagnosis)
    assert any(line.startswith("--sandbox strict: ") for line in lines)


def test_doctor_command_prints_every_layer() -> None:
    result = CliRunner().invoke(cli_main, ["doctor"])
    assert result.exit_code == 0, result.output
    for name in (*layers.BASE_LAYERS, "landlock", "seccomp", "uid", "bwrap"):
        assert f"] {name}" in result.output


@pytest.mark.skipif(not REAL_PLAN.uid, reason="uid leases need root and an interpreter others can run")
def test_uid_leases_are_exclusive_and_sweep_what_a_uid_left_running() -> None:
    first, second = privileges.lease_uid(), privileges.lease_uid()
    try:
        assert first.uid != second.uid
        assert privileges.UID_BASE <= first.uid < privileges.UID_BASE + privileges.UID_SLOTS
        sleeper = subprocess.Popen([REAL_PLAN.python, "-c", "import time; time.sleep(600)"],
                                   preexec_fn=lambda: privileges.drop_to(first.uid, 8), cwd="/")
        assert privileges.processes_of(first.uid) == [sleeper.pid]
        assert privileges.kill_processes_of(first.uid)
        assert sleeper.wait(timeout=5) < 0
        assert privileges.processes_of(first.uid) == []
    finally:
        first.release()
        second.release()


@pytest.mark.skipif(not REAL_PLAN.uid, reason="the process limit is enforced for a uid of its own")
def test_process_limit_holds_for_a_worker_uid_without_seccomp() -> None:
    lease = privileges.lease_uid()
    try:
        code = textwrap.dedent("""
            import os, time
            made = 0
            try:
                for _ in range(50):
                    if os.fork() == 0:
                        os.closerange(1, 3)
                        time.sleep(30)
                        os._exit(0)
                    made += 1
            except OSError:
                pass
            print(made)
        """)
        done = subprocess.run([REAL_PLAN.python, "-c", code], capture_output=True, timeout=60, cwd="/",
                              preexec_fn=lambda: privileges.drop_to(lease.uid, 8), check=False)
        assert done.stdout.strip() and int(done.stdout) < 8, done
    finally:
        privileges.kill_processes_of(lease.uid)
        lease.release()


def test_cpu_limit_per_call_stops_threads_that_burn_more_cpu_than_wall_time(tmp_path: Path) -> None:
    home = Path(tempfile.mkdtemp(dir="/tmp" if REAL_PLAN.uid else None))
    try:
        home.chmod(0o711)
        write_tree(home / "submission", {"burn.py": textwrap.dedent("""
            import threading

            def _burn():
                while True:
                    pass

            def f(x):
                for _ in range(3):
                    threading.Thread(target=_burn, daemon=True).start()
                _burn()
        """)})
        worker = Worker(home, plan=REAL_PLAN, limits=Limits(call_timeout_s=60.0, call_cpu_s=1.0))
        worker.start()
        try:
            worker.request({"op": "load", "sys_path": [str(home / "submission")], "modules": {"m": "burn"}}, [])
            program = to_json(Program(steps=(call("s", "m", "f", Const(1)),), outputs={"y": Result("s")}))
            with pytest.raises(WorkerTimeout, match="used more than 1 s of CPU time"):
                worker.request({"op": "run", "program": program, "inputs": {}}, [])
            assert not worker.alive
        finally:
            worker.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_worker_that_stops_reading_its_requests_times_out_instead_of_holding_the_grader(tmp_path: Path) -> None:
    """Student code can rewrite the worker's own loop so that it never reads again; a request larger than the
    pipe then cannot be written whole. The grader's writes do not block: the call times out on its clock."""
    home = Path(tempfile.mkdtemp(dir="/tmp" if REAL_PLAN.uid else None))
    try:
        home.chmod(0o711)
        write_tree(home / "submission", {"deaf.py": textwrap.dedent("""
            import sys
            import time

            def f(x):
                sys.modules["__main__"].receive = lambda fd: time.sleep(3600)
                return x
        """)})
        worker = Worker(home, plan=REAL_PLAN, limits=Limits(call_timeout_s=1.0))
        worker.start()
        try:
            worker.request({"op": "load", "sys_path": [str(home / "submission")], "modules": {"m": "deaf"}}, [])
            program = to_json(Program(steps=(call("s", "m", "f", Const(1)),), outputs={"y": Result("s")}))
            worker.request({"op": "run", "program": program, "inputs": {}}, [])
            with pytest.raises(WorkerTimeout, match="stopped reading its requests"):
                worker.request({"op": "run", "program": program, "inputs": {}}, [bytes(8 << 20)])
            assert not worker.alive
        finally:
            worker.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)
