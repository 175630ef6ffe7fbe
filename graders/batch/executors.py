"""Where batch tasks run: a local pool of grading workers, or a Dask cluster.

An executor takes tasks (JSON text, see :mod:`graders.batch.task`) and yields their results (JSON text) in
completion order. It never raises for one task's failure: a crash, a hang past the entry time limit or a lost
cluster worker becomes a ``failed`` result for that entry and the other tasks go on. Both executors run the
same code on the same task (:class:`graders.batch.worker.WorkerSlot`), so they give identical reports.

* :class:`LocalExecutor`: ``jobs`` threads in the batch process, each driving one grading worker subprocess.
  The threads only wait on pipes, so the batch process's GIL costs nothing.
* :class:`DaskExecutor`: each task is a call of :func:`grade_on_dask_worker` on a ``distributed`` cluster
  (``nngrade batch --scheduler tcp://HOST:PORT``). Each Dask worker thread drives its own grading worker
  subprocess, so entry time limits and crash isolation hold on the cluster too. Requirements: the same
  nngrade version on every worker (checked per task), and the class folder (and an assignment given as a
  .toml path) readable at the same absolute path on the workers, e.g. a shared file system. The output folder
  need not be shared: results come back to the batch process, which writes every file.

Trust: results are JSON text produced by our code. Dask moves them with its own serialisation (pickle for a
str), which is as trustworthy as the cluster's workers; the student's code never runs in a Dask worker, only
in the sandbox subprocess that grading starts.
"""

from __future__ import annotations

import atexit
import json
import queue
import secrets
import threading
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Protocol

from graders.batch.task import failure_json
from graders.batch.worker import WorkerSlot

DEFAULT_ENTRY_TIMEOUT_S = 1800.0


class ExecutorError(Exception):
    """The executor cannot be set up (no dask installed, scheduler unreachable)."""


class Executor(Protocol):
    """Runs batch tasks; see the module docstring for the contract."""

    description: str

    def run(self, tasks: Sequence[str]) -> Iterator[str]:
        """Yield one result (JSON text) per task, in completion order."""
        ...

    def close(self) -> None:
        """Stop every worker this executor started."""
        ...


def _entry_of(task: str) -> str:
    return str(json.loads(task)["entry"])


class _Closing:
    def __enter__(self) -> Any:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


class LocalExecutor(_Closing):
    """``jobs`` grading workers on this machine."""

    def __init__(
        self,
        jobs: int,
        entry_timeout_s: float = DEFAULT_ENTRY_TIMEOUT_S,
        max_tasks_per_worker: int = 25,
        command: Sequence[str] | None = None,
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        self.description = f"{jobs} local worker{'s' if jobs > 1 else ''}"
        self.slots = [WorkerSlot(entry_timeout_s, max_tasks_per_worker, command) for _ in range(jobs)]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def run(self, tasks: Sequence[str]) -> Iterator[str]:
        pending: queue.Queue[str] = queue.Queue()
        for task in tasks:
            pending.put(task)
        done: queue.Queue[str] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._serve, args=(slot, pending, done), daemon=True, name=f"grading-{i}")
            for i, slot in enumerate(self.slots[: max(1, min(self.jobs, len(tasks)))])
        ]
        for thread in self._threads:
            thread.start()
        for _ in tasks:
            yield done.get()

    def _serve(self, slot: WorkerSlot, pending: queue.Queue[str], done: queue.Queue[str]) -> None:
        while not self._stopping.is_set():
            try:
                task = pending.get_nowait()
            except queue.Empty:
                return
            try:
                done.put(slot.run(task))
            except Exception as exc:  # a bug of ours must still not lose the other entries
                done.put(failure_json(_entry_of(task), f"internal batch error: {exc!r}"))

    def close(self) -> None:
        self._stopping.set()
        for slot in self.slots:
            slot.close()
        for thread in self._threads:
            thread.join(timeout=30)


# ------------------------------------------------------------------ Dask
_dask_slots = threading.local()
_all_dask_slots: list[WorkerSlot] = []
_dask_lock = threading.Lock()


def _close_dask_slots() -> None:
    with _dask_lock:
        for slot in _all_dask_slots:
            slot.close()
        _all_dask_slots.clear()


def grade_on_dask_worker(task: str, entry_timeout_s: float) -> str:
    """The function a Dask worker runs per task: grade it in this thread's grading worker subprocess."""
    slot: WorkerSlot | None = getattr(_dask_slots, "slot", None)
    if slot is None:
        slot = WorkerSlot(entry_timeout_s)
        _dask_slots.slot = slot
        with _dask_lock:
            if not _all_dask_slots:
                atexit.register(_close_dask_slots)
            _all_dask_slots.append(slot)
    slot.entry_timeout_s = entry_timeout_s
    return slot.run(task)


class DaskExecutor(_Closing):
    """Tasks on a ``distributed`` cluster, reached at ``address`` (``tcp://HOST:PORT``)."""

    def __init__(
        self, address: str, entry_timeout_s: float = DEFAULT_ENTRY_TIMEOUT_S, connect_timeout_s: float = 30.0
    ) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError(
                "--scheduler needs dask.distributed: pip install 'nngrade[cluster]'"
            ) from None
        self.entry_timeout_s = entry_timeout_s
        self.description = f"Dask scheduler {address}"
        try:
            self.client = Client(address, timeout=connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {exc}") from None

    def run(self, tasks: Sequence[str]) -> Iterator[str]:
        from distributed import as_completed

        batch = secrets.token_hex(6)
        entries = {}
        futures = []
        for index, task in enumerate(tasks):
            future = self.client.submit(
                grade_on_dask_worker, task, self.entry_timeout_s, key=f"nngrade-{batch}-{index}", pure=False
            )
            entries[future.key] = _entry_of(task)
            futures.append(future)
        for future in as_completed(futures, loop=self.client.loop):
            entry = entries[future.key]
            try:
                result = future.result()
            except Exception as exc:  # a lost worker (KilledWorker), a cancelled task...
                result = failure_json(entry, f"the Dask task failed: {exc!r}")
            future.release()
            yield result if isinstance(result, str) else failure_json(entry, "the Dask task returned no text")

    def close(self) -> None:
        self.client.close()
