"""The parent's handle on one sandbox worker process.

Layer 0 of the isolation (standard library only): a separate interpreter started with ``-I`` in its own
session, an empty environment, a private working directory holding a fresh copy of the submission (the only
place besides its temporary folder where it may write: the book's MNIST loader caches a pickle beside itself;
the copy is discarded with the worker), resource
limits (memory, file size, open files, CPU, processes), wall-clock and CPU limits on every request, stdout and
stderr drained into a capped buffer (a flood past ``output_bytes`` kills the worker), a reply that must come
alone, and clean-up that kills every process of the worker until none is left.

The other layers (layers.py) are applied here when the plan has them: the worker's own uid (privileges.py),
bubblewrap around it (bwrap.py), and Landlock and seccomp, which the worker applies to itself when it says
hello, before any student code is imported.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import resource
import secrets
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.sandbox import bwrap, layers, privileges, replies
from graders.sandbox.wire import HEADER, Blob, WireError, frame, frame_parts, uninitialised

HERE = Path(__file__).parent
WORKER_SCRIPT = HERE / "worker_main.py"
#: Files copied beside the worker script: it imports them to confine itself and to read and write arrays (nothing
#: else of nngrade).
WORKER_FILES = ("worker_main.py", "landlock.py", "seccomp_rules.py", "npy.py")
#: Read-only paths every worker needs besides its interpreter's folders: shared libraries NumPy's extension
#: modules load lazily, and the devices Python may open.
SYSTEM_READ = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/etc/ld.so.cache", "/etc/alternatives",
               "/dev/urandom", "/dev/zero")
POLL_S = 0.25
#: The worker's disk use is measured after the last reply to each request and after every this many replies of
#: a ``run_many`` request (walking its folders after each of a thousand replies cost a tenth of a grading run;
#: while a call runs it is measured every POLL_S as well). A count, not a clock: the same submission is stopped
#: at the same call every time.
DISK_CHECK_EVERY = 8
#: A package folder mounted (bubblewrap) over each hidden package: importing it raises ImportError.
BLOCKER_DIR = "blocked-package"
BLOCKER_SOURCE = ('raise ImportError(f"{__name__} is not available to student code here (the assignment does not '
                  'allow it, or it is part of the grader)")\n')
#: Replies to earlier requests skipped before a request's own (student code can write a forged frame to the
#: reply pipe; the genuine reply it preceded then arrives late and is recognised by its sequence number).
MAX_STALE_REPLIES = 4


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
    #: CPU seconds one request may use (all threads together); None: the same as ``call_timeout_s``
    call_cpu_s: float | None = None
    #: bytes of stdout/stderr a worker may print in all before it is killed (the log keeps ``log_bytes``)
    output_bytes: int = 64 << 20
    #: processes and threads of a worker's uid (RLIMIT_NPROC; only enforceable when the worker has its own uid)
    processes: int = 64
    #: bytes of disk the worker may add to its writable folders (its temporary folder and submission copy),
    #: measured by the parent while it waits and after every reply; past it the worker is stopped
    disk_bytes: int = 256 << 20
    #: files and folders the worker may add to its writable folders
    disk_files: int = 2000
    #: bytes of a reply's JSON header (arrays travel as blobs, so a real header is small)
    max_header_bytes: int = 16 << 20


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/PID/stat; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[-1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: Pieces one writev may gather (Linux's IOV_MAX is 1024).
MAX_WRITE_PARTS = 1000
#: Bytes a request or reply pipe holds (Linux's default is 64 KiB; 1 MiB is what an unprivileged process may ask
#: for by default, /proc/sys/fs/pipe-max-size).
PIPE_BYTES = 1 << 20


def widen_pipe(fd: int) -> None:
    """Let the pipe hold a whole typical frame: a reply of a few hundred KiB then goes in one write and comes
    out in one read, where a 64 KiB pipe made the worker and the grader wake each other for every 64 KiB. The
    worker script does the same for the pipes of the workers a fork server starts."""
    with contextlib.suppress(OSError, AttributeError):  # an older kernel, or a limit set lower: the default
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def cpu_wait_seconds(pid: int) -> float | None:
    """Time the process's main thread has spent runnable but waiting for a CPU (Linux /proc/PID/schedstat:
    the scheduler's run delay); None where the kernel does not report it."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as handle:
            return int(handle.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def describe_exit(code: int) -> str:
    """A worker's exit status (negative: the signal that killed it) in words, with the likely cause."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {"SIGKILL": " (killed: memory limit or out of memory?)", "SIGXCPU": " (CPU time limit)",
                "SIGXFSZ": " (file size limit)", "SIGSEGV": " (segmentation fault)"}.get(name, "")
        return f"the worker was killed by {name}{hint}"
    return f"the worker exited with status {code}"


#: How long a forked worker's parent waits for the fork server to report the worker's exit status.
STATUS_WAIT_S = 2.0


class WorkerTimeout(Exception):
    """The worker did not answer within the wall-clock or CPU limit (it has been killed)."""


class WorkerCrashed(Exception):
    """The worker died or broke the protocol (it has been killed)."""


class DiskLimitExceeded(WorkerCrashed):
    """The worker wrote more to its folders than ``Limits.disk_bytes`` / ``disk_files`` (it has been killed)."""


def disk_usage(folders: list[Path], stop_after: int) -> tuple[int, int]:
    """(bytes allocated, entries) beneath ``folders``, links not followed; counting stops after ``stop_after``
    entries so that a folder a worker filled with a million files costs the parent little to measure."""
    used = entries = 0
    stack = [str(f) for f in folders]
    while stack and entries <= stop_after:
        try:
            with os.scandir(stack.pop()) as listing:
                for entry in listing:
                    entries += 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    used += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return used, entries


def _apply_limits(limits: Limits, uid: int | None) -> None:
    """Runs in the child before exec: its own resource limits (inherited by anything it starts)."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if uid is not None:
        privileges.drop_to(uid, limits.processes)  # sets the parent-death signal after the uid change
    else:
        privileges.die_with_parent()


def _give(folder: Path, uid: int) -> None:
    """Hand a folder of the worker's (its temporary folder, its fresh copy of the submission) to its uid."""
    os.chown(folder, uid, uid)
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


class OutputDrain(threading.Thread):
    """Reads the worker's stdout/stderr so a print flood never blocks it; keeps only the first bytes, and
    calls ``on_flood`` once when the total passes ``limit``."""

    def __init__(self, fd: int, cap: int, limit: int | None = None,
                 on_flood: Callable[[], None] | None = None) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.cap = cap
        self.limit = limit
        self.on_flood = on_flood
        self.kept = bytearray()
        self.dropped = 0
        self.flooded = False

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
            if (self.limit is not None and not self.flooded
                    and len(self.kept) + self.dropped > self.limit):
                self.flooded = True
                if self.on_flood is not None:
                    self.on_flood()
        os.close(self.fd)

    def text(self) -> str:
        tail = f"\n[... {self.dropped} more bytes of output dropped]" if self.dropped else ""
        return self.kept.decode("utf-8", "replace") + tail


class Worker:
    """One worker process serving requests until it is stopped, times out or crashes.

    Starting is split in two so that a session can start the next worker while it grades with this one:
    :meth:`launch` spawns the process and sends its ``hello`` (the interpreter starts and imports NumPy on its
    own), :meth:`finish_launch` reads the reply. :meth:`start` does both.
    """

    def __init__(self, workdir: Path, python: str | None = None, limits: Limits | None = None,
                 plan: layers.Plan | None = None, label: str | None = None, hidden: Sequence[str] = ()) -> None:
        self.workdir = workdir
        self.plan = plan or layers.plan(python)
        self.python = self.plan.python
        self.limits = limits or Limits()
        self.label = label or str(workdir)
        #: paths of packages the worker must not import (forbidden libraries, the grader's own packages):
        #: unreadable under Landlock, replaced by a package that refuses to import under bubblewrap
        self.hidden = list(hidden)
        self.process: subprocess.Popen[bytes] | None = None
        self.drain: OutputDrain | None = None
        self._to_worker = -1
        self._from_worker = -1
        self._nonblocking = -1  # the request pipe end made non-blocking (see _write_all)
        self.token = secrets.token_hex(16)
        self.lease: privileges.UidLease | None = None
        self.pid: int | None = None  # the interpreter's pid (under bwrap, not the Popen's)
        self.layers: list[str] = []
        self.hello: dict[str, Any] = {}
        self._seq = 0
        self._hello_seq = 0
        self._deadline = 0.0
        self._cpu_limit = 0.0
        self._cpu_base: float | None = None
        self._waited: float | None = None  # the worker's CPU wait at the last poll (see _credit_cpu_wait)
        self._credit = 0.0
        self._writable: list[Path] = []
        self._disk_base = (0, 0)
        self._replies_unchecked = 0  # replies read since the disk use was last measured

    # -------------------------------------------------------------- lifecycle
    def start(self) -> dict[str, Any]:
        self.launch()
        return self.finish_launch()

    def launch(self) -> None:
        """Spawn the worker and send its ``hello``; does not wait for the reply."""
        plan = self.plan
        for name in WORKER_FILES:
            shutil.copyfile(HERE / name, self.workdir / name)
        blocker = self.workdir / BLOCKER_DIR
        blocker.mkdir(exist_ok=True)
        (blocker / "__init__.py").write_text(BLOCKER_SOURCE)
        tmp = self.workdir / "tmp"
        tmp.mkdir(mode=0o700, exist_ok=True)
        self._writable = self.writable_folders(tmp)
        if plan.uid:
            os.chmod(self.workdir, 0o755)
            os.chmod(blocker, 0o755)
            os.chmod(blocker / "__init__.py", 0o644)
            if not privileges.reachable_by_others(self.workdir):
                raise WorkerCrashed(f"{self.workdir} is not reachable by the worker's uid (a folder above it "
                                    "is not o+x): SandboxSession chooses a reachable one")
            self.lease = privileges.lease_uid()
            for folder in self._writable:
                _give(folder, self.lease.uid)
        self._disk_base = disk_usage(self.quota_folders(), 1 << 30)
        uid = self.lease.uid if self.lease else None
        script = str(self.workdir / "worker_main.py")
        fds, pass_fds, child_ends = self.open_channel()
        out_read, out_write = os.pipe()
        env = {
            TOKEN_VARIABLE: self.token,
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp),
            "TMPDIR": str(tmp),
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        args_read = -1
        if plan.bwrap:
            args_read, args_write = os.pipe()
            options = bwrap.options([*plan.read_paths], self.workdir, self._writable,
                                    hidden=self.hidden, blocker=blocker)
            os.write(args_write, b"".join(a.encode() + b"\0" for a in options))
            os.close(args_write)
            pass_fds.append(args_read)
            argv = bwrap.command(plan.bwrap, args_read, self.python, fds)
            env[bwrap.SCRIPT_VARIABLE] = script
            env[bwrap.LABEL_VARIABLE] = self.label
        else:
            argv = [self.python, "-I", "-B", "-u", script, *fds, self.label]
        limits = self.limits
        try:
            self.process = subprocess.Popen(
                argv,
                cwd=self.working_folder(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out_write,
                stderr=out_write,
                pass_fds=pass_fds,
                start_new_session=True,
                preexec_fn=lambda: _apply_limits(limits, uid),
            )
        except BaseException:
            os.close(out_read)
            self._close_channel()
            if self.lease is not None:
                self.lease.release()
                self.lease = None
            raise
        finally:
            for fd in (*child_ends, out_write, args_read):
                if fd >= 0:
                    os.close(fd)
        self.pid = self.process.pid
        self.drain = OutputDrain(out_read, limits.log_bytes, limits.output_bytes, self._kill_now)
        self.drain.start()
        self._hello_seq = self.send({"op": "hello", "confine": self.confinement(tmp)}, [], limits.start_timeout_s)

    def writable_folders(self, tmp: Path) -> list[Path]:
        """The folders the worker may write: its temporary folder and its copy of the submission."""
        return [tmp, self.workdir / "submission"]

    def working_folder(self) -> Path:
        return self.workdir / "submission"

    def open_channel(self) -> tuple[list[str], list[int], list[int]]:
        """Two pipes, requests in and replies out: (the fd numbers for the worker's command line, the fds it
        inherits, the child's ends to close here once it runs)."""
        child_in, self._to_worker = os.pipe()
        self._from_worker, child_out = os.pipe()
        widen_pipe(child_in)
        widen_pipe(child_out)
        return [str(child_in), str(child_out)], [child_in, child_out], [child_in, child_out]

    def _close_channel(self) -> None:
        for fd in {self._to_worker, self._from_worker}:
            with contextlib.suppress(OSError):
                if fd >= 0:
                    os.close(fd)
        self._to_worker = self._from_worker = -1

    def confinement(self, tmp: Path) -> dict[str, Any]:
        """What the worker applies to itself in ``hello``: Landlock's paths and seccomp."""
        plan = self.plan
        return {
            "landlock": plan.landlock,
            "seccomp": plan.seccomp,
            "read": [*plan.read_paths, *SYSTEM_READ, str(self.workdir)],
            "write": [*(str(f) for f in self._writable), "/dev/null"],
            "hide": self.hidden,
        }

    def finish_launch(self) -> dict[str, Any]:
        """Read the ``hello`` reply: which layers the worker applied to itself."""
        plan = self.plan
        raw, _ = self.receive(self._hello_seq, self.limits.start_timeout_s)
        reply = self.checked(replies.hello, raw)
        self.hello = reply
        applied = reply["layers"]
        self.layers = [*layers.BASE_LAYERS, *(n for n in ("landlock", "seccomp") if applied.get(n) is True)]
        if plan.uid:
            self.layers.append("uid")
        if plan.bwrap:
            self.layers.append("bwrap")
            self.pid = self._interpreter_pid()
        return reply

    def checked(self, parse: Callable[[Any], Any], raw: Any) -> Any:
        """``parse(raw)`` (a schema check of a reply, graders.sandbox.replies); a reply that fails it stops the
        worker and raises WorkerCrashed."""
        try:
            return parse(raw)
        except WireError as exc:
            self.stop()
            raise WorkerCrashed(f"the worker sent a malformed reply ({exc})") from None

    def _interpreter_pid(self) -> int | None:
        """Under bwrap the Popen is bwrap's monitor: find the interpreter among the worker's processes."""
        for pid in self._members():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(argv) > 4 and argv[4].endswith(b"worker_main.py"):
                return pid
        return None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.drain.text() if self.drain else ""

    def stop(self) -> None:
        """Ask politely, then kill every process of the worker until none of it is left."""
        if self.process is None:
            return
        if self.alive:
            try:
                os.write(self._to_worker, frame({"op": "bye"}, []))
                self.process.wait(timeout=1.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill_group()
        self._close_channel()
        if self.drain is not None:
            self.drain.join(timeout=2.0)
        if self.lease is not None:
            self.lease.release()
            self.lease = None
        self.process = None

    def _kill_now(self) -> None:
        """SIGKILL the worker's process group at once (from the output drain, on a flood)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def _members(self) -> list[int]:
        """Every live process of this worker: by uid when it has its own (a process cannot shed its uid),
        else by the token in its initial environment."""
        if self.lease is not None:
            return privileges.processes_of(self.lease.uid)
        return processes_with_token(self.token)

    def _kill_group(self) -> None:
        """SIGKILL the worker's process group, then every process of the worker, until a sweep finds none.

        A student process that called setsid() has left the group; it keeps the worker's uid (layer 2) or the
        token in its initial environment. Repeated, because a forking loop creates children between sweeps.
        """
        assert self.process is not None
        self._kill_now()
        if self.lease is not None:
            privileges.kill_processes_of(self.lease.uid)
        for _ in range(100 if self.lease is None else 0):
            stragglers = processes_with_token(self.token)
            if not stragglers:
                break
            for pid in stragglers:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5.0)

    # -------------------------------------------------------------- requests
    def request(self, header: dict[str, Any], blobs: list[bytes], timeout: float | None = None,
                reply_limit: int | None = None) -> tuple[dict[str, Any], list[Blob]]:
        """Send one request and wait for its reply; on timeout or a broken reply, kill the worker and raise.

        ``reply_limit`` caps the bytes of this reply's arrays (the caller knows how large a right answer is);
        the worker's ``max_reply_bytes`` caps every reply."""
        seq = self.send(header, blobs, timeout)
        return self.receive(seq, timeout, reply_limit)

    def send(self, header: dict[str, Any], blobs: list[bytes], timeout: float | None = None) -> int:
        """Write one request frame; returns its sequence number (its reply echoes it)."""
        if not self.alive:
            raise WorkerCrashed(self._death_note())
        self._arm(timeout)
        self._seq += 1
        try:
            self._write_all(frame_parts(dict(header, seq=self._seq), blobs))
        except (WorkerTimeout, WorkerCrashed):
            self.stop()
            raise
        except OSError as exc:
            note = self._death_note()
            self.stop()
            raise WorkerCrashed(f"{note} ({exc})" if note else str(exc)) from None
        return self._seq

    def receive(self, seq: int, timeout: float | None = None, reply_limit: int | None = None, last: bool = True
                ) -> tuple[dict[str, Any], list[Blob]]:
        """Wait for the reply to request ``seq``, skipping a few stale replies to earlier requests. ``last``:
        no further frame may follow (False while reading the frames of a ``run_many`` request)."""
        self._arm(timeout)
        limit = min(reply_limit, self.limits.max_reply_bytes) if reply_limit else self.limits.max_reply_bytes
        try:
            for _ in range(MAX_STALE_REPLIES + 1):
                reply, reply_blobs = self._read_frame(limit)
                got = reply.get("seq")
                if got == seq:
                    break
                if not (isinstance(got, int) and 0 < got < seq):
                    raise WireError(f"a reply out of sequence ({str(got)[:20]}, expected {seq})")
            else:
                raise WireError("too many replies to earlier requests")
            if last and seq == self._seq and select.select([self._from_worker], [], [], 0)[0] \
                    and os.read(self._from_worker, 1):
                raise WireError("the worker sent more than one reply to one request")
            self._replies_unchecked += 1
            if last or self._replies_unchecked >= DISK_CHECK_EVERY:
                self._check_disk()
        except WorkerTimeout:
            self.stop()
            raise
        except DiskLimitExceeded:
            self.stop()
            raise
        except (WireError, ValueError, OSError, EOFError) as exc:
            note = self._death_note()
            self.stop()
            raise WorkerCrashed(f"{note} ({exc})" if note else str(exc)) from None
        return reply, reply_blobs

    def _arm(self, timeout: float | None) -> None:
        wall = timeout if timeout is not None else self.limits.call_timeout_s
        self._deadline = time.monotonic() + wall
        self._cpu_limit = self.limits.call_cpu_s if self.limits.call_cpu_s is not None else wall
        self._cpu_base = None
        self._waited = None
        self._credit = wall  # how far the deadline may still move for time spent waiting for a CPU

    def _read_frame(self, limit: int) -> tuple[dict[str, Any], list[Blob]]:
        """One reply frame, its announced sizes checked against the limits before anything is read, its header
        parsed with any failure (bad UTF-8, bad JSON, nesting deep enough to exhaust the recursion limit) turned
        into a WireError."""
        (length,) = HEADER.unpack(self._read_exact(HEADER.size))
        if length > self.limits.max_header_bytes:
            raise WireError(f"reply header of {length} bytes (at most {self.limits.max_header_bytes})")
        data = bytes(self._read_exact(length))
        try:
            reply = json.loads(data)
        except (ValueError, RecursionError, MemoryError) as exc:
            raise WireError(f"unreadable reply header ({type(exc).__name__})") from None
        if not isinstance(reply, dict):
            raise WireError("malformed reply")
        sizes = reply.get("blob_sizes", [])
        if not isinstance(sizes, list) or not all(type(n) is int and n >= 0 for n in sizes) or len(sizes) > 10_000:
            raise WireError("malformed blob sizes")
        total = sum(sizes)
        if total > limit:
            raise WireError(f"reply of more than {limit} bytes ({total} bytes announced)")
        # One read for every blob (most replies carry a few small arrays): fewer select/read rounds per frame.
        # The blobs are read-only views of that buffer, not copies (a grading run receives tens of MiB).
        body = self._read_exact(total).toreadonly()
        ends = list(itertools.accumulate(sizes))
        return reply, [body[end - n:end] for n, end in zip(sizes, ends, strict=True)]

    def quota_folders(self) -> list[Path]:
        """The folders whose growth counts against this worker's disk allowance."""
        return self._writable

    def _check_disk(self) -> None:
        """Stop the worker when it has added more than its disk allowance to its writable folders."""
        folders = self.quota_folders()
        if not folders:
            return
        limits = self.limits
        self._replies_unchecked = 0
        base_bytes, base_entries = self._disk_base
        used, entries = disk_usage(folders, base_entries + limits.disk_files)
        if used - base_bytes > limits.disk_bytes or entries - base_entries > limits.disk_files:
            self._kill_now()
            raise DiskLimitExceeded(
                f"the worker wrote more to disk than allowed ({(used - base_bytes) >> 20} MiB in "
                f"{entries - base_entries} files and folders; the limit is {limits.disk_bytes >> 20} MiB and "
                f"{limits.disk_files} entries)")

    def _check_cpu(self) -> None:
        """Called every POLL_S while waiting: CPU time since the first poll against the per-call limit, and the
        disk the worker has filled."""
        self._check_disk()
        if self.pid is None:
            return
        self._credit_cpu_wait()
        used = cpu_seconds(self.pid)
        if self._cpu_base is None:
            self._cpu_base = used - POLL_S  # the first quarter second is assumed busy
            return
        if used - self._cpu_base > self._cpu_limit:
            raise WorkerTimeout(f"used more than {self._cpu_limit:g} s of CPU time")

    def _credit_cpu_wait(self) -> None:
        """Move the wall-clock deadline by the time the worker spent waiting for a CPU since the last poll (at
        most the limit itself, once more): a call is not timed out because other work, such as a function
        graded at the same time, held the machine's cores. The CPU limit is untouched."""
        assert self.pid is not None
        waited = cpu_wait_seconds(self.pid)
        if waited is None:
            return
        if self._waited is not None:
            extra = min(max(0.0, waited - self._waited), self._credit)
            self._deadline += extra
            self._credit -= extra
        self._waited = waited

    def _write_all(self, parts: list[bytes]) -> None:
        """Write a request frame, gathered from its parts by the kernel (never joined here: a request carries up
        to tens of MB of arrays). The pipe end is non-blocking: a worker that stops reading cannot hold the
        grader in a write past the deadline, and each write hands over as much as the pipe takes, waiting only
        when it is full."""
        if self._nonblocking != self._to_worker:
            os.set_blocking(self._to_worker, False)
            self._nonblocking = self._to_worker
        views = [memoryview(part) for part in parts if len(part)]
        first = 0  # views before this one are written
        while first < len(views):
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout("the worker stopped reading its requests")
            try:
                written = os.writev(self._to_worker, views[first:first + MAX_WRITE_PARTS])
            except BlockingIOError:
                _, writable, _ = select.select([], [self._to_worker], [], min(remaining, POLL_S))
                if not writable:
                    self._check_cpu()
                continue
            while written and written >= len(views[first]):
                written -= len(views[first])
                first += 1
            if written:
                views[first] = views[first][written:]

    def _read_exact(self, n: int) -> memoryview:
        """``n`` bytes from the worker, read straight into one buffer (no chunks joined afterwards)."""
        view = uninitialised(n)
        done = 0
        while done < n:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout("no answer within the time limit")
            readable, _, _ = select.select([self._from_worker], [], [], min(remaining, POLL_S))
            if not readable:
                self._check_cpu()
                continue
            got = os.readv(self._from_worker, [view[done:done + PIPE_BYTES]])
            if not got:
                raise EOFError("the worker closed its pipe")
            done += got
        return view

    def _death_note(self) -> str:
        if self.process is None:
            return "the worker is not running"
        try:  # the pipe closes a moment before the process can be reaped: wait for its status
            code = self.process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            code = None
        if self.drain is not None and self.drain.flooded:
            return (f"the worker printed more than {self.limits.output_bytes} bytes and was stopped "
                    "(output limit)")
        if code is None:
            return ""
        return describe_exit(code)


class ForkServer(Worker):
    """A worker that never runs student code: it starts like any worker (its own uid, bubblewrap, Landlock), has
    NumPy imported, and forks each function's worker on request (graders/sandbox/worker_main.py, ``fork``).

    WHY: a fresh worker per function keeps one function's tampering away from the next, and starting an
    interpreter and importing NumPy costs about 0.1 s; a fork costs about a millisecond. The server takes the
    seccomp filter's library and Landlock's module before confining itself, and applies no seccomp (it must
    fork); each child applies seccomp and a Landlock layer of its own that allows writing only its folders.
    Used only where both layers exist (a child that can neither fork nor write elsewhere needs no sweep of its
    own beyond its pid). The server's Unix socket carries its requests and the children's pipe ends.
    """

    def __init__(self, workdir: Path, children: Path, python: str | None = None, limits: Limits | None = None,
                 plan: layers.Plan | None = None, label: str | None = None, hidden: Sequence[str] = ()) -> None:
        super().__init__(workdir, python, limits, plan, label, hidden)
        self.children = children
        self._socket: socket.socket | None = None

    def writable_folders(self, tmp: Path) -> list[Path]:
        return [tmp, self.children]

    def quota_folders(self) -> list[Path]:
        return self._writable[:1]  # its own temporary folder: each child has an allowance of its own

    def working_folder(self) -> Path:
        return self.workdir

    def open_channel(self) -> tuple[list[str], list[int], list[int]]:
        parent, child = socket.socketpair()
        self._socket = parent
        self._to_worker = self._from_worker = parent.fileno()
        end = child.detach()
        return [str(end), str(end)], [end], [end]

    def _close_channel(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._to_worker = self._from_worker = -1

    def confinement(self, tmp: Path) -> dict[str, Any]:
        spec = super().confinement(tmp)
        spec["seccomp"] = False  # the server forks; its children filter themselves
        spec["read"] = [*spec["read"], str(self.children)]
        return spec

    def fork(self, workdir: Path) -> tuple[int, int, int, int]:
        """A new child for ``workdir`` (its ``tmp`` and ``submission`` folders must exist): its request pipe,
        reply pipe and output pipe ends, and its pid as the server sees it."""
        request = {"op": "fork", "write": [str(workdir / "tmp"), str(workdir / "submission"), "/dev/null"],
                   "home": str(workdir / "tmp"), "cwd": str(workdir / "submission"),
                   "status_file": str(workdir / EXIT_STATUS_FILE)}
        seq = self.send(request, [], self.limits.start_timeout_s)
        assert self._socket is not None
        readable, _, _ = select.select([self._socket], [], [], self.limits.start_timeout_s)
        if not readable:
            self.stop()
            raise WorkerCrashed("the fork server did not answer")
        try:
            _, fds, _, _ = socket.recv_fds(self._socket, 1, 3)
        except OSError as exc:
            self.stop()
            raise WorkerCrashed(f"the fork server broke the protocol ({exc})") from None
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            self.stop()
            raise WorkerCrashed("the fork server sent no pipes")
        reply, _ = self.receive(seq, self.limits.start_timeout_s)
        pid = reply.get("pid")
        if type(pid) is not int or pid <= 0:
            for fd in fds:
                os.close(fd)
            self.stop()
            raise WorkerCrashed("the fork server sent a malformed reply")
        return fds[0], fds[1], fds[2], pid

    def host_pid(self, pid: int) -> int | None:
        """A child's pid outside the server's pid namespace (bubblewrap's): the process whose parent is the
        server and whose innermost namespace pid is ``pid``. The server's own list of children (Linux's
        /proc/PID/task/PID/children) names the candidates; all of /proc is searched only where that is absent."""
        if not self.plan.bwrap:
            return pid
        server = self.pid
        try:
            listed = Path(f"/proc/{server}/task/{server}/children").read_text().split()
            candidates = [f"/proc/{child}" for child in listed]
        except OSError:
            candidates = [entry.path for entry in os.scandir("/proc") if entry.name.isdigit()]
        for candidate in reversed(candidates):  # the newest child, listed last, is almost always the one
            name = os.path.basename(candidate)
            try:
                with open(f"/proc/{name}/status", "rb") as handle:
                    fields = dict(line.split(b":", 1) for line in handle.read().splitlines() if b":" in line)
            except OSError:
                continue
            if int(fields.get(b"PPid", b"0").strip() or 0) != server:
                continue
            namespaced = fields.get(b"NSpid", b"").split()
            if namespaced and int(namespaced[-1]) == pid:
                return int(name)
        return None


#: Where a fork server writes a child's exit status (in the child's folder, which the child cannot write).
EXIT_STATUS_FILE = ".exit-status"


class ForkedWorker(Worker):
    """A worker forked by a ForkServer: the same protocol, started in about a millisecond. It cannot fork or
    write outside its folders (its own seccomp and Landlock layer), so stopping it is killing its pid."""

    def __init__(self, server: ForkServer, workdir: Path, label: str | None = None) -> None:
        super().__init__(workdir, server.python, server.limits, server.plan, label, server.hidden)
        self.server = server
        self.ns_pid = 0
        self._exited = False

    def launch(self) -> None:
        tmp = self.workdir / "tmp"
        tmp.mkdir(mode=0o700, exist_ok=True)
        self._writable = self.writable_folders(tmp)
        if self.server.lease is not None:
            for folder in self._writable:
                _give(folder, self.server.lease.uid)
            os.chown(self.workdir, self.server.lease.uid, self.server.lease.uid)  # the server writes the status
        self._disk_base = disk_usage(self._writable, 1 << 30)
        self._to_worker, self._from_worker, out_read, self.ns_pid = self.server.fork(self.workdir)
        self.pid = self.server.host_pid(self.ns_pid)
        self.drain = OutputDrain(out_read, self.limits.log_bytes, self.limits.output_bytes, self._kill_now)
        self.drain.start()
        self._seq = self._hello_seq = 1  # the child sends its hello unasked

    def _interpreter_pid(self) -> int | None:
        return self.pid

    @property
    def alive(self) -> bool:
        if self.pid is None or self._exited:
            return False
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[-1].split()[0]
        except OSError:
            self._exited = True
            return False
        if state in (b"Z", b"X"):
            self._exited = True
        return not self._exited

    def stop(self) -> None:
        if self.pid is not None and self.alive:
            with contextlib.suppress(OSError):
                os.write(self._to_worker, frame({"op": "bye"}, []))
        self._kill_now()
        self._close_channel()
        if self.drain is not None:
            self.drain.join(timeout=2.0)
        self._exited = True

    def _kill_now(self) -> None:
        if self.pid is not None and not self._exited:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)

    def _members(self) -> list[int]:
        return [self.pid] if self.pid is not None and self.alive else []

    def _death_note(self) -> str:
        if self.drain is not None and self.drain.flooded:
            return (f"the worker printed more than {self.limits.output_bytes} bytes and was stopped "
                    "(output limit)")
        # the pipe closes a moment before the server reaps the child and writes its status (later still on a
        # loaded machine): wait for it, a bounded time
        status_file = self.workdir / EXIT_STATUS_FILE
        deadline = time.monotonic() + STATUS_WAIT_S
        while True:
            try:
                code = int(status_file.read_text())
                break
            except (OSError, ValueError):
                if time.monotonic() >= deadline:
                    return ""
                time.sleep(0.01)
        self._exited = True
        return describe_exit(code)
