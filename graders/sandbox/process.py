"""The parent's handle on one sandbox worker process.

Layer 0 of the isolation (standard library only): a separate interpreter started with ``-I`` in its own
session, an empty environment, a private working directory holding a fresh copy of the submission, resource
limits (memory, file size, open files, CPU), a wall-clock limit on every request, stdout/stderr drained into a
capped buffer, and clean-up that kills the whole process group until nothing of it is left.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.sandbox.wire import HEADER, WireError, frame

WORKER_SCRIPT = Path(__file__).with_name("worker_main.py")


@dataclass(frozen=True)
class Limits:
    call_timeout_s: float = 20.0
    start_timeout_s: float = 60.0
    memory_bytes: int = 4 << 30
    file_bytes: int = 64 << 20
    open_files: int = 256
    cpu_s: int = 900
    max_reply_bytes: int = 64 << 20
    log_bytes: int = 64 << 10


TOKEN_VARIABLE = "NNGRADE_SANDBOX_TOKEN"


def processes_with_token(token: str) -> list[int]:
    """PIDs of live processes whose initial environment holds this worker's token (zombies excluded)."""
    marker = f"{TOKEN_VARIABLE}={token}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                if marker not in handle.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                if handle.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    continue
        except OSError:
            continue
        found.append(int(entry.name))
    return found


class WorkerTimeout(Exception):
    """The worker did not answer within the wall-clock limit (it has been killed)."""


class WorkerCrashed(Exception):
    """The worker died or broke the protocol (it has been killed)."""


def _apply_limits(limits: Limits) -> None:
    """Runs in the child before exec: its own resource limits (inherited by anything it starts)."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class OutputDrain(threading.Thread):
    """Reads the worker's stdout/stderr so a print flood never blocks it; keeps only the first bytes."""

    def __init__(self, fd: int, cap: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.cap = cap
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            room = self.cap - len(self.kept)
            self.kept += chunk[: max(room, 0)]
            self.dropped += max(len(chunk) - max(room, 0), 0)
        os.close(self.fd)

    def text(self) -> str:
        tail = f"\n[... {self.dropped} more bytes of output dropped]" if self.dropped else ""
        return self.kept.decode("utf-8", "replace") + tail


class Worker:
    """One worker process serving requests until it is stopped, times out or crashes."""

    def __init__(self, workdir: Path, python: str | None = None, limits: Limits | None = None) -> None:
        self.workdir = workdir
        self.python = python or sys.executable
        self.limits = limits or Limits()
        self.process: subprocess.Popen[bytes] | None = None
        self.drain: OutputDrain | None = None
        self._to_worker = -1
        self._from_worker = -1
        self.token = secrets.token_hex(16)

    # -------------------------------------------------------------- lifecycle
    def start(self) -> dict[str, Any]:
        script = self.workdir / "worker_main.py"
        shutil.copyfile(WORKER_SCRIPT, script)
        child_in, self._to_worker = os.pipe()
        self._from_worker, child_out = os.pipe()
        out_read, out_write = os.pipe()
        env = {
            TOKEN_VARIABLE: self.token,
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        limits = self.limits
        self.process = subprocess.Popen(
            [self.python, "-I", "-B", "-u", str(script), str(child_in), str(child_out)],
            cwd=self.workdir / "submission",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_write,
            stderr=out_write,
            pass_fds=(child_in, child_out),
            start_new_session=True,
            preexec_fn=lambda: _apply_limits(limits),
        )
        for fd in (child_in, child_out, out_write):
            os.close(fd)
        self.drain = OutputDrain(out_read, self.limits.log_bytes)
        self.drain.start()
        reply, _ = self.request({"op": "hello"}, [], self.limits.start_timeout_s)
        return reply

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.drain.text() if self.drain else ""

    def stop(self) -> None:
        """Ask politely, then kill the process group until none of it is left."""
        if self.process is None:
            return
        if self.alive:
            try:
                os.write(self._to_worker, frame({"op": "bye"}, []))
                self.process.wait(timeout=1.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill_group()
        for fd in (self._to_worker, self._from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        self._to_worker = self._from_worker = -1
        if self.drain is not None:
            self.drain.join(timeout=2.0)
        self.process = None

    def _kill_group(self) -> None:
        """SIGKILL the worker's process group, then every process still carrying this worker's token.

        A student process that called setsid() has left the group; it still has the token in its initial
        environment (/proc/PID/environ), so sweeping by token finds it. Repeated until a sweep finds nothing,
        because a forking loop can create children between two sweeps.
        """
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for _ in range(100):
            stragglers = processes_with_token(self.token)
            if not stragglers:
                break
            for pid in stragglers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.005)
        try:
            self.process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass

    # -------------------------------------------------------------- requests
    def request(self, header: dict[str, Any], blobs: list[bytes], timeout: float | None = None) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request and wait for its reply; on timeout or a broken reply, kill the worker and raise."""
        if not self.alive:
            raise WorkerCrashed(self._death_note())
        deadline = time.monotonic() + (timeout if timeout is not None else self.limits.call_timeout_s)
        try:
            self._write_all(frame(header, blobs), deadline)
            (length,) = HEADER.unpack(self._read_exact(HEADER.size, deadline))
            if length > self.limits.max_reply_bytes:
                raise WireError(f"reply header of {length} bytes")
            reply = json.loads(self._read_exact(length, deadline))
            sizes = reply.get("blob_sizes", [])
            if not isinstance(sizes, list) or sum(int(s) for s in sizes) > self.limits.max_reply_bytes:
                raise WireError(f"reply of more than {self.limits.max_reply_bytes} bytes")
            reply_blobs = [self._read_exact(int(n), deadline) for n in sizes]
        except WorkerTimeout:
            self.stop()
            raise
        except (WireError, ValueError, OSError, EOFError) as exc:
            note = self._death_note()
            self.stop()
            raise WorkerCrashed(f"{note} ({exc})" if note else str(exc)) from None
        if not isinstance(reply, dict):
            self.stop()
            raise WorkerCrashed("malformed reply")
        return reply, reply_blobs

    def _write_all(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout("the worker stopped reading its requests")
            _, writable, _ = select.select([], [self._to_worker], [], remaining)
            if writable:
                view = view[os.write(self._to_worker, view[: 1 << 16]) :]

    def _read_exact(self, n: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        while n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout("no answer within the time limit")
            readable, _, _ = select.select([self._from_worker], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._from_worker, min(n, 1 << 20))
            if not chunk:
                raise EOFError("the worker closed its pipe")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _death_note(self) -> str:
        if self.process is None:
            return "the worker is not running"
        try:  # the pipe closes a moment before the process can be reaped: wait for its status
            code = self.process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            return ""
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = {"SIGKILL": " (killed: memory limit or out of memory?)", "SIGXCPU": " (CPU time limit)",
                    "SIGXFSZ": " (file size limit)", "SIGSEGV": " (segmentation fault)"}.get(name, "")
            return f"the worker was killed by {name}{hint}"
        return f"the worker exited with status {code}"
