"""A grading session's sandbox: a staged submission, and a fresh worker for every function.

A session has one or more lanes (:class:`Lane`): each grades one function at a time in a worker of its own,
so that two functions can be graded at once (one lane's worker runs student code while the grader judges the
other's replies). The lanes share the fork server, the launcher thread and the report's counts.

Every worker gets a fresh copy of the staged sources, loads the assignment's modules, and answers ``run``
requests. Each function is graded by a worker of its own (and a call that crashes, times out or leaves its worker
changed is followed by a new one), so whatever a student's code does to its process (patched NumPy, threads left
running, a disarmed import gate) costs at most that function. To keep that cheap, the next worker is launched
while the current one works: by the time a function ends, its successor has started and loaded the modules.

The parent keeps the cases' expected outputs; the worker only ever sees inputs. Replies are read through the
schema checks of :mod:`graders.sandbox.replies`, with a size limit per call derived from the size of a right
answer. The layers are planned once (layers.plan); the report's ``sandbox`` entry lists those every worker
confirmed.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graders.isolation import owned_prefix, private_folder
from graders.sandbox import layers, privileges, replies
from graders.sandbox.process import ForkedWorker, ForkServer, Limits, Worker, WorkerCrashed, WorkerTimeout
from graders.sandbox.template import Tree
from graders.sandbox.wire import Blob, WireError, decode_reply_value, encode_value
from graders.specs.base import Case
from graders.specs.program import Program, to_json
from graders.submission import Staged

SUPPORT_DIR = Path(__file__).with_name("support")
#: Set to "0" to start every worker on its own instead of forking it (for comparisons and diagnosis).
FORK_SERVER_VARIABLE = "NNGRADE_FORK_SERVER"
SUPPORT_MODULES = {"nngrade_support": "nngrade_support"}
#: A batch's program is compared with this many of the last distinct ones before it is sent again.
PROGRAMS_COMPARED = 4


@dataclass
class RunReply:
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    inputs_after: dict[str, Any]
    student_s: float
    forbidden: list[str]
    tainted: list[str] = field(default_factory=list)
    #: missing packages the call imported (each got a stand-in module)
    stand_ins: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Call:
    """One program to run in a batch (SandboxSession.run_programs), with what sizes and checks its reply."""

    program: Program
    case: Case
    expected: dict[str, Any] | None = None
    return_inputs: tuple[str, ...] = ()


@dataclass
class LoadReport:
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    forbidden: list[str] = field(default_factory=list)
    output: str = ""
    #: missing packages the modules imported (each got a stand-in module)
    stand_ins: list[str] = field(default_factory=list)

    def names(self, key: str) -> set[str]:
        info = self.modules.get(key, {})
        return set(info.get("names", [])) if info.get("ok") else set()


class SandboxSession:
    def __init__(self, staged: Staged, forbidden: list[str], python: str | None = None,
                 limits: Limits | None = None, hide_paths: list[str] | None = None, mode: str = "default",
                 stand_in_always: list[str] | None = None, lanes: int = 1) -> None:
        self.staged = staged
        self.forbidden = forbidden
        #: packages replaced by stand-ins even where installed (the assignment's ``[worker] stand_ins``)
        self.stand_in_always = list(stand_in_always or [])
        self.python = python
        self.limits = limits or Limits()
        self.hide_paths = hide_paths or []
        self.plan = layers.plan(python, mode)
        #: what the worker may not import, made unreadable from outside it (see layers.hidden_paths)
        self.hidden = layers.hidden_paths(self.plan, [*layers.GRADER_PACKAGES, *forbidden])
        self.home = private_folder("nngrade-worker-")
        self.runs = self._runs_folder()
        #: launches every lane's next worker (copying its folder, forking it, queueing its ``load``), one at a
        #: time: the fork server answers one request at a time
        self.launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nngrade-launcher")
        #: workers that ran a call of the submission's (the report's ``worker_starts``: a spare never used, or a
        #: worker that only loaded modules nothing could be called from, is not counted, so the count is the
        #: same however many lanes there are)
        self.starts = 0
        self._launched = 0  # workers launched, spares included (numbers their folders)
        self._runs_real: Path | None = None  # the runs folder's real path (see _load_request)
        #: the staged submission and the support modules, listed once (graders/sandbox/template.py)
        self._trees: tuple[Tree, Tree] | None = None
        self._expected = 1 << 30  # workers expected in all (see expect)
        self._replaced = 0  # workers launched on demand beyond those
        self._ahead: collections.deque[Future[tuple[Worker, int]]] = collections.deque()  # see take_spare
        self._lock = threading.Lock()  # the counts and reports lanes update from their grading threads
        self.load_report = LoadReport()
        self.active: list[str] | None = None  # layers every worker so far confirmed
        #: stops workers that finished their function normally, off the grading thread
        self.reaper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nngrade-reaper")
        #: forks each function's worker where Landlock and seccomp both exist (None: started one by one)
        self.server: ForkServer | None = None
        self._booting: ForkServer | None = None  # spawned by the first launch_ahead, its hello not read yet
        self.use_server = self.plan.landlock and self.plan.seccomp and os.environ.get(FORK_SERVER_VARIABLE) != "0"
        self.server_error = ""  # why the fork server could not be used, if it could not
        self.refusals: dict[str, str] = {}  # layer -> why a worker could not apply it
        #: the lines of workers functions are graded in; one per function graded at the same time
        self.lanes = [Lane(self) for _ in range(max(1, lanes))]

    def _runs_folder(self) -> Path:
        """Where the workers' folders go: the session's home, unless the worker's uid cannot walk down to it
        (e.g. under pytest's 0700 temporary root), in which case a private folder under /tmp (0711: reachable,
        not listable). The workers' command lines name the home either way."""
        if not self.plan.uid:
            return self.home
        os.chmod(self.home, 0o711)
        if privileges.reachable_by_others(self.home):
            return self.home
        base = privileges.reachable_base()
        if base is not None:
            folder = Path(tempfile.mkdtemp(prefix=owned_prefix("nngrade-worker-"), dir=base))
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
        entry = layers.describe(self.plan, active, self.starts, self.refusals)
        entry["hidden_packages"] = len(self.hidden)
        entry["fork_server"] = self.server is not None
        return entry

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()
        while self._ahead:
            stop_launched(self._ahead.popleft())
        self.launcher.shutdown(wait=True)
        self.reaper.shutdown(wait=True)  # every worker stopped, every process swept, before folders go
        for server in (self.server, self._booting):
            if server is not None:
                server.stop()
        self.server = self._booting = None
        shutil.rmtree(self.home, ignore_errors=True)
        if self.runs != self.home:
            shutil.rmtree(self.runs, ignore_errors=True)

    def count_start(self) -> None:
        with self._lock:
            self.starts += 1

    def expect(self, workers: int) -> None:
        """How many workers the grading is expected to take (one per function): workers are launched ahead
        only up to that many, so that no worker is started only to be stopped unused. More are launched on
        demand (a worker replaced after a crash, a timeout or a changed process)."""
        self._expected = workers

    def launch_ahead(self) -> None:
        """Queue launches until one worker per lane is on its way besides each lane's own spare: a lane rarely
        waits for its next worker, even when both lanes finish a function at about the same time. The first
        call also spawns the fork server, here on the calling thread: started from the launcher thread, its
        process creation waited for the interpreter lock while the grader scanned imports and read the bank,
        and every function waits for that server."""
        if self.use_server and self.server is None and self._booting is None and self._launched == 0:
            try:
                self._booting = self._spawn_server()
            except (WorkerCrashed, WorkerTimeout, OSError) as exc:
                self.use_server = False
                self.server_error = str(exc)
        with self._lock:
            while len(self._ahead) < len(self.lanes) and self._launched - self._replaced < self._expected:
                self._queue_launch()

    def _queue_launch(self) -> None:
        self._launched += 1
        self._ahead.append(self.launcher.submit(self._launch, self._launched))

    def take_spare(self, ahead: bool = False) -> Future[tuple[Worker, int]] | None:
        """The oldest worker launched ahead, its replacement queued. ``ahead``: for a function still to come,
        None when no more are expected; otherwise (a worker needed now) one is launched if none is queued."""
        self.launch_ahead()
        with self._lock:
            if not self._ahead:
                if ahead:
                    return None
                self._queue_launch()
                self._replaced += 1  # a worker beyond the expected ones
            spare = self._ahead.popleft()
        self.launch_ahead()
        return spare

    def confirm_layers(self, worker: Worker) -> None:
        """Record the layers a launched worker applied; raise SandboxUnavailable where strict mode's are
        missing."""
        with self._lock:
            self.active = [n for n in worker.layers if self.active is None or n in self.active]
            for name, outcome in worker.hello["layers"].items():
                if outcome is not True:
                    self.refusals[str(name)] = f"the worker could not apply it: {outcome}"
            missing = {**self.plan.missing, **self.refusals}
        layers.refuse(dataclasses.replace(self.plan, missing=missing), worker.layers)

    def _launch(self, number: int) -> tuple[Worker, int]:
        server = self._fork_server()
        workdir = (self.runs / "children" if server else self.runs) / f"run{number}"
        if self._trees is None:  # no fork server (it lists them while it starts): read once, here
            self._trees = self._listed(bytecode=False)
        workdir.mkdir(mode=0o755)
        os.chmod(workdir, 0o755)  # readable by the worker's uid whatever the umask (the copies below are too)
        self._trees[0].write(workdir / "submission")
        self._trees[1].write(workdir / "support")
        label = str(self.home / workdir.name)
        worker = ForkedWorker(server, workdir, label) if server else Worker(
            workdir, self.python, self.limits, plan=self.plan, label=label, hidden=self.hidden)
        try:
            worker.launch()
            return worker, worker.send(self._load_request(workdir), [], self.limits.start_timeout_s)
        except BaseException:
            worker.stop()
            raise

    def _listed(self, bytecode: bool) -> tuple[Tree, Tree]:
        """The staged submission and the support modules, listed once for every worker's copy; with their
        bytecode compiled (see Tree.add_bytecode) for a worker of this interpreter's version."""
        trees = (Tree.read(self.staged.root), Tree.read(SUPPORT_DIR, frozenset({"__pycache__"})))
        if bytecode:
            for tree in trees:
                tree.add_bytecode()
        return trees

    def _load_request(self, workdir: Path) -> dict[str, Any]:
        root = workdir / "submission"
        # The copy holds no links (template.Tree writes folders and files only): its real path is the runs
        # folder's, resolved once, and the same steps down.
        if self._runs_real is None:
            self._runs_real = self.runs.resolve()
        real = self._runs_real / root.relative_to(self.runs)
        return {
            "op": "load",
            "sys_path": [os.path.normpath(real / p) for p in self.staged.sys_path] + [str(workdir / "support")],
            "modules": self.requested_modules(),
            "forbidden": self.forbidden,
            "hide_paths": self.hide_paths,
            "relative_to": [str(real), str(root)],
            "stand_in_always": self.stand_in_always,
        }

    def _fork_server(self) -> ForkServer | None:
        """The session's fork server, started on first use; None where it cannot be (then each worker starts
        on its own: the grading is the same, only slower)."""
        if self.server is not None and self.server.alive:
            return self.server
        if not self.use_server:
            return None
        if self.server is not None:
            self.server.stop()
        server, self._booting = self._booting, None
        try:
            server = server or self._spawn_server()
            if self._trees is None:  # while the server's interpreter starts (a tenth of a second)
                self._trees = self._listed(bytecode=True)
            server.finish_launch()
            if server.hello["layers"].get("landlock") is not True:
                raise WorkerCrashed("the fork server could not confine itself")
        except (WorkerCrashed, WorkerTimeout, OSError) as exc:
            if server is not None:
                server.stop()
            self.use_server = False
            self.server_error = str(exc)
            return None
        if not same_minor_version(str(server.hello.get("python", ""))):
            for tree in self._trees or ():  # the worker's interpreter would ignore this bytecode: not copied
                tree.drop_bytecode()
        if self.plan.uid and server.lease is not None:
            os.chown(self.runs / "children", server.lease.uid, server.lease.uid)
        self.server = server
        return server

    def _spawn_server(self) -> ForkServer:
        """Start a fork server's process (its hello is read by _fork_server)."""
        home = self.runs / "server"
        children = self.runs / "children"
        home.mkdir(exist_ok=True)
        children.mkdir(exist_ok=True)
        if self.plan.uid:
            os.chmod(children, 0o755)
        server = ForkServer(home, children, self.python, self.limits, plan=self.plan,
                            label=str(self.home / "server"), hidden=self.hidden)
        try:
            server.launch()
        except BaseException:
            server.stop()
            raise
        return server

    def requested_modules(self) -> dict[str, str]:
        return {**{key: m.dotted for key, m in self.staged.modules.items()}, **SUPPORT_MODULES}

    @staticmethod
    def reply_limit(case: Case, return_inputs: tuple[str, ...], expected: dict[str, Any] | None) -> int | None:
        """Bytes a reply to this case may carry: four times a right answer (the outputs and the inputs sent
        back), plus 1 MiB for small values; None (the worker's global limit) when the answer's size is unknown."""
        if expected is None:
            return None
        size = _nbytes(expected) + sum(_nbytes(case.get(name)) for name in return_inputs)
        return 4 * size + (1 << 20)


class Lane:
    """One line of workers in a session: the worker grading the current function, and the spare being
    launched for the next one. Functions graded at the same time each have a lane of their own; the fork server,
    the launcher and the report's counts are the session's."""

    def __init__(self, session: SandboxSession) -> None:
        self.session = session
        self.limits = session.limits
        self.worker: Worker | None = None
        #: the next worker, being launched on the session's launcher thread: it and the sequence number of its
        #: ``load`` request (hello and load sent, replies not read yet)
        self.spare: Future[tuple[Worker, int]] | None = None
        self.used = False  # the current worker has run a student call
        self.load_report = LoadReport()  # what loading the modules said in this lane's current worker

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.spare is not None:
            stop_launched(self.spare)
        self.worker = self.spare = None

    # -------------------------------------------------------------- worker lifecycle
    def begin_function(self) -> Worker:
        """A worker that has run no student call yet, for the next function. Its predecessor, which finished
        normally, is stopped in the background (asking it to leave, then sweeping its processes takes longer
        than the next function needs to start); close() waits for every such stop."""
        if self.used and self.worker is not None:
            retired, self.worker = self.worker, None
            self.session.reaper.submit(retire, retired)
        return self.ensure_worker()

    def ensure_worker(self) -> Worker:
        """The current worker, or a fresh one (the spare launched earlier, if any) with the modules loaded."""
        if self.worker is not None and self.worker.alive:
            return self.worker
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        launched = self.spare or self.session.take_spare()
        assert launched is not None
        self.spare = None
        worker, load_seq = launched.result()
        self.worker = worker
        self.used = False
        self._adopt(worker, load_seq)
        # the next function's worker, launched while this one works (copying its folder, forking it, queueing
        # its ``load`` take milliseconds the grading thread need not wait for; the replies are read when needed)
        self.spare = self.session.take_spare(ahead=True)
        return worker

    def _adopt(self, worker: Worker, load_seq: int) -> None:
        """Read a launched worker's hello and load replies; refuse it if strict mode's layers are missing."""
        try:
            worker.finish_launch()
        except WorkerCrashed:
            self.worker = None
            raise
        try:
            self.session.confirm_layers(worker)
        except layers.SandboxUnavailable:
            self.discard_worker()
            raise
        raw, _ = worker.receive(load_seq, self.limits.start_timeout_s)
        loaded = worker.checked(lambda r: replies.load(r, self.session.requested_modules()), raw)
        self.load_report = self.session.load_report = LoadReport(
            loaded["modules"], loaded["forbidden"], worker.output(), loaded["stand_ins"])

    def _mark_used(self) -> None:
        if not self.used:
            self.used = True
            self.session.count_start()

    def discard_worker(self) -> str:
        """Stop the current worker (after a timeout or crash, or when its function is done) and return what it
        printed."""
        if self.worker is None:
            return ""
        text = self.worker.output()
        retire(self.worker)
        self.worker = None
        return text

    # -------------------------------------------------------------- runs
    def run_program(self, program: Program, case: Case, expected: dict[str, Any] | None = None,
                    return_inputs: tuple[str, ...] = (), timeout: float | None = None) -> RunReply:
        """Run ``program`` on ``case`` in the current worker. ``expected`` (the reference's outputs) sizes the
        reply limit: a right answer is about as large, so a reply many times larger is refused before it is
        read. ``return_inputs`` are sent back after the calls (to see whether the student changed them)."""
        worker = self.ensure_worker()
        self._mark_used()
        blobs: list[bytes] = []
        request = {
            "op": "run",
            "program": to_json(program),
            "inputs": encode_value(case, blobs)["__dict__"],
            "return_inputs": list(return_inputs),
        }
        limit = SandboxSession.reply_limit(case, return_inputs, expected)
        reply, reply_blobs = worker.request(request, blobs, timeout, reply_limit=limit)
        return self._parsed(reply, reply_blobs)

    def run_programs(self, calls: list[Call], timeout: float | None = None, deadline: float | None = None
                     ) -> Iterator[RunReply]:
        """Run several programs in one request, yielding each reply as its call ends (the per-call time limit
        ``timeout`` applies to each, and none may run past ``deadline``, a time.monotonic() value: the
        submission's budget). A call that leaves its worker changed ends the request there: the rest run in a
        fresh worker. A timeout or crash raises at the call it happened on."""
        if not calls:
            return
        worker = self.ensure_worker()
        self._mark_used()
        blobs: list[bytes] = []
        programs: list[Any] = []  # each distinct program once (the calls of a batch mostly share one)
        request = {"op": "run_many", "programs": programs, "calls": [
            {"program": _numbered(programs, to_json(c.program)), "inputs": encode_value(c.case, blobs)["__dict__"],
             "return_inputs": list(c.return_inputs)} for c in calls]}
        seq = worker.send(request, blobs, timeout)
        try:
            for index, call in enumerate(calls):
                limit = SandboxSession.reply_limit(call.case, call.return_inputs, call.expected)
                wait = timeout if timeout is not None else self.limits.call_timeout_s
                if deadline is not None:
                    wait = max(0.05, min(wait, deadline - time.monotonic()))
                raw, raw_blobs = worker.receive(seq, wait, limit, last=index == len(calls) - 1)
                if raw.get("index") != index:
                    self.discard_worker()
                    raise WorkerCrashed(f"the worker sent a malformed reply (reply {str(raw.get('index'))[:20]} "
                                        f"where {index} was due)")
                reply = self._parsed(raw, raw_blobs)
                yield reply
                if reply.tainted:  # _parsed discarded the worker: the rest in a fresh one
                    yield from self.run_programs(calls[index + 1:], timeout, deadline)
                    return
        except GeneratorExit:  # the caller stopped reading: replies are still on their way, never mix them up
            if self.worker is worker:
                self.discard_worker()
            raise

    def _parsed(self, reply: dict[str, Any], reply_blobs: list[Blob]) -> RunReply:
        try:
            fields = replies.run(reply)
            cap = self.limits.max_reply_bytes
            raw = fields["outputs"]
            outputs = None if raw is None else {str(k)[:200]: decode_reply_value(v, reply_blobs, cap)
                                                for k, v in raw.items()}
            after = decode_reply_value(fields["inputs_after"], reply_blobs, cap) if fields["inputs_after"] else {}
        except (WireError, ValueError, RecursionError) as exc:
            self.discard_worker()
            raise WorkerCrashed(f"the worker sent a malformed reply ({exc})") from None
        if fields["tainted"]:  # the next call gets a clean worker; this call's values stand
            self.discard_worker()
        return RunReply(outputs, fields["error"], after if isinstance(after, dict) else {}, fields["student_s"],
                        fields["forbidden"], fields["tainted"], fields["stand_ins"])


def _numbered(programs: list[Any], program: Any) -> int:
    """The index of ``program`` (JSON) in ``programs``, appended unless one of the last few is equal."""
    recent = programs[-PROGRAMS_COMPARED:]
    if program in recent:
        return len(programs) - len(recent) + recent.index(program)
    programs.append(program)
    return len(programs) - 1


def _nbytes(value: Any) -> int:
    """Bytes of the arrays in a (nested) value, as float64."""
    if isinstance(value, np.ndarray):
        return int(value.size) * max(8, value.dtype.itemsize)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    return 16


def same_minor_version(version: str) -> bool:
    """The worker interpreter's version (its hello's ``python``) is this interpreter's major.minor: the same
    bytecode format and ``.pyc`` cache tag."""
    return version.split(".")[:2] == [str(sys.version_info.major), str(sys.version_info.minor)]


def stop_launched(launched: Future[tuple[Worker, int]]) -> None:
    """Stop a worker launched ahead and never used (a launch that failed has nothing left to stop)."""
    with contextlib.suppress(Exception):
        launched.result()[0].stop()


def retire(worker: Worker) -> None:
    """Stop a worker for good and remove its folder at once (a worker that filled its disk allowance must not
    keep the disk full until the whole submission is graded)."""
    worker.stop()
    shutil.rmtree(worker.workdir, ignore_errors=True)
