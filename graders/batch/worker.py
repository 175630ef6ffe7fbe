"""Grading workers: long-lived trusted subprocesses that grade one task after another.

Each worker is a trusted process kept away from student-controlled places (graders/isolation.py): started as
``python -I`` in a private folder that is also its TMPDIR, with a short list of the caller's variables. The
folder holds every staging and sandbox folder the worker creates, and is removed when the worker stops.

WHY subprocesses of our own rather than ``multiprocessing.Pool``: a pool unpickles what its workers return
(DESIGN.md measured a result's ``__reduce__`` running code in the parent), one worker killed by the OOM killer
breaks a ``ProcessPoolExecutor`` for every pending task, and a stuck task cannot be cancelled. Here each worker
is a grading process (:func:`worker_command`) that reads one task (a JSON line) on stdin and writes one result
(a JSON line) on its original stdout; a worker that crashes or runs past the entry time limit is killed and
replaced, and only its own entry fails. Workers are long-lived because starting one (NumPy, hypothesis, the
registry) costs about a second, a third of grading a submission on the quick profile; they are recycled after
``max_tasks`` tasks to bound memory growth. Grading is deterministic per task (verified: the same submission
gives the same report whichever submissions the worker graded before).

The student's code never runs here: :func:`graders.grade.grade` starts its own sandbox process for that.

Protocol, worker side: stray output (a library warning, a print) goes to stderr, because fd 1 is
redirected there and results travel on a duplicate of the original stdout. A worker whose parent dies (the
batch was killed) notices within a second, stops its sandbox and exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from graders.batch.task import Task, failure_json, run_task
from graders.isolation import clean_environment, isolated_command, private_folder, remove_tree

STDERR_TAIL_BYTES = 8 << 10
#: Limits of the trusted grading code's own threads: the sandbox pins the student's worker to one BLAS
#: thread; the grading worker computes the reference side and needs the same, or N workers oversubscribe
#: the cores N-fold.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
GRACE_S = 10.0


class WorkerFailure(Exception):
    """The grading worker died, broke the protocol or ran past the entry time limit (it has been stopped)."""


class _PastDeadline(Exception):
    """No result line within the entry time limit (not TimeoutError: that is an OSError, a broken pipe's kin)."""


# ------------------------------------------------------------------ parent side
class _StderrTail(threading.Thread):
    """Drains a worker's stderr so it never blocks, keeping the last bytes for error messages."""

    def __init__(self, stream: object) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.tail = b""

    def run(self) -> None:
        read = self.stream.read1  # type: ignore[attr-defined]
        while chunk := read(1 << 16):
            self.tail = (self.tail + chunk)[-STDERR_TAIL_BYTES:]

    def text(self) -> str:
        return self.tail.decode("utf-8", "replace").strip()


def worker_command() -> list[str]:
    """``python -I`` running :func:`main`, with only nngrade's own folder added to sys.path (graders/isolation.py)."""
    return isolated_command("graders.batch.worker", "main")


def worker_environment(home: Path) -> dict[str, str]:
    """A short list of the caller's variables, one BLAS thread, and ``home`` as the temporary folder: every
    staging and sandbox folder of the grading process is created inside it, so the batch removes them all
    when the process ends, even when it had to be killed."""
    return clean_environment({**SINGLE_THREADED, "TMPDIR": str(home)})


class GradingWorker:
    """The parent's handle on one grading worker process."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command or worker_command())
        self.home: Path | None = None  # working and temporary folder of the process, removed when it stops
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr: _StderrTail | None = None
        self.tasks_done = 0
        self._buffer = b""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.home = private_folder("nngrade-grading-")
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.home,
            env=worker_environment(self.home),
            start_new_session=True,  # a Ctrl-C on the terminal reaches the batch, which stops us in order
        )
        self.stderr = _StderrTail(self.process.stderr)
        self.stderr.start()

    def run(self, task_json: str, timeout_s: float) -> str:
        """Send one task and wait for its result line; on a crash or timeout stop the worker and raise."""
        if self.process is None:
            self.start()
        assert self.process is not None and self.process.stdin is not None
        deadline = time.monotonic() + timeout_s
        try:
            self.process.stdin.write(task_json.encode("utf-8") + b"\n")
            self.process.stdin.flush()
            line = self._read_line(deadline)
        except (OSError, EOFError) as exc:
            self.stop()
            raise WorkerFailure(f"the grading worker died ({exc}){self._last_words()}") from None
        except _PastDeadline:
            self.stop()
            raise WorkerFailure(
                f"grading did not finish within the entry time limit of {timeout_s:g} s"
            ) from None
        self.tasks_done += 1
        return line.decode("utf-8")

    def _read_line(self, deadline: float) -> bytes:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _PastDeadline
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise EOFError("it closed its result pipe")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _last_words(self) -> str:
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=GRACE_S)
        code = self.process.returncode if self.process is not None else None
        status = f"; exit status {code}" if code is not None else ""
        tail = self.stderr.text() if self.stderr is not None else ""
        return status + (f"; its last output:\n{tail}" if tail else "")

    def stop(self) -> None:
        """End the worker: EOF on its task pipe (an idle worker exits at once), then SIGTERM (a busy one
        stops its sandbox and exits), then SIGKILL."""
        process = self.process
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        for sig, wait_s in ((None, 1.0), (signal.SIGTERM, GRACE_S), (signal.SIGKILL, GRACE_S)):
            if process.poll() is not None:
                break
            if sig is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=wait_s)
        if self.stderr is not None:
            self.stderr.join(timeout=GRACE_S)
        if process.stdout is not None:
            process.stdout.close()
        if self.home is not None:
            remove_tree(self.home)
            self.home = None


class WorkerSlot:
    """One grading worker at a time for one thread: started on demand, replaced after a failure, recycled
    after ``max_tasks`` tasks. :meth:`run` never raises for a task's failure; the result says it."""

    def __init__(self, entry_timeout_s: float, max_tasks: int = 25, command: Sequence[str] | None = None):
        self.entry_timeout_s = entry_timeout_s
        self.max_tasks = max_tasks
        self.command = command
        self.worker: GradingWorker | None = None
        self._lock = threading.Lock()

    def run(self, task_json: str) -> str:
        started = time.monotonic()
        entry = str(json.loads(task_json).get("entry", "?"))
        with self._lock:
            if self.worker is not None and (not self.worker.alive or self.worker.tasks_done >= self.max_tasks):
                self.worker.stop()
                self.worker = None
            if self.worker is None:
                self.worker = GradingWorker(self.command)
            worker = self.worker
        try:
            return worker.run(task_json, self.entry_timeout_s)
        except WorkerFailure as exc:
            with self._lock:
                if self.worker is worker:
                    self.worker = None
            return failure_json(entry, str(exc), time.monotonic() - started)

    def close(self) -> None:
        with self._lock:
            worker, self.worker = self.worker, None
        if worker is not None:
            worker.stop()


# ------------------------------------------------------------------ worker side
def _watch_parent(parent: int) -> None:
    """SIGTERM ourselves when the parent dies (we are re-parented), so an orphan stops its sandbox."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds grade(): its sandbox session and temporary folders are cleaned


def main() -> None:
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch decides when we stop
    _watch_parent(os.getppid())
    for line in sys.stdin:
        if not line.strip():
            continue
        result = run_task(Task.from_json(line))
        results.write(result + "\n")
        results.flush()


if __name__ == "__main__":
    main()
