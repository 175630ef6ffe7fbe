"""A grading session's sandbox: a staged submission, and a worker that is replaced after any failure.

Every worker start gets a fresh copy of the staged sources (a student function that deletes or rewrites files
cannot affect the next function), loads the assignment's modules, and answers ``run`` requests. The parent keeps
the cases' expected outputs; the worker only ever sees inputs.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
                 limits: Limits | None = None, hide_paths: list[str] | None = None) -> None:
        self.staged = staged
        self.forbidden = forbidden
        self.python = python
        self.limits = limits or Limits()
        self.hide_paths = hide_paths or []
        self.home = Path(tempfile.mkdtemp(prefix="nngrade-worker-"))
        self.worker: Worker | None = None
        self.starts = 0
        self.load_report = LoadReport()

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        shutil.rmtree(self.home, ignore_errors=True)

    # -------------------------------------------------------------- worker lifecycle
    def ensure_worker(self) -> Worker:
        if self.worker is not None and self.worker.alive:
            return self.worker
        if self.worker is not None:
            self.worker.stop()
        self.starts += 1
        workdir = self.home / f"run{self.starts}"
        shutil.copytree(self.staged.root, workdir / "submission")
        shutil.copytree(SUPPORT_DIR, workdir / "support", ignore=shutil.ignore_patterns("__pycache__"))
        worker = Worker(workdir, self.python, self.limits)
        self.worker = worker
        worker.start()
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
        except Exception as exc:
            self.discard_worker()
            raise WorkerCrashed(f"the worker sent a malformed reply ({exc})") from None
        return RunReply(outputs, error, after if isinstance(after, dict) else {}, student_s, forbidden)
