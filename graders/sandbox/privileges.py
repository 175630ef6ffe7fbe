"""Layer 2: when the grader runs as root, each worker runs as a uid of its own, leased from a private range.

Why a uid per worker rather than one shared sandbox uid: the process limit (RLIMIT_NPROC) counts every process
and thread of a real uid, so a fork bomb in one worker would starve the others; processes of one uid may signal
and ptrace each other, so two students graded side by side (``nngrade batch --jobs``) could reach each other;
and "every process whose real uid is the worker's" is the one description of a worker's processes that student
code cannot shed (it can leave the process group with setsid and overwrite its environment, not change uid).

A lease is an exclusive ``flock`` on a file in a root-only folder, held for the worker's life, so concurrent
graders (processes or threads) never share a uid. Leasing a uid first kills whatever a crashed earlier grader
left running under it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import resource
import signal
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from graders import isolation

#: The uid range reserved for workers: above the ranges Debian gives to users (up to 59999), to systemd's
#: dynamic users (61184-65519) and to container sub-uids (usually from 100000, 65536 each).
UID_BASE = 1_600_000_000
UID_SLOTS = 256
LOCK_DIRS = (Path("/run/nngrade-sandbox"), Path("/var/lock/nngrade-sandbox"))
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class NoFreeUid(RuntimeError):
    """Every uid of the range is leased (more concurrent workers than UID_SLOTS)."""


@dataclass
class UidLease:
    uid: int
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the file releases the flock
            self.fd = -1


def _lock_dir() -> Path:
    for folder in LOCK_DIRS:
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = folder.stat()
            if info.st_uid == 0 and not info.st_mode & 0o077:
                return folder
    raise NoFreeUid(f"no root-only folder for uid leases among {', '.join(map(str, LOCK_DIRS))}")


def lease_uid() -> UidLease:
    """Lease a free worker uid (root only). Slots are tried from a per-process offset to spread concurrent
    graders; a slot whose processes outlived their grader is swept before it is handed out."""
    folder = _lock_dir()
    start = (os.getpid() * 7919) % UID_SLOTS
    for step in range(UID_SLOTS):
        slot = (start + step) % UID_SLOTS
        fd = os.open(folder / f"uid-{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                continue
            raise
        uid = UID_BASE + slot
        kill_processes_of(uid)
        return UidLease(uid, fd)
    raise NoFreeUid(f"all {UID_SLOTS} worker uids are in use")


def processes_of(uid: int) -> list[int]:
    """PIDs of live processes whose real uid is ``uid`` (zombies excluded)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as handle:
                text = handle.read()
        except OSError:
            continue
        fields = dict(line.split(b":", 1) for line in text.splitlines() if b":" in line)
        if fields.get(b"State", b"").strip().startswith(b"Z"):
            continue
        uids = fields.get(b"Uid", b"").split()
        if uids and int(uids[0]) == uid:
            found.append(int(entry.name))
    return found


def kill_processes_of(uid: int, rounds: int = 200) -> bool:
    """SIGKILL every process of ``uid`` until a sweep finds none (a forking loop outruns a single sweep).

    Returns True when none is left.
    """
    for _ in range(rounds):
        pids = processes_of(uid)
        if not pids:
            return True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)
    return not processes_of(uid)


def reachable_by_others(path: Path) -> bool:
    """Whether a uid with no relation to the owners can walk down to ``path`` (every folder has o+x)."""
    path = path.resolve()
    for folder in [*reversed(path.parents), path]:
        try:
            mode = folder.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


#: Where a folder for a worker running as another uid may go, in order of preference, after the memory-backed
#: folder (graders/isolation.py ``memory_folder``) when there is one.
SHARED_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm")


def reachable_base() -> Path | None:
    """The first system temporary folder an unprivileged uid can walk down to (None when there is none),
    memory first. WHY: a batch's grading process keeps its scratch in its own 0700 folder, which a worker's uid
    cannot enter, so its workers' copies of the submission (hundreds of files per submission) go here; on a
    disk file system, creating and deleting that many files made each new inode slower to allocate (ext4 scans
    for recently deleted ones), and most of a batch's time went to the kernel."""
    for base in (isolation.memory_folder(), *SHARED_TEMPORARY):
        if base is not None and os.path.isdir(base) and reachable_by_others(Path(base)):
            return Path(base)
    return None


def drop_to(uid: int, processes: int) -> None:
    """Runs in the forked child before exec: become ``uid`` (and gid ``uid``, no supplementary groups) for
    good, with at most ``processes`` processes and threads, and die with the grader."""
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    die_with_parent()  # the uid change cleared it: set it after


def die_with_parent() -> None:
    """Runs in the forked child before exec: SIGKILL it when the thread that started it ends (a grading process
    killed by its batch must not leave a student's process running beside its deleted folder)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
