"""A grading session's sandbox: a staged submission, and a worker that is replaced after any failure.

Every worker start gets a fresh copy of the staged sources (a student function that deletes or rewrites files
cannot affect the next function), loads the assignment's modules, and answers ``run`` requests. The parent keeps
the cases' expected outputs; the worker only ever sees inputs. A call that leaves its worker tainted (threads
still running, a timer pending, NumPy patched: the reply says so) counts as a crash of that call, and the worker
is replaced before the next one.

The layers are planned once (layers.plan); the report's ``sandbox`` entry lists those every worker confirmed.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.sandbox import layers, privileges
from graders.sandbox.process import Limits, Worker, WorkerCrashed
from graders.sandbox.wire import decode_reply_value, encode_value
from graders.specs.base import Case, Spec
from graders.specs.program import to_json
from graders.submission import Staged

SUPPORT_DIR = Path(__file__).with_name("support")
SUPPORT_MODULES = {"nngrade_support": "nngrade_support"}


@dataclass
class RunReply:
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    inputs_after: dict[str, Any]
    student_s: float
    forbidden: list[str]
    tainted: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    forbidden: list[str] = field(default_factory=list)
    output: str = ""

    def names(self, key: str) -> set[str]:
        info = self.modules.get(key, {})
        return set(info.get("names", [])) if info.get("ok") else set()


class SandboxSession:
    def __init__(self, staged: Staged, forbidden: list[str], python: str | None = None,
                 limits: Limits | None = None, hide_paths: list[str] | None = None, mode: str = "default") -> None:
        self.staged = staged
        self.forbidden = forbidden
        self.python = python
        self.limits = limits or Limits()
        self.hide_paths = hide_paths or []
        self.plan = layers.plan(python, mode)
        self.home = Path(tempfile.mkdtemp(prefix="nngrade-worker-"))
        self.runs = self._runs_folder()
        self.worker: Worker | None = None
        self.starts = 0
        self.load_report = LoadReport()
        self.active: list[str] | None = None  # layers every worker so far confirmed
        self.refusals: dict[str, str] = {}  # layer -> why a worker could not apply it

    def _runs_folder(self) -> Path:
        """Where the workers' folders go: the session's home, unless the worker's uid cannot walk down to it
        (e.g. under pytest's 0700 temporary root), in which case a private folder under /tmp (0711: reachable,
        not listable). The workers' command lines name the home either way."""
        if not self.plan.uid:
            return self.home
        os.chmod(self.home, 0o711)
        if privileges.reachable_by_others(self.home):
            return self.home
        for base in ("/tmp", "/var/tmp", "/dev/shm"):
            if os.path.isdir(base) and privileges.reachable_by_others(Path(base)):
                folder = Path(tempfile.mkdtemp(prefix="nngrade-worker-", dir=base))
                os.chmod(folder, 0o711)
                return folder
        self.plan = dataclasses.replace(self.plan, uid=False, bwrap=None, missing={
            **self.plan.missing, "uid": "no folder reachable by an unprivileged uid for the worker",
            "bwrap": "needs layer 2 (uid)"})
        layers.refuse(self.plan, self.plan.planned())
        return self.home

    def describe(self) -> dict[str, Any]:
        """The report's ``sandbox`` entry."""
        active = self.active if self.active is not None else self.plan.planned()
        return layers.describe(self.plan, active, self.starts, self.refusals)

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        shutil.rmtree(self.home, ignore_errors=True)
        if self.runs != self.home:
            shutil.rmtree(self.runs, ignore_errors=True)

    # -------------------------------------------------------------- worker lifecycle
    def ensure_worker(self) -> Worker:
        if self.worker is not None and self.worker.alive:
            return self.worker
        if self.worker is not None:
            self.worker.stop()
        self.starts += 1
        workdir = self.runs / f"run{self.starts}"
        shutil.copytree(self.staged.root, workdir / "submission")
        shutil.copytree(SUPPORT_DIR, workdir / "support", ignore=shutil.ignore_patterns("__pycache__"))
        if self.plan.uid:
            _readable_by_all(workdir)
        worker = Worker(workdir, self.python, self.limits, plan=self.plan, label=str(self.home / workdir.name))
        self.worker = worker
        worker.start()
        self.active = [n for n in worker.layers if self.active is None or n in self.active]
        for name, outcome in (worker.hello.get("layers") or {}).items():
            if outcome is not True:
                self.refusals[str(name)] = f"the worker could not apply it: {str(outcome)[:200]}"
        try:
            layers.refuse(dataclasses.replace(self.plan, missing={**self.plan.missing, **self.refusals}),
                          worker.layers)
        except layers.SandboxUnavailable:
            self.discard_worker()
            raise
        root = workdir / "submission"
        request = {
            "op": "load",
            "sys_path": [str((root / p).resolve()) for p in self.staged.sys_path] + [str(workdir / "support")],
            "modules": {**{key: m.dotted for key, m in self.staged.modules.items()}, **SUPPORT_MODULES},
            "forbidden": self.forbidden,
            "hide_paths": self.hide_paths,
            "relative_to": [str(root.resolve()), str(root)],
        }
        reply, _ = worker.request(request, [], self.limits.start_timeout_s)
        self.load_report = LoadReport(reply.get("modules", {}), list(reply.get("forbidden", [])), worker.output())
        return worker

    def discard_worker(self) -> str:
        """Stop the current worker (after a timeout or crash) and return what it printed."""
        if self.worker is None:
            return ""
        text = self.worker.output()
        self.worker.stop()
        self.worker = None
        return text

    # -------------------------------------------------------------- runs
    def run(self, spec: Spec, case: Case) -> RunReply:
        worker = self.ensure_worker()
        blobs: list[bytes] = []
        request = {
            "op": "run",
            "program": to_json(spec.program(case)),
            "inputs": encode_value(case, blobs)["__dict__"],
            "return_inputs": list(spec.read_only),
        }
        reply, reply_blobs = worker.request(request, blobs)
        cap = self.limits.max_reply_bytes
        try:
            outputs = None
            raw = reply.get("outputs")
            if reply.get("error") is None and not isinstance(raw, dict):
                raise ValueError("outputs missing")
            if isinstance(raw, dict):
                outputs = {str(k): decode_reply_value(v, reply_blobs, cap) for k, v in raw.items()}
            after_raw = reply.get("inputs_after") or {}
            after = decode_reply_value(after_raw, reply_blobs, cap) if after_raw else {}
            error = reply.get("error")
            if error is not None and not isinstance(error, dict):
                raise ValueError("malformed error")
            student_s = float(reply.get("student_s", 0.0))
            forbidden = [str(f) for f in reply.get("forbidden", [])][:10]
            tainted = [str(t)[:200] for t in reply.get("tainted", [])][:10]
        except Exception as exc:
            self.discard_worker()
            raise WorkerCrashed(f"the worker sent a malformed reply ({exc})") from None
        if tainted:  # the call's own fault: it scores as a crash, and the next call gets a clean worker
            self.discard_worker()
            raise WorkerCrashed(f"the call left the worker unfit for other calls ({'; '.join(tainted)}), "
                                "so the worker was stopped")
        return RunReply(outputs, error, after if isinstance(after, dict) else {}, student_s, forbidden, tainted)


def _readable_by_all(folder: Path) -> None:
    """The copies are the grader's (root's) and read-only to the worker's uid, whatever the umask was."""
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
