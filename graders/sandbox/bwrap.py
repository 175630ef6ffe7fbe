"""Layer 3: bubblewrap puts the worker in namespaces of its own (no network, no other processes, a file system
made of read-only binds of the interpreter and the worker's folder, tmpfs elsewhere).

Started as the worker's uid (never by root: bwrap started by root maps the worker to root outside, where the
process limit does not apply). The worker's folder is handed over as an open file descriptor and mounted at
``/sandbox``, its private temporary folder read-write at ``/sandbox/tmp``. The options travel through a pipe
(``--args FD``), so the bwrap process's own command line stays short.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

INSIDE = "/sandbox"
#: Host folders every worker needs read-only: the dynamic linker's cache and Debian's alternatives (which
#: Debian's NumPy reaches its BLAS through).
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/alternatives", "/etc/ld.so.conf", "/etc/ld.so.conf.d")
MERGED_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def executable() -> str | None:
    return shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")


def options(read_only: list[str], workdir_fd: int, tmp_fd: int) -> list[str]:
    """bwrap's options (without the command) for a worker whose folder is open as ``workdir_fd``."""
    args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"]
    for name in MERGED_USR:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{name}"]
    for path in (*SYSTEM_FILES, *read_only):
        if Path(path).exists() and not _beneath_usr(path):
            args += ["--ro-bind", path, path]
    args += ["--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind-fd", str(workdir_fd), INSIDE,
             "--bind-fd", str(tmp_fd), f"{INSIDE}/tmp", "--chdir", f"{INSIDE}/submission"]
    return args


def _beneath_usr(path: str) -> bool:
    return os.path.realpath(path).startswith("/usr/") and os.path.realpath(path) == os.path.abspath(path)
