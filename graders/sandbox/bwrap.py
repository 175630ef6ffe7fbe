"""Layer 3: bubblewrap puts the worker in namespaces of its own (no network, no view of other processes, a file
system made of read-only binds of the interpreter and the worker's folder, tmpfs everywhere else).

Started as the worker's uid, never by root: bwrap started by root maps the worker to root outside, where the
process limit does not apply. The worker's folder is bound at its own path (so paths, tracebacks and the
protocol are the same with or without bwrap), its temporary folder and submission copy read-write. The options
travel through a pipe (``--args FD``), and a one-line ``sh`` inside takes the script's path from the environment, so
the bwrap processes' own command lines name neither the worker script nor its folder: a process listing shows
one worker process per worker, the interpreter.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

#: Host paths every worker needs read-only besides /usr: the dynamic linker's cache and configuration, and
#: Debian's alternatives (through which Debian's NumPy reaches its BLAS).
SYSTEM_PATHS = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives")
MERGED_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
SCRIPT_VARIABLE = "NNGRADE_WORKER_SCRIPT"
LABEL_VARIABLE = "NNGRADE_WORKER_LABEL"
#: Runs inside the sandbox: exec the interpreter ("$0") on the worker script, passing the pipe numbers.
TRAMPOLINE = (f's="${SCRIPT_VARIABLE}"; l="${LABEL_VARIABLE}"; unset {SCRIPT_VARIABLE} {LABEL_VARIABLE}; '
              'exec "$0" -I -B -u "$s" "$1" "$2" "$l"')


def executable() -> str | None:
    return shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")


def options(read_only: list[str], workdir: Path | None, writable: list[Path] | None = None,
            hidden: Sequence[str] = (), blocker: Path | None = None) -> list[str]:
    """bwrap's options, without the command: ``workdir`` read-only and the ``writable`` folders in it
    read-write, each at its own path; each ``hidden`` package (a folder or a module file inside a read-only
    path) covered by ``blocker``, a package whose ``__init__.py`` raises ImportError."""
    args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"]
    for name in MERGED_USR:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{name}"]
    args += ["--dev", "/dev", "--tmpfs", "/tmp"]
    for path in dict.fromkeys((*SYSTEM_PATHS, *read_only)):
        if os.path.exists(path) and not _beneath_usr(path):
            args += ["--ro-bind", path, path]
    if workdir is not None:
        args += ["--ro-bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    for folder in writable or []:
        args += ["--bind", str(folder), str(folder)]
    if blocker is not None:
        for path in hidden:
            if os.path.isdir(path):
                args += ["--ro-bind", str(blocker), path]
            elif os.path.exists(path):
                args += ["--ro-bind", str(blocker / "__init__.py"), path]
    return args


def command(executable_path: str, args_fd: int, python: str, fds: list[str]) -> list[str]:
    """The command line: bwrap reading its options from ``args_fd``, then the trampoline."""
    return [executable_path, "--args", str(args_fd), "/bin/sh", "-c", TRAMPOLINE, python, *fds]


def _beneath_usr(path: str) -> bool:
    real = os.path.realpath(path)
    return real == os.path.abspath(path) and (real + "/").startswith("/usr/")
