"""``nngrade doctor``: which isolation layers this machine gives a worker, checked by starting one.

Detection alone (layers.plan) says what should work; the doctor then starts a real worker, reads back the
layers it confirmed, times its start and a round trip, and runs a probe inside it that tries what the layers
are meant to stop (reading /proc and the grader's files, a socket, a fork, a write outside its folder). The
probe is ordinary code run as a student's function would be.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.sandbox import layers, privileges
from graders.sandbox.process import Limits, Worker, WorkerCrashed, WorkerTimeout
from graders.sandbox.wire import decode_reply_value
from graders.specs.program import Const, Program, Result, call, to_json

PROBE_MODULE = '''\
import os
import socket


def attempt(action):
    try:
        action()
    except OSError as exc:
        return "blocked (" + (exc.strerror or type(exc).__name__) + ")"
    return "ALLOWED"


def _fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def _write(path):
    with open(path, "w") as handle:
        handle.write("doctor")
    os.remove(path)


def probe(outside, grader_pid):
    return {
        "read the grader's /proc environ": attempt(lambda: open(f"/proc/{grader_pid}/environ", "rb").read()),
        "read a file of the grader": attempt(lambda: open(outside).read()),
        "write outside its folder": attempt(lambda: _write(os.path.dirname(outside) + "/doctor-write")),
        "open a TCP socket": attempt(lambda: socket.socket().close()),
        "open a UDP socket": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()),
        "fork a process": attempt(_fork),
        "signal the grader": attempt(lambda: os.kill(grader_pid, 0)),
        "write in its temporary folder": attempt(lambda: _write(os.path.join(os.environ["TMPDIR"], "t"))),
    }
'''

#: Probes whose expected answer is "ALLOWED" (the worker must still be able to work).
MUST_WORK = ("write in its temporary folder",)


@dataclass
class Diagnosis:
    plan: layers.Plan | None
    error: str = ""
    active: list[str] = field(default_factory=list)
    confirmed: dict[str, Any] = field(default_factory=dict)
    probes: dict[str, str] = field(default_factory=dict)
    start_ms: float = 0.0
    round_trip_ms: float = 0.0

    @property
    def strict_missing(self) -> list[str]:
        return [n for n in layers.required("strict", os.geteuid() == 0) if n not in self.active]


def examine(python: str | None = None) -> Diagnosis:
    """Plan the layers, start one worker with them, and probe it."""
    try:
        plan = layers.plan(python)
    except layers.SandboxUnavailable as exc:
        return Diagnosis(None, error=str(exc))
    diagnosis = Diagnosis(plan)
    base = privileges.reachable_base() if plan.uid else None
    home = Path(tempfile.mkdtemp(prefix="nngrade-doctor-", dir=base))
    outside = Path(tempfile.mkdtemp(prefix="nngrade-doctor-outside-"))
    try:
        (outside / "secret.txt").write_text("grader's file")
        os.chmod(home, 0o711)
        (home / "submission").mkdir()
        (home / "submission" / "doctor_probe.py").write_text(PROBE_MODULE)
        worker = Worker(home, plan=plan, limits=Limits(call_timeout_s=20.0))
        started = time.perf_counter()
        hello = worker.start()
        diagnosis.start_ms = (time.perf_counter() - started) * 1e3
        diagnosis.active = list(worker.layers)
        diagnosis.confirmed = dict(hello.get("layers", {}))
        try:
            worker.request({"op": "load", "sys_path": [str(home / "submission")],
                            "modules": {"probe": "doctor_probe"}}, [])
            program = to_json(Program(
                steps=(call("p", "probe", "probe", Const(str(outside / "secret.txt")), Const(os.getpid())),),
                outputs={"result": Result("p")}))
            started = time.perf_counter()
            reply, blobs = worker.request({"op": "run", "program": program, "inputs": {}}, [])
            diagnosis.round_trip_ms = (time.perf_counter() - started) * 1e3
            if reply.get("error"):
                diagnosis.error = f"the probe failed: {reply['error'].get('message')}"
            else:
                result = decode_reply_value(reply["outputs"]["result"], blobs, 1 << 20)
                diagnosis.probes = {str(k): str(v) for k, v in result.items()}
        finally:
            worker.stop()
    except (WorkerCrashed, WorkerTimeout, OSError, privileges.NoFreeUid) as exc:
        diagnosis.error = f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(outside, ignore_errors=True)
    return diagnosis


LAYER_TEXT = {
    "process": "separate python -I process, own session, empty environment, capped output",
    "rlimits": "memory, file size, open files, CPU; wall and CPU limit per call",
    "import-gate": "reference/graders and forbidden libraries refused at import",
    "landlock": "reads: interpreter and submission copy only; writes: its own folder; no TCP, no signals out",
    "seccomp": "no sockets, fork, exec, ptrace, mount, namespaces, bpf; signals to itself only",
    "uid": "runs as a uid of its own, with a process limit",
    "bwrap": "own namespaces (no network, no other processes), read-only binds, tmpfs elsewhere",
}


def render(diagnosis: Diagnosis) -> list[str]:
    """The doctor's report as lines of text."""
    lines = []
    plan = diagnosis.plan
    if plan is None:
        return [f"no worker can start: {diagnosis.error}"]
    lines.append(f"worker interpreter: {plan.python} (NumPy {plan.numpy}); grader runs as "
                 f"{'root' if os.geteuid() == 0 else 'uid ' + str(os.geteuid())}")
    for name in (*layers.BASE_LAYERS, "landlock", "seccomp", "uid", "bwrap"):
        if name in diagnosis.active:
            lines.append(f"  [on ] {name:<11} {LAYER_TEXT[name]}")
        else:
            why = plan.missing.get(name) or str(diagnosis.confirmed.get(name, "not confirmed by the worker"))
            lines.append(f"  [off] {name:<11} {why}")
    if diagnosis.probes:
        lines.append("probe run inside a worker (what a student's code may and may not do):")
        for what, outcome in diagnosis.probes.items():
            must_work = what in MUST_WORK
            expected = outcome == "ALLOWED" if must_work else outcome.startswith("blocked")
            said = ("allowed, as it must be" if must_work and expected else
                    "blocked, but the worker needs it" if must_work else outcome)
            lines.append(f"  {'ok  ' if expected else 'FAIL'} {what}: {said}")
    if diagnosis.start_ms:
        lines.append(f"worker start {diagnosis.start_ms:.0f} ms; probe round trip {diagnosis.round_trip_ms:.1f} ms")
    if diagnosis.error:
        lines.append(f"error: {diagnosis.error}")
    missing = diagnosis.strict_missing
    lines.append("--sandbox strict: " + ("ready" if not missing else f"would refuse (missing {', '.join(missing)})"))
    return lines


def healthy(diagnosis: Diagnosis) -> bool:
    """Every probe gave its expected answer and no error occurred."""
    if diagnosis.error or diagnosis.plan is None:
        return False
    return all((v == "ALLOWED") if k in MUST_WORK else v.startswith("blocked")
               for k, v in diagnosis.probes.items())
